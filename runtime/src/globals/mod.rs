//! OpenTelemetry's global tracer provider and propagator, as each thread sees them.
//!
//! Reading either global takes a lock and updates a reference count every thread shares, on
//! every traced call or message: more than tracing a call should add. So each thread keeps a
//! view of them — the tracers of the scopes it traced ([`Scope`]) and the propagator its
//! carriers use — and the one rule below says how fresh that view is.
//!
//! **The rule.** Before each use, a thread counts one use off its [`Window`]. When the window
//! is over ([`RECHECK_EVERY`] uses) or [`EPOCH`] moved since the window began, it rebuilds its
//! view from the globals before using it. tracebound's installers (`set_tracer_provider`,
//! `init`, `Setup::install`, `testing::install`) and [`refresh_provider`] move `EPOCH`, so what
//! they install is used from the very next call on every thread; a provider or propagator set
//! with OpenTelemetry's own setters is used within `RECHECK_EVERY` uses on each thread.
//!
//! **Identity.** A rebuilt view keeps the tracers it made only if the global provider is the
//! one they came from, which tracebound can tell only of a provider it installed: installed
//! providers carry a generation number, which they hand over (see [`handoff`]) when asked for a
//! tracer. Tracers of any other provider are made again after every check. Nothing here reads
//! the layout of OpenTelemetry's types.

mod handoff;
mod propagator;
mod tracers;

#[cfg(feature = "setup")]
pub(crate) use propagator::install as install_propagator;
pub(crate) use propagator::{kind as propagator_kind, with_propagator};
pub use tracers::Scope;
pub(crate) use tracers::Tracer;
#[cfg(feature = "sdk")]
pub use tracers::set_tracer_provider;

use std::sync::atomic::{AtomicU64, Ordering};

/// Moves whenever tracebound installs a provider or propagator, or is told one was installed.
static EPOCH: AtomicU64 = AtomicU64::new(0);

/// Uses on one thread (traced calls, propagations) between checks of a global provider or
/// propagator. A check reads the globals and rebuilds what it cannot tell is unchanged (the
/// tracers of a provider tracebound did not install); spread over this many calls it costs a
/// traced call about as much as reading one more word (see BENCHMARKS.md).
pub const RECHECK_EVERY: u32 = 1024;

/// One thread's uses left before it checks a global again, and what the last check found.
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
/// up within [`RECHECK_EVERY`](crate::inspect::RECHECK_EVERY) traced calls (or propagations) on
/// each thread.
///
/// ```
/// opentelemetry::global::set_tracer_provider(opentelemetry::trace::noop::NoopTracerProvider::new());
/// tracebound::refresh_provider();
/// ```
pub fn refresh_provider() {
    EPOCH.fetch_add(1, Ordering::AcqRel);
}
