//! Functions as users write them, each under a tracebound attribute when the `traced` feature
//! is on. `ui-tests/lints.rs` lints this crate both ways, with the gates below and
//! `-W clippy::pedantic`, and requires the same diagnostics: the attributes add none and hide
//! none. Some functions here have diagnostics of their own, on purpose.
#![deny(warnings)]
#![allow(clippy::missing_errors_doc, clippy::missing_panics_doc)]

pub mod clean;
pub mod flagged;
pub mod stacked;
