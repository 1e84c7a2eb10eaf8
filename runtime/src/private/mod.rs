//! What the macros' generated code calls. Not a public API: names and signatures here change
//! whenever the macros change.

#[cfg(feature = "tokio")]
mod blocking;
mod messaging;
mod outcome;
mod scope;
mod sync;
mod traced;

#[cfg(feature = "tokio")]
pub use blocking::{Blocking, Executor, blocking};
pub use messaging::{Relation, inject, start_batch, start_consumer};
pub use opentelemetry::trace::SpanKind;
pub use opentelemetry::{Context, KeyValue};
pub use outcome::{Outcome, RecordAnyErr, RecordDisplayErr, RecordNothing, no_record};
pub use scope::Scope;
pub use sync::{SyncScope, enter_sync};
pub use traced::{Traced, instrument};

use crate::FieldValue;
use opentelemetry::global::BoxedSpan;
use opentelemetry::trace::{Link, Span as _, SpanBuilder, TraceContextExt, Tracer};
use std::borrow::Cow;

/// Starts a span as a child of the current context (or as a new root) and returns the context
/// that holds it. Called once per call of a traced function, before its body runs.
#[inline]
pub fn start(
    scope: &'static Scope,
    name: &'static str,
    kind: SpanKind,
    root: bool,
    attributes: Option<Vec<KeyValue>>,
) -> Context {
    let parent = Context::current();
    let span = if root {
        build(scope, name, kind, &Context::new(), attributes, Vec::new())
    } else {
        build(scope, name, kind, &parent, attributes, Vec::new())
    };
    parent.with_span(span)
}

/// Builds every span the macros start.
#[inline]
fn build(
    scope: &'static Scope,
    name: &'static str,
    kind: SpanKind,
    parent: &Context,
    attributes: Option<Vec<KeyValue>>,
    links: Vec<Link>,
) -> BoxedSpan {
    let mut builder = SpanBuilder::from_name(Cow::Borrowed(name)).with_kind(kind);
    builder.attributes = attributes;
    if !links.is_empty() {
        builder.links = Some(links);
    }
    let span = scope.with_tracer(|tracer| tracer.build_with_context(builder, parent));
    // Only the no-op tracer of "no provider installed" returns an invalid span context.
    if !span.span_context().is_valid() {
        crate::diagnostics::no_provider();
    }
    span
}

/// One `fields(key = value)` entry; `None` when the value records nothing.
#[inline]
pub fn field<V: FieldValue + ?Sized>(key: &'static str, value: &V) -> Option<KeyValue> {
    value.to_value().map(|v| KeyValue::new(key, v))
}

/// The attributes of a span from its `fields(…)` entries.
#[inline]
pub fn fields<const N: usize>(entries: [Option<KeyValue>; N]) -> Option<Vec<KeyValue>> {
    Some(entries.into_iter().flatten().collect())
}

/// Runs the synchronous part of a future-returning function with `cx` attached, so that
/// anything it starts before returning its future is a child of the function's span.
#[inline]
pub fn in_context<T>(cx: &Context, f: impl FnOnce() -> T) -> T {
    let _guard = cx.clone().attach();
    f()
}
