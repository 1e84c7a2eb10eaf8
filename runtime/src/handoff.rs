//! Values handed from code OpenTelemetry calls back into (a provider's `tracer_with_scope`, a
//! propagator's `fields`) to the tracebound code on the same thread that made the call: how
//! tracebound learns that a global provider or propagator is one it installed, without any
//! identity that could be confused with one installed meanwhile.

use std::cell::Cell;
use std::thread::LocalKey;

/// A thread's slot: `Some` while [`receive`] waits, `Some(Some(_))` once [`offer`] filled it.
pub(crate) type Slot<T> = LocalKey<Cell<Option<Option<T>>>>;

/// Runs `call`, and takes whatever was offered into `slot` on this thread meanwhile.
pub(crate) fn receive<T, R>(slot: &'static Slot<T>, call: impl FnOnce() -> R) -> (R, Option<T>) {
    let _ = slot.try_with(|slot| slot.set(Some(None)));
    let out = call();
    (out, slot.try_with(Cell::take).ok().flatten().flatten())
}

/// Fills `slot` with `make()` if a [`receive`] on this thread waits for it.
#[cfg(feature = "sdk")]
pub(crate) fn offer<T>(slot: &'static Slot<T>, make: impl FnOnce() -> T) {
    let _ = slot.try_with(|slot| match slot.take() {
        Some(None) => slot.set(Some(Some(make()))),
        other => slot.set(other),
    });
}
