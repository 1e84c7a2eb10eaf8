use crate::carrier::MAX_VALUE_LEN;
use opentelemetry::Context;
use opentelemetry::propagation::{
    Extractor, Injector, TextMapPropagator, text_map_propagator::FieldIter,
};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use std::str::FromStr;
use std::sync::LazyLock;

const TRACEPARENT: &str = "traceparent";
const TRACESTATE: &str = "tracestate";

static FIELDS: LazyLock<[String; 2]> =
    LazyLock::new(|| [TRACEPARENT.to_owned(), TRACESTATE.to_owned()]);

/// W3C Trace Context: the `traceparent` and `tracestate` headers.
///
/// An invalid `traceparent` (wrong length, version `ff`, non-lowercase or non-hex digits,
/// all-zero ids) is ignored, so the context starts fresh. A `traceparent` of a higher version is
/// read by its first four fields, as the specification asks. An invalid `tracestate` is dropped
/// while the `traceparent` is kept.
#[derive(Debug, Default, Clone, Copy)]
pub struct TraceContextPropagator {
    _private: (),
}

impl TraceContextPropagator {
    /// The propagator.
    pub fn new() -> Self {
        Self::default()
    }
}

/// The span context in a `traceparent` value, if it is valid.
pub(crate) fn parse_traceparent(value: &str) -> Option<SpanContext> {
    let value = value.trim_matches(|c| c == ' ' || c == '\t');
    let bytes = value.as_bytes();
    if bytes.len() < 55 || !value.is_ascii() {
        return None;
    }
    let version = &value[0..2];
    if !is_lower_hex(version) || version == "ff" {
        return None;
    }
    // Version 00 is exactly 55 characters; a later version may append `-…` fields.
    if (version == "00" && bytes.len() != 55) || (bytes.len() > 55 && bytes[55] != b'-') {
        return None;
    }
    if bytes[2] != b'-' || bytes[35] != b'-' || bytes[52] != b'-' {
        return None;
    }
    let (trace_id, span_id, flags) = (&value[3..35], &value[36..52], &value[53..55]);
    if !is_lower_hex(trace_id) || !is_lower_hex(span_id) || !is_lower_hex(flags) {
        return None;
    }
    let trace_id = TraceId::from_hex(trace_id).ok()?;
    let span_id = SpanId::from_hex(span_id).ok()?;
    let flags = u8::from_str_radix(flags, 16).ok()?;
    if trace_id == TraceId::INVALID || span_id == SpanId::INVALID {
        return None;
    }
    // Sampled (0x01) and random trace id (0x02, Level 2) are the flags defined so far.
    let flags = TraceFlags::new(flags & 0x03);
    Some(SpanContext::new(
        trace_id,
        span_id,
        flags,
        true,
        TraceState::NONE,
    ))
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl TextMapPropagator for TraceContextPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let span = cx.span();
        let sc = span.span_context();
        if !sc.is_valid() {
            return;
        }
        injector.set(
            TRACEPARENT,
            format!(
                "00-{}-{}-{:02x}",
                sc.trace_id(),
                sc.span_id(),
                sc.trace_flags().to_u8() & 0x03
            ),
        );
        let state = sc.trace_state().header();
        if !state.is_empty() {
            injector.set(TRACESTATE, state);
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let parents = extractor.get_all(TRACEPARENT).unwrap_or_default();
        // Two different `traceparent` values cannot both be the parent: trust neither.
        let Some(sc) = (match parents.as_slice() {
            [one] => parse_traceparent(one),
            [first, rest @ ..] if rest.iter().all(|p| p == first) => parse_traceparent(first),
            _ => None,
        }) else {
            return cx.clone();
        };
        let states = extractor.get_all(TRACESTATE).unwrap_or_default();
        let joined = states.join(",");
        let state = if joined.len() <= MAX_VALUE_LEN {
            TraceState::from_str(&joined).unwrap_or_default()
        } else {
            TraceState::NONE
        };
        let sc = SpanContext::new(sc.trace_id(), sc.span_id(), sc.trace_flags(), true, state);
        cx.with_remote_span_context(sc)
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(&*FIELDS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn parses_a_valid_traceparent() {
        let sc = parse_traceparent(VALID).unwrap();
        assert_eq!(
            sc.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(sc.span_id().to_string(), "00f067aa0ba902b7");
        assert!(sc.is_sampled());
        assert!(sc.is_remote());
    }

    #[test]
    fn rejects_malformed_traceparents() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
            "0é-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",
        ] {
            assert!(
                parse_traceparent(bad).is_none(),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn a_higher_version_is_read_by_its_known_fields() {
        assert!(
            parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").is_some()
        );
        assert!(
            parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-xyz")
                .is_some()
        );
        assert!(
            parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01xyz")
                .is_none()
        );
    }

    #[test]
    fn round_trips_with_tracestate() {
        let propagator = TraceContextPropagator::new();
        let carrier = HashMap::from([
            (TRACEPARENT.to_owned(), VALID.to_owned()),
            (
                TRACESTATE.to_owned(),
                "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7".to_owned(),
            ),
        ]);
        let cx = propagator.extract(&carrier);
        let mut out = HashMap::new();
        propagator.inject_context(&cx, &mut out);
        assert_eq!(out[TRACEPARENT], VALID);
        assert_eq!(out[TRACESTATE], "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
    }

    #[test]
    fn an_invalid_tracestate_keeps_the_parent() {
        let carrier = HashMap::from([
            (TRACEPARENT.to_owned(), VALID.to_owned()),
            (TRACESTATE.to_owned(), "not a valid=state=".to_owned()),
        ]);
        let cx = TraceContextPropagator::new().extract(&carrier);
        assert!(cx.span().span_context().is_valid());
        assert_eq!(cx.span().span_context().trace_state().header(), "");
    }
}

/// W3C Trace Context Level 2, section by section, as a receiving and forwarding service.
#[cfg(test)]
mod conformance {
    use super::*;

    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const PARENT: &str = "00f067aa0ba902b7";

    /// Headers as a repeating carrier would hold them (HTTP may repeat `tracestate`).
    struct Headers(Vec<(&'static str, String)>);

    impl Extractor for Headers {
        fn get(&self, key: &str) -> Option<&str> {
            self.0
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.as_str())
        }
        fn keys(&self) -> Vec<&str> {
            self.0.iter().map(|(k, _)| *k).collect()
        }
        fn get_all(&self, key: &str) -> Option<Vec<&str>> {
            let all: Vec<&str> = self
                .0
                .iter()
                .filter(|(k, _)| *k == key)
                .map(|(_, v)| v.as_str())
                .collect();
            (!all.is_empty()).then_some(all)
        }
    }

    fn extract(headers: &[(&'static str, &str)]) -> SpanContext {
        let carrier = Headers(headers.iter().map(|(k, v)| (*k, v.to_string())).collect());
        let cx = TraceContextPropagator::new().extract(&carrier);
        cx.span().span_context().clone()
    }

    fn forwarded(headers: &[(&'static str, &str)]) -> HashMap<String, String> {
        let carrier = Headers(headers.iter().map(|(k, v)| (*k, v.to_string())).collect());
        let cx = TraceContextPropagator::new().extract(&carrier);
        let mut out = HashMap::new();
        TraceContextPropagator::new().inject_context(&cx, &mut out);
        out
    }

    use std::collections::HashMap;

    fn tp(version: &str, trace: &str, parent: &str, flags: &str) -> String {
        format!("{version}-{trace}-{parent}-{flags}")
    }

    #[test]
    fn version_00_is_exactly_55_characters_and_ff_is_invalid() {
        assert!(extract(&[("traceparent", &tp("00", TRACE, PARENT, "01"))]).is_valid());
        assert!(!extract(&[("traceparent", &(tp("00", TRACE, PARENT, "01") + "-00"))]).is_valid());
        assert!(!extract(&[("traceparent", &tp("ff", TRACE, PARENT, "01"))]).is_valid());
    }

    #[test]
    fn a_higher_version_is_parsed_by_the_version_00_fields() {
        // §3.2.4: "If a higher version is detected, the implementation SHOULD try to parse it
        // by trying the following: the first 55 characters as version 00, then `-` or end".
        assert!(extract(&[("traceparent", &tp("cc", TRACE, PARENT, "01"))]).is_valid());
        assert!(
            extract(&[(
                "traceparent",
                &(tp("cc", TRACE, PARENT, "01") + "-what-the-future")
            )])
            .is_valid()
        );
        assert!(!extract(&[("traceparent", &(tp("cc", TRACE, PARENT, "01") + "what"))]).is_valid());
    }

    #[test]
    fn ids_must_be_lowercase_hex_of_the_right_length_and_not_all_zero() {
        let upper = TRACE.to_uppercase();
        for (trace, parent) in [
            (upper.as_str(), PARENT),
            (TRACE, "00F067AA0BA902B7"),
            ("00000000000000000000000000000000", PARENT),
            (TRACE, "0000000000000000"),
            (&TRACE[1..], PARENT),
            (TRACE, &PARENT[1..]),
        ] {
            assert!(
                !extract(&[("traceparent", &tp("00", trace, parent, "01"))]).is_valid(),
                "{trace} {parent}"
            );
        }
        assert!(!extract(&[("traceparent", &tp("00", TRACE, PARENT, "0g"))]).is_valid());
    }

    #[test]
    fn sampled_and_random_flags_are_kept_others_dropped() {
        assert!(extract(&[("traceparent", &tp("00", TRACE, PARENT, "01"))]).is_sampled());
        assert!(!extract(&[("traceparent", &tp("00", TRACE, PARENT, "00"))]).is_sampled());
        let out = forwarded(&[("traceparent", &tp("00", TRACE, PARENT, "03"))]);
        assert_eq!(
            out["traceparent"],
            tp("00", TRACE, PARENT, "03"),
            "the random flag (0x02) is propagated"
        );
        let out = forwarded(&[("traceparent", &tp("00", TRACE, PARENT, "ff"))]);
        assert_eq!(out["traceparent"], tp("00", TRACE, PARENT, "03"));
    }

    #[test]
    fn a_repeated_traceparent_is_accepted_only_if_identical() {
        let one = tp("00", TRACE, PARENT, "01");
        let other = tp("00", TRACE, "b7ad6b7169203331", "01");
        assert!(extract(&[("traceparent", &one), ("traceparent", &one)]).is_valid());
        assert!(!extract(&[("traceparent", &one), ("traceparent", &other)]).is_valid());
    }

    #[test]
    fn repeated_tracestate_headers_are_combined_in_order() {
        let out = forwarded(&[
            ("traceparent", &tp("00", TRACE, PARENT, "01")),
            ("tracestate", "rojo=00f067aa0ba902b7"),
            ("tracestate", "congo=t61rcWkgMzE"),
        ]);
        assert_eq!(out["tracestate"], "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
    }

    #[test]
    fn tracestate_grammar_and_limits() {
        let parent = tp("00", TRACE, PARENT, "01");
        // Multi-tenant keys and empty list members are valid; OWS around members is trimmed.
        let out = forwarded(&[
            ("traceparent", &parent),
            ("tracestate", "fw529a3039@dt=ok ,, t61rcwkgmze@congo=1"),
        ]);
        assert_eq!(out["tracestate"], "fw529a3039@dt=ok,t61rcwkgmze@congo=1");
        // An invalid key drops the whole tracestate, never the traceparent.
        let out = forwarded(&[("traceparent", &parent), ("tracestate", "UPPER=1,ok=2")]);
        assert!(!out.contains_key("tracestate"));
        assert_eq!(out["traceparent"], parent);
        // At most 32 members are kept.
        let many: Vec<String> = (0..40).map(|i| format!("k{i}=v")).collect();
        let out = forwarded(&[("traceparent", &parent), ("tracestate", &many.join(","))]);
        assert_eq!(out["tracestate"].split(',').count(), 32);
    }
}
