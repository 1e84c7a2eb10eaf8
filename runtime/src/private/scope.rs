use opentelemetry::InstrumentationScope;
use opentelemetry::global::{self, BoxedTracer, GlobalTracerProvider};
use opentelemetry::trace::TracerProvider;
use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The instrumentation scope of one traced function: the user's crate name and version.
///
/// Tracers are cached per thread and per scope, and a cached tracer is used only while the
/// global tracer provider is still the one it came from, so a provider installed at any time
/// receives the spans that follow.
#[derive(Debug)]
pub struct Scope {
    name: &'static str,
    version: Option<&'static str>,
    slot: AtomicUsize,
}

struct Cached {
    key: ProviderKey,
    // Keeps the provider the tracer came from alive, so that its address cannot be reused by
    // a newer provider while this entry compares against it.
    _provider: GlobalTracerProvider,
    tracer: BoxedTracer,
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

    pub(crate) fn with_tracer<R>(&'static self, f: impl FnOnce(&BoxedTracer) -> R) -> R {
        let provider = global::tracer_provider();
        let key = ProviderKey::of(&provider);
        let slot = self.slot();
        let mut f = Some(f);
        let cached = TRACERS.try_with(|cell| {
            let Ok(mut tracers) = cell.try_borrow_mut() else {
                return None;
            };
            if tracers.len() <= slot {
                tracers.resize_with(slot + 1, || None);
            }
            let entry = &mut tracers[slot];
            if entry.as_ref().is_none_or(|cached| cached.key != key) {
                *entry = Some(Cached {
                    key,
                    tracer: self.tracer_from(&provider),
                    _provider: provider.clone(),
                });
            }
            let f = f.take()?;
            entry.as_ref().map(|cached| f(&cached.tracer))
        });
        match (cached, f) {
            (Ok(Some(result)), _) => result,
            // Re-entered from a span processor, or called while the thread is being torn down.
            (_, Some(f)) => f(&self.tracer_from(&provider)),
            (_, None) => unreachable!("the tracer callback ran but returned nothing"),
        }
    }
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
