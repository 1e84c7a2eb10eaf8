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
pub use scope::{RECHECK_EVERY, Scope, refresh_provider};
pub use sync::{SyncScope, enter_sync};
pub use traced::{Traced, instrument};

use crate::FieldValue;
use opentelemetry::global::BoxedSpan;
use opentelemetry::trace::{Link, Span as _, SpanBuilder, TraceContextExt};
use std::borrow::Cow;

/// The context of a traced call, and whether the call owns a recording span in it that it
/// must end. With no provider installed, or for an unsampled span, there is nothing to end.
#[derive(Clone, Debug)]
pub struct Started {
    pub(crate) cx: Context,
    pub(crate) live: bool,
}

impl Started {
    /// `span` in `cx`, or `or(cx)` when no span was built.
    fn new(cx: Context, span: Option<BoxedSpan>, or: impl FnOnce(Context) -> Context) -> Self {
        match span {
            Some(span) => {
                let live = span.is_recording();
                Started {
                    cx: cx.with_span(span),
                    live,
                }
            }
            None => Started {
                cx: or(cx),
                live: false,
            },
        }
    }
}

/// Starts a span as a child of the current context (or as a new root) and returns the context
/// that holds it. Called once per call of a traced function, before its body runs.
#[inline]
pub fn start(
    scope: &'static Scope,
    name: &'static str,
    kind: SpanKind,
    root: bool,
    attributes: impl FnOnce() -> Option<Vec<KeyValue>>,
) -> Started {
    let parent = Context::current();
    let builder = || builder(name, kind, attributes(), Vec::new());
    if root {
        let span = scope.build(builder, &Context::new());
        Started::new(parent, span, |parent| without_span(&parent))
    } else {
        let span = scope.build(builder, &parent);
        Started::new(parent, span, |parent| parent)
    }
}

/// `cx` with no span in it (its baggage kept).
fn without_span(cx: &Context) -> Context {
    cx.with_remote_span_context(opentelemetry::trace::SpanContext::empty_context())
}

#[inline]
fn builder(
    name: &'static str,
    kind: SpanKind,
    attributes: Option<Vec<KeyValue>>,
    links: Vec<Link>,
) -> SpanBuilder {
    let mut builder = SpanBuilder::from_name(Cow::Borrowed(name)).with_kind(kind);
    builder.attributes = attributes;
    if !links.is_empty() {
        builder.links = Some(links);
    }
    builder
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

/// The attributes of a span without `fields(…)`.
#[inline]
pub fn no_fields() -> Option<Vec<KeyValue>> {
    None
}

/// Runs the synchronous part of a future-returning function with its context attached, so
/// that anything it starts before returning its future is a child of the function's span.
#[inline]
pub fn in_context<T>(started: &Started, f: impl FnOnce() -> T) -> T {
    let _guard = started.cx.clone().attach();
    f()
}
