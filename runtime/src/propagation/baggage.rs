use crate::carrier::MAX_VALUE_LEN;
use opentelemetry::Context;
use opentelemetry::baggage::{Baggage, BaggageExt};
use opentelemetry::propagation::{
    Extractor, Injector, TextMapPropagator, text_map_propagator::FieldIter,
};
use std::collections::HashMap;
use std::fmt::Write;
use std::sync::LazyLock;

const BAGGAGE: &str = "baggage";

static FIELDS: LazyLock<[String; 1]> = LazyLock::new(|| [BAGGAGE.to_owned()]);

/// The most list members read from or written to a `baggage` header (W3C Baggage, Limits).
pub(crate) const MAX_MEMBERS: usize = 64;

/// The longest `baggage-string` read or written, in bytes (W3C Baggage, Limits).
const MAX_BYTES: usize = MAX_VALUE_LEN;

/// Optional white space (RFC 7230, Section 3.2.3): spaces and horizontal tabs only.
const OWS: [char; 2] = [' ', '\t'];

/// W3C Baggage: the `baggage` header, as its HTTP header format defines it.
///
/// **Reading.** Every `baggage` field is read, in order, as one list. A list member is
/// `key=value` followed by `;`-separated properties (`key` or `key=value`); spaces and tabs
/// around keys, values, properties, `=`, `;` and `,` are ignored. Values are percent-decoded;
/// escaped bytes that are not UTF-8 become U+FFFD, as the specification requires. Properties
/// are kept, spaces removed, in the entry's
/// [`BaggageMetadata`](opentelemetry::baggage::BaggageMetadata) (`p1;p2=v2`), their values
/// still percent-encoded as received. A member is skipped, and the rest kept, when its key is
/// not an RFC 7230 `token`, it has no `=`, its value or a property value holds a character
/// outside `baggage-octet` or a `%` not followed by two hex digits, or a property is empty or
/// not `key` / `key=value`. When a key repeats, the last member wins (the specification lets
/// the platform choose; OpenTelemetry's `Baggage` holds one value per key).
///
/// **Limits.** Members are taken in order while the list stays within 64 members and 8192
/// bytes, counting each member as this propagator writes it and the commas between them.
/// Reading stops at the first member that would cross a limit, so no partial member is kept and
/// a longer header still yields its leading members. (tracebound's own carriers already drop a
/// single field value over 8192 bytes; other extractors and repeated fields reach this limit.)
/// When no member is read, the context is returned unchanged.
///
/// **Writing.** Members are written in key order (`Baggage` keeps no order), each value
/// percent-encoded where `baggage-octet` requires it and at every `%`, followed by its metadata
/// as properties; a metadata piece that is not a valid property is left out. Writing stops
/// before the member that would make the header longer than 8192 bytes or 64 members. Empty
/// baggage writes no header.
///
/// Not kept: repeated keys and the order members arrived in, which `Baggage` cannot hold.
///
/// ```
/// use opentelemetry::baggage::BaggageExt;
/// use opentelemetry::propagation::TextMapPropagator;
/// use std::collections::HashMap;
/// use tracebound::propagation::BaggagePropagator;
///
/// let propagator = BaggagePropagator::new();
/// let incoming = HashMap::from([(
///     "baggage".to_owned(),
///     "userId = Am%C3%A9lie ; source = web, bad key=1".to_owned(),
/// )]);
/// let cx = propagator.extract(&incoming);
/// assert_eq!(cx.baggage().get("userId").unwrap().as_str(), "Amélie");
///
/// let mut outgoing = HashMap::new();
/// propagator.inject_context(&cx, &mut outgoing);
/// assert_eq!(outgoing["baggage"], "userId=Am%C3%A9lie;source=web");
/// ```
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

/// `token` (RFC 7230, Section 3.2.6), the grammar of keys.
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

/// The byte the escape at `bytes[i]` (a `%`) stands for, if two hex digits follow.
fn escaped(bytes: &[u8], i: usize) -> Option<u8> {
    let hex = bytes.get(i + 1..i + 3)?;
    let digit = |b: u8| (b as char).to_digit(16);
    Some((digit(hex[0])? * 16 + digit(hex[1])?) as u8)
}

/// `*baggage-octet` in which every `%` starts an escape: a value as a producer must write it.
fn is_value(value: &str) -> bool {
    let bytes = value.as_bytes();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        i += match b {
            b'%' if escaped(bytes, i).is_some() => 3,
            b if is_plain(b) => 1,
            _ => return false,
        };
    }
    true
}

fn unescape(value: &str) -> Option<Vec<u8>> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            out.push(escaped(bytes, i)?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    Some(out)
}

/// `value` percent-decoded, or `None` if a `%` is not followed by two hex digits or the bytes
/// are not UTF-8. Other characters pass through, for the Jaeger headers and
/// `OTEL_RESOURCE_ATTRIBUTES`; a `baggage` value is checked and decoded by [`parse`].
pub(crate) fn decode(value: &str) -> Option<String> {
    String::from_utf8(unescape(value)?).ok()
}

/// Appends `value` to `out`, percent-encoding every byte that is not a `baggage-octet`, and `%`.
pub(crate) fn encode(value: &str, out: &mut String) {
    for b in value.bytes() {
        if is_plain(b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

fn encoded_len(value: &str) -> usize {
    value.bytes().map(|b| if is_plain(b) { 1 } else { 3 }).sum()
}

/// `property = key OWS "=" OWS value / key OWS`, without its OWS, or `None` if malformed.
fn property(text: &str) -> Option<(&str, Option<&str>)> {
    let text = text.trim_matches(OWS);
    let (key, value) = match text.split_once('=') {
        Some((key, value)) => (
            key.trim_end_matches(OWS),
            Some(value.trim_start_matches(OWS)),
        ),
        None => (text, None),
    };
    (is_token(key) && value.is_none_or(is_value)).then_some((key, value))
}

fn push_property(out: &mut String, (key, value): (&str, Option<&str>)) {
    if !out.is_empty() {
        out.push(';');
    }
    out.push_str(key);
    if let Some(value) = value {
        out.push('=');
        out.push_str(value);
    }
}

/// A list member as it is kept: value decoded, properties without OWS.
struct Member<'a> {
    key: &'a str,
    value: String,
    properties: String,
}

impl<'a> Member<'a> {
    /// `list-member = key OWS "=" OWS value *( OWS ";" OWS property )`, or `None` if malformed.
    fn parse(text: &'a str) -> Option<Self> {
        let mut parts = text.split(';');
        let (key, value) = parts.next()?.split_once('=')?;
        let (key, value) = (key.trim_matches(OWS), value.trim_matches(OWS));
        if !is_token(key) || !is_value(value) {
            return None;
        }
        let mut properties = String::new();
        for part in parts {
            push_property(&mut properties, property(part)?);
        }
        let value = String::from_utf8_lossy(&unescape(value)?).into_owned();
        Some(Member {
            key,
            value,
            properties,
        })
    }

    /// Its length as [`serialize`] writes it.
    fn written_len(&self) -> usize {
        let properties = match self.properties.len() {
            0 => 0,
            len => len + 1,
        };
        self.key.len() + 1 + encoded_len(&self.value) + properties
    }
}

/// The members of the `baggage` fields, read in order while they fit the limits.
pub(crate) fn parse<'a>(fields: impl IntoIterator<Item = &'a str>) -> Baggage {
    let mut baggage = Baggage::new();
    let mut lens: HashMap<&str, usize> = HashMap::new();
    let mut total = 0;
    let members = fields
        .into_iter()
        .flat_map(|field| field.split(','))
        .filter_map(Member::parse);
    for member in members {
        let len = member.written_len();
        let after = match lens.get(member.key) {
            Some(old) => total - old + len,
            None if lens.len() == MAX_MEMBERS => break,
            None => total + usize::from(!lens.is_empty()) + len,
        };
        if after > MAX_BYTES {
            break;
        }
        total = after;
        lens.insert(member.key, len);
        // Within these limits, OpenTelemetry's own (64 entries, 8192 bytes of key, value and
        // metadata) always accept the entry.
        baggage.insert_with_metadata(member.key.to_owned(), member.value, member.properties);
    }
    baggage
}

/// `baggage` as a `baggage-string` of whole members, in key order, within the limits.
fn serialize(baggage: &Baggage) -> String {
    let mut entries: Vec<_> = baggage.iter().collect();
    entries.sort_unstable_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
    let mut header = String::new();
    // Keys need no check: `Baggage` only holds tokens.
    for (key, (value, metadata)) in entries.into_iter().take(MAX_MEMBERS) {
        let start = header.len();
        if start > 0 {
            header.push(',');
        }
        header.push_str(key.as_str());
        header.push('=');
        encode(value.as_str(), &mut header);
        let mut properties = String::new();
        for piece in metadata.as_str().split(';').filter_map(property) {
            push_property(&mut properties, piece);
        }
        if !properties.is_empty() {
            header.push(';');
            header.push_str(&properties);
        }
        if header.len() > MAX_BYTES {
            header.truncate(start);
            break;
        }
    }
    header
}

impl TextMapPropagator for BaggagePropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let header = serialize(cx.baggage());
        if !header.is_empty() {
            injector.set(BAGGAGE, header);
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        // The common case, no `baggage` at all, builds nothing.
        let Some(fields) = extractor.get_all(BAGGAGE) else {
            return cx.clone();
        };
        let baggage = parse(fields);
        if baggage.is_empty() {
            return cx.clone();
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
    use opentelemetry::baggage::KeyValueMetadata;

    /// The W3C suite's value holding every kind of character (`test_parse_percent_encoded`).
    const W3C_VALUE: &str = "\t \"';=asdf!@#$%^&*()";
    /// `urllib.parse.quote(W3C_VALUE)`, as the W3C suite writes it.
    const W3C_QUOTED: &str = "%09%20%22%27%3B%3Dasdf%21%40%23%24%25%5E%26%2A%28%29";

    /// Key, value, metadata.
    type Entry = (String, String, String);

    /// A carrier holding the `baggage` field once per string, as HTTP allows.
    struct Fields<'a>(&'a [String]);

    impl Extractor for Fields<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            self.get_all(key)?.first().copied()
        }
        fn keys(&self) -> Vec<&str> {
            vec![BAGGAGE]
        }
        fn get_all(&self, key: &str) -> Option<Vec<&str>> {
            (key == BAGGAGE && !self.0.is_empty())
                .then(|| self.0.iter().map(String::as_str).collect())
        }
    }

    fn read(fields: &[String]) -> Vec<Entry> {
        let cx = BaggagePropagator::new().extract(&Fields(fields));
        let mut entries: Vec<Entry> = cx
            .baggage()
            .iter()
            .map(|(k, (v, m))| (k.to_string(), v.to_string(), m.to_string()))
            .collect();
        entries.sort();
        entries
    }

    fn write(entries: &[Entry]) -> Option<String> {
        let baggage: Baggage = entries
            .iter()
            .map(|(k, v, m)| KeyValueMetadata::new(k.clone(), v.clone(), m.as_str()))
            .collect();
        assert_eq!(
            baggage.len(),
            entries.len(),
            "OpenTelemetry took every entry"
        );
        let cx = Context::new().with_baggage(baggage);
        let mut carrier = HashMap::new();
        BaggagePropagator::new().inject_context(&cx, &mut carrier);
        carrier.remove(BAGGAGE)
    }

    fn entries(list: &[(&str, &str, &str)]) -> Vec<Entry> {
        list.iter()
            .map(|&(k, v, m)| (k.to_owned(), v.to_owned(), m.to_owned()))
            .collect()
    }

    fn owned(list: &[&str]) -> Vec<String> {
        list.iter().map(|&s| s.to_owned()).collect()
    }

    /// `k{i}=v` for `i` in `0..n`, as list members and as the entries they give.
    fn numbered(n: usize) -> (Vec<String>, Vec<Entry>) {
        (0..n)
            .map(|i| {
                (
                    format!("k{i}=v"),
                    (format!("k{i}"), "v".to_owned(), String::new()),
                )
            })
            .unzip()
    }

    /// `baggage-octet`, in the words of the specification's comment: US-ASCII excluding CTLs,
    /// whitespace, DQUOTE, comma, semicolon and backslash.
    fn octet(b: u8) -> bool {
        (0x21..=0x7e).contains(&b) && !b"\",;\\".contains(&b)
    }

    struct Read {
        name: String,
        fields: Vec<String>,
        want: Vec<Entry>,
    }

    fn reads(name: impl Into<String>, fields: &[&str], want: &[(&str, &str, &str)]) -> Read {
        Read {
            name: name.into(),
            fields: owned(fields),
            want: entries(want),
        }
    }

    fn check_reads(cases: Vec<Read>) {
        for mut case in cases {
            case.want.sort();
            assert_eq!(read(&case.fields), case.want, "{}", case.name);
        }
    }

    struct Write {
        name: &'static str,
        entries: Vec<Entry>,
        want: Option<String>,
    }

    fn writes(name: &'static str, list: &[(&str, &str, &str)], want: Option<&str>) -> Write {
        Write {
            name,
            entries: entries(list),
            want: want.map(str::to_owned),
        }
    }

    fn check_writes(cases: Vec<Write>) {
        for case in cases {
            let header = write(&case.entries);
            if let Some(header) = &header {
                assert!(
                    header.len() <= MAX_BYTES,
                    "{}: {} bytes",
                    case.name,
                    header.len()
                );
            }
            assert_eq!(header, case.want, "{}", case.name);
        }
    }

    const PROPS: &str = "SomeProp;SecondProp=PropValue";

    #[test]
    fn reads_the_w3c_suite() {
        let two = [
            ("SomeKey", "SomeValue", "SomeProp"),
            ("SomeKey2", "SomeValue2", "ValueProp=PropVal"),
        ];
        let two_kv = [
            ("SomeKey", "SomeValue", "SomePropKey=SomePropValue"),
            ("SomeKey2", "SomeValue2", "SomePropKey2=SomePropValue2"),
        ];
        let simple = [("SomeKey", "SomeValue", "")];
        let quoted_property = format!("SomePropKey={W3C_QUOTED}");
        check_reads(vec![
            reads("BaggageTest.test_ctor_default: no field", &[], &[]),
            reads(
                "BaggageTest.test_parse_simple",
                &["SomeKey=SomeValue"],
                &simple,
            ),
            reads(
                "BaggageTest.test_parse_multiple",
                &["SomeKey=SomeValue;SomeProp,SomeKey2=SomeValue2;ValueProp=PropVal"],
                &two,
            ),
            reads(
                "BaggageTest.test_parse_multiple_ows",
                &[
                    "SomeKey \t = \t SomeValue \t ; \t SomeProp \t , \t SomeKey2 \t = \t \
                   SomeValue2 \t ; \t ValueProp \t = \t PropVal",
                ],
                &two,
            ),
            reads(
                "BaggageTest.test_parse_multiple_kv_property",
                &["SomeKey=SomeValue;SomePropKey=SomePropValue,\
                   SomeKey2=SomeValue2;SomePropKey2=SomePropValue2"],
                &two_kv,
            ),
            reads(
                "BaggageTest.test_parse_multiple_kv_property_ows",
                &[
                    "SomeKey \t = \t SomeValue \t ; \t SomePropKey=SomePropValue \t , \t \
                   SomeKey2 \t = \t SomeValue2 \t ; \t SomePropKey2 \t = \t SomePropValue2",
                ],
                &two_kv,
            ),
            reads(
                "BaggageEntryTest.test_parse_simple",
                &["SomeKey=SomeValue"],
                &simple,
            ),
            reads(
                "BaggageEntryTest.test_parse_multiple_equals",
                &["SomeKey=SomeValue=equals"],
                &[("SomeKey", "SomeValue=equals", "")],
            ),
            reads(
                "BaggageEntryTest.test_parse_percent_encoded",
                &[&format!("SomeKey={W3C_QUOTED}")],
                &[("SomeKey", W3C_VALUE, "")],
            ),
            reads(
                "BaggageEntryTest.test_parse_property",
                &["SomeKey=SomeValue;SomeProp"],
                &[("SomeKey", "SomeValue", "SomeProp")],
            ),
            reads(
                "BaggageEntryTest.test_parse_multi_property",
                &["SomeKey=SomeValue;SomeProp;SecondProp=PropValue"],
                &[("SomeKey", "SomeValue", PROPS)],
            ),
            reads(
                "BaggageEntryTest.test_parse_multiple_properties_same_name",
                &["SomeKey=SomeValue;SomeProp;SomeProp=PropValue;SomeProp=AnotherPropValue"],
                &[(
                    "SomeKey",
                    "SomeValue",
                    "SomeProp;SomeProp=PropValue;SomeProp=AnotherPropValue",
                )],
            ),
            reads(
                "BaggageEntryTest.test_parse_kv_property",
                &["SomeKey=SomeValue;SomePropKey=SomePropValue"],
                &[("SomeKey", "SomeValue", "SomePropKey=SomePropValue")],
            ),
            reads(
                "BaggageEntryTest.test_parse_simple_ows",
                &["SomeKey \t = \t SomeValue \t "],
                &simple,
            ),
            reads(
                "BaggageEntryTest.test_parse_percent_encoded_ows",
                &[&format!("SomeKey \t = \t {W3C_QUOTED} \t ")],
                &[("SomeKey", W3C_VALUE, "")],
            ),
            reads(
                "BaggageEntryTest.test_parse_property_ows",
                &["SomeKey \t = \t SomeValue \t ; \t SomeProp"],
                &[("SomeKey", "SomeValue", "SomeProp")],
            ),
            reads(
                "BaggageEntryTest.test_parse_multi_property_ows",
                &[
                    "SomeKey \t = \t SomeValue \t ; \t SomeProp \t ; \t SecondProp \t = \t PropValue",
                ],
                &[("SomeKey", "SomeValue", PROPS)],
            ),
            reads(
                "BaggageEntryTest.test_parse_kv_property_ows",
                &["SomeKey \t = \t SomeValue \t ; \t SomePropKey \t = \t SomePropValue"],
                &[("SomeKey", "SomeValue", "SomePropKey=SomePropValue")],
            ),
            // The property value is kept encoded; `decodes` checks it decodes to W3C_VALUE.
            reads(
                "BaggageEntryTest.test_parse_percent_encoded_property",
                &[&format!("SomeKey=SomeValue;{quoted_property}")],
                &[("SomeKey", "SomeValue", &quoted_property)],
            ),
            reads(
                "BaggageEntryTest.test_parse_property_without_value_no_percent_decoding",
                &["SomeKey=SomeValue;ValueProp%20%09%20%3D%20%09%20PropVal"],
                &[(
                    "SomeKey",
                    "SomeValue",
                    "ValueProp%20%09%20%3D%20%09%20PropVal",
                )],
            ),
        ]);
    }

    #[test]
    fn reads_the_grammar() {
        let ok = ("ok", "1", "");
        let mut cases = vec![
            reads(
                "Examples of HTTP headers: single header",
                &["userId=alice,serverNode=DF%2028,isProduction=false"],
                &[
                    ("userId", "alice", ""),
                    ("serverNode", "DF 28", ""),
                    ("isProduction", "false", ""),
                ],
            ),
            reads(
                "Examples of HTTP headers: percent-encoded non-ASCII",
                &["userId=Am%C3%A9lie,serverNode=DF%2028,isProduction=false"],
                &[
                    ("userId", "Amélie", ""),
                    ("serverNode", "DF 28", ""),
                    ("isProduction", "false", ""),
                ],
            ),
            reads(
                "Examples of HTTP headers: split into multiple headers",
                &["userId=alice", "serverNode=DF%2028,isProduction=false"],
                &[
                    ("userId", "alice", ""),
                    ("serverNode", "DF 28", ""),
                    ("isProduction", "false", ""),
                ],
            ),
            reads(
                "Examples of HTTP headers: names and values with spaces",
                &[
                    "userId =   alice",
                    "serverNode = DF%2028, isProduction = false",
                ],
                &[
                    ("userId", "alice", ""),
                    ("serverNode", "DF 28", ""),
                    ("isProduction", "false", ""),
                ],
            ),
            reads(
                "Example: three members with properties",
                &[
                    "key1=value1;property1;property2, key2 = value2, key3=value3; propertyKey=propertyValue",
                ],
                &[
                    ("key1", "value1", "property1;property2"),
                    ("key2", "value2", ""),
                    ("key3", "value3", "propertyKey=propertyValue"),
                ],
            ),
            reads(
                "value: *baggage-octet may be empty",
                &["k="],
                &[("k", "", "")],
            ),
            reads("value: OWS only is empty", &["k = \t "], &[("k", "", "")]),
            reads(
                "value: MAY contain equal signs",
                &["k==a="],
                &[("k", "=a=", "")],
            ),
            reads(
                "value: escapes in either case",
                &["k=%c3%A9%2c"],
                &[("k", "é,", "")],
            ),
            reads(
                "value: not UTF-8 MUST become U+FFFD",
                &["a=%FF,b=%C3,c=%C3%A9%A9,d=%ED%A0%80"],
                &[
                    ("a", "\u{FFFD}", ""),
                    ("b", "\u{FFFD}", ""),
                    ("c", "é\u{FFFD}", ""),
                    ("d", "\u{FFFD}\u{FFFD}\u{FFFD}", ""),
                ],
            ),
            reads(
                "key: every tchar of token",
                &["!#$%&'*+-.^_`|~09azAZ=1"],
                &[("!#$%&'*+-.^_`|~09azAZ", "1", "")],
            ),
            reads("key: empty", &["=1,ok=1"], &[ok]),
            reads("key: inner space", &["bad key=1,ok=1"], &[ok]),
            reads("key: non-ASCII", &["ключ=1,ok=1"], &[ok]),
            reads("list-member: no `=`", &["novalue,ok=1"], &[ok]),
            reads(
                "list-member: empty members are skipped",
                &["a=1,,b=2, ,\t,c=3,"],
                &[("a", "1", ""), ("b", "2", ""), ("c", "3", "")],
            ),
            reads(
                "OWS: no-break space is not OWS",
                &["\u{A0}k=1,k2=1\u{A0},ok=1"],
                &[ok],
            ),
            reads("OWS: vertical tab is not OWS", &["\u{B}k=1,ok=1"], &[ok]),
            reads("value: non-ASCII", &["k=é,ok=1"], &[ok]),
            reads(
                "OWS: no-break space around a property is not OWS",
                &["a=1;\u{A0}p,b=1;p\u{A0},ok=1"],
                &[ok],
            ),
            reads(
                "property: may have an empty value",
                &["a=1;p="],
                &[("a", "1", "p=")],
            ),
            reads(
                "property: value with `=`",
                &["a=1;p=x=y"],
                &[("a", "1", "p=x=y")],
            ),
            reads(
                "property: key and value with escapes kept as received",
                &["a=1;p%41=%41%2c"],
                &[("a", "1", "p%41=%41%2c")],
            ),
            reads(
                "baggage-string: duplicate keys, the last wins",
                &["k=1;p,k=2"],
                &[("k", "2", "")],
            ),
            reads(
                "baggage-string: duplicate keys over fields, the last wins",
                &["k=1,j=1", "k=2;p"],
                &[("j", "1", ""), ("k", "2", "p")],
            ),
            reads(
                "malformed member among good ones",
                &["a=1, bad key=2, b=2;p, c, d=x y, e=3;;, f=%zz, g=4"],
                &[("a", "1", ""), ("b", "2", "p"), ("g", "4", "")],
            ),
        ];
        for escape in [
            "%", "%2", "a%", "%zz", "%+1", "%-1", "%é", "%2é", "é%41", "%%41",
        ] {
            cases.push(reads(
                format!("value: `%` MUST be encoded; bad escape {escape:?}"),
                &[&format!("k={escape},ok=1")],
                &[ok],
            ));
        }
        for property in [
            ";", ";;p", ";bad key", ";p=a b", ";p=%zz", ";=v", ";é", ";p=é", "; p ;",
        ] {
            cases.push(reads(
                format!("property: malformed {property:?}"),
                &[&format!("a=1{property},ok=1")],
                &[ok],
            ));
        }
        for d in "\"()/:<>?@[\\]{}".chars() {
            cases.push(reads(
                format!("key: delimiter {d:?} is not a tchar"),
                &[&format!("a{d}b=1,ok=1")],
                &[ok],
            ));
        }
        for b in 0..=0x7fu8 {
            let c = char::from(b);
            if octet(b) && b != b'%' {
                let value = format!("a{c}b");
                cases.push(reads(
                    format!("value: baggage-octet {b:#04x}"),
                    &[&format!("k={value}")],
                    &[("k", &value, "")],
                ));
            } else if !b",;%".contains(&b) {
                cases.push(reads(
                    format!("value: not a baggage-octet {b:#04x}"),
                    &[&format!("k=a{c}b,ok=1")],
                    &[ok],
                ));
            }
        }
        check_reads(cases);
    }

    #[test]
    fn reads_within_the_limits() {
        let (members, all) = numbered(600);
        let x = |n: usize| "x".repeat(n);
        let mut interleaved = Vec::new();
        for member in &members[..64] {
            interleaved.push(member.clone());
            interleaved.push("bad key=1".to_owned());
        }
        let nine = (0..9)
            .map(|i| format!("k{i}={}", x(997)))
            .collect::<Vec<_>>()
            .join(",");
        assert!(nine.len() > 9000);
        let many: Vec<String> = (0..512).map(|i| format!("{i:03}=0123456789a")).collect();
        let mut cases = vec![
            Read {
                name: "Limits: a 9008-byte header keeps its first 8 whole members".into(),
                fields: vec![nine],
                want: (0..8)
                    .map(|i| (format!("k{i}"), x(997), String::new()))
                    .collect(),
            },
            Read {
                name: "Limits: 64 members are all kept".into(),
                fields: vec![members[..64].join(",")],
                want: all[..64].to_vec(),
            },
            Read {
                name: "Limits: the 65th member is dropped".into(),
                fields: vec![members[..65].join(",")],
                want: all[..64].to_vec(),
            },
            Read {
                name: "Limits: reading stops at the 65th member, a later repeat is not read".into(),
                fields: vec![members[..65].join(","), "k0=again".into()],
                want: all[..64].to_vec(),
            },
            Read {
                name: "Limits: apply to all fields combined".into(),
                fields: vec![members[..40].join(","), members[40..80].join(",")],
                want: all[..64].to_vec(),
            },
            Read {
                name: "Limits: malformed members do not count".into(),
                fields: vec![interleaved.join(",")],
                want: all[..64].to_vec(),
            },
            Read {
                name: "Limits: a repeated key counts once".into(),
                fields: vec![members[..64].join(","), "k0=again".into()],
                want: [&[("k0".into(), "again".into(), String::new())], &all[1..64]].concat(),
            },
            Read {
                name: "test_serialize_many_entries (512 members, 8191 bytes): the first 64".into(),
                fields: vec![many.join(",")],
                want: (0..64)
                    .map(|i| (format!("{i:03}"), "0123456789a".into(), String::new()))
                    .collect(),
            },
            Read {
                name: "huge: 600 members, reading stops at the 65th".into(),
                fields: vec![(members.join(",") + ",").repeat(300)],
                want: all[..64].to_vec(),
            },
        ];
        let long = "0123456789".repeat(819);
        cases.extend([
            reads(
                "test_serialize_long_entry: 8192 bytes in one member",
                &[&format!("a={long}")],
                &[("a", &long, "")],
            ),
            reads(
                "Limits: 8193 bytes in one member",
                &[&format!("a={long}0")],
                &[],
            ),
            reads(
                "Limits: 8192 bytes over two fields, comma counted",
                &[&format!("a={}", x(4094)), &format!("b={}", x(4093))],
                &[("a", &x(4094), ""), ("b", &x(4093), "")],
            ),
            reads(
                "Limits: one byte more drops the second member whole",
                &[&format!("a={}", x(4094)), &format!("b={}", x(4094))],
                &[("a", &x(4094), "")],
            ),
            reads(
                "Limits: properties count, 8192 bytes",
                &[&format!("a={};p", x(8188))],
                &[("a", &x(8188), "p")],
            ),
            reads(
                "Limits: properties count, 8193 bytes",
                &[&format!("a={};pq", x(8188))],
                &[],
            ),
            reads(
                "Limits: reading stops at the first member that does not fit",
                &[&format!("a={},b={},c=1", x(8000), x(500))],
                &[("a", &x(8000), "")],
            ),
            reads(
                "Limits: OWS is not propagated, so not counted",
                &[&format!(
                    "{}a = {}{}",
                    " ".repeat(100),
                    x(8190),
                    "\t".repeat(100)
                )],
                &[("a", &x(8190), "")],
            ),
            reads(
                "Limits: counted as written (%41 is written A)",
                &[&format!("a={},b={}", "%41".repeat(4000), x(4000))],
                &[("a", &"A".repeat(4000), ""), ("b", &x(4000), "")],
            ),
            reads(
                "Limits: counted as written (%FF is written %EF%BF%BD)",
                &[&format!("a={}", "%FF".repeat(2730))],
                &[],
            ),
            reads("huge: 1 MB of `%`", &[&"%".repeat(1 << 20)], &[]),
            reads("huge: 1 MB of `,`", &[&",".repeat(1 << 20)], &[]),
            reads("huge: 1 MB of `;`", &[&";".repeat(1 << 20)], &[]),
            reads("huge: 1 MB of `=`", &[&"=".repeat(1 << 20)], &[]),
            reads(
                "huge: 1 MB of malformed members",
                &[&"x y,".repeat(1 << 18)],
                &[],
            ),
            reads(
                "huge: one value of 1 MB",
                &[&format!("k={}", "%41".repeat(1 << 18))],
                &[],
            ),
            reads(
                "huge: 1 MB of properties",
                &[&format!("k=v{}", ";p".repeat(1 << 19))],
                &[],
            ),
        ]);
        check_reads(cases);
    }

    #[test]
    fn writes_whole_members_within_the_limits() {
        let x = |n: usize| "x".repeat(n);
        let long = "0123456789".repeat(819);
        let mut at_least_64: Vec<Entry> = (0..64)
            .map(|i| (format!("key{i}"), "value".into(), String::new()))
            .collect();
        at_least_64.sort();
        let at_least_64_header = at_least_64
            .iter()
            .map(|(k, v, _)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",");
        let many: Vec<Entry> = (0..64)
            .map(|i| (format!("{i:03}"), "0123456789a".into(), String::new()))
            .collect();
        let quoted_property = format!("SomePropKey={W3C_QUOTED}");
        check_writes(vec![
            writes("BaggageTest.test_ctor_default: no header", &[], None),
            // The suite's `quote` also escapes '=!@#$^&*(), which the spec allows, not requires.
            writes(
                "BaggageEntryTest.test_parse_percent_encoded",
                &[("SomeKey", W3C_VALUE, "")],
                Some("SomeKey=%09%20%22'%3B=asdf!@#$%25^&*()"),
            ),
            writes(
                "BaggageEntryTest.test_parse_percent_encoded_property",
                &[("SomeKey", "SomeValue", &quoted_property)],
                Some(&format!("SomeKey=SomeValue;{quoted_property}")),
            ),
            Write {
                name: "LimitsTest.test_serialize_at_least_64",
                entries: at_least_64,
                want: Some(at_least_64_header),
            },
            writes(
                "LimitsTest.test_serialize_long_entry: 8192 bytes",
                &[("a", &long, "")],
                Some(&format!("a={long}")),
            ),
            Write {
                name: "LimitsTest.test_serialize_many_entries, cut to 64 members",
                entries: many,
                want: Some(
                    (0..64)
                        .map(|i| format!("{i:03}=0123456789a"))
                        .collect::<Vec<_>>()
                        .join(","),
                ),
            },
            writes(
                "Limits: 8192 bytes over two members",
                &[("a", &x(4094), ""), ("b", &x(4093), "")],
                Some(&format!("a={},b={}", x(4094), x(4093))),
            ),
            writes(
                "Limits: one byte more leaves the second member out whole",
                &[("a", &x(4094), ""), ("b", &x(4094), "")],
                Some(&format!("a={}", x(4094))),
            ),
            writes(
                "Limits: a member whose escapes cross 8192 bytes is left out whole",
                &[("a", &x(8000), ""), ("b", &" ".repeat(100), "")],
                Some(&format!("a={}", x(8000))),
            ),
            writes(
                "Limits: properties count, 8192 bytes",
                &[("a", &x(8188), "p")],
                Some(&format!("a={};p", x(8188))),
            ),
            writes(
                "Limits: properties count, 8193 bytes",
                &[("a", &x(8188), "pq")],
                None,
            ),
            writes("value: empty", &[("k", "", "")], Some("k=")),
            writes(
                "value: baggage-octets are not escaped",
                &[("k", "a=b/c", "")],
                Some("k=a=b/c"),
            ),
            writes(
                "Examples of HTTP headers, in key order",
                &[
                    ("userId", "Amélie", ""),
                    ("serverNode", "DF 28", ""),
                    ("isProduction", "false", ""),
                ],
                Some("isProduction=false,serverNode=DF%2028,userId=Am%C3%A9lie"),
            ),
            writes(
                "property: OWS removed",
                &[("k", "v", "p1 \t; p2 \t=\t v2")],
                Some("k=v;p1;p2=v2"),
            ),
            writes(
                "property: a leading `;`, as BaggageMetadata's docs write it",
                &[("k", "v", ";k1=v1;k2;k3=v3")],
                Some("k=v;k1=v1;k2;k3=v3"),
            ),
            writes(
                "property: pieces that are not properties are left out",
                &[(
                    "k",
                    "v",
                    "ok;bad key;p=a b;q=%zz;r=1,s=2;;é;x=é;\u{A0}p;p\u{A0}=1",
                )],
                Some("k=v;ok"),
            ),
        ]);
    }

    #[test]
    fn forwards_what_it_reads() {
        let cases = [
            (
                "Example: properties kept, OWS removed",
                "key1=value1;property1;property2, key2 = value2, key3=value3; propertyKey=propertyValue",
                "key1=value1;property1;property2,key2=value2,key3=value3;propertyKey=propertyValue",
            ),
            (
                "property: OWS around `;` and `=`",
                "k = v \t; p1 ;\tp2 = v%202",
                "k=v;p1;p2=v%202",
            ),
            (
                "BaggageEntryTest.test_parse_percent_encoded_property: as the suite writes it",
                &format!("SomeKey = SomeValue ; SomePropKey = {W3C_QUOTED}"),
                &format!("SomeKey=SomeValue;SomePropKey={W3C_QUOTED}"),
            ),
            (
                "BaggageEntryTest.test_parse_property_without_value_no_percent_decoding",
                "SomeKey=SomeValue;ValueProp%20%09%20%3D%20%09%20PropVal",
                "SomeKey=SomeValue;ValueProp%20%09%20%3D%20%09%20PropVal",
            ),
            (
                "malformed member among good ones",
                "b=2;p, bad key=1, a=1, c, e=3",
                "a=1,b=2;p,e=3",
            ),
            ("duplicate keys: the last wins", "k=1;p,k=2", "k=2"),
            (
                "value: re-encoded, only what must be",
                "k=%41%2c%2C%25",
                "k=A%2C%2C%25",
            ),
            (
                "value: not UTF-8, re-encoded as U+FFFD",
                "k=%FFa",
                "k=%EF%BF%BDa",
            ),
            (
                "BaggagePropagator's doc example",
                "userId = Am%C3%A9lie ; source = web, bad key=1",
                "userId=Am%C3%A9lie;source=web",
            ),
        ];
        for (name, header, want) in cases {
            let carrier = HashMap::from([(BAGGAGE.to_owned(), header.to_owned())]);
            let cx = BaggagePropagator::new().extract(&carrier);
            let mut out = HashMap::new();
            BaggagePropagator::new().inject_context(&cx, &mut out);
            assert_eq!(out.get(BAGGAGE).map(String::as_str), Some(want), "{name}");
        }
    }

    #[test]
    fn percent_encodes_only_what_it_must_and_round_trips() {
        let mut values: Vec<String> = (0..=0x7fu8).map(|b| char::from(b).to_string()).collect();
        values.extend(
            [
                "é", "✓", "😊", "Amélie", "DF 28", "%", "%25", "100%", "\u{FFFD}", "a\0b",
            ]
            .map(str::to_owned),
        );
        for value in values {
            let mut want = "k=".to_owned();
            for b in value.bytes() {
                if octet(b) && b != b'%' {
                    want.push(char::from(b));
                } else {
                    want.push_str(&format!("%{b:02X}"));
                }
            }
            let entry = ("k".to_owned(), value.clone(), String::new());
            let header = write(std::slice::from_ref(&entry));
            assert_eq!(header.as_deref(), Some(want.as_str()), "{value:?}");
            assert_eq!(read(&[want]), vec![entry], "{value:?}");
        }
    }

    #[test]
    fn decodes_strictly_for_the_other_formats() {
        let cases = [
            ("plain", "abc", Some("abc")),
            ("escapes in either case", "%C3%a9", Some("é")),
            ("other characters pass through", "a b é", Some("a b é")),
            ("`%` at the end", "a%", None),
            ("one hex digit", "%2", None),
            ("a sign is not a hex digit", "%+1", None),
            ("multibyte character after `%`", "%é", None),
            ("multibyte character after one digit", "%2é", None),
            ("not UTF-8", "%FF", None),
            (
                "test_parse_percent_encoded_property's value",
                W3C_QUOTED,
                Some(W3C_VALUE),
            ),
        ];
        for (name, value, want) in cases {
            assert_eq!(decode(value).as_deref(), want, "{name}");
        }
    }
}
