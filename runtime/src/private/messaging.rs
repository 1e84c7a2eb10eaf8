//! Span starts for the messaging macros: extract then start (consumers), start then inject
//! (producers), one span linking many messages (batches).

use super::{Scope, Started, builder};
use crate::carrier::{Extract, Inject};
use crate::globals::Tracer;
use crate::propagation;
use opentelemetry::trace::{Link, SpanContext, SpanKind, TraceContextExt};
use opentelemetry::{Context, KeyValue};
use std::borrow::Cow;
use std::rc::Rc;

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
    name: impl Into<Cow<'static, str>>,
    kind: SpanKind,
    relation: Relation,
    carrier: &dyn Extract,
    attributes: impl FnOnce() -> Option<Vec<KeyValue>>,
) -> Started {
    start_remote(
        scope,
        kind,
        relation,
        carrier,
        || (name.into(), attributes()),
        true,
    )
}

/// [`start_consumer`] with the span's name made only when a span is built, by `describe`; for
/// a request (`messaging` false), no message attributes and no links to an ambient span,
/// which the HTTP and RPC conventions do not have.
pub(crate) fn start_remote(
    scope: &'static Scope,
    kind: SpanKind,
    relation: Relation,
    carrier: &dyn Extract,
    describe: impl FnOnce() -> (Cow<'static, str>, Option<Vec<KeyValue>>),
    messaging: bool,
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
        // The creation context is the parent; in the scope of an ambient span (an HTTP
        // request's, say), v1.44's structure for that choice ("Message creation context as
        // parent of Process span") has "two links: one to the message creation context and
        // another one to" the ambient span, so the correlation with it is kept.
        (Relation::Parent, true) if messaging => Context::map_current(|ambient| {
            let span = ambient.span();
            let ambient = span.span_context();
            if ambient.is_valid() && ambient.span_id() != remote_span.span_id() {
                vec![
                    Link::with_context(remote_span.clone()),
                    Link::with_context(ambient.clone()),
                ]
            } else {
                Vec::new()
            }
        }),
        _ => Vec::new(),
    };
    let build = || {
        let (name, attributes) = describe();
        let attributes = match messaging {
            true => with_message_attributes(attributes, carrier, "process"),
            false => attributes,
        };
        builder(name, kind, attributes, links())
    };
    // A child of the remote span, or a new trace: linked to it, or with nothing to continue.
    let root = relation == Relation::Link || !from_remote;
    match scope.tracer() {
        Some(tracer) => tracer.start(scope, build, &remote, root),
        None => Started::without_span(&remote, root),
    }
}

/// The attributes the macro's options give, then those the carrier knows about its message
/// (a key the options set is not repeated), with the operation named by semantic conventions if
/// the carrier is a message and the options named none.
fn with_message_attributes(
    attributes: Option<Vec<KeyValue>>,
    carrier: &dyn Extract,
    operation: &'static str,
) -> Option<Vec<KeyValue>> {
    let mut found = Vec::new();
    carrier.message_attributes(&mut found);
    if found.is_empty() {
        return attributes;
    }
    let mut attributes = attributes.unwrap_or_default();
    for kv in found {
        add_unless_set(&mut attributes, kv);
    }
    if !attributes.iter().any(|a| a.key.as_str() == OPERATION_NAME) {
        attributes.push(KeyValue::new(OPERATION_NAME, operation));
        attributes.push(KeyValue::new(OPERATION_TYPE, operation));
    }
    Some(attributes)
}

/// The creation context `carrier` holds, if it holds a valid one: what a batch or receive span
/// links to, and what a batch producer leaves in place.
fn creation_context<C: Extract + ?Sized>(carrier: &C) -> Option<SpanContext> {
    let remote = propagation::extract_with(&Context::new(), carrier);
    let span = remote.span();
    let sc = span.span_context();
    sc.is_valid().then(|| sc.clone())
}

/// Adds `kv` unless `attributes` has its key: what options or `fields(…)` set is the user's.
fn add_unless_set(attributes: &mut Vec<KeyValue>, kv: KeyValue) {
    if !attributes.iter().any(|a| a.key == kv.key) {
        attributes.push(kv);
    }
}

const OPERATION_NAME: &str = "messaging.operation.name";
const OPERATION_TYPE: &str = "messaging.operation.type";
const BATCH_COUNT: &str = "messaging.batch.message_count";

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
    let mut count: i64 = 0;
    let mut links = Vec::new();
    for carrier in carriers {
        count += 1;
        links.extend(creation_context(&carrier).map(Link::with_context));
    }
    let builder = || {
        let mut attributes = attributes().unwrap_or_default();
        add_unless_set(&mut attributes, KeyValue::new(BATCH_COUNT, count));
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

/// The `send` span of a batch, before its messages are known: the span's attributes, read
/// first so that `fields(…)` may read the batch that [`SendBatch::start`] then writes to.
pub struct SendBatch {
    scope: &'static Scope,
    name: &'static str,
    create_name: &'static str,
    kind: SpanKind,
    /// The tracer and the span's attributes; `None` with no provider: nothing is recorded,
    /// and no field was evaluated.
    recorded: Option<(Rc<Tracer>, Vec<KeyValue>)>,
}

/// Reads a batch `send` span's attributes, if a provider records it.
pub fn send_batch(
    scope: &'static Scope,
    name: &'static str,
    create_name: &'static str,
    kind: SpanKind,
    attributes: impl FnOnce() -> Option<Vec<KeyValue>>,
) -> SendBatch {
    let recorded = scope
        .tracer()
        .map(|tracer| (tracer, attributes().unwrap_or_default()));
    SendBatch {
        scope,
        name,
        create_name,
        kind,
        recorded,
    }
}

impl SendBatch {
    /// Starts the `send` span of a batch: first one `create` span per message, a PRODUCER child
    /// of the current context that is injected into that message's carrier and ended, then the
    /// `send` span, a sibling of those, with one link per message's creation context and
    /// `messaging.batch.message_count` (semantic conventions v1.44, "Batch publishing with
    /// Create spans"). A message that already holds a valid context keeps it and gets no create
    /// span; the send span links to it (§ "Producer spans": a custom creation context "SHOULD
    /// NOT be modified"). The `create` spans get the `send` span's attributes with the operation
    /// `create` and without the batch's count.
    pub fn start<'a, I, C>(self, carriers: I) -> Started
    where
        I: IntoIterator<Item = &'a mut C>,
        C: Inject + Extract + ?Sized + 'a,
    {
        let Some((tracer, mut attributes)) = self.recorded else {
            // Nothing is recorded; what the caller carries still goes on with every message
            // that has no context of its own.
            let started = Started::in_current_without_span(false);
            for carrier in carriers {
                if creation_context(carrier).is_none() {
                    inject(&started, carrier);
                }
            }
            return started;
        };
        let parent = Context::current();
        let create_attributes: Vec<KeyValue> = attributes
            .iter()
            .filter(|kv| kv.key.as_str() != BATCH_COUNT)
            .map(|kv| match kv.key.as_str() {
                OPERATION_NAME | OPERATION_TYPE => KeyValue::new(kv.key.clone(), "create"),
                _ => kv.clone(),
            })
            .collect();
        let mut links = Vec::new();
        let mut count: i64 = 0;
        for carrier in carriers {
            count += 1;
            if let Some(custom) = creation_context(carrier) {
                links.push(Link::with_context(custom));
                continue;
            }
            let created = tracer.start(
                self.scope,
                || {
                    builder(
                        self.create_name,
                        SpanKind::Producer,
                        Some(create_attributes.clone()),
                        Vec::new(),
                    )
                },
                &parent,
                false,
            );
            inject(&created, carrier);
            if let Some(cx) = &created.cx {
                let span = cx.span();
                if span.span_context().is_valid() {
                    links.push(Link::with_context(span.span_context().clone()));
                }
                if created.live {
                    span.end();
                }
            }
        }
        add_unless_set(&mut attributes, KeyValue::new(BATCH_COUNT, count));
        tracer.start(
            self.scope,
            || builder(self.name, self.kind, Some(attributes), links),
            &parent,
            false,
        )
    }
}

/// How a `receive` span counts what it fetched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fetch {
    /// A single-message API (its output an `Option`): no `messaging.batch.message_count`.
    One,
    /// A batch API: `messaging.batch.message_count`, 0 included.
    Batch,
}

/// Links the `receive` span in `cx` to the creation context of every message `output` holds,
/// and records what the fetch learned: what a pull consumer's span knows only when its fetch
/// returns (semantic conventions v1.44, "Receive span").
///
/// A single-message API's message gives the span its attributes (its id, say); of a batch API,
/// whose messages differ in theirs (§ "Recording per-message attributes on batch operations"),
/// only the system, even when it fetched one. Keys in `given`, which the macro's options set at
/// span start, are not set again.
/// `messaging.batch.message_count` is recorded for batch APIs only (§ its note: "SHOULD NOT use
/// it for single-message APIs").
pub fn received<'a, O: ?Sized, I>(
    cx: &Context,
    output: &'a O,
    messages: impl FnOnce(&'a O) -> I,
    fetch: Fetch,
    given: &[&str],
) where
    I: IntoIterator,
    I::Item: Extract,
{
    let span = cx.span();
    let mut count: i64 = 0;
    let mut found = Vec::new();
    for message in messages(output) {
        count += 1;
        if let Some(created) = creation_context(&message) {
            span.add_link(created, Vec::new());
        }
        if count == 1 {
            message.message_attributes(&mut found);
        }
    }
    // A single-message API's one message gives its attributes; a batch's only its system.
    let one = fetch == Fetch::One;
    let keep = |kv: &KeyValue| {
        !given.contains(&kv.key.as_str()) && (one || kv.key.as_str() == "messaging.system")
    };
    for kv in found.into_iter().filter(keep) {
        span.set_attribute(kv);
    }
    if !one && !given.contains(&BATCH_COUNT) {
        span.set_attribute(KeyValue::new(BATCH_COUNT, count));
    }
}
