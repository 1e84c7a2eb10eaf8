//! The HTTP and RPC semantic conventions of the spans that the tower layers and the reqwest
//! middleware start, and how an exchange's response ends its span.
//!
//! A request whose `content-type` is `application/grpc…` is a gRPC call: its span is named
//! `{package.Service}/{Method}` and carries `rpc.*` instead of the HTTP request attributes; its
//! outcome is the `grpc-status` of the response headers (a trailers-only response) or trailers.

// Without `tower`, parts go unused: the server side and the response body's (with `reqwest`),
// all but `protocol` (with `http` alone, for the tracing bridge's `server_span`).
#![cfg_attr(not(feature = "tower"), allow(dead_code))]

use crate::__private::{Scope, Started};
use http::{HeaderMap, Method, StatusCode, Uri, Version};
use opentelemetry::trace::{Status, TraceContextExt};
use opentelemetry::{Context, KeyValue};
use std::borrow::Cow;

/// The instrumentation scope of the exchanges' spans.
pub(crate) static SCOPE: Scope = Scope::new("tracebound", Some(env!("CARGO_PKG_VERSION")));

/// Which end of the exchange a span is: the statuses that are errors differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    Server,
    Client,
}

/// A request's span name and start attributes, and what ending its exchange needs to know.
pub(crate) struct Described {
    pub(crate) name: Cow<'static, str>,
    pub(crate) attributes: Vec<KeyValue>,
    /// For a request that looks like a gRPC call, the name an HTTP request would have: the
    /// span takes it if the response is not a gRPC one (a REST route sent a gRPC content type,
    /// a proxy's error page), so a caller cannot choose span names by sending that type.
    pub(crate) grpc: Option<Cow<'static, str>>,
}

/// An incoming request: `{method} {route}` (`{method}` when the route is unknown), with
/// `http.request.method`, `url.path`, `url.query`, `url.scheme`, `http.route`,
/// `server.address`, `server.port`, `user_agent.original`, `network.protocol.version`; or a gRPC
/// call's `rpc.*`.
/// `uri` is the request's URI as the client sent it (a nested router sees less of its path).
pub(crate) fn server<B>(request: &http::Request<B>, uri: &Uri, route: Option<&str>) -> Described {
    let headers = request.headers();
    let mut attributes = Vec::with_capacity(10);
    let (address, port) = authority(uri, headers);
    if let Some(name) = grpc(uri.path(), headers, &mut attributes) {
        push_server_address(&mut attributes, address, port);
        return Described {
            name,
            attributes,
            grpc: Some(span_name(known_method(request.method()), route)),
        };
    }
    let method = method(request.method(), &mut attributes);
    attributes.push(KeyValue::new("url.path", uri.path().to_owned()));
    if let Some(query) = uri.query() {
        attributes.push(KeyValue::new("url.query", query.to_owned()));
    }
    let scheme = match uri.scheme_str() {
        None | Some("http") => Cow::Borrowed("http"),
        Some("https") => Cow::Borrowed("https"),
        Some(other) => Cow::Owned(other.to_owned()),
    };
    attributes.push(KeyValue::new("url.scheme", scheme));
    if let Some(route) = route {
        attributes.push(KeyValue::new("http.route", route.to_owned()));
    }
    push_server_address(&mut attributes, address, port);
    if let Some(agent) = headers
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
    {
        attributes.push(KeyValue::new("user_agent.original", agent.to_owned()));
    }
    if let Some(version) = protocol(request.version()) {
        attributes.push(KeyValue::new("network.protocol.version", version));
    }
    Described {
        name: span_name(method, route),
        attributes,
        grpc: None,
    }
}

/// `{method} {route}`, `{method}` without a route; the method is `HTTP` when it is not one the
/// conventions know.
fn span_name(method: Option<&'static str>, route: Option<&str>) -> Cow<'static, str> {
    let method = method.unwrap_or("HTTP");
    match route {
        Some(route) => {
            let mut name = String::with_capacity(method.len() + 1 + route.len());
            name.push_str(method);
            name.push(' ');
            name.push_str(route);
            Cow::Owned(name)
        }
        None => Cow::Borrowed(method),
    }
}

/// Where an outgoing request goes: its `server.address`, `server.port` and `url.full`.
pub(crate) struct Target {
    pub(crate) address: Option<String>,
    pub(crate) port: Option<u16>,
    /// The URL without user name and password.
    pub(crate) full: String,
}

impl Target {
    /// The target `uri` names (or, without an authority, the `Host` header).
    pub(crate) fn of(uri: &Uri, headers: &HeaderMap) -> Self {
        let (address, port) = authority(uri, headers);
        Target {
            address,
            port: port.or_else(|| default_port(uri.scheme_str())),
            full: full_url(uri),
        }
    }
}

/// An outgoing request to `path` at `target`: `{method}`, with `http.request.method`,
/// `server.address`, `server.port` and `url.full`; or a gRPC call's `rpc.*`.
pub(crate) fn client(
    method: &Method,
    path: &str,
    target: Target,
    headers: &HeaderMap,
) -> Described {
    let mut attributes = Vec::with_capacity(8);
    if let Some(name) = grpc(path, headers, &mut attributes) {
        push_server_address(&mut attributes, target.address, target.port);
        return Described {
            name,
            attributes,
            grpc: Some(span_name(known_method(method), None)),
        };
    }
    let method = self::method(method, &mut attributes);
    push_server_address(&mut attributes, target.address, target.port);
    attributes.push(KeyValue::new("url.full", target.full));
    // A client's request says HTTP/1.1 whatever the connection negotiates: the version is
    // the response's, recorded with it.
    Described {
        name: span_name(method, None),
        attributes,
        grpc: None,
    }
}

/// The method as the conventions know it: one of the methods of RFC 9110 and PATCH.
fn known_method(method: &Method) -> Option<&'static str> {
    Some(match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => return None,
    })
}

/// `http.request.method`, and the known method: else `_OTHER` with
/// `http.request.method_original`.
fn method(method: &Method, attributes: &mut Vec<KeyValue>) -> Option<&'static str> {
    let known = known_method(method);
    attributes.push(KeyValue::new(
        "http.request.method",
        known.unwrap_or("_OTHER"),
    ));
    if known.is_none() {
        attributes.push(KeyValue::new(
            "http.request.method_original",
            method.as_str().to_owned(),
        ));
    }
    known
}

/// A gRPC call's `rpc.system`, `rpc.service` and `rpc.method`, and its name, when the request
/// is one: `content-type: application/grpc…` and a path `/{service}/{method}`.
fn grpc(
    path: &str,
    headers: &HeaderMap,
    attributes: &mut Vec<KeyValue>,
) -> Option<Cow<'static, str>> {
    let content_type = headers.get(http::header::CONTENT_TYPE)?.as_bytes();
    if !content_type.starts_with(b"application/grpc") {
        return None;
    }
    // `/{package.Service}/{Method}`, names of the protobuf grammar; anything else is taken for
    // an HTTP request.
    let name = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
    };
    let (service, method) = path.strip_prefix('/')?.split_once('/')?;
    if !name(service) || !name(method) {
        return None;
    }
    attributes.push(KeyValue::new("rpc.system", "grpc"));
    attributes.push(KeyValue::new("rpc.service", service.to_owned()));
    attributes.push(KeyValue::new("rpc.method", method.to_owned()));
    let mut full = String::with_capacity(service.len() + 1 + method.len());
    full.push_str(service);
    full.push('/');
    full.push_str(method);
    Some(Cow::Owned(full))
}

fn push_server_address(attributes: &mut Vec<KeyValue>, address: Option<String>, port: Option<u16>) {
    if let Some(address) = address {
        attributes.push(KeyValue::new("server.address", address));
    }
    if let Some(port) = port {
        attributes.push(KeyValue::new("server.port", i64::from(port)));
    }
}

/// The host and port a request names: its URI's authority (an absolute URI, or HTTP/2's
/// `:authority`), else its `Host` header.
fn authority(uri: &Uri, headers: &HeaderMap) -> (Option<String>, Option<u16>) {
    if let Some(host) = uri.host() {
        return (Some(unbracketed(host).to_owned()), uri.port_u16());
    }
    let host = headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .and_then(host_and_port);
    match host {
        Some((host, port)) => (Some(host.to_owned()), port),
        None => (None, None),
    }
}

/// `host` without the brackets around an IPv6 address.
pub(crate) fn unbracketed(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// A `Host` header's host (an IPv6 address without its brackets) and port; `None` if it is not
/// one (empty, or with a path, user info, spaces or a port that is not a number).
fn host_and_port(value: &str) -> Option<(&str, Option<u16>)> {
    if value.is_empty()
        || value
            .bytes()
            .any(|b| matches!(b, b'/' | b'@' | b'?' | b'#' | b' ' | b'\t'))
    {
        return None;
    }
    let (host, port) = match value.strip_prefix('[') {
        Some(bracketed) => {
            let (host, rest) = bracketed.split_once(']')?;
            match rest {
                "" => (host, None),
                _ => (host, Some(rest.strip_prefix(':')?)),
            }
        }
        None => match value.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (value, None),
        },
    };
    if host.is_empty() {
        return None;
    }
    let port = match port {
        Some(port) => Some(port.parse::<u16>().ok()?),
        None => None,
    };
    Some((host, port))
}

fn default_port(scheme: Option<&str>) -> Option<u16> {
    match scheme? {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

/// `uri` without the user name and password its authority may carry.
fn full_url(uri: &Uri) -> String {
    match uri.authority() {
        Some(authority) if authority.as_str().contains('@') => {
            let host = authority.as_str().rsplit_once('@').map_or("", |(_, h)| h);
            let scheme = uri.scheme_str().unwrap_or("http");
            let path = uri.path_and_query().map_or("/", |p| p.as_str());
            format!("{scheme}://REDACTED:REDACTED@{host}{path}")
        }
        _ => uri.to_string(),
    }
}

/// `network.protocol.version` of an HTTP version.
pub(crate) fn protocol(version: Version) -> Option<&'static str> {
    Some(match version {
        Version::HTTP_09 => "0.9",
        Version::HTTP_10 => "1.0",
        Version::HTTP_11 => "1.1",
        Version::HTTP_2 => "2",
        Version::HTTP_3 => "3",
        _ => return None,
    })
}

/// The span of one exchange, from its start until its response is over: its context (the one
/// the exchange runs in) and what ending it needs to know. Dropped while its span is open, it
/// ends the span as cancelled.
#[derive(Debug)]
pub(crate) struct Exchange {
    /// `None` when there is nothing to carry (no provider, no trace).
    cx: Option<Context>,
    /// Whether the exchange owns a recording span it has yet to end.
    live: bool,
    side: Side,
    /// For a request that looked like a gRPC call, the name it takes if the response is not
    /// one; `None` for an HTTP request.
    grpc: Option<Cow<'static, str>>,
    /// A gRPC status was recorded.
    settled: bool,
    /// The response has no body (a HEAD request, a 1xx, 204 or 304 status): dropping it unread
    /// is its end, not a cancellation.
    bodiless: bool,
}

impl Exchange {
    /// The exchange of a request with `method`, whose span was `started`; `grpc` as
    /// [`Described`] says, when a span was built.
    pub(crate) fn new(
        started: Started,
        side: Side,
        method: &Method,
        grpc: Option<Cow<'static, str>>,
    ) -> Self {
        Exchange {
            cx: started.cx,
            live: started.live,
            side,
            grpc,
            settled: false,
            bodiless: *method == Method::HEAD,
        }
    }

    /// The context the exchange runs in.
    pub(crate) fn context(&self) -> Option<&Context> {
        self.cx.as_ref()
    }

    /// Attaches the exchange's context for a poll.
    #[inline]
    pub(crate) fn attach(&self) -> Option<opentelemetry::ContextGuard> {
        self.cx.clone().map(Context::attach)
    }

    fn span(&self) -> Option<opentelemetry::trace::SpanRef<'_>> {
        self.cx.as_ref().filter(|_| self.live).map(|cx| cx.span())
    }

    /// Records the response head: the HTTP status, or a trailers-only gRPC response's status.
    pub(crate) fn respond(&mut self, status: StatusCode, version: Version, headers: &HeaderMap) {
        if status.is_informational()
            || status == StatusCode::NO_CONTENT
            || status == StatusCode::NOT_MODIFIED
        {
            self.bodiless = true;
        }
        if self.grpc.is_some() && !is_grpc_response(headers) {
            // Not a gRPC answer after all: the span is an HTTP request's.
            if let (Some(name), Some(span)) = (self.grpc.take(), self.span()) {
                span.update_name(name);
            }
        }
        let Some(span) = self.span() else { return };
        if self.side == Side::Client
            && let Some(version) = protocol(version)
        {
            span.set_attribute(KeyValue::new("network.protocol.version", version));
        }
        if self.grpc.is_some() {
            self.trailers(headers);
            return;
        }
        span.set_attribute(KeyValue::new(
            "http.response.status_code",
            i64::from(status.as_u16()),
        ));
        let failed = match self.side {
            Side::Server => status.is_server_error(),
            Side::Client => status.is_client_error() || status.is_server_error(),
        };
        if failed {
            span.set_attribute(KeyValue::new("error.type", status.as_str().to_owned()));
            span.set_status(Status::error(""));
        }
    }

    /// Records the `grpc-status` in `trailers` (or in a trailers-only response's headers).
    pub(crate) fn trailers(&mut self, trailers: &HeaderMap) {
        if self.grpc.is_none() || self.settled {
            return;
        }
        let Some(code) = trailers
            .get("grpc-status")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u16>().ok())
        else {
            return;
        };
        self.settled = true;
        let Some(span) = self.span() else { return };
        span.set_attribute(KeyValue::new("rpc.grpc.status_code", i64::from(code)));
        let failed = match self.side {
            // The statuses the RPC conventions name as a server's errors: UNKNOWN,
            // DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS.
            Side::Server => matches!(code, 2 | 4 | 12 | 13 | 14 | 15),
            Side::Client => code != 0,
        };
        if failed {
            span.set_attribute(KeyValue::new("error.type", grpc_code_name(code)));
            let message = trailers
                .get("grpc-message")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            span.set_status(Status::error(percent_decoded(message)));
        }
    }

    /// Marks the exchange failed with `error_type` (an error instead of a response, or a body
    /// that failed), with `message` as the status description.
    pub(crate) fn fail(&mut self, error_type: &'static str, message: impl FnOnce() -> String) {
        if let Some(span) = self.span() {
            span.set_attribute(KeyValue::new("error.type", error_type));
            span.set_status(Status::error(message()));
        }
    }

    /// Ends the span: the exchange is over. A gRPC call over without a status failed, for the
    /// client that waited for one.
    pub(crate) fn end(mut self) {
        if self.grpc.is_some() && !self.settled && self.side == Side::Client {
            self.fail("missing grpc-status", || {
                "the response ended without a grpc-status".to_owned()
            });
        }
        if let Some(span) = self.span() {
            span.end();
        }
        self.live = false;
    }

    /// Ends the span of a response dropped before its end: a response that has no body is
    /// over, any other was cancelled.
    pub(crate) fn dropped(self, over: bool) {
        if over || self.bodiless {
            self.end();
        } else {
            self.cancel();
        }
    }

    /// Ends the span of an exchange dropped before it was over: a connection closed while the
    /// handler ran or the body streamed, a client that stopped waiting; status ERROR if a panic
    /// is unwinding through it.
    fn cancel(mut self) {
        self.cancel_in_place();
    }

    fn cancel_in_place(&mut self) {
        if let Some(span) = self.span() {
            if std::thread::panicking() {
                span.set_attribute(KeyValue::new("error.type", "panic"));
                span.set_status(Status::error("panicked"));
                span.add_event("exception", vec![KeyValue::new("exception.type", "panic")]);
            } else {
                span.add_event("cancelled", Vec::new());
            }
            span.end();
        }
        self.live = false;
    }
}

impl Drop for Exchange {
    fn drop(&mut self) {
        self.cancel_in_place();
    }
}

/// Whether a response is a gRPC one: its content type, or a trailers-only `grpc-status`.
fn is_grpc_response(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"))
        || headers.contains_key("grpc-status")
}

/// The name of a gRPC status code.
fn grpc_code_name(code: u16) -> Cow<'static, str> {
    const NAMES: [&str; 17] = [
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    ];
    match NAMES.get(usize::from(code)) {
        Some(name) => Cow::Borrowed(name),
        None => Cow::Owned(code.to_string()),
    }
}

/// A `grpc-message`, which gRPC percent-encodes; kept as is if it does not decode.
fn percent_decoded(message: &str) -> String {
    let bytes = message.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    let hex = |i: usize| bytes.get(i).and_then(|&b| (b as char).to_digit(16));
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (hex(i + 1), hex(i + 2))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| message.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_attributes_follow_the_conventions() {
        let request = http::Request::post("/orders/7?x=1")
            .header("host", "shop.example:8080")
            .header("user-agent", "curl/8")
            .body(())
            .unwrap();
        let d = server(&request, request.uri(), Some("/orders/{id}"));
        assert_eq!(d.name, "POST /orders/{id}");
        assert!(d.grpc.is_none());
        let get = |k: &str| {
            d.attributes
                .iter()
                .find(|a| a.key.as_str() == k)
                .map(|a| a.value.to_string())
        };
        assert_eq!(get("url.path").as_deref(), Some("/orders/7"));
        assert_eq!(get("url.query").as_deref(), Some("x=1"));
        assert_eq!(get("server.address").as_deref(), Some("shop.example"));
        assert_eq!(get("server.port").as_deref(), Some("8080"));
        assert_eq!(get("http.route").as_deref(), Some("/orders/{id}"));

        let odd = http::Request::builder()
            .method("PURGE")
            .uri("/x")
            .body(())
            .unwrap();
        let d = server(&odd, odd.uri(), None);
        assert_eq!(d.name, "HTTP");
        assert_eq!(server(&odd, odd.uri(), Some("/x")).name, "HTTP /x");

        // A gRPC content type on a path no gRPC method has: an HTTP request.
        for path in [
            "/orders/7/items",
            "/a%20b/c",
            "/shop.Orders/",
            "//Place",
            "/x",
        ] {
            let spoofed = http::Request::post(path)
                .header("content-type", "application/grpc")
                .body(())
                .unwrap();
            let d = server(&spoofed, spoofed.uri(), None);
            assert!(d.grpc.is_none(), "{path}");
            assert_eq!(d.name, "POST", "{path}");
        }
        let ipv6 = http::Request::get("http://[::1]:8080/").body(()).unwrap();
        let d = server(&ipv6, ipv6.uri(), None);
        let address = d
            .attributes
            .iter()
            .find(|a| a.key.as_str() == "server.address")
            .map(|a| a.value.to_string());
        assert_eq!(address.as_deref(), Some("::1"));

        let call = http::Request::post("http://127.0.0.1:50051/shop.Orders/Place")
            .header("content-type", "application/grpc+proto")
            .body(())
            .unwrap();
        let d = client(
            call.method(),
            call.uri().path(),
            Target::of(call.uri(), call.headers()),
            call.headers(),
        );
        assert_eq!(d.name, "shop.Orders/Place");
        assert_eq!(d.grpc.as_deref(), Some("POST"));

        let secret: Uri = "https://me:pw@api.example/v1?q=2".parse().unwrap();
        assert_eq!(
            full_url(&secret),
            "https://REDACTED:REDACTED@api.example/v1?q=2"
        );
    }

    #[test]
    fn host_headers_are_split_or_refused() {
        assert_eq!(
            host_and_port("shop.example:8080"),
            Some(("shop.example", Some(8080)))
        );
        assert_eq!(host_and_port("shop.example"), Some(("shop.example", None)));
        assert_eq!(host_and_port("[::1]:3000"), Some(("::1", Some(3000))));
        assert_eq!(host_and_port("[::1]"), Some(("::1", None)));
        for bad in [
            "", ":80", "a:b", "a:99999", "a/b", "me@a", "[::1", "[::1]x", "a:1:2", "a b",
        ] {
            assert_eq!(host_and_port(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn grpc_messages_are_percent_decoded() {
        assert_eq!(percent_decoded("no%20stock"), "no stock");
        assert_eq!(percent_decoded("100%"), "100%");
        assert_eq!(percent_decoded("%zz"), "%zz");
        assert_eq!(percent_decoded("%ff"), "%ff");
        assert_eq!(percent_decoded("caf%C3%A9"), "café");
        assert_eq!(percent_decoded("%"), "%");
        assert_eq!(percent_decoded("%4"), "%4");
    }
}
