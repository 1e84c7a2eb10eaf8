//! Attaching a [`Context`] to the current thread, with the detach tied to a value.

use opentelemetry::{Context, ContextGuard};
use std::marker::PhantomData;

/// Proof that a [`Context`] is attached to the current thread.
///
/// Dropping the token (or calling [`detach`](ContextToken::detach)) restores the context that was
/// current before [`attach`]. The token cannot leave its thread, cannot be detached twice, and
/// a token that is never bound to a name is a `#[must_use]` warning, because it would detach
/// on the spot.
///
/// ```
/// use opentelemetry::{Context, KeyValue, baggage::BaggageExt};
///
/// let cx = Context::current().with_baggage([KeyValue::new("tenant", "acme")]);
/// let token = tracebound::attach(cx);
/// assert_eq!(Context::current().baggage().len(), 1);
/// token.detach();
/// assert_eq!(Context::current().baggage().len(), 0);
/// ```
#[must_use = "a ContextToken detaches its context when dropped; bind it to a name (`let _token = …`) \
              for as long as the context should stay attached"]
#[derive(Debug)]
pub struct ContextToken {
    guard: ContextGuard,
    _not_send: PhantomData<*const ()>,
}

impl ContextToken {
    /// Detaches the context now, restoring the one that was current before.
    ///
    /// Equivalent to dropping the token; it consumes the token, so detaching twice does not
    /// compile.
    pub fn detach(self) {
        drop(self.guard);
    }
}

/// Makes `cx` the current context of this thread until the returned token is dropped.
///
/// Tokens may be dropped in any order: detaching an outer token while an inner one is still
/// alive keeps the inner context current, and the outer one is gone once the inner detaches.
///
/// ```
/// use opentelemetry::{Context, trace::TraceContextExt};
///
/// let _token = tracebound::attach(Context::new());
/// assert!(!Context::current().has_active_span());
/// ```
pub fn attach(cx: Context) -> ContextToken {
    ContextToken {
        guard: cx.attach(),
        _not_send: PhantomData,
    }
}

/// Runs `f` with `cx` attached, detaching it afterwards, also when `f` panics.
///
/// ```
/// use opentelemetry::{Context, baggage::BaggageExt, KeyValue};
///
/// let cx = Context::new().with_baggage([KeyValue::new("k", "v")]);
/// let n = tracebound::with_context(cx, || Context::current().baggage().len());
/// assert_eq!(n, 1);
/// assert_eq!(Context::current().baggage().len(), 0);
/// ```
pub fn with_context<R>(cx: Context, f: impl FnOnce() -> R) -> R {
    let _token = attach(cx);
    f()
}

/// The current context, captured to be attached later, on this thread or another.
///
/// A snapshot is `Send + Sync + Clone`: capture it where the work is handed off and attach it
/// where the work runs.
///
/// ```
/// use opentelemetry::{Context, baggage::BaggageExt, KeyValue};
///
/// let _outer = tracebound::attach(Context::new().with_baggage([KeyValue::new("k", "v")]));
/// let snapshot = tracebound::Snapshot::capture();
/// std::thread::spawn(move || {
///     let _token = snapshot.attach();
///     assert_eq!(Context::current().baggage().len(), 1);
/// })
/// .join()
/// .unwrap();
/// ```
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    cx: Context,
}

impl Snapshot {
    /// Captures the current context.
    pub fn capture() -> Self {
        Snapshot {
            cx: Context::current(),
        }
    }

    /// Attaches the captured context to the current thread.
    pub fn attach(&self) -> ContextToken {
        attach(self.cx.clone())
    }

    /// Runs `f` with the captured context attached.
    pub fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        with_context(self.cx.clone(), f)
    }

    /// The captured context.
    pub fn context(&self) -> &Context {
        &self.cx
    }

    /// Wraps a future so that every poll runs with the captured context attached.
    pub fn wrap<F: std::future::Future>(self, future: F) -> crate::Carried<F> {
        crate::Carried::new(self.cx, future)
    }
}

impl From<Context> for Snapshot {
    fn from(cx: Context) -> Self {
        Snapshot { cx }
    }
}

impl From<Snapshot> for Context {
    fn from(snapshot: Snapshot) -> Self {
        snapshot.cx
    }
}
