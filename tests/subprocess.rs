//! A real child process continues the parent's trace through `TRACEPARENT`/`BAGGAGE`: the
//! child's exported span has the parent's span as its parent.

use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::SpanId;
use opentelemetry::{Context, KeyValue};
use tracebound::testing::TraceTree;
use tracebound_tests::{traced, traced_sync};

const CHILD: &str = env!("CARGO_BIN_EXE_traced-child");

/// The child's spans and whether it saw the parent's baggage.
fn child_output(stdout: &[u8]) -> (TraceTree, bool) {
    let text = String::from_utf8_lossy(stdout);
    let baggage = text.lines().any(|l| l == "baggage\ttrue");
    (TraceTree::new(TraceTree::from_lines(&text)), baggage)
}

fn assert_continues(child: &TraceTree, parent: &TraceTree, parent_name: &str) {
    let parent_span = parent.span(parent_name);
    let worker = child.span("child worker");
    assert_eq!(
        worker.parent_span_id,
        parent_span.span_context.span_id(),
        "{child}"
    );
    assert_eq!(
        worker.span_context.trace_id(),
        parent_span.span_context.trace_id()
    );
    child.assert_parent("crunch", "child worker");
}

#[test]
fn a_std_command_child_continues_the_trace_and_gets_the_baggage() {
    let root = "subprocess-std";
    let (output, trace) = traced_sync(root, || {
        let _job =
            tracebound::attach(Context::current().with_baggage([KeyValue::new("job", "42")]));
        let mut command = std::process::Command::new(CHILD);
        tracebound::env::inject_into(&mut command);
        command.output().expect("the child runs")
    });
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let (child, baggage) = child_output(&output.stdout);
    assert_continues(&child, &trace, root);
    assert!(baggage, "BAGGAGE reached the child");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tokio_command_child_continues_the_trace() {
    let root = "subprocess-tokio";
    let (output, trace) = traced(root, async {
        let mut command = tokio::process::Command::new(CHILD);
        tracebound::env::inject_into(&mut command);
        command.output().await.expect("the child runs")
    })
    .await;
    assert!(output.status.success());
    let (child, _) = child_output(&output.stdout);
    assert_continues(&child, &trace, root);
}

#[test]
fn a_child_without_context_starts_its_own_trace() {
    let output = std::process::Command::new(CHILD)
        .env_remove("TRACEPARENT")
        .env("TRACEPARENT", "00-not-a-valid-parent")
        .output()
        .expect("the child runs");
    assert!(output.status.success());
    let (child, baggage) = child_output(&output.stdout);
    assert_eq!(child.span("child worker").parent_span_id, SpanId::INVALID);
    assert!(!baggage);
}
