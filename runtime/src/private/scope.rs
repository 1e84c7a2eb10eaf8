use opentelemetry::Context;
use opentelemetry::InstrumentationScope;
use opentelemetry::global::{self, BoxedSpan, BoxedTracer, GlobalTracerProvider};
use opentelemetry::trace::{Span as _, SpanBuilder, TraceContextExt, Tracer, TracerProvider};
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// The instrumentation scope of one traced function: the user's crate name and version.
///
/// Each thread caches one tracer per scope. Reading the global provider costs a lock and two
/// reference-count updates (about 28 ns here), more than tracing a call should add, so a cached
/// tracer is re-checked against the global provider only
/// - when `EPOCH` moved: tracebound's installers (`init`, `Setup::install`,
///   `testing::install`) and [`refresh_provider`] move it, so their providers apply to the very
///   next call; and
/// - every [`RECHECK_EVERY`] calls of the function on the thread, so a provider installed with
///   `opentelemetry::global::set_tracer_provider` directly is picked up within that many calls.
#[derive(Debug)]
pub struct Scope {
    name: &'static str,
    version: Option<&'static str>,
    slot: AtomicUsize,
}

/// Moves whenever tracebound installs a provider, or is told one was installed.
pub(crate) static EPOCH: AtomicU64 = AtomicU64::new(0);

/// Calls of one function on one thread between checks of the global provider.
pub const RECHECK_EVERY: u32 = 128;

struct Cached {
    key: ProviderKey,
    // Keeps the provider the tracer came from alive, so that its address cannot be reused by
    // a newer provider while this entry compares against it.
    _provider: GlobalTracerProvider,
    tracer: BoxedTracer,
    noop: bool,
    epoch: u64,
    until_recheck: u32,
}

thread_local! {
    static TRACERS: RefCell<Vec<Option<Cached>>> = const { RefCell::new(Vec::new()) };
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

    fn slot(&self) -> usize {
        match self.slot.load(Ordering::Relaxed) {
            0 => {
                let fresh = NEXT_SLOT.fetch_add(1, Ordering::Relaxed);
                match self
                    .slot
                    .compare_exchange(0, fresh, Ordering::Relaxed, Ordering::Relaxed)
                {
                    Ok(_) => fresh - 1,
                    Err(won) => won - 1,
                }
            }
            n => n - 1,
        }
    }

    fn tracer_from(&self, provider: &GlobalTracerProvider) -> BoxedTracer {
        let mut scope = InstrumentationScope::builder(self.name);
        if let Some(version) = self.version {
            scope = scope.with_version(version);
        }
        provider.tracer_with_scope(scope.build())
    }

    /// Builds a span with this scope's tracer on this thread; `None` when no provider is
    /// installed (the no-op tracer's span would carry nothing the parent does not).
    #[inline]
    pub(crate) fn build(
        &'static self,
        builder: impl FnOnce() -> SpanBuilder,
        parent: &Context,
    ) -> Option<BoxedSpan> {
        let slot = self.slot();
        let epoch = EPOCH.load(Ordering::Acquire);
        let mut builder = Some(builder);
        let cached = TRACERS.try_with(|cell| {
            let Ok(mut tracers) = cell.try_borrow_mut() else {
                return None;
            };
            if tracers.len() <= slot {
                tracers.resize_with(slot + 1, || None);
            }
            let entry = &mut tracers[slot];
            let fresh = entry
                .as_mut()
                .filter(|c| c.epoch == epoch && c.until_recheck > 0)
                .map(|c| c.until_recheck -= 1)
                .is_some();
            if !fresh {
                self.recheck(entry, epoch);
            }
            let cached = entry.as_mut()?;
            if cached.noop {
                return Some(None);
            }
            let span = cached.tracer.build_with_context(builder.take()?(), parent);
            Some(if is_noop(&span, parent) {
                cached.noop = true;
                None
            } else {
                Some(span)
            })
        });
        match (cached, builder) {
            (Ok(Some(span)), _) => span,
            // Re-entered from a span processor, or called while the thread is being torn down.
            (_, Some(builder)) => {
                let tracer = self.tracer_from(&global::tracer_provider());
                let span = tracer.build_with_context(builder(), parent);
                (!is_noop(&span, parent)).then_some(span)
            }
            (_, None) => unreachable!("the builder was used but no span came back"),
        }
    }

    /// Compares the cached tracer's provider with the global one, replacing it if it changed.
    #[cold]
    fn recheck(&self, entry: &mut Option<Cached>, epoch: u64) {
        let provider = global::tracer_provider();
        let key = ProviderKey::of(&provider);
        match entry {
            Some(cached) if cached.key == key => {
                cached.epoch = epoch;
                cached.until_recheck = RECHECK_EVERY;
            }
            _ => {
                *entry = Some(Cached {
                    key,
                    tracer: self.tracer_from(&provider),
                    noop: false,
                    epoch,
                    until_recheck: RECHECK_EVERY,
                    _provider: provider,
                });
            }
        }
    }
}

/// Only the no-op tracer of "no provider installed" answers an invalid parent with an invalid
/// span context: an SDK makes ids even for spans it does not sample.
fn is_noop(span: &BoxedSpan, parent: &Context) -> bool {
    let noop = !span.span_context().is_valid() && !parent.span().span_context().is_valid();
    if noop {
        crate::diagnostics::no_provider();
    }
    noop
}

/// Tells tracebound that the global tracer provider was replaced, so that every traced
/// function uses the new one from its next call.
///
/// Needed only after `opentelemetry::global::set_tracer_provider` is called while traced
/// functions already run; tracebound's own installers (`tracebound::init`, `Setup::install`,
/// `testing::install`) do it themselves. Without it, the new provider is picked up within 128
/// calls of each traced function on each thread.
///
/// ```
/// opentelemetry::global::set_tracer_provider(opentelemetry::trace::noop::NoopTracerProvider::new());
/// tracebound::refresh_provider();
/// ```
pub fn refresh_provider() {
    EPOCH.fetch_add(1, Ordering::AcqRel);
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
