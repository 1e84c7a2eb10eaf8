//! A tracebound attribute stacked with other attribute macros gives the same result in either
//! order: `#[tracing::instrument]`'s span covers the body and starts inside the traced span;
//! `#[tokio::main]` and `#[tokio::test]` run the body inside the traced span.

use opentelemetry::Context;
use opentelemetry::trace::{SpanId, TraceContextExt};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use tracebound::traced_task;
use tracebound_tests::{runtime, traced};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};
use tracing_core::span::Current;

/// Records, for each `tracing` span, its name and the OpenTelemetry span that was current when
/// it was created (what tracing-opentelemetry makes its parent), and which span is entered.
#[derive(Default)]
struct Spans {
    next: AtomicU64,
    created: Mutex<HashMap<u64, (&'static Metadata<'static>, SpanId)>>,
}

thread_local! {
    static ENTERED: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
    static OBSERVED: Cell<Option<SpanId>> = const { Cell::new(None) };
}

impl Subscriber for &'static Spans {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let otel = Context::map_current(|cx| cx.span().span_context().span_id());
        self.created
            .lock()
            .unwrap()
            .insert(id, (span.metadata(), otel));
        Id::from_u64(id)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, _: &Event<'_>) {}
    fn enter(&self, span: &Id) {
        ENTERED.with(|stack| stack.borrow_mut().push(span.into_u64()));
    }
    fn exit(&self, _: &Id) {
        ENTERED.with(|stack| stack.borrow_mut().pop());
    }
    fn current_span(&self) -> Current {
        let Some(id) = ENTERED.with(|stack| stack.borrow().last().copied()) else {
            return Current::none();
        };
        let created = self.created.lock().unwrap();
        Current::new(Id::from_u64(id), created[&id].0)
    }
}

fn spans() -> &'static Spans {
    static SPANS: OnceLock<&'static Spans> = OnceLock::new();
    SPANS.get_or_init(|| {
        let spans: &'static Spans = Box::leak(Box::default());
        tracing::subscriber::set_global_default(spans).expect("the only subscriber");
        spans
    })
}

/// What a body sees: the entered `tracing` span's name, and the OpenTelemetry span that was
/// current when that `tracing` span was created.
fn seen_from_body() -> (Option<&'static str>, Option<SpanId>) {
    let current = tracing::Span::current();
    let Some(id) = current.id() else {
        return (None, None);
    };
    let created = spans().created.lock().unwrap();
    let (metadata, otel) = created[&id.into_u64()];
    (Some(metadata.name()), Some(otel))
}

#[traced_task]
async fn child() {}

#[traced_task(name = "traced-above")]
#[tracing::instrument(name = "instrumented-below", skip(id))]
async fn traced_above(id: u64) -> (Option<&'static str>, Option<SpanId>, u64) {
    tokio::task::yield_now().await;
    let (name, otel) = seen_from_body();
    tokio::spawn(child()).await.unwrap();
    (name, otel, id)
}

#[tracing::instrument(name = "instrumented-above", skip(id))]
#[traced_task(name = "traced-below")]
async fn traced_below(id: u64) -> (Option<&'static str>, Option<SpanId>, u64) {
    tokio::task::yield_now().await;
    let (name, otel) = seen_from_body();
    tokio::spawn(child()).await.unwrap();
    (name, otel, id)
}

#[test]
fn instrument_covers_the_body_in_either_order() {
    spans();
    runtime(2).block_on(async {
        for (root, traced_name, instrumented) in [
            ("stacking-above", "traced-above", "instrumented-below"),
            ("stacking-below", "traced-below", "instrumented-above"),
        ] {
            let ((name, otel, id), trace) = traced(root, async {
                // Called here, spawned elsewhere: the traced span keeps this parent.
                let future = if traced_name == "traced-above" {
                    tokio::spawn(traced_above(1))
                } else {
                    tokio::spawn(traced_below(1))
                };
                future.await.unwrap()
            })
            .await;
            assert_eq!(id, 1);
            trace.assert_single_trace();
            trace.assert_parent(traced_name, root);
            trace.assert_parent("child", traced_name);
            assert_eq!(
                name,
                Some(instrumented),
                "{traced_name}: the body's tracing span"
            );
            assert_eq!(
                otel,
                Some(trace.span(traced_name).span_context.span_id()),
                "{traced_name}: the tracing span starts inside the traced span"
            );
        }
    });
}

/// Notes the span a runtime entry point's body runs in, and starts a child there.
async fn observe() {
    OBSERVED.set(Some(Context::map_current(|cx| {
        cx.span().span_context().span_id()
    })));
    child().await;
}

#[tokio::test]
#[traced_task(name = "stacking-under-tokio-test")]
async fn traced_under_tokio_test() {
    observe().await;
}

#[traced_task(name = "stacking-over-tokio-test")]
#[tokio::test]
async fn traced_over_tokio_test() {
    observe().await;
}

#[tokio::main(flavor = "current_thread")]
#[traced_task(name = "stacking-under-tokio-main")]
async fn traced_under_tokio_main() -> Result<u32, std::fmt::Error> {
    observe().await;
    Ok(7)
}

#[traced_task(name = "stacking-over-tokio-main")]
#[tokio::main(flavor = "current_thread")]
async fn traced_over_tokio_main() -> Result<u32, std::fmt::Error> {
    observe().await;
    Ok(8)
}

/// The entry points above run as tests of their own too; here they run once more, called
/// directly with the recorder installed, and their spans are checked.
#[test]
fn tokio_entry_points_run_their_body_inside_the_traced_span() {
    let recorder = tracebound::testing::install();
    traced_under_tokio_test();
    let under_test = OBSERVED.take();
    traced_over_tokio_test();
    let over_test = OBSERVED.take();
    assert_eq!(traced_under_tokio_main(), Ok(7));
    let under_main = OBSERVED.take();
    assert_eq!(traced_over_tokio_main(), Ok(8));
    let over_main = OBSERVED.take();
    for (name, observed) in [
        ("stacking-under-tokio-test", under_test),
        ("stacking-over-tokio-test", over_test),
        ("stacking-under-tokio-main", under_main),
        ("stacking-over-tokio-main", over_main),
    ] {
        // By id: the same functions may also have run as tests of their own meanwhile.
        let all = recorder.tree();
        let observed = observed.unwrap_or_else(|| panic!("{name}: the body did not run"));
        let span = all
            .by_id(observed)
            .unwrap_or_else(|| panic!("{name}: no span"));
        assert_eq!(span.name, name);
        let trace = all.trace(span.span_context.trace_id());
        trace.assert_single_trace();
        let children = trace.children(span);
        assert_eq!(children.len(), 1, "{name}");
        assert_eq!(children[0].name, "child");
    }
}
