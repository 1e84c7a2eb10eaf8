//! reqwest as an HTTP client (feature `reqwest`): [`Middleware`] for `reqwest-middleware`
//! clients, [`send`] for a bare request, each a CLIENT span with its context in the request
//! headers; and [`inject`], the headers alone, for a request sent inside a span of your own.
//!
//! The CLIENT span is a child of the context current where the request is sent, named
//! `{method}`, with `http.request.method`, `server.address`, `server.port`, `url.full` (without
//! credentials) and `network.protocol.version`, and `http.response.status_code` when the
//! response arrives (where it ends: reqwest's body is read by the caller). A 4xx or 5xx status,
//! or an error (`error.type`: `timeout`, `connect`, … or the error's type) sets status ERROR.
//!
//! ```
//! # #[cfg(any())] {
//! let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .with(tracebound::reqwest::Middleware::new())
//!     .build();
//! let response = client.get("http://127.0.0.1:3000/orders/7").send().await?;
//!
//! // Without reqwest-middleware:
//! let response = tracebound::reqwest::send(reqwest::Client::new().get(url)).await?;
//! # }
//! ```

use crate::__private::{SpanKind, start_described};
use crate::bind::Carried;
use crate::conventions::{self, Exchange, SCOPE, Side, Target, unbracketed};
use http::Extensions;
use reqwest::{Request, RequestBuilder, Response};
use std::future::Future;

/// A `reqwest-middleware` middleware: each request a CLIENT span, its context and the current
/// baggage in the request headers; see the [module documentation](self).
///
/// The span's parent is the context current when the client's `send` future first runs:
/// await it where you are (or move it with [`carry`](crate::carry)), as for any future.
///
/// ```
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(tracebound::reqwest::Middleware::new())
///     .build();
/// # let _ = client;
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Middleware {
    _private: (),
}

impl Middleware {
    /// The conventional client span.
    pub const fn new() -> Self {
        Middleware { _private: () }
    }
}

#[async_trait::async_trait]
impl reqwest_middleware::Middleware for Middleware {
    async fn handle(
        &self,
        mut request: Request,
        extensions: &mut Extensions,
        next: reqwest_middleware::Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let mut open = Open(Some(start(&mut request)));
        let result = open.run(next.run(request, extensions)).await;
        open.finish(result.as_ref().map_err(middleware_error));
        result
    }
}

/// Sends `request` in a CLIENT span, with its context in the request headers; see the
/// [module documentation](self). The span's parent is the context current when `send` is
/// called.
///
/// ```
/// # async fn example() -> reqwest::Result<()> {
/// let response = tracebound::reqwest::send(reqwest::Client::new().get("http://127.0.0.1:9/")).await?;
/// # Ok(()) }
/// ```
pub fn send(request: RequestBuilder) -> impl Future<Output = reqwest::Result<Response>> {
    let (client, request) = request.build_split();
    let started = request.map(|mut request| {
        let exchange = start(&mut request);
        (request, exchange)
    });
    async move {
        let (request, exchange) = started?;
        let mut open = Open(Some(exchange));
        let result = open.run(client.execute(request)).await;
        open.finish(result.as_ref().map_err(reqwest_error));
        result
    }
}

/// Writes the current context (span context and baggage) into the headers of `request`, with
/// the configured propagator: for a request sent inside a span of your own (a
/// `#[traced_task(kind = client)]` function, say).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use opentelemetry::{Context, KeyValue, baggage::BaggageExt};
///
/// let _token = tracebound::attach(Context::new().with_baggage([KeyValue::new("tenant", "acme")]));
/// let request = tracebound::reqwest::inject(reqwest::Client::new().get("http://127.0.0.1:9/"))
///     .build()
///     .unwrap();
/// assert_eq!(request.headers()["baggage"], "tenant=acme");
/// # }
/// ```
pub fn inject(request: RequestBuilder) -> RequestBuilder {
    let mut headers = http::HeaderMap::new();
    crate::propagation::inject(&mut headers);
    if headers.is_empty() {
        request
    } else {
        request.headers(headers)
    }
}

/// Starts the CLIENT span of `request` under the current context and writes its context into
/// the request headers.
fn start(request: &mut Request) -> Exchange {
    let mut grpc = None;
    let started = start_described(&SCOPE, SpanKind::Client, false, || {
        let url = request.url();
        let full = if url.username().is_empty() && url.password().is_none() {
            url.as_str().to_owned()
        } else {
            let mut redacted = url.clone();
            let _ = redacted.set_username("REDACTED");
            let _ = redacted.set_password(Some("REDACTED"));
            redacted.into()
        };
        let target = Target {
            address: url.host_str().map(|host| unbracketed(host).to_owned()),
            port: url.port_or_known_default(),
            full,
        };
        let described =
            conventions::client(request.method(), url.path(), target, request.headers());
        grpc = described.grpc;
        (described.name, Some(described.attributes))
    });
    let exchange = Exchange::new(started, Side::Client, request.method(), grpc);
    if let Some(cx) = exchange.context() {
        crate::propagation::inject_context(cx, request.headers_mut());
    }
    exchange
}

/// `error.type` and the message of a failed request.
fn reqwest_error(error: &reqwest::Error) -> (&'static str, String) {
    let kind = if error.is_timeout() {
        "timeout"
    } else if error.is_connect() {
        "connect"
    } else if error.is_redirect() {
        "redirect"
    } else if error.is_body() {
        "body"
    } else if error.is_decode() {
        "decode"
    } else {
        "reqwest::Error"
    };
    (kind, error.to_string())
}

fn middleware_error(error: &reqwest_middleware::Error) -> (&'static str, String) {
    match error {
        reqwest_middleware::Error::Reqwest(error) => reqwest_error(error),
        reqwest_middleware::Error::Middleware(error) => ("middleware", error.to_string()),
    }
}

/// An exchange under way: ended as cancelled if dropped before it is finished (the
/// exchange's own drop).
struct Open(Option<Exchange>);

impl Open {
    /// Runs `future` in the exchange's context.
    async fn run<F: Future>(&mut self, future: F) -> F::Output {
        match self.0.as_ref().and_then(Exchange::context) {
            Some(cx) => Carried::new(cx.clone(), future).await,
            None => future.await,
        }
    }

    /// Records the response, or the error's type, and ends the span.
    fn finish(&mut self, outcome: Result<&Response, (&'static str, String)>) {
        let Some(mut exchange) = self.0.take() else {
            return;
        };
        match outcome {
            Ok(response) => {
                exchange.respond(response.status(), response.version(), response.headers())
            }
            Err((error_type, message)) => exchange.fail(error_type, || message),
        }
        exchange.end();
    }
}
