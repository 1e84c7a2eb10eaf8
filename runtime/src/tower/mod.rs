//! HTTP and gRPC boundaries as tower layers (feature `tower`): [`ServerLayer`] continues the
//! caller's trace in a SERVER span that the whole handler runs in, [`ClientLayer`] starts a
//! CLIENT span and writes its context into the outgoing headers.
//!
//! Both work for any tower service over `http::Request` / `http::Response`: axum routers and
//! handlers, hyper services and clients, tonic servers and channels.
//!
//! ```
//! # #[cfg(any())] {
//! let app = axum::Router::new()
//!     .route("/orders/{id}", axum::routing::post(place_order))
//!     // `Router::layer` wraps each route, so the span knows the route (`http.route`).
//!     .layer(tracebound::tower::ServerLayer::new());
//!
//! // tonic's channel adds the server's address below the layer: the origin tells it.
//! let channel = tonic::transport::Channel::from_static("http://[::1]:50051").connect_lazy();
//! let origin = "http://[::1]:50051".parse().unwrap();
//! let client = tonic::client::Grpc::with_origin(
//!     tracebound::tower::ClientLayer::new().layer(channel),
//!     origin,
//! );
//! # }
//! ```
//!
//! # The server span
//! - Its parent is the context in the request headers, read with the configured propagator
//!   (a new trace when they hold none, or a malformed one); with
//!   [`.relation(Relation::Link)`](ServerLayer::relation), a new trace linked to it, for
//!   callers you do not trust. The headers' baggage is in the handler's context.
//! - The handler's future, the response body and everything they start run in the span's
//!   context: a `#[traced_task]` called, or a task started with [`spawn`](crate::spawn), by the
//!   handler is the span's child, whatever runtime thread it runs on.
//! - Named `{method} {route}` (`{method}` when no route is known: the `axum` feature reads
//!   axum's `MatchedPath`), with `http.request.method`, `url.path`, `url.query`, `url.scheme`,
//!   `http.route`, `server.address`, `server.port`, `user_agent.original` and
//!   `network.protocol.version` at the start, and `http.response.status_code` at the end; a 5xx
//!   response sets status ERROR and `error.type`.
//! - A gRPC call (`content-type: application/grpc…` on a path `/{package.Service}/{Method}`)
//!   is named `{package.Service}/{Method}`, with `rpc.system = "grpc"`, `rpc.service`,
//!   `rpc.method` and `rpc.grpc.status_code` from the response's trailers; UNKNOWN,
//!   DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE and DATA_LOSS set status ERROR and
//!   `error.type`. A response that is not gRPC makes it the HTTP request it was.
//! - It ends when the response body is over: a streaming body keeps it open until its last
//!   chunk or its trailers, a response without a body (HEAD, 204, 304) ends it at once. If the
//!   connection closes first (the handler's future or the body is dropped), it ends with a
//!   `cancelled` event; if the handler panics, with status ERROR.
//!
//! # The client span
//! A CLIENT span, child of the current context, named `{method}` (a gRPC call as above), with
//! `http.request.method`, `server.address`, `server.port`, `url.full` (without credentials) and
//! `network.protocol.version`; its context and the current baggage are written into the request
//! headers with the configured propagator. A 4xx or 5xx response, any gRPC status but OK, or an
//! error from the inner service sets status ERROR and `error.type`. It ends with the response
//! body, as the server span does.
//!
//! # With tower-http's `TraceLayer`
//! Use one SERVER span per request: either `ServerLayer` added after `TraceLayer`, so outside it
//! (tower-http's `TraceLayer` may stay, with its default spans, for logs: they are not
//! OpenTelemetry spans unless tracing-opentelemetry's layer is installed, and then they are
//! INTERNAL children of the server span), or `TraceLayer` with [`tracing::server_span`](crate::tracing) as its span
//! maker, without `ServerLayer`. Both together give two SERVER spans for one request.

mod body;
mod future;
mod layer;
mod service;

pub use crate::__private::Relation;
pub use body::ResponseBody;
pub use future::ResponseFuture;
pub use layer::{ClientLayer, ServerLayer};
pub use service::{Client, Server};
