//! tracebound inside a `tracing` service: tracing-subscriber with tracing-opentelemetry 0.34
//! and `tracebound::tracing::layer()`, on a multi-thread runtime, checked span by span in both
//! of tracing-opentelemetry's context-activation modes.

use opentelemetry::trace::{SpanId, Status, TraceContextExt};
use opentelemetry::{Array, Context, Value};
use opentelemetry_sdk::trace::SpanData;
use tracebound::testing::{self, TraceTree};
use tracebound::{traced_blocking, traced_task};
use tracebound_tests::with_tracing::{BOTH, Mode, label, service};
use tracebound_tests::{attribute, event_attribute};
use tracing::{Instrument, info_span};

/// The trace of the span named `root`.
fn trace_of(root: &str) -> TraceTree {
    testing::recorder().trace_of(root)
}

fn events<'a>(
    trace: &'a TraceTree,
    name: &str,
) -> Vec<(&'a SpanData, &'a opentelemetry::trace::Event)> {
    trace
        .spans()
        .iter()
        .flat_map(|s| s.events.iter().map(move |e| (s, e)))
        .filter(|(_, e)| e.name == name)
        .collect()
}

fn current_span_id() -> SpanId {
    Context::map_current(|cx| cx.span().span_context().span_id())
}

#[traced_task]
async fn handle(order: u64) -> u64 {
    tracing::info!(order, "handling");
    let checked = tokio::spawn(check(order)).await.unwrap();
    let priced = price(order).await;
    inner_instrumented(order).await + checked + priced
}

#[traced_task]
async fn check(order: u64) -> u64 {
    tokio::task::yield_now().await;
    order
}

#[traced_blocking]
fn price(order: u64) -> u64 {
    tracing::warn!("priced on the blocking pool");
    order * 2
}

#[tracing::instrument(skip_all)]
async fn inner_instrumented(order: u64) -> u64 {
    tokio::task::yield_now().await;
    tracing::info!("in the instrumented function");
    nested().await + order
}

#[traced_task]
async fn nested() -> u64 {
    1
}

/// A traced call inside an entered tracing span is its child; a tracing span started inside
/// the traced body is the traced span's child, and a traced call inside that, its child; the
/// blocking pool and a spawned task keep their parents.
/// Both activation modes, and both with tracebound's layer added before tracing-opentelemetry's.
fn every_order() -> impl Iterator<Item = Mode> {
    BOTH.into_iter().chain(BOTH.into_iter().map(|m| Mode {
        reversed: true,
        ..m
    }))
}

#[test]
fn parents_in_both_directions_in_both_activation_modes() {
    for mode in every_order() {
        let service = service(mode);
        let root = format!("request ({})", label(mode));
        let out = service.run(async {
            let span = info_span!("request", otel.name = root.as_str());
            tokio::spawn(async { tokio::spawn(handle(7)).await.unwrap() }.instrument(span))
                .await
                .unwrap()
        });
        assert_eq!(out, 7 + 7 + 14 + 1);
        let trace = trace_of(&root);
        let mode = label(mode);
        trace.assert_single_trace();
        trace.assert_parent("handle", &root);
        trace.assert_parent("check", "handle");
        trace.assert_parent("price", "handle");
        trace.assert_parent("inner_instrumented", "handle");
        trace.assert_parent("nested", "inner_instrumented");
        assert_eq!(trace.spans().len(), 6, "{mode}: {}", trace.render());
    }
}

/// An event inside a tracebound span is one span event on that span, whether or not a tracing
/// span is entered further out; an event inside a tracing span is on that span; none twice.
#[test]
fn events_land_on_their_innermost_span_once() {
    for mode in every_order() {
        let service = service(mode);
        let root = format!("events ({})", label(mode));
        service.run(async {
            let span = info_span!("request", otel.name = root.as_str());
            async { handle(3).await }.instrument(span).await
        });
        let trace = trace_of(&root);
        let mode = label(mode);
        // Polled inside the request span: a tracing span started in the traced body is still
        // the traced span's child, not the request span's.
        trace.assert_single_trace();
        trace.assert_parent("handle", &root);
        trace.assert_parent("inner_instrumented", "handle");
        trace.assert_parent("nested", "inner_instrumented");
        trace.assert_parent("price", "handle");
        let handling = events(&trace, "handling");
        assert_eq!(handling.len(), 1, "{mode}: {}", trace.to_lines());
        let (span, event) = handling[0];
        assert_eq!(span.name, "handle", "{mode}");
        assert_eq!(
            event_attribute(event, "order"),
            Some(&Value::I64(3)),
            "{mode}"
        );
        assert_eq!(
            event_attribute(event, "level"),
            Some(&Value::from("INFO")),
            "{mode}"
        );
        assert_eq!(
            event_attribute(event, "target"),
            Some(&Value::from("tracing_bridge")),
            "{mode}"
        );
        assert_eq!(
            event_attribute(event, "code.module.name"),
            Some(&Value::from("tracing_bridge")),
            "{mode}"
        );
        assert!(
            event_attribute(event, "code.file.path")
                .is_some_and(|f| f.as_str().ends_with("tracing_bridge.rs")),
            "{mode}"
        );
        assert!(matches!(
            event_attribute(event, "code.line.number"),
            Some(Value::I64(_))
        ));
        let priced = events(&trace, "priced on the blocking pool");
        assert_eq!(priced.len(), 1, "{mode}");
        assert_eq!(priced[0].0.name, "price", "{mode}");
        assert_eq!(
            event_attribute(priced[0].1, "level"),
            Some(&Value::from("WARN"))
        );
        let instrumented = events(&trace, "in the instrumented function");
        assert_eq!(instrumented.len(), 1, "{mode}");
        assert_eq!(instrumented[0].0.name, "inner_instrumented", "{mode}");
        // The waterfall shows it under its span.
        let drawn = trace.render_with_events();
        let lines: Vec<&str> = drawn.lines().collect();
        let at = lines
            .iter()
            .position(|l| l.contains("handle [internal]"))
            .expect("the handle line");
        assert!(
            lines[at + 1].ends_with("· INFO handling"),
            "{mode}: {drawn}"
        );
        let on_root = trace.span(&root).events.len();
        assert_eq!(on_root, 0, "{mode}: nothing recorded on the request span");
    }
}

/// Without `tracebound::tracing::otel`, an event inside a tracebound span inside a tracing span is left to
/// tracing-opentelemetry, which records it on the tracing span: once, never on both.
#[test]
fn without_the_filter_an_event_is_recorded_once_on_the_tracing_span() {
    for activation in [true, false] {
        let mode = Mode {
            activation,
            wrapped: false,
            json: false,
            reversed: false,
        };
        let service = service(mode);
        let root = format!("unfiltered ({})", label(mode));
        service.run(async {
            let span = info_span!("request", otel.name = root.as_str());
            async { handle(5).await }.instrument(span).await
        });
        let trace = trace_of(&root);
        let handling = events(&trace, "handling");
        assert_eq!(handling.len(), 1, "{}", label(mode));
        assert_eq!(handling[0].0.name, root);
        // Outside any tracing span the layer records on the tracebound span.
        let priced = events(&trace, "priced on the blocking pool");
        assert_eq!(priced.len(), 1);
        assert_eq!(priced[0].0.name, "price");
    }
}

#[derive(Debug)]
struct Declined {
    source: std::io::Error,
}

impl std::fmt::Display for Declined {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("card declined")
    }
}

impl std::error::Error for Declined {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

#[traced_task(name = "charge")]
async fn charge(amount: u64) -> u64 {
    tracing::error!(error = %"insufficient funds", amount, "");
    let declined = Declined {
        source: std::io::Error::other("issuer unreachable"),
    };
    tracing::error!(
        error = &declined as &(dyn std::error::Error + 'static),
        "charge failed"
    );
    amount
}

#[traced_task(name = "audit")]
async fn audit() {
    tracing::error!("audit log unavailable");
}

/// Error events follow tracing-opentelemetry's mapping on tracebound spans: an `error` field
/// makes an `exception` event and the span's status; an error value adds the exception
/// attributes; a plain ERROR event sets status ERROR.
#[test]
fn error_events_become_exceptions_on_tracebound_spans() {
    let service = service(BOTH[0]);
    let trace = service.run(async {
        tracebound_tests::traced("errors-root", async {
            charge(12).await;
            audit().await;
        })
        .await
        .1
    });
    let charge = trace.span("charge");
    let exception = charge
        .events
        .iter()
        .find(|e| e.name == "exception")
        .expect("an exception event");
    assert_eq!(
        event_attribute(exception, "exception.message"),
        Some(&Value::from("insufficient funds"))
    );
    assert_eq!(event_attribute(exception, "amount"), Some(&Value::I64(12)));
    let failed = charge
        .events
        .iter()
        .find(|e| e.name == "charge failed")
        .expect("the error value's event");
    assert_eq!(
        event_attribute(failed, "exception.message"),
        Some(&Value::from("card declined"))
    );
    assert_eq!(
        event_attribute(failed, "exception.stacktrace"),
        Some(&Value::Array(Array::String(vec![
            "issuer unreachable".into()
        ])))
    );
    assert_eq!(
        charge.status,
        Status::error("insufficient funds"),
        "the error field's text is the status"
    );
    assert!(
        attribute(charge, "exception.message").is_some(),
        "an error value is recorded on the span too"
    );
    assert!(matches!(trace.span("audit").status, Status::Error { .. }));
}

/// Log lines carry the innermost span's ids, tracebound's or a tracing span's, as text and as
/// JSON fields; a line outside any trace has none.
#[test]
fn log_lines_carry_the_current_trace_and_span_ids() {
    for json in [false, true] {
        for activation in [true, false] {
            let mode = Mode {
                activation,
                wrapped: true,
                json,
                reversed: false,
            };
            let service = service(mode);
            let root = format!("lines ({}, json {json})", label(mode));
            let (in_traced, in_tracing) = service.run(async {
                tracing::info!("outside any trace");
                let span = info_span!("request", otel.name = root.as_str());
                async {
                    let in_traced = logged().await;
                    tracing::info!("in the tracing span");
                    (in_traced, current_span_id())
                }
                .instrument(span)
                .await
            });
            let trace = trace_of(&root);
            let trace_id = trace.span(&root).span_context.trace_id();
            assert_eq!(in_tracing, trace.span(&root).span_context.span_id());
            assert_eq!(in_traced, trace.span("logged").span_context.span_id());
            let text = service.lines.text();
            let line = |needle: &str| {
                text.lines()
                    .find(|l| l.contains(needle))
                    .unwrap_or_else(|| panic!("no line with {needle:?} in {text}"))
                    .to_owned()
            };
            let ids = |line: &str| -> (String, String) {
                if json {
                    let v: serde_json::Value = serde_json::from_str(line).unwrap();
                    (
                        v["trace_id"].as_str().unwrap_or_default().to_owned(),
                        v["span_id"].as_str().unwrap_or_default().to_owned(),
                    )
                } else {
                    let field = |key: &str| {
                        line.split(' ')
                            .find_map(|w| w.strip_prefix(key))
                            .unwrap_or_default()
                            .to_owned()
                    };
                    (field("trace_id="), field("span_id="))
                }
            };
            let label = format!("{} json {json}", label(mode));
            assert_eq!(
                ids(&line("in the traced function")),
                (trace_id.to_string(), in_traced.to_string()),
                "{label}"
            );
            assert_eq!(
                ids(&line("in the tracing span")),
                (trace_id.to_string(), in_tracing.to_string()),
                "{label}"
            );
            assert_eq!(
                ids(&line("outside any trace")),
                (String::new(), String::new()),
                "{label}"
            );
            if json {
                let v: serde_json::Value =
                    serde_json::from_str(&line("in the traced function")).unwrap();
                assert_eq!(v["fields"]["message"], "in the traced function");
            }
        }
    }
}

#[traced_task]
async fn logged() -> SpanId {
    tracing::info!("in the traced function");
    current_span_id()
}

/// The OpenTelemetry logs bridge gives a log record the trace context of the span it was
/// logged in, tracebound's or a tracing span's, in both activation modes.
#[test]
fn logs_bridge_records_carry_the_innermost_span() {
    for mode in BOTH {
        let service = service(mode);
        let root = format!("logs ({})", label(mode));
        service.run(async {
            let span = info_span!("request", otel.name = root.as_str());
            async {
                logged().await;
                tracing::info!("in the tracing span");
            }
            .instrument(span)
            .await
        });
        let trace = trace_of(&root);
        let records = service.logs.get_emitted_logs().unwrap();
        let context_of = |body: &str| {
            records
                .iter()
                .find(|r| {
                    r.record
                        .body()
                        .is_some_and(|b| format!("{b:?}").contains(body))
                })
                .and_then(|r| r.record.trace_context().cloned())
                .unwrap_or_else(|| panic!("no record {body:?} with a trace context"))
        };
        let traced = context_of("in the traced function");
        assert_eq!(traced.span_id, trace.span("logged").span_context.span_id());
        assert_eq!(traced.trace_id, trace.span(&root).span_context.trace_id());
        let tracing = context_of("in the tracing span");
        assert_eq!(tracing.span_id, trace.span(&root).span_context.span_id());
    }
}

#[traced_task(name = "traced-outer")]
#[tracing::instrument(name = "instrumented-inner", skip_all)]
async fn traced_over_instrument() -> u64 {
    tracing::info!("stacked body");
    tokio::spawn(nested()).await.unwrap()
}

#[tracing::instrument(name = "instrumented-outer", skip_all)]
#[traced_task(name = "traced-inner")]
async fn instrument_over_traced() -> u64 {
    tracing::info!("stacked body");
    tokio::spawn(nested()).await.unwrap()
}

/// `#[traced_task]` and `#[tracing::instrument]` stacked give the same tree in either order:
/// the traced span (started at the call) is the parent of the instrumented span (started at
/// the first poll), which covers the body; the body's event is on the instrumented span.
#[test]
fn stacking_with_instrument_gives_one_tree_in_either_order() {
    for mode in BOTH {
        let service = service(mode);
        for (traced, instrumented, above) in [
            ("traced-outer", "instrumented-inner", true),
            ("traced-inner", "instrumented-outer", false),
        ] {
            let root = format!("stacking {traced} ({})", label(mode));
            service.run(async {
                let span = info_span!("request", otel.name = root.as_str());
                async {
                    let call = if above {
                        tokio::spawn(traced_over_instrument())
                    } else {
                        tokio::spawn(instrument_over_traced())
                    };
                    call.await.unwrap()
                }
                .instrument(span)
                .await
            });
            let trace = trace_of(&root);
            trace.assert_single_trace();
            trace.assert_parent(traced, &root);
            trace.assert_parent(instrumented, traced);
            trace.assert_parent("nested", instrumented);
            let body = events(&trace, "stacked body");
            assert_eq!(body.len(), 1, "{}", label(mode));
            assert_eq!(body[0].0.name, instrumented);
        }
    }
}

/// Many requests at once on two workers, each with its own tracing span: every traced call
/// and its events stay in their own request's trace.
#[test]
fn interleaved_requests_keep_their_own_parents() {
    for mode in BOTH {
        let service = service(mode);
        let roots: Vec<String> = (0..40)
            .map(|i| format!("interleaved {i} ({})", label(mode)))
            .collect();
        service.run(async {
            let mut tasks = Vec::new();
            for (i, root) in roots.iter().enumerate() {
                let span = info_span!("request", otel.name = root.as_str());
                // Called inside the span, as a handler under a request span is.
                tasks.push(tokio::spawn(
                    async move { handle(i as u64).await }.instrument(span),
                ));
            }
            for task in tasks {
                task.await.unwrap();
            }
        });
        for (i, root) in roots.iter().enumerate() {
            let trace = trace_of(root);
            trace.assert_single_trace();
            trace.assert_parent("handle", root);
            trace.assert_parent("check", "handle");
            trace.assert_parent("nested", "inner_instrumented");
            let handling = events(&trace, "handling");
            assert_eq!(handling.len(), 1);
            assert_eq!(
                event_attribute(handling[0].1, "order"),
                Some(&Value::I64(i as i64))
            );
        }
    }
}

/// One call site logging in turn inside a tracing span, inside an OpenTelemetry span started in
/// it (as a tracebound span is), and inside an OpenTelemetry span alone: each event lands once,
/// on its own innermost span, in either layer order; the events share an address on the stack,
/// which must not carry what was found for one event over to the next.
#[test]
fn one_call_site_alternating_between_span_kinds() {
    use opentelemetry::trace::Tracer as _;
    for mode in every_order() {
        let service = service(mode);
        let root = format!("alternating ({})", label(mode));
        service.run(async {
            for i in 0..9i64 {
                let step = (i % 3 != 2).then(|| {
                    info_span!("step", otel.name = format!("{root} tracing {i}").as_str())
                });
                let _entered = step.as_ref().map(tracing::Span::enter);
                let token = (i % 3 != 0).then(|| {
                    let span = opentelemetry::global::tracer("alternating")
                        .start(format!("{root} otel {i}"));
                    tracebound::attach(Context::current_with_span(span))
                });
                tracing::info!(i, "step");
                if let Some(token) = token {
                    Context::map_current(|cx| cx.span().end());
                    drop(token);
                }
            }
        });
        let mut seen: Vec<(i64, String)> = testing::recorder()
            .spans()
            .iter()
            .filter(|s| s.name.starts_with(root.as_str()))
            .flat_map(|s| {
                s.events
                    .iter()
                    .filter(|e| e.name == "step")
                    .map(|e| match event_attribute(e, "i") {
                        Some(Value::I64(i)) => (*i, s.name.to_string()),
                        other => panic!("an event without its i: {other:?}"),
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        seen.sort();
        let expected: Vec<(i64, String)> = (0..9)
            .map(|i| match i % 3 {
                0 => (i, format!("{root} tracing {i}")),
                _ => (i, format!("{root} otel {i}")),
            })
            .collect();
        assert_eq!(seen, expected, "{}", label(mode));
    }
}
