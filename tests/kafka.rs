//! Kafka on a real broker: rdkafka (bundled librdkafka) against the tansu broker that `.ci/run`
//! installs and starts on 127.0.0.1:9092 (`KAFKA_BROKERS` overrides it). A producer writes
//! into `OwnedHeaders`, a `StreamConsumer` in a consumer group reads `BorrowedMessage`s.
//!
//! Runs when `TRACEBOUND_BROKER_TESTS=1` (set by `.ci/run`); then an unreachable broker fails
//! the test. Each test has its own topic and group, and a time limit: a hang in librdkafka
//! fails that test, not the run.

use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::{SpanId, SpanKind, Status};
use opentelemetry::{Context, KeyValue, Value};
use rdkafka::Message;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{BorrowedMessage, Header, Headers, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use std::future::Future;
use std::time::Duration;
use tracebound::kafka::Group;
use tracebound::testing::TraceTree;
use tracebound::{traced_consumer, traced_producer};
use tracebound_tests::brokers::{
    drop_off_runtime, enabled, kafka_config, kafka_consumer, kafka_delete_topic, kafka_topic,
    unique,
};
use tracebound_tests::{attribute, figures, linked, traced};

/// A test's whole time: joining a group and a rebalance take seconds on tansu.
const LIMIT: Duration = Duration::from_secs(120);
const WAIT: Duration = Duration::from_secs(30);

async fn limited<F: Future>(test: &str, work: F) -> F::Output {
    tokio::time::timeout(LIMIT, work)
        .await
        .unwrap_or_else(|_| panic!("{test} did not finish within {LIMIT:?}"))
}

fn producer() -> FutureProducer {
    kafka_config().create().expect("a Kafka producer")
}

fn tenant() -> Option<String> {
    Context::current()
        .baggage()
        .get("tenant")
        .map(|v| v.to_string())
}

fn text(value: &str) -> Option<Value> {
    Some(Value::from(value.to_owned()))
}

async fn deliver(producer: &FutureProducer, record: FutureRecord<'_, str, str>) {
    producer
        .send(record, WAIT)
        .await
        .unwrap_or_else(|(e, _)| panic!("a record was not delivered: {e}"));
}

#[traced_producer(carrier = headers, system = "kafka", destination = "orders")]
async fn send(
    producer: &FutureProducer,
    topic: &str,
    key: &str,
    order: &str,
    headers: &mut OwnedHeaders,
) {
    let record = FutureRecord::to(topic)
        .key(key)
        .payload(order)
        .headers(headers.clone());
    deliver(producer, record).await;
}

/// A stamp without a send: the context a forwarder appends to headers it re-sends.
#[traced_producer(carrier = headers, system = "kafka", destination = "orders", name = "forward")]
fn stamp(headers: &mut OwnedHeaders) {}

#[traced_consumer(
    carrier = group.message(message),
    system = "kafka",
    fields(order = message.payload_view::<str>().and_then(Result::ok).unwrap_or_default()),
)]
async fn handle(message: &BorrowedMessage<'_>, group: &Group) -> Option<String> {
    tenant()
}

async fn next(consumer: &StreamConsumer) -> BorrowedMessage<'_> {
    tokio::time::timeout(WAIT, consumer.recv())
        .await
        .expect("a record within the timeout")
        .expect("a record")
}

fn processed<'a>(spans: &'a TraceTree, order: &str) -> Vec<&'a opentelemetry_sdk::trace::SpanData> {
    spans
        .all("handle")
        .into_iter()
        .filter(|s| attribute(s, "order") == text(order).as_ref())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_round_trip_keeps_the_trace_the_baggage_and_the_attributes() {
    if !enabled("kafka_round_trip") {
        return;
    }
    limited("kafka_round_trip", async {
        let topic = kafka_topic("tracebound-orders", 1).await;
        let group_id = unique("tracebound-billing");
        let producer = producer();
        let consumer = kafka_consumer(&group_id, &topic);
        let group = Group::of(&consumer).expect("the consumer's group");
        assert_eq!(group.name(), group_id);

        let recorder = tracebound::testing::install();
        let (tenants, trace) = traced("kafka-roundtrip", async {
            let with_tenant = Context::current().with_baggage([KeyValue::new("tenant", "acme")]);
            let mut headers = OwnedHeaders::new();
            tracebound::with_context(with_tenant, || {
                send(&producer, &topic, "customer-7", "traced", &mut headers)
            })
            .await;

            // A forwarder re-sent a record, appending its own context after the one it
            // received: Kafka's `lastHeader` reading continues from the appended one.
            let mut fresh = OwnedHeaders::new();
            stamp(&mut fresh);
            let appended = fresh.iter().find(|h| h.key == "traceparent").unwrap();
            let forwarded = OwnedHeaders::new()
                .insert(Header {
                    key: "traceparent",
                    value: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
                })
                .insert(Header {
                    key: "traceparent",
                    value: appended.value,
                });
            let record = FutureRecord::to(&topic)
                .payload("forwarded")
                .headers(forwarded);
            deliver(&producer, record).await;

            // A hostile producer: a malformed traceparent, a baggage that would name a tenant if
            // its bytes were taken leniently (one is not UTF-8), and a valid traceparent hidden
            // by a null one after it.
            let hostile = OwnedHeaders::new()
                .insert(Header {
                    key: "traceparent",
                    value: Some("00-zzzz-not-a-trace"),
                })
                .insert(Header {
                    key: "baggage",
                    value: Some(&b"tenant=evil\xff"[..]),
                });
            let record = FutureRecord::to(&topic).payload("hostile").headers(hostile);
            deliver(&producer, record).await;
            let hidden = OwnedHeaders::new()
                .insert(Header {
                    key: "traceparent",
                    value: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
                })
                .insert(Header {
                    key: "traceparent",
                    value: None::<&[u8]>,
                });
            let record = FutureRecord::to(&topic).payload("hidden").headers(hidden);
            deliver(&producer, record).await;

            let mut tenants = Vec::new();
            let mut last = None;
            for _ in 0..4 {
                let message = next(&consumer).await;
                tenants.push(handle(&message, &group).await);
                consumer
                    .commit_message(&message, CommitMode::Sync)
                    .expect("committed");
                last = Some((message.partition(), message.offset()));
            }
            // Every record, the hostile ones too, was processed and committed.
            let (partition, offset) = last.unwrap();
            let committed = consumer.committed(WAIT).expect("the committed offsets");
            let element = committed
                .find_partition(&topic, partition)
                .expect("the partition's offset");
            assert_eq!(element.offset(), Offset::Offset(offset + 1));
            tenants
        })
        .await;
        assert_eq!(tenants, [Some("acme".to_owned()), None, None, None]);

        let send_span = trace.span("send orders");
        assert_eq!(send_span.span_kind, SpanKind::Producer);
        let all = recorder.tree();
        let traced_one = processed(&all, "traced");
        let [traced_one] = traced_one.as_slice() else {
            panic!("one processing of the traced record: {traced_one:?}");
        };
        assert_eq!(traced_one.span_kind, SpanKind::Consumer);
        assert_eq!(traced_one.parent_span_id, send_span.span_context.span_id());
        assert_eq!(
            traced_one.span_context.trace_id(),
            send_span.span_context.trace_id()
        );
        // Set from the message and the group, not written by the handler.
        assert_eq!(
            attribute(traced_one, "messaging.system"),
            text("kafka").as_ref()
        );
        assert_eq!(
            attribute(traced_one, "messaging.destination.name"),
            text(&topic).as_ref()
        );
        assert_eq!(
            attribute(traced_one, "messaging.destination.partition.id"),
            text("0").as_ref()
        );
        assert_eq!(
            attribute(traced_one, "messaging.kafka.offset"),
            Some(&Value::I64(0))
        );
        assert_eq!(
            attribute(traced_one, "messaging.kafka.message.key"),
            text("customer-7").as_ref()
        );
        assert_eq!(
            attribute(traced_one, "messaging.consumer.group.name"),
            text(&group_id).as_ref()
        );
        // Baggage is never copied into attributes.
        assert!(
            traced_one
                .attributes
                .iter()
                .all(|kv| kv.key.as_str() != "tenant")
        );

        let forward = trace.span("forward");
        let forwarded = processed(&all, "forwarded");
        assert_eq!(forwarded.len(), 1);
        assert_eq!(forwarded[0].parent_span_id, forward.span_context.span_id());
        assert_eq!(
            forwarded[0].span_context.trace_id(),
            forward.span_context.trace_id()
        );

        for order in ["hostile", "hidden"] {
            let spans = processed(&all, order);
            assert_eq!(spans.len(), 1, "{order} was processed once");
            assert_eq!(
                spans[0].parent_span_id,
                SpanId::INVALID,
                "{order} is a root"
            );
            assert_ne!(
                spans[0].span_context.trace_id(),
                send_span.span_context.trace_id()
            );
        }
        drop_off_runtime(consumer);
        drop_off_runtime(producer);
        kafka_delete_topic(&topic).await;
    })
    .await;
}

/// A batch handler: one span, a link per record.
#[traced_consumer(batch = messages, carrier = |m| m, system = "kafka", destination = "orders")]
async fn handle_batch(messages: &[BorrowedMessage<'_>]) -> usize {
    messages.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kafka_batch_links_every_record_to_its_send_span() {
    if !enabled("kafka_batch") {
        return;
    }
    limited("kafka_batch", async {
        let topic = kafka_topic("tracebound-batch", 1).await;
        let producer = producer();
        let consumer = kafka_consumer(&unique("tracebound-batch"), &topic);
        let recorder = tracebound::testing::install();
        let (count, trace) = traced("kafka-batch", async {
            for (i, order) in ["a", "b", "c"].into_iter().enumerate() {
                let mut headers = OwnedHeaders::new();
                send(&producer, &topic, &format!("k{i}"), order, &mut headers).await;
            }
            let mut messages = Vec::new();
            for _ in 0..3 {
                messages.push(next(&consumer).await);
            }
            let count = handle_batch(&messages).await;
            consumer
                .commit_message(messages.last().unwrap(), CommitMode::Sync)
                .unwrap();
            count
        })
        .await;
        assert_eq!(count, 3);
        let sends: Vec<SpanId> = trace
            .all("send orders")
            .iter()
            .map(|s| s.span_context.span_id())
            .collect();
        assert_eq!(sends.len(), 3);
        let batch = trace.span("process orders");
        assert_eq!(batch.span_kind, SpanKind::Consumer);
        assert_eq!(linked(batch), sends, "one link per record, in order");
        assert_eq!(
            attribute(batch, "messaging.batch.message_count"),
            Some(&Value::I64(3))
        );
        // Inside the test's root span, as a batch process span has no remote parent.
        assert_eq!(
            trace.parent_of(batch).map(|p| p.name.as_ref()),
            Some("kafka-batch")
        );
        assert!(recorder.unended(batch.span_context.trace_id()).is_empty());
        drop_off_runtime(consumer);
        drop_off_runtime(producer);
        kafka_delete_topic(&topic).await;
    })
    .await;
}

#[derive(Debug)]
struct Crashed;

/// A handler that fails: the member "dies" before committing.
#[traced_consumer(
    carrier = group.message(message),
    system = "kafka",
    fields(order = message.payload_view::<str>().and_then(Result::ok).unwrap_or_default()),
)]
async fn handle_and_crash(message: &BorrowedMessage<'_>, group: &Group) -> Result<(), Crashed> {
    Err(Crashed)
}

impl std::fmt::Display for Crashed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the consumer died before committing")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_dies_before_committing_hands_its_records_to_the_next_one() {
    if !enabled("kafka_group_failover") {
        return;
    }
    limited("kafka_group_failover", async {
        const SENT: usize = 5;
        let topic = kafka_topic("tracebound-failover", 1).await;
        let group_id = unique("tracebound-failover");
        let producer = producer();
        let recorder = tracebound::testing::install();
        let ((), trace) = traced("kafka-failover", async {
            for i in 0..SENT {
                let mut headers = OwnedHeaders::new();
                send(
                    &producer,
                    &topic,
                    &format!("k{i}"),
                    &format!("order-{i}"),
                    &mut headers,
                )
                .await;
            }
            // The first member processes the first three records and dies before committing
            // anything: its handler fails, then the member is gone.
            let first = kafka_consumer(&group_id, &topic);
            let group = Group::of(&first).unwrap();
            for _ in 0..3 {
                let message = next(&first).await;
                assert!(handle_and_crash(&message, &group).await.is_err());
            }
            drop_off_runtime(first);

            // The next member of the group starts from the last commit (none): every record.
            let second = kafka_consumer(&group_id, &topic);
            let mut seen = Vec::new();
            while seen.len() < SENT {
                let message = next(&second).await;
                handle(&message, &group).await;
                consumer_commit(&second, &message);
                seen.push(message.offset());
            }
            assert_eq!(seen, (0..SENT as i64).collect::<Vec<_>>());
            drop_off_runtime(second);
        })
        .await;

        // Sent = processed: every record by the second member, the first three twice. Each
        // attempt is one consumer span below its record's send span, and nothing is left open.
        let sends = trace.all("send orders");
        assert_eq!(sends.len(), SENT);
        let all = recorder.tree();
        for (i, send_span) in sends.iter().enumerate() {
            let attempts: Vec<_> = all
                .spans()
                .iter()
                .filter(|s| s.parent_span_id == send_span.span_context.span_id())
                .collect();
            let crashed = attempts
                .iter()
                .filter(|s| s.name == "handle_and_crash")
                .count();
            let handled: Vec<_> = attempts.iter().filter(|s| s.name == "handle").collect();
            assert_eq!(
                handled.len(),
                1,
                "record {i} processed once by the second member"
            );
            assert_eq!(crashed, usize::from(i < 3), "record {i}'s failed attempts");
            assert_eq!(
                attribute(handled[0], "messaging.kafka.offset"),
                Some(&Value::I64(i as i64))
            );
            for attempt in &attempts {
                assert_eq!(attempt.span_kind, SpanKind::Consumer);
                assert_eq!(
                    attempt.span_context.trace_id(),
                    send_span.span_context.trace_id()
                );
            }
            if let Some(failed) = attempts.iter().find(|s| s.name == "handle_and_crash") {
                assert!(matches!(failed.status, Status::Error { .. }));
            }
        }
        kafka_delete_topic(&topic).await;
        let trace_id = trace.span("kafka-failover").span_context.trace_id();
        assert!(recorder.unended(trace_id).is_empty());
        let attempts: Vec<_> = all
            .spans()
            .iter()
            .filter(|s| {
                matches!(s.name.as_ref(), "handle" | "handle_and_crash")
                    && attribute(s, "order").is_some_and(|o| o.as_str().starts_with("order-"))
            })
            .collect();
        figures(
            "kafka: a member gone before committing",
            trace_id,
            &sends,
            &attempts,
        );
        drop_off_runtime(producer);
    })
    .await;
}

fn consumer_commit(consumer: &StreamConsumer, message: &BorrowedMessage<'_>) {
    let mut offsets = TopicPartitionList::new();
    offsets
        .add_partition_offset(
            message.topic(),
            message.partition(),
            Offset::Offset(message.offset() + 1),
        )
        .unwrap();
    consumer
        .commit(&offsets, CommitMode::Sync)
        .expect("committed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_killed_before_committing_leaves_its_records_to_the_other_member() {
    if !enabled("kafka_member_killed") {
        return;
    }
    use tokio::io::AsyncBufReadExt;
    limited("kafka_member_killed", async {
        const SENT: usize = 4;
        let topic = kafka_topic("tracebound-killed", 1).await;
        let group_id = unique("tracebound-killed");
        let producer = producer();
        let recorder = tracebound::testing::install();
        let (printed, trace) = traced("kafka-killed", async {
            for i in 0..SENT {
                let mut headers = OwnedHeaders::new();
                send(
                    &producer,
                    &topic,
                    &format!("k{i}"),
                    &format!("killed-{i}"),
                    &mut headers,
                )
                .await;
            }
            // The first member, a process of its own, takes the partition and processes two
            // records without committing.
            let mut member = tokio::process::Command::new(env!("CARGO_BIN_EXE_kafka-member"))
                .env("BROKERS", tracebound_tests::brokers::kafka_brokers())
                .env("TOPIC", &topic)
                .env("GROUP", &group_id)
                .env("COUNT", "2")
                .stdout(std::process::Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .expect("the member process");
            let mut lines = tokio::io::BufReader::new(member.stdout.take().unwrap()).lines();
            let mut printed = String::new();
            while let Some(line) = lines.next_line().await.unwrap() {
                if line.starts_with("processed") {
                    break;
                }
                printed.push_str(&line);
                printed.push('\n');
            }
            // A second member subscribes to the group as the first dies with SIGKILL: no commit,
            // no leave. Once the dead member's session times out, the group gives the partition
            // to the second, which processes every record from the beginning.
            let second = kafka_consumer(&group_id, &topic);
            let group = Group::of(&second).unwrap();
            member.start_kill().unwrap();
            member.wait().await.unwrap();
            let mut offsets = Vec::new();
            while offsets.len() < SENT {
                let message = next(&second).await;
                handle(&message, &group).await;
                consumer_commit(&second, &message);
                offsets.push(message.offset());
            }
            assert_eq!(offsets, (0..SENT as i64).collect::<Vec<_>>());
            drop_off_runtime(second);
            printed
        })
        .await;
        drop_off_runtime(producer);

        // Sent = processed: each record once by the survivor, the first two also by the killed
        // member; every attempt is one consumer span below its record's send span.
        let killed = TraceTree::new(TraceTree::from_lines(&printed));
        assert_eq!(killed.all("handle_in_member").len(), 2, "{printed}");
        let all = recorder.tree();
        let sends = trace.all("send orders");
        assert_eq!(sends.len(), SENT);
        for (i, send_span) in sends.iter().enumerate() {
            let below = |spans: &TraceTree, name: &str| {
                spans
                    .all(name)
                    .into_iter()
                    .filter(|s| s.parent_span_id == send_span.span_context.span_id())
                    .map(|s| (s.span_kind.clone(), s.span_context.trace_id()))
                    .collect::<Vec<_>>()
            };
            let expected = (SpanKind::Consumer, send_span.span_context.trace_id());
            assert_eq!(
                below(&all, "handle"),
                std::slice::from_ref(&expected),
                "record {i}"
            );
            let by_killed = below(&killed, "handle_in_member");
            assert_eq!(by_killed.len(), usize::from(i < 2), "record {i}: {printed}");
            assert!(by_killed.iter().all(|s| *s == expected));
        }
        kafka_delete_topic(&topic).await;
        let trace_id = trace.span("kafka-killed").span_context.trace_id();
        assert!(recorder.unended(trace_id).is_empty());
        let mut attempts: Vec<_> = all
            .all("handle")
            .into_iter()
            .filter(|s| attribute(s, "order").is_some_and(|o| o.as_str().starts_with("killed-")))
            .collect();
        attempts.extend(killed.all("handle_in_member"));
        figures(
            "kafka: a member killed before committing",
            trace_id,
            &sends,
            &attempts,
        );
    })
    .await;
}
