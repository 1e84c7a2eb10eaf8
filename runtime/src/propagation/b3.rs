use opentelemetry::Context;
use opentelemetry::propagation::{
    Extractor, Injector, TextMapPropagator, text_map_propagator::FieldIter,
};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use std::sync::LazyLock;

const SINGLE: &str = "b3";
const TRACE_ID: &str = "x-b3-traceid";
const SPAN_ID: &str = "x-b3-spanid";
const SAMPLED: &str = "x-b3-sampled";
const FLAGS: &str = "x-b3-flags";
const PARENT: &str = "x-b3-parentspanid";

static SINGLE_FIELDS: LazyLock<[String; 1]> = LazyLock::new(|| [SINGLE.to_owned()]);
static MULTI_FIELDS: LazyLock<[String; 5]> =
    LazyLock::new(|| [TRACE_ID, SPAN_ID, SAMPLED, FLAGS, PARENT].map(str::to_owned));

/// Zipkin B3 propagation, single header (`b3: {trace}-{span}-{sampled}-{parent}`) or multiple
/// headers (`x-b3-traceid`, `x-b3-spanid`, `x-b3-sampled`, `x-b3-flags`).
///
/// tracebound ships its own because the `opentelemetry-zipkin` crate that held the B3
/// propagator is deprecated in OpenTelemetry 0.33. Both encodings are read whichever one this
/// propagator writes (the single header first), as the B3 specification asks of extractors.
/// 64-bit trace ids are zero-padded to 128 bits; `d` (debug) and `true` read as sampled.
#[derive(Debug, Default, Clone, Copy)]
pub struct B3Propagator {
    multiple: bool,
}

impl B3Propagator {
    /// Writes the single `b3` header.
    pub fn single() -> Self {
        B3Propagator { multiple: false }
    }

    /// Writes the `x-b3-*` headers.
    pub fn multiple() -> Self {
        B3Propagator { multiple: true }
    }
}

fn lower_hex(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn trace_id(s: &str) -> Option<TraceId> {
    (lower_hex(s, 32) && (s.len() == 16 || s.len() == 32))
        .then(|| TraceId::from_hex(s).ok())
        .flatten()
        .filter(|id| *id != TraceId::INVALID)
}

fn span_id(s: &str) -> Option<SpanId> {
    (lower_hex(s, 16) && s.len() == 16)
        .then(|| SpanId::from_hex(s).ok())
        .flatten()
        .filter(|id| *id != SpanId::INVALID)
}

fn sampled(s: Option<&str>) -> Option<bool> {
    match s {
        None => Some(true),
        Some("1" | "d" | "true") => Some(true),
        Some("0" | "false") => Some(false),
        Some(_) => None,
    }
}

fn context(trace: TraceId, span: SpanId, sampled: bool) -> SpanContext {
    let flags = if sampled {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::default()
    };
    SpanContext::new(trace, span, flags, true, TraceState::NONE)
}

pub(crate) fn parse_single(value: &str) -> Option<SpanContext> {
    let mut parts = value.trim().split('-');
    let trace = trace_id(parts.next()?)?;
    let span = span_id(parts.next()?)?;
    let state = sampled(parts.next())?;
    if let Some(parent) = parts.next() {
        span_id(parent)?;
    }
    parts.next().is_none().then(|| context(trace, span, state))
}

fn parse_multiple(extractor: &dyn Extractor) -> Option<SpanContext> {
    let trace = trace_id(extractor.get(TRACE_ID)?.trim())?;
    let span = span_id(extractor.get(SPAN_ID)?.trim())?;
    let debug = extractor.get(FLAGS).map(str::trim) == Some("1");
    let state = debug || sampled(extractor.get(SAMPLED).map(str::trim))?;
    Some(context(trace, span, state))
}

impl TextMapPropagator for B3Propagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let span = cx.span();
        let sc = span.span_context();
        if !sc.is_valid() {
            return;
        }
        let flag = if sc.is_sampled() { "1" } else { "0" };
        if self.multiple {
            injector.set(TRACE_ID, sc.trace_id().to_string());
            injector.set(SPAN_ID, sc.span_id().to_string());
            injector.set(SAMPLED, flag.to_owned());
        } else {
            injector.set(SINGLE, format!("{}-{}-{flag}", sc.trace_id(), sc.span_id()));
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let found = extractor
            .get(SINGLE)
            .and_then(parse_single)
            .or_else(|| parse_multiple(extractor));
        match found {
            Some(sc) => cx.with_remote_span_context(sc),
            None => cx.clone(),
        }
    }

    fn fields(&self) -> FieldIter<'_> {
        if self.multiple {
            FieldIter::new(&*MULTI_FIELDS)
        } else {
            FieldIter::new(&*SINGLE_FIELDS)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const SPAN: &str = "00f067aa0ba902b7";

    #[test]
    fn single_and_multiple_round_trip_and_read_each_other() {
        for writer in [B3Propagator::single(), B3Propagator::multiple()] {
            let carrier = HashMap::from([(SINGLE.to_owned(), format!("{TRACE}-{SPAN}-1"))]);
            let cx = B3Propagator::single().extract(&carrier);
            let mut out = HashMap::new();
            writer.inject_context(&cx, &mut out);
            for reader in [B3Propagator::single(), B3Propagator::multiple()] {
                let back = reader.extract(&out);
                assert_eq!(back.span().span_context().trace_id().to_string(), TRACE);
                assert_eq!(back.span().span_context().span_id().to_string(), SPAN);
                assert!(back.span().span_context().is_sampled());
            }
        }
    }

    #[test]
    fn reads_64_bit_ids_debug_and_rejects_garbage() {
        let sc = parse_single(&format!("a3ce929d0e0e4736-{SPAN}-d-{SPAN}")).unwrap();
        assert_eq!(
            sc.trace_id().to_string(),
            "0000000000000000a3ce929d0e0e4736"
        );
        assert!(sc.is_sampled());
        assert!(
            !parse_single(&format!("{TRACE}-{SPAN}-0"))
                .unwrap()
                .is_sampled()
        );
        for bad in [
            "0",
            "",
            "x-y",
            &format!("{TRACE}-{SPAN}-2"),
            &format!("{}-{SPAN}", TRACE.to_uppercase()),
        ] {
            assert!(parse_single(bad).is_none(), "{bad:?}");
        }
    }
}
