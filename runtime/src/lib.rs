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
//! Across a message queue, one attribute on each side keeps one trace: the producer writes
//! its span's context into the message headers, the consumer continues from it.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use std::collections::HashMap;
//! use tracebound::{traced_consumer, traced_producer};
//!
//! type Headers = HashMap<String, String>;
//!
//! #[traced_producer(carrier = headers, system = "rabbitmq", destination = "orders")]
//! async fn publish(order: u64, headers: &mut Headers) -> (Headers, u64) {
//!     (headers.clone(), order) // hand both to the broker client here
//! }
//!
//! #[traced_consumer(carrier = headers, system = "rabbitmq", destination = "orders")]
//! async fn process(headers: Headers, order: u64) -> u64 {
//!     order // runs in a child span of `send orders`
//! }
//!
//! // With a tracer provider installed, `headers` now holds the send span's `traceparent`.
//! let (headers, order) = publish(7, &mut Headers::new()).await;
//! assert_eq!(process(headers, order).await, 7);
//! # }
//! ```
//!
//! Spans go to the global tracer provider ([`opentelemetry::global`]); the instrumentation
//! scope is the name and version of the crate that uses the attribute.
//!
//! `#[traced_blocking]` hands a synchronous function to the blocking pool with its context.
//!
//! The runtime API carries context where no attribute fits: [`attach`] and [`ContextToken`],
//! [`with_context`], [`Snapshot`], [`bind`], [`carry`], and the spawn functions [`spawn`],
//! [`spawn_blocking`], [`spawn_local`] and [`thread::spawn`].
//!
//! Carriers implement [`Extract`] and [`Inject`]; [`propagation`] reads and writes them, and
//! [`env`](mod@env) carries context into child processes.
//!
//! # Features
//! - `tokio` (default): [`spawn`], [`spawn_blocking`], [`spawn_local`].
//! - `tokio-hooks`: [`hooks::carry`], tokio's task hooks carrying the spawner's context into
//!   every task, a library's bare `tokio::spawn` included, and [`hooks::report`]; needs
//!   `RUSTFLAGS="--cfg tokio_unstable"` (without it, a call to `carry` does not compile).
//! - `testing`: [`testing::install`], an in-memory recorder of spans, and [`testing::TraceTree`].
//! - `sdk`: [`set_tracer_provider`], which installs an OpenTelemetry SDK provider so that
//!   traced functions build their spans with its tracer directly (the fastest path).
//! - `setup`: [`init`] and [`setup::Setup`], a provider and propagator from `OTEL_*` variables.
//! - `otlp`: the OTLP exporter for `setup`.
//! - `http`, `lapin`, `nats`, `kafka`: the header types of those crates as carriers.
//! - `tower`: [`tower::ServerLayer`] and [`tower::ClientLayer`], HTTP and gRPC boundaries for
//!   axum, hyper and tonic; `axum`: `http.route` from axum's `MatchedPath`; `tonic`:
//!   `tonic::metadata::MetadataMap` as a carrier; `reqwest`: [`reqwest::Middleware`] for
//!   reqwest-middleware, [`reqwest::send`] and [`reqwest::inject`].
//! - Always: [`stream::carry`] and [`stream::per_message`], context across streams.
//! - `tracing`: [`tracing`](mod@tracing), one trace with `tracing` and tracing-opentelemetry
//!   (events on tracebound spans, parents across tracing spans, trace ids on log lines); with
//!   `setup`, [`init_tracing`].

mod bind;
mod carrier;
#[cfg(feature = "http")]
mod conventions;
pub mod debug;
mod diagnostics;
pub mod env;
mod field;
mod globals;
#[cfg(feature = "tokio-hooks")]
pub mod hooks;
pub mod propagation;
#[cfg(feature = "reqwest")]
pub mod reqwest;
#[cfg(feature = "tokio")]
mod spawn;
pub mod stream;
pub mod thread;
mod token;

#[cfg(feature = "setup")]
pub mod setup;
#[cfg(feature = "testing")]
pub mod testing;
#[cfg(feature = "tower")]
pub mod tower;
#[cfg(feature = "tracing")]
pub mod tracing;

#[cfg(all(feature = "tracing", feature = "setup"))]
pub use crate::tracing::init_tracing;
#[cfg(feature = "setup")]
pub use setup::init;

#[doc(hidden)]
#[path = "private/mod.rs"]
pub mod __private;

pub use __private::Relation;
pub use bind::{Carried, bind, bind_fn, carry};
pub use carrier::{Extract, Inject, MAX_VALUE_LEN};
pub use field::FieldValue;
#[cfg(feature = "tokio")]
pub use spawn::{spawn, spawn_blocking, spawn_local};
pub use token::{ContextToken, Snapshot, attach, with_context};

pub use globals::refresh_provider;
#[cfg(feature = "sdk")]
pub use globals::set_tracer_provider;

/// Kafka consumer groups (feature `kafka`): rdkafka's headers and messages are carriers by
/// themselves; [`Group`](kafka::Group) adds the group a message was consumed in.
#[cfg(feature = "kafka")]
pub mod kafka {
    pub use crate::carrier::kafka::{Group, InGroup};
}

/// Which paths tracebound takes on this thread, for tests that check them. Not a stable API.
#[doc(hidden)]
pub mod inspect {
    pub use crate::globals::RECHECK_EVERY;

    /// Which propagator carriers use on this thread: `"default"` (W3C, no global propagator
    /// was set), `"installed"` (the one tracebound's setup installed) or `"global"`.
    pub fn propagator_kind() -> &'static str {
        crate::globals::propagator_kind()
    }

    /// Which tracer traced functions use on this thread: `"sdk"` (a provider installed by
    /// tracebound), `"boxed"` (OpenTelemetry's global tracer) or `"noop"`.
    pub fn tracer_kind() -> &'static str {
        static PROBE: crate::globals::Scope = crate::globals::Scope::new("tracebound", None);
        PROBE.tracer_kind()
    }
}

/// Traces an async function, starting its span when the function is **called**.
///
/// See the [crate documentation](crate) for an example, and the README for every option:
/// `name = "…"`, `kind = internal|server|client|producer|consumer`, `fields(key = expr, …)`,
/// `skip(a, …)`, `skip_all`, `err = false`, `root`, `crate = path`.
pub use tracebound_macros::traced_task;

/// Traces the handler of a received message or request: the span's parent is the context
/// found in the message's headers, extracted **before** the body runs.
///
/// `carrier` names the parameter holding the headers, or an expression rooted at one
/// (`carrier = msg.headers`, `carrier = delivery.properties.headers()`); its type implements
/// [`Extract`], as do `&C` and `Option<C>`. The span is a CONSUMER span named
/// `{operation} {destination}` (`process orders`), else after the function.
///
/// - `relation = parent` (default): the remote span is the parent, one waterfall from producer
///   to consumer. `relation = link`: a new trace with a link to the remote span, for
///   upstreams you do not trust. A carrier without a valid context starts a new trace.
/// - Baggage from the carrier is in the body's current context.
/// - `system = "rabbitmq"`, `destination = "orders"`, `operation = "process"` set
///   `messaging.system`, `messaging.destination.name`, `messaging.operation.name` and
///   `messaging.operation.type` when the span starts.
/// - `batch = msgs, carrier = |m| &m.headers`: one span for a batch, with
///   `messaging.batch.message_count` and one link per message with a valid context.
/// - Everything else as [`traced_task`]: `name`, `kind`, `fields`, `skip`, `skip_all`,
///   `err = false`, `crate`; errors and panics are recorded the same way. Works on async fns,
///   fns returning futures, and synchronous fns.
///
/// ```
/// use std::collections::HashMap;
/// use tracebound::traced_consumer;
///
/// struct Message {
///     headers: HashMap<String, String>,
///     body: String,
/// }
///
/// #[traced_consumer(carrier = msg.headers, system = "rabbitmq", destination = "orders")]
/// async fn process(msg: Message) -> usize {
///     msg.body.len()
/// }
/// ```
pub use tracebound_macros::traced_consumer;

/// Traces the sending side: starts a PRODUCER span `send {destination}` (else named after the
/// function) as a child of the current context, and writes **its** context and the current
/// baggage into `carrier`, a `&mut` parameter implementing [`Inject`], before the body runs.
/// The consumer's parent is then the send span.
///
/// Options as [`traced_consumer`] (`system`, `destination`, `operation`, and the common ones)
/// except `relation` and `batch`.
///
/// ```
/// use std::collections::HashMap;
/// use tracebound::traced_producer;
///
/// #[traced_producer(carrier = headers, system = "rabbitmq", destination = "orders")]
/// async fn publish(body: &str, headers: &mut HashMap<String, String>) {
///     // `headers` already holds `traceparent` here; send `body` with them.
/// }
/// ```
pub use tracebound_macros::traced_producer;

/// Makes a synchronous function async by running its body on tokio's blocking pool, inside a
/// child span of the context current **when the function is called**.
///
/// The context is attached on the pool thread for exactly the body's duration (a pool thread
/// is reused, so nothing is left behind), and the returned future yields the body's value. A
/// panic in the body marks the span ERROR and resumes on the task awaiting the future. The body
/// starts when the future is first polled; a future dropped before that ends its span with a
/// `cancelled` event.
///
/// Arguments must be owned and `'static` (they move to the pool thread), and so must `self`;
/// a borrowed argument is a compile error saying so. `executor = thread` runs the body on a
/// new `std::thread` instead, and needs no tokio runtime. Other options as [`traced_task`]:
/// `name`, `kind`, `fields`, `skip`, `skip_all`, `err = false`, `crate`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use tracebound::traced_blocking;
///
/// #[traced_blocking(fields(bytes = data.len()))]
/// fn checksum(data: Vec<u8>) -> u32 {
///     data.iter().map(|&b| u32::from(b)).sum()
/// }
///
/// assert_eq!(checksum(vec![1, 2, 3]).await, 6);
/// # }
/// ```
#[cfg(feature = "tokio")]
pub use tracebound_macros::traced_blocking;
