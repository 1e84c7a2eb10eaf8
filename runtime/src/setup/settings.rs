//! The first stage: environment variables and what the builder set in code, resolved into
//! checked settings ([`Resolved`]).

use crate::propagation;
use opentelemetry::KeyValue;
use opentelemetry_sdk::Resource;
use std::collections::HashMap;
use std::fmt;
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
///
/// Its `Debug` is its message, so that `fn main() -> Result<(), SetupError>` prints a sentence,
/// not a struct.
#[derive(Clone, PartialEq, Eq)]
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

impl fmt::Debug for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for SetupError {}

pub(super) fn invalid(variable: &str, value: &str, accepted: &str) -> SetupError {
    SetupError {
        variable: variable.to_owned(),
        value: value.to_owned(),
        accepted: accepted.to_owned(),
    }
}

/// What [`Setup`](super::Setup) set in code; it wins over the environment.
#[derive(Default)]
pub(super) struct InCode {
    pub(super) service_name: Option<String>,
    pub(super) exporter: Option<Exporter>,
    pub(super) propagators: Option<Vec<Propagator>>,
    pub(super) sampler: Option<SamplerChoice>,
    pub(super) attributes: Vec<KeyValue>,
    pub(super) batch: Option<Batch>,
}

/// The settings in code and the `OTEL_*` variables, read together.
pub(super) struct Sources<'a> {
    pub(super) code: &'a InCode,
    pub(super) env: &'a HashMap<String, String>,
}

impl Sources<'_> {
    pub(super) fn var(&self, name: &str) -> Option<&str> {
        self.env
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    pub(super) fn resolve(&self) -> Result<Resolved, SetupError> {
        Ok(Resolved {
            resource: self.resource()?,
            exporter: self.exporter()?,
            propagators: self.propagators()?,
            sampler: self.sampler()?,
            batch: self.batch()?,
        })
    }

    pub(super) fn resource(&self) -> Result<Resource, SetupError> {
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
        for attribute in &self.code.attributes {
            attributes.retain(|kv: &KeyValue| kv.key != attribute.key);
            attributes.push(attribute.clone());
        }
        let name = self
            .code
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

    pub(super) fn exporter(&self) -> Result<Exporter, SetupError> {
        if let Some(exporter) = self.code.exporter {
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

    pub(super) fn propagators(&self) -> Result<Vec<Propagator>, SetupError> {
        if let Some(list) = &self.code.propagators {
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

    pub(super) fn sampler(&self) -> Result<SamplerChoice, SetupError> {
        if let Some(sampler) = self.code.sampler {
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

    pub(super) fn batch(&self) -> Result<Batch, SetupError> {
        if let Some(batch) = self.code.batch {
            return batch.validated(false);
        }
        let number = |variable: &str, default: u64| -> Result<u64, SetupError> {
            match self.var(variable) {
                None => Ok(default),
                Some(value) => value
                    .parse::<u64>()
                    .map_err(|_| invalid(variable, value, "a non-negative integer")),
            }
        };
        Batch {
            schedule_delay: Duration::from_millis(number("OTEL_BSP_SCHEDULE_DELAY", 5000)?),
            max_queue_size: number("OTEL_BSP_MAX_QUEUE_SIZE", 2048)? as usize,
            max_export_batch_size: number("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512)? as usize,
            export_timeout: Duration::from_millis(number("OTEL_BSP_EXPORT_TIMEOUT", 30000)?),
        }
        .validated(true)
    }
}

/// A checked configuration; see [`Setup::resolve`](super::Setup::resolve).
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
    /// How long one export may take: the OTLP exporter's request timeout (the lower of this
    /// and `OTEL_EXPORTER_OTLP_TIMEOUT`). The console exporter writes synchronously and is not
    /// bounded by it.
    pub export_timeout: Duration,
}

impl Batch {
    /// The batch if its sizes hold together; the error names the variable, or the field when
    /// the batch was set in code.
    fn validated(self, from_env: bool) -> Result<Batch, SetupError> {
        let name =
            |variable: &'static str, field: &'static str| if from_env { variable } else { field };
        if self.max_queue_size == 0 {
            return Err(invalid(
                name("OTEL_BSP_MAX_QUEUE_SIZE", "Batch::max_queue_size"),
                "0",
                "a positive integer",
            ));
        }
        if self.max_export_batch_size == 0 || self.max_export_batch_size > self.max_queue_size {
            return Err(invalid(
                name(
                    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
                    "Batch::max_export_batch_size",
                ),
                &self.max_export_batch_size.to_string(),
                &format!(
                    "a positive integer at most the queue size ({})",
                    self.max_queue_size
                ),
            ));
        }
        if self.export_timeout.is_zero() {
            return Err(invalid(
                name("OTEL_BSP_EXPORT_TIMEOUT", "Batch::export_timeout"),
                "0",
                "a positive number of milliseconds",
            ));
        }
        Ok(self)
    }
}
