use super::Started;
use crate::token::{Suspended, address};
use opentelemetry::trace::{Status, TraceContextExt};
use opentelemetry::{Context, KeyValue};
use std::future::Future;
use std::pin::Pin;
use std::task::{self, Poll};

pin_project_lite::pin_project! {
    /// The future returned by a traced function: it attaches the call's context on every poll
    /// and, when the call owns a recording span, ends it exactly once, on completion,
    /// cancellation or panic.
    ///
    /// What the body attaches stays inside it: tokens it attached and still holds when it
    /// returns `Pending` are detached until its next poll (see [`token`](crate::token)), so the thread's
    /// context after every poll is the one before it.
    #[must_use = "futures do nothing unless awaited or spawned"]
    pub struct Traced<F, R> {
        // A `Started`, kept as its two fields so that they share one padding with `record`.
        cx: Option<Context>,
        live: bool,
        // Tokens the body attached, detached until its next poll.
        suspended: Suspended,
        // `Some` until the future completes; `R` records the output (an error, say) first.
        record: Option<R>,
        #[pin]
        future: F,
    }

    impl<F, R> PinnedDrop for Traced<F, R> {
        fn drop(this: Pin<&mut Self>) {
            this.suspended.on_drop(address(&this));
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
///
/// The macros name the output type `O` (with `_` for any `impl Trait` in it): the body's
/// `async` block then infers its output from it as an `async fn` body does, so `?` converts
/// errors into the declared type.
#[inline]
pub fn instrument<O, F, R>(started: Started, future: F, record: R) -> Traced<F, R>
where
    F: Future<Output = O>,
    R: FnOnce(&O, &Context),
{
    Traced {
        cx: started.cx,
        live: started.live,
        suspended: Suspended::default(),
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
        let owner = address(&self);
        let this = self.project();
        let _attached = this.cx.clone().map(Context::attach);
        let mark = this.suspended.resume(owner);
        let poll = match this.cx.as_ref().filter(|_| *this.live) {
            // Nothing to end or record: a call that carries nothing, or an unsampled span.
            None => this.future.poll(task),
            Some(cx) => {
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
        };
        if poll.is_pending() {
            this.suspended.pending(mark, owner);
            if let Some(cx) = this.cx.as_ref() {
                check_released(cx);
            }
        }
        poll
    }
}

/// After a body returned `Pending` and its tokens were suspended, the thread's context must be
/// the call's again: anything else is an OpenTelemetry `ContextGuard` the body still holds,
/// which no one but the body can detach. It is reported once.
#[inline]
fn check_released(cx: &Context) {
    let same = Context::map_current(|current| {
        let (current, ours) = (current.span(), cx.span());
        let (current, ours) = (current.span_context(), ours.span_context());
        current.span_id() == ours.span_id() && current.trace_id() == ours.trace_id()
    });
    if !same {
        crate::diagnostics::guard_held_across_await();
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
