use super::ResponseBody;
use crate::conventions::Exchange;
use http::Response;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

pin_project_lite::pin_project! {
    /// The response future of [`Server`](super::Server) and [`Client`](super::Client): polls the
    /// inner service's future in the exchange's context, records the response head, and hands
    /// the span on to the response body.
    ///
    /// Dropped before the response is ready (a connection closed while the handler ran), it
    /// ends the span with a `cancelled` event; unwound by a panic, with status ERROR.
    #[must_use = "futures do nothing unless awaited or spawned"]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        // Dropped while it holds the exchange, it ends the span as cancelled (or panicked).
        exchange: Option<Exchange>,
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(inner: F, exchange: Exchange) -> Self {
        ResponseFuture {
            inner,
            exchange: Some(exchange),
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: http_body::Body,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let poll = {
            let _attached = this.exchange.as_ref().and_then(Exchange::attach);
            this.inner.poll(cx)
        };
        let output = match poll {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(output) => output,
        };
        let mut exchange = this.exchange.take();
        Poll::Ready(match output {
            Ok(response) => {
                if let Some(exchange) = exchange.as_mut() {
                    exchange.respond(response.status(), response.version(), response.headers());
                }
                // A response with nothing to stream is over now.
                if response.body().is_end_stream()
                    && let Some(exchange) = exchange.take()
                {
                    exchange.end();
                }
                Ok(response.map(|body| ResponseBody::new(body, exchange)))
            }
            Err(error) => {
                if let Some(mut exchange) = exchange {
                    let name = std::any::type_name::<E>();
                    exchange.fail(name, || name.to_owned());
                    exchange.end();
                }
                Err(error)
            }
        })
    }
}
