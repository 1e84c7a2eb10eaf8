//! Values handed from code OpenTelemetry calls back into (a provider's `tracer_with_scope`, a
//! propagator's `fields`) to the tracebound code on the same thread that made the call: how
//! tracebound learns that a global provider or propagator is one it installed.

use std::cell::Cell;
use std::thread::LocalKey;

/// A thread's slot for one kind of value.
pub(super) enum Slot<T> {
    /// Nobody on this thread waits for a value.
    Idle,
    /// [`receive`] is running its call.
    Waiting,
    /// [`offer`] filled it during that call.
    #[cfg_attr(
        not(feature = "sdk"),
        expect(
            dead_code,
            reason = "only tracebound's installers offer, with feature `sdk`"
        )
    )]
    Offered(T),
}

pub(super) type Key<T> = LocalKey<Cell<Slot<T>>>;

/// Runs `call`, and takes whatever was offered into `key`'s slot on this thread meanwhile.
pub(super) fn receive<T, R>(key: &'static Key<T>, call: impl FnOnce() -> R) -> (R, Option<T>) {
    let _ = key.try_with(|slot| slot.set(Slot::Waiting));
    let out = call();
    let offered = match key.try_with(|slot| slot.replace(Slot::Idle)) {
        Ok(Slot::Offered(value)) => Some(value),
        _ => None,
    };
    (out, offered)
}

/// Fills `key`'s slot with `make()` if a [`receive`] on this thread waits for it.
#[cfg(feature = "sdk")]
pub(super) fn offer<T>(key: &'static Key<T>, make: impl FnOnce() -> T) {
    let _ = key.try_with(|slot| match slot.replace(Slot::Idle) {
        Slot::Waiting => slot.set(Slot::Offered(make())),
        other => slot.set(other),
    });
}
