//! Log lines with the current trace and span ids.

use opentelemetry::Context;
use opentelemetry::trace::{SpanId, TraceContextExt, TraceId};
use std::fmt;
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{Format, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// An event formatter for `tracing_subscriber::fmt` that adds the current OpenTelemetry trace
/// and span ids to every line logged inside a trace (the innermost span's, whether tracebound's
/// or a tracing span's) and leaves other lines as they are.
///
/// [`TraceIds::new`] starts a text line with them (`trace_id=… span_id=… ` then the wrapped
/// format's line); [`TraceIds::json`] adds them as the first two fields of a JSON object line
/// (`{"trace_id":"…","span_id":"…",…}`), for `fmt::format().json()` in a
/// `fmt::layer().json()` (whose field formatter writes JSON); given a format that writes
/// text, it starts the line with them as `new` does. (`new` around a JSON format would make
/// the lines invalid JSON.)
///
/// The span list a fmt line shows (`request{…}: message`) holds tracing spans only; the ids
/// are the innermost span's, a tracebound span's included.
///
/// ```
/// use tracing_subscriber::{fmt, prelude::*};
///
/// let subscriber = tracing_subscriber::registry()
///     .with(tracebound::tracing::layer())
///     .with(fmt::layer().event_format(tracebound::tracing::TraceIds::new(fmt::format())));
/// # drop(subscriber);
/// ```
///
/// JSON (tracing-subscriber's `json` feature):
///
/// ```ignore
/// fmt::layer().json().event_format(TraceIds::json(fmt::format().json()))
/// ```
#[derive(Debug, Clone)]
pub struct TraceIds<F = Format> {
    inner: F,
    json: bool,
}

impl Default for TraceIds {
    fn default() -> Self {
        TraceIds::new(Format::default())
    }
}

impl<F> TraceIds<F> {
    /// `inner`'s text lines, each inside a trace starting with its trace and span ids.
    pub fn new(inner: F) -> Self {
        TraceIds { inner, json: false }
    }

    /// `inner`'s JSON lines, each inside a trace with `trace_id` and `span_id` fields.
    pub fn json(inner: F) -> Self {
        TraceIds { inner, json: true }
    }
}

/// The innermost span's trace and span ids, if it is valid.
pub(super) fn current_ids() -> Option<(TraceId, SpanId)> {
    Context::map_current(|cx| {
        let span = cx.span();
        let sc = span.span_context();
        sc.is_valid().then(|| (sc.trace_id(), sc.span_id()))
    })
}

impl<S, N, F> FormatEvent<S, N> for TraceIds<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let Some((trace_id, span_id)) = current_ids() else {
            return self.inner.format_event(ctx, writer, event);
        };
        if !self.json {
            write!(writer, "trace_id={trace_id} span_id={span_id} ")?;
            return self.inner.format_event(ctx, writer, event);
        }
        let mut line = String::new();
        self.inner
            .format_event(ctx, Writer::new(&mut line), event)?;
        match line.strip_prefix('{') {
            Some(rest) => {
                let comma = if rest.trim_start().starts_with('}') {
                    ""
                } else {
                    ","
                };
                write!(
                    writer,
                    "{{\"trace_id\":\"{trace_id}\",\"span_id\":\"{span_id}\"{comma}{rest}"
                )
            }
            // Not a JSON object after all: the ids as text, not lost.
            None => write!(writer, "trace_id={trace_id} span_id={span_id} {line}"),
        }
    }
}
