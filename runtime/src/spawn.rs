//! tokio's spawn functions with the current context carried into the task.

use opentelemetry::Context;
use std::future::Future;
use std::pin::Pin;
use std::task::{self, Poll};
use tokio::task::JoinHandle;

/// [`tokio::spawn`] with the caller's current context attached to every poll of the task.
///
/// Futures returned by `#[traced_task]` functions already carry their context; `spawn` is for
/// plain `async` blocks.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use opentelemetry::{Context, baggage::BaggageExt, KeyValue};
///
/// let _token = tracebound::attach(Context::new().with_baggage([KeyValue::new("k", "v")]));
/// let n = tracebound::spawn(async { Context::current().baggage().len() }).await.unwrap();
/// assert_eq!(n, 1);
/// # }
/// ```
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    #[cfg(all(feature = "tokio-hooks", tokio_unstable))]
    let _own = crate::hooks::Own::mark();
    tokio::spawn(Spawned {
        cx: Some(Context::current()),
        future,
    })
}

pin_project_lite::pin_project! {
    /// What [`spawn`] runs: [`carry`](crate::carry) for a `Send` future, without a clone of the
    /// context per poll.
    ///
    /// The context moves onto OpenTelemetry's stack for the poll, and is taken back from there
    /// only if the future is not done: a clone then, as `carry` makes before every poll, but a
    /// task that completes in one poll (most do) clones nothing. What is current once the
    /// future returns from `poll` is the context attached for it: a `Send` future cannot hold a
    /// `ContextGuard` (which is not `Send`) across an await, so every guard it attached during
    /// the poll has been dropped. Only a guard leaked with `mem::forget` would stay current
    /// after the poll, and then it does for all code on that thread, this task included.
    struct Spawned<F> {
        // `None` only during a poll, and after the last one.
        cx: Option<Context>,
        #[pin]
        future: F,
    }
}

impl<F: Future + Send> Future for Spawned<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, task: &mut task::Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let attached = this.cx.take().map(Context::attach);
        let poll = this.future.poll(task);
        if poll.is_pending() && attached.is_some() {
            // `Context::current()`, inlined.
            *this.cx = Some(Context::map_current(Context::clone));
        }
        poll
    }
}

/// [`tokio::task::spawn_local`] with the caller's current context carried into the task.
#[track_caller]
pub fn spawn_local<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    #[cfg(all(feature = "tokio-hooks", tokio_unstable))]
    let _own = crate::hooks::Own::mark();
    tokio::task::spawn_local(crate::carry(future))
}

/// [`tokio::task::spawn_blocking`] with the caller's current context attached while `f` runs,
/// and detached before the pool thread takes its next job.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use opentelemetry::{Context, baggage::BaggageExt, KeyValue};
///
/// let _token = tracebound::attach(Context::new().with_baggage([KeyValue::new("k", "v")]));
/// let n = tracebound::spawn_blocking(|| Context::current().baggage().len()).await.unwrap();
/// assert_eq!(n, 1);
/// # }
/// ```
#[track_caller]
pub fn spawn_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    tokio::task::spawn_blocking(crate::bind(f))
}
