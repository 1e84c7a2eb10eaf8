//! An in-memory exporter installed in one call, and a [`TraceTree`] view for assertions.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use tracebound::traced_task;
//!
//! #[traced_task]
//! async fn child() {}
//!
//! #[traced_task(name = "doc-example-parent")]
//! async fn parent() {
//!     tokio::spawn(child()).await.unwrap();
//! }
//!
//! let recorder = tracebound::testing::install();
//! parent().await;
//!
//! let trace = recorder.trace_of("doc-example-parent");
//! trace.assert_single_trace();
//! assert_eq!(trace.parent_of(trace.span("child")).unwrap().name, "doc-example-parent");
//! println!("{trace}");
//! # }
//! ```
//!
//! Tests of one binary run in parallel and share the global provider: give each test's root
//! span a unique name and look at its trace only, with [`Recorder::trace_of`].

mod tree;

pub use tree::TraceTree;

use opentelemetry::Context;
use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, Span, SpanData, SpanProcessor};
use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

/// Receives every span ended while it is installed; see [`install`].
#[derive(Clone, Debug)]
pub struct Recorder {
    spans: Spans,
    provider: SdkTracerProvider,
}

/// The spans ended so far, and the ones started and not yet ended, shared by the recorder and
/// its processors.
#[derive(Clone, Debug, Default)]
struct Spans {
    ended: Arc<Mutex<Vec<SpanData>>>,
    open: Arc<Mutex<HashSet<(TraceId, SpanId)>>>,
}

impl Spans {
    /// A panic elsewhere while the list was held leaves it as it was: keep recording.
    fn lock(&self) -> MutexGuard<'_, Vec<SpanData>> {
        self.ended.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn open(&self) -> MutexGuard<'_, HashSet<(TraceId, SpanId)>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

static RECORDER: OnceLock<Recorder> = OnceLock::new();

/// The span processor of [`Recorder::processor`]: it records every ended span into the
/// recorder, synchronously, on the thread that ends it.
///
/// It runs no executor of its own (the SDK's simple processor blocks on its exporter's future,
/// which panics inside `futures::executor::block_on`), and shutting it down keeps the records:
/// the recorder outlives the providers that feed it.
#[derive(Debug)]
pub struct Recording(Spans);

impl SpanProcessor for Recording {
    fn on_start(&self, span: &mut Span, _cx: &Context) {
        let sc = opentelemetry::trace::Span::span_context(span);
        self.0.open().insert((sc.trace_id(), sc.span_id()));
    }

    fn on_end(&self, span: SpanData) {
        let id = (span.span_context.trace_id(), span.span_context.span_id());
        self.0.open().remove(&id);
        self.0.lock().push(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// Installs (once per process) a global tracer provider that records every span synchronously
/// into memory, and returns the recorder that reads them. Works under any executor, including
/// `futures::executor::block_on`.
///
/// Calling it again returns the same recorder and re-installs its provider, so a test that
/// runs after another one replaced the global provider still records.
pub fn install() -> Recorder {
    let recorder = recorder();
    crate::set_tracer_provider(recorder.provider.clone());
    recorder
}

/// The process's recorder, without installing its provider: to record spans of a provider
/// installed otherwise, give it [`Recorder::processor`].
pub fn recorder() -> Recorder {
    RECORDER
        .get_or_init(|| {
            let spans = Spans::default();
            let provider = SdkTracerProvider::builder()
                .with_span_processor(Recording(spans.clone()))
                .build();
            Recorder { spans, provider }
        })
        .clone()
}

impl Recorder {
    /// Every span ended so far, in the order they ended.
    pub fn spans(&self) -> Vec<SpanData> {
        self.spans.lock().clone()
    }

    /// All spans ended so far, from every trace.
    pub fn tree(&self) -> TraceTree {
        TraceTree::new(self.spans())
    }

    /// The spans of the one trace that contains the span named `name`.
    ///
    /// # Panics
    /// If no ended span, or more than one, has that name.
    pub fn trace_of(&self, name: &str) -> TraceTree {
        let all = self.tree();
        let trace_id = all.span(name).span_context.trace_id();
        all.trace(trace_id)
    }

    /// A span processor that records into this recorder, for a provider built elsewhere
    /// (with `tracebound::setup::Setup::span_processor`, say).
    ///
    /// Shutting that provider down (as dropping its last handle does) keeps what was recorded:
    /// the recorder outlives the providers that feed it.
    pub fn processor(&self) -> Recording {
        Recording(self.spans.clone())
    }

    /// The spans of trace `trace_id` that were started and have not ended (yet), by span id:
    /// after a test's work is done, a span still open is one that nothing will end.
    pub fn unended(&self, trace_id: TraceId) -> Vec<SpanId> {
        let mut open: Vec<SpanId> = self
            .spans
            .open()
            .iter()
            .filter(|(trace, _)| *trace == trace_id)
            .map(|(_, span)| *span)
            .collect();
        open.sort_unstable_by_key(|id| id.to_bytes());
        open
    }

    /// Forgets the spans recorded so far.
    pub fn reset(&self) {
        self.spans.lock().clear();
    }
}
