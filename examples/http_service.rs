//! The order service over HTTP: a storefront calls the order service with a reqwest client
//! (tracebound's middleware: a CLIENT span, `traceparent` in the request); the order service is
//! an axum router behind `tracebound::tower::ServerLayer` (the SERVER span the whole handler runs
//! in); its handler spawns a task, hands work to the blocking pool and calls a payments service
//! over HTTP in turn; the order's status comes back as a streaming body, each chunk made under
//! the same SERVER span.
//!
//! ```text
//! cargo run --example http_service --features http-service
//! ```
//!
//! It prints the trace as a waterfall and checks that it is one trace, span by span.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use futures::StreamExt;
use opentelemetry::trace::SpanKind;
use std::net::SocketAddr;
use std::time::Duration;
use tracebound::setup::{Exporter, Setup};
use tracebound::tower::ServerLayer;
use tracebound::{traced_blocking, traced_task};

type Client = reqwest_middleware::ClientWithMiddleware;

// --- The order service ---------------------------------------------------------------------

#[derive(Clone)]
struct Orders {
    client: Client,
    payments: SocketAddr,
}

/// `POST /orders/{id}`: runs in the request's SERVER span, with no attribute of its own.
async fn create_order(State(orders): State<Orders>, Path(id): Path<u64>) -> String {
    let reserved = tracebound::spawn(reserve_stock(id));
    let receipt = render_receipt(id).await;
    let charged = charge(&orders, id).await;
    let reserved = reserved.await.expect("reserve_stock");
    format!("order {id}: {reserved} reserved, {receipt}, {charged}")
}

#[traced_task]
async fn reserve_stock(id: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(2)).await;
    id % 3 + 1
}

#[traced_blocking]
fn render_receipt(id: u64) -> String {
    std::thread::sleep(Duration::from_millis(1));
    format!("receipt #{id}")
}

#[traced_task(kind = internal)]
async fn charge(orders: &Orders, id: u64) -> String {
    orders
        .client
        .post(format!("http://{}/payments/{id}", orders.payments))
        .send()
        .await
        .and_then(|r| Ok(r.error_for_status()?))
        .map(|_| "paid".to_owned())
        .unwrap_or_else(|e| format!("not paid: {e}"))
}

/// `GET /orders/{id}/status`: a body streamed chunk by chunk, each chunk made when the server
/// writes it, still in the SERVER span.
async fn order_status(Path(id): Path<u64>) -> Body {
    Body::from_stream(
        futures::stream::iter(["received", "packed", "shipped"])
            .then(move |step| async move { Ok::<_, std::io::Error>(status_line(id, step).await) }),
    )
}

#[traced_task]
async fn status_line(id: u64, step: &'static str) -> String {
    tokio::time::sleep(Duration::from_millis(1)).await;
    format!("order {id} {step}\n")
}

fn order_service(orders: Orders) -> axum::Router {
    axum::Router::new()
        .route("/orders/{id}", post(create_order))
        .route("/orders/{id}/status", get(order_status))
        .with_state(orders)
        // `Router::layer` wraps each route, so each span knows its route.
        .layer(ServerLayer::new())
}

// --- The payments service ------------------------------------------------------------------

#[traced_task]
async fn authorize(id: u64) -> &'static str {
    tokio::time::sleep(Duration::from_millis(1)).await;
    if id > 0 { "authorized" } else { "refused" }
}

fn payments_service() -> axum::Router {
    axum::Router::new()
        .route("/payments/{id}", post(|Path(id): Path<u64>| authorize(id)))
        .layer(ServerLayer::new())
}

// --- The storefront ------------------------------------------------------------------------

#[traced_task(name = "checkout")]
async fn checkout(client: &Client, orders: SocketAddr, id: u64) -> (String, String) {
    let placed = client
        .post(format!("http://{orders}/orders/{id}"))
        .send()
        .await
        .expect("the order service answers")
        .text()
        .await
        .expect("a body");
    let status = client
        .get(format!("http://{orders}/orders/{id}/status"))
        .send()
        .await
        .expect("the order service answers")
        .text()
        .await
        .expect("a body");
    (placed, status)
}

async fn serve(app: axum::Router) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    // tracebound: allow(lost) the server's accept loop: each request starts from its own headers in ServerLayer
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(address)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let recorder = tracebound::testing::recorder();
    let mut setup = Setup::new().span_processor(recorder.processor());
    if std::env::var_os("OTEL_TRACES_EXPORTER").is_none() {
        setup = setup.exporter(Exporter::None);
    }
    let telemetry = setup.install()?;

    let client: Client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(tracebound::reqwest::Middleware::new())
        .build();
    let payments = serve(payments_service()).await?;
    let orders = serve(order_service(Orders {
        client: client.clone(),
        payments,
    }))
    .await?;

    let (placed, status) = checkout(&client, orders, 42).await;
    println!("\n{placed}\n{status}");

    // A SERVER span ends once its response body is written, which may be just after the
    // client read it.
    let trace_id = recorder.tree().span("checkout").span_context.trace_id();
    let mut trace = recorder.tree().trace(trace_id);
    for _ in 0..200 {
        let servers = trace
            .spans()
            .iter()
            .filter(|s| s.span_kind == SpanKind::Server)
            .count();
        if servers == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        trace = recorder.tree().trace(trace_id);
    }
    telemetry.flush();
    println!("\none checkout over HTTP: {} spans\n", trace.spans().len());
    print!("{}", trace.render());

    // What the example exists to show, checked.
    assert_eq!(placed, "order 42: 1 reserved, receipt #42, paid");
    assert_eq!(
        status,
        "order 42 received\norder 42 packed\norder 42 shipped\n"
    );
    trace.assert_single_trace();
    let checkout = trace.span("checkout");
    let kind = |k: SpanKind| {
        trace
            .spans()
            .iter()
            .filter(|s| s.span_kind == k)
            .collect::<Vec<_>>()
    };
    let (clients, servers) = (kind(SpanKind::Client), kind(SpanKind::Server));
    assert_eq!(
        (clients.len(), servers.len()),
        (3, 3),
        "{}",
        trace.to_lines()
    );
    for server in &servers {
        let parent = trace.parent_of(server).expect("a parent");
        assert_eq!(
            parent.span_kind,
            SpanKind::Client,
            "{} continues its caller",
            server.name
        );
    }
    let place = trace.span("POST /orders/{id}");
    assert_eq!(
        trace
            .parent_of(trace.parent_of(place).unwrap())
            .unwrap()
            .name,
        checkout.name
    );
    trace.assert_parent("reserve_stock", "POST /orders/{id}");
    trace.assert_parent("render_receipt", "POST /orders/{id}");
    trace.assert_parent("charge", "POST /orders/{id}");
    let pay = trace.span("POST /payments/{id}");
    assert_eq!(
        trace.parent_of(trace.parent_of(pay).unwrap()).unwrap().name,
        "charge"
    );
    trace.assert_parent("authorize", "POST /payments/{id}");
    let status_span = trace.span("GET /orders/{id}/status");
    let lines = trace.all("status_line");
    assert_eq!(lines.len(), 3);
    for line in lines {
        assert_eq!(line.parent_span_id, status_span.span_context.span_id());
        assert!(
            status_span.end_time >= line.end_time,
            "the span outlives its last chunk"
        );
    }
    Ok(())
}
