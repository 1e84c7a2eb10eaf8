//! `tracebound::tower::ServerLayer` on a real axum server and tracebound's reqwest clients, over
//! loopback on a multi-thread runtime: one trace from the client's span through the server span
//! to what the handler spawns, the HTTP conventions, streaming bodies, closed connections and
//! hostile headers, checked span by span.

use axum::body::Body;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode};
use axum::routing::{get, post};
use futures::StreamExt;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::{SpanId, SpanKind, Status, TraceId};
use opentelemetry::{Context, KeyValue, Value};
use opentelemetry_sdk::trace::SpanData;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};
use tracebound::testing::{self, TraceTree};
use tracebound::tower::{Relation, ServerLayer};
use tracebound::traced_task;
use tracebound_tests::{attribute, eventually, trace_holding, traced};

#[traced_task]
async fn create_order(id: u64) -> String {
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

#[traced_task]
async fn audit(id: u64) -> u64 {
    id
}

#[traced_task]
async fn chunk(i: u64) -> String {
    tokio::time::sleep(Duration::from_millis(5)).await;
    format!("chunk {i}\n")
}

async fn orders(Path(id): Path<u64>) -> String {
    // A plain task carried by tracebound::spawn, and a traced call that spawns in turn.
    let audited = tracebound::spawn(async move { audit(id).await });
    let made = create_order(id).await;
    assert_eq!(audited.await.unwrap(), id);
    made
}

async fn failing() -> StatusCode {
    StatusCode::INTERNAL_SERVER_ERROR
}

/// Chunks made lazily while the server writes the body, each by a traced call.
async fn streaming() -> Body {
    Body::from_stream(
        futures::stream::iter(0..4)
            .then(|i| async move { Ok::<_, std::io::Error>(chunk(i).await) }),
    )
}

/// A body that never ends after its first chunk.
async fn endless() -> Body {
    Body::from_stream(futures::stream::unfold(0u64, |i| async move {
        if i > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Some((Ok::<_, std::io::Error>(format!("tick {i}\n")), i + 1))
    }))
}

/// A body that ends with trailers, and says it is over only when polled past them.
async fn with_trailers() -> Body {
    let mut trailers = axum::http::HeaderMap::new();
    trailers.insert("x-checksum", HeaderValue::from_static("abc"));
    let frames = futures::stream::iter([
        Ok::<_, std::io::Error>(http_body::Frame::data(bytes::Bytes::from_static(
            b"payload",
        ))),
        Ok(http_body::Frame::trailers(trailers)),
    ]);
    Body::new(http_body_util::StreamBody::new(frames))
}

async fn no_content() -> StatusCode {
    StatusCode::NO_CONTENT
}

async fn panics() -> &'static str {
    panic!("the handler failed")
}

async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_secs(30)).await;
    "late"
}

fn app(layer: ServerLayer) -> axum::Router {
    axum::Router::new()
        .route("/orders/{id}", post(orders))
        .route("/failing", get(failing))
        .route("/stream", get(streaming))
        .route("/endless", get(endless))
        .route("/slow", get(slow))
        .route("/trailers", get(with_trailers))
        .route("/empty", get(no_content).head(|| async { "not sent" }))
        .route("/panics", get(panics))
        .layer(layer)
}

async fn serve(layer: ServerLayer) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app(layer)).await.unwrap() });
    address
}

fn client() -> reqwest_middleware::ClientWithMiddleware {
    reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(tracebound::reqwest::Middleware::new())
        .build()
}

/// The trace `trace_id` once it holds `count` spans named `name` (the server span ends when
/// the response body is over, which may be after the client read the response).
fn trace_with(trace_id: TraceId, name: &str, count: usize) -> TraceTree {
    trace_holding(trace_id, count, &format!("{name:?}"), |s| s.name == name)
}

/// The one ended span whose attribute `key` is `value`.
fn span_where(key: &str, value: &str, started: SystemTime) -> SpanData {
    eventually(|| {
        testing::recorder().spans().into_iter().find(|s| {
            s.start_time >= started && attribute(s, key) == Some(&Value::from(value.to_owned()))
        })
    })
    .unwrap_or_else(|| panic!("no span with {key} = {value:?}"))
}

fn trace_id_of(trace: &TraceTree) -> TraceId {
    trace.spans()[0].span_context.trace_id()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_from_the_client_through_the_server_to_what_the_handler_spawns() {
    testing::install();
    let address = serve(ServerLayer::new()).await;
    let client = client();
    // Concurrent requests, each under its own root span: none may take another's parent.
    let requests = (0..16u64).map(|id| {
        let client = client.clone();
        tokio::spawn(async move {
            let (body, trace) = traced_request(id, || {
                let client = client.clone();
                async move {
                    let cx = Context::current()
                        .with_baggage([KeyValue::new("tenant", format!("t{id}"))]);
                    let request = client
                        .post(format!("http://{address}/orders/{id}?source=test"))
                        .header("user-agent", "tracebound-test");
                    opentelemetry::trace::FutureExt::with_context(request.send(), cx)
                        .await
                        .unwrap()
                        .text()
                        .await
                        .unwrap()
                }
            })
            .await;
            (id, body, trace)
        })
    });
    for request in futures::future::join_all(requests).await {
        let (id, body, trace) = request.unwrap();
        assert_eq!(
            body,
            format!("{id} t{id}"),
            "the caller's baggage reaches the handler"
        );
        let trace = trace_with(trace_id_of(&trace), "POST /orders/{id}", 1);
        let root = trace.roots()[0];
        let client = trace.span("POST");
        assert_eq!(client.span_kind, SpanKind::Client);
        assert_eq!(client.parent_span_id, root.span_context.span_id());
        let server = trace.span("POST /orders/{id}");
        assert_eq!(server.span_kind, SpanKind::Server);
        assert_eq!(server.parent_span_id, client.span_context.span_id());
        assert!(server.parent_span_is_remote);
        let handler = trace.span("create_order");
        assert_eq!(handler.parent_span_id, server.span_context.span_id());
        trace.assert_parent("reserve", "create_order");
        let audited = trace.span("audit");
        assert_eq!(
            audited.parent_span_id,
            server.span_context.span_id(),
            "a task the handler spawns is the server span's child"
        );
        assert!(server.end_time >= handler.end_time);
        assert!(client.end_time >= server.start_time);

        for (key, value) in [
            ("http.request.method", Value::from("POST")),
            ("http.route", Value::from("/orders/{id}")),
            ("url.path", Value::from(format!("/orders/{id}"))),
            ("url.query", Value::from("source=test")),
            ("url.scheme", Value::from("http")),
            ("server.address", Value::from("127.0.0.1")),
            ("server.port", Value::I64(address.port().into())),
            ("user_agent.original", Value::from("tracebound-test")),
            ("network.protocol.version", Value::from("1.1")),
            ("http.response.status_code", Value::I64(200)),
        ] {
            assert_eq!(attribute(server, key), Some(&value), "server span {key}");
        }
        assert_eq!(server.status, Status::Unset);
        for (key, value) in [
            ("http.request.method", Value::from("POST")),
            ("server.address", Value::from("127.0.0.1")),
            ("server.port", Value::I64(address.port().into())),
            (
                "url.full",
                Value::from(format!("http://{address}/orders/{id}?source=test")),
            ),
            ("http.response.status_code", Value::I64(200)),
        ] {
            assert_eq!(attribute(client, key), Some(&value), "client span {key}");
        }
        assert_eq!(client.status, Status::Unset);
    }
}

/// Runs `request` under a root span named after `id` and returns its output and trace.
async fn traced_request<F, Fut>(id: u64, request: F) -> (String, TraceTree)
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = String>,
{
    let name: &'static str =
        Box::leak(format!("request {id} {:?}", SystemTime::now()).into_boxed_str());
    traced(name, request()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_errors_and_client_errors_only_for_the_client() {
    testing::install();
    let address = serve(ServerLayer::new()).await;
    let client = client();
    let (statuses, trace) = traced("status codes", async {
        let failed = client
            .get(format!("http://{address}/failing"))
            .send()
            .await
            .unwrap();
        let missing = client
            .get(format!("http://{address}/missing"))
            .send()
            .await
            .unwrap();
        (failed.status(), missing.status())
    })
    .await;
    assert_eq!(
        statuses,
        (StatusCode::INTERNAL_SERVER_ERROR, StatusCode::NOT_FOUND)
    );
    let trace = trace_with(trace_id_of(&trace), "GET /failing", 1);
    let trace = trace_with(trace_id_of(&trace), "GET", 3);
    let servers: Vec<_> = trace
        .spans()
        .iter()
        .filter(|s| s.span_kind == SpanKind::Server)
        .collect();
    let clients: Vec<_> = trace
        .spans()
        .iter()
        .filter(|s| s.span_kind == SpanKind::Client)
        .collect();
    assert_eq!(
        (servers.len(), clients.len()),
        (2, 2),
        "{}",
        trace.to_lines()
    );
    let by_code = |spans: &[&SpanData], code: i64| {
        spans
            .iter()
            .copied()
            .find(|s| attribute(s, "http.response.status_code") == Some(&Value::I64(code)))
            .unwrap_or_else(|| panic!("no span with status {code}"))
            .clone()
    };
    let failed = by_code(&servers, 500);
    assert_eq!(failed.name, "GET /failing");
    assert!(matches!(failed.status, Status::Error { .. }));
    assert_eq!(attribute(&failed, "error.type"), Some(&Value::from("500")));
    // No route matched: the span has only the method, and a 404 is no server error.
    let missing = by_code(&servers, 404);
    assert_eq!(missing.name, "GET");
    assert_eq!(attribute(&missing, "http.route"), None);
    assert_eq!(missing.status, Status::Unset);
    assert_eq!(attribute(&missing, "error.type"), None);
    for code in [500, 404] {
        let client = by_code(&clients, code);
        assert!(
            matches!(client.status, Status::Error { .. }),
            "client {code}"
        );
        assert_eq!(
            attribute(&client, "error.type"),
            Some(&Value::from(code.to_string()))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streaming_body_keeps_the_server_span_open_until_its_last_chunk() {
    testing::install();
    let address = serve(ServerLayer::new()).await;
    let (body, trace) = traced("streaming", async {
        client()
            .get(format!("http://{address}/stream"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    })
    .await;
    assert_eq!(body, "chunk 0\nchunk 1\nchunk 2\nchunk 3\n");
    let trace = trace_with(trace_id_of(&trace), "GET /stream", 1);
    let server = trace.span("GET /stream");
    let chunks = trace.all("chunk");
    assert_eq!(chunks.len(), 4, "{}", trace.to_lines());
    for chunk in &chunks {
        assert_eq!(
            chunk.parent_span_id,
            server.span_context.span_id(),
            "a chunk made while the body streams is the server span's child"
        );
        assert!(
            server.end_time >= chunk.end_time,
            "the server span ends after the last chunk"
        );
    }
    assert!(!server.events.iter().any(|e| e.name == "cancelled"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_connection_ends_the_server_span_as_cancelled() {
    testing::install();
    let address = serve(ServerLayer::new()).await;
    let started = SystemTime::now();
    // The client gives up while the handler runs …
    let slow = reqwest::Client::new()
        .get(format!("http://{address}/slow"))
        .timeout(Duration::from_millis(200))
        .send()
        .await;
    assert!(slow.unwrap_err().is_timeout());
    // … and while the body streams.
    let mut endless = reqwest::Client::new()
        .get(format!("http://{address}/endless"))
        .send()
        .await
        .unwrap();
    assert_eq!(endless.chunk().await.unwrap().unwrap(), "tick 0\n");
    drop(endless);
    for path in ["/slow", "/endless"] {
        let server = span_where("url.path", path, started);
        assert!(
            server.events.iter().any(|e| e.name == "cancelled"),
            "{path}: {:?}",
            server.events
        );
        assert_eq!(server.span_kind, SpanKind::Server);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_headers_start_a_new_trace_and_the_request_is_served() {
    testing::install();
    let address = serve(ServerLayer::new()).await;
    let valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let oversized = format!("00-{}-00f067aa0ba902b7-01", "4".repeat(20_000));
    let cases: Vec<(&str, Vec<(&str, HeaderValue)>)> = vec![
        (
            "malformed",
            vec![("traceparent", HeaderValue::from_static("00-zz-zz-01"))],
        ),
        (
            "oversized",
            vec![("traceparent", HeaderValue::from_str(&oversized).unwrap())],
        ),
        (
            "not-utf8",
            vec![(
                "traceparent",
                HeaderValue::from_bytes(b"00-\xff\xfe-01").unwrap(),
            )],
        ),
        (
            "duplicated",
            vec![
                ("traceparent", HeaderValue::from_static(valid)),
                (
                    "traceparent",
                    HeaderValue::from_static(
                        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                    ),
                ),
            ],
        ),
        (
            "hostile-baggage",
            vec![
                (
                    "traceparent",
                    HeaderValue::from_static(
                        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                    ),
                ),
                (
                    "baggage",
                    HeaderValue::from_str(&"k=v,".repeat(3000)).unwrap(),
                ),
            ],
        ),
    ];
    let started = SystemTime::now();
    let client = reqwest::Client::new();
    for (case, headers) in &cases {
        let mut request = client.post(format!("http://{address}/orders/1?case={case}"));
        for (name, value) in headers {
            request = request.header(*name, value.clone());
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{case}: still served");
    }
    for (case, _) in &cases {
        let server = span_where("url.query", &format!("case={case}"), started);
        assert_eq!(server.parent_span_id, SpanId::INVALID, "{case}: a new root");
        assert!(server.links.is_empty(), "{case}");
        for known in [
            "4bf92f3577b34da6a3ce929d0e0e4736",
            "0af7651916cd43dd8448eb211c80319c",
        ] {
            assert_ne!(
                server.span_context.trace_id(),
                TraceId::from_hex(known).unwrap(),
                "{case}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relation_link_starts_a_new_trace_linked_to_the_caller_with_its_baggage() {
    testing::install();
    let address = serve(ServerLayer::new().relation(Relation::Link)).await;
    let caller = "4bf92f3577b34da6a3ce929d0e0e4736";
    let response = reqwest::Client::new()
        .post(format!("http://{address}/orders/3?case=link"))
        .header("traceparent", format!("00-{caller}-00f067aa0ba902b7-01"))
        .header("baggage", "tenant=untrusted")
        .send()
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), "3 untrusted");
    let server = span_where("url.query", "case=link", SystemTime::UNIX_EPOCH);
    assert_eq!(server.parent_span_id, SpanId::INVALID);
    assert_ne!(
        server.span_context.trace_id(),
        TraceId::from_hex(caller).unwrap()
    );
    assert_eq!(server.links.len(), 1);
    assert_eq!(
        server.links[0].span_context.trace_id(),
        TraceId::from_hex(caller).unwrap()
    );
    assert_eq!(
        server.links[0].span_context.span_id(),
        SpanId::from_hex("00f067aa0ba902b7").unwrap()
    );
    let trace = trace_with(server.span_context.trace_id(), "create_order", 1);
    trace.assert_parent("create_order", "POST /orders/{id}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_and_inject_for_a_bare_reqwest_request() {
    testing::install();
    let address = serve(ServerLayer::new()).await;
    let (bodies, trace) = traced("bare reqwest", async {
        let client = reqwest::Client::new();
        let sent = tracebound::reqwest::send(client.post(format!("http://{address}/orders/5")))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let injected =
            tracebound::reqwest::inject(client.post(format!("http://{address}/orders/6")))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
        (sent, injected)
    })
    .await;
    assert_eq!(bodies, ("5 ".to_owned(), "6 ".to_owned()));
    let trace = trace_with(trace_id_of(&trace), "POST /orders/{id}", 2);
    let root = trace.span("bare reqwest");
    let client = trace.span("POST");
    assert_eq!(client.parent_span_id, root.span_context.span_id());
    let servers = trace.all("POST /orders/{id}");
    let parents: Vec<_> = servers.iter().map(|s| s.parent_span_id).collect();
    assert!(
        parents.contains(&client.span_context.span_id()),
        "send: the server's parent is the CLIENT span"
    );
    assert!(
        parents.contains(&root.span_context.span_id()),
        "inject: the server's parent is the current span"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_error_ends_the_client_span_as_failed() {
    testing::install();
    // Nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = closed.local_addr().unwrap();
    drop(closed);
    let (error, trace) = traced("refused", async {
        client()
            .get(format!("http://{address}/"))
            .send()
            .await
            .unwrap_err()
            .to_string()
    })
    .await;
    assert!(!error.is_empty());
    let client = trace.span("GET");
    assert_eq!(client.span_kind, SpanKind::Client);
    assert!(matches!(client.status, Status::Error { .. }));
    assert_eq!(
        attribute(client, "error.type"),
        Some(&Value::from("connect"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_layer_on_a_hyper_client_ends_its_span_with_the_body() {
    use http_body_util::{BodyExt, Empty};
    use tower::{Layer, Service, ServiceExt};

    testing::install();
    let address = serve(ServerLayer::new()).await;
    let hyper = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Empty<bytes::Bytes>>();
    let mut client = tracebound::tower::ClientLayer::new().layer(hyper);
    let (body, trace) = traced("hyper client", async {
        let request = axum::http::Request::get(format!("http://user:secret@{address}/stream?x=1"))
            .body(Empty::new())
            .unwrap();
        let response = client.ready().await.unwrap().call(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        // The response is here, its body not yet read: the client span is still open.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let open = !testing::recorder().spans().iter().any(|s| {
            s.span_kind == SpanKind::Client
                && s.name == "GET"
                && attribute(s, "url.full").is_some_and(|u| u.to_string().contains("/stream?x=1"))
        });
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (String::from_utf8(body.to_vec()).unwrap(), open)
    })
    .await;
    let (body, open_until_read) = body;
    assert_eq!(body, "chunk 0\nchunk 1\nchunk 2\nchunk 3\n");
    assert!(
        open_until_read,
        "the client span ends with the body, not with the head"
    );
    let trace = trace_with(trace_id_of(&trace), "GET /stream", 1);
    let client = trace.span("GET");
    assert_eq!(client.span_kind, SpanKind::Client);
    assert_eq!(
        client.parent_span_id,
        trace.span("hyper client").span_context.span_id()
    );
    assert_eq!(
        attribute(client, "url.full"),
        Some(&Value::from(format!(
            "http://REDACTED:REDACTED@{address}/stream?x=1"
        ))),
        "credentials never reach the span"
    );
    assert_eq!(
        attribute(client, "http.response.status_code"),
        Some(&Value::I64(200))
    );
    let server = trace.span("GET /stream");
    assert_eq!(server.parent_span_id, client.span_context.span_id());
    assert!(client.end_time >= server.end_time, "{}", trace.to_lines());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_without_a_body_and_bodies_with_trailers_end_their_span_normally() {
    testing::install();
    let address = serve(ServerLayer::new()).await;
    let started = SystemTime::now();
    let client = reqwest::Client::new();
    let head = client
        .head(format!("http://{address}/empty?case=head"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    let empty = client
        .get(format!("http://{address}/empty?case=204"))
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), StatusCode::NO_CONTENT);
    let trailed = client
        .get(format!("http://{address}/trailers?case=trailers"))
        .send()
        .await
        .unwrap();
    assert_eq!(trailed.text().await.unwrap(), "payload");
    for (case, status) in [("head", 200), ("204", 204), ("trailers", 200)] {
        let server = span_where("url.query", &format!("case={case}"), started);
        assert!(
            !server.events.iter().any(|e| e.name == "cancelled"),
            "{case}: over, not cancelled: {:?}",
            server.events
        );
        assert_eq!(
            attribute(&server, "http.response.status_code"),
            Some(&Value::I64(status)),
            "{case}"
        );
        assert_eq!(server.status, Status::Unset, "{case}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_that_panics_ends_its_span_as_failed() {
    testing::install();
    let address = serve(ServerLayer::new()).await;
    let started = SystemTime::now();
    // The connection closes without a response.
    let failed = reqwest::Client::new()
        .get(format!("http://{address}/panics?case=panic"))
        .send()
        .await;
    assert!(failed.is_err());
    let server = span_where("url.query", "case=panic", started);
    assert!(
        matches!(server.status, Status::Error { .. }),
        "{:?}",
        server.status
    );
    assert_eq!(
        attribute(&server, "error.type"),
        Some(&Value::from("panic"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grpc_content_type_on_a_rest_route_keeps_the_http_conventions() {
    testing::install();
    let address = serve(ServerLayer::new()).await;
    let started = SystemTime::now();
    // `/orders/8` could be a gRPC method's path: the span starts as one, and becomes the HTTP
    // request it is when the answer is not gRPC. A caller cannot name spans this way.
    let response = reqwest::Client::new()
        .post(format!("http://{address}/orders/8"))
        .header("content-type", "application/grpc")
        .send()
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), "8 ");
    let server = eventually(|| {
        testing::recorder().spans().into_iter().find(|s| {
            s.start_time >= started
                && s.span_kind == SpanKind::Server
                && attribute(s, "rpc.method") == Some(&Value::from("8"))
        })
    })
    .expect("the server span");
    assert_eq!(server.name, "POST /orders/{id}");
    assert_eq!(
        attribute(&server, "http.response.status_code"),
        Some(&Value::I64(200))
    );
    assert_eq!(attribute(&server, "rpc.grpc.status_code"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_layer_error_ends_the_client_span_as_failed() {
    use http_body_util::Empty;
    use tower::{Layer, Service, ServiceExt};

    testing::install();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = closed.local_addr().unwrap();
    drop(closed);
    let hyper = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Empty<bytes::Bytes>>();
    let mut client = tracebound::tower::ClientLayer::new().layer(hyper);
    let (failed, trace) = traced("hyper refused", async {
        let request = axum::http::Request::delete(format!("http://{address}/orders/1"))
            .body(Empty::new())
            .unwrap();
        client.ready().await.unwrap().call(request).await.is_err()
    })
    .await;
    assert!(failed);
    let client = trace.span("DELETE");
    assert_eq!(client.span_kind, SpanKind::Client);
    assert!(matches!(client.status, Status::Error { .. }));
    assert!(attribute(client, "error.type").is_some());
    assert!(!client.events.iter().any(|e| e.name == "cancelled"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nested_router_records_the_path_the_client_sent() {
    testing::install();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = axum::Router::new().nest("/api", app(ServerLayer::new()));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let started = SystemTime::now();
    let body = reqwest::Client::new()
        .post(format!("http://{address}/api/orders/5?case=nested"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "5 ");
    let server = span_where("url.query", "case=nested", started);
    assert_eq!(server.name, "POST /api/orders/{id}");
    assert_eq!(
        attribute(&server, "url.path"),
        Some(&Value::from("/api/orders/5"))
    );
    assert_eq!(
        attribute(&server, "http.route"),
        Some(&Value::from("/api/orders/{id}"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_served_inside_another_span_is_not_linked_to_it() {
    use tower::ServiceExt;

    testing::install();
    let caller = "6bf92f3577b34da6a3ce929d0e0e4736";
    let (status, _) = traced("ambient span", async {
        // Served in process, while the test's own span is current.
        let request = axum::http::Request::post("/orders/4?case=ambient")
            .header("traceparent", format!("00-{caller}-00f067aa0ba902b7-01"))
            .body(Body::empty())
            .unwrap();
        app(ServerLayer::new())
            .oneshot(request)
            .await
            .unwrap()
            .status()
    })
    .await;
    assert_eq!(status, StatusCode::OK);
    let server = span_where("url.query", "case=ambient", SystemTime::UNIX_EPOCH);
    assert_eq!(
        server.span_context.trace_id(),
        TraceId::from_hex(caller).unwrap()
    );
    assert_eq!(
        server.parent_span_id,
        SpanId::from_hex("00f067aa0ba902b7").unwrap()
    );
    assert!(
        server.links.is_empty(),
        "HTTP server spans have no messaging links: {:?}",
        server.links
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_url_too_long_for_http_is_still_recorded_whole() {
    testing::install();
    let path = "a".repeat(70_000);
    let url = format!("http://127.0.0.1:9/{path}");
    let (failed, trace) = traced("long url", async {
        tracebound::reqwest::send(reqwest::Client::new().get(&url))
            .await
            .is_err()
    })
    .await;
    assert!(failed, "http refuses a URI that long");
    let client = trace.span("GET");
    assert_eq!(
        attribute(client, "url.full"),
        Some(&Value::from(url.clone()))
    );
    assert_eq!(
        attribute(client, "server.address"),
        Some(&Value::from("127.0.0.1"))
    );
    assert_eq!(attribute(client, "server.port"), Some(&Value::I64(9)));
    assert!(matches!(client.status, Status::Error { .. }));
}
