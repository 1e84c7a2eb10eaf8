//! Thousands of interleaved traced tasks with nested spawns and yields on a multi-thread
//! runtime: every span's parent is checked against the task that created it.

use opentelemetry::Value;
use opentelemetry_sdk::trace::SpanData;
use std::collections::HashMap;
use tokio::task::yield_now;
use tracebound::traced_task;
use tracebound_tests::{attribute, runtime, span_attached, traced};

const REQUESTS: u64 = 2_000;
const STEPS: u64 = 3;

#[traced_task(kind = server, fields(task = task))]
async fn request(task: u64) {
    let mut steps = Vec::new();
    for step_no in 0..STEPS {
        steps.push(tokio::spawn(step(task, step_no)));
        yield_now().await;
    }
    for handle in steps {
        handle.await.unwrap();
    }
}

#[traced_task(fields(task = task, step = step_no))]
async fn step(task: u64, step_no: u64) {
    yield_now().await;
    if step_no.is_multiple_of(2) {
        tokio::spawn(leaf(task, step_no)).await.unwrap();
    } else {
        leaf(task, step_no).await;
    }
}

#[traced_task(fields(task = task, step = step_no))]
async fn leaf(task: u64, step_no: u64) {
    for _ in 0..(task + step_no) % 4 {
        yield_now().await;
    }
}

fn number(span: &SpanData, key: &str) -> u64 {
    match attribute(span, key) {
        Some(Value::I64(n)) => *n as u64,
        other => panic!("{} has no integer {key}: {other:?}", span.name),
    }
}

#[test]
fn interleaved_tasks_keep_their_parents() {
    let runtime = runtime(4);
    let root = "stress-root";
    let ((), trace) = runtime.block_on(traced(root, async {
        let requests: Vec<_> = (0..REQUESTS)
            .map(|task| tokio::spawn(request(task)))
            .collect();
        for handle in requests {
            handle.await.unwrap();
        }
    }));

    let root_id = trace.span(root).span_context.span_id();
    let requests = trace.all("request");
    let steps = trace.all("step");
    let leaves = trace.all("leaf");
    assert_eq!(requests.len() as u64, REQUESTS);
    assert_eq!(steps.len() as u64, REQUESTS * STEPS);
    assert_eq!(leaves.len() as u64, REQUESTS * STEPS);

    let request_ids: HashMap<u64, _> = requests
        .iter()
        .map(|s| (number(s, "task"), s.span_context.span_id()))
        .collect();
    let step_ids: HashMap<(u64, u64), _> = steps
        .iter()
        .map(|s| {
            (
                (number(s, "task"), number(s, "step")),
                s.span_context.span_id(),
            )
        })
        .collect();

    let mut mismatches = 0;
    mismatches += requests
        .iter()
        .filter(|s| s.parent_span_id != root_id)
        .count();
    mismatches += steps
        .iter()
        .filter(|s| s.parent_span_id != request_ids[&number(s, "task")])
        .count();
    mismatches += leaves
        .iter()
        .filter(|s| s.parent_span_id != step_ids[&(number(s, "task"), number(s, "step"))])
        .count();
    assert_eq!(mismatches, 0, "spans under the wrong parent");
    trace.assert_single_trace();

    // No worker thread and no blocking-pool thread is left with a context attached.
    runtime.block_on(async {
        let probes: Vec<_> = (0..256)
            .map(|_| tokio::spawn(async { span_attached() }))
            .collect();
        for probe in probes {
            assert!(!probe.await.unwrap(), "a worker kept a context attached");
        }
        for _ in 0..16 {
            assert!(!tokio::task::spawn_blocking(span_attached).await.unwrap());
        }
    });
}
