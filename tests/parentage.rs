//! The span's parent is the context current when the function is **called**, whatever runs
//! the future afterwards: `tokio::spawn`, `JoinSet`, `join!`, `join_all`, `select!`.

use opentelemetry::Context;
use opentelemetry::global;
use opentelemetry::trace::{FutureExt, SpanId, TraceContextExt, Tracer};
use std::time::Duration;
use tokio::task::{JoinSet, yield_now};
use tracebound::traced_task;
use tracebound_tests::{attribute, traced};

#[traced_task(fields(label = label))]
async fn work(label: &'static str) -> &'static str {
    yield_now().await;
    label
}

#[traced_task(fields(label = label))]
async fn slow(label: &'static str, millis: u64) -> &'static str {
    tokio::time::sleep(Duration::from_millis(millis)).await;
    label
}

/// A context holding a fresh span named `name`, to create futures under.
fn under(name: &'static str) -> Context {
    let span = global::tracer("tracebound-tests").start(name);
    Context::current_with_span(span)
}

fn label_of(span: &opentelemetry_sdk::trace::SpanData) -> String {
    attribute(span, "label")
        .map(ToString::to_string)
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_spawn_keeps_the_parent_the_future_was_created_under() {
    let root = "parentage-spawn";
    let ((), trace) = traced(root, async {
        let handles: Vec<_> = (0..8).map(|_| tokio::spawn(work("spawned"))).collect();
        for handle in handles {
            assert_eq!(handle.await.unwrap(), "spawned");
        }
    })
    .await;
    trace.assert_single_trace();
    let spans = trace.all("work");
    assert_eq!(spans.len(), 8);
    for span in spans {
        assert_eq!(trace.parent_of(span).unwrap().name, root);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_parent_is_the_context_at_call_time_not_at_first_poll() {
    let root = "parentage-call-time";
    let ((), trace) = traced(root, async {
        let a = under("parent-a");
        let future = {
            let _token = tracebound::attach(a.clone());
            work("made-under-a")
        };
        // Polled for the first time under another parent, on another task.
        let b = under("parent-b");
        tokio::spawn(future.with_context(b.clone())).await.unwrap();
        a.span().end();
        b.span().end();
    })
    .await;
    trace.assert_parent("work", "parent-a");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joinset_join_and_join_all_keep_each_futures_own_parent() {
    let root = "parentage-join";
    let ((), trace) = traced(root, async {
        let a = under("join-a");
        let b = under("join-b");
        let made_under = |cx: &Context, label| {
            let _token = tracebound::attach(cx.clone());
            work(label)
        };

        let mut set = JoinSet::new();
        set.spawn(made_under(&a, "set-a"));
        set.spawn(made_under(&b, "set-b"));
        while let Some(done) = set.join_next().await {
            done.unwrap();
        }

        tokio::join!(made_under(&a, "join-a"), made_under(&b, "join-b"));
        futures::future::join_all(vec![made_under(&b, "all-b"), made_under(&a, "all-a")]).await;
        a.span().end();
        b.span().end();
    })
    .await;
    trace.assert_single_trace();
    for span in trace.all("work") {
        let label = label_of(span);
        let expected = if label.ends_with('a') {
            "join-a"
        } else {
            "join-b"
        };
        assert_eq!(
            trace.parent_of(span).unwrap().name,
            expected,
            "{label} has the wrong parent:\n{trace}"
        );
    }
    assert_eq!(trace.all("work").len(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn select_keeps_parents_and_ends_the_loser_as_cancelled() {
    let root = "parentage-select";
    let ((), trace) = traced(root, async {
        let a = under("select-a");
        let b = under("select-b");
        let fast = {
            let _token = tracebound::attach(a.clone());
            slow("fast", 1)
        };
        let never = {
            let _token = tracebound::attach(b.clone());
            slow("slow", 60_000)
        };
        tokio::select! {
            won = fast => assert_eq!(won, "fast"),
            _ = never => unreachable!("the slow branch cannot win"),
        }
        a.span().end();
        b.span().end();
    })
    .await;
    let spans = trace.all("slow");
    assert_eq!(spans.len(), 2, "{trace}");
    for span in spans {
        let cancelled = span.events.iter().any(|e| e.name == "cancelled");
        match label_of(span).as_str() {
            "fast" => {
                assert_eq!(trace.parent_of(span).unwrap().name, "select-a");
                assert!(!cancelled, "the winner completed");
            }
            "slow" => {
                assert_eq!(trace.parent_of(span).unwrap().name, "select-b");
                assert!(cancelled, "the loser was dropped unfinished:\n{trace}");
            }
            other => panic!("unexpected label {other}"),
        }
    }
}

#[traced_task]
async fn outer() {
    let inner = tokio::spawn(middle());
    yield_now().await;
    inner.await.unwrap();
}

#[traced_task]
async fn middle() {
    yield_now().await;
    tokio::spawn(work("leaf")).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_spawns_form_one_chain() {
    let root = "parentage-nested";
    // `outer()` must be called inside the root: called outside, it would start its own trace.
    let ((), trace) = traced(root, async { outer().await }).await;
    trace.assert_single_trace();
    trace.assert_parent("outer", root);
    trace.assert_parent("middle", "outer");
    trace.assert_parent("work", "middle");

    let outer_span = trace.span("outer");
    let children: Vec<_> = trace
        .children(outer_span)
        .iter()
        .map(|s| s.name.as_ref())
        .collect();
    assert_eq!(children, ["middle"]);
    let rendered = trace.render();
    let labels: Vec<&str> = rendered
        .lines()
        .map(|line| line.split(" [").next().unwrap_or_default())
        .collect();
    assert_eq!(
        labels,
        [root, "└─ outer", "   └─ middle", "      └─ work"],
        "the waterfall nests each span under its parent:\n{rendered}"
    );
}

#[traced_task]
async fn spawns_plain_async_block() -> SpanId {
    // An `async` block is not a traced function; `tracebound::spawn` carries the context.
    tracebound::spawn(async { Context::current().span().span_context().span_id() })
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_body_runs_with_the_span_as_current_context() {
    let (seen, trace) = traced("parentage-current", async {
        spawns_plain_async_block().await
    })
    .await;
    let span = trace.span("spawns_plain_async_block");
    assert_eq!(
        seen,
        span.span_context.span_id(),
        "the body's current span is its own"
    );
    trace.assert_parent("spawns_plain_async_block", "parentage-current");
}
