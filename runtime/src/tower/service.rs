use super::{Relation, ResponseBody, ResponseFuture};
use crate::__private::{SpanKind, start_described, start_remote};
use crate::conventions::{self, Exchange, SCOPE, Side, Target};
use http::{Request, Response};
use std::task::{Context, Poll};
use tower_service::Service;

/// A service whose requests each run in a SERVER span; made by
/// [`ServerLayer`](super::ServerLayer).
#[derive(Clone, Debug)]
pub struct Server<S> {
    inner: S,
    relation: Relation,
}

impl<S> Server<S> {
    pub(crate) fn new(inner: S, relation: Relation) -> Self {
        Server { inner, relation }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The wrapped service, unwrapped.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Server<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: http_body::Body,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        // Described only when a span is built: with no provider, nothing is.
        let mut grpc = None;
        let started = start_remote(
            &SCOPE,
            SpanKind::Server,
            self.relation,
            request.headers(),
            || {
                let described =
                    conventions::server(&request, original_uri(&request), route(&request));
                grpc = described.grpc;
                (described.name, Some(described.attributes))
            },
            false,
        );
        let exchange = Exchange::new(started, Side::Server, request.method(), grpc);
        // What the inner service does before it returns its future runs in the span too.
        let future = {
            let _attached = exchange.attach();
            self.inner.call(request)
        };
        ResponseFuture::new(future, exchange)
    }
}

/// The route the router matched, if it tells.
#[cfg(feature = "axum")]
fn route<B>(request: &Request<B>) -> Option<&str> {
    request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(axum::extract::MatchedPath::as_str)
}

#[cfg(not(feature = "axum"))]
fn route<B>(_request: &Request<B>) -> Option<&str> {
    None
}

/// The URI the client sent: in a router nested under a prefix, axum's `OriginalUri`.
#[cfg(feature = "axum")]
fn original_uri<B>(request: &Request<B>) -> &http::Uri {
    request
        .extensions()
        .get::<axum::extract::OriginalUri>()
        .map_or(request.uri(), |original| &original.0)
}

#[cfg(not(feature = "axum"))]
fn original_uri<B>(request: &Request<B>) -> &http::Uri {
    request.uri()
}

/// A service whose requests each run in a CLIENT span, with its context in their headers; made
/// by [`ClientLayer`](super::ClientLayer).
#[derive(Clone, Debug)]
pub struct Client<S> {
    inner: S,
}

impl<S> Client<S> {
    pub(crate) fn new(inner: S) -> Self {
        Client { inner }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The wrapped service, unwrapped.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Client<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: http_body::Body,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let exchange = start_client(&mut request);
        let future = {
            let _attached = exchange.attach();
            self.inner.call(request)
        };
        ResponseFuture::new(future, exchange)
    }
}

/// Starts the CLIENT span of `request` under the current context and writes its context into
/// the request's headers.
pub(crate) fn start_client<B>(request: &mut Request<B>) -> Exchange {
    let mut grpc = None;
    let started = start_described(&SCOPE, SpanKind::Client, false, || {
        let described = conventions::client(
            request.method(),
            request.uri().path(),
            Target::of(request.uri(), request.headers()),
            request.headers(),
        );
        grpc = described.grpc;
        (described.name, Some(described.attributes))
    });
    let exchange = Exchange::new(started, Side::Client, request.method(), grpc);
    if let Some(cx) = exchange.context() {
        crate::propagation::inject_context(cx, request.headers_mut());
    }
    exchange
}
