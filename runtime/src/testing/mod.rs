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

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    InMemorySpanExporter, SdkTracerProvider, SimpleSpanProcessor, SpanData, SpanExporter,
};
use std::sync::OnceLock;
use std::time::Duration;

/// Receives every span ended while it is installed; see [`install`].
#[derive(Clone, Debug)]
pub struct Recorder {
    exporter: InMemorySpanExporter,
    provider: SdkTracerProvider,
}

static RECORDER: OnceLock<Recorder> = OnceLock::new();

/// The exporter of [`Recorder::processor`]: into the recorder, and never clearing it.
#[derive(Debug)]
pub struct Recording(InMemorySpanExporter);

impl SpanExporter for Recording {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0.export(batch).await
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        // The in-memory exporter clears its records on shutdown: every other provider feeding
        // the same recorder would lose its spans.
        Ok(())
    }
}

/// Installs (once per process) a global tracer provider that exports every span synchronously
/// into memory, and returns the recorder that reads them.
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
            let exporter = InMemorySpanExporter::default();
            let provider = SdkTracerProvider::builder()
                .with_simple_exporter(exporter.clone())
                .build();
            Recorder { exporter, provider }
        })
        .clone()
}

impl Recorder {
    /// Every span ended so far, in the order they ended.
    pub fn spans(&self) -> Vec<SpanData> {
        self.exporter.get_finished_spans().unwrap_or_default()
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
    pub fn processor(&self) -> SimpleSpanProcessor<Recording> {
        SimpleSpanProcessor::new(Recording(self.exporter.clone()))
    }

    /// Forgets the spans recorded so far.
    pub fn reset(&self) {
        self.exporter.reset();
    }
}
