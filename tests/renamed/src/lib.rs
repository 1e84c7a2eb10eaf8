//! Nothing but the test in `renamed.rs`.
