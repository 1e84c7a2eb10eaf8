//! MQTT on the machine's Mosquitto (`MQTT_HOST`/`MQTT_PORT` override `127.0.0.1:1883`), with
//! rumqttc: MQTT 5 user properties carry the context; a QoS 1 message whose subscriber lost
//! its connection before acknowledging is redelivered under the same send span; MQTT 3.1.1
//! carries nothing and says so once.
//!
//! Runs when `TRACEBOUND_BROKER_TESTS=1` (set by `.ci/run`); then an unreachable broker fails
//! the test.

use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::{SpanId, SpanKind};
use opentelemetry::{Context, KeyValue, Value};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{Packet, Publish, PublishProperties};
use rumqttc::v5::{AsyncClient, Event, MqttOptions};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tracebound::{traced_consumer, traced_producer};
use tracebound_tests::brokers::{enabled, mqtt_address, unique};
use tracebound_tests::proxy::Proxy;
use tracebound_tests::{attribute, figures, traced};
use tracing::instrument::WithSubscriber;

const WAIT: Duration = Duration::from_secs(20);
const LIMIT: Duration = Duration::from_secs(60);

fn tenant() -> Option<String> {
    Context::current()
        .baggage()
        .get("tenant")
        .map(|v| v.to_string())
}

#[traced_producer(carrier = properties, system = "mqtt", destination = "telemetry")]
async fn publish(
    client: &AsyncClient,
    topic: &str,
    reading: &'static str,
    properties: &mut PublishProperties,
) {
    client
        .publish_with_properties(topic, QoS::AtLeastOnce, false, reading, properties.clone())
        .await
        .expect("queued");
}

fn reading(publish: &Publish) -> String {
    String::from_utf8_lossy(&publish.payload).into_owned()
}

#[traced_consumer(
    carrier = publish,
    destination = "telemetry",
    fields(reading = reading(publish), redelivered = publish.dup),
)]
async fn on_reading(publish: &Publish) -> Option<String> {
    tenant()
}

/// A v5 client whose event loop runs on its own task, sending each received publish (and its
/// connection errors, as `None`) to the returned channel.
async fn connect(
    options: MqttOptions,
    subscribe: Option<&str>,
) -> (AsyncClient, mpsc::UnboundedReceiver<Option<Publish>>) {
    let (client, mut events) = AsyncClient::new(options, 64);
    let (tx, rx) = mpsc::unbounded_channel();
    let (connected, is_connected) = tokio::sync::oneshot::channel();
    let (subscribed, mut is_subscribed) = mpsc::unbounded_channel();
    let mut connected = Some(connected);
    tokio::spawn(async move {
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    if let Some(c) = connected.take() {
                        let _ = c.send(Ok(()));
                    }
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    let _ = subscribed.send(());
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    if tx.send(Some(p)).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    if let Some(c) = connected.take() {
                        let _ = c.send(Err(e.to_string()));
                        return;
                    }
                    if tx.send(None).is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    });
    let (host, port) = mqtt_address();
    tokio::time::timeout(WAIT, is_connected)
        .await
        .expect("a CONNACK within the timeout")
        .expect("the event loop runs")
        .unwrap_or_else(|e| panic!("MQTT at {host}:{port} is unreachable: {e}"));
    if let Some(topic) = subscribe {
        client.subscribe(topic, QoS::AtLeastOnce).await.unwrap();
        // Once the broker acknowledges the subscription, what is published reaches it.
        tokio::time::timeout(WAIT, is_subscribed.recv())
            .await
            .expect("a SUBACK within the timeout")
            .expect("the event loop runs");
    }
    (client, rx)
}

/// A client identifier of at most 23 characters, the length every MQTT broker must accept.
fn client_id(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("tb-{prefix}-{}", nanos % 1_000_000_000_000)
}

fn options(id: &str) -> MqttOptions {
    let (host, port) = mqtt_address();
    let mut options = MqttOptions::new(client_id(id), host, port);
    options.set_keep_alive(Duration::from_secs(5));
    options
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Option<Publish>>) -> Publish {
    loop {
        let got = tokio::time::timeout(WAIT, rx.recv())
            .await
            .expect("a publish within the timeout")
            .expect("the event loop runs");
        if let Some(publish) = got {
            return publish;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt5_user_properties_carry_the_trace_and_the_baggage() {
    if !enabled("mqtt5_round_trip") {
        return;
    }
    let work = async {
        let topic = unique("tracebound/telemetry");
        let (_subscriber, mut received) = connect(options("sub"), Some(&topic)).await;
        let (sender, _) = connect(options("pub"), None).await;
        let recorder = tracebound::testing::install();
        let (tenants, trace) = traced("mqtt-roundtrip", async {
            let with_tenant = Context::current().with_baggage([KeyValue::new("tenant", "acme")]);
            let mut properties = PublishProperties::default();
            tracebound::with_context(with_tenant, || {
                publish(&sender, &topic, "traced", &mut properties)
            })
            .await;

            // Two different traceparent properties: neither is trusted.
            let hostile = PublishProperties {
                user_properties: vec![
                    (
                        "traceparent".into(),
                        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into(),
                    ),
                    (
                        "traceparent".into(),
                        "00-4bf92f3577b34da6a3ce929d0e0e4736-b7ad6b7169203331-01".into(),
                    ),
                    ("baggage".into(), "tenant=%ZZ".into()),
                ],
                ..Default::default()
            };
            sender
                .publish_with_properties(&topic, QoS::AtLeastOnce, false, "hostile", hostile)
                .await
                .unwrap();
            // No properties at all.
            sender
                .publish(&topic, QoS::AtLeastOnce, false, "bare")
                .await
                .unwrap();

            let mut tenants = Vec::new();
            for _ in 0..3 {
                let message = next(&mut received).await;
                tenants.push((reading(&message), on_reading(&message).await));
            }
            tenants
        })
        .await;
        assert_eq!(
            tenants,
            [
                ("traced".to_owned(), Some("acme".to_owned())),
                ("hostile".to_owned(), None),
                ("bare".to_owned(), None)
            ]
        );
        let send = trace.span("send telemetry");
        assert_eq!(send.span_kind, SpanKind::Producer);
        let all = recorder.tree();
        let find = |wanted: &str| {
            let spans: Vec<_> = all
                .all("process telemetry")
                .into_iter()
                .filter(|s| attribute(s, "reading") == Some(&Value::from(wanted.to_owned())))
                .collect();
            assert_eq!(spans.len(), 1, "{wanted} processed once");
            spans[0].clone()
        };
        let traced_one = find("traced");
        assert_eq!(traced_one.span_kind, SpanKind::Consumer);
        assert_eq!(traced_one.parent_span_id, send.span_context.span_id());
        assert_eq!(
            traced_one.span_context.trace_id(),
            send.span_context.trace_id()
        );
        assert_eq!(
            attribute(&traced_one, "messaging.system"),
            Some(&Value::from("mqtt"))
        );
        for other in ["hostile", "bare"] {
            let span = find(other);
            assert_eq!(span.parent_span_id, SpanId::INVALID, "{other} is a root");
            assert_ne!(span.span_context.trace_id(), send.span_context.trace_id());
        }
    };
    tokio::time::timeout(LIMIT, work)
        .await
        .expect("within the limit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unacknowledged_qos1_message_is_redelivered_under_the_same_send_span() {
    if !enabled("mqtt5_redelivery") {
        return;
    }
    let work = async {
        let topic = unique("tracebound/telemetry");
        let (host, port) = mqtt_address();
        let proxy = Proxy::start(&format!("{host}:{port}")).await;
        // A persistent session (clean start off, kept for a minute) that acknowledges by hand,
        // through the proxy.
        let mut sub_options = MqttOptions::new(client_id("dur"), "127.0.0.1", proxy.addr().port());
        sub_options
            .set_keep_alive(Duration::from_secs(5))
            .set_clean_start(false)
            .set_session_expiry_interval(Some(60))
            .set_manual_acks(true);
        let (subscriber, mut received) = connect(sub_options, Some(&topic)).await;
        let (sender, _) = connect(options("pub"), None).await;
        let recorder = tracebound::testing::install();
        let (attempts, trace) = traced("mqtt-redelivery", async {
            let mut properties = PublishProperties::default();
            publish(&sender, &topic, "reading-1", &mut properties).await;

            // Processed, then the connection is reset before the PUBACK is sent.
            let first = next(&mut received).await;
            on_reading(&first).await;
            proxy.reset();

            // The session resumes on reconnection and the broker sends the message again.
            let again = next(&mut received).await;
            on_reading(&again).await;
            subscriber.ack(&again).await.unwrap();
            vec![(reading(&first), first.dup), (reading(&again), again.dup)]
        })
        .await;
        assert_eq!(
            attempts,
            [
                ("reading-1".to_owned(), false),
                ("reading-1".to_owned(), true)
            ]
        );
        assert!(proxy.accepted() >= 2, "the subscriber reconnected");
        let send = trace.span("send telemetry");
        let all = recorder.tree();
        let processed: Vec<_> = all
            .all("process telemetry")
            .into_iter()
            .filter(|s| s.span_context.trace_id() == send.span_context.trace_id())
            .collect();
        assert_eq!(processed.len(), 2, "one consumer span per attempt");
        for (attempt, redelivered) in processed.iter().zip([false, true]) {
            assert_eq!(attempt.span_kind, SpanKind::Consumer);
            assert_eq!(attempt.parent_span_id, send.span_context.span_id());
            assert_eq!(
                attribute(attempt, "redelivered"),
                Some(&Value::Bool(redelivered))
            );
        }
        assert!(recorder.unended(send.span_context.trace_id()).is_empty());
        let attempts: Vec<_> = all
            .all("process telemetry")
            .into_iter()
            .filter(|s| attribute(s, "reading") == Some(&Value::from("reading-1")))
            .collect();
        let root = trace.span("mqtt-redelivery").span_context.trace_id();
        figures(
            "mqtt: QoS 1 redelivery after a reset",
            root,
            &[send],
            &attempts,
        );
        subscriber.disconnect().await.ok();
    };
    tokio::time::timeout(LIMIT, work)
        .await
        .expect("within the limit");
}

// --- MQTT 3.1.1 -------------------------------------------------------------------------------

#[traced_producer(carrier = message, system = "mqtt", destination = "telemetry.v311")]
async fn publish_v311(client: &rumqttc::AsyncClient, message: &mut rumqttc::Publish) {
    client
        .publish(
            message.topic.clone(),
            message.qos,
            false,
            message.payload.clone(),
        )
        .await
        .unwrap();
}

#[traced_consumer(carrier = message, destination = "telemetry.v311")]
fn on_reading_v311(message: &rumqttc::Publish) {}

/// Collects the messages of `tracebound` warnings.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<String>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Message<'a>(&'a mut String);
        impl tracing::field::Visit for Message<'_> {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    *self.0 = format!("{value:?}");
                }
            }
        }
        if event.metadata().target() == "tracebound" {
            let mut text = String::new();
            event.record(&mut Message(&mut text));
            self.0.lock().unwrap().push(text);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt311_carries_no_context_and_says_so_once() {
    if !enabled("mqtt311") {
        return;
    }
    use tracing_subscriber::layer::SubscriberExt;
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    let work = async {
        let topic = unique("tracebound/v311");
        let (host, port) = mqtt_address();
        let mut options = rumqttc::MqttOptions::new(client_id("v311"), host, port);
        options.set_keep_alive(Duration::from_secs(5));
        let (client, mut events) = rumqttc::AsyncClient::new(options, 16);
        let (tx, mut rx) = mpsc::unbounded_channel();
        let (subscribed, mut is_subscribed) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok(event) = events.poll().await {
                match event {
                    // Once the test is over nobody receives: the task ends with its runtime.
                    rumqttc::Event::Incoming(rumqttc::Packet::Publish(p)) => {
                        let _ = tx.send(p);
                    }
                    rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_)) => {
                        let _ = subscribed.send(());
                    }
                    _ => {}
                }
            }
        });
        client
            .subscribe(&topic, rumqttc::QoS::AtLeastOnce)
            .await
            .unwrap();
        tokio::time::timeout(WAIT, is_subscribed.recv())
            .await
            .expect("a SUBACK within the timeout")
            .expect("the event loop runs");
        let recorder = tracebound::testing::install();
        let ((), trace) = traced("mqtt-v311", async {
            for payload in ["one", "two"] {
                let mut message = rumqttc::Publish::new(&topic, rumqttc::QoS::AtLeastOnce, payload);
                publish_v311(&client, &mut message).await;
            }
            for _ in 0..2 {
                let message = tokio::time::timeout(WAIT, rx.recv())
                    .await
                    .expect("a publish within the timeout")
                    .expect("the event loop runs");
                on_reading_v311(&message);
            }
        })
        .await;
        let sends = trace.all("send telemetry.v311");
        assert_eq!(sends.len(), 2);
        let processed: Vec<_> = recorder
            .tree()
            .all("process telemetry.v311")
            .into_iter()
            .cloned()
            .collect();
        assert_eq!(processed.len(), 2);
        for span in &processed {
            assert_eq!(span.parent_span_id, SpanId::INVALID, "a new root");
            assert!(
                sends
                    .iter()
                    .all(|s| s.span_context.trace_id() != span.span_context.trace_id())
            );
        }
    };
    tokio::time::timeout(LIMIT, work.with_subscriber(subscriber))
        .await
        .expect("within the limit");
    let warnings = capture.0.lock().unwrap().clone();
    let said = |what: &str| warnings.iter().filter(|w| w.contains(what)).count();
    assert_eq!(said("carries no user properties"), 1, "{warnings:#?}");
    assert_eq!(said("the trace context was not sent"), 1, "{warnings:#?}");
}
