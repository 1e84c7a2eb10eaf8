//! RabbitMQ under faults: handlers that fail or panic, a nack with requeue, and a connection
//! closed mid-stream. Runs when `TRACEBOUND_BROKER_TESTS=1` (set by `.ci/run`); then an
//! unreachable broker fails the tests. `AMQP_URL` overrides the local address.

use futures::{FutureExt as _, StreamExt};
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions, BasicQosOptions,
    QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Consumer};
use opentelemetry::Value;
use opentelemetry::trace::Status;
use std::collections::BTreeSet;
use std::fmt;
use std::panic::AssertUnwindSafe;
use std::time::Duration;
use tracebound::{traced_consumer, traced_producer};
use tracebound_tests::brokers::{amqp, enabled, unique};
use tracebound_tests::{attribute, traced};

const WAIT: Duration = Duration::from_secs(20);

/// A queue that outlives one connection, deleted by the test.
async fn queue(channel: &Channel, prefix: &str) -> String {
    let name = unique(prefix);
    let options = QueueDeclareOptions {
        auto_delete: false,
        ..Default::default()
    };
    channel
        .queue_declare(name.as_str().into(), options, FieldTable::default())
        .await
        .unwrap();
    name
}

async fn consumer(channel: &Channel, queue: &str) -> Consumer {
    channel
        .basic_consume(
            queue.into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap()
}

async fn next(consumer: &mut Consumer) -> Delivery {
    tokio::time::timeout(WAIT, consumer.next())
        .await
        .expect("a delivery within the timeout")
        .expect("the consumer is open")
        .expect("a delivery")
}

#[traced_producer(carrier = headers, system = "rabbitmq", destination = "faults")]
async fn publish(channel: &Channel, queue: &str, body: String, headers: &mut FieldTable) {
    let properties = BasicProperties::default().with_headers(headers.clone());
    channel
        .basic_publish(
            "".into(),
            queue.into(),
            BasicPublishOptions::default(),
            body.as_bytes(),
            properties,
        )
        .await
        .unwrap()
        .await
        .unwrap();
}

#[derive(Debug, PartialEq)]
enum OrderError {
    OutOfStock { sku: u32 },
}

impl fmt::Display for OrderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OrderError::OutOfStock { sku } => write!(f, "sku {sku} is out of stock"),
        }
    }
}

fn body(delivery: &Delivery) -> String {
    String::from_utf8_lossy(&delivery.data).into_owned()
}

#[traced_consumer(
    carrier = delivery.properties.headers(),
    system = "rabbitmq",
    destination = "faults",
    fields(order = body(delivery), redelivered = delivery.redelivered),
)]
async fn handle(delivery: &Delivery) -> Result<(), OrderError> {
    match body(delivery).as_str() {
        "fail" => Err(OrderError::OutOfStock { sku: 7 }),
        "panic" => panic!("handler panicked on purpose"),
        _ => Ok(()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_recorded_and_reach_the_caller_unchanged_and_requeues_are_linked() {
    if !enabled("broker_faults") {
        return;
    }
    let connection = amqp().await;
    let channel = connection.create_channel().await.unwrap();
    let queue = queue(&channel, "tracebound-faults").await;
    let mut deliveries = consumer(&channel, &queue).await;
    let recorder = tracebound::testing::install();

    let ((), trace) = traced("faults-root", async {
        for body in ["fail", "panic", "requeue"] {
            publish(
                &channel,
                &queue,
                body.to_owned(),
                &mut FieldTable::default(),
            )
            .await;
        }
        // An error: the caller gets the handler's own error value, unchanged.
        let delivery = next(&mut deliveries).await;
        assert_eq!(
            handle(&delivery).await,
            Err(OrderError::OutOfStock { sku: 7 })
        );
        delivery.ack(BasicAckOptions::default()).await.unwrap();
        // A panic: it unwinds to the caller, who decides what happens to the message.
        let delivery = next(&mut deliveries).await;
        let panic = AssertUnwindSafe(handle(&delivery))
            .catch_unwind()
            .await
            .unwrap_err();
        assert_eq!(
            panic.downcast_ref::<&str>(),
            Some(&"handler panicked on purpose")
        );
        delivery
            .nack(BasicNackOptions {
                requeue: false,
                ..Default::default()
            })
            .await
            .unwrap();
        // A nack with requeue: the message comes back, flagged redelivered.
        let delivery = next(&mut deliveries).await;
        assert!(!delivery.redelivered);
        handle(&delivery).await.unwrap();
        delivery
            .nack(BasicNackOptions {
                requeue: true,
                ..Default::default()
            })
            .await
            .unwrap();
        let again = next(&mut deliveries).await;
        assert!(again.redelivered);
        assert_eq!(body(&again), "requeue");
        handle(&again).await.unwrap();
        again.ack(BasicAckOptions::default()).await.unwrap();
    })
    .await;

    let all = recorder.tree();
    let processed = all.all("process faults");
    let of = |order: &str| -> Vec<_> {
        processed
            .iter()
            .filter(|s| attribute(s, "order") == Some(&Value::from(order.to_owned())))
            .copied()
            .collect()
    };
    let sends = trace.all("send faults");
    let send_of = |order: usize| sends[order].span_context.span_id();

    let failed = of("fail");
    assert_eq!(failed[0].status, Status::error("sku 7 is out of stock"));
    assert!(
        attribute(failed[0], "error.type").is_some_and(|t| t.to_string().ends_with("OrderError"))
    );
    assert_eq!(failed[0].parent_span_id, send_of(0));

    let panicked = of("panic");
    assert_eq!(panicked[0].status, Status::error("panicked"));
    assert_eq!(panicked[0].parent_span_id, send_of(1));

    // Both attempts of the requeued message: new spans, each under the same send span.
    let attempts = of("requeue");
    assert_eq!(attempts.len(), 2);
    assert_ne!(
        attempts[0].span_context.span_id(),
        attempts[1].span_context.span_id()
    );
    for attempt in &attempts {
        assert_eq!(attempt.parent_span_id, send_of(2));
        assert_eq!(
            attempt.span_context.trace_id(),
            sends[2].span_context.trace_id()
        );
    }
    assert_eq!(
        attribute(attempts[1], "redelivered"),
        Some(&Value::Bool(true))
    );

    channel
        .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
        .await
        .unwrap();
    connection.close(200, "done".into()).await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_closed_mid_stream_loses_no_acknowledged_message() {
    if !enabled("broker_connection_loss") {
        return;
    }
    const MESSAGES: usize = 40;
    let publisher = amqp().await;
    let publish_channel = publisher.create_channel().await.unwrap();
    let queue = queue(&publish_channel, "tracebound-connection-loss").await;
    let recorder = tracebound::testing::install();
    let ((), _) = traced("connection-loss-root", async {
        for i in 0..MESSAGES {
            publish(
                &publish_channel,
                &queue,
                format!("order-{i}"),
                &mut FieldTable::default(),
            )
            .await;
        }
    })
    .await;

    // The first consumer acknowledges 15 messages, then its connection goes away while it
    // holds more unacknowledged ones (prefetch 10).
    let mut acked = BTreeSet::new();
    {
        let connection = amqp().await;
        let channel = connection.create_channel().await.unwrap();
        channel
            .basic_qos(10, BasicQosOptions::default())
            .await
            .unwrap();
        let mut deliveries = consumer(&channel, &queue).await;
        for _ in 0..15 {
            let delivery = next(&mut deliveries).await;
            handle(&delivery).await.unwrap();
            delivery.ack(BasicAckOptions::default()).await.unwrap();
            acked.insert(body(&delivery));
        }
        let unacked = next(&mut deliveries).await; // received, never acknowledged
        assert!(!acked.contains(&body(&unacked)));
        connection.close(320, "closed mid-stream".into()).await.ok();
    }

    // A second consumer gets everything not acknowledged, including the in-flight ones.
    let connection = amqp().await;
    let channel = connection.create_channel().await.unwrap();
    let mut deliveries = consumer(&channel, &queue).await;
    let mut second = BTreeSet::new();
    while acked.len() + second.len() < MESSAGES {
        let delivery = next(&mut deliveries).await;
        handle(&delivery).await.unwrap();
        delivery.ack(BasicAckOptions::default()).await.unwrap();
        assert!(
            !acked.contains(&body(&delivery)),
            "an acknowledged message came back"
        );
        second.insert(body(&delivery));
    }
    let all: BTreeSet<String> = (0..MESSAGES).map(|i| format!("order-{i}")).collect();
    let processed: BTreeSet<String> = acked.union(&second).cloned().collect();
    assert_eq!(
        processed, all,
        "every message processed and acknowledged exactly once"
    );
    // Every processed message has a consumer span in its producer's trace.
    let tree = recorder.tree();
    let sends: Vec<_> = tree.all("send faults");
    for order in &all {
        let spans: Vec<_> = tree
            .all("process faults")
            .into_iter()
            .filter(|s| attribute(s, "order") == Some(&Value::from(order.clone())))
            .collect();
        assert!(!spans.is_empty(), "{order} has no consumer span");
        for span in spans {
            let parent = sends
                .iter()
                .find(|s| s.span_context.span_id() == span.parent_span_id);
            assert!(
                parent.is_some(),
                "{order}'s consumer span is under its send span"
            );
        }
    }
    channel
        .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
        .await
        .unwrap();
    connection.close(200, "done".into()).await.ok();
    publisher.close(200, "done".into()).await.ok();
}
