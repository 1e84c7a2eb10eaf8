//! The tests live in `../signatures.rs`, shared with the 2024-edition crate.
