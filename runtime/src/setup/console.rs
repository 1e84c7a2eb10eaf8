use opentelemetry::trace::{SpanId, SpanKind, Status};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use std::fmt::Write as _;
use std::io::Write;
use std::sync::{Arc, Mutex};

/// Writes one line per span: name, trace id, span id, **parent span id**, kind, status,
/// duration and attributes.
///
/// ```text
/// span "process orders" trace=4bf9…4736 span=00f0…02b7 parent=53ec…c1f2 kind=consumer status=unset 2.418ms messaging.system=rabbitmq
/// ```
#[derive(Clone)]
pub struct ConsoleExporter {
    output: Arc<Mutex<dyn Write + Send>>,
}

impl std::fmt::Debug for ConsoleExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConsoleExporter")
    }
}

impl ConsoleExporter {
    /// An exporter writing to `output`.
    pub fn new(output: Arc<Mutex<dyn Write + Send>>) -> Self {
        ConsoleExporter { output }
    }
}

/// The console line of one span.
pub fn line(span: &SpanData) -> String {
    let kind = match span.span_kind {
        SpanKind::Client => "client",
        SpanKind::Server => "server",
        SpanKind::Producer => "producer",
        SpanKind::Consumer => "consumer",
        SpanKind::Internal => "internal",
    };
    let status = match &span.status {
        Status::Unset => "unset".to_owned(),
        Status::Ok => "ok".to_owned(),
        Status::Error { description } => format!("error({description:?})"),
    };
    let parent = if span.parent_span_id == SpanId::INVALID {
        "-".to_owned()
    } else {
        span.parent_span_id.to_string()
    };
    let millis = span
        .end_time
        .duration_since(span.start_time)
        .unwrap_or_default()
        .as_secs_f64()
        * 1e3;
    let mut line = format!(
        "span {:?} trace={} span={} parent={parent} kind={kind} status={status} {millis:.3}ms",
        span.name,
        span.span_context.trace_id(),
        span.span_context.span_id(),
    );
    for kv in &span.attributes {
        let _ = write!(line, " {}={}", kv.key, kv.value);
    }
    line
}

impl SpanExporter for ConsoleExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let mut text = String::new();
        for span in &batch {
            text.push_str(&line(span));
            text.push('\n');
        }
        if let Ok(mut output) = self.output.lock() {
            let _ = output.write_all(text.as_bytes());
            let _ = output.flush();
        }
        Ok(())
    }
}
