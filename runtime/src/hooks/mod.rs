//! Every task of a tokio runtime runs with the context that was current where it was spawned,
//! whoever spawned it (feature `tokio-hooks`; needs `RUSTFLAGS="--cfg tokio_unstable"`).
//!
//! `#[traced_task]` and [`spawn`](crate::spawn) carry context across the spawns you write. A
//! library's own `tokio::spawn(async { … })` (a pool's background task, a client's connection
//! driver) carries nothing, and the spans it starts become roots of new traces. [`carry`] adds
//! tokio's task hooks to a runtime builder so that each task spawned onto the runtime runs every
//! poll with the context that was current where it was spawned.
//!
//! ```
//! # #[cfg(tokio_unstable)] fn main() -> std::io::Result<()> {
//! use opentelemetry::{Context, KeyValue, baggage::BaggageExt};
//!
//! let mut builder = tokio::runtime::Builder::new_multi_thread();
//! builder.worker_threads(2).enable_all();
//! let runtime = tracebound::hooks::carry(&mut builder).build()?;
//!
//! let tenant = Context::new().with_baggage([KeyValue::new("tenant", "acme")]);
//! let seen = runtime.block_on(async {
//!     let _token = tracebound::attach(tenant);
//!     // What a library does: a bare spawn. Its task runs in the spawner's context.
//!     tokio::spawn(async { Context::current().baggage().len() })
//! });
//! assert_eq!(runtime.block_on(seen).unwrap(), 1);
//! print!("{}", tracebound::hooks::report());
//! # Ok(()) }
//! # #[cfg(not(tokio_unstable))] fn main() {}
//! ```
//!
//! # Which tasks, and which context
//! - Every task spawned onto a runtime built from the builder: `tokio::spawn`, `Handle::spawn`,
//!   `Runtime::spawn`, `JoinSet::spawn`, `spawn_local` on a `LocalRuntime`, by any crate.
//! - The context is the one current on the spawner's thread when it calls `spawn`, if it holds
//!   something to carry (a valid span, baggage, suppressed telemetry). A task spawned with
//!   nothing current is left alone: it stays a root, as without the hooks.
//! - Tokio calls no spawn or poll hook for `spawn_blocking` jobs (only the terminate hook, which
//!   finds nothing to remove), for the tasks of a `LocalSet`, or for the future given to
//!   `block_on`: use [`spawn_blocking`](crate::spawn_blocking) (or `#[traced_blocking]`) and
//!   [`spawn_local`](crate::spawn_local) there.
//! - What is carried is the spawner's span by its ids (and the rest of its context, baggage
//!   included), not the span itself: a task that outlives its spawner, such as a pooled
//!   connection's driver, does not keep the spawner's span from ending. Such a task does keep
//!   its spawner's trace and baggage for every span it starts, for as long as it runs.
//! - A task that carries its own context keeps it. [`spawn`](crate::spawn) and
//!   [`spawn_local`](crate::spawn_local) tell the hooks to leave their tasks alone. A future
//!   that attaches its own context on every poll (a `#[traced_task]` function's,
//!   [`carry`](crate::carry)'s, OpenTelemetry's `with_context`) attaches it above the one the
//!   hooks attach, so its own is what its body sees.
//!
//! # Cost
//! A task spawned under a context costs an entry in a sharded table (kept until the task ends)
//! and, on every poll, a lookup and an attach: about 1.2 times what carrying the context by
//! hand costs (`tokio::spawn(f.with_context(Context::current()))`), some 100 ns more per task
//! and 45 ns more per poll in README's "Tokio hooks" measurements. A task spawned with nothing
//! to carry costs a look at the current context when spawned and tokio's calls of the hooks,
//! about 1.1 times a runtime without them (plus a lookup per poll while carried tasks are
//! alive). Where you write the spawn, carrying by hand
//! (`#[traced_task]`, [`spawn`](crate::spawn)) stays cheaper.
//!
//! # The report
//! [`report`] lists, for each place in the source that spawned tasks under a context, how many
//! the hooks carried (and how many carried their own): where a program relies on the hooks, the
//! run-time complement of `cargo tracebound audit`.
//!
//! # Other task hooks
//! Tokio keeps one callback per hook: one set on the builder before [`carry`] is replaced by
//! tracebound's, one set after replaces it. `carry_with(&mut builder, Callbacks)` runs your
//! callbacks together with tracebound's; tracebound's cleanup runs even if yours panics.
//! Replacing tracebound's hooks breaks what they pair: without its after-poll hook a carried
//! context stays attached after the poll (until the thread's next poll that runs inside no
//! other, which drops it), and without its terminate hook entries are never removed.
//!
//! # Without `--cfg tokio_unstable`
//! Tokio has no task hooks then. The feature still compiles (for `--all-features` builds), and
//! a call to [`carry`] is a compile error saying what to set.

mod report;
#[cfg(tokio_unstable)]
mod tasks;
#[cfg(not(tokio_unstable))]
mod unavailable;

pub use report::{Report, SpawnSite, report};
#[cfg(tokio_unstable)]
pub(crate) use tasks::Own;
#[cfg(tokio_unstable)]
pub use tasks::{Callbacks, carry, carry_with};
#[cfg(not(tokio_unstable))]
pub use unavailable::{TokioUnstable, carry};
