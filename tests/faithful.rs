//! An annotated function behaves as the function it replaces: its arguments live exactly as
//! long, in the same order; diverging bodies, `#[cfg]` parameters, pattern parameters in
//! `fields`, errors without `Display`, and synchronous consumers returning borrows all work.
//! Each case runs the annotated function beside the same function without the attribute.

use opentelemetry::trace::Status;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracebound::{traced_blocking, traced_consumer, traced_task};
use tracebound_tests::{attribute, runtime, traced};

/// A value that writes its name to a shared log when dropped.
struct Noisy {
    name: &'static str,
    log: Log,
}

#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn noisy(&self, name: &'static str) -> Noisy {
        Noisy {
            name,
            log: self.clone(),
        }
    }

    fn push(&self, event: impl Into<String>) {
        self.0.lock().unwrap().push(event.into());
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl Drop for Noisy {
    fn drop(&mut self) {
        self.log.push(format!("drop {}", self.name));
    }
}

struct Holder {
    kept: Noisy,
    ignored: Noisy,
}

/// Every kind of parameter pattern, each holding values that log their drop.
macro_rules! patterns {
    ($name:ident $(, $attr:meta)?) => {
        $(#[$attr])?
        #[allow(clippy::too_many_arguments)]
        async fn $name(
            log: Log,
            _: Noisy,
            (a, _): (Noisy, Noisy),
            Holder { kept, .. }: Holder,
            Holder { ref ignored, .. }: Holder,
            mut m: Noisy,
            _named: Noisy,
        ) {
            log.push("body starts");
            tokio::task::yield_now().await;
            m.name = "m (mutated)";
            log.push(format!("body sees {} {} {} {}", a.name, kept.name, ignored.name, m.name));
        }
    };
}

patterns!(native_patterns);
patterns!(traced_patterns, traced_task);

fn arguments(log: &Log) -> (Noisy, (Noisy, Noisy), Holder, Holder, Noisy, Noisy) {
    (
        log.noisy("wild"),
        (log.noisy("tuple.0"), log.noisy("tuple.1")),
        Holder {
            kept: log.noisy("rest.kept"),
            ignored: log.noisy("rest.ignored"),
        },
        Holder {
            kept: log.noisy("ref.kept"),
            ignored: log.noisy("ref.ignored"),
        },
        log.noisy("m"),
        log.noisy("_named"),
    )
}

#[test]
fn arguments_drop_as_in_the_native_async_fn() {
    let rt = runtime(2);
    let mut runs = Vec::new();
    for traced_fn in [false, true] {
        let log = Log::default();
        let (w, t, r, f, m, n) = arguments(&log);
        let future: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> = if traced_fn {
            Box::pin(traced_patterns(log.clone(), w, t, r, f, m, n))
        } else {
            Box::pin(native_patterns(log.clone(), w, t, r, f, m, n))
        };
        log.push("called");
        rt.block_on(future);
        log.push("awaited");
        runs.push(log.take());
    }
    let [native, traced_run] = &runs[..] else {
        unreachable!()
    };
    // Nothing is dropped at the call: every argument lives in the future until it completes.
    assert_eq!(native[0], "called", "{native:?}");
    assert_eq!(traced_run, native);
    assert_eq!(native.last().map(String::as_str), Some("awaited"));
}

#[traced_task]
async fn limited_traced(_: OwnedSemaphorePermit, semaphore: Arc<Semaphore>) -> usize {
    tokio::task::yield_now().await;
    semaphore.available_permits()
}

async fn limited_native(_: OwnedSemaphorePermit, semaphore: Arc<Semaphore>) -> usize {
    tokio::task::yield_now().await;
    semaphore.available_permits()
}

#[traced_blocking]
fn limited_blocking(_permit: OwnedSemaphorePermit, semaphore: Arc<Semaphore>) -> usize {
    semaphore.available_permits()
}

#[test]
fn a_permit_passed_as_wildcard_is_held_until_the_body_is_done() {
    let rt = runtime(2);
    rt.block_on(async {
        let semaphore = Arc::new(Semaphore::new(1));
        for which in ["native", "traced", "blocking"] {
            let permit = semaphore.clone().acquire_owned().await.unwrap();
            let future: std::pin::Pin<Box<dyn std::future::Future<Output = usize> + Send>> =
                match which {
                    "native" => Box::pin(limited_native(permit, semaphore.clone())),
                    "traced" => Box::pin(limited_traced(permit, semaphore.clone())),
                    _ => Box::pin(limited_blocking(permit, semaphore.clone())),
                };
            assert_eq!(
                semaphore.available_permits(),
                0,
                "{which}: released at the call"
            );
            assert_eq!(future.await, 0, "{which}: released before the body ran");
            assert_eq!(semaphore.available_permits(), 1, "{which}: never released");
        }
    });
}

#[derive(Debug)]
struct NoDisplay;

#[traced_task]
async fn opaque_ok(fail: bool) -> Result<impl fmt::Display, NoDisplay> {
    tokio::task::yield_now().await;
    if fail { Err(NoDisplay) } else { Ok(7) }
}

#[test]
fn an_error_without_display_is_recorded_by_its_type_name() {
    runtime(2).block_on(async {
        let (result, trace) = traced("faithful-opaque-error", async {
            assert_eq!(opaque_ok(false).await.unwrap().to_string(), "7");
            opaque_ok(true).await.map(|_| ())
        })
        .await;
        assert!(result.is_err());
        let spans = trace.all("opaque_ok");
        assert_eq!(spans.len(), 2);
        let failed = spans
            .iter()
            .find(|s| matches!(s.status, Status::Error { .. }))
            .expect("the failed call's span");
        let Status::Error { description } = &failed.status else {
            unreachable!()
        };
        assert!(description.ends_with("NoDisplay"), "{description}");
        let error_type = attribute(failed, "error.type").unwrap().as_str();
        assert!(error_type.ends_with("NoDisplay"), "{error_type}");
    });
}

#[traced_task]
async fn never_returns(fail: bool) -> ! {
    if fail {
        panic!("gave up");
    }
    loop {
        tokio::task::yield_now().await;
    }
}

#[test]
fn a_diverging_body_ends_its_span_when_it_panics_or_is_cancelled() {
    runtime(2).block_on(async {
        let ((), trace) = traced("faithful-never", async {
            let failed = tokio::spawn(never_returns(true)).await;
            assert!(failed.unwrap_err().is_panic());
            let looping =
                tokio::time::timeout(std::time::Duration::from_millis(20), never_returns(false))
                    .await;
            assert!(looping.is_err());
        })
        .await;
        let spans = trace.all("never_returns");
        assert_eq!(spans.len(), 2);
        assert!(
            spans
                .iter()
                .any(|s| matches!(s.status, Status::Error { .. }))
        );
        assert!(
            spans
                .iter()
                .any(|s| s.events.iter().any(|e| e.name == "cancelled"))
        );
    });
}

#[traced_task]
async fn gated(#[cfg(unix)] unix: u32, #[cfg(not(unix))] other: u32, always: u32) -> u32 {
    #[cfg(unix)]
    let n = unix;
    #[cfg(not(unix))]
    let n = other;
    n + always
}

struct Pair {
    left: u32,
    right: u32,
}

#[traced_task(fields(pair.left = left, first = first, last = *last))]
async fn from_patterns(
    Pair { left, right }: Pair,
    (first, _): (u32, u32),
    [.., last]: [u32; 3],
) -> u32 {
    left + right + first + last
}

#[test]
fn cfg_gated_parameters_and_fields_from_patterns() {
    runtime(2).block_on(async {
        let ((), trace) = traced("faithful-patterns", async {
            assert_eq!(gated(1, 2).await, 3);
            assert_eq!(
                from_patterns(Pair { left: 1, right: 2 }, (3, 4), [5, 6, 7]).await,
                13
            );
        })
        .await;
        let span = trace.span("from_patterns");
        assert_eq!(attribute(span, "pair.left").unwrap().to_string(), "1");
        assert_eq!(attribute(span, "first").unwrap().to_string(), "3");
        assert_eq!(attribute(span, "last").unwrap().to_string(), "7");
        trace.assert_parent("gated", "faithful-patterns");
    });
}

type Headers = HashMap<String, String>;

struct Message {
    headers: Headers,
    body: String,
}

struct Inbox {
    count: u64,
}

impl Inbox {
    #[traced_consumer(carrier = message.headers)]
    fn body_of<'m>(&mut self, message: &'m Message) -> &'m str {
        self.count += 1;
        &message.body
    }

    #[traced_consumer(carrier = headers)]
    fn counter(&mut self, headers: &Headers) -> &mut u64 {
        self.count += headers.len() as u64;
        &mut self.count
    }
}

#[test]
fn a_synchronous_consumer_returns_borrows_of_its_parameters() {
    let (_, trace) = tracebound_tests::traced_sync("faithful-borrows", || {
        let mut inbox = Inbox { count: 0 };
        let mut message = Message {
            headers: Headers::new(),
            body: "order 7".into(),
        };
        tracebound::propagation::inject(&mut message.headers);
        assert_eq!(inbox.body_of(&message), "order 7");
        *inbox.counter(&message.headers) += 10;
        assert_eq!(inbox.count, 12);
    });
    trace.assert_parent("body_of", "faithful-borrows");
    trace.assert_parent("counter", "faithful-borrows");
}

/// The order in which a synchronous consumer drops its arguments is the function's own.
#[traced_consumer(carrier = headers)]
fn sync_traced(headers: &Headers, first: Noisy, (second, _): (Noisy, Noisy), _: Noisy) {
    first
        .log
        .push(format!("body sees {} {}", first.name, second.name));
}

fn sync_native(headers: &Headers, first: Noisy, (second, _): (Noisy, Noisy), _: Noisy) {
    let _ = headers;
    first
        .log
        .push(format!("body sees {} {}", first.name, second.name));
}

#[test]
fn a_synchronous_body_drops_its_arguments_as_the_function_does() {
    let mut runs = Vec::new();
    for traced_fn in [false, true] {
        let log = Log::default();
        let args = (
            log.noisy("first"),
            (log.noisy("second.0"), log.noisy("second.1")),
            log.noisy("wild"),
        );
        if traced_fn {
            sync_traced(&Headers::new(), args.0, args.1, args.2);
        } else {
            sync_native(&Headers::new(), args.0, args.1, args.2);
        }
        runs.push(log.take());
    }
    assert_eq!(runs[1], runs[0]);
}
