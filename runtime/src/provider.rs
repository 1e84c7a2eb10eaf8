//! Which tracer provider traced functions use: OpenTelemetry's global one, through a cache of
//! tracers on each thread (`__private::Scope`) that the functions here keep current.

use opentelemetry::InstrumentationScope;
use opentelemetry::global::{BoxedTracer, GlobalTracerProvider};
use std::sync::atomic::{AtomicU64, Ordering};

/// Moves whenever tracebound installs a provider, or is told one was installed.
pub(crate) static EPOCH: AtomicU64 = AtomicU64::new(0);

/// Uses on one thread (traced calls, propagations) between checks of a global provider or
/// propagator.
pub const RECHECK_EVERY: u32 = 128;

/// One thread's uses left before it checks a global setting again (a check is due when `EPOCH`
/// moved or after [`RECHECK_EVERY`] uses), and what the last check found.
#[derive(Clone, Copy)]
pub(crate) struct Window<T> {
    /// The `EPOCH` of the last check.
    epoch: u64,
    left: u32,
    /// What the last check found.
    pub(crate) found: T,
}

impl<T: Copy> Window<T> {
    /// A window that is over: the first use checks.
    pub(crate) const fn over(found: T) -> Self {
        Window {
            epoch: 0,
            left: 0,
            found,
        }
    }

    /// The window that starts with a check made at `epoch`.
    pub(crate) fn checked_at(epoch: u64, found: T) -> Self {
        Window {
            epoch,
            left: RECHECK_EVERY,
            found,
        }
    }

    /// The window after one more use, or, when a check is due instead, the epoch to check at.
    #[inline]
    pub(crate) fn counted(self) -> Result<Self, u64> {
        let epoch = EPOCH.load(Ordering::Acquire);
        if self.epoch == epoch && self.left > 0 {
            Ok(Window {
                left: self.left - 1,
                ..self
            })
        } else {
            Err(epoch)
        }
    }
}

/// Tells tracebound that the global tracer provider or propagator was replaced, so that every
/// traced function and carrier uses the new one from its next call.
///
/// Needed only after `opentelemetry::global::set_tracer_provider` or `set_text_map_propagator`
/// is called while traced functions already run; tracebound's own installers
/// ([`set_tracer_provider`](crate::set_tracer_provider), `tracebound::init`, `Setup::install`,
/// `testing::install`) do it themselves. Without it, the new provider or propagator is picked
/// up within 128 traced calls (or propagations) on each thread.
///
/// ```
/// opentelemetry::global::set_tracer_provider(opentelemetry::trace::noop::NoopTracerProvider::new());
/// tracebound::refresh_provider();
/// ```
pub fn refresh_provider() {
    EPOCH.fetch_add(1, Ordering::AcqRel);
}

/// A traced function's tracer on one thread.
pub(crate) enum Tracer {
    /// The SDK provider installed by [`set_tracer_provider`](crate::set_tracer_provider): its
    /// tracer builds spans that go into a context without being boxed twice.
    #[cfg(feature = "sdk")]
    Sdk(opentelemetry_sdk::trace::SdkTracer),
    /// Any other provider, through OpenTelemetry's boxed global tracer.
    Boxed(BoxedTracer),
}

/// The tracer of `scope` from `provider`: the SDK's own tracer when `provider` is an SDK
/// provider that tracebound installed, else the boxed one every global tracer is.
pub(crate) fn tracer_of(provider: &GlobalTracerProvider, scope: InstrumentationScope) -> Tracer {
    #[cfg(feature = "sdk")]
    return sdk::tracer_of(provider, scope);
    #[cfg(not(feature = "sdk"))]
    Tracer::Boxed(opentelemetry::trace::TracerProvider::tracer_with_scope(
        provider, scope,
    ))
}

#[cfg(feature = "sdk")]
pub use sdk::set_tracer_provider;

#[cfg(feature = "sdk")]
mod sdk {
    use super::{Tracer, refresh_provider};
    use crate::handoff;
    use opentelemetry::InstrumentationScope;
    use opentelemetry::global::{self, GlobalTracerProvider};
    use opentelemetry::trace::TracerProvider;
    use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
    use std::cell::Cell;

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
        global::set_tracer_provider(Installed(provider));
        refresh_provider();
    }

    /// The global provider as tracebound installs it: the SDK provider, which hands the
    /// tracer it makes to a thread that is waiting for it in [`tracer_of`].
    #[derive(Debug)]
    struct Installed(SdkTracerProvider);

    thread_local! {
        /// Where `Installed` hands its tracer to [`tracer_of`].
        static HANDOFF: Cell<Option<Option<SdkTracer>>> = const { Cell::new(None) };
    }

    impl TracerProvider for Installed {
        type Tracer = SdkTracer;

        fn tracer_with_scope(&self, scope: InstrumentationScope) -> SdkTracer {
            let tracer = self.0.tracer_with_scope(scope);
            handoff::offer(&HANDOFF, || tracer.clone());
            tracer
        }
    }

    /// Asks `provider` for a tracer; if the provider is `Installed`, it also hands over its
    /// typed tracer, on this thread, during the call. Which tracer comes back is decided by
    /// the provider that answered, so no provider installed meanwhile can be mistaken for it.
    pub(super) fn tracer_of(
        provider: &GlobalTracerProvider,
        scope: InstrumentationScope,
    ) -> Tracer {
        match handoff::receive(&HANDOFF, || provider.tracer_with_scope(scope)) {
            (_, Some(typed)) => Tracer::Sdk(typed),
            (boxed, None) => Tracer::Boxed(boxed),
        }
    }
}
