//! `tracing` and tracebound in one trace (feature `tracing`).
//!
//! Services log through `tracing` and often trace through it as well, bridged to OpenTelemetry
//! by tracing-opentelemetry. This module makes the two meet without seams:
//!
//! - [`layer()`] keeps parents right in both directions whatever tracing-opentelemetry's context
//!   activation (a traced call inside an entered tracing span is its child; a tracing span
//!   started inside a traced body is the traced span's child), and records `tracing` events on
//!   the tracebound span they happen in;
//! - [`otel()`] wraps tracing-opentelemetry's layer so that it leaves those events to it, and
//!   an event is recorded once, on its innermost span;
//! - [`TraceIds`] puts the trace and span ids on every log line written inside a trace;
//! - [`init_tracing`] (feature `setup` too) installs all of it, with an
//!   `EnvFilter` from `RUST_LOG`, on the provider [`init`](crate::init) installs;
//! - [`server_span`] and [`server_response`] (feature `http` too) make tower-http's `TraceLayer`
//!   the one SERVER span of a request.
//!
//! Bringing your own subscriber, add the pieces (tracebound's layer after tracing-opentelemetry's
//! costs least):
//!
//! ```
//! use opentelemetry::trace::TracerProvider as _;
//! use tracing_subscriber::{fmt, prelude::*};
//!
//! let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
//! // The provider tracebound's spans go to: the same one as tracing's.
//! tracebound::set_tracer_provider(provider.clone());
//! let subscriber = tracing_subscriber::registry()
//!     .with(tracebound::tracing::otel(
//!         tracing_opentelemetry::layer().with_tracer(provider.tracer("app")),
//!     ))
//!     .with(tracebound::tracing::layer())
//!     .with(fmt::layer().event_format(tracebound::tracing::TraceIds::default()));
//! tracing::subscriber::with_default(subscriber, || {
//!     tracing::info!("logged with the ids of the span it is in");
//! });
//! ```
//!
//! With tracing-opentelemetry's context activation on (its default), entering a tracing span
//! makes its OpenTelemetry context current and the layer only records events; with it off, the
//! layer does that activation itself. Either way, `Context::current()` inside an entered
//! tracing span is that span's, so the logs bridge (opentelemetry-appender-tracing) gives its
//! log records the innermost span's trace context too.

mod events;
mod format;
#[cfg(feature = "http")]
mod http;
#[cfg(feature = "setup")]
pub(crate) mod init;
mod layer;

pub use format::TraceIds;
#[cfg(feature = "http")]
pub use http::{server_response, server_span};
#[cfg(feature = "setup")]
pub use init::{InitError, init_tracing};
pub use layer::{Layer, Otel, layer, otel};
