//! Which propagator carriers use on each thread: a [`Choice`] rebuilt by the module's rule.

use super::Window;
use super::handoff::{self, Slot};
use crate::propagation::DEFAULT;
use opentelemetry::global;
use opentelemetry::propagation::TextMapPropagator;
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};

type Installed = &'static (dyn TextMapPropagator + Send + Sync);

/// Set once tracebound's setup installed a propagator: from then on a global propagator is used
/// even when it propagates nothing (`OTEL_PROPAGATORS=none`).
static CONFIGURED: AtomicBool = AtomicBool::new(false);

#[derive(Clone, Copy)]
enum Choice {
    /// No global propagator was ever set: tracebound's W3C trace context and baggage.
    Default,
    /// The propagator tracebound installed, used without the global lock.
    Installed(Installed),
    /// Any other global propagator, read under OpenTelemetry's lock at each use.
    Global,
    /// Unknown, on a thread being torn down: the global one if set, else the default.
    Unknown,
}

thread_local! {
    static CHOICE: Cell<Window<Choice>> = const { Cell::new(Window::over(Choice::Default)) };
    /// Where the propagator tracebound installed hands itself to [`recheck`].
    static HANDOFF: Cell<Slot<Installed>> = const { Cell::new(Slot::Idle) };
}

/// This thread's choice, checked again by the module's rule. A thread being torn down reads
/// the global each time.
fn choice() -> Choice {
    CHOICE
        .try_with(|cell| {
            let window = match cell.get().counted() {
                Ok(window) => window,
                Err(epoch) => Window::checked_at(epoch, recheck()),
            };
            cell.set(window);
            window.found
        })
        .unwrap_or(Choice::Unknown)
}

/// Runs `f` with the propagator this thread uses.
pub(crate) fn with_propagator<T>(f: impl FnOnce(&dyn TextMapPropagator) -> T) -> T {
    match choice() {
        Choice::Default => f(&*DEFAULT),
        Choice::Installed(propagator) => f(propagator),
        Choice::Global => with_global(f),
        Choice::Unknown => match recheck() {
            Choice::Default => f(&*DEFAULT),
            _ => with_global(f),
        },
    }
}

/// Which propagator this thread uses now: `"default"`, `"installed"` or `"global"`.
pub(crate) fn kind() -> &'static str {
    match choice() {
        Choice::Default => "default",
        Choice::Installed(_) => "installed",
        Choice::Global | Choice::Unknown => "global",
    }
}

/// Runs `f` with OpenTelemetry's global propagator, under its lock.
fn with_global<T>(f: impl FnOnce(&dyn TextMapPropagator) -> T) -> T {
    // OpenTelemetry takes an `FnMut` and calls it once; had it not, the default answers.
    let mut f = Some(f);
    let out = global::get_text_map_propagator(|propagator| f.take().map(|f| f(propagator)));
    match (out, f) {
        (Some(out), _) => out,
        (None, f) => f.map_or_else(
            || unreachable!("`f` was taken and gave `out`"),
            |f| f(&*DEFAULT),
        ),
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
///
/// The propagator lives for the rest of the process, so that every thread can use it without a
/// reference count: installing is done once per process, or once per test.
#[cfg(feature = "setup")]
pub(crate) fn install<P: TextMapPropagator + Send + Sync + 'static>(propagator: P) {
    let installed: Installed = Box::leak(Box::new(propagator));
    global::set_text_map_propagator(ByTracebound(installed));
    CONFIGURED.store(true, Ordering::Release);
    super::refresh_provider();
}

/// The global propagator as tracebound installs it: the configured one, which hands itself to a
/// thread that asks in [`recheck`].
#[cfg(feature = "setup")]
#[derive(Debug)]
struct ByTracebound(Installed);

#[cfg(feature = "setup")]
impl TextMapPropagator for ByTracebound {
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
        handoff::offer(&HANDOFF, || self.0);
        self.0.fields()
    }
}
