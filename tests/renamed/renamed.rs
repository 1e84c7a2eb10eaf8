//! With `tb = { package = "tracebound" }` in Cargo.toml, and no `crate = …`, every attribute
//! expands to paths under `::tb`.

use opentelemetry::trace::TraceContextExt;
use std::collections::HashMap;

#[tb::traced_task(name = "renamed-root")]
async fn root() -> u32 {
    let mut headers = HashMap::new();
    send(&mut headers);
    receive(&headers).await + crunch(2).await
}

#[tb::traced_producer(carrier = headers)]
fn send(headers: &mut HashMap<String, String>) {}

#[tb::traced_consumer(carrier = headers)]
async fn receive(headers: &HashMap<String, String>) -> u32 {
    u32::from(opentelemetry::Context::current().has_active_span())
}

#[tb::traced_blocking]
fn crunch(n: u32) -> u32 {
    n * 2
}

#[tokio::test]
async fn attributes_find_the_renamed_crate() {
    let recorder = tb::testing::install();
    assert_eq!(root().await, 5);
    let trace = recorder.trace_of("renamed-root");
    trace.assert_single_trace();
    trace.assert_parent("send", "renamed-root");
    trace.assert_parent("receive", "send");
    trace.assert_parent("crunch", "renamed-root");
}
