//! Which propagator carriers use on each thread.
//!
//! Reading OpenTelemetry's global propagator takes a read lock, and with it an update of a
//! counter every thread shares: on every message. Each thread therefore remembers its choice and
//! checks it again as the tracer cache does (`__private::Scope`): when tracebound installs a
//! provider or propagator, or is told of one (`refresh_provider`), and every
//! [`RECHECK_EVERY`](crate::__private::RECHECK_EVERY) uses on the thread.

use super::DEFAULT;
use crate::handoff;
use crate::provider::Window;
use opentelemetry::global;
use opentelemetry::propagation::TextMapPropagator;
use std::cell::{Cell, RefCell};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

type Shared = Arc<dyn TextMapPropagator + Send + Sync>;

/// Set once tracebound's setup installed a propagator: from then on a global propagator is used
/// even when it propagates nothing (`OTEL_PROPAGATORS=none`).
static CONFIGURED: AtomicBool = AtomicBool::new(false);

enum Choice {
    /// No global propagator was ever set: tracebound's W3C trace context and baggage.
    Default,
    /// The propagator tracebound installed, used without the global lock.
    Installed(Shared),
    /// Any other global propagator, read under OpenTelemetry's lock at each use.
    Global,
}

struct Cache {
    window: Cell<Window<()>>,
    choice: RefCell<Choice>,
}

thread_local! {
    static CACHE: Cache = const {
        Cache {
            window: Cell::new(Window::over(())),
            choice: RefCell::new(Choice::Default),
        }
    };
    /// Where the propagator tracebound installed hands itself to [`recheck`].
    static HANDOFF: Cell<Option<Option<Shared>>> = const { Cell::new(None) };
}

/// Runs `f` with the propagator this thread uses.
pub(super) fn with_propagator<T>(f: impl FnOnce(&dyn TextMapPropagator) -> T) -> T {
    let mut f = Some(f);
    let out = CACHE.try_with(|cache| {
        match cache.window.get().counted() {
            Ok(window) => cache.window.set(window),
            Err(epoch) => {
                if let Ok(mut choice) = cache.choice.try_borrow_mut() {
                    *choice = recheck();
                    cache.window.set(Window::checked_at(epoch, ()));
                }
            }
        }
        // A shared borrow: a carrier that itself propagates (re-entering here) still can.
        let choice = cache.choice.try_borrow().ok()?;
        let f = f.take()?;
        Some(match &*choice {
            Choice::Default => f(&*DEFAULT),
            Choice::Installed(propagator) => f(&**propagator),
            Choice::Global => {
                let mut f = Some(f);
                global::get_text_map_propagator(|propagator| f.take().map(|f| f(propagator)))?
            }
        })
    });
    match (out, f) {
        (Ok(Some(out)), _) => out,
        // The thread is being torn down, or its choice is being made.
        (_, Some(f)) => global_or_default(f),
        (_, None) => unreachable!("the propagator was used but gave nothing back"),
    }
}

/// Which propagator this thread uses now: `"default"`, `"installed"` or `"global"`. For tests.
pub(crate) fn kind() -> &'static str {
    with_propagator(|_| ());
    CACHE.with(|cache| match &*cache.choice.borrow() {
        Choice::Default => "default",
        Choice::Installed(_) => "installed",
        Choice::Global => "global",
    })
}

/// The global propagator, or the default if none was set: without the cache.
fn global_or_default<T>(f: impl FnOnce(&dyn TextMapPropagator) -> T) -> T {
    let mut f = Some(f);
    let configured = CONFIGURED.load(Ordering::Acquire);
    let from_global = global::get_text_map_propagator(|propagator| {
        // Every real propagator names the fields it uses; the no-op names none.
        (configured || propagator.fields().next().is_some())
            .then(|| f.take().map(|f| f(propagator)))
    });
    match (from_global.flatten(), f) {
        (Some(out), _) => out,
        (None, Some(f)) => f(&*DEFAULT),
        (None, None) => unreachable!("the global propagator was used but gave nothing back"),
    }
}

/// What the global propagator is now.
#[cold]
fn recheck() -> Choice {
    let configured = CONFIGURED.load(Ordering::Acquire);
    global::get_text_map_propagator(|propagator| {
        match handoff::receive(&HANDOFF, || propagator.fields().next().is_some()) {
            (_, Some(installed)) => Choice::Installed(installed),
            (named, None) if configured || named => Choice::Global,
            (_, None) => Choice::Default,
        }
    })
}

/// Installs `propagator` as the global propagator, to be used even if it names no field.
#[cfg(feature = "setup")]
pub(crate) fn install<P: TextMapPropagator + Send + Sync + 'static>(propagator: P) {
    global::set_text_map_propagator(Installed(Arc::new(propagator)));
    CONFIGURED.store(true, Ordering::Release);
    crate::refresh_provider();
}

/// The global propagator as tracebound installs it: the configured one, which hands itself to a
/// thread that asks in [`recheck`].
#[cfg(feature = "setup")]
#[derive(Debug)]
struct Installed(Shared);

#[cfg(feature = "setup")]
impl TextMapPropagator for Installed {
    fn inject_context(
        &self,
        cx: &opentelemetry::Context,
        injector: &mut dyn opentelemetry::propagation::Injector,
    ) {
        self.0.inject_context(cx, injector);
    }

    fn extract_with_context(
        &self,
        cx: &opentelemetry::Context,
        extractor: &dyn opentelemetry::propagation::Extractor,
    ) -> opentelemetry::Context {
        self.0.extract_with_context(cx, extractor)
    }

    fn fields(&self) -> opentelemetry::propagation::text_map_propagator::FieldIter<'_> {
        handoff::offer(&HANDOFF, || Arc::clone(&self.0));
        self.0.fields()
    }
}
