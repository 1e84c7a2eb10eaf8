//! The fuzzing harness: bytes → headers → every carrier → every propagator → context, with the
//! invariants checked after each extraction. A broken invariant panics, which is what libFuzzer
//! reports; `tests/fuzz_corpus.rs` replays the kept corpus through the same functions.
//!
//! Input format, chosen so that a fuzzer finds headers quickly: lines separated by `\n`, each
//! `key:value` split at the first `:`; keys and values are arbitrary bytes otherwise.

use opentelemetry::Context;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::propagation::{TextMapCompositePropagator, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TraceId};
use std::collections::HashMap;
use std::str::FromStr;
use tracebound::propagation::{
    B3Propagator, BaggagePropagator, JaegerPropagator, TraceContextPropagator,
};
use tracebound::{Extract, MAX_VALUE_LEN};

/// The headers in `data`.
pub fn headers(data: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    data.split(|&b| b == b'\n')
        .filter_map(|line| {
            let at = line.iter().position(|&b| b == b':')?;
            Some((line[..at].to_vec(), line[at + 1..].to_vec()))
        })
        .collect()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn propagators() -> Vec<Box<dyn TextMapPropagator + Send + Sync>> {
    vec![
        Box::new(TextMapCompositePropagator::new(vec![
            Box::new(TraceContextPropagator::new()),
            Box::new(BaggagePropagator::new()),
            Box::new(B3Propagator::multiple()),
            Box::new(JaegerPropagator::new()),
        ])),
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
        Box::new(B3Propagator::single()),
        Box::new(JaegerPropagator::new()),
    ]
}

/// Extracts from `carrier` with every propagator and checks each context.
fn extract_all<C: Extract>(carrier: &C) {
    for propagator in propagators() {
        let cx = tracebound::propagation::extract_using(&*propagator, &Context::new(), carrier);
        check(&cx);
        reinject(&cx, &*propagator);
    }
    check(&tracebound::propagation::extract_with(
        &Context::new(),
        carrier,
    ));
}

/// What any extracted context must satisfy.
pub fn check(cx: &Context) {
    let span = cx.span();
    let sc = span.span_context();
    if sc.is_valid() {
        assert!(sc.is_remote(), "an extracted span context is remote");
        assert_ne!(sc.trace_id(), TraceId::INVALID);
    }
    let baggage = cx.baggage();
    assert!(
        baggage.len() <= 64,
        "at most 64 baggage members, got {}",
        baggage.len()
    );
    let bytes: usize = baggage
        .iter()
        .map(|(k, (v, m))| k.as_str().len() + v.as_str().len() + m.as_str().len())
        .sum();
    assert!(bytes <= 8192, "at most 8192 bytes of baggage, got {bytes}");
}

/// Injects `cx` into every writable carrier; no written value may split a header. What a W3C
/// propagator writes, it reads back as the same thing: extracting and injecting it again
/// writes the same `tracestate` and `baggage` (their grammars and limits hold on the way out).
fn reinject(cx: &Context, propagator: &dyn TextMapPropagator) {
    let mut map = HashMap::<String, String>::new();
    propagator.inject_context(cx, &mut map);
    for value in map.values() {
        assert!(value.len() <= MAX_VALUE_LEN);
        assert!(
            !value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0),
            "{value:?}"
        );
    }
    let fields: Vec<&str> = propagator.fields().collect();
    if fields == ["traceparent", "tracestate"] || fields == ["baggage"] {
        let again = propagator.extract(&map);
        let mut map2 = HashMap::<String, String>::new();
        propagator.inject_context(&again, &mut map2);
        for key in ["traceparent", "tracestate", "baggage"] {
            assert_eq!(map.get(key), map2.get(key), "{key} is not a fixpoint");
        }
    }
    let mut http = http::HeaderMap::new();
    tracebound::propagation::inject_context(cx, &mut http);
    let mut nats = async_nats::HeaderMap::new();
    tracebound::propagation::inject_context(cx, &mut nats);
    let mut amqp = lapin::types::FieldTable::default();
    tracebound::propagation::inject_context(cx, &mut amqp);
    let mut kafka = rdkafka::message::OwnedHeaders::new();
    tracebound::propagation::inject_context(cx, &mut kafka);
    let mut list = Vec::<(String, Vec<u8>)>::new();
    tracebound::propagation::inject_context(cx, &mut list);
    let mut mqtt = rumqttc::v5::mqttbytes::v5::PublishProperties::default();
    tracebound::propagation::inject_context(cx, &mut mqtt);
    for (name, value) in &mqtt.user_properties {
        assert!(!name.is_empty() && !value.bytes().any(|b| b < 0x20 || b == 0x7f));
    }
    let mut env = tracebound::env::Environment::default();
    tracebound::propagation::inject_context(cx, &mut env);
}

/// `HashMap<String, String>`, `HashMap<String, Vec<u8>>` and `Vec<(String, Vec<u8>)>`.
pub fn extract_maps(data: &[u8]) {
    let headers = headers(data);
    let strings: HashMap<String, String> =
        headers.iter().map(|(k, v)| (text(k), text(v))).collect();
    let bytes: HashMap<String, Vec<u8>> =
        headers.iter().map(|(k, v)| (text(k), v.clone())).collect();
    let list: Vec<(String, Vec<u8>)> = headers.iter().map(|(k, v)| (text(k), v.clone())).collect();
    extract_all(&strings);
    extract_all(&bytes);
    extract_all(&list);
}

/// `http::HeaderMap`, with whatever names and values `http` accepts.
pub fn extract_http(data: &[u8]) {
    let mut map = http::HeaderMap::new();
    for (k, v) in headers(data) {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(&k),
            http::HeaderValue::from_bytes(&v),
        ) {
            map.append(name, value);
        }
    }
    extract_all(&map);
}

/// lapin's `FieldTable`, each value typed by its first byte.
pub fn extract_amqp(data: &[u8]) {
    use lapin::types::{AMQPValue, ByteArray, FieldTable, LongString, ShortString};
    let mut table = FieldTable::default();
    for (k, v) in headers(data) {
        let Ok(key) = ShortString::try_new(text(&k)) else {
            continue;
        };
        let value = match v.first().copied().unwrap_or(0) % 4 {
            0 => AMQPValue::LongString(LongString::from(v.get(1..).unwrap_or_default().to_vec())),
            1 => match ShortString::try_new(text(v.get(1..).unwrap_or_default())) {
                Ok(s) => AMQPValue::ShortString(s),
                Err(_) => continue,
            },
            2 => AMQPValue::ByteArray(ByteArray::from(v.get(1..).unwrap_or_default().to_vec())),
            _ => AMQPValue::LongLongInt(v.len() as i64),
        };
        table.insert(key, value);
    }
    extract_all(&table);
}

/// `async_nats::HeaderMap`, with whatever names and values NATS accepts.
pub fn extract_nats(data: &[u8]) {
    let mut map = async_nats::HeaderMap::new();
    for (k, v) in headers(data) {
        if let (Ok(name), Ok(value)) = (
            async_nats::HeaderName::from_str(&text(&k)),
            async_nats::HeaderValue::from_str(&text(&v)),
        ) {
            map.append(name, value);
        }
    }
    extract_all(&map);
}

/// rdkafka's `OwnedHeaders`, values possibly absent (an empty value after `:` reads as null).
/// Keys are the input's bytes as a producer can send them (not UTF-8, with NULs), added through
/// librdkafka, since rdkafka's `insert` takes only `&str`.
pub fn extract_kafka(data: &[u8]) {
    use rdkafka::bindings;
    use rdkafka::message::{BorrowedHeaders, OwnedHeaders};
    let owned = OwnedHeaders::new();
    let list = (owned.as_borrowed() as *const BorrowedHeaders)
        .cast::<bindings::rd_kafka_headers_t>()
        .cast_mut();
    for (k, v) in headers(data) {
        let value = if v.is_empty() {
            std::ptr::null()
        } else {
            v.as_ptr()
        };
        // SAFETY: `list` is the header list `owned` holds (rdkafka's `&BorrowedHeaders` is its
        // address), not shared while it is written; librdkafka copies the name and value.
        unsafe {
            bindings::rd_kafka_header_add(
                list,
                k.as_ptr().cast(),
                k.len() as isize,
                value.cast(),
                v.len() as isize,
            );
        }
    }
    extract_all(&owned);
}

/// A Redis stream entry (`StreamId`), as `XREADGROUP` returns it: the server's reply parsed by
/// redis-rs, values as bulk strings (an empty value after `:` as an integer, which is not text).
pub fn extract_redis(data: &[u8]) {
    use redis::{FromRedisValue, Value};
    let fields = headers(data)
        .into_iter()
        .flat_map(|(k, v)| {
            let value = if v.is_empty() {
                Value::Int(7)
            } else {
                Value::BulkString(v)
            };
            [Value::BulkString(k), value]
        })
        .collect();
    let reply = Value::Array(vec![Value::Array(vec![
        Value::BulkString(b"1700000000000-0".to_vec()),
        Value::Array(fields),
    ])]);
    // redis-rs refuses a reply whose field names are not UTF-8: then there is nothing to read.
    if let Ok(range) = redis::streams::StreamRangeReply::from_redis_value(reply) {
        for entry in &range.ids {
            extract_all(entry);
        }
    }
}

/// MQTT 5 user properties (rumqttc's `PublishProperties`, whose names and values are strings),
/// and the same in a whole v5 `Publish` whose topic is the first key.
pub fn extract_mqtt(data: &[u8]) {
    use rumqttc::v5::mqttbytes::QoS;
    use rumqttc::v5::mqttbytes::v5::{Publish, PublishProperties};
    let pairs = headers(data);
    let properties = PublishProperties {
        user_properties: pairs.iter().map(|(k, v)| (text(k), text(v))).collect(),
        ..Default::default()
    };
    extract_all(&properties);
    let topic = pairs.first().map(|(k, _)| text(k)).unwrap_or_default();
    let publish = Publish::new(topic, QoS::AtLeastOnce, "", Some(properties));
    extract_all(&publish);
    let mut attributes = Vec::new();
    tracebound::Extract::message_attributes(&publish, &mut attributes);
}

/// The process-environment carrier.
pub fn extract_env(data: &[u8]) {
    let vars = tracebound::env::Environment::from_vars(
        headers(data).iter().map(|(k, v)| (text(k), text(v))),
    );
    extract_all(&vars);
}

/// One `traceparent` and `tracestate` value each, straight into the W3C propagator.
pub fn parse_trace_context(data: &[u8]) {
    let mut parts = data.splitn(2, |&b| b == b'\n');
    let parent = text(parts.next().unwrap_or_default());
    let state = text(parts.next().unwrap_or_default());
    let carrier = HashMap::from([
        ("traceparent".to_owned(), parent),
        ("tracestate".to_owned(), state),
    ]);
    extract_all(&carrier);
}

/// One `baggage` value.
pub fn parse_baggage(data: &[u8]) {
    extract_all(&HashMap::from([("baggage".to_owned(), text(data))]));
}

/// One `b3` value, and the same bytes as `uber-trace-id`.
pub fn parse_b3(data: &[u8]) {
    extract_all(&HashMap::from([
        ("b3".to_owned(), text(data)),
        ("uber-trace-id".to_owned(), text(data)),
    ]));
}

/// A fuzz target's body.
pub type Target = fn(&[u8]);

/// Every target, by the name of its corpus directory.
pub const TARGETS: [(&str, Target); 11] = [
    ("extract_maps", extract_maps),
    ("extract_http", extract_http),
    ("extract_amqp", extract_amqp),
    ("extract_nats", extract_nats),
    ("extract_kafka", extract_kafka),
    ("extract_redis", extract_redis),
    ("extract_mqtt", extract_mqtt),
    ("extract_env", extract_env),
    ("parse_trace_context", parse_trace_context),
    ("parse_baggage", parse_baggage),
    ("parse_b3", parse_b3),
];

#[cfg(test)]
mod tests {
    #[test]
    fn a_ten_megabyte_header_is_refused_not_copied() {
        let mut data = b"traceparent:".to_vec();
        data.extend(std::iter::repeat_n(b'a', 10 << 20));
        for (_, target) in super::TARGETS {
            target(&data);
        }
    }
}
