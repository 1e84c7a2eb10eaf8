//! The tracing bridge in the setups a service may have beyond the usual one: several
//! subscribers on one thread, a span entered where its subscriber is not the default, per-layer
//! filters, a context attached by the caller, a field whose formatting attaches a context.

use opentelemetry::Context;
use opentelemetry::trace::{SpanId, TraceContextExt, Tracer as _, TracerProvider as _};
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData};
use tracebound::testing;
use tracebound::tracing::{layer, otel};
use tracing::{Dispatch, level_filters::LevelFilter};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::{Layer as _, prelude::*};

fn provider() -> SdkTracerProvider {
    let recorder = testing::install();
    SdkTracerProvider::builder()
        .with_span_processor(recorder.processor())
        .build()
}

/// tracing-opentelemetry wrapped in `otel`, then tracebound's layer.
fn dispatch(activation: bool) -> Dispatch {
    let tracer = provider().tracer("tracing");
    Dispatch::new(
        tracing_subscriber::registry()
            .with(otel(
                tracing_opentelemetry::layer()
                    .with_tracer(tracer)
                    .with_context_activation(activation),
            ))
            .with(layer()),
    )
}

/// Starts an OpenTelemetry span of the global provider (as a traced call does) and makes it
/// current until the returned closure is called.
fn traced(name: &str) -> impl FnOnce() {
    let span = opentelemetry::global::tracer("setups").start(name.to_owned());
    let token = tracebound::attach(Context::current_with_span(span));
    move || {
        Context::map_current(|cx| cx.span().end());
        drop(token);
    }
}

fn span(name: &str) -> SpanData {
    testing::recorder()
        .spans()
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no span {name}"))
}

/// The names of the spans that hold an event named `event`.
fn holders(event: &str) -> Vec<String> {
    testing::recorder()
        .spans()
        .iter()
        .flat_map(|s| {
            s.events
                .iter()
                .filter(|e| e.name == event)
                .map(|_| s.name.to_string())
                .collect::<Vec<_>>()
        })
        .collect()
}

fn current_span_id() -> SpanId {
    Context::map_current(|cx| cx.span().span_context().span_id())
}

/// A span of subscriber A entered while B is the thread's default (whose registry holds a span
/// with the same id): A's span context is the current one, no panic, no mix-up.
#[test]
fn a_span_entered_under_another_default_subscriber() {
    for activation in [true, false] {
        let a = dispatch(activation);
        let b = dispatch(activation);
        let name = format!("other-default a ({activation})");
        let of_a = tracing::dispatcher::with_default(&a, || {
            tracing::info_span!("a", otel.name = name.as_str())
        });
        let of_b = tracing::dispatcher::with_default(&b, || tracing::info_span!("b"));
        assert_eq!(of_a.id(), of_b.id(), "the two registries give the same id");
        let child = format!("other-default child ({activation})");
        tracing::dispatcher::with_default(&b, || {
            let _entered = of_a.enter();
            traced(&child)();
        });
        drop((of_a, of_b));
        assert_eq!(
            span(&child).parent_span_id,
            span(&name).span_context.span_id()
        );
    }
}

/// A span first entered on a thread whose default subscriber is another (none here) still has
/// its context made current there and later, with activation off.
#[test]
fn first_entry_on_a_thread_without_the_subscriber() {
    let d = dispatch(false);
    let s = tracing::dispatcher::with_default(&d, || {
        tracing::info_span!("s", otel.name = "no-default s")
    });
    let on_thread = s.clone();
    std::thread::spawn(move || {
        let _entered = on_thread.enter();
        traced("no-default on the thread")();
    })
    .join()
    .unwrap();
    tracing::dispatcher::with_default(&d, || {
        let _entered = s.enter();
        traced("no-default later")();
    });
    let id = s.context().span().span_context().span_id();
    drop(s);
    assert_eq!(span("no-default on the thread").parent_span_id, id);
    assert_eq!(span("no-default later").parent_span_id, id);
}

/// With activation off, a caller that makes a span's context current itself before entering
/// it (`.instrument(span).with_context(span.context())`) changes nothing for later spans.
#[test]
fn a_context_attached_by_the_caller() {
    let d = dispatch(false);
    tracing::dispatcher::with_default(&d, || {
        let first = tracing::info_span!("first");
        {
            let _cx = first.context().attach();
            let _entered = first.enter();
            assert_eq!(
                current_span_id(),
                first.context().span().span_context().span_id()
            );
        }
        let later = tracing::info_span!("later");
        let _entered = later.enter();
        assert_eq!(
            current_span_id(),
            later.context().span().span_context().span_id()
        );
    });
}

/// Both layers behind the same per-layer filter: an event inside a span they leave out is
/// recorded once, on the innermost span they see.
#[test]
fn per_layer_filters_record_an_event_once() {
    let tracer = provider().tracer("tracing");
    let d = Dispatch::new(
        tracing_subscriber::registry()
            .with(
                otel(tracing_opentelemetry::layer().with_tracer(tracer))
                    .with_filter(LevelFilter::INFO),
            )
            .with(layer().with_filter(LevelFilter::INFO)),
    );
    tracing::dispatcher::with_default(&d, || {
        let outer = tracing::info_span!("outer", otel.name = "filtered outer");
        let _outer = outer.enter();
        let debug = tracing::debug_span!("filtered debug");
        let _debug = debug.enter();
        tracing::info!("filtered: in the debug span");
        let end = traced("filtered traced");
        tracing::info!("filtered: in the traced span");
        end();
    });
    assert_eq!(holders("filtered: in the debug span"), ["filtered outer"]);
    assert_eq!(holders("filtered: in the traced span"), ["filtered traced"]);
}

/// tracing-opentelemetry not wrapped and filtered to INFO, tracebound's layer unfiltered: an
/// event in a DEBUG span (which tracing-opentelemetry leaves out) inside a tracebound span is
/// recorded once, on the tracebound span.
#[test]
fn unwrapped_and_filtered_tracing_opentelemetry() {
    let tracer = provider().tracer("tracing");
    let d = Dispatch::new(
        tracing_subscriber::registry()
            .with(
                tracing_opentelemetry::layer()
                    .with_tracer(tracer)
                    .with_filter(LevelFilter::INFO),
            )
            .with(layer()),
    );
    tracing::dispatcher::with_default(&d, || {
        // A span both layers see, entered first (a layer may learn from it).
        drop(tracing::info_span!("unwrapped warm-up").entered());
        let end = traced("unwrapped traced");
        {
            let debug = tracing::debug_span!("unwrapped debug");
            let _entered = debug.enter();
            tracing::info!("unwrapped: in the debug span");
        }
        end();
    });
    assert_eq!(
        holders("unwrapped: in the debug span"),
        ["unwrapped traced"]
    );
}

struct AttachesWhenFormatted;

impl std::fmt::Debug for AttachesWhenFormatted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let _cx = Context::new().attach();
        f.write_str("formatted")
    }
}

/// Formatting a field may run code that attaches a context: no panic, the event is recorded.
#[test]
fn a_field_that_attaches_a_context_when_formatted() {
    let d = dispatch(true);
    tracing::dispatcher::with_default(&d, || {
        let end = traced("attaching traced");
        tracing::info!(value = ?AttachesWhenFormatted, "attaching: event");
        end();
    });
    assert_eq!(holders("attaching: event"), ["attaching traced"]);
}

/// tracebound's layer first: an event in a tracebound span inside a tracing span is recorded
/// once, on the tracebound span, even when a span was entered before on a thread without the
/// subscriber.
#[test]
fn layer_first_after_an_entry_elsewhere() {
    let tracer = provider().tracer("tracing");
    let d = Dispatch::new(
        tracing_subscriber::registry()
            .with(layer())
            .with(otel(tracing_opentelemetry::layer().with_tracer(tracer))),
    );
    let early = tracing::dispatcher::with_default(&d, || tracing::info_span!("early"));
    drop(early.enter());
    tracing::dispatcher::with_default(&d, || {
        let request = tracing::info_span!("request", otel.name = "layer-first request");
        let _request = request.enter();
        let end = traced("layer-first traced");
        tracing::info!("layer-first: event");
        end();
    });
    drop(early);
    assert_eq!(holders("layer-first: event"), ["layer-first traced"]);
}

/// A sampler that logs while tracing-opentelemetry starts a span (it holds the span then): the
/// layers do not ask for that span again, and nothing hangs.
#[test]
fn a_sampler_that_logs_while_a_span_starts() {
    use opentelemetry::trace::{Link, SpanKind, TraceId};
    use opentelemetry_sdk::trace::{SamplingDecision, SamplingResult, ShouldSample};

    #[derive(Debug, Clone)]
    struct Logging;

    impl ShouldSample for Logging {
        fn should_sample(
            &self,
            _: Option<&Context>,
            _: TraceId,
            name: &str,
            _: &SpanKind,
            _: &[opentelemetry::KeyValue],
            _: &[Link],
        ) -> SamplingResult {
            tracing::info!(name, "sampling");
            SamplingResult {
                decision: SamplingDecision::RecordAndSample,
                attributes: Vec::new(),
                trace_state: Default::default(),
            }
        }
    }

    for activation in [true, false] {
        let tracer = SdkTracerProvider::builder()
            .with_sampler(Logging)
            .with_span_processor(testing::recorder().processor())
            .build()
            .tracer("tracing");
        let d = Dispatch::new(
            tracing_subscriber::registry()
                .with(otel(
                    tracing_opentelemetry::layer()
                        .with_tracer(tracer)
                        .with_context_activation(activation),
                ))
                .with(layer()),
        );
        let (done, finished) = std::sync::mpsc::channel();
        let name = format!("logging sampler ({activation})");
        std::thread::spawn(move || {
            tracing::dispatcher::with_default(&d, || {
                let s = tracing::info_span!("s", otel.name = name.as_str());
                let _entered = s.enter();
                tracing::info!("logging sampler: in the span");
            });
            done.send(()).unwrap();
        });
        finished
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("no deadlock");
    }
}

/// tracebound's layer behind `reload` (which passes no registration on), swapped once, with an
/// unwrapped tracing-opentelemetry: an event in a tracing span is recorded once, on it.
#[test]
fn layer_behind_reload() {
    use tracing_subscriber::reload;
    let tracer = provider().tracer("tracing");
    let (reloadable, handle) = reload::Layer::new(layer());
    let d = Dispatch::new(
        tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(tracer))
            .with(reloadable),
    );
    handle.reload(layer()).unwrap();
    tracing::dispatcher::with_default(&d, || {
        let s = tracing::info_span!("s", otel.name = "reload s");
        let _entered = s.enter();
        tracing::info!("reload: event");
    });
    assert_eq!(holders("reload: event"), ["reload s"]);
}

/// `otel` alone with activation off (nothing makes a tracing span's context current): an event
/// in a tracing span entered inside a tracebound span is recorded on the tracing span, not
/// handed to the tracebound span further out.
#[test]
fn otel_alone_with_activation_off() {
    let tracer = provider().tracer("tracing");
    let d = Dispatch::new(
        tracing_subscriber::registry().with(otel(
            tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_context_activation(false),
        )),
    );
    tracing::dispatcher::with_default(&d, || {
        let end = traced("alone traced");
        {
            let s = tracing::info_span!("s", otel.name = "alone s");
            let _entered = s.enter();
            tracing::info!("alone: event");
        }
        end();
    });
    assert_eq!(holders("alone: event"), ["alone s"]);
}

/// tracebound's layer inside an `Option` (which passes no registration on), a span entered
/// where its subscriber is not the default, its event logged where it is: recorded once.
#[test]
fn layer_in_an_option_entered_elsewhere() {
    let tracer = provider().tracer("tracing");
    let d = Dispatch::new(
        tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(tracer))
            .with(Some(layer())),
    );
    let s =
        tracing::dispatcher::with_default(&d, || tracing::info_span!("s", otel.name = "option s"));
    {
        let _entered = s.enter();
        tracing::dispatcher::with_default(&d, || tracing::info!("option: event"));
    }
    drop(s);
    assert_eq!(holders("option: event"), ["option s"]);
}
