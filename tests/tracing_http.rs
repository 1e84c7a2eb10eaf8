//! HTTP ingress under tower-http's `TraceLayer` with `tracebound::tracing::server_span`: one
//! SERVER span per request, continued from the request's `traceparent`, over a real loopback
//! request to an axum server, in both of tracing-opentelemetry's activation modes.

use axum::extract::{MatchedPath, Path};
use axum::http::StatusCode;
use axum::routing::{get, post};
use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::{SpanId, SpanKind, Status, TraceId};
use opentelemetry::{Context, Value};
use opentelemetry_sdk::trace::SpanData;
use std::time::Duration;
use tower_http::trace::TraceLayer;
use tracebound::testing::{self, TraceTree};
use tracebound::traced_task;
use tracebound_tests::attribute;
use tracebound_tests::with_tracing::{BOTH, label, service};

#[traced_task]
async fn create_order(id: u64) -> String {
    tracing::info!(id, "creating the order");
    let reserved = tokio::spawn(reserve(id)).await.unwrap();
    let tenant = Context::map_current(|cx| {
        cx.baggage()
            .get("tenant")
            .map(|v| v.to_string())
            .unwrap_or_default()
    });
    format!("{reserved} {tenant}")
}

#[traced_task]
async fn reserve(id: u64) -> u64 {
    tokio::task::yield_now().await;
    id
}

async fn orders(Path(id): Path<u64>) -> String {
    create_order(id).await
}

async fn unavailable() -> StatusCode {
    StatusCode::SERVICE_UNAVAILABLE
}

fn app() -> axum::Router {
    axum::Router::new()
        .route("/orders/{id}", post(orders))
        .route("/unavailable", get(unavailable))
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

/// The trace `trace_id`, once it holds a span named `name` (the server span ends when the
/// response body is done, which may be just after the client read it).
fn trace_with(trace_id: TraceId, name: &str) -> TraceTree {
    eventually(|| {
        let trace = testing::recorder().tree().trace(trace_id);
        trace
            .spans()
            .iter()
            .any(|s| s.name == name)
            .then_some(trace)
    })
    .unwrap_or_else(|| panic!("no span {name:?} in trace {trace_id}"))
}

/// What `look` finds within two seconds, looking again every 10 ms.
fn eventually<T>(look: impl Fn() -> Option<T>) -> Option<T> {
    (0..200).find_map(|_| {
        let found = look();
        if found.is_none() {
            std::thread::sleep(Duration::from_millis(10));
        }
        found
    })
}

fn servers(trace: &TraceTree) -> Vec<&SpanData> {
    trace
        .spans()
        .iter()
        .filter(|s| s.span_kind == SpanKind::Server)
        .collect()
}

#[test]
fn one_server_span_per_request_under_trace_layer() {
    for (i, mode) in BOTH.into_iter().enumerate() {
        let service = service(mode);
        let mode = label(mode);
        let trace_id = format!("4bf92f3577b34da6a3ce929d0e0e47{i:02x}");
        let parent = "00f067aa0ba902b7";
        let started = std::time::SystemTime::now();
        let (body, failed, malformed, port) = service.run(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap();
            tokio::spawn(async move { axum::serve(listener, app()).await.unwrap() });
            let client = reqwest::Client::new();
            let body = client
                .post(format!("http://{address}/orders/42?source=test"))
                .header("user-agent", "tracebound-test")
                .header("traceparent", format!("00-{trace_id}-{parent}-01"))
                .header("baggage", "tenant=acme")
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let failed = client
                .get(format!("http://{address}/unavailable"))
                .header("traceparent", format!("00-{trace_id}-{parent}-01"))
                .send()
                .await
                .unwrap()
                .status();
            let malformed = client
                .post(format!("http://{address}/orders/7"))
                .header("traceparent", format!("00-{trace_id}-{parent}-zz"))
                .send()
                .await
                .unwrap();
            (body, failed, malformed.status(), address.port())
        });
        assert_eq!(body, "42 acme", "{mode}: baggage reaches the handler");
        let trace_id = TraceId::from_hex(&trace_id).unwrap();

        let trace = trace_with(trace_id, "GET /unavailable");
        let server = trace
            .spans()
            .iter()
            .find(|s| s.name == "POST /orders/{id}")
            .unwrap_or_else(|| panic!("{mode}: {}", trace.to_lines()));
        let requests = servers(&trace);
        assert_eq!(requests.len(), 2, "{mode}: one SERVER span per request");
        assert_eq!(server.parent_span_id, SpanId::from_hex(parent).unwrap());
        assert!(server.parent_span_is_remote);
        assert_eq!(
            attribute(server, "http.request.method"),
            Some(&Value::from("POST"))
        );
        assert_eq!(
            attribute(server, "http.route"),
            Some(&Value::from("/orders/{id}"))
        );
        assert_eq!(
            attribute(server, "url.path"),
            Some(&Value::from("/orders/42"))
        );
        assert_eq!(attribute(server, "url.scheme"), Some(&Value::from("http")));
        assert_eq!(
            attribute(server, "url.query"),
            Some(&Value::from("source=test"))
        );
        assert_eq!(
            attribute(server, "server.address"),
            Some(&Value::from("127.0.0.1"))
        );
        assert_eq!(
            attribute(server, "server.port"),
            Some(&Value::I64(port.into()))
        );
        assert_eq!(
            attribute(server, "user_agent.original"),
            Some(&Value::from("tracebound-test"))
        );
        assert_eq!(
            attribute(server, "network.protocol.version"),
            Some(&Value::from("1.1"))
        );
        assert_eq!(
            attribute(server, "http.response.status_code"),
            Some(&Value::I64(200))
        );
        assert_eq!(server.status, Status::Unset);
        let handler = trace.span("create_order");
        assert_eq!(
            handler.parent_span_id,
            server.span_context.span_id(),
            "{mode}"
        );
        trace.assert_parent("reserve", "create_order");
        assert!(
            handler
                .events
                .iter()
                .any(|e| e.name == "creating the order"),
            "{mode}: the handler's log event is on its span"
        );

        assert_eq!(failed, 503);
        let failed = trace.span("GET /unavailable");
        assert_eq!(failed.span_kind, SpanKind::Server);
        assert!(matches!(failed.status, Status::Error { .. }), "{mode}");
        assert_eq!(attribute(failed, "error.type"), Some(&Value::from("503")));
        assert_eq!(
            attribute(failed, "http.response.status_code"),
            Some(&Value::I64(503))
        );

        // A malformed traceparent: a new trace, and the request is still served.
        assert_eq!(malformed, 200);
        let root = eventually(|| {
            testing::recorder().tree().spans().iter().find_map(|s| {
                let this = s.name == "POST /orders/{id}"
                    && attribute(s, "url.path") == Some(&Value::from("/orders/7"))
                    && s.start_time > started;
                this.then(|| (s.parent_span_id, s.span_context.trace_id()))
            })
        });
        let (parent, root_trace) = root.unwrap_or_else(|| panic!("{mode}: no span for /orders/7"));
        assert_eq!(
            parent,
            SpanId::INVALID,
            "{mode}: the malformed request's span is a root"
        );
        assert_ne!(root_trace, trace_id);
    }
}

/// tracebound's `ServerLayer` outside tower-http's default `TraceLayer`: the `TraceLayer`'s
/// tracing span becomes an INTERNAL child of the one SERVER span, in both activation modes.
#[test]
fn server_layer_with_the_default_trace_layer_gives_one_server_span() {
    for (i, mode) in BOTH.into_iter().enumerate() {
        let service = service(mode);
        let mode = label(mode);
        let trace_id = format!("5bf92f3577b34da6a3ce929d0e0e47{i:02x}");
        let parent = "00f067aa0ba902b7";
        let body = service.run(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap();
            let app = axum::Router::new()
                .route("/orders/{id}", post(orders))
                .layer(TraceLayer::new_for_http())
                .layer(tracebound::tower::ServerLayer::new());
            tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
            reqwest::Client::new()
                .post(format!("http://{address}/orders/9"))
                .header("traceparent", format!("00-{trace_id}-{parent}-01"))
                .header("baggage", "tenant=acme")
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        });
        assert_eq!(body, "9 acme", "{mode}");
        let trace = trace_with(TraceId::from_hex(&trace_id).unwrap(), "POST /orders/{id}");
        let trace = eventually(|| {
            let trace = testing::recorder()
                .tree()
                .trace(trace.spans()[0].span_context.trace_id());
            trace
                .spans()
                .iter()
                .any(|s| s.name == "request")
                .then_some(trace)
        })
        .unwrap_or_else(|| panic!("{mode}: no TraceLayer span"));
        let requests = servers(&trace);
        assert_eq!(
            requests.len(),
            1,
            "{mode}: one SERVER span\n{}",
            trace.to_lines()
        );
        let server = requests[0];
        assert_eq!(server.name, "POST /orders/{id}");
        assert_eq!(server.parent_span_id, SpanId::from_hex(parent).unwrap());
        let request = trace.span("request");
        assert_eq!(request.span_kind, SpanKind::Internal, "{mode}");
        assert_eq!(
            request.parent_span_id,
            server.span_context.span_id(),
            "{mode}"
        );
        trace.assert_parent("create_order", "request");
        trace.assert_parent("reserve", "create_order");
    }
}
