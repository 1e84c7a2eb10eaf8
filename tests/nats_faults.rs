//! NATS JetStream under faults, on the machine's NATS (`NATS_URL` overrides it): a message not
//! acknowledged within its ack wait is redelivered and processed again below the same send
//! span, and a consumer whose connection is reset in the middle of a batch (by a
//! fault-injecting proxy) leaves its unacknowledged messages to the next fetch.
//!
//! Runs when `TRACEBOUND_BROKER_TESTS=1` (set by `.ci/run`); then an unreachable broker fails
//! the test.

use async_nats::jetstream::{self, consumer::PullConsumer};
use futures::StreamExt;
use opentelemetry::Value;
use opentelemetry::trace::SpanKind;
use std::time::Duration;
use tracebound::{traced_consumer, traced_producer};
use tracebound_tests::brokers::{enabled, jetstream_pull, nats, nats_address, unique};
use tracebound_tests::proxy::Proxy;
use tracebound_tests::{attribute, figures, traced};

const LIMIT: Duration = Duration::from_secs(60);

type Error = Box<dyn std::error::Error + Send + Sync>;

#[traced_producer(carrier = headers, system = "nats", destination = "faults")]
async fn send(
    js: &jetstream::Context,
    subject: &str,
    order: String,
    headers: &mut async_nats::HeaderMap,
) -> Result<(), Error> {
    js.publish_with_headers(subject.to_owned(), headers.clone(), order.into())
        .await?
        .await?;
    Ok(())
}

fn order(msg: &jetstream::Message) -> String {
    String::from_utf8_lossy(&msg.payload).into_owned()
}

/// How many times JetStream has delivered `msg`, this delivery included.
fn delivered(msg: &jetstream::Message) -> i64 {
    msg.info().map(|i| i.delivered).unwrap_or(0)
}

/// Processes a message without settling it: the caller acknowledges, or does not.
#[traced_consumer(
    carrier = msg,
    destination = "faults",
    fields(order = order(msg), attempt = delivered(msg), worker = worker),
)]
async fn process(msg: &jetstream::Message, worker: &str) {}

/// Sends each of `orders`, in order, each under its own send span.
async fn send_all(js: &jetstream::Context, subject: &str, orders: &[String]) {
    for order in orders {
        send(
            js,
            subject,
            order.clone(),
            &mut async_nats::HeaderMap::new(),
        )
        .await
        .unwrap();
    }
}

/// Up to `max` messages, waiting at most `expires`.
async fn fetch(consumer: &PullConsumer, max: usize, expires: Duration) -> Vec<jetstream::Message> {
    let mut batch = consumer
        .fetch()
        .max_messages(max)
        .expires(expires)
        .messages()
        .await
        .unwrap();
    let mut got = Vec::new();
    while let Some(message) = batch.next().await {
        match message {
            Ok(message) => got.push(message),
            Err(_) => break,
        }
    }
    got
}

/// Checks the figures of a fault test: each of `orders` was processed (at least once) by the
/// attempts `expected(order)` gives, as `(worker, delivery count)`, each a consumer span below
/// that message's send span; and nothing of the trace is left unended.
fn assert_attempts(
    trace: &tracebound::testing::TraceTree,
    root: &str,
    orders: &[String],
    expected: impl Fn(usize) -> Vec<(&'static str, i64)>,
) {
    let recorder = tracebound::testing::recorder();
    let all = recorder.tree();
    let sends = trace.all("send faults");
    assert_eq!(sends.len(), orders.len());
    for (i, (order, send)) in orders.iter().zip(&sends).enumerate() {
        let mut attempts: Vec<_> = all
            .all("process faults")
            .into_iter()
            .filter(|s| attribute(s, "order") == Some(&Value::from(order.clone())))
            .collect();
        attempts.sort_by_key(|s| s.start_time);
        let seen: Vec<(String, i64)> = attempts
            .iter()
            .map(|s| {
                let worker = match attribute(s, "worker") {
                    Some(Value::String(w)) => w.to_string(),
                    other => panic!("worker is {other:?}"),
                };
                let attempt = match attribute(s, "attempt") {
                    Some(Value::I64(n)) => *n,
                    other => panic!("attempt is {other:?}"),
                };
                (worker, attempt)
            })
            .collect();
        let wanted: Vec<(String, i64)> = expected(i)
            .into_iter()
            .map(|(w, n)| (w.to_owned(), n))
            .collect();
        assert_eq!(seen, wanted, "the attempts at {order}");
        for attempt in attempts {
            assert_eq!(attempt.span_kind, SpanKind::Consumer);
            assert_eq!(
                attempt.parent_span_id,
                send.span_context.span_id(),
                "{order}"
            );
            assert_eq!(
                attempt.span_context.trace_id(),
                send.span_context.trace_id()
            );
        }
    }
    let trace_id = trace.span(root).span_context.trace_id();
    assert!(recorder.unended(trace_id).is_empty(), "spans left unended");
    let attempts: Vec<_> = all
        .all("process faults")
        .into_iter()
        .filter(|s| {
            attribute(s, "order").is_some_and(|o| orders.contains(&o.as_str().into_owned()))
        })
        .collect();
    figures(root, trace_id, &sends, &attempts);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_past_its_ack_wait_is_redelivered_under_the_same_send_span() {
    if !enabled("jetstream_ack_timeout") {
        return;
    }
    let work = async {
        let js = jetstream::new(nats().await);
        let (name, subject, consumer) =
            jetstream_pull(&js, "tracebound-faults", Some(Duration::from_secs(1))).await;
        let root = "jetstream-ack-timeout";
        let orders: Vec<String> = (0..3).map(|i| format!("{root}-{i}")).collect();
        let ((), trace) = traced(root, async {
            send_all(&js, &subject, &orders).await;
            // The first fetch processes all three and acknowledges only the first: the others
            // time out.
            let first = fetch(&consumer, 3, Duration::from_secs(5)).await;
            assert_eq!(first.len(), 3);
            for message in &first {
                process(message, "w1").await;
            }
            first[0].double_ack().await.unwrap();
            // After the ack wait, the two come back, delivered a second time.
            let mut again = 0;
            while again < 2 {
                let got = fetch(&consumer, 3, Duration::from_secs(3)).await;
                assert!(!got.is_empty(), "the unacknowledged messages come back");
                for message in &got {
                    assert_ne!(
                        order(message),
                        orders[0],
                        "an acknowledged message came back"
                    );
                    process(message, "w1").await;
                    message.double_ack().await.unwrap();
                }
                again += got.len();
            }
            assert_eq!(again, 2);
        })
        .await;
        js.delete_stream(&name).await.ok();
        assert_attempts(&trace, root, &orders, |i| match i {
            0 => vec![("w1", 1)],
            _ => vec![("w1", 1), ("w1", 2)],
        });
    };
    tokio::time::timeout(LIMIT, work)
        .await
        .expect("within the limit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_reset_mid_batch_leaves_its_unacked_messages_to_the_next_fetch() {
    if !enabled("jetstream_reset_mid_batch") {
        return;
    }
    let work = async {
        const SENT: usize = 10;
        let js = jetstream::new(nats().await);
        let (name, subject, consumer) =
            jetstream_pull(&js, "tracebound-faults", Some(Duration::from_secs(1))).await;
        let proxy = Proxy::start(&nats_address()).await;
        let root = "jetstream-reset";
        let orders: Vec<String> = (0..SENT).map(|i| format!("{root}-{i}")).collect();
        let ((), trace) = traced(root, async {
            send_all(&js, &subject, &orders).await;
            // The doomed worker, connected through the proxy, takes the whole batch,
            // acknowledges four (each confirmed by the server), processes a fifth, and loses
            // its connection before acknowledging it.
            let doomed = async_nats::connect(format!("nats://{}", proxy.addr()))
                .await
                .unwrap();
            let doomed_js = jetstream::new(doomed.clone());
            let stream = doomed_js.get_stream(&name).await.unwrap();
            let doomed_consumer: PullConsumer = stream
                .get_consumer(&format!("{name}-workers"))
                .await
                .unwrap();
            let batch = fetch(&doomed_consumer, SENT, Duration::from_secs(5)).await;
            assert_eq!(batch.len(), SENT);
            for message in &batch[..4] {
                process(message, "doomed").await;
                message.double_ack().await.unwrap();
            }
            process(&batch[4], "doomed").await;
            proxy.stall(true);
            proxy.reset();
            drop(batch);
            drop(doomed_consumer);
            drop(doomed_js);
            drop(doomed);

            // The next fetch, by a worker on a good connection, gets the six that were not
            // acknowledged once their ack wait has passed.
            tokio::time::sleep(Duration::from_millis(1500)).await;
            let mut rest = Vec::new();
            while rest.len() < SENT - 4 {
                let got = fetch(&consumer, SENT, Duration::from_secs(3)).await;
                assert!(!got.is_empty(), "the rest come back: {} so far", rest.len());
                for message in got {
                    process(&message, "next").await;
                    message.double_ack().await.unwrap();
                    rest.push(order(&message));
                }
            }
            rest.sort();
            let mut expected: Vec<String> = orders[4..].to_vec();
            expected.sort();
            assert_eq!(rest, expected, "exactly the unacknowledged messages");
        })
        .await;
        js.delete_stream(&name).await.ok();
        assert_attempts(&trace, root, &orders, |i| match i {
            0..4 => vec![("doomed", 1)],
            4 => vec![("doomed", 1), ("next", 2)],
            _ => vec![("next", 2)],
        });
    };
    tokio::time::timeout(LIMIT, work)
        .await
        .expect("within the limit");
}

#[traced_producer(carrier = headers, system = "nats", destination = "stalls")]
async fn publish_core(
    client: &async_nats::Client,
    subject: &str,
    order: String,
    headers: &mut async_nats::HeaderMap,
) {
    client
        .publish_with_headers(subject.to_owned(), headers.clone(), order.into())
        .await
        .expect("queued");
}

#[traced_consumer(carrier = msg, destination = "stalls", fields(order = String::from_utf8_lossy(&msg.payload).into_owned()))]
async fn on_core(msg: &async_nats::Message) {}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_publisher_delays_its_messages_and_loses_none() {
    if !enabled("nats_stall") {
        return;
    }
    let work = async {
        const SENT: usize = 10;
        let subscriber_client = nats().await;
        let subject = unique("tracebound.stalls");
        let mut subscription = subscriber_client.subscribe(subject.clone()).await.unwrap();
        subscriber_client.flush().await.unwrap();
        let proxy = Proxy::start(&nats_address()).await;
        let publisher = async_nats::connect(format!("nats://{}", proxy.addr()))
            .await
            .unwrap();
        let root = "nats-stall";
        let orders: Vec<String> = (0..SENT).map(|i| format!("{root}-{i}")).collect();
        let ((), trace) = traced(root, async {
            for order in &orders[..SENT / 2] {
                publish_core(
                    &publisher,
                    &subject,
                    order.clone(),
                    &mut async_nats::HeaderMap::new(),
                )
                .await;
            }
            publisher.flush().await.unwrap();
            for _ in 0..SENT / 2 {
                on_core(&receive(&mut subscription).await).await;
            }
            // The wire stalls: the next five are sent by the client and held on the way.
            proxy.stall(true);
            for order in &orders[SENT / 2..] {
                publish_core(
                    &publisher,
                    &subject,
                    order.clone(),
                    &mut async_nats::HeaderMap::new(),
                )
                .await;
            }
            let held = tokio::time::timeout(Duration::from_millis(800), subscription.next()).await;
            assert!(held.is_err(), "nothing passes a stalled connection");
            proxy.stall(false);
            for _ in SENT / 2..SENT {
                on_core(&receive(&mut subscription).await).await;
            }
        })
        .await;
        let all = tracebound::testing::recorder().tree();
        let sends = trace.all("send stalls");
        assert_eq!(sends.len(), SENT);
        for (order, send) in orders.iter().zip(&sends) {
            let processed: Vec<_> = all
                .all("process stalls")
                .into_iter()
                .filter(|s| attribute(s, "order") == Some(&Value::from(order.clone())))
                .collect();
            assert_eq!(processed.len(), 1, "{order} processed once");
            assert_eq!(processed[0].parent_span_id, send.span_context.span_id());
        }
        let trace_id = trace.span(root).span_context.trace_id();
        assert!(tracebound::testing::recorder().unended(trace_id).is_empty());
        let attempts: Vec<_> = all
            .all("process stalls")
            .into_iter()
            .filter(|s| {
                attribute(s, "order").is_some_and(|o| orders.contains(&o.as_str().into_owned()))
            })
            .collect();
        figures(root, trace_id, &sends, &attempts);
    };
    tokio::time::timeout(LIMIT, work)
        .await
        .expect("within the limit");
}

async fn receive(subscription: &mut async_nats::Subscriber) -> async_nats::Message {
    tokio::time::timeout(Duration::from_secs(20), subscription.next())
        .await
        .expect("a message within the timeout")
        .expect("the subscription is open")
}
