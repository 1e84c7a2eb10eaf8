//! The OTLP exporter (feature `otlp`), over `http/protobuf` or `http/json`.

use super::settings::{SetupError, Sources, invalid};
use std::time::Duration;

/// The OTLP exporter the variables describe, each request bounded by `timeout` (the batch's
/// export timeout) or by `OTEL_EXPORTER_OTLP_TIMEOUT`, whichever is lower.
#[cfg(feature = "otlp")]
pub(super) fn exporter(
    sources: &Sources<'_>,
    timeout: Duration,
) -> Result<opentelemetry_otlp::SpanExporter, SetupError> {
    use opentelemetry_otlp::{Protocol, WithExportConfig};
    let variable = [
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
    ]
    .into_iter()
    .find(|v| sources.var(v).is_some());
    let protocol = match variable.and_then(|v| sources.var(v)) {
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
        .with_protocol(protocol)
        .with_timeout(timeout.min(request_timeout(sources)?));
    for variable in [
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    ] {
        if let Some(url) = sources.var(variable) {
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

/// `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT`, else `OTEL_EXPORTER_OTLP_TIMEOUT`, else 10 seconds.
#[cfg(feature = "otlp")]
fn request_timeout(sources: &Sources<'_>) -> Result<Duration, SetupError> {
    for variable in [
        "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
        "OTEL_EXPORTER_OTLP_TIMEOUT",
    ] {
        if let Some(value) = sources.var(variable) {
            return value
                .parse::<u64>()
                .map(Duration::from_millis)
                .map_err(|_| invalid(variable, value, "a number of milliseconds"));
        }
    }
    Ok(Duration::from_secs(10))
}

/// Without the `otlp` feature there is no OTLP exporter: asking for one is an error.
#[cfg(not(feature = "otlp"))]
pub(super) fn exporter(_: &Sources<'_>, _: Duration) -> Result<NoOtlp, SetupError> {
    Err(invalid(
        "OTEL_TRACES_EXPORTER",
        "otlp",
        "`console` or `none` (enable tracebound's `otlp` feature for `otlp`)",
    ))
}

/// The exporter `otlp` would give without the `otlp` feature: there is none.
#[cfg(not(feature = "otlp"))]
#[derive(Debug)]
pub(super) enum NoOtlp {}

#[cfg(not(feature = "otlp"))]
impl opentelemetry_sdk::trace::SpanExporter for NoOtlp {
    async fn export(
        &self,
        _batch: Vec<opentelemetry_sdk::trace::SpanData>,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        match *self {}
    }
}
