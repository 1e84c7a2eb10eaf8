//! The tracers each thread uses for the traced functions it runs: one per [`Scope`], kept in a
//! per-thread [`View`] of the global provider that the module's rule keeps fresh.

use super::Window;
use super::handoff::{self, Slot};
use opentelemetry::InstrumentationScope;
use opentelemetry::global::{self, BoxedTracer, GlobalTracerProvider};
use opentelemetry::trace::TracerProvider as _;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The instrumentation scope of one traced function: the user's crate name and version. Each
/// function's expansion holds one in a `static`.
#[derive(Debug)]
pub struct Scope {
    name: &'static str,
    version: Option<&'static str>,
    /// This scope's index in every thread's view, plus one; 0 until first used.
    slot: AtomicUsize,
}

/// A traced function's tracer on one thread.
pub(crate) enum Tracer {
    /// The SDK provider installed by [`set_tracer_provider`]: its tracer builds spans that go
    /// into a context without being boxed twice.
    #[cfg(feature = "sdk")]
    Sdk(opentelemetry_sdk::trace::SdkTracer),
    /// Any other provider, through OpenTelemetry's boxed global tracer.
    Boxed(BoxedTracer),
}

/// One thread's view of the global provider.
struct View {
    /// The provider the tracers come from. `None` before the first check.
    provider: Option<GlobalTracerProvider>,
    /// The generation of that provider if tracebound installed it: the view keeps its tracers
    /// across checks only while the global provider has this generation.
    generation: Option<u64>,
    /// By scope slot. Shared with the calls using them, so that no borrow of the view is held
    /// while a span starts (a span processor may call a traced function).
    tracers: Vec<Option<Rc<Tracer>>>,
}

/// What the module's rule needs on every call, kept apart from [`View`] in a thread-local
/// without a destructor (read without the registration check such a thread-local needs), so
/// that a call with no provider installed reads one word and borrows nothing: whether the
/// window is over, and whether the provider answered like OpenTelemetry's no-op one (traced
/// calls then build nothing).
type Pulse = Window<bool>;

thread_local! {
    static PULSE: Cell<Pulse> = const { Cell::new(Pulse::over(false)) };
    static VIEW: RefCell<View> = const {
        RefCell::new(View {
            provider: None,
            generation: None,
            tracers: Vec::new(),
        })
    };
}

static NEXT_SLOT: AtomicUsize = AtomicUsize::new(1);

impl Scope {
    pub const fn new(name: &'static str, version: Option<&'static str>) -> Self {
        Scope {
            name,
            version,
            slot: AtomicUsize::new(0),
        }
    }

    #[inline]
    fn slot(&self) -> usize {
        match self.slot.load(Ordering::Relaxed) {
            0 => self.assign_slot(),
            n => n - 1,
        }
    }

    #[cold]
    fn assign_slot(&self) -> usize {
        let fresh = NEXT_SLOT.fetch_add(1, Ordering::Relaxed);
        match self
            .slot
            .compare_exchange(0, fresh, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => fresh - 1,
            Err(won) => won - 1,
        }
    }

    fn instrumentation_scope(&self) -> InstrumentationScope {
        let mut scope = InstrumentationScope::builder(self.name);
        if let Some(version) = self.version {
            scope = scope.with_version(version);
        }
        scope.build()
    }

    /// This scope's tracer on this thread; `None` when the provider is a no-op one (or, on a
    /// thread being torn down, when the view is gone).
    #[inline]
    pub(crate) fn tracer(&'static self) -> Option<Rc<Tracer>> {
        let noop = match PULSE.get().counted() {
            Ok(pulse) => {
                PULSE.set(pulse);
                pulse.found
            }
            Err(epoch) => recheck(epoch),
        };
        if noop {
            return None;
        }
        let slot = self.slot();
        VIEW.try_with(|cell| {
            // Busy only if making a tracer called back into a traced function.
            cell.try_borrow_mut().ok()?.tracer(slot, self)
        })
        .ok()
        .flatten()
    }

    /// Which tracer this scope uses on this thread: `"sdk"`, `"boxed"` or `"noop"`.
    pub(crate) fn tracer_kind(&'static self) -> &'static str {
        match self.tracer().as_deref() {
            None => "noop",
            #[cfg(feature = "sdk")]
            Some(Tracer::Sdk(_)) => "sdk",
            Some(Tracer::Boxed(_)) => "boxed",
        }
    }

    /// Records that this thread's provider answered like a no-op one, until the next check.
    #[cold]
    pub(crate) fn found_noop(&self) {
        let mut pulse = PULSE.get();
        pulse.found = true;
        PULSE.set(pulse);
    }
}

impl View {
    /// This thread's tracer for the scope in `slot`, made on first use; `None` before the view
    /// has seen a provider.
    #[inline]
    fn tracer(&mut self, slot: usize, scope: &Scope) -> Option<Rc<Tracer>> {
        let provider = self.provider.as_ref()?;
        if self.tracers.len() <= slot {
            self.tracers.resize_with(slot + 1, || None);
        }
        let tracer = self.tracers[slot]
            .get_or_insert_with(|| Rc::new(tracer_of(provider, scope.instrumentation_scope()).0));
        Some(Rc::clone(tracer))
    }
}

/// Rebuilds this thread's view from the global provider, starting the next window; returns
/// whether the provider is known to be a no-op one. The tracers are kept if the provider is
/// the same one tracebound installed; any other provider's are made again, and whether it is a
/// no-op one is found out again by the next span start. With the view busy (making a tracer
/// called back into a traced function) or gone (the thread is being torn down), nothing
/// changes.
#[cold]
#[inline(never)]
fn recheck(epoch: u64) -> bool {
    let rebuilt = VIEW.try_with(|cell| {
        let mut view = cell.try_borrow_mut().ok()?;
        let provider = global::tracer_provider();
        // A tracer of tracebound's own scope: what tells an installed provider's generation.
        let (_, generation) = tracer_of(
            &provider,
            InstrumentationScope::builder("tracebound").build(),
        );
        let same = generation.is_some() && generation == view.generation;
        if !same {
            view.tracers.clear();
        }
        view.generation = generation;
        view.provider = Some(provider);
        Some(same)
    });
    let Ok(Some(same)) = rebuilt else {
        return PULSE.get().found;
    };
    let noop = same && PULSE.get().found;
    PULSE.set(Pulse::checked_at(epoch, noop));
    noop
}

/// The tracer of `scope` from `provider`, and the provider's generation if tracebound installed
/// it: the SDK's own tracer then, else the boxed one every global tracer is.
fn tracer_of(
    provider: &GlobalTracerProvider,
    scope: InstrumentationScope,
) -> (Tracer, Option<u64>) {
    match handoff::receive(&HANDOFF, || provider.tracer_with_scope(scope)) {
        #[cfg(feature = "sdk")]
        (_, Some((generation, typed))) => (Tracer::Sdk(typed), Some(generation)),
        (boxed, _) => (Tracer::Boxed(boxed), None),
    }
}

#[cfg(feature = "sdk")]
type Offered = (u64, opentelemetry_sdk::trace::SdkTracer);
#[cfg(not(feature = "sdk"))]
type Offered = std::convert::Infallible;

thread_local! {
    /// Where an installed provider hands its generation and typed tracer to [`tracer_of`].
    static HANDOFF: Cell<Slot<Offered>> = const { Cell::new(Slot::Idle) };
}

#[cfg(feature = "sdk")]
pub use sdk::set_tracer_provider;

#[cfg(feature = "sdk")]
mod sdk {
    use super::{HANDOFF, handoff};
    use opentelemetry::InstrumentationScope;
    use opentelemetry::global;
    use opentelemetry::trace::TracerProvider;
    use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
    use std::sync::atomic::{AtomicU64, Ordering};

    static GENERATION: AtomicU64 = AtomicU64::new(1);

    /// Installs `provider` as OpenTelemetry's global tracer provider, as
    /// `opentelemetry::global::set_tracer_provider` does, and has traced functions use it from
    /// their next call.
    ///
    /// Everything that reads the global provider sees `provider` as usual. Traced functions
    /// also learn its concrete type, so they build spans with the SDK's tracer directly: an
    /// allocation and a dynamic call per span fewer than through the global tracer. A provider
    /// installed with `global::set_tracer_provider` works too; traced functions then build
    /// spans through the global tracer, as hand-written code using `global::tracer` does.
    ///
    /// ```
    /// use opentelemetry_sdk::trace::SdkTracerProvider;
    ///
    /// let provider = SdkTracerProvider::builder().build();
    /// tracebound::set_tracer_provider(provider.clone());
    /// // … and at exit:
    /// provider.shutdown().unwrap();
    /// ```
    pub fn set_tracer_provider(provider: SdkTracerProvider) {
        let generation = GENERATION.fetch_add(1, Ordering::Relaxed);
        global::set_tracer_provider(Installed {
            provider,
            generation,
        });
        crate::refresh_provider();
    }

    /// The global provider as tracebound installs it: the SDK provider, which hands the tracer
    /// it makes, and its generation, to a thread waiting for them in `tracer_of`.
    #[derive(Debug)]
    struct Installed {
        provider: SdkTracerProvider,
        generation: u64,
    }

    impl TracerProvider for Installed {
        type Tracer = SdkTracer;

        fn tracer_with_scope(&self, scope: InstrumentationScope) -> SdkTracer {
            let tracer = self.provider.tracer_with_scope(scope);
            handoff::offer(&HANDOFF, || (self.generation, tracer.clone()));
            tracer
        }
    }
}
