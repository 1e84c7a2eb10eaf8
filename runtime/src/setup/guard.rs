//! The last stage: what keeps the installed provider until the program ends.

use opentelemetry_sdk::trace::SdkTracerProvider;

/// Flushes and shuts the installed provider down when dropped, so that no span is lost at a
/// normal exit. Before `std::process::exit`, which runs no destructors, call
/// [`shutdown`](Guard::shutdown) (or [`flush`](Guard::flush)) first.
#[must_use = "dropping the guard shuts the tracer provider down at once; keep it for the program's lifetime"]
#[derive(Debug)]
pub struct Guard {
    pub(super) provider: SdkTracerProvider,
}

impl Guard {
    /// Exports every finished span now.
    pub fn flush(&self) {
        let _ = self.provider.force_flush();
    }

    /// Flushes and shuts the provider down now.
    pub fn shutdown(self) {
        drop(self);
    }

    /// The installed provider.
    pub fn provider(&self) -> &SdkTracerProvider {
        &self.provider
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.provider.force_flush();
        let _ = self.provider.shutdown();
    }
}
