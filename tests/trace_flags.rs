//! W3C Trace Context Level 2's random flag (0x02) through traced calls: kept when the trace id
//! came from a parent that set it, whether or not the sampler records the child; set on trace
//! ids the provider made; never invented for a parent that did not set it.

use opentelemetry::trace::TraceContextExt;
use std::collections::HashMap;
use tracebound::testing;
use tracebound::{traced_consumer, traced_producer};
use tracebound_tests::{exclusive, runtime};

type Headers = HashMap<String, String>;

const TRACE: &str = "12345678901234567890123456789012";
const PARENT: &str = "1234567890123456";

#[traced_producer(carrier = headers, system = "rabbitmq", destination = "flags")]
async fn send(headers: &mut Headers) {
    tokio::task::yield_now().await;
}

/// A service: receives `incoming`, sends one message on, and returns what it sent.
#[traced_consumer(carrier = incoming, system = "rabbitmq", destination = "flags")]
async fn forward(incoming: Headers) -> Headers {
    let mut out = Headers::new();
    tracebound::spawn(async move {
        send(&mut out).await;
        out
    })
    .await
    .unwrap()
}

fn incoming(flags: &str) -> Headers {
    HashMap::from([(
        "traceparent".to_owned(),
        format!("00-{TRACE}-{PARENT}-{flags}"),
    )])
}

/// `(trace id, parent id, flags)` of the `traceparent` in `headers`.
fn sent(headers: &Headers) -> (String, String, String) {
    let value = &headers["traceparent"];
    let parts: Vec<&str> = value.split('-').collect();
    assert_eq!(parts.len(), 4, "{value}");
    (
        parts[1].to_owned(),
        parts[2].to_owned(),
        parts[3].to_owned(),
    )
}

#[test]
fn the_random_flag_follows_the_trace_id() {
    let _turn = exclusive();
    let recorder = testing::install();
    let rt = runtime(2);
    for (received, expected, recorded) in [
        // Not sampled, random: the SDK drops the child span and would clear the flag.
        ("02", "02", false),
        // Sampled and random: recorded, flag kept.
        ("03", "03", true),
        // Sampled, not random: nothing invented.
        ("01", "01", true),
        ("00", "00", false),
        // Unknown flags are not forwarded (§ trace-flags: "MUST set unknown flags to zero").
        ("ff", "03", true),
        ("fe", "02", false),
    ] {
        let out = rt.block_on(forward(incoming(received)));
        let (trace, parent, flags) = sent(&out);
        assert_eq!(trace, TRACE, "received {received}");
        assert_ne!(parent, PARENT, "received {received}: a new span id is sent");
        assert_eq!(flags, expected, "received {received}, sent {flags}");
        let spans: Vec<_> = recorder
            .spans()
            .into_iter()
            .filter(|s| s.span_context.trace_id().to_string() == TRACE)
            .collect();
        let producer = spans
            .iter()
            .find(|s| s.span_context.span_id().to_string() == parent);
        assert_eq!(producer.is_some(), recorded, "received {received}");
        if let Some(producer) = producer {
            let consumer = spans
                .iter()
                .find(|s| s.name == "process flags")
                .expect("the consumer span");
            assert_eq!(producer.parent_span_id, consumer.span_context.span_id());
            assert_eq!(consumer.parent_span_id.to_string(), PARENT);
        }
        recorder.reset();
    }
}

#[test]
fn a_trace_id_the_provider_made_is_random() {
    let _turn = exclusive();
    let _recorder = testing::install();
    let rt = runtime(2);
    // No incoming context: the consumer starts a trace whose id the SDK's generator made.
    let out = rt.block_on(forward(Headers::new()));
    let (trace, _, flags) = sent(&out);
    assert_eq!(flags, "03");
    // The flag is on the span context the body sees too, not only on the wire.
    let seen = rt.block_on(async {
        #[tracebound::traced_task]
        async fn root() -> u8 {
            opentelemetry::Context::current()
                .span()
                .span_context()
                .trace_flags()
                .to_u8()
        }
        root().await
    });
    assert_eq!(seen, 0x03);
    // A provider whose ids are not random: said once, and the flag is not set.
    tracebound::propagation::set_random_trace_ids(false);
    let out2 = rt.block_on(forward(Headers::new()));
    tracebound::propagation::set_random_trace_ids(true);
    let (trace2, _, flags2) = sent(&out2);
    assert_eq!(flags2, "01");
    assert_ne!(trace, trace2);
}
