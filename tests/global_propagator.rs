//! With no global propagator set, tracebound reads and writes W3C headers; once one is set,
//! it uses that one. Alone in its binary: it sets the process-wide propagator.

use opentelemetry::propagation::{
    Extractor, Injector, TextMapPropagator, text_map_propagator::FieldIter,
};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry::{Context, global};
use std::collections::HashMap;
use tracebound::{traced_consumer, traced_producer};
use tracebound_tests::traced;

type Headers = HashMap<String, String>;

/// A made-up format, `x-span: {trace id}/{span id}`, to tell the propagators apart.
#[derive(Debug)]
struct SlashPropagator(Vec<String>);

impl TextMapPropagator for SlashPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let span = cx.span();
        let sc = span.span_context();
        injector.set("x-span", format!("{}/{}", sc.trace_id(), sc.span_id()));
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

    global::set_text_map_propagator(SlashPropagator(vec!["x-span".into()]));
    let ((), trace) = traced("global-propagator", async {
        let mut headers = Headers::new();
        send(&mut headers).await;
        assert_eq!(headers.keys().collect::<Vec<_>>(), ["x-span"]);
        receive(headers).await;
    })
    .await;
    trace.assert_parent("process q", "send q");
}
