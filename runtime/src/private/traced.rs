use super::Started;
use opentelemetry::trace::{Status, TraceContextExt};
use opentelemetry::{Context, KeyValue};
use std::future::Future;
use std::pin::Pin;
use std::task::{self, Poll};

pin_project_lite::pin_project! {
    /// The future returned by a traced function: it attaches the call's context on every poll
    /// and, when the call owns a recording span, ends it exactly once, on completion,
    /// cancellation or panic.
    #[must_use = "futures do nothing unless awaited or spawned"]
    pub struct Traced<F, R> {
        // A `Started`, kept as its two fields so that they share one padding with `record`.
        cx: Option<Context>,
        live: bool,
        // `Some` until the future completes; `R` records the output (an error, say) first.
        record: Option<R>,
        #[pin]
        future: F,
    }

    impl<F, R> PinnedDrop for Traced<F, R> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if *this.live
                && this.record.take().is_some()
                && let Some(cx) = this.cx.as_ref()
            {
                end_cancelled(cx);
            }
        }
    }
}

/// Wraps the body's future so that it runs inside the call's context; `record` sees the output
/// before the span ends.
#[inline]
pub fn instrument<F, R>(started: Started, future: F, record: R) -> Traced<F, R>
where
    F: Future,
    R: FnOnce(&F::Output, &Context),
{
    Traced {
        cx: started.cx,
        live: started.live,
        record: Some(record),
        future,
    }
}

impl<F, R> Future for Traced<F, R>
where
    F: Future,
    R: FnOnce(&F::Output, &Context),
{
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, task: &mut task::Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _attached = this.cx.clone().map(Context::attach);
        let Some(cx) = this.cx.as_ref().filter(|_| *this.live) else {
            // Nothing to end or record: a call that carries nothing, or an unsampled span.
            return this.future.poll(task);
        };
        let mut unwind = OnUnwind {
            cx,
            record: this.record,
            armed: true,
        };
        let poll = this.future.poll(task);
        unwind.armed = false;
        if let Poll::Ready(output) = &poll
            && let Some(record) = unwind.record.take()
        {
            record(output, cx);
            cx.span().end();
        }
        poll
    }
}

/// Ends the span as failed when the body panics inside `poll`; the panic keeps unwinding.
struct OnUnwind<'a, R> {
    /// The context holding the call's recording span.
    cx: &'a Context,
    record: &'a mut Option<R>,
    armed: bool,
}

impl<R> Drop for OnUnwind<'_, R> {
    fn drop(&mut self) {
        if self.armed && self.record.take().is_some() {
            end_panicked(self.cx);
        }
    }
}

/// Ends the span in `cx` of a call dropped before its body completed. Out of line, so that the
/// code dropping every call does not carry it.
#[cold]
#[inline(never)]
fn end_cancelled(cx: &Context) {
    let span = cx.span();
    span.add_event("cancelled", Vec::new());
    span.end();
}

/// Ends the span in `cx` as failed by a panic.
pub(crate) fn end_panicked(cx: &Context) {
    let span = cx.span();
    span.set_status(Status::error("panicked"));
    span.set_attribute(KeyValue::new("error.type", "panic"));
    span.add_event(
        "exception",
        vec![
            KeyValue::new("exception.type", "panic"),
            KeyValue::new("exception.message", "the traced function panicked"),
        ],
    );
    span.end();
}
