//! Nothing but the test in `ui2021.rs`.
