use super::traced::end_panicked;
use opentelemetry::trace::TraceContextExt;
use opentelemetry::{Context, ContextGuard};

/// The span of a synchronous traced body: attached while the body runs, ended by
/// [`finish`](SyncScope::finish), or as failed if the body panics.
pub struct SyncScope {
    cx: Context,
    finished: bool,
    _attached: ContextGuard,
}

/// Attaches `cx` for the synchronous body that follows.
#[inline]
pub fn enter_sync(cx: Context) -> SyncScope {
    SyncScope {
        _attached: cx.clone().attach(),
        cx,
        finished: false,
    }
}

impl SyncScope {
    /// Records the body's output and ends the span.
    #[inline]
    pub fn finish<T, R: FnOnce(&T, &Context)>(mut self, output: &T, record: R) {
        record(output, &self.cx);
        self.cx.span().end();
        self.finished = true;
    }
}

impl Drop for SyncScope {
    fn drop(&mut self) {
        if !self.finished {
            end_panicked(&self.cx);
        }
    }
}
