//! Messaging semantic conventions v1.44 on the real brokers: a batch published to RabbitMQ
//! (create spans, a send span linking them), pulled back with `basic_get` (receive spans
//! linking each message) and processed from the whole `Delivery` (its attributes without
//! options, its create span as parent, the ambient span as link); a NATS message processed
//! from the whole `async_nats::Message`.
//!
//! Runs when `TRACEBOUND_BROKER_TESTS=1` (set by `.ci/run`); then an unreachable broker fails
//! the test.

use futures::StreamExt;
use lapin::message::{BasicGetMessage, Delivery};
use lapin::options::{BasicAckOptions, BasicGetOptions, BasicPublishOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel};
use opentelemetry::Value;
use opentelemetry::trace::SpanKind;
use opentelemetry_sdk::trace::SpanData;
use std::time::Duration;
use tracebound::{traced_consumer, traced_producer};
use tracebound_tests::brokers::{amqp, enabled, exclusive_queue, jetstream_pull, nats, unique};
use tracebound_tests::{attribute, ids, linked, traced};

const WAIT: Duration = Duration::from_secs(20);

struct Outgoing {
    id: String,
    body: Vec<u8>,
    headers: FieldTable,
}

#[traced_producer(
    batch = batch,
    carrier = |m| &mut m.headers,
    system = "rabbitmq",
    destination = "tracebound.semconv"
)]
async fn publish_batch(
    channel: &Channel,
    queue: &str,
    batch: &mut [Outgoing],
) -> lapin::Result<()> {
    for message in batch.iter() {
        let properties = BasicProperties::default()
            .with_headers(message.headers.clone())
            .with_message_id(message.id.as_str().into());
        channel
            .basic_publish(
                "".into(),
                queue.into(),
                BasicPublishOptions::default(),
                &message.body,
                properties,
            )
            .await?
            .await?;
    }
    Ok(())
}

/// A pull consumer: one `basic_get`.
#[traced_consumer(
    system = "rabbitmq",
    destination = "tracebound.semconv",
    receive = |got| got.iter().flatten()
)]
async fn pull(channel: &Channel, queue: &str) -> lapin::Result<Option<BasicGetMessage>> {
    channel
        .basic_get(queue.into(), BasicGetOptions::default())
        .await
}

/// Processes a whole delivery: the attributes come from it.
#[traced_consumer(carrier = delivery)]
async fn handle(delivery: &Delivery) -> lapin::Result<bool> {
    delivery.ack(BasicAckOptions::default()).await
}

fn text(span: &SpanData, key: &str) -> Option<String> {
    match attribute(span, key)? {
        Value::String(s) => Some(s.to_string()),
        other => panic!("{key} is {other:?}, not a string"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_batch_send_receive_and_process_follow_the_conventions() {
    if !enabled("rabbitmq_semconv") {
        return;
    }
    let connection = amqp().await;
    let channel = connection.create_channel().await.unwrap();
    let queue = exclusive_queue(&channel, "tracebound-semconv").await;

    let root = "amqp-semconv";
    let ((), trace) = traced(root, async {
        let mut batch: Vec<Outgoing> = (0..3)
            .map(|i| Outgoing {
                id: format!("order-{i}"),
                body: format!("order {i}").into_bytes(),
                headers: FieldTable::default(),
            })
            .collect();
        publish_batch(&channel, &queue, &mut batch).await.unwrap();
        for _ in 0..3 {
            let message = tokio::time::timeout(WAIT, async {
                loop {
                    if let Some(message) = pull(&channel, &queue).await.unwrap() {
                        return message;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
            .await
            .expect("a message within the timeout");
            // Processed on another task, as a handler would be.
            let handled = tracebound::spawn(async move { handle(&message).await });
            handled.await.unwrap().unwrap();
        }
    })
    .await;
    connection.close(200, "done".into()).await.ok();

    let root = trace.span(root);
    let send = trace.span("send tracebound.semconv");
    let creates = trace.all("create tracebound.semconv");
    assert_eq!(creates.len(), 3);
    assert_eq!(send.span_kind, SpanKind::Client);
    assert_eq!(
        attribute(send, "messaging.batch.message_count"),
        Some(&Value::I64(3))
    );
    let links = linked(send);
    let created = ids(&creates);
    assert_eq!(links, created, "send links every create span");
    for create in &creates {
        assert_eq!(create.span_kind, SpanKind::Producer);
        assert_eq!(create.parent_span_id, root.span_context.span_id());
        assert_eq!(
            text(create, "messaging.operation.type").as_deref(),
            Some("create")
        );
        assert_eq!(
            text(create, "messaging.system").as_deref(),
            Some("rabbitmq")
        );
    }

    // Pulled in order: each receive span links the message's create span.
    let receives = trace.all("receive tracebound.semconv");
    assert_eq!(receives.len(), 3, "{}", trace.render());
    for (i, (receive, create)) in receives.iter().zip(&creates).enumerate() {
        assert_eq!(receive.span_kind, SpanKind::Client);
        assert_eq!(receive.parent_span_id, root.span_context.span_id());
        assert_eq!(
            text(receive, "messaging.operation.type").as_deref(),
            Some("receive")
        );
        // `basic_get` is a single-message API: no batch count (v1.44, its note on
        // `messaging.batch.message_count`).
        assert_eq!(attribute(receive, "messaging.batch.message_count"), None);
        assert_eq!(receive.links.len(), 1);
        assert_eq!(
            receive.links[0].span_context.span_id(),
            create.span_context.span_id()
        );
        assert_eq!(
            text(receive, "messaging.message.id"),
            Some(format!("order-{i}"))
        );
        assert_eq!(
            text(receive, "messaging.destination.name").as_deref(),
            Some("tracebound.semconv"),
            "the options' destination, not repeated by the message's"
        );
    }

    // Processed from the whole delivery: the create span is the parent and the first link, the
    // ambient span (the root, where `handle` was spawned) the second, and the attributes come
    // from the message.
    let processes = trace.all("handle");
    assert_eq!(processes.len(), 3);
    for (i, (process, create)) in processes.iter().zip(&creates).enumerate() {
        assert_eq!(process.span_kind, SpanKind::Consumer);
        assert_eq!(process.parent_span_id, create.span_context.span_id());
        let links = linked(process);
        assert_eq!(
            links,
            [create.span_context.span_id(), root.span_context.span_id()]
        );
        assert_eq!(
            text(process, "messaging.system").as_deref(),
            Some("rabbitmq")
        );
        // Default exchange: the destination is the routing key, the queue's name.
        assert_eq!(
            text(process, "messaging.destination.name"),
            Some(queue.clone())
        );
        assert_eq!(
            text(process, "messaging.rabbitmq.destination.routing_key"),
            Some(queue.clone())
        );
        assert!(matches!(
            attribute(process, "messaging.rabbitmq.message.delivery_tag"),
            Some(Value::I64(tag)) if *tag > 0
        ));
        assert_eq!(
            text(process, "messaging.message.id"),
            Some(format!("order-{i}"))
        );
        assert_eq!(
            text(process, "messaging.operation.type").as_deref(),
            Some("process")
        );
    }
}

// --- NATS --------------------------------------------------------------------------------

#[traced_producer(carrier = headers, system = "nats", destination = "tracebound.semconv")]
async fn nats_send(
    client: &async_nats::Client,
    subject: &str,
    headers: &mut async_nats::HeaderMap,
) -> Result<(), async_nats::PublishError> {
    headers.insert("Nats-Msg-Id", "msg-7");
    client
        .publish_with_headers(subject.to_owned(), headers.clone(), "order".into())
        .await
}

#[traced_consumer(carrier = msg)]
async fn nats_handle(msg: async_nats::Message) -> usize {
    msg.payload.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_process_spans_take_their_attributes_from_the_message() {
    if !enabled("nats_semconv") {
        return;
    }
    let client = nats().await;
    let subject = unique("tracebound.semconv");
    let mut subscriber = client.subscribe(subject.clone()).await.unwrap();
    client.flush().await.unwrap();

    let root = "nats-semconv";
    let (len, trace) = traced(root, async {
        nats_send(&client, &subject, &mut async_nats::HeaderMap::new())
            .await
            .unwrap();
        client.flush().await.unwrap();
        let msg = tokio::time::timeout(WAIT, subscriber.next())
            .await
            .expect("a message within the timeout")
            .expect("the subscription is open");
        tracebound::spawn(nats_handle(msg)).await.unwrap()
    })
    .await;
    assert_eq!(len, 5);
    let send = trace.span("send tracebound.semconv");
    let process = trace.span("nats_handle");
    assert_eq!(send.span_kind, SpanKind::Producer);
    assert_eq!(process.span_kind, SpanKind::Consumer);
    assert_eq!(process.parent_span_id, send.span_context.span_id());
    assert_eq!(text(process, "messaging.system").as_deref(), Some("nats"));
    assert_eq!(text(process, "messaging.destination.name"), Some(subject));
    assert_eq!(
        text(process, "messaging.message.id").as_deref(),
        Some("msg-7")
    );
    assert_eq!(
        text(process, "messaging.operation.name").as_deref(),
        Some("process")
    );
}

// --- NATS JetStream: a pull consumer's fetch --------------------------------------------

use async_nats::jetstream;

#[traced_producer(carrier = headers, system = "nats", destination = "tracebound.js")]
async fn js_send(
    js: &jetstream::Context,
    subject: &str,
    headers: &mut async_nats::HeaderMap,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    js.publish_with_headers(subject.to_owned(), headers.clone(), "order".into())
        .await?
        .await?;
    Ok(())
}

type Fetched = Result<Vec<jetstream::Message>, Box<dyn std::error::Error + Send + Sync>>;

/// One fetch of up to `max` messages.
#[traced_consumer(system = "nats", destination = "tracebound.js", receive = |got| got.iter().flatten())]
async fn js_fetch(consumer: &jetstream::consumer::PullConsumer, max: usize) -> Fetched {
    let mut messages = consumer.fetch().max_messages(max).messages().await?;
    let mut fetched = Vec::new();
    while let Some(message) = messages.next().await {
        fetched.push(message?);
    }
    Ok(fetched)
}

#[traced_consumer(carrier = msg)]
async fn js_process(msg: &jetstream::Message) -> Result<(), async_nats::Error> {
    msg.ack().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jetstream_fetch_is_a_receive_span_and_messages_know_their_consumer() {
    if !enabled("jetstream_semconv") {
        return;
    }
    let client = nats().await;
    let js = jetstream::new(client);
    let (name, subject, consumer) = jetstream_pull(&js, "tracebound-js", None).await;
    let durable = format!("{name}-workers");

    let root = "jetstream-semconv";
    let (fetched, trace) = traced(root, async {
        for _ in 0..2 {
            js_send(&js, &subject, &mut async_nats::HeaderMap::new())
                .await
                .unwrap();
        }
        let fetched = tokio::time::timeout(WAIT, js_fetch(&consumer, 2))
            .await
            .expect("a fetch within the timeout")
            .unwrap();
        for message in &fetched {
            js_process(message).await.unwrap();
        }
        fetched.len()
    })
    .await;
    js.delete_stream(&name).await.ok();
    assert_eq!(fetched, 2);

    let sends = trace.all("send tracebound.js");
    let receive = trace.span("receive tracebound.js");
    assert_eq!(receive.span_kind, SpanKind::Client);
    assert_eq!(
        attribute(receive, "messaging.batch.message_count"),
        Some(&Value::I64(2))
    );
    let links = linked(receive);
    let sent = ids(&sends);
    assert_eq!(links, sent, "the receive span links each fetched message");
    assert_eq!(
        attribute(receive, "messaging.message.id"),
        None,
        "a batch's messages differ: no per-message attributes on it"
    );
    let processes = trace.all("js_process");
    assert_eq!(processes.len(), 2);
    for (i, (process, send)) in processes.iter().zip(&sends).enumerate() {
        assert_eq!(process.parent_span_id, send.span_context.span_id());
        assert_eq!(
            text(process, "messaging.consumer.group.name"),
            Some(durable.clone())
        );
        assert_eq!(
            text(process, "messaging.destination.name"),
            Some(subject.clone())
        );
        assert_eq!(
            text(process, "messaging.message.id"),
            Some(format!("{name}:{}", i + 1))
        );
    }
}
