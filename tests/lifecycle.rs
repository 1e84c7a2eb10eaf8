//! How a traced function's span ends: on completion, on cancellation, on panic; and what an
//! `Err` records.

use futures::FutureExt as _;
use opentelemetry::Value;
use opentelemetry::trace::{SpanKind, Status};
use std::fmt;
use std::panic::AssertUnwindSafe;
use std::time::Duration;
use tokio::task::yield_now;
use tracebound::traced_task;
use tracebound_tests::{attribute, event_attribute, runtime, span_attached, traced, traced_sync};

#[traced_task]
async fn completes() -> u32 {
    yield_now().await;
    1
}

#[traced_task]
async fn pending_forever() {
    std::future::pending::<()>().await;
}

#[traced_task]
async fn panics(after_yield: bool) {
    if after_yield {
        yield_now().await;
    }
    panic!("boom");
}

#[derive(Debug)]
struct PaymentDeclined {
    code: u32,
}

impl fmt::Display for PaymentDeclined {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "payment declined with code {}", self.code)
    }
}

#[traced_task]
async fn fails(code: u32) -> Result<u32, PaymentDeclined> {
    yield_now().await;
    if code == 0 {
        Ok(7)
    } else {
        Err(PaymentDeclined { code })
    }
}

#[traced_task(err = false)]
async fn fails_quietly() -> Result<(), PaymentDeclined> {
    Err(PaymentDeclined { code: 3 })
}

/// An error type with no `Display`, as a generic body might return.
#[derive(Debug)]
struct Opaque;

#[traced_task]
async fn fails_opaquely() -> Result<(), Opaque> {
    Err(Opaque)
}

#[traced_task]
async fn generic_error<E: Send>(error: E) -> Result<(), E> {
    Err(error)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completed_future_ends_its_span_with_status_unset() {
    let (n, trace) = traced("lifecycle-complete", async { completes().await }).await;
    assert_eq!(n, 1);
    let span = trace.span("completes");
    assert_eq!(span.status, Status::Unset);
    assert_eq!(span.span_kind, SpanKind::Internal);
    assert!(span.end_time >= span.start_time);
    assert!(span.events.is_empty());
    trace.assert_parent("completes", "lifecycle-complete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_future_dropped_unfinished_ends_with_a_cancelled_event() {
    let ((), trace) = traced("lifecycle-cancel", async {
        let timed_out = tokio::time::timeout(Duration::from_millis(5), pending_forever()).await;
        assert!(timed_out.is_err());
        drop(completes()); // never polled at all
    })
    .await;
    for name in ["pending_forever", "completes"] {
        let span = trace.span(name);
        assert!(
            span.events.iter().any(|e| e.name == "cancelled"),
            "{name} should be marked cancelled:\n{trace}"
        );
        assert_eq!(span.status, Status::Unset, "cancellation is not an error");
        trace.assert_parent(name, "lifecycle-cancel");
    }
}

#[test]
fn a_panic_marks_the_span_as_error_and_keeps_unwinding() {
    for after_yield in [false, true] {
        let runtime = runtime(1);
        let root = if after_yield {
            "lifecycle-panic-late"
        } else {
            "lifecycle-panic"
        };
        let ((), trace) = runtime.block_on(traced(root, async {
            let joined = tokio::spawn(panics(after_yield)).await;
            let error = joined.expect_err("the panic reaches the JoinHandle");
            assert!(error.is_panic());
            // The worker that ran the panicking poll has nothing attached any more.
            let leaked = tokio::spawn(async { span_attached() }).await.unwrap();
            assert!(!leaked, "a context was left attached on the worker");
        }));
        let span = trace.span("panics");
        assert_eq!(span.status, Status::error("panicked"));
        assert_eq!(attribute(span, "error.type"), Some(&Value::from("panic")));
        assert!(span.events.iter().any(|e| e.name == "exception"));
        assert!(!span.events.iter().any(|e| e.name == "cancelled"));
        trace.assert_parent("panics", root);
    }
}

#[test]
fn a_panic_inside_poll_detaches_the_context_on_this_thread() {
    let ((), trace) = traced_sync("lifecycle-panic-sync", || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let attached_before = span_attached();
        let caught = runtime.block_on(AssertUnwindSafe(panics(false)).catch_unwind());
        assert!(caught.is_err());
        assert_eq!(
            span_attached(),
            attached_before,
            "the root is still the current span"
        );
        assert!(tracebound::with_context(Default::default(), || {
            !span_attached()
        }));
    });
    assert_eq!(trace.span("panics").status, Status::error("panicked"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_err_sets_status_error_with_display_an_exception_event_and_error_type() {
    let ((), trace) = traced("lifecycle-err", async {
        assert!(fails(42).await.is_err());
        assert_eq!(fails(0).await.unwrap(), 7);
    })
    .await;
    let spans = trace.all("fails");
    assert_eq!(spans.len(), 2);
    let (failed, succeeded) = (spans[0], spans[1]);

    assert_eq!(
        failed.status,
        Status::error("payment declined with code 42")
    );
    let error_type = attribute(failed, "error.type")
        .expect("error.type")
        .to_string();
    assert!(error_type.ends_with("PaymentDeclined"), "{error_type}");
    let exception = failed
        .events
        .iter()
        .find(|e| e.name == "exception")
        .expect("an exception event");
    let message = event_attribute(exception, "exception.message").map(|v| v.to_string());
    assert_eq!(message.as_deref(), Some("payment declined with code 42"));

    assert_eq!(succeeded.status, Status::Unset, "Ok never sets status Ok");
    assert!(succeeded.events.is_empty());
    assert_eq!(attribute(succeeded, "error.type"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn err_false_records_nothing() {
    let ((), trace) = traced("lifecycle-err-false", async {
        assert!(fails_quietly().await.is_err());
    })
    .await;
    let span = trace.span("fails_quietly");
    assert_eq!(span.status, Status::Unset);
    assert!(span.events.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_without_display_is_recorded_by_its_type_name() {
    let ((), trace) = traced("lifecycle-err-opaque", async {
        assert!(fails_opaquely().await.is_err());
        assert!(generic_error(Opaque).await.is_err());
    })
    .await;
    for name in ["fails_opaquely", "generic_error"] {
        let span = trace.span(name);
        match &span.status {
            Status::Error { description } => {
                assert!(description.ends_with("Opaque"), "{description}")
            }
            other => panic!("{name}: expected an error status, got {other:?}"),
        }
    }
}
