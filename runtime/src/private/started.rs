//! What a traced call carries into its body, and how a tracer puts a new span there.

use super::Scope;
use crate::globals::Tracer;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::{
    Span, SpanBuilder, SpanContext, TraceContextExt, TraceState, Tracer as _,
};
use opentelemetry::{Context, ContextGuard};

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
    const NOTHING: Started = Started {
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

    /// `span`, just started, in `base`.
    #[inline]
    fn with_span<S: Span + Send + Sync + 'static>(base: &Context, span: S) -> Started {
        let live = span.is_recording();
        // A span the sampler dropped records nothing: its span context alone parents what the
        // body starts, without boxing the span (a trace state would have to be copied).
        let cx = if !live && *span.span_context().trace_state() == TraceState::NONE {
            base.with_remote_span_context(span.span_context().clone())
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
fn carries_nothing(cx: &Context) -> bool {
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
                Started { cx: Some(cx), live }
            }
            #[cfg(feature = "sdk")]
            Tracer::Sdk(tracer) => {
                Started::with_span(base, tracer.build_with_context(builder(), parent))
            }
            Tracer::Boxed(tracer) => {
                let span = tracer.build_with_context(builder(), parent);
                if answers_like_noop(&span, parent) {
                    crate::diagnostics::no_provider();
                    scope.found_noop();
                    return Started::without_span(base, root);
                }
                Started::with_span(base, span)
            }
        }
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
