//! One SERVER span per request under tower-http's `TraceLayer`: its tracing span, continued
//! from the request's headers.

use std::time::Duration;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// A SERVER span for an incoming request, for tower-http's `TraceLayer::make_span_with`: a
/// tracing span named `{method} {route}` (`{method}` without a route) with the HTTP semantic
/// conventions' request attributes (`http.request.method`, `url.path`, `url.query`,
/// `url.scheme`, `http.route`, `server.address`, `server.port`, `user_agent.original`,
/// `network.protocol.version`), whose parent is the context in the request's headers, read
/// with the configured propagator (a new trace if they hold none), with the headers' baggage in
/// its context.
///
/// It is the request's one SERVER span: the handler needs no `#[traced_consumer(kind =
/// server)]` (that would start a second one); `#[traced_task]` on it, or on what it calls,
/// gives children of this span. [`server_response`] records the response on it.
///
/// The span is at level `INFO`, target `tracebound`: a filter of your own that leaves it out
/// (a global `EnvFilter` from `RUST_LOG=warn`, say) leaves out the SERVER span, and with it the
/// request's remote parent. [`init_tracing`](crate::init_tracing) always lets `INFO` spans
/// through to OpenTelemetry.
///
/// ```
/// # #[cfg(any())] {
/// use axum::extract::MatchedPath;
/// use tower_http::trace::TraceLayer;
///
/// let app = axum::Router::new()
///     .route("/orders/{id}", axum::routing::post(handle))
///     .layer(
///         TraceLayer::new_for_http()
///             .make_span_with(|request: &axum::http::Request<_>| {
///                 let route = request.extensions().get::<MatchedPath>().map(MatchedPath::as_str);
///                 tracebound::tracing::server_span(request, route)
///             })
///             .on_response(tracebound::tracing::server_response),
///     );
/// # }
/// ```
pub fn server_span<B>(request: &http::Request<B>, route: Option<&str>) -> tracing::Span {
    let method = request.method().as_str();
    let name = match route {
        Some(route) => format!("{method} {route}"),
        None => method.to_owned(),
    };
    let uri = request.uri();
    let scheme = uri.scheme_str().unwrap_or("http");
    let host = match uri.host() {
        Some(host) => Some((host.to_owned(), uri.port_u16())),
        None => host_header(request.headers()),
    };
    let (address, port) = match host {
        Some((address, port)) => (Some(address), port),
        None => (None, None),
    };
    let user_agent = request
        .headers()
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let span = tracing::info_span!(
        target: "tracebound",
        "HTTP request",
        otel.name = name,
        otel.kind = "server",
        http.request.method = method,
        url.path = uri.path(),
        url.query = uri.query(),
        url.scheme = scheme,
        http.route = route,
        server.address = address.as_deref(),
        server.port = port.map(i64::from),
        user_agent.original = user_agent,
        network.protocol.version = crate::conventions::protocol(request.version()),
        http.response.status_code = Empty,
        otel.status_code = Empty,
        error.type = Empty,
    );
    // Without tracing-opentelemetry's layer the span has no OpenTelemetry side to parent.
    let _ = span.set_parent(crate::propagation::extract(request.headers()));
    span
}

/// The `Host` header's host and port.
fn host_header(headers: &http::HeaderMap) -> Option<(String, Option<u16>)> {
    let host = headers.get(http::header::HOST)?.to_str().ok()?;
    let authority: http::uri::Authority = host.parse().ok()?;
    Some((authority.host().to_owned(), authority.port_u16()))
}

/// Records a response on [`server_span`]'s span, for tower-http's `TraceLayer::on_response`:
/// `http.response.status_code`, and for a 5xx status, status ERROR and `error.type` (the status
/// code), as the HTTP semantic conventions ask of a server.
///
/// It takes the place of tower-http's `DefaultOnResponse`, which logs each response with its
/// latency; to keep that line too, call both:
///
/// ```ignore
/// .on_response(|response: &axum::http::Response<_>, latency, span: &tracing::Span| {
///     tracebound::tracing::server_response(response, latency, span);
///     DefaultOnResponse::new().on_response(response, latency, span);
/// })
/// ```
pub fn server_response<B>(response: &http::Response<B>, _latency: Duration, span: &tracing::Span) {
    let status = response.status();
    span.record("http.response.status_code", i64::from(status.as_u16()));
    if status.is_server_error() {
        span.record("otel.status_code", "ERROR");
        span.record("error.type", status.as_str());
    }
}
