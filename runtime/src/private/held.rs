//! What the macros' check of values alive at an `.await` resolves against: by autoref
//! specialization, `(&Probe(&value)).__tb_kind()` is an [`ContextTokenStillAttached`] for a token or guard and a
//! [`NotAContextToken`] for anything else, and the generated code accepts only a `NotAContextToken`.

use crate::ContextToken;
use opentelemetry::ContextGuard;

/// A value under check.
pub struct Probe<'a, T: ?Sized>(pub &'a T);

/// The value is a context token or guard.
pub struct ContextTokenStillAttached;

/// The value is something else.
pub struct NotAContextToken;

pub trait IsToken {
    fn __tb_kind(&self) -> ContextTokenStillAttached;
}

impl IsToken for Probe<'_, ContextToken> {
    fn __tb_kind(&self) -> ContextTokenStillAttached {
        ContextTokenStillAttached
    }
}

impl IsToken for Probe<'_, ContextGuard> {
    fn __tb_kind(&self) -> ContextTokenStillAttached {
        ContextTokenStillAttached
    }
}

impl IsToken for Probe<'_, Option<ContextToken>> {
    fn __tb_kind(&self) -> ContextTokenStillAttached {
        ContextTokenStillAttached
    }
}

impl IsToken for Probe<'_, Option<ContextGuard>> {
    fn __tb_kind(&self) -> ContextTokenStillAttached {
        ContextTokenStillAttached
    }
}

pub trait NotToken {
    fn __tb_kind(&self) -> NotAContextToken;
}

impl<T: ?Sized> NotToken for &Probe<'_, T> {
    fn __tb_kind(&self) -> NotAContextToken {
        NotAContextToken
    }
}
