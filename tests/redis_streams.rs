//! Redis Streams on the machine's Redis (`REDIS_URL` overrides `redis://127.0.0.1:6379`): a
//! producer adds `traceparent`, `tracestate` and `baggage` fields with `XADD`, consumers in a
//! group read entries with `XREADGROUP` and acknowledge them with `XACK`; a pending entry of a
//! consumer that died is claimed by another with `XAUTOCLAIM`, the death made by resetting the
//! first consumer's connection in a fault-injecting proxy.
//!
//! Runs when `TRACEBOUND_BROKER_TESTS=1` (set by `.ci/run`); then an unreachable Redis fails
//! the test.

use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::{SpanId, SpanKind};
use opentelemetry::{Context, KeyValue, Value};
use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;
use redis::streams::{
    StreamAutoClaimOptions, StreamAutoClaimReply, StreamId, StreamPendingReply, StreamReadOptions,
    StreamReadReply,
};
use std::time::Duration;
use tracebound::{traced_consumer, traced_producer};
use tracebound_tests::brokers::{enabled, redis_address, redis_at, redis_url, unique};
use tracebound_tests::proxy::Proxy;
use tracebound_tests::{attribute, figures, traced};

const LIMIT: Duration = Duration::from_secs(60);

type Fields = Vec<(String, Vec<u8>)>;

#[traced_producer(carrier = fields, system = "redis", destination = "orders")]
async fn add(
    con: &mut MultiplexedConnection,
    stream: &str,
    order: &str,
    fields: &mut Fields,
) -> redis::RedisResult<String> {
    fields.push(("order".into(), order.as_bytes().to_vec()));
    con.xadd(stream, "*", fields.as_slice()).await
}

fn tenant() -> Option<String> {
    Context::current()
        .baggage()
        .get("tenant")
        .map(|v| v.to_string())
}

fn order(entry: &StreamId) -> String {
    entry.get("order").unwrap_or_default()
}

#[traced_consumer(
    carrier = entry,
    system = "redis",
    destination = "orders",
    fields(order = order(entry), consumer = consumer),
)]
async fn process(entry: &StreamId, consumer: &str) -> Option<String> {
    tenant()
}

/// New entries for `consumer` of `group`, waiting up to a second.
async fn read_group(
    con: &mut MultiplexedConnection,
    stream: &str,
    group: &str,
    consumer: &str,
) -> redis::RedisResult<Vec<StreamId>> {
    let options = StreamReadOptions::default()
        .group(group, consumer)
        .count(100)
        .block(1000);
    let reply: Option<StreamReadReply> = con.xread_options(&[stream], &[">"], &options).await?;
    Ok(reply
        .into_iter()
        .flat_map(|r| r.keys)
        .flat_map(|k| k.ids)
        .collect())
}

async fn new_stream(con: &mut MultiplexedConnection, group: &str) -> String {
    let stream = unique("tracebound-orders");
    let () = con
        .xgroup_create_mkstream(&stream, group, "$")
        .await
        .expect("a stream and its group");
    stream
}

fn processed<'a>(
    spans: &'a tracebound::testing::TraceTree,
    wanted: &str,
) -> Vec<&'a opentelemetry_sdk::trace::SpanData> {
    spans
        .all("process orders")
        .into_iter()
        .filter(|s| attribute(s, "order") == Some(&Value::from(wanted.to_owned())))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_entry_continues_its_producers_trace_through_a_consumer_group() {
    if !enabled("redis_round_trip") {
        return;
    }
    let work = async {
        let mut con = redis_at(&redis_url()).await;
        let group = "billing";
        let stream = new_stream(&mut con, group).await;
        let recorder = tracebound::testing::install();
        let ((tenants, ids), trace) = traced("redis-roundtrip", async {
            let with_tenant = Context::current().with_baggage([KeyValue::new("tenant", "acme")]);
            let mut fields = Fields::new();
            let mut sender = con.clone();
            let id = tracebound::with_context(with_tenant, || {
                add(&mut sender, &stream, "traced", &mut fields)
            })
            .await
            .unwrap();
            assert_eq!(
                fields.len(),
                3,
                "traceparent, baggage and the order: {fields:?}"
            );

            // A hostile producer: a malformed traceparent, and baggage that would name a tenant
            // if its bytes were taken leniently (one is not UTF-8).
            let hostile: Vec<(&str, Vec<u8>)> = vec![
                ("traceparent", b"00-zzzz-not-a-trace".to_vec()),
                ("baggage", b"tenant=evil\xff".to_vec()),
                ("order", b"hostile".to_vec()),
            ];
            let hostile_id: String = con.xadd(&stream, "*", &hostile).await.unwrap();

            let entries = read_group(&mut con, &stream, group, "worker-1")
                .await
                .unwrap();
            assert_eq!(entries.len(), 2);
            let mut tenants = Vec::new();
            for entry in &entries {
                tenants.push(process(entry, "worker-1").await);
                let acked: usize = con.xack(&stream, group, &[&entry.id]).await.unwrap();
                assert_eq!(acked, 1);
            }
            (tenants, [id, hostile_id])
        })
        .await;
        assert_eq!(tenants, [Some("acme".to_owned()), None]);
        let pending: StreamPendingReply = con.xpending(&stream, group).await.unwrap();
        assert_eq!(pending.count(), 0, "every entry acknowledged");

        let send = trace.span("send orders");
        let all = recorder.tree();
        let traced_one = processed(&all, "traced");
        assert_eq!(traced_one.len(), 1);
        let traced_one = traced_one[0];
        assert_eq!(traced_one.span_kind, SpanKind::Consumer);
        assert_eq!(traced_one.parent_span_id, send.span_context.span_id());
        assert_eq!(
            traced_one.span_context.trace_id(),
            send.span_context.trace_id()
        );
        assert_eq!(
            attribute(traced_one, "messaging.message.id"),
            Some(&Value::from(ids[0].clone()))
        );
        assert_eq!(
            attribute(traced_one, "messaging.system"),
            Some(&Value::from("redis"))
        );
        let hostile = processed(&all, "hostile");
        assert_eq!(hostile.len(), 1);
        assert_eq!(hostile[0].parent_span_id, SpanId::INVALID);
        assert_ne!(
            hostile[0].span_context.trace_id(),
            send.span_context.trace_id()
        );
        assert_eq!(
            attribute(hostile[0], "messaging.message.id"),
            Some(&Value::from(ids[1].clone()))
        );
        let _: () = con.del(&stream).await.unwrap();
    };
    tokio::time::timeout(LIMIT, work)
        .await
        .expect("within the limit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_entry_claimed_from_a_dead_consumer_keeps_its_parent() {
    if !enabled("redis_claim") {
        return;
    }
    let work = async {
        const SENT: usize = 6;
        let mut con = redis_at(&redis_url()).await;
        let group = "billing";
        let stream = new_stream(&mut con, group).await;
        let proxy = Proxy::start(&redis_address()).await;
        let recorder = tracebound::testing::install();
        let ((), trace) = traced("redis-claim", async {
            for i in 0..SENT {
                let mut fields = Fields::new();
                add(&mut con, &stream, &format!("order-{i}"), &mut fields)
                    .await
                    .unwrap();
            }
            // The first consumer, behind the proxy, reads every entry and acknowledges two,
            // then its connection is reset mid-work: the rest stay pending on it.
            let url = format!("redis://{}", proxy.addr());
            let mut doomed = redis_at(&url).await;
            let entries = read_group(&mut doomed, &stream, group, "worker-1")
                .await
                .unwrap();
            assert_eq!(entries.len(), SENT);
            for entry in &entries[..2] {
                process(entry, "worker-1").await;
                let _: usize = doomed.xack(&stream, group, &[&entry.id]).await.unwrap();
            }
            process(&entries[2], "worker-1").await;
            // Its acknowledgement of the third never reaches Redis: held back, then reset.
            proxy.stall(true);
            proxy.reset();
            let lost: redis::RedisResult<usize> =
                doomed.xack(&stream, group, &[&entries[2].id]).await;
            assert!(lost.is_err(), "the first consumer's connection is gone");

            // The second consumer claims what was left pending and finishes it.
            tokio::time::sleep(Duration::from_millis(50)).await;
            let claimed: StreamAutoClaimReply = con
                .xautoclaim_options(
                    &stream,
                    group,
                    "worker-2",
                    20,
                    "0-0",
                    StreamAutoClaimOptions::default().count(100),
                )
                .await
                .unwrap();
            assert_eq!(claimed.claimed.len(), SENT - 2);
            for entry in &claimed.claimed {
                process(entry, "worker-2").await;
                let _: usize = con.xack(&stream, group, &[&entry.id]).await.unwrap();
            }
        })
        .await;
        let pending: StreamPendingReply = con.xpending(&stream, group).await.unwrap();
        assert_eq!(pending.count(), 0, "every entry acknowledged in the end");

        // Sent = processed (at least once); each attempt is one consumer span below its
        // entry's send span.
        let all = recorder.tree();
        let sends = trace.all("send orders");
        assert_eq!(sends.len(), SENT);
        for (i, send) in sends.iter().enumerate() {
            let attempts: Vec<_> = processed(&all, &format!("order-{i}"));
            let by = |who: &str| {
                attempts
                    .iter()
                    .filter(|s| attribute(s, "consumer") == Some(&Value::from(who.to_owned())))
                    .count()
            };
            let (first, second) = (by("worker-1"), by("worker-2"));
            match i {
                0 | 1 => assert_eq!((first, second), (1, 0), "entry {i}"),
                2 => assert_eq!((first, second), (1, 1), "entry {i}: processed, not acked"),
                _ => assert_eq!((first, second), (0, 1), "entry {i}"),
            }
            for attempt in attempts {
                assert_eq!(attempt.span_kind, SpanKind::Consumer);
                assert_eq!(attempt.parent_span_id, send.span_context.span_id());
                assert_eq!(
                    attempt.span_context.trace_id(),
                    send.span_context.trace_id()
                );
            }
        }
        let trace_id = trace.span("redis-claim").span_context.trace_id();
        assert!(recorder.unended(trace_id).is_empty());
        let attempts: Vec<_> = (0..SENT)
            .flat_map(|i| processed(&all, &format!("order-{i}")))
            .collect();
        figures(
            "redis: pending entries claimed from a dead consumer",
            trace_id,
            &sends,
            &attempts,
        );
        let _: () = con.del(&stream).await.unwrap();
    };
    tokio::time::timeout(LIMIT, work)
        .await
        .expect("within the limit");
}
