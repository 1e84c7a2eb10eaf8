//! The producer → broker → consumer round trip on the real brokers of this machine: RabbitMQ
//! (through lapin) and NATS (through async-nats).
//!
//! Runs when `TRACEBOUND_BROKER_TESTS=1` (set by `.ci/run`); then an unreachable broker fails
//! the test. `AMQP_URL` and `NATS_URL` override the default local addresses.

use async_nats::HeaderMap;
use futures::StreamExt;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicPublishOptions};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{BasicProperties, Channel};
use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::{SpanId, SpanKind};
use opentelemetry::{Context, KeyValue, Value};
use std::time::Duration;
use tracebound::testing::{Recorder, TraceTree};
use tracebound::{traced_consumer, traced_producer};
use tracebound_tests::brokers::{amqp, enabled, exclusive_queue, nats, unique};
use tracebound_tests::{attribute, traced};

const WAIT: Duration = Duration::from_secs(20);

fn tenant() -> Option<String> {
    Context::current()
        .baggage()
        .get("tenant")
        .map(|v| v.to_string())
}

// --- RabbitMQ ----------------------------------------------------------------------------

#[traced_producer(carrier = headers, system = "rabbitmq", destination = "tracebound.orders")]
async fn amqp_publish(
    channel: &Channel,
    queue: &str,
    order: &[u8],
    headers: &mut FieldTable,
) -> lapin::Result<()> {
    let properties = BasicProperties::default().with_headers(headers.clone());
    channel
        .basic_publish(
            "".into(),
            queue.into(),
            BasicPublishOptions::default(),
            order,
            properties,
        )
        .await?
        .await?;
    Ok(())
}

#[traced_consumer(
    carrier = delivery.properties.headers(),
    system = "rabbitmq",
    destination = "tracebound.orders",
    fields(order = String::from_utf8_lossy(&delivery.data).into_owned()),
)]
async fn amqp_handle(delivery: &Delivery) -> lapin::Result<Option<String>> {
    delivery.ack(BasicAckOptions::default()).await?;
    Ok(tenant())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_round_trip_keeps_one_trace_and_survives_malformed_headers() {
    if !enabled("rabbitmq_round_trip") {
        return;
    }
    let connection = amqp().await;
    let channel = connection.create_channel().await.unwrap();
    let queue = exclusive_queue(&channel, "tracebound-orders").await;
    let mut consumer = channel
        .basic_consume(
            queue.as_str().into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();

    let root = "amqp-roundtrip";
    let recorder = tracebound::testing::install();
    let (tenants, trace) = traced(root, async {
        // The send starts under the tenant's baggage; nothing stays attached after it, so the
        // consumers below see only what their messages carry.
        let with_tenant = Context::current().with_baggage([KeyValue::new("tenant", "acme")]);
        let mut headers = FieldTable::default();
        tracebound::with_context(with_tenant, || {
            amqp_publish(&channel, &queue, b"traced", &mut headers)
        })
        .await
        .unwrap();

        // A message from a producer that writes garbage: a malformed traceparent, a baggage
        // value that is not UTF-8, and a header that is not text at all.
        let mut hostile = FieldTable::default();
        hostile.insert(
            "traceparent".into(),
            AMQPValue::LongString("00-zzzz-not-a-trace".into()),
        );
        hostile.insert(
            "baggage".into(),
            AMQPValue::LongString(LongString::from(vec![0xff, 0xfe, b'='])),
        );
        hostile.insert("tracestate".into(), AMQPValue::LongLongInt(7));
        channel
            .basic_publish(
                "".into(),
                queue.as_str().into(),
                BasicPublishOptions::default(),
                b"hostile",
                BasicProperties::default().with_headers(hostile),
            )
            .await
            .unwrap()
            .await
            .unwrap();

        let mut tenants = Vec::new();
        for _ in 0..2 {
            let delivery = tokio::time::timeout(WAIT, consumer.next())
                .await
                .expect("a delivery within the timeout")
                .expect("the consumer is open")
                .expect("a delivery");
            tenants.push(amqp_handle(&delivery).await.unwrap());
        }
        tenants
    })
    .await;
    assert_eq!(
        tenants,
        [Some("acme".to_owned()), None],
        "baggage arrived with the traced message only"
    );

    assert_round_trip(&trace, &recorder, "rabbitmq");
    connection.close(200, "done".into()).await.ok();
}

// --- NATS --------------------------------------------------------------------------------

#[traced_producer(carrier = headers, system = "nats", destination = "tracebound.orders")]
async fn nats_publish(
    client: &async_nats::Client,
    subject: &str,
    order: &'static [u8],
    headers: &mut HeaderMap,
) -> Result<(), async_nats::Error> {
    client
        .publish_with_headers(subject.to_owned(), headers.clone(), order.into())
        .await?;
    client.flush().await?;
    Ok(())
}

#[traced_consumer(
    carrier = msg.headers,
    system = "nats",
    destination = "tracebound.orders",
    fields(order = String::from_utf8_lossy(&msg.payload).into_owned()),
)]
async fn nats_handle(msg: async_nats::Message) -> Option<String> {
    tenant()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_round_trip_keeps_one_trace_and_survives_malformed_headers() {
    if !enabled("nats_round_trip") {
        return;
    }
    let client = nats().await;
    let subject = unique("tracebound.orders");
    let mut subscriber = client.subscribe(subject.clone()).await.unwrap();
    client.flush().await.unwrap();

    let root = "nats-roundtrip";
    let recorder = tracebound::testing::install();
    let (tenants, trace) = traced(root, async {
        // The send starts under the tenant's baggage; nothing stays attached after it, so the
        // consumers below see only what their messages carry.
        let with_tenant = Context::current().with_baggage([KeyValue::new("tenant", "acme")]);
        let mut headers = HeaderMap::new();
        tracebound::with_context(with_tenant, || {
            nats_publish(&client, &subject, b"traced", &mut headers)
        })
        .await
        .unwrap();

        let mut hostile = HeaderMap::new();
        hostile.insert(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-zzzzzzzzzzzzzzzz-01",
        );
        hostile.append(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        );
        hostile.insert("baggage", "tenant=%ZZ");
        client
            .publish_with_headers(subject.clone(), hostile, b"hostile"[..].into())
            .await
            .unwrap();
        client.flush().await.unwrap();

        let mut tenants = Vec::new();
        for _ in 0..2 {
            let msg = tokio::time::timeout(WAIT, subscriber.next())
                .await
                .expect("a message within the timeout")
                .expect("the subscription is open");
            tenants.push(nats_handle(msg).await);
        }
        tenants
    })
    .await;
    assert_eq!(tenants, [Some("acme".to_owned()), None]);

    // Two different traceparent values: neither is trusted, so the hostile one is a root.
    assert_round_trip(&trace, &recorder, "nats");
}

/// Checks a round trip through `system`: the traced message's consumer span is the child of
/// the send span, in its trace; the hostile one was processed under a new root.
fn assert_round_trip(trace: &TraceTree, recorder: &Recorder, system: &str) {
    let send = trace.span("send tracebound.orders");
    assert_eq!(send.span_kind, SpanKind::Producer);
    let handled = recorder.tree();
    let processed = |order: &str| {
        handled
            .all("process tracebound.orders")
            .into_iter()
            .find(|s| {
                attribute(s, "order") == Some(&Value::from(order.to_owned()))
                    && attribute(s, "messaging.system") == Some(&Value::from(system.to_owned()))
            })
            .unwrap_or_else(|| panic!("the {order} message was processed, not lost"))
    };
    let traced_one = processed("traced");
    assert_eq!(
        traced_one.parent_span_id,
        send.span_context.span_id(),
        "{trace}"
    );
    assert_eq!(
        traced_one.span_context.trace_id(),
        send.span_context.trace_id()
    );
    assert_eq!(traced_one.span_kind, SpanKind::Consumer);
    let hostile_one = processed("hostile");
    assert_eq!(
        hostile_one.parent_span_id,
        SpanId::INVALID,
        "a malformed context starts a new root"
    );
    assert_ne!(
        hostile_one.span_context.trace_id(),
        send.span_context.trace_id()
    );
}
