//! `#[traced_blocking]`, and context across the blocking pool, threads and rayon.

use futures::FutureExt as _;
use opentelemetry::Context;
use opentelemetry::global;
use opentelemetry::trace::{SpanId, Status, TraceContextExt, Tracer};
use rayon::prelude::*;
use std::panic::AssertUnwindSafe;
use tracebound::{bind, bind_fn, traced_blocking};
use tracebound_tests::{span_attached, traced};

fn current_span() -> SpanId {
    Context::current().span().span_context().span_id()
}

#[traced_blocking(fields(bytes = data.len()))]
fn checksum(data: Vec<u8>) -> (u32, SpanId) {
    (data.iter().map(|&b| u32::from(b)).sum(), current_span())
}

#[traced_blocking(executor = thread, name = "checksum-on-thread")]
fn checksum_on_thread(data: Vec<u8>) -> (u32, SpanId) {
    (data.iter().map(|&b| u32::from(b)).sum(), current_span())
}

#[traced_blocking]
fn explode(message: &'static str) {
    panic!("{message}");
}

#[traced_blocking]
fn parse(input: String) -> Result<u32, std::num::ParseIntError> {
    input.parse()
}

#[traced_blocking(err = false)]
fn parse_quietly(input: String) -> Result<u32, std::num::ParseIntError> {
    input.parse()
}

/// A runtime with one blocking thread, so that every blocking job reuses it.
fn one_blocking_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn the_body_runs_in_a_child_span_and_the_pool_thread_is_left_clean() {
    let runtime = one_blocking_thread();
    let root = "blocking-pool";
    let ((seen, seen_on_thread), trace) = runtime.block_on(traced(root, async {
        let (sum, seen) = checksum(vec![1, 2, 3]).await;
        assert_eq!(sum, 6);
        let (sum, seen_on_thread) = checksum_on_thread(vec![4]).await;
        assert_eq!(sum, 4);
        let leaked = tokio::task::spawn_blocking(span_attached).await.unwrap();
        assert!(!leaked, "the pool thread kept a context attached");
        (seen, seen_on_thread)
    }));
    trace.assert_single_trace();
    trace.assert_parent("checksum", root);
    trace.assert_parent("checksum-on-thread", root);
    assert_eq!(
        seen,
        trace.span("checksum").span_context.span_id(),
        "the body's span is its own"
    );
    assert_eq!(
        seen_on_thread,
        trace.span("checksum-on-thread").span_context.span_id()
    );
    let bytes = tracebound_tests::attribute(trace.span("checksum"), "bytes");
    assert_eq!(bytes, Some(&opentelemetry::Value::I64(3)));
}

#[test]
fn a_panic_marks_the_span_and_resumes_on_the_awaiting_task() {
    let runtime = one_blocking_thread();
    let root = "blocking-panic";
    let ((), trace) = runtime.block_on(traced(root, async {
        let caught = AssertUnwindSafe(explode("boom")).catch_unwind().await;
        let payload = caught.expect_err("the panic reaches the awaiting task");
        assert_eq!(
            payload.downcast_ref::<String>().map(String::as_str),
            Some("boom")
        );
        let leaked = tokio::task::spawn_blocking(span_attached).await.unwrap();
        assert!(
            !leaked,
            "the pool thread kept a context attached after the panic"
        );
    }));
    let span = trace.span("explode");
    assert_eq!(span.status, Status::error("panicked"));
    trace.assert_parent("explode", root);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_recorded_unless_err_is_false() {
    let ((), trace) = traced("blocking-errors", async {
        assert!(parse("x".into()).await.is_err());
        assert_eq!(parse("7".into()).await, Ok(7));
        assert!(parse_quietly("x".into()).await.is_err());
    })
    .await;
    let parsed = trace.all("parse");
    assert!(matches!(parsed[0].status, Status::Error { .. }));
    assert_eq!(parsed[1].status, Status::Unset);
    assert_eq!(trace.span("parse_quietly").status, Status::Unset);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_parent_is_captured_at_call_time_and_unpolled_calls_are_cancelled() {
    let root = "blocking-call-time";
    let ((), trace) = traced(root, async {
        let parent = Context::current_with_span(global::tracer("t").start("made-under"));
        let future = {
            let _token = tracebound::attach(parent.clone());
            checksum(vec![9])
        };
        let never_polled = checksum_on_thread(vec![]);
        drop(never_polled);
        assert_eq!(future.await.0, 9);
        parent.span().end();
    })
    .await;
    trace.assert_parent("checksum", "made-under");
    let cancelled = trace.span("checksum-on-thread");
    assert!(cancelled.events.iter().any(|e| e.name == "cancelled"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_blocking_calls_under_different_parents_do_not_cross() {
    let root = "blocking-concurrent";
    let (pairs, trace) = traced(root, async {
        let tasks: Vec<_> = (0..64)
            .map(|i| {
                let parent =
                    Context::current_with_span(global::tracer("t").start(format!("parent-{i}")));
                let _token = tracebound::attach(parent.clone());
                let call = checksum(vec![i as u8]);
                tokio::spawn(async move {
                    let (sum, seen) = call.await;
                    parent.span().end();
                    (sum, seen, parent.span().span_context().span_id())
                })
            })
            .collect();
        let mut pairs = Vec::new();
        for task in tasks {
            pairs.push(task.await.unwrap());
        }
        pairs
    })
    .await;
    let spans = trace.all("checksum");
    assert_eq!(spans.len(), 64);
    for (sum, seen, parent) in pairs {
        let span = spans
            .iter()
            .find(|s| s.span_context.span_id() == seen)
            .expect("its own span");
        assert_eq!(
            span.parent_span_id, parent,
            "call {sum} ran under another call's context"
        );
    }
}

#[test]
fn rayon_spawn_and_par_iter_keep_the_parent_with_bind() {
    let root = "blocking-rayon";
    let ((), trace) = tracebound_tests::traced_sync(root, || {
        let (done, wait) = std::sync::mpsc::channel();
        rayon::spawn(bind(move || {
            global::tracer("t").in_span("rayon-spawn", |_| {});
            done.send(()).unwrap();
        }));
        wait.recv().unwrap();
        (0..100).into_par_iter().for_each(bind_fn(|i: usize| {
            global::tracer("t").in_span(format!("item-{i}"), |_| {});
        }));
        // Without `bind`, rayon's threads have no parent to give.
        (0..8)
            .into_par_iter()
            .for_each(|_| assert!(!span_attached()));
    });
    trace.assert_parent("rayon-spawn", root);
    for i in 0..100 {
        trace.assert_parent(&format!("item-{i}"), root);
    }
}
