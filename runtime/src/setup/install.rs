//! The second stage: a provider and a propagator built from [`Resolved`] settings, and
//! installed as OpenTelemetry's globals.

use super::console::ConsoleExporter;
use super::guard::Guard;
use super::otlp;
use super::settings::{Exporter, Propagator, Resolved, SamplerChoice, SetupError, Sources};
use crate::propagation::{
    B3Propagator, BaggagePropagator, JaegerPropagator, TraceContextPropagator,
};
use opentelemetry::propagation::{TextMapCompositePropagator, TextMapPropagator};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracerProvider, SpanProcessor,
};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Where the console exporter writes.
pub(super) type ConsoleOutput = Arc<Mutex<dyn Write + Send>>;

/// Builds and installs the provider and propagator `resolved` describes, exporting through
/// `console` (standard output by default) and `processors` as well.
pub(super) fn install(
    resolved: Resolved,
    sources: &Sources<'_>,
    console: Option<ConsoleOutput>,
    processors: Vec<Box<dyn SpanProcessor>>,
) -> Result<Installed, SetupError> {
    let mut by_default = false;
    let mut builder = SdkTracerProvider::builder()
        .with_resource(resolved.resource.clone())
        .with_sampler(resolved.sampler.to_sdk());
    let batch = BatchConfigBuilder::default()
        .with_scheduled_delay(resolved.batch.schedule_delay)
        .with_max_queue_size(resolved.batch.max_queue_size)
        .with_max_export_batch_size(resolved.batch.max_export_batch_size)
        .build();
    match resolved.exporter {
        Exporter::None => {}
        Exporter::Console => {
            by_default =
                sources.code.exporter.is_none() && sources.var("OTEL_TRACES_EXPORTER").is_none();
            let output = console.unwrap_or_else(|| Arc::new(Mutex::new(std::io::stdout())));
            builder = builder.with_span_processor(
                BatchSpanProcessor::builder(ConsoleExporter::new(output))
                    .with_batch_config(batch)
                    .build(),
            );
        }
        Exporter::Otlp => {
            let exporter = otlp::exporter(sources, resolved.batch.export_timeout)?;
            builder = builder.with_span_processor(
                BatchSpanProcessor::builder(exporter)
                    .with_batch_config(batch)
                    .build(),
            );
        }
    }
    for processor in processors {
        builder = builder.with_span_processor(BoxedProcessor(processor));
    }
    let provider = builder.build();
    crate::set_tracer_provider(provider.clone());
    crate::globals::install_propagator(composite(&resolved.propagators));
    Ok(Installed {
        guard: Guard { provider },
        console_by_default: by_default,
    })
}

/// An installed provider, and whether the console exporter was chosen by default: said through
/// `tracing` once its output is set up (by [`Setup::install_tracing`](super::Setup), after it
/// sets the subscriber).
pub(crate) struct Installed {
    pub(crate) guard: Guard,
    console_by_default: bool,
}

impl Installed {
    /// The guard, the choice of the console exporter said.
    pub(crate) fn announced(self) -> Guard {
        if self.console_by_default {
            console_by_default();
        }
        self.guard
    }
}

/// `OTEL_TRACES_EXPORTER` unset picks `otlp`, as the specification says, when tracebound has
/// it (feature `otlp`); without it, the console exporter, which is said once.
fn console_by_default() {
    static SAID: AtomicBool = AtomicBool::new(false);
    if !SAID.swap(true, Ordering::Relaxed) {
        tracing::info!(
            target: "tracebound",
            "OTEL_TRACES_EXPORTER is unset and tracebound was built without its `otlp` \
             feature: spans are written to standard output (the console exporter); set \
             OTEL_TRACES_EXPORTER=none for none, or enable the `otlp` feature"
        );
    }
}

impl SamplerChoice {
    fn to_sdk(self) -> Sampler {
        match self {
            SamplerChoice::AlwaysOn => Sampler::AlwaysOn,
            SamplerChoice::AlwaysOff => Sampler::AlwaysOff,
            SamplerChoice::TraceIdRatio(r) => Sampler::TraceIdRatioBased(r),
            SamplerChoice::ParentBasedAlwaysOn => Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
            SamplerChoice::ParentBasedAlwaysOff => {
                Sampler::ParentBased(Box::new(Sampler::AlwaysOff))
            }
            SamplerChoice::ParentBasedTraceIdRatio(r) => {
                Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(r)))
            }
        }
    }
}

fn composite(propagators: &[Propagator]) -> TextMapCompositePropagator {
    TextMapCompositePropagator::new(
        propagators
            .iter()
            .map(|p| -> Box<dyn TextMapPropagator + Send + Sync> {
                match p {
                    Propagator::TraceContext => Box::new(TraceContextPropagator::new()),
                    Propagator::Baggage => Box::new(BaggagePropagator::new()),
                    Propagator::B3 => Box::new(B3Propagator::single()),
                    Propagator::B3Multi => Box::new(B3Propagator::multiple()),
                    Propagator::Jaeger => Box::new(JaegerPropagator::new()),
                }
            })
            .collect(),
    )
}

/// A boxed processor, since the provider builder takes processors by type.
#[derive(Debug)]
struct BoxedProcessor(Box<dyn SpanProcessor>);

impl SpanProcessor for BoxedProcessor {
    fn on_start(&self, span: &mut opentelemetry_sdk::trace::Span, cx: &opentelemetry::Context) {
        self.0.on_start(span, cx);
    }
    fn on_end(&self, span: opentelemetry_sdk::trace::SpanData) {
        self.0.on_end(span);
    }
    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.force_flush()
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }
    fn set_resource(&mut self, resource: &Resource) {
        self.0.set_resource(resource);
    }
}
