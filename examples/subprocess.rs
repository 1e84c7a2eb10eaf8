//! Trace context into a child process: the parent spawns this same program as a worker with
//! `TRACEPARENT`/`BAGGAGE` in its environment; the worker's spans continue the parent's trace.
//! The worker prints its finished spans; the parent merges them with its own and prints one
//! waterfall.
//!
//! `cargo run --example subprocess`

use tracebound::env::Environment;
use tracebound::testing::TraceTree;
use tracebound::{traced_blocking, traced_consumer, traced_task};

const WORKER: &str = "--worker";

// --- Parent --------------------------------------------------------------------------------

#[traced_task(name = "nightly report", kind = server)]
async fn nightly_report() -> String {
    let mut command = tokio::process::Command::new(std::env::current_exe().expect("this program"));
    command.arg(WORKER);
    tracebound::env::inject_into(&mut command); // this span becomes the worker's parent
    let output = command.output().await.expect("the worker runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("span lines")
}

// --- Worker (the child process) ------------------------------------------------------------

#[traced_consumer(carrier = env, kind = server, name = "worker process")]
async fn worker(env: &Environment) {
    let rows = load_rows().await;
    render(rows).await;
}

#[traced_task]
async fn load_rows() -> Vec<u64> {
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    (1..=1000).collect()
}

#[traced_blocking]
fn render(rows: Vec<u64>) -> u64 {
    rows.iter().sum()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let recorder = tracebound::testing::install();
    if std::env::args().any(|a| a == WORKER) {
        worker(tracebound::env::vars()).await;
        print!("{}", recorder.tree().to_lines());
        return;
    }
    let worker_lines = nightly_report().await;
    let mut spans = recorder.spans();
    spans.extend(TraceTree::from_lines(&worker_lines));
    let trace = TraceTree::new(spans);
    println!(
        "parent process {} and its worker child: {} spans, {} trace(s)\n",
        std::process::id(),
        trace.spans().len(),
        trace.trace_ids().len()
    );
    print!("{trace}");
    trace.assert_single_trace();
    trace.assert_parent("worker process", "nightly report");
    trace.assert_parent("render", "worker process");
}
