//! Carrying the current context into closures and futures that run elsewhere.

use crate::token::{Suspended, address};
use opentelemetry::Context;
use std::future::Future;
use std::pin::Pin;
use std::task::{self, Poll};

/// Wraps `f` so that it runs with the context that is current **now**, on whatever thread
/// eventually calls it.
///
/// This is the one tool for executors tracebound does not know: `rayon::spawn`, a callback
/// registered with a C library, a hand-rolled thread pool.
///
/// ```
/// use opentelemetry::{Context, baggage::BaggageExt, KeyValue};
///
/// let _token = tracebound::attach(Context::new().with_baggage([KeyValue::new("k", "v")]));
/// let job = tracebound::bind(|| Context::current().baggage().len());
/// assert_eq!(std::thread::spawn(job).join().unwrap(), 1);
/// ```
pub fn bind<F, R>(f: F) -> impl FnOnce() -> R + Send + 'static
where
    F: FnOnce() -> R + Send + 'static,
{
    let cx = Context::current();
    move || crate::with_context(cx, f)
}

/// Like [`bind`], for a closure called many times with one argument, such as
/// `par_iter().for_each(…)` or an event callback.
///
/// ```
/// use opentelemetry::{Context, baggage::BaggageExt, KeyValue};
///
/// let _token = tracebound::attach(Context::new().with_baggage([KeyValue::new("k", "v")]));
/// let f = tracebound::bind_fn(|x: usize| x + Context::current().baggage().len());
/// let sums: Vec<usize> = std::thread::scope(|s| {
///     let handles: Vec<_> = (0..3).map(|i| s.spawn({ let f = &f; move || f(i) })).collect();
///     handles.into_iter().map(|h| h.join().unwrap()).collect()
/// });
/// assert_eq!(sums, [1, 2, 3]);
/// ```
pub fn bind_fn<F, A, R>(f: F) -> impl Fn(A) -> R + Send + Sync
where
    F: Fn(A) -> R + Send + Sync,
{
    let cx = Context::current();
    move |arg| crate::with_context(cx.clone(), || f(arg))
}

/// Wraps a future so that each poll runs with the context that is current now.
///
/// `tokio::spawn(tracebound::carry(fut))` does what [`spawn`](crate::spawn) does (which, for a
/// `Send` future, avoids a clone of the context per poll).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use opentelemetry::{Context, baggage::BaggageExt, KeyValue};
///
/// let fut = {
///     let _token = tracebound::attach(Context::new().with_baggage([KeyValue::new("k", "v")]));
///     tracebound::carry(async { Context::current().baggage().len() })
/// };
/// assert_eq!(fut.await, 1);
/// # }
/// ```
pub fn carry<F: Future>(future: F) -> Carried<F> {
    Carried::new(Context::current(), future)
}

pin_project_lite::pin_project! {
    /// A future that attaches a captured context on every poll; see [`carry`].
    ///
    /// Tokens the future attaches and still holds when it returns `Pending` are detached
    /// until its next poll, as in a traced function.
    #[derive(Debug)]
    #[must_use = "futures do nothing unless awaited or spawned"]
    pub struct Carried<F> {
        cx: Context,
        suspended: Suspended,
        #[pin]
        future: F,
    }

    impl<F> PinnedDrop for Carried<F> {
        fn drop(this: Pin<&mut Self>) {
            this.suspended.on_drop(address(&this));
        }
    }
}

impl<F> Carried<F> {
    pub(crate) fn new(cx: Context, future: F) -> Self {
        Carried {
            cx,
            suspended: Suspended::default(),
            future,
        }
    }
}

impl<F: Future> Future for Carried<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, task: &mut task::Context<'_>) -> Poll<F::Output> {
        let owner = address(&self);
        let this = self.project();
        let _guard = this.cx.clone().attach();
        let mark = this.suspended.resume(owner);
        let poll = this.future.poll(task);
        if poll.is_pending() {
            this.suspended.pending(mark, owner);
        }
        poll
    }
}
