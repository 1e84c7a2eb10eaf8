//! The once-per-process warnings, captured through a `tracing` subscriber. Alone in its binary:
//! the warnings are process-wide, and one test installs no provider on purpose.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tracebound::traced_consumer;
use tracing::field::{Field, Visit};
use tracing::{Event, Metadata, Subscriber, span};

/// Collects the messages of `tracebound` events.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<String>>>);

struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

impl Subscriber for Capture {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target() == "tracebound"
    }
    fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(1)
    }
    fn record(&self, _: &span::Id, _: &span::Record<'_>) {}
    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut message = Message(String::new());
        event.record(&mut message);
        self.0.lock().unwrap().push(message.0);
    }
    fn enter(&self, _: &span::Id) {}
    fn exit(&self, _: &span::Id) {}
}

#[traced_consumer(carrier = headers, destination = "orders")]
fn process(headers: &HashMap<String, String>) {}

fn headers(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn broken_propagation_is_reported_once_each() {
    let capture = Capture::default();
    tracing::subscriber::with_default(capture.clone(), || {
        // No provider yet: the first span says so.
        process(&headers(&[]));
        // The default propagator reads W3C; these carriers hold what it cannot read.
        process(&headers(&[
            ("x-b3-traceid", "4bf92f3577b34da6a3ce929d0e0e4736"),
            ("x-b3-spanid", "00f067aa0ba902b7"),
        ]));
        process(&headers(&[(
            "uber-trace-id",
            "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1",
        )]));
        process(&headers(&[("traceparent", "00-zzzz")]));
        // Each again: no more warnings.
        process(&headers(&[]));
        process(&headers(&[("x-b3-traceid", "1")]));
        process(&headers(&[("traceparent", "garbage")]));
    });
    let messages = capture.0.lock().unwrap().clone();
    assert_eq!(messages.len(), 4, "{messages:#?}");
    assert!(
        messages[0].contains("before any tracer provider is installed"),
        "{}",
        messages[0]
    );
    assert!(
        messages[1].contains("`x-b3-traceid`") && messages[1].contains("b3multi"),
        "{}",
        messages[1]
    );
    assert!(
        messages[2].contains("`uber-trace-id`") && messages[2].contains("jaeger"),
        "{}",
        messages[2]
    );
    assert!(
        messages[3].contains("malformed `traceparent`") && messages[3].contains("00-zzzz"),
        "{}",
        messages[3]
    );
    a_guard_held_across_an_await_is_reported_once();
}

/// Makes an OpenTelemetry guard the compile-time check cannot see (it is not named `attach`).
fn remote_guard() -> opentelemetry::ContextGuard {
    use opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState,
    };
    let remote = SpanContext::new(
        TraceId::from(7),
        SpanId::from(9),
        TraceFlags::SAMPLED,
        true,
        TraceState::NONE,
    );
    opentelemetry::Context::current()
        .with_remote_span_context(remote)
        .attach()
}

#[tracebound::traced_task]
async fn waits_holding_a_guard() {
    let guard = remote_guard();
    tokio::task::yield_now().await;
    drop(guard);
}

/// Part of the test above, after it: the warnings are once per process, and the first traced
/// call of a thread with no provider gives the "no provider" one.
fn a_guard_held_across_an_await_is_reported_once() {
    use opentelemetry::baggage::BaggageExt;
    let capture = Capture::default();
    tracing::subscriber::with_default(capture.clone(), || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        // Something to carry, so that the call attaches a context of its own even with no
        // provider installed.
        let cx = opentelemetry::Context::new()
            .with_baggage([opentelemetry::KeyValue::new("tenant", "acme")]);
        let _token = tracebound::attach(cx);
        rt.block_on(async {
            waits_holding_a_guard().await;
            waits_holding_a_guard().await;
        });
    });
    let messages = capture.0.lock().unwrap().clone();
    let reported: Vec<_> = messages
        .iter()
        .filter(|m| m.contains("`ContextGuard` still attached"))
        .collect();
    assert_eq!(reported.len(), 1, "{messages:#?}");
}
