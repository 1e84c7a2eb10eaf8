//! Looking at the context at a suspect boundary.

use opentelemetry::Context;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::TraceContextExt;

/// One line describing the current context: trace id, span id, sampled flag, whether the span
/// is remote (extracted from a carrier) or local, and the baggage keys (never their values).
///
/// ```
/// assert_eq!(tracebound::debug::describe(), "no span; baggage: none");
/// ```
pub fn describe() -> String {
    Context::map_current(describe_context)
}

/// [`describe`] for a given context.
pub fn describe_context(cx: &Context) -> String {
    let span = cx.span();
    let sc = span.span_context();
    let mut keys: Vec<&str> = cx.baggage().iter().map(|(k, _)| k.as_str()).collect();
    keys.sort_unstable();
    let baggage = if keys.is_empty() {
        "none".to_owned()
    } else {
        keys.join(",")
    };
    if !sc.is_valid() {
        return format!("no span; baggage: {baggage}");
    }
    format!(
        "trace {} span {} {} {}; baggage: {baggage}",
        sc.trace_id(),
        sc.span_id(),
        if sc.is_sampled() {
            "sampled"
        } else {
            "not sampled"
        },
        if sc.is_remote() { "remote" } else { "local" },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::KeyValue;
    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};

    #[test]
    fn describes_ids_flags_origin_and_baggage_keys() {
        let sc = SpanContext::new(
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
            SpanId::from_hex("00f067aa0ba902b7").unwrap(),
            TraceFlags::SAMPLED,
            true,
            TraceState::NONE,
        );
        let cx = Context::new().with_remote_span_context(sc).with_baggage([
            KeyValue::new("tenant", "secret-value"),
            KeyValue::new("a", "b"),
        ]);
        assert_eq!(
            describe_context(&cx),
            "trace 4bf92f3577b34da6a3ce929d0e0e4736 span 00f067aa0ba902b7 sampled remote; baggage: a,tenant"
        );
    }
}
