//! tokio's spawn functions with the current context carried into the task.

use std::future::Future;
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
    tokio::spawn(crate::carry(future))
}

/// [`tokio::task::spawn_local`] with the caller's current context carried into the task.
#[track_caller]
pub fn spawn_local<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
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
