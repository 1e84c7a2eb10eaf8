//! `ServerLayer` on a real tonic server and `ClientLayer` on a real tonic channel, over loopback
//! on a multi-thread runtime: the gRPC conventions, error statuses on both sides, and a
//! bidirectional stream whose messages each carry their own headers, handled one by one under
//! their own consumer span. The service is written against tonic's codec and server traits, so
//! no code generator is needed.

use axum::http;
use bytes::{Buf, BufMut};
use futures::StreamExt;
use opentelemetry::Value;
use opentelemetry::trace::{SpanKind, Status as SpanStatus, TraceId};
use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::{Code, Request, Response, Status, Streaming};
use tower::Layer;
use tracebound::testing::{self, TraceTree};
use tracebound::tower::{ClientLayer, ServerLayer};
use tracebound::{traced_producer, traced_task};
use tracebound_tests::{attribute, eventually, linked, trace_holding, traced};

/// The one message type: headers of its own (for the streaming call) and a body.
#[derive(Clone, Debug, Default)]
struct Message {
    headers: HashMap<String, String>,
    body: String,
}

/// JSON on the wire: `{"headers": {…}, "body": "…"}`.
#[derive(Clone, Copy, Debug, Default)]
struct Json;

impl Codec for Json {
    type Encode = Message;
    type Decode = Message;
    type Encoder = Json;
    type Decoder = Json;
    fn encoder(&mut self) -> Json {
        Json
    }
    fn decoder(&mut self) -> Json {
        Json
    }
}

impl Encoder for Json {
    type Item = Message;
    type Error = Status;
    fn encode(&mut self, item: Message, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        let json = serde_json::json!({ "headers": item.headers, "body": item.body });
        dst.put_slice(json.to_string().as_bytes());
        Ok(())
    }
}

impl Decoder for Json {
    type Item = Message;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Message>, Status> {
        let bytes = src.copy_to_bytes(src.remaining());
        let json: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| Status::internal(e.to_string()))?;
        let headers = json["headers"]
            .as_object()
            .map(|h| {
                h.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        let body = json["body"].as_str().unwrap_or_default().to_owned();
        Ok(Some(Message { headers, body }))
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// The `shop.Orders` service: `Place` (unary), `Fail` and `Find` (unary, failing with INTERNAL
/// and NOT_FOUND) and `Chat` (bidirectional streaming).
#[derive(Clone, Copy)]
struct Orders;

impl tonic::server::NamedService for Orders {
    const NAME: &'static str = "shop.Orders";
}

impl tower::Service<http::Request<tonic::body::Body>> for Orders {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let mut grpc = tonic::server::Grpc::new(Json);
        Box::pin(async move {
            Ok(match request.uri().path() {
                "/shop.Orders/Place" => grpc.unary(tower::service_fn(place), request).await,
                "/shop.Orders/Fail" => {
                    let fail = |_: Request<Message>| async {
                        Err::<Response<Message>, _>(Status::internal("out of stock"))
                    };
                    grpc.unary(tower::service_fn(fail), request).await
                }
                "/shop.Orders/Find" => {
                    let find = |_: Request<Message>| async {
                        Err::<Response<Message>, _>(Status::not_found("no such order"))
                    };
                    grpc.unary(tower::service_fn(find), request).await
                }
                "/shop.Orders/Chat" => grpc.streaming(tower::service_fn(chat), request).await,
                _ => Status::unimplemented("no such method").into_http(),
            })
        })
    }
}

#[traced_task]
async fn store(body: String) -> String {
    tokio::task::yield_now().await;
    format!("stored {body}")
}

async fn place(request: Request<Message>) -> Result<Response<Message>, Status> {
    let body = store(request.into_inner().body).await;
    Ok(Response::new(Message {
        body,
        ..Message::default()
    }))
}

#[traced_task]
async fn answer(body: String) -> String {
    tokio::time::sleep(Duration::from_millis(2)).await;
    format!("ack {body}")
}

type Replies = Pin<Box<dyn futures::Stream<Item = Result<Message, Status>> + Send>>;

/// Each inbound message handled under its own consumer span, continued from its own headers.
async fn chat(request: Request<Streaming<Message>>) -> Result<Response<Replies>, Status> {
    let inbound =
        tracebound::stream::per_message_ok(request.into_inner(), |m: &Message| &m.headers)
            .name("process chat");
    let replies = inbound.then(|message| async move {
        let message = message?;
        let body = message
            .process(|m| async move { answer(m.body).await })
            .await;
        Ok(Message {
            body,
            ..Message::default()
        })
    });
    Ok(Response::new(Box::pin(replies) as Replies))
}

async fn serve() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .layer(ServerLayer::new())
            .add_service(Orders)
            .serve_with_incoming(incoming)
            .await
            .unwrap()
    });
    address
}

type Channel = tracebound::tower::Client<tonic::transport::Channel>;

async fn connect(address: SocketAddr) -> tonic::client::Grpc<Channel> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{address}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    // The channel adds its address below the client layer: the origin tells the layer.
    let origin = format!("http://{address}").parse().unwrap();
    tonic::client::Grpc::with_origin(ClientLayer::new().layer(channel), origin)
}

async fn unary(
    grpc: &mut tonic::client::Grpc<Channel>,
    method: &'static str,
    body: &str,
) -> Result<String, Status> {
    grpc.ready().await.unwrap();
    let message = Message {
        body: body.to_owned(),
        ..Message::default()
    };
    let path = http::uri::PathAndQuery::from_static(method);
    grpc.unary(Request::new(message), path, Json)
        .await
        .map(|r| r.into_inner().body)
}

/// The trace `trace_id` once it holds `count` spans of kind `kind`.
fn trace_with(trace_id: TraceId, kind: SpanKind, count: usize) -> TraceTree {
    trace_holding(trace_id, count, &format!("{kind:?}"), |s| {
        s.span_kind == kind
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unary_call_is_one_trace_with_the_rpc_conventions() {
    testing::install();
    let address = serve().await;
    let mut grpc = connect(address).await;
    let (reply, trace) = traced("unary call", unary(&mut grpc, "/shop.Orders/Place", "book")).await;
    assert_eq!(reply.unwrap(), "stored book");
    let trace = trace_with(
        trace.spans()[0].span_context.trace_id(),
        SpanKind::Server,
        1,
    );
    let root = trace.span("unary call");
    let client = trace
        .spans()
        .iter()
        .find(|s| s.span_kind == SpanKind::Client)
        .unwrap();
    let server = trace
        .spans()
        .iter()
        .find(|s| s.span_kind == SpanKind::Server)
        .unwrap();
    assert_eq!(client.name, "shop.Orders/Place");
    assert_eq!(server.name, "shop.Orders/Place");
    assert_eq!(client.parent_span_id, root.span_context.span_id());
    assert_eq!(server.parent_span_id, client.span_context.span_id());
    assert_eq!(
        trace.span("store").parent_span_id,
        server.span_context.span_id()
    );
    for span in [client, server] {
        for (key, value) in [
            ("rpc.system", Value::from("grpc")),
            ("rpc.service", Value::from("shop.Orders")),
            ("rpc.method", Value::from("Place")),
            ("rpc.grpc.status_code", Value::I64(0)),
            ("server.address", Value::from("127.0.0.1")),
            ("server.port", Value::I64(address.port().into())),
        ] {
            assert_eq!(
                attribute(span, key),
                Some(&value),
                "{:?} {key}",
                span.span_kind
            );
        }
        assert_eq!(span.status, SpanStatus::Unset);
        assert_eq!(attribute(span, "http.request.method"), None);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_error_statuses_are_recorded_on_both_sides() {
    testing::install();
    let address = serve().await;
    let mut grpc = connect(address).await;
    let (codes, trace) = traced("failing calls", async {
        let internal = unary(&mut grpc, "/shop.Orders/Fail", "x")
            .await
            .unwrap_err();
        let not_found = unary(&mut grpc, "/shop.Orders/Find", "x")
            .await
            .unwrap_err();
        let missing = unary(&mut grpc, "/shop.Orders/Nope", "x")
            .await
            .unwrap_err();
        (internal.code(), not_found.code(), missing.code())
    })
    .await;
    assert_eq!(codes, (Code::Internal, Code::NotFound, Code::Unimplemented));
    let trace = trace_with(
        trace.spans()[0].span_context.trace_id(),
        SpanKind::Server,
        3,
    );
    let find = |kind: SpanKind, name: &str| {
        trace
            .spans()
            .iter()
            .find(|s| s.span_kind == kind && s.name == name)
            .unwrap_or_else(|| panic!("no {kind:?} span {name}:\n{}", trace.to_lines()))
    };
    for (name, code, label, server_error) in [
        ("shop.Orders/Fail", 13, "INTERNAL", true),
        ("shop.Orders/Find", 5, "NOT_FOUND", false),
        ("shop.Orders/Nope", 12, "UNIMPLEMENTED", true),
    ] {
        let server = find(SpanKind::Server, name);
        let client = find(SpanKind::Client, name);
        assert_eq!(server.parent_span_id, client.span_context.span_id());
        for span in [server, client] {
            assert_eq!(
                attribute(span, "rpc.grpc.status_code"),
                Some(&Value::I64(code)),
                "{name}"
            );
        }
        // A client sees every status but OK as an error; a server only its own failures.
        assert!(matches!(client.status, SpanStatus::Error { .. }), "{name}");
        assert_eq!(attribute(client, "error.type"), Some(&Value::from(label)));
        assert_eq!(
            matches!(server.status, SpanStatus::Error { .. }),
            server_error,
            "{name}"
        );
        assert_eq!(
            attribute(server, "error.type").is_some(),
            server_error,
            "{name}"
        );
    }
    let failed = find(SpanKind::Server, "shop.Orders/Fail");
    assert_eq!(failed.status, SpanStatus::error("out of stock"));
}

#[traced_producer(carrier = headers, destination = "chat")]
fn stamp(headers: &mut HashMap<String, String>) {}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_message_of_a_bidirectional_stream_continues_its_own_sender() {
    testing::install();
    let address = serve().await;
    let mut grpc = connect(address).await;
    let (replies, trace) = traced("chat call", async {
        // Each message stamped by its own send span, as a relay of many producers would.
        let outbound: Vec<Message> = (0..5)
            .map(|i| {
                let mut headers = HashMap::new();
                stamp(&mut headers);
                Message {
                    headers,
                    body: format!("m{i}"),
                }
            })
            .collect();
        let senders: Vec<String> = outbound
            .iter()
            .map(|m| m.headers["traceparent"].clone())
            .collect();
        grpc.ready().await.unwrap();
        let path = http::uri::PathAndQuery::from_static("/shop.Orders/Chat");
        let request = Request::new(tracebound::stream::carry(futures::stream::iter(outbound)));
        let response = grpc.streaming(request, path, Json).await.unwrap();
        let replies: Vec<String> = response
            .into_inner()
            .map(|r| r.unwrap().body)
            .collect()
            .await;
        (replies, senders)
    })
    .await;
    let (replies, senders) = replies;
    assert_eq!(replies, ["ack m0", "ack m1", "ack m2", "ack m3", "ack m4"]);
    let trace = trace_with(
        trace.spans()[0].span_context.trace_id(),
        SpanKind::Server,
        1,
    );
    let trace = eventually(|| {
        let trace = testing::recorder()
            .tree()
            .trace(trace.spans()[0].span_context.trace_id());
        (trace.all("process chat").len() == 5).then_some(trace)
    })
    .expect("five message spans");
    let server = trace
        .all("shop.Orders/Chat")
        .into_iter()
        .find(|s| s.span_kind == SpanKind::Server)
        .unwrap();
    let processed = trace.all("process chat");
    for (i, sender) in senders.iter().enumerate() {
        let send_span = sender.split('-').nth(2).unwrap();
        let process = processed
            .iter()
            .find(|p| p.parent_span_id.to_string() == send_span)
            .unwrap_or_else(|| {
                panic!(
                    "message {i}: no span under its send span\n{}",
                    trace.to_lines()
                )
            });
        assert_eq!(process.span_kind, SpanKind::Consumer);
        assert!(process.parent_span_is_remote);
        assert_eq!(
            linked(process).last(),
            Some(&server.span_context.span_id()),
            "message {i} links to the call's server span"
        );
        let answered = trace
            .children(process)
            .into_iter()
            .find(|c| c.name == "answer")
            .unwrap_or_else(|| panic!("message {i}: its handler runs in its span"));
        assert!(process.end_time >= answered.end_time);
    }
    assert!(server.end_time >= processed.iter().map(|p| p.end_time).max().unwrap());
    assert_eq!(
        attribute(server, "rpc.grpc.status_code"),
        Some(&Value::I64(0))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_answered_by_something_else_than_grpc_fails_as_http() {
    testing::install();
    // An HTTP server that knows no gRPC: every path is a 404 with a text body.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, axum::Router::new()).await.unwrap() });
    let mut grpc = connect(address).await;
    let (status, trace) = traced("wrong server", unary(&mut grpc, "/shop.Orders/Place", "x")).await;
    assert!(status.is_err());
    let client = trace
        .spans()
        .iter()
        .find(|s| s.span_kind == SpanKind::Client)
        .unwrap_or_else(|| panic!("{}", trace.to_lines()));
    assert_eq!(
        client.name, "POST",
        "named as the HTTP request it turned out to be"
    );
    assert_eq!(
        attribute(client, "http.response.status_code"),
        Some(&Value::I64(404))
    );
    assert!(matches!(client.status, SpanStatus::Error { .. }));
    assert_eq!(attribute(client, "error.type"), Some(&Value::from("404")));
}
