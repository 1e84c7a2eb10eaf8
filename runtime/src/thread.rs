//! `std::thread` with the current context carried into the new thread.

/// [`std::thread::spawn`] with the caller's current context attached for the thread's closure.
///
/// ```
/// use opentelemetry::{Context, baggage::BaggageExt, KeyValue};
///
/// let _token = tracebound::attach(Context::new().with_baggage([KeyValue::new("k", "v")]));
/// let n = tracebound::thread::spawn(|| Context::current().baggage().len()).join().unwrap();
/// assert_eq!(n, 1);
/// ```
pub fn spawn<F, T>(f: F) -> std::thread::JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    std::thread::spawn(crate::bind(f))
}
