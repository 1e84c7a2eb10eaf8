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
mod guard;
mod install;
mod otlp;
mod settings;

pub use console::ConsoleExporter;
pub use guard::Guard;
pub use settings::{Batch, Exporter, Propagator, Resolved, SamplerChoice, SetupError};

use install::ConsoleOutput;
pub(crate) use install::Installed;
use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::SpanProcessor;
use settings::{InCode, Sources};
use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

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
    code: InCode,
    console: Option<ConsoleOutput>,
    processors: Vec<Box<dyn SpanProcessor>>,
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
                .filter(|(k, _)| k.starts_with("OTEL_") || k == "RUST_LOG")
                .collect(),
            code: InCode::default(),
            console: None,
            processors: Vec::new(),
        }
    }

    /// The service name, over `OTEL_SERVICE_NAME`.
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.code.service_name = Some(name.into());
        self
    }

    /// The exporter, over `OTEL_TRACES_EXPORTER`.
    pub fn exporter(mut self, exporter: Exporter) -> Self {
        self.code.exporter = Some(exporter);
        self
    }

    /// The propagators, in order, over `OTEL_PROPAGATORS`; an empty list propagates nothing.
    pub fn propagators(mut self, propagators: impl IntoIterator<Item = Propagator>) -> Self {
        self.code.propagators = Some(propagators.into_iter().collect());
        self
    }

    /// The sampler, over `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG`.
    pub fn sampler(mut self, sampler: SamplerChoice) -> Self {
        self.code.sampler = Some(sampler);
        self
    }

    /// A resource attribute, added to (and over) those of `OTEL_RESOURCE_ATTRIBUTES`.
    pub fn resource_attribute(mut self, attribute: KeyValue) -> Self {
        self.code.attributes.push(attribute);
        self
    }

    /// The batch span processor's settings, over `OTEL_BSP_*`.
    pub fn batch(mut self, batch: Batch) -> Self {
        self.code.batch = Some(batch);
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

    fn sources(&self) -> Sources<'_> {
        Sources {
            code: &self.code,
            env: &self.env,
        }
    }

    /// The configuration this setup would install, checked.
    pub fn resolve(&self) -> Result<Resolved, SetupError> {
        self.sources().resolve()
    }

    /// Installs the global tracer provider and propagator, and returns the guard that flushes
    /// and shuts the provider down when dropped.
    pub fn install(self) -> Result<Guard, SetupError> {
        Ok(self.install_quietly()?.announced())
    }

    /// [`install`](Setup::install), leaving the caller to say that the console exporter was
    /// chosen by default (after it has set up `tracing` output).
    fn install_quietly(mut self) -> Result<Installed, SetupError> {
        let resolved = self.resolve()?;
        let processors = std::mem::take(&mut self.processors);
        let console = self.console.take();
        install::install(resolved, &self.sources(), console, processors)
    }
}

#[cfg(feature = "tracing")]
impl Setup {
    /// Installs the global tracer provider and propagator as [`install`](Setup::install) does,
    /// and a global `tracing` subscriber on the same provider, as
    /// [`init_tracing`](crate::init_tracing) describes (`RUST_LOG` read from the same
    /// variables as `OTEL_*`).
    pub fn install_tracing(self) -> Result<Guard, crate::tracing::InitError> {
        let rust_log = self.env.get("RUST_LOG").cloned();
        let installed =
            crate::tracing::init::install(rust_log.as_deref(), || self.install_quietly())?;
        Ok(installed.announced())
    }
}

/// Installs the global tracer provider and propagator from the environment; see the
/// [module documentation](self) for the variables read.
pub fn init() -> Result<Guard, SetupError> {
    Setup::new().install()
}
