use super::Started;
use super::traced::end_panicked;
use opentelemetry::trace::TraceContextExt;
use opentelemetry::{Context, ContextGuard};

/// The span of a synchronous traced body: attached while the body runs, ended by
/// [`finish`](SyncScope::finish), or as failed if the body panics.
pub struct SyncScope {
    started: Started,
    finished: bool,
    _attached: Option<ContextGuard>,
}

/// Runs a synchronous traced body inside the call's span: `body` is the function's body as a
/// closure (so that `return` and `?` keep their meaning), `record` sees its output before the
/// span ends. One call, so that nothing of the expansion follows a body that diverges.
#[inline]
pub fn run_sync<T>(
    started: Started,
    body: impl FnOnce() -> T,
    record: impl FnOnce(&T, &Context),
) -> T {
    let scope = enter_sync(started);
    let output = body();
    scope.finish(&output, record);
    output
}

/// Attaches the call's context for the synchronous body that follows.
#[inline]
pub fn enter_sync(started: Started) -> SyncScope {
    SyncScope {
        _attached: started.attach(),
        started,
        finished: false,
    }
}

impl SyncScope {
    /// Records the body's output and ends the span.
    #[inline]
    pub fn finish<T, R: FnOnce(&T, &Context)>(mut self, output: &T, record: R) {
        if let Some(cx) = self.started.live_span() {
            record(output, cx);
            cx.span().end();
        }
        self.finished = true;
    }
}

impl Drop for SyncScope {
    fn drop(&mut self) {
        if !self.finished
            && let Some(cx) = self.started.live_span()
        {
            end_panicked(cx);
        }
    }
}
