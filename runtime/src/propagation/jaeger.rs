use opentelemetry::Context;
use opentelemetry::baggage::{Baggage, BaggageExt};
use opentelemetry::propagation::{
    Extractor, Injector, TextMapPropagator, text_map_propagator::FieldIter,
};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use std::sync::LazyLock;

const HEADER: &str = "uber-trace-id";
const BAGGAGE_PREFIX: &str = "uberctx-";

static FIELDS: LazyLock<[String; 1]> = LazyLock::new(|| [HEADER.to_owned()]);

/// Jaeger's `uber-trace-id: {trace-id}:{span-id}:{parent-span-id}:{flags}` header and its
/// `uberctx-{key}` baggage headers.
///
/// tracebound ships its own because `opentelemetry-jaeger-propagator` has no release for
/// OpenTelemetry 0.33. Trace ids of up to 32 and span ids of up to 16 hex digits are
/// accepted (shorter ones are zero-padded, as Jaeger clients write them); `:` may arrive
/// URL-encoded as `%3A`. Flags: bit 1 sampled, bit 2 debug (read as sampled). Baggage values
/// are URL-decoded when read and URL-encoded when written.
#[derive(Debug, Default, Clone, Copy)]
pub struct JaegerPropagator {
    _private: (),
}

impl JaegerPropagator {
    /// The propagator.
    pub fn new() -> Self {
        Self::default()
    }
}

fn hex_id<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.is_empty() || s.len() > N * 2 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let padded = format!("{s:0>width$}", width = N * 2);
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&padded[i * 2..i * 2 + 2], 16).ok()?;
    }
    Some(out)
}

pub(crate) fn parse(value: &str) -> Option<SpanContext> {
    let value = value.replace("%3A", ":").replace("%3a", ":");
    let mut parts = value.split(':');
    let (trace, span, _parent, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let trace_id = TraceId::from_bytes(hex_id::<16>(trace)?);
    let span_id = SpanId::from_bytes(hex_id::<8>(span)?);
    let flags = u8::from_str_radix(flags, 16).ok()?;
    if trace_id == TraceId::INVALID || span_id == SpanId::INVALID {
        return None;
    }
    let sampled = if flags & 0x03 != 0 {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::default()
    };
    Some(SpanContext::new(
        trace_id,
        span_id,
        sampled,
        true,
        TraceState::NONE,
    ))
}

impl TextMapPropagator for JaegerPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let span = cx.span();
        let sc = span.span_context();
        if sc.is_valid() {
            let flags = u8::from(sc.is_sampled());
            injector.set(
                HEADER,
                format!("{}:{}:0:{flags}", sc.trace_id(), sc.span_id()),
            );
        }
        for (key, (value, _)) in cx.baggage() {
            // URL-encoded, as Jaeger clients write them: a value may hold any character, a
            // header line may not.
            let mut encoded = String::with_capacity(value.as_str().len());
            super::baggage::encode(value.as_str(), &mut encoded);
            injector.set(&format!("{BAGGAGE_PREFIX}{}", key.as_str()), encoded);
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let mut cx = match extractor.get(HEADER).and_then(parse) {
            Some(sc) => cx.with_remote_span_context(sc),
            None => cx.clone(),
        };
        let entries: Vec<_> = extractor
            .keys()
            .into_iter()
            .filter_map(|key| {
                let name = key
                    .to_ascii_lowercase()
                    .strip_prefix(BAGGAGE_PREFIX)?
                    .to_owned();
                Some((name, super::baggage::decode(extractor.get(key)?)?))
            })
            .collect();
        if !entries.is_empty() {
            let mut baggage = Baggage::new();
            for (key, value) in entries.into_iter().take(super::baggage::MAX_MEMBERS) {
                baggage.insert(key, value);
            }
            cx = cx.with_baggage(baggage);
        }
        cx
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(&*FIELDS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn reads_short_ids_encoded_colons_and_baggage() {
        let carrier = HashMap::from([
            ("uber-trace-id".to_owned(), "abc%3A1f%3A0%3A1".to_owned()),
            ("uberctx-tenant".to_owned(), "acme".to_owned()),
        ]);
        let cx = JaegerPropagator::new().extract(&carrier);
        let span = cx.span();
        let sc = span.span_context();
        assert_eq!(sc.trace_id().to_string(), format!("{:0>32}", "abc"));
        assert_eq!(sc.span_id().to_string(), "000000000000001f");
        assert!(sc.is_sampled());
        assert_eq!(
            cx.baggage().get("tenant").map(|v| v.to_string()).as_deref(),
            Some("acme")
        );
    }

    #[test]
    fn baggage_values_are_encoded_so_no_header_can_be_split() {
        use opentelemetry::KeyValue;
        let cx = Context::new().with_baggage([KeyValue::new("note", "a\r\nX-Evil: 1\0")]);
        let mut out = HashMap::new();
        JaegerPropagator::new().inject_context(&cx, &mut out);
        let written = &out["uberctx-note"];
        assert!(!written.contains(['\r', '\n', '\0', ' ']), "{written:?}");
        let back = JaegerPropagator::new().extract(&out);
        assert_eq!(
            back.baggage().get("note").map(|v| v.to_string()).as_deref(),
            Some("a\r\nX-Evil: 1\0")
        );
    }

    #[test]
    fn rejects_malformed_headers_and_round_trips() {
        for bad in [
            "",
            "1:2:3",
            "1:2:3:4:5",
            "0:1:0:1",
            "1:0:0:1",
            "xyz:1:0:1",
            &"f".repeat(33),
        ] {
            assert!(parse(bad).is_none(), "{bad:?}");
        }
        let carrier = HashMap::from([(
            "uber-trace-id".to_owned(),
            "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1".to_owned(),
        )]);
        let cx = JaegerPropagator::new().extract(&carrier);
        let mut out = HashMap::new();
        JaegerPropagator::new().inject_context(&cx, &mut out);
        assert_eq!(out["uber-trace-id"], carrier["uber-trace-id"]);
    }
}
