//! Setup in one call for services that log through `tracing`.

use super::{TraceIds, layer, otel};
use crate::setup::{Guard, Installed, Setup, SetupError};
use opentelemetry::trace::TracerProvider as _;
use std::fmt;
use std::io::IsTerminal;
use tracing::level_filters::LevelFilter;
use tracing_log::AsLog;
use tracing_subscriber::filter::FilterExt;
use tracing_subscriber::layer::Filter;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{EnvFilter, Layer as _, fmt as tracing_fmt, prelude::*};

/// Installs what [`init`](crate::init) installs — the global tracer provider and propagator
/// from `OTEL_*` — **and** a global `tracing` subscriber on the same provider, so that
/// `tracing` and tracebound record into one trace and export to one place:
///
/// - tracing-opentelemetry's layer with the provider's tracer, wrapped in [`otel`], and
///   [`layer()`](super::layer()) (parents across tracing spans, events on tracebound spans),
///   both seeing every span and event at `INFO` or above, and whatever else `RUST_LOG` lets
///   through: log verbosity never takes a span out of a trace;
/// - a fmt layer writing to standard output with [`TraceIds`] on each line (colored on a
///   terminal), filtered by an `EnvFilter` from `RUST_LOG` (`info` when unset);
/// - `tracing-log`'s `LogTracer`, so records of the `log` crate are `tracing` events too
///   (unless a `log` logger is set already, which it then says).
///
/// For JSON lines, another writer or other filters, build the subscriber from the pieces (see
/// the [module documentation](super)) and call [`init`](crate::init).
///
/// It returns the same [`Guard`] as `init`. A global subscriber that is already set is an
/// error, found before anything is installed; so is a `RUST_LOG` that `EnvFilter` does not
/// accept.
/// [`Setup::install_tracing`] does the same with the builder's settings.
///
/// ```no_run
/// fn main() -> Result<(), tracebound::tracing::InitError> {
///     let _telemetry = tracebound::init_tracing()?;
///     tracing::info!("logged, and recorded on the current span");
///     Ok(())
/// }
/// ```
pub fn init_tracing() -> Result<Guard, InitError> {
    Setup::new().install_tracing()
}

/// Why [`init_tracing`] installed nothing.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InitError {
    /// An `OTEL_*` variable (or builder setting) with a value tracebound does not accept.
    Setup(SetupError),
    /// `RUST_LOG` holds directives `EnvFilter` does not accept.
    Filter {
        /// The value of `RUST_LOG`.
        value: String,
        /// `EnvFilter`'s reason.
        reason: String,
    },
    /// A global `tracing` subscriber was set already (by `tracing::subscriber::set_global_default`,
    /// `tracing_subscriber`'s `init()` or `try_init()`, or an earlier `init_tracing`).
    SubscriberSet,
}

impl From<SetupError> for InitError {
    fn from(e: SetupError) -> Self {
        InitError::Setup(e)
    }
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InitError::Setup(e) => fmt::Display::fmt(e, f),
            InitError::Filter { value, reason } => {
                write!(
                    f,
                    "RUST_LOG={value:?} is not accepted by EnvFilter: {reason}"
                )
            }
            InitError::SubscriberSet => f.write_str(
                "a global tracing subscriber is already set, so tracebound::init_tracing set \
                 none and installed nothing: either drop the other set_global_default / \
                 tracing_subscriber init() call, or keep that subscriber and add \
                 tracebound::tracing::layer() (and TraceIds for log lines) to it, with \
                 tracebound::init() for the provider",
            ),
        }
    }
}

impl fmt::Debug for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for InitError {}

/// `RUST_LOG`'s filter, `info` when it is unset or blank.
fn env_filter(rust_log: Option<&str>) -> Result<EnvFilter, InitError> {
    match rust_log.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(EnvFilter::new("info")),
        Some(value) => EnvFilter::builder()
            .parse(value)
            .map_err(|e| InitError::Filter {
                value: value.to_owned(),
                reason: e.to_string(),
            }),
    }
}

/// What goes to OpenTelemetry: every span and event at `INFO` or above, and whatever else
/// `RUST_LOG` lets through. Log verbosity never takes a span out of a trace.
fn trace_filter<S>(rust_log: Option<&str>) -> Result<impl Filter<S> + use<S>, InitError>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    Ok(LevelFilter::INFO.or(env_filter(rust_log)?))
}

/// Installs, with the provider and propagator `install` installs, the subscriber on that
/// provider.
pub(crate) fn install(
    rust_log: Option<&str>,
    install: impl FnOnce() -> Result<Installed, SetupError>,
) -> Result<Installed, InitError> {
    if tracing::dispatcher::has_been_set() {
        return Err(InitError::SubscriberSet);
    }
    let logs = env_filter(rust_log)?;
    let (traces, traces_too) = (trace_filter(rust_log)?, trace_filter(rust_log)?);
    let installed = install()?;
    let tracer = installed.guard.provider().tracer("tracing");
    let otel = otel(tracing_opentelemetry::layer().with_tracer(tracer));
    let lines = tracing_fmt::layer()
        .with_ansi(std::io::stdout().is_terminal())
        .event_format(TraceIds::new(tracing_fmt::format()));
    let subscriber = tracing_subscriber::registry()
        .with(otel.with_filter(traces))
        .with(layer().with_filter(traces_too))
        .with(lines.with_filter(logs));
    tracing::subscriber::set_global_default(subscriber).map_err(|_| InitError::SubscriberSet)?;
    let max_level = LevelFilter::current().as_log();
    if tracing_log::LogTracer::builder()
        .with_max_level(max_level)
        .init()
        .is_err()
    {
        tracing::warn!(
            target: "tracebound",
            "a `log` logger is already set, so records of the `log` crate go to it rather than \
             to tracing (and are not recorded on spans)"
        );
    }
    Ok(installed)
}
