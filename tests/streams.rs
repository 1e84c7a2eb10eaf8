//! `tracebound::stream`: a stream polled later, elsewhere, in the context it was made in; and
//! a stream of messages whose items are each handled under their own consumer span, on a
//! multi-thread runtime with the items interleaved across tasks.

use futures::StreamExt;
use opentelemetry::Context;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::{SpanId, SpanKind, Status, TraceId};
use std::collections::HashMap;
use std::time::Duration;
use tracebound::testing;
use tracebound::{Relation, traced_producer, traced_task};
use tracebound_tests::{linked, traced};

#[traced_task]
async fn item(i: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(1)).await;
    i
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn carry_polls_every_item_in_the_context_the_stream_was_made_in() {
    let (sum, trace) = traced("carried stream", async {
        let stream = tracebound::stream::carry(futures::stream::iter(0..6).then(item));
        // Polled by another task, on whatever worker runs it, outside the root span.
        tokio::spawn(async move { stream.fold(0, |a, b| async move { a + b }).await })
            .await
            .unwrap()
    })
    .await;
    assert_eq!(sum, 15);
    let items = trace.all("item");
    assert_eq!(items.len(), 6);
    for span in items {
        assert_eq!(trace.parent_of(span).unwrap().name, "carried stream");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_carry_the_items_lose_their_parent() {
    // The control for the test above: the same stream polled by a bare task starts new traces.
    let started = std::time::SystemTime::now();
    let (items, trace) = traced("uncarried stream", async {
        let stream = futures::stream::iter(100..103).then(item);
        tokio::spawn(stream.collect::<Vec<_>>()).await.unwrap()
    })
    .await;
    assert_eq!(items, [100, 101, 102]);
    assert!(trace.all("item").is_empty());
    let roots = testing::recorder()
        .spans()
        .into_iter()
        .filter(|s| {
            s.name == "item" && s.start_time >= started && s.parent_span_id == SpanId::INVALID
        })
        .count();
    assert!(
        roots >= 3,
        "the items were traced, each as a root of its own"
    );
}

struct Message {
    headers: HashMap<String, String>,
    body: u64,
}

#[traced_producer(carrier = headers, destination = "orders")]
fn stamp(body: u64, headers: &mut HashMap<String, String>) -> Message {
    Message {
        headers: headers.clone(),
        body,
    }
}

#[traced_task]
async fn handle(body: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(1)).await;
    body * 10
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_message_is_handled_under_its_own_consumer_span() {
    testing::install();
    // Messages from two producers' traces, interleaved in one stream.
    let (a, b) = (
        traced("producer a", async {
            (0..3)
                .map(|i| stamp(i, &mut HashMap::new()))
                .collect::<Vec<_>>()
        }),
        traced("producer b", async {
            (3..6)
                .map(|i| stamp(i, &mut HashMap::new()))
                .collect::<Vec<_>>()
        }),
    );
    let ((a, trace_a), (b, trace_b)) = (a.await, b.await);
    let messages: Vec<Message> = a.into_iter().zip(b).flat_map(|(x, y)| [x, y]).collect();

    let (results, consumer) = traced("consumer loop", async {
        let mut inbound =
            tracebound::stream::per_message(futures::stream::iter(messages), |m| &m.headers)
                .system("in-process")
                .destination("orders");
        let mut handles = Vec::new();
        while let Some(message) = inbound.next().await {
            // Handled concurrently on the runtime's workers.
            handles.push(tokio::spawn(message.process(|m| handle(m.body))));
        }
        let mut results = Vec::new();
        for handle in handles {
            results.push(handle.await.unwrap());
        }
        results
    })
    .await;
    assert_eq!(results, [0, 30, 10, 40, 20, 50]);
    let loop_span = consumer.span("consumer loop").span_context.span_id();
    for (producer, trace) in [("producer a", trace_a), ("producer b", trace_b)] {
        let trace_id = trace.span(producer).span_context.trace_id();
        let trace = testing::recorder().tree().trace(trace_id);
        let processed = trace.all("process orders");
        assert_eq!(processed.len(), 3, "{producer}:\n{}", trace.to_lines());
        for process in processed {
            assert_eq!(process.span_kind, SpanKind::Consumer);
            let parent = trace
                .parent_of(process)
                .expect("a parent in the producer's trace");
            assert_eq!(parent.name, "send orders");
            assert!(process.parent_span_is_remote);
            assert_eq!(
                linked(process).last(),
                Some(&loop_span),
                "linked to the loop's span"
            );
            let handled: Vec<_> = trace
                .children(process)
                .into_iter()
                .filter(|c| c.name == "handle")
                .collect();
            assert_eq!(handled.len(), 1, "the handler runs in its message's span");
            assert!(process.end_time >= handled[0].end_time);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_relation_sync_handlers_baggage_errors_and_unhandled_items() {
    testing::install();
    let remote = "4bf92f3577b34da6a3ce929d0e0e4736";
    let headers = |baggage: &str| {
        HashMap::from([
            (
                "traceparent".to_owned(),
                format!("00-{remote}-00f067aa0ba902b7-01"),
            ),
            ("baggage".to_owned(), baggage.to_owned()),
        ])
    };
    let hostile = HashMap::from([("traceparent".to_owned(), "00-zz".to_owned())]);
    let items = vec![
        Ok(headers("n=0")),
        Err("broken"),
        Ok(headers("n=2")),
        Ok(hostile),
        Ok(headers("n=4")),
    ];
    let mut inbound = tracebound::stream::per_message_ok(futures::stream::iter(items), |h| h)
        .name("process untrusted")
        .relation(Relation::Link);

    // A synchronous handler, reading the message's baggage.
    let first = inbound.next().await.unwrap().unwrap();
    let n =
        first.in_span(|_| Context::map_current(|cx| cx.baggage().get("n").map(|v| v.to_string())));
    assert_eq!(n.as_deref(), Some("0"));
    // Errors pass through without a span.
    assert_eq!(inbound.next().await.unwrap().err(), Some("broken"));
    // A handler that panics.
    let second = inbound.next().await.unwrap().unwrap();
    let panicked = tokio::spawn(second.process(|_| async { panic!("handler failed") })).await;
    assert!(panicked.unwrap_err().is_panic());
    // A message never handled: its span still ends when it is dropped.
    drop(inbound.next().await.unwrap().unwrap());
    // A handler dropped before it completes.
    let fourth = inbound.next().await.unwrap().unwrap();
    let pending = fourth.process(|_| std::future::pending::<()>());
    let timed_out = tokio::time::timeout(Duration::from_millis(5), pending).await;
    assert!(timed_out.is_err());
    assert!(inbound.next().await.is_none());

    let spans: Vec<_> = testing::recorder()
        .spans()
        .into_iter()
        .filter(|s| s.name == "process untrusted")
        .collect();
    assert_eq!(spans.len(), 4, "one span per Ok item, none for the error");
    let remote = TraceId::from_hex(remote).unwrap();
    for span in &spans {
        assert_eq!(
            span.parent_span_id,
            SpanId::INVALID,
            "relation = link: a new trace"
        );
        assert_ne!(span.span_context.trace_id(), remote);
    }
    let linked_to_remote = spans
        .iter()
        .filter(|s| s.links.len() == 1 && s.links[0].span_context.trace_id() == remote)
        .count();
    assert_eq!(
        linked_to_remote, 3,
        "the hostile message has nothing to link to"
    );
    assert!(
        spans
            .iter()
            .any(|s| matches!(s.status, Status::Error { .. })),
        "the panic"
    );
    assert!(
        spans
            .iter()
            .any(|s| s.events.iter().any(|e| e.name == "cancelled")),
        "the dropped handler"
    );
}
