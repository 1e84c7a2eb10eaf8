//! Span starts for the messaging macros: extract then start (consumers), start then inject
//! (producers), one span linking many messages (batches).

use super::{Scope, Started, builder, without_span};
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
    let remote_span = remote.span().span_context().clone();
    let from_remote = remote_span.is_valid() && remote_span.is_remote();
    if !from_remote {
        crate::diagnostics::no_remote_context(carrier, || {
            propagation::with_propagator(|p| p.fields().map(str::to_owned).collect())
        });
    }
    match (relation, from_remote) {
        (Relation::Parent, true) => {
            let span = scope.build(|| builder(name, kind, attributes(), Vec::new()), &remote);
            Started::new(remote, span, |remote| remote)
        }
        (Relation::Link, true) => {
            let links = || vec![Link::with_context(remote_span)];
            let span = scope.build(
                || builder(name, kind, attributes(), links()),
                &Context::new(),
            );
            Started::new(remote, span, |remote| without_span(&remote))
        }
        (_, false) => {
            let span = scope.build(
                || builder(name, kind, attributes(), Vec::new()),
                &Context::new(),
            );
            Started::new(remote, span, |remote| without_span(&remote))
        }
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
    let parent = Context::current();
    let span = scope.build(
        || {
            let mut attributes = attributes().unwrap_or_default();
            attributes.push(KeyValue::new("messaging.batch.message_count", count));
            builder(name, kind, Some(attributes), links)
        },
        &parent,
    );
    Started::new(parent, span, |parent| parent)
}

/// Writes the producer span's context (and baggage) into the outgoing carrier.
#[inline]
pub fn inject<C: Inject + ?Sized>(started: &Started, carrier: &mut C) {
    propagation::inject_context(&started.cx, carrier);
}
