//! `OTEL_PROPAGATORS=b3multi` on both sides of the order-service path: producer and consumer
//! speak B3, and the trace stays one. Alone in its binary: it installs the global propagator.

use std::collections::HashMap;
use tracebound::setup::{Exporter, Setup};
use tracebound::{traced_consumer, traced_producer};
use tracebound_tests::traced;

type Headers = HashMap<String, String>;

#[traced_producer(carrier = headers, system = "rabbitmq", destination = "orders")]
async fn publish(order: u64, headers: &mut Headers) -> u64 {
    order
}

#[traced_consumer(carrier = headers, system = "rabbitmq", destination = "orders")]
async fn process(headers: Headers, order: u64) -> u64 {
    order
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b3_producer_and_consumer_keep_one_trace() {
    let guard = Setup::from_env([("OTEL_PROPAGATORS", "b3multi")])
        .exporter(Exporter::None)
        .install()
        .unwrap();
    // Setup's propagator is used directly, without OpenTelemetry's global lock.
    assert_eq!(tracebound::inspect::propagator_kind(), "installed");
    // The recorder's provider replaces setup's; the B3 propagator stays.
    let root = "b3-roundtrip";
    let ((), trace) = traced(root, async {
        let mut headers = Headers::new();
        let order = publish(7, &mut headers).await;
        let mut keys: Vec<_> = headers.keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["x-b3-sampled", "x-b3-spanid", "x-b3-traceid"]);
        assert_eq!(process(headers, order).await, 7);
    })
    .await;
    trace.assert_single_trace();
    trace.assert_parent("process orders", "send orders");
    drop(guard);
}
