//! What a traced call carries into its body, and how a tracer puts a new span there.

use super::Scope;
use crate::globals::Tracer;
use crate::propagation::RANDOM_TRACE_ID_FLAG;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::{
    Span, SpanBuilder, SpanContext, Status, TraceContextExt, TraceFlags, TraceState, Tracer as _,
};
use opentelemetry::{Context, ContextGuard, KeyValue};

/// The context a traced call's body runs in, and whether the call owns a recording span there
/// that it must end.
#[derive(Clone, Debug)]
pub struct Started {
    /// `None` when there is nothing to carry: no provider is installed and the call was made
    /// outside any trace.
    pub(crate) cx: Option<Context>,
    pub(crate) live: bool,
}

impl Started {
    /// A call that carries nothing.
    pub(crate) const NOTHING: Started = Started {
        cx: None,
        live: false,
    };

    /// The context holding the span this call must end, if it owns a recording one.
    #[inline]
    pub(crate) fn live_span(&self) -> Option<&Context> {
        self.cx.as_ref().filter(|_| self.live)
    }

    /// Attaches the call's context for a poll, or for a synchronous body.
    ///
    /// A call that carries nothing (no provider, called outside any trace) attaches nothing:
    /// its body runs in the context of whatever polls it.
    #[inline]
    pub(crate) fn attach(&self) -> Option<ContextGuard> {
        self.cx.clone().map(Context::attach)
    }

    /// `span`, just started under `parent`, in `base`.
    #[inline]
    fn with_span<S: Span + Send + Sync + 'static>(
        base: &Context,
        parent: &Context,
        span: S,
    ) -> Started {
        let live = span.is_recording();
        let random = lost_random_flag(parent, span.span_context());
        // A span the sampler dropped records nothing: its span context alone parents what the
        // body starts, without boxing the span (a trace state would have to be copied).
        let cx = if !live && *span.span_context().trace_state() == TraceState::NONE {
            let sc = span.span_context();
            let sc = match random {
                false => sc.clone(),
                true => with_random_flag(sc),
            };
            base.with_remote_span_context(sc)
        } else if random {
            base.with_span(RandomFlag::new(span))
        } else {
            base.with_span(span)
        };
        Started { cx: Some(cx), live }
    }

    /// No span was started: `base` as it is, or with no span for a new root; nothing if it
    /// carries nothing.
    #[inline]
    pub(crate) fn without_span(base: &Context, root: bool) -> Started {
        if carries_nothing(base) {
            Started::NOTHING
        } else {
            Started::carrying(base, root)
        }
    }

    /// No span was started for a call made in the current context. The common case, nothing to
    /// carry, only asks the current context a yes-or-no question.
    #[inline]
    pub(crate) fn in_current_without_span(root: bool) -> Started {
        if Context::map_current(carries_nothing) {
            Started::NOTHING
        } else {
            Context::map_current(|current| Started::carrying(current, root))
        }
    }

    /// `base`, which carries something, and no new span: as it is, or with no span for a new
    /// root.
    #[inline]
    fn carrying(base: &Context, root: bool) -> Started {
        let cx = if root {
            base.with_remote_span_context(SpanContext::empty_context())
        } else {
            base.clone()
        };
        Started {
            cx: Some(cx),
            live: false,
        }
    }
}

/// Whether `cx` holds nothing a traced call carries: no valid span (a span from
/// OpenTelemetry's no-op tracer, which an application without a provider makes, has an
/// invalid one and continues no trace), no baggage, and telemetry not suppressed. Other values
/// stored in a context with `Context::with_value` are carried only together with one of those.
#[inline]
pub(crate) fn carries_nothing(cx: &Context) -> bool {
    // `has_active_span` first: the common empty context answers without the span lookup.
    (!cx.has_active_span() || !cx.span().span_context().is_valid())
        && !cx.is_telemetry_suppressed()
        && cx.baggage().is_empty()
}

impl Tracer {
    /// Starts a span in `base`: a child of `base`'s span, or with `root` of none (a new trace).
    /// `base`'s other entries (baggage) stay in the returned context either way.
    #[inline]
    pub(crate) fn start(
        &self,
        scope: &Scope,
        builder: impl FnOnce() -> SpanBuilder,
        base: &Context,
        root: bool,
    ) -> Started {
        let empty;
        let parent = if root {
            empty = Context::new();
            &empty
        } else {
            base
        };
        match self {
            #[cfg(feature = "sdk")]
            Tracer::Sdk(tracer) if parent.span().span_context().is_sampled() => {
                // A child of a sampled span is recorded, all but certainly: the span moves
                // into the context untouched (looking at it first would copy the whole span,
                // see BENCHMARKS.md), and whether it records is read from there.
                let cx = base.with_span(tracer.build_with_context(builder(), parent));
                let span = cx.span();
                let live = span.span_context().is_sampled() || span.is_recording();
                if !live && lost_random_flag(parent, span.span_context()) {
                    // Dropped by a sampler that does not follow its parent: nothing to end.
                    let sc = with_random_flag(span.span_context());
                    return Started {
                        cx: Some(base.with_remote_span_context(sc)),
                        live,
                    };
                }
                Started { cx: Some(cx), live }
            }
            #[cfg(feature = "sdk")]
            Tracer::Sdk(tracer) => {
                Started::with_span(base, parent, tracer.build_with_context(builder(), parent))
            }
            Tracer::Boxed(tracer) => {
                let span = tracer.build_with_context(builder(), parent);
                if answers_like_noop(&span, parent) {
                    {
                        // A local parent span: another provider's (a remote one, extracted from a
                        // carrier, proves nothing).
                        let span = parent.span();
                        let sc = span.span_context();
                        crate::diagnostics::no_provider(sc.is_valid() && !sc.is_remote());
                    }
                    scope.found_noop();
                    return Started::without_span(base, root);
                }
                Started::with_span(base, parent, span)
            }
        }
    }
}

/// Whether `sc`, a span just started under `parent`, has a random trace id (W3C Trace Context
/// Level 2) that its flags do not show. The SDK keeps a parent's flags on the spans it records,
/// but sets none on a span its sampler drops, nor on a trace id it makes.
#[inline]
fn lost_random_flag(parent: &Context, sc: &SpanContext) -> bool {
    if !sc.is_valid() || sc.trace_flags().to_u8() & RANDOM_TRACE_ID_FLAG != 0 {
        return false;
    }
    let span = parent.span();
    let psc = span.span_context();
    if psc.is_valid() && psc.trace_id() == sc.trace_id() {
        psc.trace_flags().to_u8() & RANDOM_TRACE_ID_FLAG != 0
    } else {
        crate::propagation::random_trace_ids()
    }
}

fn with_random_flag(sc: &SpanContext) -> SpanContext {
    SpanContext::new(
        sc.trace_id(),
        sc.span_id(),
        TraceFlags::new(sc.trace_flags().to_u8() | RANDOM_TRACE_ID_FLAG),
        sc.is_remote(),
        sc.trace_state().clone(),
    )
}

/// A span whose span context shows the random flag its tracer left out; everything else is the
/// span's own.
#[derive(Debug)]
struct RandomFlag<S> {
    span: S,
    sc: SpanContext,
}

impl<S: Span> RandomFlag<S> {
    fn new(span: S) -> Self {
        let sc = with_random_flag(span.span_context());
        RandomFlag { span, sc }
    }
}

impl<S: Span> Span for RandomFlag<S> {
    fn add_event_with_timestamp<T>(
        &mut self,
        name: T,
        timestamp: std::time::SystemTime,
        attributes: Vec<KeyValue>,
    ) where
        T: Into<std::borrow::Cow<'static, str>>,
    {
        self.span
            .add_event_with_timestamp(name, timestamp, attributes);
    }

    fn span_context(&self) -> &SpanContext {
        &self.sc
    }

    fn is_recording(&self) -> bool {
        self.span.is_recording()
    }

    fn set_attribute(&mut self, attribute: KeyValue) {
        self.span.set_attribute(attribute);
    }

    fn set_attributes(&mut self, attributes: impl IntoIterator<Item = KeyValue>) {
        self.span.set_attributes(attributes);
    }

    fn set_status(&mut self, status: Status) {
        self.span.set_status(status);
    }

    fn update_name<T>(&mut self, new_name: T)
    where
        T: Into<std::borrow::Cow<'static, str>>,
    {
        self.span.update_name(new_name);
    }

    fn add_link(&mut self, span_context: SpanContext, attributes: Vec<KeyValue>) {
        self.span.add_link(span_context, attributes);
    }

    fn end_with_timestamp(&mut self, timestamp: std::time::SystemTime) {
        self.span.end_with_timestamp(timestamp);
    }
}

/// Whether a tracer answered like OpenTelemetry's no-op one, which hands back its parent's span
/// context (an invalid one for no parent): an SDK gives every span a new id, even one it drops.
/// Under a parent with telemetry suppressed the SDK answers with an invalid span context too,
/// so such a parent proves nothing.
fn answers_like_noop<S: Span>(span: &S, parent: &Context) -> bool {
    !span.is_recording()
        && !parent.is_telemetry_suppressed()
        && span.span_context().span_id() == parent.span().span_context().span_id()
}
