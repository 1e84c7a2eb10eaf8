//! Span starts for the messaging macros: extract then start (consumers), start then inject
//! (producers), one span linking many messages (batches).

use super::{Scope, Started, builder};
use crate::carrier::{Extract, Inject};
use crate::propagation;
use opentelemetry::trace::{Link, SpanKind, TraceContextExt};
use opentelemetry::{Context, KeyValue};

/// How a consumer's span relates to the context found in its carrier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relation {
    /// The remote span is the parent: one trace from producer to consumer.
    Parent,
    /// A new trace, linked to the remote span.
    Link,
}

/// Extracts the context in `carrier` and starts the consumer's span: a child of the remote span
/// (`Relation::Parent`), or a new trace linked to it (`Relation::Link`); a new trace when the
/// carrier holds no valid context. The returned context also holds the carrier's baggage.
pub fn start_consumer(
    scope: &'static Scope,
    name: &'static str,
    kind: SpanKind,
    relation: Relation,
    carrier: &dyn Extract,
    attributes: impl FnOnce() -> Option<Vec<KeyValue>>,
) -> Started {
    let remote = propagation::extract(carrier);
    let remote_span = remote.span();
    let remote_span = remote_span.span_context();
    let from_remote = remote_span.is_valid() && remote_span.is_remote();
    if !from_remote {
        crate::diagnostics::no_remote_context(carrier, || {
            propagation::with_propagator(|p| p.fields().map(str::to_owned).collect())
        });
    }
    let links = || match (relation, from_remote) {
        (Relation::Link, true) => vec![Link::with_context(remote_span.clone())],
        _ => Vec::new(),
    };
    // A child of the remote span, or a new trace: linked to it, or with nothing to continue.
    let root = relation == Relation::Link || !from_remote;
    match scope.tracer() {
        Some(tracer) => tracer.start(
            scope,
            || builder(name, kind, attributes(), links()),
            &remote,
            root,
        ),
        None => Started::without_span(&remote, root),
    }
}

/// Starts one span for a batch of messages, as a child of the current context, with one link
/// per message that carries a valid context and `messaging.batch.message_count`.
pub fn start_batch<I>(
    scope: &'static Scope,
    name: &'static str,
    kind: SpanKind,
    carriers: I,
    attributes: impl FnOnce() -> Option<Vec<KeyValue>>,
) -> Started
where
    I: IntoIterator,
    I::Item: Extract,
{
    let empty = Context::new();
    let mut count: i64 = 0;
    let mut links = Vec::new();
    for carrier in carriers {
        count += 1;
        let remote = propagation::extract_with(&empty, &carrier);
        let span = remote.span();
        if span.span_context().is_valid() {
            links.push(Link::with_context(span.span_context().clone()));
        }
    }
    let builder = || {
        let mut attributes = attributes().unwrap_or_default();
        attributes.push(KeyValue::new("messaging.batch.message_count", count));
        builder(name, kind, Some(attributes), links)
    };
    match scope.tracer() {
        Some(tracer) => tracer.start(scope, builder, &Context::current(), false),
        None => Started::in_current_without_span(false),
    }
}

/// Writes the producer span's context (and baggage) into the outgoing carrier; nothing when
/// the call carries nothing.
#[inline]
pub fn inject<C: Inject + ?Sized>(started: &Started, carrier: &mut C) {
    if let Some(cx) = &started.cx {
        propagation::inject_context(cx, carrier);
    }
}
