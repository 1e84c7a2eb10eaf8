//! The layer: a tracing span's OpenTelemetry context current while the span is entered, tracing
//! spans created inside a tracebound span parented there, and events recorded on tracebound
//! spans.

use super::events;
use opentelemetry::trace::{SpanId, TraceContextExt};
use opentelemetry::{Context as OtelContext, ContextGuard};
use std::any::TypeId;
use std::cell::{Cell, RefCell};
use std::sync::OnceLock;
use tracing::dispatcher::WeakDispatch;
use tracing::level_filters::LevelFilter;
use tracing::span::{Attributes, Id, Record};
use tracing::{Dispatch, Event, Metadata, Subscriber, subscriber::Interest};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::{LookupSpan, SpanRef};

/// A [`tracing_subscriber::Layer`] that joins `tracing` and tracebound into one trace, whatever
/// tracing-opentelemetry's context-activation setting:
///
/// - while a tracing span is entered, its OpenTelemetry context is the current one (unless
///   tracing-opentelemetry's layer already made it so), so a traced call, `tracebound::spawn`,
///   `propagation::inject` and the logs bridge made there are its children;
/// - a tracing span created inside a tracebound span is that span's child, even when a tracing
///   span is entered further out (with tracing-opentelemetry's context activation off, the
///   layer sets that parent when the span is first entered: it replaces one given with
///   `set_parent` before then, and is not set if the span's OpenTelemetry context was asked
///   for, or the span used as an explicit parent, before its first entry);
/// - a `tracing` event inside a tracebound span, and inside no tracing span of its own, is
///   recorded as a span event on the tracebound span, mapped as tracing-opentelemetry maps
///   events: the message as the event's name, `level`, `target` and the fields as attributes,
///   an `error` field as an `exception` event, and an `ERROR` event sets the span's status.
///
/// It works before or after tracing-opentelemetry's layer; give it the same per-layer filter as
/// that layer, or none (a layer that sees fewer spans may record an event tracing-opentelemetry
/// records too). An event inside a tracebound span that is itself
/// inside an entered tracing span goes to the tracebound span only when tracing-opentelemetry's
/// layer is wrapped in [`otel`]; without that, the layer leaves the event to
/// tracing-opentelemetry, which records it on the tracing span. Either way an event is recorded
/// once.
///
/// ```
/// use tracing_subscriber::prelude::*;
///
/// let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
/// # use opentelemetry::trace::TracerProvider as _;
/// let subscriber = tracing_subscriber::registry()
///     .with(tracebound::tracing::otel(
///         tracing_opentelemetry::layer().with_tracer(provider.tracer("app")),
///     ))
///     .with(tracebound::tracing::layer());
/// # drop(subscriber);
/// ```
#[derive(Debug, Default)]
pub struct Layer {
    /// The subscriber the layer is part of, which owns the spans it hears of.
    dispatch: OnceLock<WeakDispatch>,
}

/// The tracebound layer; see [`Layer`].
pub fn layer() -> Layer {
    Layer::default()
}

/// tracing-opentelemetry's layer (`inner`, alone: an event it records elsewhere does not
/// reach `inner` at all), made to record an event whose innermost span is a tracebound span
/// inside one of its spans on that tracebound span, where tracing-opentelemetry would record it
/// on its own span. Everything else reaches `inner` unchanged. A per-layer filter goes on
/// `otel(…)`, not inside it: `otel` does not see the inner layer's filter, and would record an
/// event that filter drops.
///
/// ```
/// use opentelemetry::trace::TracerProvider as _;
/// use tracing_subscriber::prelude::*;
///
/// let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
/// let subscriber = tracing_subscriber::registry()
///     .with(tracebound::tracing::otel(
///         tracing_opentelemetry::layer().with_tracer(provider.tracer("app")),
///     ))
///     .with(tracebound::tracing::layer());
/// # drop(subscriber);
/// ```
pub fn otel<L>(inner: L) -> Otel<L> {
    Otel { inner }
}

/// The layer [`otel`] returns.
#[derive(Debug)]
pub struct Otel<L> {
    inner: L,
}

/// What the layers keep on a tracing span.
enum Kept {
    /// Its OpenTelemetry span id and context, if tracing-opentelemetry's layer gave it one:
    /// read once, at its first entry.
    Known(Option<(SpanId, OtelContext)>),
    /// Not read yet; the parent to give it first: the tracebound span that was innermost where
    /// it was created, which tracing-opentelemetry without context activation does not see.
    Reparent(OtelContext),
}

/// A tracing span entered on this thread.
struct Entered {
    id: Id,
    /// The context this layer attached for it.
    guard: Option<ContextGuard>,
}

/// An event, told apart from the other events being dispatched on the thread (those dispatched
/// while it is, from inside a layer) by its address.
fn event_key(event: &Event<'_>) -> usize {
    event as *const Event<'_> as usize
}

thread_local! {
    /// Whether the event `otel` last looked at (by [`event_key`]) is outside every span of
    /// tracing-opentelemetry's, as far as could be read: [`Layer`] reuses the answer.
    static LOOKED_UP: Cell<(usize, bool)> = const { Cell::new((0, false)) };

    /// The tracing spans entered on this thread, innermost last.
    static ENTERED: RefCell<Vec<Entered>> = const { RefCell::new(Vec::new()) };
}

/// The subscriber in `cell`: the one that registered the layer, or else (a layer inside an
/// `Option`, a `Vec` or `reload`, which pass no registration on) the thread's default one if it
/// holds the layer itself (`is_it`), found where the default can be asked (not while an event
/// is dispatched).
fn dispatch(cell: &OnceLock<WeakDispatch>, is_it: impl Fn(&Dispatch) -> bool) -> Option<Dispatch> {
    if let Some(dispatch) = cell.get() {
        return dispatch.upgrade();
    }
    let default = tracing::dispatcher::get_default(|d| is_it(d).then(|| d.clone()))?;
    let _ = cell.set(default.downgrade());
    Some(default)
}

/// A span the layers have not read (yet): its subscriber was unknown, or it was never entered
/// where [`Layer`] could read it. While an event is dispatched a span is never read, as
/// tracing-opentelemetry may be holding it (it logs nothing while it starts a span, but a
/// sampler or a processor may).
struct Unread;

/// Reads `span`'s OpenTelemetry span id and context (`None` if tracing-opentelemetry gave it
/// none) from tracing-opentelemetry, which starts its OpenTelemetry span, and keeps them on the
/// span; `reparent`: first give it the parent noted by [`Kept::Reparent`], if it is the current
/// span of its own subscriber (tracing-opentelemetry's API needs a handle on it, which only the
/// current span offers). Called at a span's first entry only, with its subscriber.
fn activation<S>(
    span: &SpanRef<'_, S>,
    dispatch: &Dispatch,
    reparent: bool,
) -> Option<(SpanId, OtelContext)>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    // Taken out in a statement of its own: the lock must be released before
    // tracing-opentelemetry reads the span.
    let noted = reparent
        .then(|| span.extensions_mut().remove::<Kept>())
        .flatten();
    if let Some(Kept::Reparent(cx)) = noted {
        let current = tracing::Span::current();
        let same = current.with_subscriber(|(id, d)| {
            let of = |d: &Dispatch| d.downcast_ref::<S>().map(|s| s as *const S);
            *id == span.id() && of(d).is_some() && of(d) == of(dispatch)
        });
        if same == Some(true) {
            // Fails only if the span was started already, by tracing-opentelemetry's own
            // activation, which then gave it the right parent.
            let _ = current.set_parent(cx);
        }
    }
    let found = tracing_opentelemetry::get_otel_context(&span.id(), dispatch).and_then(|cx| {
        let sc = cx.span().span_context().clone();
        sc.is_valid().then(|| (sc.span_id(), cx))
    });
    span.extensions_mut().insert(Kept::Known(found.clone()));
    found
}

/// Where tracing-opentelemetry records an event whose innermost tracing span is `span`: the
/// OpenTelemetry span id of the nearest span in its scope that has one, `None` if none has;
/// [`Unread`] if a span on the way has not been read.
fn recording_span<S>(span: SpanRef<'_, S>) -> Result<Option<SpanId>, Unread>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    for s in span.scope() {
        match s.extensions().get::<Kept>() {
            Some(Kept::Known(Some((id, _)))) => return Ok(Some(*id)),
            Some(Kept::Known(None)) => {}
            _ => return Err(Unread),
        }
    }
    Ok(None)
}

/// Whether this thread entered the tracing span `id` through [`Layer`], which made its context
/// current then: a context current now that is not its own was made current inside it.
fn entered_here(id: &Id) -> bool {
    ENTERED
        .try_with(|e| e.borrow().iter().any(|entry| entry.id == *id))
        .unwrap_or(false)
}

/// The current context, if its span is a recording one other than `tracing_span` (a
/// tracebound span inside that tracing span, or any outside tracing spans).
fn innermost_other(tracing_span: Option<SpanId>) -> Option<OtelContext> {
    OtelContext::map_current(|cx| {
        if !cx.has_active_span() {
            return None;
        }
        let span = cx.span();
        let sc = span.span_context();
        let other = sc.is_valid() && Some(sc.span_id()) != tracing_span && span.is_recording();
        other.then(|| cx.clone())
    })
}

/// Records `event` on the span of `cx`, out of `Context::map_current` (formatting a field may
/// run code that attaches a context).
fn record_on(event: &Event<'_>, cx: OtelContext) {
    events::record(event, &cx.span());
}

impl<S> tracing_subscriber::Layer<S> for Layer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_register_dispatch(&self, subscriber: &Dispatch) {
        let _ = self.dispatch.set(subscriber.downgrade());
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if !attrs.is_contextual() {
            return;
        }
        // Only where this layer attached a context (tracing-opentelemetry's activation is off)
        // can the current tracing span and the current context differ.
        let attaching = ENTERED.try_with(|e| e.borrow().iter().any(|entry| entry.guard.is_some()));
        if attaching != Ok(true) {
            return;
        }
        let Some(parent) = ctx.lookup_current() else {
            return;
        };
        // Only where this layer attached the parent's context (tracing-opentelemetry's
        // activation is off): with it on, tracing-opentelemetry parents the span on the
        // current context already.
        let attached = ENTERED.try_with(|e| {
            e.borrow()
                .iter()
                .rev()
                .find(|entry| entry.id == parent.id())
                .is_some_and(|entry| entry.guard.is_some())
        });
        if attached != Ok(true) {
            return;
        }
        let parent_id = match parent.extensions().get::<Kept>() {
            Some(Kept::Known(Some((parent_id, _)))) => *parent_id,
            _ => return,
        };
        let inner = OtelContext::map_current(|cx| {
            let differs = cx.span().span_context().span_id() != parent_id;
            differs.then(|| cx.clone())
        });
        if let (Some(cx), Some(span)) = (inner, ctx.span(id)) {
            span.extensions_mut().insert(Kept::Reparent(cx));
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let current = OtelContext::map_current(|c| c.span().span_context().span_id());
        // Attached unless it is current already: tracing-opentelemetry's activation, or the
        // caller's own `.with_context(span.context())`. Read without a copy when it is.
        let (known, reparent) = match span.extensions().get::<Kept>() {
            Some(Kept::Known(known)) => (
                Some(match known {
                    Some((span_id, cx)) if *span_id != current => Some(cx.clone()),
                    _ => None,
                }),
                false,
            ),
            Some(Kept::Reparent(_)) => (None, true),
            None => (None, false),
        };
        let attach = match known {
            Some(attach) => attach,
            // The first entry. Without its subscriber the span cannot be read: nothing is
            // kept, so that a later entry that has it reads it.
            None => dispatch(&self.dispatch, |d| {
                d.downcast_ref::<Layer>()
                    .is_some_and(|l| std::ptr::eq(l, self))
            })
            .and_then(|dispatch| activation(&span, &dispatch, reparent))
            .and_then(|(span_id, cx)| (span_id != current).then_some(cx)),
        };
        let guard = attach.map(OtelContext::attach);
        let _ = ENTERED.try_with(|e| {
            e.borrow_mut().push(Entered {
                id: id.clone(),
                guard,
            })
        });
    }

    fn on_exit(&self, id: &Id, _ctx: Context<'_, S>) {
        let entry = ENTERED.try_with(|e| {
            let mut e = e.borrow_mut();
            let i = e.iter().rposition(|entry| entry.id == *id)?;
            Some(e.remove(i))
        });
        drop(entry);
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if !event.is_contextual() {
            // An explicit parent (or none): tracing-opentelemetry's to record.
            return;
        }
        // An event inside a span of tracing-opentelemetry's is its to record (or `otel`'s, if
        // a tracebound span is innermost); the layer records the others, and none it cannot
        // tell (a span it could not read may be one of tracing-opentelemetry's).
        let outside = match LOOKED_UP.with(Cell::get) {
            (key, outside) if key == event_key(event) => outside,
            _ => match ctx.lookup_current() {
                None => true,
                Some(span) => matches!(recording_span(span), Ok(None)),
            },
        };
        if outside && let Some(cx) = innermost_other(None) {
            record_on(event, cx);
        }
    }

    fn event_enabled(&self, _event: &Event<'_>, _ctx: Context<'_, S>) -> bool {
        // Every layer is asked before any records the event: what `otel` looks up from here
        // on is about this event (or one dispatched inside it, which has another address).
        LOOKED_UP.with(|l| l.set((0, false)));
        true
    }
}

impl<S, L> tracing_subscriber::Layer<S> for Otel<L>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    L: tracing_subscriber::Layer<S>,
{
    fn on_register_dispatch(&self, subscriber: &Dispatch) {
        self.inner.on_register_dispatch(subscriber);
    }

    fn on_layer(&mut self, subscriber: &mut S) {
        self.inner.on_layer(subscriber);
    }

    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        self.inner.register_callsite(metadata)
    }

    fn enabled(&self, metadata: &Metadata<'_>, ctx: Context<'_, S>) -> bool {
        self.inner.enabled(metadata, ctx)
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        self.inner.on_new_span(attrs, id, ctx);
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        self.inner.max_level_hint()
    }

    fn on_record(&self, span: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        self.inner.on_record(span, values, ctx);
    }

    fn on_follows_from(&self, span: &Id, follows: &Id, ctx: Context<'_, S>) {
        self.inner.on_follows_from(span, follows, ctx);
    }

    fn event_enabled(&self, event: &Event<'_>, ctx: Context<'_, S>) -> bool {
        self.inner.event_enabled(event, ctx)
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if !event.is_contextual() {
            self.inner.on_event(event, ctx);
            return;
        }
        let (current_id, found) = match ctx.lookup_current() {
            None => (None, Ok(None)),
            Some(span) => (Some(span.id()), recording_span(span)),
        };
        LOOKED_UP.with(|l| l.set((event_key(event), matches!(found, Ok(None)))));
        // A tracebound span inside the tracing span (made current after the tracing span's own
        // context was, as `Layer` saw it entered): recorded there. On the tracing span, or
        // outside any (which `Layer` records): tracing-opentelemetry's to decide.
        let inside = current_id.is_some_and(|id| entered_here(&id));
        let handed = match found {
            Ok(Some(id)) if inside => innermost_other(Some(id)),
            _ => None,
        };
        match handed {
            Some(cx) => record_on(event, cx),
            None => self.inner.on_event(event, ctx),
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        self.inner.on_enter(id, ctx);
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        self.inner.on_exit(id, ctx);
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        self.inner.on_close(id, ctx);
    }

    fn on_id_change(&self, old: &Id, new: &Id, ctx: Context<'_, S>) {
        self.inner.on_id_change(old, new, ctx);
    }

    unsafe fn downcast_raw(&self, id: TypeId) -> Option<*const ()> {
        if id == TypeId::of::<Self>() {
            Some(self as *const Self as *const ())
        } else {
            // SAFETY: the inner layer answers for its own types, as `Layered` lets it.
            unsafe { self.inner.downcast_raw(id) }
        }
    }
}
