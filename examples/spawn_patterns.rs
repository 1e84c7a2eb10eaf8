//! The same request handler spawning follow-up work twice: once with a plain `async fn` and
//! `tokio::spawn` (the usual broken trace), once with `#[traced_task]` (one waterfall).
//!
//! Runs with no setup: `cargo run --example spawn_patterns`. It records spans in memory and
//! prints each trace as a text waterfall.

use opentelemetry::Context;
use opentelemetry::global;
use opentelemetry::trace::{FutureExt, TraceContextExt, Tracer};
use std::time::Duration;
use tokio::time::sleep;
use tracebound::testing::TraceTree;
use tracebound::traced_task;

// --- Without tracebound: each function starts its span when it is first polled, on whatever
// thread and under whatever context the runtime happens to poll it. That is what
// `#[tracing::instrument]` and every other first-poll macro do.

async fn plain_handle_order(order: u64) {
    in_span_at_first_poll("plain_handle_order", async move {
        // The broken half of the comparison: these two lose their parent on purpose.
        let reserve = tokio::spawn(plain_reserve_stock(order)); // tracebound: allow(lost) shown broken on purpose
        let email = tokio::spawn(plain_send_confirmation(order)); // tracebound: allow(lost) shown broken on purpose
        let _ = tokio::join!(reserve, email);
    })
    .await
}

async fn plain_reserve_stock(order: u64) {
    in_span_at_first_poll(
        "plain_reserve_stock",
        sleep(Duration::from_millis(order % 3 + 1)),
    )
    .await
}

async fn plain_send_confirmation(order: u64) {
    in_span_at_first_poll(
        "plain_send_confirmation",
        sleep(Duration::from_millis(order % 2 + 1)),
    )
    .await
}

/// A span started at first poll, as a first-poll attribute macro would generate.
async fn in_span_at_first_poll<F: std::future::Future>(name: &'static str, body: F) -> F::Output {
    let span = global::tracer("spawn_patterns").start(name);
    body.with_context(Context::current_with_span(span)).await
}

// --- With tracebound: the span starts, and the parent is captured, when the function is
// called, so `tokio::spawn(f(x))` keeps the handler as the parent.

#[traced_task(kind = server, fields(order.id = order))]
async fn handle_order(order: u64) {
    let reserve = tokio::spawn(reserve_stock(order));
    let email = tokio::spawn(send_confirmation(order));
    let _ = tokio::join!(reserve, email);
}

#[traced_task(fields(order.id = order))]
async fn reserve_stock(order: u64) {
    sleep(Duration::from_millis(order % 3 + 1)).await;
}

#[traced_task(fields(order.id = order))]
async fn send_confirmation(order: u64) {
    sleep(Duration::from_millis(order % 2 + 1)).await;
}

fn print_traces(title: &str, tree: &TraceTree) {
    let traces = tree.trace_ids();
    println!(
        "== {title}: {} span(s) in {} trace(s)",
        tree.spans().len(),
        traces.len()
    );
    for trace_id in traces {
        print!("{}", tree.trace(trace_id));
    }
    println!();
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let recorder = tracebound::testing::install();

    plain_handle_order(7).await;
    let broken = recorder.tree();
    print_traces("plain tokio::spawn, spans started at first poll", &broken);
    recorder.reset();

    handle_order(7).await;
    let fixed = recorder.tree();
    print_traces("#[traced_task], spans started at call time", &fixed);

    fixed.assert_single_trace();
    fixed.assert_parent("reserve_stock", "handle_order");
    fixed.assert_parent("send_confirmation", "handle_order");
    assert_eq!(
        broken.trace_ids().len(),
        3,
        "the plain version is three unrelated traces"
    );
    println!(
        "plain: {} traces; tracebound: 1 trace",
        broken.trace_ids().len()
    );
}
