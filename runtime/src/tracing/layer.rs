//! The layer: a tracing span's OpenTelemetry context current while the span is entered, tracing
//! spans created inside a tracebound span parented there, and events recorded on tracebound
//! spans.

use super::events;
use opentelemetry::trace::{SpanId, TraceContextExt};
use opentelemetry::{Context as OtelContext, ContextGuard};
use std::any::TypeId;
use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicU8, Ordering};
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
///   layer sets that parent when the span is first entered, replacing one given with
///   `set_parent` before then);
/// - a `tracing` event inside a tracebound span, and inside no tracing span of its own, is
///   recorded as a span event on the tracebound span, mapped as tracing-opentelemetry maps
///   events: the message as the event's name, `level`, `target` and the fields as attributes,
///   an `error` field as an `exception` event, and an `ERROR` event sets the span's status.
///
/// It works before or after tracing-opentelemetry's layer; after costs less, as an entry then
/// finds the span's context current already. An event inside a tracebound span that is itself
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
    /// Whether [`otel`] is in the subscriber: 0 not known yet, 1 no, 2 yes.
    wrapped: AtomicU8,
    /// Whether tracing-opentelemetry's layer made an entered span's context current before this
    /// layer heard of the entry (its context activation is on, and it comes first): 0 not
    /// known yet, 1 yes, 2 no. Once it did, the current context at an entry is the span's.
    activated: AtomicU8,
}

/// The tracebound layer; see [`Layer`].
pub fn layer() -> Layer {
    Layer::default()
}

/// tracing-opentelemetry's layer (`inner`), leaving to [`Layer`] the events whose innermost
/// span is a tracebound span, which it would record on the enclosing tracing span instead.
/// Everything else reaches `inner` unchanged.
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
#[derive(Debug, Clone)]
pub struct Otel<L> {
    inner: L,
}

/// What [`Otel`] answers to a downcast, so that [`Layer`] knows it is in the subscriber.
struct OtelMarker;

static OTEL_MARKER: OtelMarker = OtelMarker;

/// What the layer keeps on a tracing span whose context it attaches itself, from its first
/// entry: the span's OpenTelemetry context, or none if tracing-opentelemetry gave it none.
struct Activation(Option<OtelContext>);

/// The parent a tracing span gets when it is first entered: the tracebound span that was
/// innermost where it was created, which tracing-opentelemetry without context activation does
/// not see.
struct Reparent(OtelContext);

/// A tracing span entered on this thread.
struct Entered {
    id: Id,
    /// Its OpenTelemetry span id, if it has one.
    otel: Option<SpanId>,
    /// The context this layer attached for it.
    guard: Option<ContextGuard>,
}

/// What [`Otel`] decided about an event, for [`Layer`] to reuse.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Decision {
    /// Its innermost span is a tracebound span: the layer records it.
    HandedOver,
    /// Its innermost span is the current tracing span's: tracing-opentelemetry records it.
    Kept,
    /// No tracing span of tracing-opentelemetry's is current.
    NoTracingSpan,
}

/// An event, told apart from the other events being dispatched on the thread (those dispatched
/// while it is, from inside a layer) by its address.
fn event_key(event: &Event<'_>) -> usize {
    event as *const Event<'_> as usize
}

thread_local! {
    /// The last decision of [`Otel`] on this thread, and the event it is about.
    static DECIDED: Cell<(usize, Decision)> = const { Cell::new((0, Decision::NoTracingSpan)) };

    /// The tracing spans entered on this thread, innermost last.
    static ENTERED: RefCell<Vec<Entered>> = const { RefCell::new(Vec::new()) };
}

/// The OpenTelemetry span id of a tracing span entered on this thread, and whether this layer
/// attached its context; `None` if it has no OpenTelemetry span.
fn entered(id: &Id) -> Option<(SpanId, bool)> {
    ENTERED.with(|e| {
        let e = e.borrow();
        let entry = e.iter().rev().find(|entry| entry.id == *id)?;
        Some((entry.otel?, entry.guard.is_some()))
    })
}

/// The OpenTelemetry span id of the current tracing span.
fn current_otel_id<S>(ctx: &Context<'_, S>) -> Option<SpanId>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let span = ctx.lookup_current()?;
    entered(&span.id()).map(|(id, _)| id)
}

/// Whether the innermost OpenTelemetry span is a recording one other than the tracing span's
/// (`tracing_span`): a tracebound span started inside it.
fn innermost_is_other(cx: &OtelContext, tracing_span: SpanId) -> bool {
    if !cx.has_active_span() {
        return false;
    }
    let span = cx.span();
    let sc = span.span_context();
    sc.is_valid() && sc.span_id() != tracing_span && span.is_recording()
}

impl Layer {
    fn wrapped(&self) -> bool {
        self.wrapped.load(Ordering::Relaxed) == 2
    }

    /// The first entry of a tracing span whose context this layer may have to attach: its
    /// parent corrected, its context read; `None` if tracing-opentelemetry attached it.
    fn first_entry<S>(&self, id: &Id, span: &SpanRef<'_, S>) -> Option<Activation>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        // Looked for first with a read lock, as it is rarely there.
        let reparenting = span.extensions().get::<Reparent>().is_some();
        let reparent = reparenting
            .then(|| span.extensions_mut().remove::<Reparent>())
            .flatten();
        if let Some(Reparent(cx)) = reparent {
            // The registry made the span current before the layers hear of the entry: a handle
            // to it, for tracing-opentelemetry's API. Setting the parent fails only if the span
            // was started already, by tracing-opentelemetry's own activation, which then gave
            // it the right parent.
            let current = tracing::Span::current();
            if current.id().as_ref() == Some(id) {
                let _ = current.set_parent(cx);
            }
        }
        let cx =
            tracing::dispatcher::get_default(|d| tracing_opentelemetry::get_otel_context(id, d))
                .unwrap_or_default();
        let sc = cx.span().span_context().clone();
        if !sc.is_valid() {
            return Some(Activation(None));
        }
        let attaches =
            OtelContext::map_current(|c| c.span().span_context().span_id()) != sc.span_id();
        self.activated
            .store(if attaches { 2 } else { 1 }, Ordering::Relaxed);
        attaches.then_some(Activation(Some(cx)))
    }
}

impl<S> tracing_subscriber::Layer<S> for Layer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if !attrs.is_contextual() {
            return;
        }
        if self.activated.load(Ordering::Relaxed) == 1 {
            // tracing-opentelemetry's activation: the current context is the new span's parent.
            return;
        }
        let Some(parent) = ctx.lookup_current() else {
            return;
        };
        let Some((parent_id, true)) = entered(&parent.id()) else {
            return;
        };
        let inner = OtelContext::map_current(|cx| {
            let differs = cx.span().span_context().span_id() != parent_id;
            differs.then(|| cx.clone())
        });
        if let (Some(cx), Some(span)) = (inner, ctx.span(id)) {
            span.extensions_mut().insert(Reparent(cx));
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        if self.wrapped.load(Ordering::Relaxed) == 0 {
            let found = tracing::dispatcher::get_default(|d| d.is::<OtelMarker>());
            self.wrapped
                .store(if found { 2 } else { 1 }, Ordering::Relaxed);
        }
        let (otel, guard) = if self.activated.load(Ordering::Relaxed) == 1 {
            // tracing-opentelemetry made the span's context current already (or, for a span it
            // does not see, left its parent's, which events then go to alike).
            let otel = OtelContext::map_current(|c| {
                let span = c.span();
                let sc = span.span_context();
                sc.is_valid().then(|| sc.span_id())
            });
            (otel, None)
        } else {
            let Some(span) = ctx.span(id) else {
                return;
            };
            let known = span.extensions().get::<Activation>().map(|a| a.0.clone());
            let cx = match known {
                Some(cx) => cx,
                None => match self.first_entry(id, &span) {
                    Some(activation) => {
                        let cx = activation.0.clone();
                        span.extensions_mut().insert(activation);
                        cx
                    }
                    None => OtelContext::map_current(|c| Some(c.clone())),
                },
            };
            match cx {
                Some(cx) if self.activated.load(Ordering::Relaxed) != 1 => {
                    (Some(cx.span().span_context().span_id()), Some(cx.attach()))
                }
                Some(cx) => (Some(cx.span().span_context().span_id()), None),
                None => (None, None),
            }
        };
        ENTERED.with(|e| {
            e.borrow_mut().push(Entered {
                id: id.clone(),
                otel,
                guard,
            })
        });
    }

    fn on_exit(&self, id: &Id, _ctx: Context<'_, S>) {
        let entry = ENTERED.with(|e| {
            let mut e = e.borrow_mut();
            let i = e.iter().rposition(|entry| entry.id == *id)?;
            Some(e.remove(i))
        });
        drop(entry);
    }

    fn event_enabled(&self, _event: &Event<'_>, _ctx: Context<'_, S>) -> bool {
        // Every layer is asked before any records the event: a decision `otel` makes from here
        // on is about this event (or one dispatched inside it, which has another address).
        DECIDED.with(|d| d.set((0, Decision::NoTracingSpan)));
        true
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if !event.is_contextual() {
            // An explicit parent (or none): tracing-opentelemetry's to record.
            return;
        }
        let decided = DECIDED.with(|d| {
            let (key, decision) = d.get();
            (key == event_key(event)).then_some(decision)
        });
        let tracing_span = match decided {
            // `otel` looked already, for this very event.
            Some(Decision::HandedOver) => {
                OtelContext::map_current(|cx| events::record(event, &cx.span()));
                return;
            }
            Some(Decision::Kept) => return,
            Some(Decision::NoTracingSpan) => None,
            None => match ctx.lookup_current() {
                None => None,
                Some(span) => match entered(&span.id()).map(|(id, _)| id) {
                    // Inside a tracing span of tracing-opentelemetry's, which records the
                    // event unless `otel` hands it over.
                    Some(id) if self.wrapped() => Some(id),
                    Some(_) => return,
                    None => None,
                },
            },
        };
        OtelContext::map_current(|cx| {
            let record = match tracing_span {
                Some(id) => innermost_is_other(cx, id),
                None => cx.has_active_span() && cx.span().is_recording(),
            };
            if record {
                events::record(event, &cx.span());
            }
        });
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
        let decision = match current_otel_id(&ctx) {
            None => Decision::NoTracingSpan,
            Some(id) if OtelContext::map_current(|cx| innermost_is_other(cx, id)) => {
                Decision::HandedOver
            }
            Some(_) => Decision::Kept,
        };
        DECIDED.with(|d| d.set((event_key(event), decision)));
        if decision != Decision::HandedOver {
            self.inner.on_event(event, ctx);
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
        } else if id == TypeId::of::<OtelMarker>() {
            Some(&OTEL_MARKER as *const OtelMarker as *const ())
        } else {
            // SAFETY: the inner layer answers for its own types, as `Layered` lets it.
            unsafe { self.inner.downcast_raw(id) }
        }
    }
}
