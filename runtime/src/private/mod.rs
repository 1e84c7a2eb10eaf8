//! What the macros' generated code calls, and nothing else (tests use [`crate::inspect`]). Not
//! a public API: names and signatures here change whenever the macros change.

#[cfg(feature = "tokio")]
mod blocking;
pub mod held;
mod messaging;
mod outcome;
mod started;
mod sync;
mod traced;

pub use crate::globals::Scope;
#[cfg(feature = "tokio")]
pub use blocking::{Blocking, Executor, blocking};
pub(crate) use messaging::start_remote;
pub use messaging::{
    Fetch, Relation, SendBatch, inject, received, send_batch, start_batch, start_consumer,
};
pub use opentelemetry::KeyValue;
pub use opentelemetry::trace::SpanKind;
pub use outcome::Outcome;
pub use started::Started;
#[cfg(all(feature = "tokio-hooks", tokio_unstable))]
pub(crate) use started::carries_nothing;
pub use sync::run_sync;
pub use traced::{Traced, instrument};

/// The traits that record a body's output, chosen by autoref specialization; the recorder a
/// macro generates imports them with a glob, which never warns as unused.
pub mod record {
    pub use super::outcome::{RecordAnyErr, RecordDisplayErr, RecordNothing};
}

/// `!`, which stable Rust lets a type name only through a function pointer's return type: the
/// output of a traced `async fn … -> !`.
pub type Never = <fn() -> ! as Returns>::Output;

#[doc(hidden)]
pub trait Returns {
    type Output;
}

impl<T> Returns for fn() -> T {
    type Output = T;
}

use crate::FieldValue;
use opentelemetry::Context;
use opentelemetry::trace::{Link, SpanBuilder};
use std::borrow::Cow;

/// Starts a span as a child of the current context (or as a new root) and returns the context
/// that holds it. Called once per call of a traced function, before its body runs.
///
/// With no provider installed this builds nothing, evaluates no field, and clones no context
/// unless the current one carries something.
#[inline]
pub fn start(
    scope: &'static Scope,
    name: impl Into<Cow<'static, str>>,
    kind: SpanKind,
    root: bool,
    attributes: impl FnOnce() -> Option<Vec<KeyValue>>,
) -> Started {
    start_described(scope, kind, root, || (name.into(), attributes()))
}

/// [`start`] with the span's name made only when a span is built, with its attributes.
#[inline]
pub(crate) fn start_described(
    scope: &'static Scope,
    kind: SpanKind,
    root: bool,
    describe: impl FnOnce() -> (Cow<'static, str>, Option<Vec<KeyValue>>),
) -> Started {
    match scope.tracer() {
        Some(tracer) => tracer.start(
            scope,
            || {
                let (name, attributes) = describe();
                builder(name, kind, attributes, Vec::new())
            },
            &Context::current(),
            root,
        ),
        None => Started::in_current_without_span(root),
    }
}

#[inline]
fn builder(
    name: impl Into<Cow<'static, str>>,
    kind: SpanKind,
    attributes: Option<Vec<KeyValue>>,
    links: Vec<Link>,
) -> SpanBuilder {
    let mut builder = SpanBuilder::from_name(name).with_kind(kind);
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

/// A value of any type, never produced: the macros' never-taken `return` that gives an `async`
/// block its declared output type.
#[inline(always)]
pub fn unreachable_output<T>() -> T {
    unreachable!("never called: it sits in an `if false` branch")
}

/// Passes a parameter on unchanged: how the macros move a `_name` parameter into the body, a
/// call rather than a bare name, which would read as a binding with no effect.
#[inline(always)]
pub fn moved<T>(value: T) -> T {
    value
}

/// Runs the synchronous part of a future-returning function with its context attached, so
/// that anything it starts before returning its future is a child of the function's span.
#[inline]
pub fn in_context<T>(started: &Started, f: impl FnOnce() -> T) -> T {
    let _guard = started.attach();
    f()
}
