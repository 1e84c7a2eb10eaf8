//! The carriers of Kafka (rdkafka `OwnedHeaders`), Redis Streams (redis `StreamId`, and the
//! `Vec<(String, Vec<u8>)>` written for `XADD`) and MQTT 5 (rumqttc `PublishProperties`),
//! each against the extractor and injector a user would write for the same type by hand, as
//! OpenTelemetry's examples do. Both sides run the SDK's W3C `TraceContextPropagator`, so the
//! ratio is the carrier's alone.
//!
//! `cargo bench -p tracebound-benches --bench carriers`: each round times a batch of every
//! variant in an order that rotates from round to round and divides by the hand-written
//! variant's time in the same round; the median ratio and its quartiles are printed.

use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use rdkafka::message::{Header, Headers, OwnedHeaders};
use redis::Value;
use redis::streams::StreamId;
use rumqttc::v5::mqttbytes::v5::PublishProperties;
use std::collections::HashMap;
use std::hint::black_box;
use std::time::Instant;

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const ROUNDS: usize = 300;
const CALLS: u64 = 2_000;

// --- Hand-written carriers -------------------------------------------------------------------

struct KafkaExtractor<'a>(&'a OwnedHeaders);

impl Extractor for KafkaExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|h| h.key == key)
            .and_then(|h| std::str::from_utf8(h.value?).ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|h| h.key).collect()
    }
}

struct KafkaInjector<'a>(&'a mut OwnedHeaders);

impl Injector for KafkaInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        let headers = std::mem::take(self.0);
        *self.0 = headers.insert(Header {
            key,
            value: Some(&value),
        });
    }
}

struct RedisExtractor<'a>(&'a StreamId);

impl Extractor for RedisExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        match self.0.map.get(key)? {
            Value::BulkString(bytes) => std::str::from_utf8(bytes).ok(),
            Value::SimpleString(text) => Some(text),
            _ => None,
        }
    }
    fn keys(&self) -> Vec<&str> {
        self.0.map.keys().map(String::as_str).collect()
    }
}

struct FieldsInjector<'a>(&'a mut Vec<(String, Vec<u8>)>);

impl Injector for FieldsInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.push((key.to_owned(), value.into_bytes()));
    }
}

struct MqttExtractor<'a>(&'a PublishProperties);

impl Extractor for MqttExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .user_properties
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    fn keys(&self) -> Vec<&str> {
        self.0
            .user_properties
            .iter()
            .map(|(k, _)| k.as_str())
            .collect()
    }
}

struct MqttInjector<'a>(&'a mut PublishProperties);

impl Injector for MqttInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.user_properties.push((key.to_owned(), value));
    }
}

// --- The carriers as a consumer receives them --------------------------------------------------

fn kafka_headers() -> OwnedHeaders {
    OwnedHeaders::new()
        .insert(Header {
            key: "content-type",
            value: Some("application/json"),
        })
        .insert(Header {
            key: "traceparent",
            value: Some(TRACEPARENT),
        })
}

fn stream_entry() -> StreamId {
    StreamId {
        id: "1700000000000-0".into(),
        map: HashMap::from([
            (
                "order".to_owned(),
                Value::BulkString(b"{\"sku\":7}".to_vec()),
            ),
            (
                "traceparent".to_owned(),
                Value::BulkString(TRACEPARENT.as_bytes().to_vec()),
            ),
        ]),
        ..Default::default()
    }
}

fn mqtt_properties() -> PublishProperties {
    PublishProperties {
        user_properties: vec![
            ("unit".into(), "celsius".into()),
            ("traceparent".into(), TRACEPARENT.into()),
        ],
        ..Default::default()
    }
}

fn sampled() -> Context {
    Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from(0x4bf92f3577b34da6a3ce929d0e0e4736),
        SpanId::from(0x00f067aa0ba902b7),
        TraceFlags::SAMPLED,
        true,
        TraceState::NONE,
    ))
}

// --- The harness -------------------------------------------------------------------------------

type Batch = Box<dyn Fn(u64)>;

struct Row {
    name: &'static str,
    tracebound: Batch,
    by_hand: Batch,
}

fn rows() -> Vec<Row> {
    let propagator: &'static TraceContextPropagator =
        Box::leak(Box::new(TraceContextPropagator::new()));
    let cx: &'static Context = Box::leak(Box::new(sampled()));
    let empty: &'static Context = Box::leak(Box::new(Context::new()));
    let kafka: &'static OwnedHeaders = Box::leak(Box::new(kafka_headers()));
    let entry: &'static StreamId = Box::leak(Box::new(stream_entry()));
    let mqtt: &'static PublishProperties = Box::leak(Box::new(mqtt_properties()));
    // An extraction row: `carrier` read by tracebound and through the hand-written `$by_hand`.
    macro_rules! extract {
        ($name:literal, $carrier:expr, $by_hand:ident) => {
            Row {
                name: $name,
                tracebound: Box::new(move |n| {
                    for _ in 0..n {
                        black_box(tracebound::propagation::extract_using(
                            propagator,
                            empty,
                            black_box($carrier),
                        ));
                    }
                }),
                by_hand: Box::new(move |n| {
                    for _ in 0..n {
                        black_box(
                            propagator.extract_with_context(empty, &$by_hand(black_box($carrier))),
                        );
                    }
                }),
            }
        };
    }
    // An injection row: a new `$carrier` written by tracebound and through `$by_hand`.
    macro_rules! inject {
        ($name:literal, $carrier:ty, $by_hand:ident) => {
            Row {
                name: $name,
                tracebound: Box::new(move |n| {
                    for _ in 0..n {
                        let mut carrier = <$carrier>::default();
                        tracebound::propagation::inject_using(
                            propagator,
                            black_box(cx),
                            &mut carrier,
                        );
                        black_box(carrier);
                    }
                }),
                by_hand: Box::new(move |n| {
                    for _ in 0..n {
                        let mut carrier = <$carrier>::default();
                        propagator.inject_context(black_box(cx), &mut $by_hand(&mut carrier));
                        black_box(carrier);
                    }
                }),
            }
        };
    }
    vec![
        extract!("Kafka OwnedHeaders: extract", kafka, KafkaExtractor),
        inject!("Kafka OwnedHeaders: inject", OwnedHeaders, KafkaInjector),
        extract!("Redis StreamId: extract", entry, RedisExtractor),
        inject!(
            "Redis XADD fields: inject",
            Vec<(String, Vec<u8>)>,
            FieldsInjector
        ),
        extract!("MQTT 5 PublishProperties: extract", mqtt, MqttExtractor),
        inject!(
            "MQTT 5 PublishProperties: inject",
            PublishProperties,
            MqttInjector
        ),
    ]
}

fn quartiles(mut values: Vec<f64>) -> [f64; 3] {
    values.sort_by(f64::total_cmp);
    let at = |q: usize| values[(values.len() - 1) * q / 4];
    [at(1), at(2), at(3)]
}

/// Both sides read the same context from each carrier, and write what reads back.
fn check() {
    let propagator = TraceContextPropagator::new();
    let empty = Context::new();
    let ours = |cx: Context| cx.span().span_context().clone();
    let want = ours(sampled());
    let kafka = kafka_headers();
    let entry = stream_entry();
    let mqtt = mqtt_properties();
    for (name, theirs, tracebound) in [
        (
            "kafka",
            propagator.extract_with_context(&empty, &KafkaExtractor(&kafka)),
            tracebound::propagation::extract_using(&propagator, &empty, &kafka),
        ),
        (
            "redis",
            propagator.extract_with_context(&empty, &RedisExtractor(&entry)),
            tracebound::propagation::extract_using(&propagator, &empty, &entry),
        ),
        (
            "mqtt",
            propagator.extract_with_context(&empty, &MqttExtractor(&mqtt)),
            tracebound::propagation::extract_using(&propagator, &empty, &mqtt),
        ),
    ] {
        assert_eq!(ours(theirs), want, "{name}: by hand");
        assert_eq!(ours(tracebound), want, "{name}: tracebound");
    }
    let mut headers = OwnedHeaders::new();
    tracebound::propagation::inject_context(&sampled(), &mut headers);
    assert_eq!(
        headers
            .iter()
            .find(|h| h.key == "traceparent")
            .unwrap()
            .value,
        Some(TRACEPARENT.as_bytes())
    );
}

fn main() {
    // `cargo test --benches` runs the bench binary with `--bench` absent: check only.
    check();
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    println!(
        "{:<36} {:>12} {:>12} {:>22}",
        "carrier", "tracebound", "by hand", "ratio (q1 / median / q3)"
    );
    for row in rows() {
        (row.tracebound)(CALLS);
        (row.by_hand)(CALLS);
        let (mut ours, mut theirs, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..ROUNDS {
            let time = |batch: &Batch| {
                let start = Instant::now();
                batch(CALLS);
                start.elapsed().as_nanos() as f64 / CALLS as f64
            };
            let (a, b) = if round % 2 == 0 {
                let a = time(&row.tracebound);
                (a, time(&row.by_hand))
            } else {
                let b = time(&row.by_hand);
                (time(&row.tracebound), b)
            };
            ours.push(a);
            theirs.push(b);
            ratios.push(a / b);
        }
        let [q1, median, q3] = quartiles(ratios);
        println!(
            "{:<36} {:>9.1} ns {:>9.1} ns {:>8.3} / {:.3} / {:.3}",
            row.name,
            quartiles(ours)[1],
            quartiles(theirs)[1],
            q1,
            median,
            q3
        );
    }
}
