use super::tracestate;
use opentelemetry::Context;
use opentelemetry::propagation::{
    Extractor, Injector, TextMapPropagator, text_map_propagator::FieldIter,
};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use std::sync::LazyLock;

const TRACEPARENT: &str = "traceparent";
const TRACESTATE: &str = "tracestate";

/// Sampled (0x01) and random trace id (0x02, Level 2): the flags defined so far, the only ones
/// kept and sent.
const KNOWN_FLAGS: u8 = 0x03;

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
    let trace_id =
        u128::from(lower_hex(&bytes[3..19])?) << 64 | u128::from(lower_hex(&bytes[19..35])?);
    let trace_id = TraceId::from(trace_id);
    let span_id = SpanId::from(lower_hex(&bytes[36..52])?);
    let flags = lower_hex(&bytes[53..55])? as u8;
    if trace_id == TraceId::INVALID || span_id == SpanId::INVALID {
        return None;
    }
    let flags = TraceFlags::new(flags & KNOWN_FLAGS);
    Some(SpanContext::new(
        trace_id,
        span_id,
        flags,
        true,
        TraceState::NONE,
    ))
}

fn is_lower_hex(s: &str) -> bool {
    lower_hex(s.as_bytes()).is_some()
}

/// The value of at most 16 lowercase hex digits; `None` if any is not one.
fn lower_hex(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |value, &b| {
        let digit = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            _ => return None,
        };
        Some(value << 4 | u64::from(digit))
    })
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
                sc.trace_flags().to_u8() & KNOWN_FLAGS
            ),
        );
        if let Some(state) = tracestate::header(cx, sc.trace_id(), sc.trace_state()) {
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
        // The `tracestate` is read only with a valid `traceparent`, and an invalid one is
        // discarded whole while the `traceparent` is kept.
        let fields = extractor.get_all(TRACESTATE).unwrap_or_default();
        let (state, whole) = tracestate::receive(&fields);
        let sc = SpanContext::new(
            sc.trace_id(),
            sc.span_id(),
            sc.trace_flags(),
            true,
            state.clone(),
        );
        let cx = cx.with_remote_span_context(sc.clone());
        match whole {
            None => cx,
            Some(whole) => cx.with_value(tracestate::Received {
                trace_id: sc.trace_id(),
                held: state,
                whole,
            }),
        }
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

    /// One `tracestate` case: the header fields received with a valid `traceparent`, and the
    /// value forwarded (`None`: discarded, or empty).
    struct State<'a> {
        section: &'a str,
        fields: &'a [&'a str],
        forwarded: Option<&'a str>,
    }

    fn check_states(cases: &[State<'_>]) {
        let parent = tp("00", TRACE, PARENT, "01");
        for case in cases {
            let mut headers = vec![("traceparent", parent.as_str())];
            headers.extend(case.fields.iter().map(|f| ("tracestate", *f)));
            let out = forwarded(&headers);
            assert_eq!(
                out["traceparent"], parent,
                "{}: {:?}",
                case.section, case.fields
            );
            assert_eq!(
                out.get("tracestate").map(String::as_str),
                case.forwarded,
                "{}: {:?}",
                case.section,
                case.fields
            );
        }
    }

    #[test]
    fn tracestate_list_members_and_whitespace() {
        check_states(&[
            // § tracestate Header Field Values: "Spaces and horizontal tabs surrounding
            // list-members are ignored."
            State {
                section: "OWS around members",
                fields: &["foo=1 \t , \t bar=2, \t baz=3"],
                forwarded: Some("foo=1,bar=2,baz=3"),
            },
            State {
                section: "tabs and spaces mixed",
                fields: &["foo=1\t \t,\t \tbar=2,\t \tbaz=3"],
                forwarded: Some("foo=1,bar=2,baz=3"),
            },
            State {
                section: "leading and trailing OWS",
                fields: &["\t foo=1 \t"],
                forwarded: Some("foo=1"),
            },
            // "Empty and whitespace-only list members are allowed."
            State {
                section: "empty members",
                fields: &[",foo=1,, ,\t,bar=2,"],
                forwarded: Some("foo=1,bar=2"),
            },
            State {
                section: "whitespace-only header",
                fields: &[" \t "],
                forwarded: None,
            },
            // "Vendors MUST accept empty tracestate headers but SHOULD avoid sending them."
            State {
                section: "only empty members",
                fields: &[",,"],
                forwarded: None,
            },
            // Value: "All leading spaces MUST be preserved as part of the value."
            State {
                section: "leading space of a value",
                fields: &["foo= 1"],
                forwarded: Some("foo= 1"),
            },
            // § Combined Header Value / RFC 9110 field order: fields combined in order.
            State {
                section: "multiple fields in order",
                fields: &["foo=1,bar=2", "rojo=1,congo=2", "baz=3"],
                forwarded: Some("foo=1,bar=2,rojo=1,congo=2,baz=3"),
            },
            // Duplicated keys: the left one (the most recent position) is kept.
            State {
                section: "duplicated key",
                fields: &["foo=1,foo=2", "foo=3"],
                forwarded: Some("foo=1"),
            },
        ]);
    }

    #[test]
    fn tracestate_keys() {
        let key_256_chars = "z".repeat(256);
        let key_257 = format!("{key_256_chars}z=1");
        let key_256 = format!("{key_256_chars}=1");
        let leaked = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
        let key_256 = leaked(key_256);
        let key_257 = leaked(key_257);
        let tenant = leaked(format!("{}@{}=1", "t".repeat(241), "v".repeat(14)));
        let long_vendor = leaked(format!("t@{}=1", "v".repeat(15)));
        check_states(&[
            // § Key: `key = ( lcalpha / DIGIT ) 0*255 ( keychar )`.
            State {
                section: "every keychar",
                fields: &["abcdefghijklmnopqrstuvwxyz0123456789_-*/@a-z0-9_-*/=1"],
                forwarded: Some("abcdefghijklmnopqrstuvwxyz0123456789_-*/@a-z0-9_-*/=1"),
            },
            State {
                section: "a key may start with a digit",
                fields: &["0foo=1"],
                forwarded: Some("0foo=1"),
            },
            State {
                section: "256 characters",
                fields: &["foo=1", key_256],
                forwarded: Some(leaked(format!("foo=1,{key_256}"))),
            },
            State {
                section: "257 characters",
                fields: &["foo=1", key_257],
                forwarded: None,
            },
            State {
                section: "@ anywhere but first: foo@",
                fields: &["foo@=1,bar=2"],
                forwarded: Some("foo@=1,bar=2"),
            },
            State {
                section: "@ twice: foo@@bar",
                fields: &["foo@@bar=1,bar=2"],
                forwarded: Some("foo@@bar=1,bar=2"),
            },
            State {
                section: "@ twice: foo@bar@baz",
                fields: &["foo@bar@baz=1,bar=2"],
                forwarded: Some("foo@bar@baz=1,bar=2"),
            },
            State {
                section: "241 + @ + 14",
                fields: &["foo=1", tenant],
                forwarded: Some(leaked(format!("foo=1,{tenant}"))),
            },
            State {
                section: "vendor part of 15",
                fields: &["foo=1", long_vendor],
                forwarded: Some(leaked(format!("foo=1,{long_vendor}"))),
            },
            State {
                section: "@ first",
                fields: &["@foo=1,bar=2"],
                forwarded: None,
            },
            State {
                section: "uppercase",
                fields: &["FOO=1"],
                forwarded: None,
            },
            State {
                section: "a dot",
                fields: &["foo.bar=1"],
                forwarded: None,
            },
            State {
                section: "space before =",
                fields: &["foo =1"],
                forwarded: None,
            },
            State {
                section: "one bad key discards the whole list",
                fields: &["foo=1", "bar=2,BAZ=3"],
                forwarded: None,
            },
        ]);
    }

    #[test]
    fn tracestate_values() {
        let every: String = (0x20u8..=0x7e)
            .filter(|b| *b != b',' && *b != b'=')
            .map(char::from)
            .collect();
        let every = Box::leak(format!("foo={every}").into_boxed_str());
        let long = Box::leak(format!("foo={}", "v".repeat(256)).into_boxed_str());
        let too_long = Box::leak(format!("foo={}", "v".repeat(257)).into_boxed_str());
        check_states(&[
            // § Value: `value = 0*255(chr) nblk-chr`, `nblk-chr = %x21-2B / %x2D-3C / %x3E-7E`.
            State {
                section: "every allowed character",
                fields: &[every],
                forwarded: Some(every),
            },
            State {
                section: "256 characters",
                fields: &[long],
                forwarded: Some(long),
            },
            State {
                section: "257 characters",
                fields: &[too_long],
                forwarded: None,
            },
            State {
                section: "empty value",
                fields: &["foo=,bar=3"],
                forwarded: None,
            },
            State {
                section: "= in a value",
                fields: &["foo=bar=baz"],
                forwarded: None,
            },
            State {
                section: "no =",
                fields: &["foo"],
                forwarded: None,
            },
            State {
                section: "a tab inside a value",
                fields: &["foo=a\tb"],
                forwarded: None,
            },
            State {
                section: "non-ASCII",
                fields: &["foo=é"],
                forwarded: None,
            },
            State {
                section: "a control character",
                fields: &["foo=a\u{7f}"],
                forwarded: None,
            },
        ]);
    }

    #[test]
    fn tracestate_member_count() {
        let members = |n: usize| {
            (1..=n)
                .map(|i| format!("bar{i:02}={i:02}"))
                .collect::<Vec<_>>()
        };
        let leaked = |v: Vec<String>| -> &'static [&'static str] {
            Box::leak(
                v.into_iter()
                    .map(|s| &*Box::leak(s.into_boxed_str()))
                    .collect::<Vec<_>>()
                    .into_boxed_slice(),
            )
        };
        let thirty_two = members(32);
        let joined: &'static str = Box::leak(thirty_two.join(",").into_boxed_str());
        // Split over fields of 10 as the W3C test suite sends them.
        let fields =
            |all: Vec<String>| leaked(all.chunks(10).map(|c| c.join(",")).collect::<Vec<_>>());
        check_states(&[
            // § tracestate Header Field Values: "a maximum of 32 list-members"; counted across
            // all fields combined.
            State {
                section: "32 members over 4 fields",
                fields: fields(thirty_two.clone()),
                forwarded: Some(joined),
            },
            State {
                section: "33 members over 4 fields",
                fields: fields(members(33)),
                forwarded: None,
            },
            State {
                section: "32 members and empty ones",
                fields: leaked(vec![format!(",{joined},,"), " ".to_owned()]),
                forwarded: Some(joined),
            },
        ]);
    }

    #[test]
    fn tracestate_is_not_read_without_a_valid_traceparent() {
        // § Tracestate Header: "If the vendor failed to parse traceparent, it MUST NOT attempt
        // to parse tracestate."
        let out = forwarded(&[
            ("traceparent", &tp("00", TRACE, PARENT, "0g")),
            ("tracestate", "foo=1"),
        ]);
        assert!(out.is_empty());
    }
}

/// What a service that continues a trace sends on (spec/30-processing-model.md and § "Mutating
/// the tracestate Field"), with the SDK's spans in between.
#[cfg(all(test, feature = "sdk"))]
mod forwarding {
    use super::*;
    use opentelemetry::KeyValue;
    use opentelemetry::trace::{SpanKind, TraceContextExt, Tracer, TracerProvider};
    use opentelemetry_sdk::trace::{
        SamplingDecision, SamplingResult, SdkTracerProvider, ShouldSample,
    };
    use std::collections::HashMap;

    /// A sampler that writes its own `tracestate` entry, as a vendor does.
    #[derive(Debug, Clone)]
    struct Vendor;

    impl ShouldSample for Vendor {
        fn should_sample(
            &self,
            parent: Option<&Context>,
            _: TraceId,
            _: &str,
            _: &SpanKind,
            _: &[KeyValue],
            _: &[opentelemetry::trace::Link],
        ) -> SamplingResult {
            let state = parent
                .map(|cx| cx.span().span_context().trace_state().clone())
                .unwrap_or_default();
            SamplingResult {
                decision: SamplingDecision::RecordAndSample,
                attributes: Vec::new(),
                trace_state: state.insert("own", "x").unwrap(),
            }
        }
    }

    fn forward_through_vendor(tracestate: &str) -> String {
        let provider = SdkTracerProvider::builder().with_sampler(Vendor).build();
        let tracer = provider.tracer("t");
        let carrier = HashMap::from([
            (
                TRACEPARENT.to_owned(),
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned(),
            ),
            (TRACESTATE.to_owned(), tracestate.to_owned()),
        ]);
        let remote = TraceContextPropagator::new().extract(&carrier);
        let cx = remote.with_span(tracer.start_with_context("child", &remote));
        let mut out = HashMap::new();
        TraceContextPropagator::new().inject_context(&cx, &mut out);
        out.remove(TRACESTATE).unwrap_or_default()
    }

    #[test]
    fn the_own_entry_moves_to_the_left() {
        // § Mutating the tracestate Field: "Update key value pair: the modified key MUST be
        // moved to the beginning (left) of the list."
        assert_eq!(forward_through_vendor("a=1,own=old,b=2"), "own=x,a=1,b=2");
        // "Add a new key/value pair: the new key-value pair SHOULD be added to the beginning."
        assert_eq!(forward_through_vendor("a=1,b=2"), "own=x,a=1,b=2");
    }

    #[test]
    fn keys_opentelemetry_refuses_keep_their_place() {
        assert_eq!(
            forward_through_vendor("a=1,foo@@bar=2,b=3"),
            "own=x,a=1,foo@@bar=2,b=3"
        );
        assert_eq!(
            forward_through_vendor("own=old,foo@bar@baz=2"),
            "own=x,foo@bar@baz=2"
        );
    }

    #[test]
    fn the_rightmost_member_goes_above_32() {
        // "If adding an entry would cause the tracestate list to contain more than 32
        // list-members the right-most list-member should be removed from the list."
        let members: Vec<String> = (1..=32).map(|i| format!("k{i}=v")).collect();
        let out = forward_through_vendor(&members.join(","));
        let expected = std::iter::once("own=x".to_owned())
            .chain(members[..31].iter().cloned())
            .collect::<Vec<_>>()
            .join(",");
        assert_eq!(out, expected);
        let mut with_foreign = members.clone();
        with_foreign[5] = "k@@6=v".to_owned();
        let out = forward_through_vendor(&with_foreign.join(","));
        assert_eq!(out.split(',').count(), 32);
        assert!(out.starts_with("own=x,k1=v"), "{out}");
        assert!(out.contains("k@@6=v") && !out.contains("k32=v"), "{out}");
    }

    #[test]
    fn a_long_list_is_shortened_by_whole_entries_long_ones_first() {
        // § tracestate Limits: "Entries larger than 128 characters long SHOULD be removed
        // first. Then entries SHOULD be removed starting from the end."
        let long = |i: usize| format!("l{i:02}{}={}", "k".repeat(150), "v".repeat(250));
        let mut members: Vec<String> = (0..25).map(long).collect();
        members.insert(3, "short=1".to_owned());
        let out = forward_through_vendor(&members.join(","));
        assert!(out.len() <= crate::carrier::MAX_VALUE_LEN);
        assert!(out.contains("short=1"));
        assert!(out.split(',').all(|m| m.contains('=')));
        let kept_long = out.split(',').filter(|m| m.len() > 128).count();
        assert!(kept_long > 0 && kept_long < 25, "{kept_long}");
        assert!(out.contains("l00k") && !out.contains("l24k"), "{out}");
    }
}
