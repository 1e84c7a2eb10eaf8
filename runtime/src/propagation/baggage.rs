use crate::carrier::MAX_VALUE_LEN;
use opentelemetry::baggage::{BaggageExt, BaggageMetadata};
use opentelemetry::propagation::{
    Extractor, Injector, TextMapPropagator, text_map_propagator::FieldIter,
};
use opentelemetry::{Context, baggage::Baggage};
use std::fmt::Write;
use std::sync::LazyLock;

const BAGGAGE: &str = "baggage";

static FIELDS: LazyLock<[String; 1]> = LazyLock::new(|| [BAGGAGE.to_owned()]);

/// The most list members read from or written to a `baggage` header (W3C Baggage).
pub(crate) const MAX_MEMBERS: usize = 64;

/// W3C Baggage: the `baggage` header.
///
/// Reads at most 64 members and 8192 bytes, whole members only: a member with an
/// invalid key or a value that does not percent-decode to UTF-8 is skipped, and the rest kept.
/// Writes percent-encoded values and stops before a member that would cross either limit.
#[derive(Debug, Default, Clone, Copy)]
pub struct BaggagePropagator {
    _private: (),
}

impl BaggagePropagator {
    /// The propagator.
    pub fn new() -> Self {
        Self::default()
    }
}

fn is_token(key: &str) -> bool {
    !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// The bytes W3C Baggage allows unescaped in a value, minus `%`, which starts an escape.
fn is_plain(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x24 | 0x26..=0x2b | 0x2d..=0x3a | 0x3c..=0x5b | 0x5d..=0x7e)
}

pub(crate) fn decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = value.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

pub(crate) fn encode(value: &str, out: &mut String) {
    for b in value.bytes() {
        if is_plain(b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

/// The members of a `baggage` header value that are valid, in order.
pub(crate) fn parse(header: &str) -> Vec<(String, String, String)> {
    header
        .split(',')
        .filter_map(|member| {
            let (pair, properties) = member.split_once(';').unwrap_or((member, ""));
            let (key, value) = pair.split_once('=')?;
            let key = key.trim_matches([' ', '\t']);
            let value = value.trim_matches([' ', '\t']);
            if !is_token(key) {
                return None;
            }
            Some((key.to_owned(), decode(value)?, properties.trim().to_owned()))
        })
        .take(MAX_MEMBERS)
        .collect()
}

impl TextMapPropagator for BaggagePropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let baggage = cx.baggage();
        if baggage.is_empty() {
            return;
        }
        let mut header = String::new();
        for (key, (value, metadata)) in baggage.iter().take(MAX_MEMBERS) {
            let mut member = String::new();
            if !header.is_empty() {
                member.push(',');
            }
            member.push_str(key.as_str());
            member.push('=');
            encode(value.as_str(), &mut member);
            if !metadata.as_str().is_empty() {
                member.push(';');
                member.push_str(metadata.as_str());
            }
            if header.len() + member.len() > MAX_VALUE_LEN {
                break;
            }
            header.push_str(&member);
        }
        if !header.is_empty() {
            injector.set(BAGGAGE, header);
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let Some(headers) = extractor.get_all(BAGGAGE) else {
            return cx.clone();
        };
        let header = headers.join(",");
        if header.len() > MAX_VALUE_LEN {
            return cx.clone();
        }
        let members = parse(&header);
        if members.is_empty() {
            return cx.clone();
        }
        let mut baggage = Baggage::new();
        for (key, value, properties) in members {
            baggage.insert_with_metadata(key, value, BaggageMetadata::from(properties));
        }
        cx.with_baggage(baggage)
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(&*FIELDS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::KeyValue;
    use std::collections::HashMap;

    fn entries(cx: &Context) -> Vec<KeyValue> {
        let mut out: Vec<KeyValue> = cx
            .baggage()
            .iter()
            .map(|(k, (v, _))| KeyValue::new(k.clone(), v.to_string()))
            .collect();
        out.sort_by(|a, b| a.key.as_str().cmp(b.key.as_str()));
        out
    }

    fn extract(header: &str) -> Context {
        let carrier = HashMap::from([(BAGGAGE.to_owned(), header.to_owned())]);
        BaggagePropagator::new().extract(&carrier)
    }

    #[test]
    fn reads_members_with_whitespace_properties_and_escapes() {
        let cx = extract(" tenant = acme , note=hello%20world;ttl=30, bad key=1, ok=%E2%9C%93");
        assert_eq!(
            entries(&cx),
            vec![
                KeyValue::new("note", "hello world"),
                KeyValue::new("ok", "✓"),
                KeyValue::new("tenant", "acme"),
            ]
        );
    }

    #[test]
    fn skips_members_that_do_not_decode() {
        let cx = extract("a=%FF, b=%2, c=ok");
        assert_eq!(entries(&cx), vec![KeyValue::new("c", "ok")]);
    }

    #[test]
    fn reads_at_most_64_members_and_ignores_an_oversized_header() {
        let many: Vec<String> = (0..100).map(|i| format!("k{i}=v")).collect();
        assert_eq!(entries(&extract(&many.join(","))).len(), MAX_MEMBERS);
        let huge = format!("k={}", "v".repeat(MAX_VALUE_LEN));
        assert!(entries(&extract(&huge)).is_empty());
    }

    #[test]
    fn round_trips_values_that_need_escaping() {
        let cx = Context::new().with_baggage([KeyValue::new("q", "a,b;c=d %25 é\r\n")]);
        let mut carrier = HashMap::new();
        BaggagePropagator::new().inject_context(&cx, &mut carrier);
        assert!(!carrier[BAGGAGE].contains([',', ';', ' ', '\r', '\n']));
        let back = BaggagePropagator::new().extract(&carrier);
        assert_eq!(
            entries(&back),
            vec![KeyValue::new("q", "a,b;c=d %25 é\r\n")]
        );
    }
}
