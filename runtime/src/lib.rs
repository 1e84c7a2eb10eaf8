//! Trace context that survives every async boundary, written once as an attribute.
//!
//! OpenTelemetry's current [`Context`](opentelemetry::Context) lives in thread-local storage,
//! so it is lost wherever execution moves: `tokio::spawn`, the blocking pool, another thread.
//! `#[traced_task]` starts its span and captures the current context **when the function is
//! called**, not when the future is first polled, so the span keeps its parent however the
//! future is spawned, joined or raced.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use tracebound::traced_task;
//!
//! #[derive(Debug)]
//! struct NotFound;
//! impl std::fmt::Display for NotFound {
//!     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
//!         f.write_str("no such order")
//!     }
//! }
//!
//! #[traced_task(kind = server, fields(order.id = id))]
//! async fn handle_order(id: u64) -> Result<u64, NotFound> {
//!     // Created here, under `handle_order`'s span: the spawned task keeps that parent.
//!     let charged = tokio::spawn(charge(id)).await.unwrap();
//!     if charged { Ok(id) } else { Err(NotFound) }
//! }
//!
//! #[traced_task]
//! async fn charge(id: u64) -> bool {
//!     id % 2 == 0
//! }
//!
//! assert_eq!(handle_order(4).await.unwrap(), 4);
//! # }
//! ```
//!
//! Spans go to the global tracer provider ([`opentelemetry::global`]); the instrumentation
//! scope is the name and version of the crate that uses the attribute.
//!
//! The runtime API carries context where no attribute fits: [`attach`] and [`ContextToken`],
//! [`with_context`], [`Snapshot`], [`bind`], [`carry`], and the spawn functions [`spawn`],
//! [`spawn_blocking`], [`spawn_local`] and [`thread::spawn`].
//!
//! # Features
//! - `tokio` (default): [`spawn`], [`spawn_blocking`], [`spawn_local`].
//! - `testing`: [`testing::install`], an in-memory exporter, and [`testing::TraceTree`].

mod bind;
mod field;
#[cfg(feature = "tokio")]
mod spawn;
pub mod thread;
mod token;

#[cfg(feature = "testing")]
pub mod testing;

#[doc(hidden)]
#[path = "private/mod.rs"]
pub mod __private;

pub use bind::{Carried, bind, bind_fn, carry};
pub use field::FieldValue;
#[cfg(feature = "tokio")]
pub use spawn::{spawn, spawn_blocking, spawn_local};
pub use token::{ContextToken, Snapshot, attach, with_context};

/// Traces an async function, starting its span when the function is **called**.
///
/// See the [crate documentation](crate) for an example, and the README for every option:
/// `name = "…"`, `kind = internal|server|client|producer|consumer`, `fields(key = expr, …)`,
/// `skip(a, …)`, `skip_all`, `err = false`, `root`, `crate = path`.
pub use tracebound_macros::traced_task;
