use crate::conventions::Exchange;
use http_body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

pin_project_lite::pin_project! {
    /// A response body that keeps its exchange's span open until it is over: polled in the
    /// span's context (a streaming body's producer is the span's child), ended after the last
    /// frame, with the gRPC status of the trailers recorded; dropped before its end (the
    /// connection closed), the span ends with a `cancelled` event.
    pub struct ResponseBody<B> {
        #[pin]
        inner: B,
        exchange: Option<Exchange>,
        // The body said it is over: a server then drops it without polling it again.
        over: AtomicBool,
    }

    impl<B> PinnedDrop for ResponseBody<B> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(exchange) = this.exchange.take() {
                exchange.dropped(this.over.load(Ordering::Relaxed));
            }
        }
    }
}

impl<B> ResponseBody<B> {
    pub(crate) fn new(inner: B, exchange: Option<Exchange>) -> Self {
        ResponseBody {
            inner,
            exchange,
            over: AtomicBool::new(false),
        }
    }

    /// The wrapped body.
    pub fn get_ref(&self) -> &B {
        &self.inner
    }
}

impl<B: std::fmt::Debug> std::fmt::Debug for ResponseBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseBody")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<B: Body> Body for ResponseBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let mut this = self.project();
        let poll = {
            let _attached = this.exchange.as_ref().and_then(Exchange::attach);
            this.inner.as_mut().poll_frame(cx)
        };
        let Some(exchange) = this.exchange.as_mut() else {
            return poll;
        };
        match &poll {
            Poll::Pending => {}
            Poll::Ready(Some(Ok(frame))) => {
                // Trailers are a body's last frame: servers drop it without polling again.
                let trailers = frame.trailers_ref();
                if let Some(trailers) = trailers {
                    exchange.trailers(trailers);
                }
                if (trailers.is_some() || this.inner.is_end_stream())
                    && let Some(exchange) = this.exchange.take()
                {
                    exchange.end();
                }
            }
            Poll::Ready(Some(Err(_))) => {
                let name = std::any::type_name::<B::Error>();
                exchange.fail(name, || format!("the response body failed: {name}"));
                if let Some(exchange) = this.exchange.take() {
                    exchange.end();
                }
            }
            Poll::Ready(None) => {
                if let Some(exchange) = this.exchange.take() {
                    exchange.end();
                }
            }
        }
        poll
    }

    #[inline]
    fn is_end_stream(&self) -> bool {
        let over = self.inner.is_end_stream();
        if over {
            self.over.store(true, Ordering::Relaxed);
        }
        over
    }

    #[inline]
    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
