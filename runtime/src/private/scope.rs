use crate::provider::{Tracer, Window, tracer_of};
use opentelemetry::InstrumentationScope;
use opentelemetry::global::{self, GlobalTracerProvider};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The instrumentation scope of one traced function: the user's crate name and version.
///
/// Each thread caches one tracer per scope. Reading the global provider costs a lock and two
/// reference-count updates (about 28 ns here), more than tracing a call should add, so a
/// thread re-checks its tracers against the global provider only
/// - when `EPOCH` moved: tracebound's installers (`set_tracer_provider`, `init`,
///   `Setup::install`, `testing::install`) and `refresh_provider` move it, so their providers
///   apply to the very next call; and
/// - every [`RECHECK_EVERY`](crate::provider::RECHECK_EVERY) traced calls on the thread, so a
///   provider installed with `opentelemetry::global::set_tracer_provider` directly is picked
///   up within that many calls.
#[derive(Debug)]
pub struct Scope {
    name: &'static str,
    version: Option<&'static str>,
    slot: AtomicUsize,
}

/// What every traced call on a thread reads first: whether the thread's cache is current and
/// whether its provider answered like OpenTelemetry's no-op one (traced calls then build
/// nothing). Kept apart from [`Cache`] in a thread-local without a destructor, which is read
/// without the registration check such a thread-local needs, so that a call with no provider
/// installed reads one word and borrows nothing.
type Pulse = Window<bool>;

/// One thread's view of the global provider and the tracers it made.
struct Cache {
    /// The provider the tracers came from, kept alive so that its address cannot be reused by
    /// a newer provider while the cache compares against it. `None` before the first call.
    provider: Option<(ProviderKey, GlobalTracerProvider)>,
    /// By scope slot. Shared with the calls using them, so that no borrow of the cache is
    /// held while a span starts (a span processor may call a traced function).
    tracers: Vec<Option<Rc<Tracer>>>,
}

thread_local! {
    static PULSE: Cell<Pulse> = const {
        Cell::new(Pulse::over(false))
    };
    static CACHE: RefCell<Cache> = const {
        RefCell::new(Cache {
            provider: None,
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

    fn tracer_from(&self, provider: &GlobalTracerProvider) -> Tracer {
        let mut scope = InstrumentationScope::builder(self.name);
        if let Some(version) = self.version {
            scope = scope.with_version(version);
        }
        tracer_of(provider, scope.build())
    }

    /// This scope's tracer on this thread; `None` when no provider is installed (or, on a
    /// thread being torn down, when the cache is gone).
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
        CACHE
            .try_with(|cell| {
                // Busy only if making a tracer called back into a traced function.
                cell.try_borrow_mut().ok()?.tracer(slot, self)
            })
            .ok()
            .flatten()
    }

    /// Which tracer this scope uses on this thread: `"sdk"`, `"boxed"` or `"noop"`. For tests
    /// that check which path tracebound takes with a given installation.
    pub fn tracer_kind(&'static self) -> &'static str {
        match self.tracer().as_deref() {
            None => "noop",
            #[cfg(feature = "sdk")]
            Some(Tracer::Sdk(_)) => "sdk",
            Some(Tracer::Boxed(_)) => "boxed",
        }
    }

    /// Records that this thread's provider answered like a no-op one.
    #[cold]
    pub(crate) fn found_noop(&self) {
        let mut pulse = PULSE.get();
        pulse.found = true;
        PULSE.set(pulse);
    }
}

impl Cache {
    /// This thread's tracer for the scope in `slot`, made on first use; `None` before the
    /// cache has seen a provider.
    #[inline]
    fn tracer(&mut self, slot: usize, scope: &Scope) -> Option<Rc<Tracer>> {
        let (_, provider) = self.provider.as_ref()?;
        if self.tracers.len() <= slot {
            self.tracers.resize_with(slot + 1, || None);
        }
        let tracer = self.tracers[slot].get_or_insert_with(|| Rc::new(scope.tracer_from(provider)));
        Some(Rc::clone(tracer))
    }
}

/// Compares this thread's cached provider with the global one (if it changed, the tracers made
/// by the old one are dropped) and starts the next window of calls; returns whether the
/// provider is known to be a no-op one. With the cache busy (making a tracer called back into
/// a traced function) or gone (the thread is being torn down), the provider stays unchecked.
#[cold]
#[inline(never)]
fn recheck(epoch: u64) -> bool {
    let Ok(Some(changed)) = CACHE.try_with(|cell| {
        let mut cache = cell.try_borrow_mut().ok()?;
        let provider = global::tracer_provider();
        let key = ProviderKey::of(&provider);
        let changed = !matches!(cache.provider, Some((cached, _)) if cached == key);
        if changed {
            cache.provider = Some((key, provider));
            cache.tracers.clear();
        }
        Some(changed)
    }) else {
        return PULSE.get().found;
    };
    let noop = !changed && PULSE.get().found;
    PULSE.set(Pulse::checked_at(epoch, noop));
    noop
}

/// The identity of a global tracer provider: the address of its shared allocation.
#[derive(Clone, Copy, PartialEq, Eq)]
struct ProviderKey([usize; 2]);

const _: () = assert!(
    size_of::<GlobalTracerProvider>() == size_of::<[usize; 2]>()
        && align_of::<GlobalTracerProvider>() == align_of::<[usize; 2]>(),
    "GlobalTracerProvider is expected to be one `Arc<dyn …>`"
);

impl ProviderKey {
    fn of(provider: &GlobalTracerProvider) -> Self {
        // SAFETY: `GlobalTracerProvider` is a single `Arc<dyn ObjectSafeTracerProvider>` (checked
        // by size and alignment above): two initialized pointer-sized words without padding, so
        // every byte may be read. Clones of one provider share the words; distinct providers that
        // are alive at the same time differ in the data pointer.
        ProviderKey(unsafe {
            std::mem::transmute_copy::<GlobalTracerProvider, [usize; 2]>(provider)
        })
    }
}
