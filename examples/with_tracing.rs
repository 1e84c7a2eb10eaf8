//! tracebound in a service that logs (and traces) through `tracing`: an axum endpoint behind
//! tower-http's `TraceLayer` receives an order with a `traceparent`, spawns, blocks, publishes
//! to an in-process queue and logs along the way; a queue consumer processes the order. One
//! call installs everything (`Setup::install_tracing`, what `tracebound::init_tracing()` does
//! with the environment alone): the provider and propagator from `OTEL_*`, an `EnvFilter` from
//! `RUST_LOG`, tracing-opentelemetry on the same provider, tracebound's tracing layer, and log
//! lines with trace and span ids.
//!
//! ```text
//! cargo run --example with_tracing --features with-tracing
//! ```
//!
//! It prints the log lines as they are written, then the trace with each span's log events
//! under it, and checks that it is one trace continuing the caller's, with one SERVER span.

use opentelemetry::trace::{SpanKind, TraceId};
use std::collections::HashMap;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tracebound::setup::{Exporter, Setup};
use tracebound::{traced_blocking, traced_consumer, traced_producer, traced_task};
use tracing::Instrument;

type Headers = HashMap<String, String>;
type Queue = mpsc::UnboundedSender<(Headers, u64)>;

/// The caller's trace, as its `traceparent` names it.
const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

// --- The service ---------------------------------------------------------------------------

/// The handler's work: under the request's SERVER span, which `TraceLayer` started.
#[traced_task]
async fn create_order(id: u64, queue: Queue) -> String {
    tracing::info!(order.id = id, "creating the order");
    let reserved = tokio::spawn(reserve_stock(id))
        .await
        .expect("reserve_stock");
    let receipt = render_receipt(id).await;
    publish(id, &mut Headers::new(), &queue).await;
    format!("order {id}: {reserved} reserved, {receipt}")
}

#[traced_task]
async fn reserve_stock(id: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(2)).await;
    tracing::info!(order.id = id, "stock reserved");
    1
}

#[traced_blocking]
fn render_receipt(id: u64) -> String {
    std::thread::sleep(Duration::from_millis(1));
    tracing::warn!(order.id = id, "receipt printer is slow");
    format!("receipt #{id}")
}

#[traced_producer(carrier = headers, system = "in-process", destination = "orders")]
async fn publish(id: u64, headers: &mut Headers, queue: &Queue) {
    tracing::info!(order.id = id, "publishing");
    let _ = queue.send((headers.clone(), id));
}

#[traced_consumer(carrier = headers, system = "in-process", destination = "orders")]
async fn process(headers: Headers, id: u64) {
    // A tracing span inside a traced body is the traced span's child.
    async { tracing::info!(order.id = id, "emailing the customer") }
        .instrument(tracing::info_span!("send_email"))
        .await;
    tracing::info!(order.id = id, "order processed");
}

fn app(queue: Queue) -> axum::Router {
    use axum::extract::{MatchedPath, Path};
    use tower_http::trace::TraceLayer;

    axum::Router::new()
        .route(
            "/orders/{id}",
            axum::routing::post(move |Path(id): Path<u64>| create_order(id, queue.clone())),
        )
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &axum::http::Request<_>| {
                    let route = request
                        .extensions()
                        .get::<MatchedPath>()
                        .map(MatchedPath::as_str);
                    tracebound::tracing::server_span(request, route)
                })
                .on_response(tracebound::tracing::server_response),
        )
}

// --- The run -------------------------------------------------------------------------------

/// A plain HTTP/1.1 request from a caller whose span is `00f067aa0ba902b7`.
async fn call(address: std::net::SocketAddr) -> String {
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    let request = format!(
        "POST /orders/42 HTTP/1.1\r\nhost: {address}\r\ntraceparent: 00-{CALLER_TRACE}-00f067aa0ba902b7-01\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    response
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let recorder = tracebound::testing::recorder();
    let mut setup = Setup::new().span_processor(recorder.processor());
    if std::env::var_os("OTEL_TRACES_EXPORTER").is_none() {
        setup = setup.exporter(Exporter::None);
    }
    let telemetry = setup.install_tracing()?;

    let (queue, mut orders) = mpsc::unbounded_channel();
    let consumer = tokio::spawn(async move {
        let (headers, id) = orders.recv().await.expect("an order");
        process(headers, id).await;
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    // tracebound: allow(lost) the server's accept loop: each request's trace starts from its headers
    tokio::spawn(async move { axum::serve(listener, app(queue)).await });

    let response = call(address).await;
    consumer.await?;
    // The SERVER span ends once the response body is written.
    let trace_id = TraceId::from_hex(CALLER_TRACE)?;
    let mut trace = recorder.tree().trace(trace_id);
    for _ in 0..100 {
        if trace
            .spans()
            .iter()
            .any(|s| s.span_kind == SpanKind::Server)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        trace = recorder.tree().trace(trace_id);
    }
    telemetry.flush();

    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    println!("\nresponse: {body}");
    println!(
        "\none request through axum, TraceLayer and a queue: {} spans, {} trace(s)\n",
        trace.spans().len(),
        recorder
            .tree()
            .trace_ids()
            .iter()
            .filter(|id| **id == trace_id)
            .count()
    );
    print!("{}", trace.render_with_events());

    // What the example exists to show, checked.
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let servers = trace
        .spans()
        .iter()
        .filter(|s| s.span_kind == SpanKind::Server)
        .count();
    assert_eq!(servers, 1, "one SERVER span for the request");
    trace.assert_single_trace();
    trace.assert_parent("create_order", "POST /orders/{id}");
    trace.assert_parent("reserve_stock", "create_order");
    trace.assert_parent("render_receipt", "create_order");
    trace.assert_parent("send orders", "create_order");
    trace.assert_parent("process orders", "send orders");
    trace.assert_parent("send_email", "process orders");
    for (span, event) in [
        ("create_order", "creating the order"),
        ("reserve_stock", "stock reserved"),
        ("render_receipt", "receipt printer is slow"),
        ("send orders", "publishing"),
        ("process orders", "order processed"),
        ("send_email", "emailing the customer"),
    ] {
        assert!(
            trace.span(span).events.iter().any(|e| e.name == event),
            "{event:?} is an event of {span}"
        );
    }
    Ok(())
}
