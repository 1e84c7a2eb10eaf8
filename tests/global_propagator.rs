//! With no global propagator set, tracebound reads and writes W3C headers; once one is set,
//! it uses that one: from the next call after `refresh_provider` (or a tracebound installer),
//! and within `RECHECK_EVERY` uses per thread without it. Alone in its binary: it sets the process-wide propagator.

use opentelemetry::propagation::{
    Extractor, Injector, TextMapPropagator, text_map_propagator::FieldIter,
};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry::{Context, global};
use std::collections::HashMap;
use tracebound::{traced_consumer, traced_producer};
use tracebound_tests::traced;

type Headers = HashMap<String, String>;

/// A made-up format, `{field}: {trace id}/{span id}`, to tell the propagators apart.
#[derive(Debug)]
struct SlashPropagator(Vec<String>);

impl TextMapPropagator for SlashPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let span = cx.span();
        let sc = span.span_context();
        injector.set(&self.0[0], format!("{}/{}", sc.trace_id(), sc.span_id()));
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let Some((trace, span)) = extractor.get("x-span").and_then(|v| v.split_once('/')) else {
            return cx.clone();
        };
        let (Ok(trace), Ok(span)) = (TraceId::from_hex(trace), SpanId::from_hex(span)) else {
            return cx.clone();
        };
        let sc = SpanContext::new(trace, span, TraceFlags::SAMPLED, true, TraceState::NONE);
        cx.with_remote_span_context(sc)
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(&self.0)
    }
}

#[traced_producer(carrier = headers, destination = "q")]
async fn send(headers: &mut Headers) {}

#[traced_consumer(carrier = headers, destination = "q")]
async fn receive(headers: Headers) {}

#[tokio::test]
async fn the_default_is_w3c_and_a_global_propagator_replaces_it() {
    let ((), trace) = traced("w3c-default", async {
        let mut headers = Headers::new();
        send(&mut headers).await;
        assert!(headers.contains_key("traceparent"), "{headers:?}");
        receive(headers).await;
    })
    .await;
    trace.assert_parent("process q", "send q");

    assert_eq!(tracebound::inspect::propagator_kind(), "default");

    // Set without telling tracebound: each thread looks again within RECHECK_EVERY uses.
    global::set_text_map_propagator(SlashPropagator(vec!["x-span".into()]));
    let window = tracebound::inspect::RECHECK_EVERY as usize + 1;
    let uses_before_switch = (0..window)
        .take_while(|_| {
            let mut headers = Headers::new();
            send_now(&mut headers);
            !headers.contains_key("x-span")
        })
        .count();
    assert!(
        uses_before_switch < window,
        "still not switched after {window} uses"
    );
    assert_eq!(tracebound::inspect::propagator_kind(), "global");

    let ((), trace) = traced("global-propagator", async {
        let mut headers = Headers::new();
        send(&mut headers).await;
        assert_eq!(headers.keys().collect::<Vec<_>>(), ["x-span"]);
        receive(headers).await;
    })
    .await;
    trace.assert_parent("process q", "send q");
}

/// Sends with the propagator this thread uses.
#[traced_producer(carrier = headers)]
fn send_now(headers: &mut Headers) {}
