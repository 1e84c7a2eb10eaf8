//! Installing a tracer provider and a propagator from the standard OpenTelemetry environment
//! variables, in one call (feature `setup`).
//!
//! ```no_run
//! fn main() -> Result<(), tracebound::setup::SetupError> {
//!     let _telemetry = tracebound::init()?; // flushes and shuts down when dropped
//!     // … the application …
//!     Ok(())
//! }
//! ```
//!
//! | variable | accepted values | default |
//! |---|---|---|
//! | `OTEL_SERVICE_NAME` | any | `unknown_service` |
//! | `OTEL_RESOURCE_ATTRIBUTES` | `key=value,…`, values percent-encoded | |
//! | `OTEL_TRACES_EXPORTER` | `otlp` (feature `otlp`), `console`, `none` | `otlp` with the feature, else `console` |
//! | `OTEL_EXPORTER_OTLP_PROTOCOL` / `_TRACES_PROTOCOL` | `http/protobuf`, `http/json` | `http/protobuf` |
//! | `OTEL_EXPORTER_OTLP_ENDPOINT` / `_TRACES_ENDPOINT` | a URL | `http://localhost:4318` |
//! | `OTEL_PROPAGATORS` | a list of `tracecontext`, `baggage`, `b3`, `b3multi`, `jaeger`, `none` | `tracecontext,baggage` |
//! | `OTEL_TRACES_SAMPLER` | `always_on`, `always_off`, `traceidratio`, `parentbased_always_on`, `parentbased_always_off`, `parentbased_traceidratio` | `parentbased_always_on` |
//! | `OTEL_TRACES_SAMPLER_ARG` | a ratio in `[0, 1]` for the ratio samplers | `1.0` |
//! | `OTEL_BSP_SCHEDULE_DELAY`, `OTEL_BSP_MAX_QUEUE_SIZE`, `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, `OTEL_BSP_EXPORT_TIMEOUT` | non-negative integers (milliseconds for delay and timeout); the batch size at most the queue size | 5000, 2048, 512, 30000 |
//!
//! A value outside these is an error from [`Setup::install`] naming the variable and what it
//! accepts, never a silent fallback. What the [`Setup`] builder sets in code wins over the
//! environment; what it leaves unset comes from the environment.

mod console;

pub use console::ConsoleExporter;

use crate::propagation::{
    self, B3Propagator, BaggagePropagator, JaegerPropagator, TraceContextPropagator,
};
use opentelemetry::KeyValue;
use opentelemetry::propagation::{TextMapCompositePropagator, TextMapPropagator};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracerProvider, SpanProcessor,
};
use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Where finished spans go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exporter {
    /// OTLP over HTTP (feature `otlp`), to `OTEL_EXPORTER_OTLP_ENDPOINT`.
    Otlp,
    /// Human-readable lines on standard output: trace id, span id, parent span id, kind, status.
    Console,
    /// Nowhere: spans are created and context propagates, nothing is exported.
    None,
}

/// A propagator `OTEL_PROPAGATORS` can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Propagator {
    /// W3C `traceparent` / `tracestate`.
    TraceContext,
    /// W3C `baggage`.
    Baggage,
    /// Zipkin B3, single `b3` header.
    B3,
    /// Zipkin B3, `x-b3-*` headers.
    B3Multi,
    /// Jaeger `uber-trace-id` and `uberctx-*`.
    Jaeger,
}

/// A sampler `OTEL_TRACES_SAMPLER` can name.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SamplerChoice {
    AlwaysOn,
    AlwaysOff,
    TraceIdRatio(f64),
    ParentBasedAlwaysOn,
    ParentBasedAlwaysOff,
    ParentBasedTraceIdRatio(f64),
}

/// An environment variable (or builder setting) with a value tracebound does not accept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetupError {
    /// The variable, such as `OTEL_TRACES_EXPORTER`.
    pub variable: String,
    /// The value found.
    pub value: String,
    /// What is accepted instead.
    pub accepted: String,
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}={:?} is not accepted; expected {}",
            self.variable, self.value, self.accepted
        )
    }
}

impl std::error::Error for SetupError {}

fn invalid(variable: &str, value: &str, accepted: &str) -> SetupError {
    SetupError {
        variable: variable.to_owned(),
        value: value.to_owned(),
        accepted: accepted.to_owned(),
    }
}

/// Configures and installs the global tracer provider and propagator.
///
/// ```
/// use tracebound::setup::{Exporter, Propagator, Setup};
///
/// let guard = Setup::new()
///     .service_name("checkout")
///     .exporter(Exporter::None)
///     .propagators([Propagator::TraceContext, Propagator::Baggage])
///     .install()
///     .expect("a valid configuration");
/// drop(guard); // flushes and shuts the provider down
/// ```
pub struct Setup {
    env: HashMap<String, String>,
    service_name: Option<String>,
    exporter: Option<Exporter>,
    propagators: Option<Vec<Propagator>>,
    sampler: Option<SamplerChoice>,
    console: Option<Arc<Mutex<dyn Write + Send>>>,
    processors: Vec<Box<dyn SpanProcessor>>,
    attributes: Vec<KeyValue>,
    batch: Option<Batch>,
}

impl Default for Setup {
    fn default() -> Self {
        Self::new()
    }
}

impl Setup {
    /// A setup that reads the process environment for anything not set in code.
    pub fn new() -> Self {
        Self::from_env(
            std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
        )
    }

    /// A setup that reads `vars` instead of the process environment (for tests and embedding).
    pub fn from_env<K: Into<String>, V: Into<String>>(
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Setup {
            env: vars
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .filter(|(k, _)| k.starts_with("OTEL_"))
                .collect(),
            service_name: None,
            exporter: None,
            propagators: None,
            sampler: None,
            console: None,
            processors: Vec::new(),
            attributes: Vec::new(),
            batch: None,
        }
    }

    /// The service name, over `OTEL_SERVICE_NAME`.
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// The exporter, over `OTEL_TRACES_EXPORTER`.
    pub fn exporter(mut self, exporter: Exporter) -> Self {
        self.exporter = Some(exporter);
        self
    }

    /// The propagators, in order, over `OTEL_PROPAGATORS`; an empty list propagates nothing.
    pub fn propagators(mut self, propagators: impl IntoIterator<Item = Propagator>) -> Self {
        self.propagators = Some(propagators.into_iter().collect());
        self
    }

    /// The sampler, over `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG`.
    pub fn sampler(mut self, sampler: SamplerChoice) -> Self {
        self.sampler = Some(sampler);
        self
    }

    /// A resource attribute, added to (and over) those of `OTEL_RESOURCE_ATTRIBUTES`.
    pub fn resource_attribute(mut self, attribute: KeyValue) -> Self {
        self.attributes.push(attribute);
        self
    }

    /// The batch span processor's settings, over `OTEL_BSP_*`.
    pub fn batch(mut self, batch: Batch) -> Self {
        self.batch = Some(batch);
        self
    }

    /// Where the console exporter writes, instead of standard output.
    pub fn console_output(mut self, output: impl Write + Send + 'static) -> Self {
        self.console = Some(Arc::new(Mutex::new(output)));
        self
    }

    /// Adds a span processor next to the exporter's, such as
    /// [`testing::Recorder::processor`](crate::testing::Recorder::processor) to also record spans.
    pub fn span_processor(mut self, processor: impl SpanProcessor + 'static) -> Self {
        self.processors.push(Box::new(processor));
        self
    }

    fn var(&self, name: &str) -> Option<&str> {
        self.env
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// The configuration this setup would install, checked.
    pub fn resolve(&self) -> Result<Resolved, SetupError> {
        Ok(Resolved {
            resource: self.resource()?,
            exporter: self.resolve_exporter()?,
            propagators: self.resolve_propagators()?,
            sampler: self.resolve_sampler()?,
            batch: self.resolve_batch()?,
        })
    }

    /// Installs the global tracer provider and propagator, and returns the guard that flushes
    /// and shuts the provider down when dropped.
    pub fn install(mut self) -> Result<Guard, SetupError> {
        let resolved = self.resolve()?;
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
                let output = self
                    .console
                    .clone()
                    .unwrap_or_else(|| Arc::new(Mutex::new(std::io::stdout())));
                let exporter = ConsoleExporter::new(output);
                builder = builder.with_span_processor(
                    BatchSpanProcessor::builder(exporter)
                        .with_batch_config(batch)
                        .build(),
                );
            }
            Exporter::Otlp => {
                builder = builder.with_span_processor(
                    BatchSpanProcessor::builder(self.otlp()?)
                        .with_batch_config(batch)
                        .build(),
                );
            }
        }
        for processor in std::mem::take(&mut self.processors) {
            builder = builder.with_span_processor(BoxedProcessor(processor));
        }
        let provider = builder.build();
        crate::set_tracer_provider(provider.clone());
        propagation::set_configured(composite(&resolved.propagators));
        Ok(Guard { provider })
    }

    #[cfg(feature = "otlp")]
    fn otlp(&self) -> Result<opentelemetry_otlp::SpanExporter, SetupError> {
        use opentelemetry_otlp::{Protocol, WithExportConfig};
        let variable = [
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ]
        .into_iter()
        .find(|v| self.var(v).is_some());
        let protocol = match variable.and_then(|v| self.var(v)) {
            None | Some("http/protobuf") => Protocol::HttpBinary,
            Some("http/json") => Protocol::HttpJson,
            Some(other) => {
                return Err(invalid(
                    variable.unwrap_or("OTEL_EXPORTER_OTLP_PROTOCOL"),
                    other,
                    "`http/protobuf` or `http/json` (gRPC is not built into tracebound)",
                ));
            }
        };
        let mut exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(protocol);
        for variable in [
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "OTEL_EXPORTER_OTLP_ENDPOINT",
        ] {
            if let Some(url) = self.var(variable) {
                let url = if variable == "OTEL_EXPORTER_OTLP_ENDPOINT" {
                    format!("{}/v1/traces", url.trim_end_matches('/'))
                } else {
                    url.to_owned()
                };
                exporter = exporter.with_endpoint(url);
                break;
            }
        }
        exporter.build().map_err(|e| {
            invalid(
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                &e.to_string(),
                "a URL the OTLP exporter can use",
            )
        })
    }

    #[cfg(not(feature = "otlp"))]
    fn otlp(&self) -> Result<NoOtlp, SetupError> {
        Err(invalid(
            "OTEL_TRACES_EXPORTER",
            "otlp",
            "`console` or `none` (enable tracebound's `otlp` feature for `otlp`)",
        ))
    }

    fn resource(&self) -> Result<Resource, SetupError> {
        let mut attributes = Vec::new();
        if let Some(list) = self.var("OTEL_RESOURCE_ATTRIBUTES") {
            for pair in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let parsed = pair.split_once('=').and_then(|(k, v)| {
                    let value = propagation::percent_decode(v.trim())?;
                    let key = k.trim();
                    (!key.is_empty()).then(|| KeyValue::new(key.to_owned(), value))
                });
                attributes.push(parsed.ok_or_else(|| {
                    invalid(
                        "OTEL_RESOURCE_ATTRIBUTES",
                        list,
                        "`key=value` pairs separated by commas, values percent-encoded",
                    )
                })?);
            }
        }
        for attribute in &self.attributes {
            attributes.retain(|kv: &KeyValue| kv.key != attribute.key);
            attributes.push(attribute.clone());
        }
        let name = self
            .service_name
            .clone()
            .or_else(|| self.var("OTEL_SERVICE_NAME").map(str::to_owned))
            .or_else(|| {
                attributes
                    .iter()
                    .find(|kv| kv.key.as_str() == "service.name")
                    .map(|kv| kv.value.to_string())
            })
            .unwrap_or_else(|| "unknown_service".to_owned());
        Ok(Resource::builder_empty()
            .with_attributes(attributes)
            .with_service_name(name)
            .build())
    }

    fn resolve_exporter(&self) -> Result<Exporter, SetupError> {
        if let Some(exporter) = self.exporter {
            return Ok(exporter);
        }
        let default = if cfg!(feature = "otlp") {
            "otlp"
        } else {
            "console"
        };
        let value = self.var("OTEL_TRACES_EXPORTER").unwrap_or(default);
        // A list is allowed by the specification; tracebound installs one exporter.
        match value {
            "otlp" if cfg!(feature = "otlp") => Ok(Exporter::Otlp),
            "console" => Ok(Exporter::Console),
            "none" => Ok(Exporter::None),
            other => Err(invalid(
                "OTEL_TRACES_EXPORTER",
                other,
                if cfg!(feature = "otlp") {
                    "one of `otlp`, `console`, `none`"
                } else {
                    "one of `console`, `none` (`otlp` needs tracebound's `otlp` feature)"
                },
            )),
        }
    }

    fn resolve_propagators(&self) -> Result<Vec<Propagator>, SetupError> {
        if let Some(list) = &self.propagators {
            return Ok(list.clone());
        }
        let Some(value) = self.var("OTEL_PROPAGATORS") else {
            return Ok(vec![Propagator::TraceContext, Propagator::Baggage]);
        };
        let mut list = Vec::new();
        for name in value.split(',').map(str::trim) {
            let propagator = match name {
                "tracecontext" => Propagator::TraceContext,
                "baggage" => Propagator::Baggage,
                "b3" => Propagator::B3,
                "b3multi" => Propagator::B3Multi,
                "jaeger" => Propagator::Jaeger,
                "none" => continue,
                other => {
                    return Err(invalid(
                        "OTEL_PROPAGATORS",
                        other,
                        "a comma-separated list of `tracecontext`, `baggage`, `b3`, `b3multi`, `jaeger`, `none`",
                    ));
                }
            };
            if !list.contains(&propagator) {
                list.push(propagator);
            }
        }
        if value.split(',').any(|n| n.trim() == "none") {
            list.clear();
        }
        Ok(list)
    }

    fn resolve_sampler(&self) -> Result<SamplerChoice, SetupError> {
        if let Some(sampler) = self.sampler {
            return Ok(sampler);
        }
        let name = self
            .var("OTEL_TRACES_SAMPLER")
            .unwrap_or("parentbased_always_on");
        let ratio = || -> Result<f64, SetupError> {
            let Some(arg) = self.var("OTEL_TRACES_SAMPLER_ARG") else {
                return Ok(1.0);
            };
            arg.parse::<f64>()
                .ok()
                .filter(|r| (0.0..=1.0).contains(r))
                .ok_or_else(|| invalid("OTEL_TRACES_SAMPLER_ARG", arg, "a number from 0 to 1"))
        };
        Ok(match name {
            "always_on" => SamplerChoice::AlwaysOn,
            "always_off" => SamplerChoice::AlwaysOff,
            "traceidratio" => SamplerChoice::TraceIdRatio(ratio()?),
            "parentbased_always_on" => SamplerChoice::ParentBasedAlwaysOn,
            "parentbased_always_off" => SamplerChoice::ParentBasedAlwaysOff,
            "parentbased_traceidratio" => SamplerChoice::ParentBasedTraceIdRatio(ratio()?),
            other => {
                return Err(invalid(
                    "OTEL_TRACES_SAMPLER",
                    other,
                    "one of `always_on`, `always_off`, `traceidratio`, `parentbased_always_on`, \
                     `parentbased_always_off`, `parentbased_traceidratio`",
                ));
            }
        })
    }

    fn resolve_batch(&self) -> Result<Batch, SetupError> {
        if let Some(batch) = self.batch {
            return Ok(batch);
        }
        let number = |variable: &str, default: u64| -> Result<u64, SetupError> {
            match self.var(variable) {
                None => Ok(default),
                Some(value) => value
                    .parse::<u64>()
                    .map_err(|_| invalid(variable, value, "a non-negative integer")),
            }
        };
        let batch = Batch {
            schedule_delay: Duration::from_millis(number("OTEL_BSP_SCHEDULE_DELAY", 5000)?),
            max_queue_size: number("OTEL_BSP_MAX_QUEUE_SIZE", 2048)? as usize,
            max_export_batch_size: number("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512)? as usize,
            export_timeout: Duration::from_millis(number("OTEL_BSP_EXPORT_TIMEOUT", 30000)?),
        };
        if batch.max_queue_size == 0 {
            return Err(invalid(
                "OTEL_BSP_MAX_QUEUE_SIZE",
                "0",
                "a positive integer",
            ));
        }
        if batch.max_export_batch_size == 0 || batch.max_export_batch_size > batch.max_queue_size {
            return Err(invalid(
                "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
                &batch.max_export_batch_size.to_string(),
                &format!(
                    "a positive integer at most OTEL_BSP_MAX_QUEUE_SIZE ({})",
                    batch.max_queue_size
                ),
            ));
        }
        Ok(batch)
    }
}

/// A checked configuration; see [`Setup::resolve`].
#[derive(Debug)]
pub struct Resolved {
    pub resource: Resource,
    pub exporter: Exporter,
    pub propagators: Vec<Propagator>,
    pub sampler: SamplerChoice,
    pub batch: Batch,
}

/// The batch span processor's settings (`OTEL_BSP_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Batch {
    pub schedule_delay: Duration,
    pub max_queue_size: usize,
    pub max_export_batch_size: usize,
    /// Validated here; applied by the SDK from `OTEL_BSP_EXPORT_TIMEOUT` in the process
    /// environment, the only way opentelemetry_sdk 0.33 takes it.
    pub export_timeout: Duration,
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

/// The exporter `otlp` would give without the `otlp` feature: there is none.
#[cfg(not(feature = "otlp"))]
#[derive(Debug)]
enum NoOtlp {}

#[cfg(not(feature = "otlp"))]
impl opentelemetry_sdk::trace::SpanExporter for NoOtlp {
    async fn export(
        &self,
        _batch: Vec<opentelemetry_sdk::trace::SpanData>,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        match *self {}
    }
}

/// Installs the global tracer provider and propagator from the environment; see the
/// [module documentation](self) for the variables read.
pub fn init() -> Result<Guard, SetupError> {
    Setup::new().install()
}

/// Flushes and shuts the installed provider down when dropped, so that no span is lost at a
/// normal exit. Before `std::process::exit`, which runs no destructors, call
/// [`shutdown`](Guard::shutdown) (or [`flush`](Guard::flush)) first.
#[must_use = "dropping the guard shuts the tracer provider down at once; keep it for the program's lifetime"]
#[derive(Debug)]
pub struct Guard {
    provider: SdkTracerProvider,
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
