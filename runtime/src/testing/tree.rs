use opentelemetry::trace::{SpanId, SpanKind, Status, TraceId};
use opentelemetry_sdk::trace::SpanData;
use std::collections::HashSet;
use std::fmt;

/// Finished spans, viewed as the trees their parent ids make.
///
/// Lookups by name panic with the names that do exist, so a failing test says what it saw.
#[derive(Clone, Debug)]
pub struct TraceTree {
    spans: Vec<SpanData>,
}

impl TraceTree {
    /// A view over `spans`, sorted by start time.
    pub fn new(mut spans: Vec<SpanData>) -> Self {
        spans.sort_by_key(|s| s.start_time);
        TraceTree { spans }
    }

    /// Every span, by start time.
    pub fn spans(&self) -> &[SpanData] {
        &self.spans
    }

    /// The spans of one trace.
    pub fn trace(&self, trace_id: TraceId) -> TraceTree {
        TraceTree {
            spans: self
                .spans
                .iter()
                .filter(|s| s.span_context.trace_id() == trace_id)
                .cloned()
                .collect(),
        }
    }

    /// The distinct trace ids, in order of first appearance.
    pub fn trace_ids(&self) -> Vec<TraceId> {
        let mut seen = HashSet::new();
        self.spans
            .iter()
            .map(|s| s.span_context.trace_id())
            .filter(|id| seen.insert(*id))
            .collect()
    }

    /// The one span named `name`.
    ///
    /// # Panics
    /// If there is no such span or more than one.
    #[track_caller]
    pub fn span(&self, name: &str) -> &SpanData {
        match self.all(name).as_slice() {
            [one] => one,
            [] => panic!("no span named {name:?}; spans: {:?}", self.names()),
            many => panic!("{} spans named {name:?}; expected one", many.len()),
        }
    }

    /// The spans named `name`, by start time.
    pub fn all(&self, name: &str) -> Vec<&SpanData> {
        self.spans.iter().filter(|s| s.name == name).collect()
    }

    /// The span with this id.
    pub fn by_id(&self, span_id: SpanId) -> Option<&SpanData> {
        self.spans
            .iter()
            .find(|s| s.span_context.span_id() == span_id)
    }

    /// The parent of `span` among these spans; `None` for a root or a parent not recorded.
    pub fn parent_of(&self, span: &SpanData) -> Option<&SpanData> {
        if span.parent_span_id == SpanId::INVALID {
            return None;
        }
        self.spans.iter().find(|p| {
            p.span_context.span_id() == span.parent_span_id
                && p.span_context.trace_id() == span.span_context.trace_id()
        })
    }

    /// The children of `span`, by start time.
    pub fn children(&self, span: &SpanData) -> Vec<&SpanData> {
        self.spans
            .iter()
            .filter(|c| {
                c.parent_span_id == span.span_context.span_id()
                    && c.span_context.trace_id() == span.span_context.trace_id()
            })
            .collect()
    }

    /// Spans whose parent is not among these spans, by start time.
    pub fn roots(&self) -> Vec<&SpanData> {
        self.spans
            .iter()
            .filter(|s| self.parent_of(s).is_none())
            .collect()
    }

    /// Asserts that the span named `child` has the span named `parent` as its parent.
    #[track_caller]
    pub fn assert_parent(&self, child: &str, parent: &str) {
        let child_span = self.span(child);
        let parent_span = self.span(parent);
        assert_eq!(
            child_span.parent_span_id,
            parent_span.span_context.span_id(),
            "{child:?} should be a child of {parent:?}; the trace is:\n{self}"
        );
        assert_eq!(
            child_span.span_context.trace_id(),
            parent_span.span_context.trace_id(),
            "{child:?} and {parent:?} should share a trace id"
        );
    }

    /// Asserts that every span belongs to one trace that has exactly one root.
    #[track_caller]
    pub fn assert_single_trace(&self) {
        assert!(!self.spans.is_empty(), "no spans were recorded");
        let traces = self.trace_ids();
        assert_eq!(traces.len(), 1, "expected one trace, found {}:\n{self}", traces.len());
        let roots = self.roots();
        assert_eq!(roots.len(), 1, "expected one root span, found {}:\n{self}", roots.len());
    }

    /// The names of all spans, by start time.
    pub fn names(&self) -> Vec<&str> {
        self.spans.iter().map(|s| s.name.as_ref()).collect()
    }

    /// A text waterfall: one line per span, indented under its parent, with kind, offset from
    /// the trace's start, duration and status.
    pub fn render(&self) -> String {
        self.to_string()
    }

    fn render_span(
        &self,
        f: &mut fmt::Formatter<'_>,
        span: &SpanData,
        prefix: &str,
        last: bool,
        top: bool,
    ) -> fmt::Result {
        let origin = self.spans.first().map_or(span.start_time, |s| s.start_time);
        let offset = span.start_time.duration_since(origin).unwrap_or_default();
        let duration = span.end_time.duration_since(span.start_time).unwrap_or_default();
        let (branch, next) = match (top, last) {
            (true, _) => ("", String::new()),
            (false, true) => ("└─ ", format!("{prefix}   ")),
            (false, false) => ("├─ ", format!("{prefix}│  ")),
        };
        write!(
            f,
            "{prefix}{branch}{} [{}] +{:.3}ms {:.3}ms",
            span.name,
            kind(&span.span_kind),
            offset.as_secs_f64() * 1e3,
            duration.as_secs_f64() * 1e3,
        )?;
        if let Status::Error { description } = &span.status {
            write!(f, " ERROR: {description}")?;
        }
        if top {
            write!(f, "  trace={}", span.span_context.trace_id())?;
        }
        writeln!(f)?;
        let children = self.children(span);
        for (i, child) in children.iter().enumerate() {
            self.render_span(f, child, &next, i + 1 == children.len(), false)?;
        }
        Ok(())
    }
}

fn kind(kind: &SpanKind) -> &'static str {
    match kind {
        SpanKind::Client => "client",
        SpanKind::Server => "server",
        SpanKind::Producer => "producer",
        SpanKind::Consumer => "consumer",
        SpanKind::Internal => "internal",
    }
}

impl fmt::Display for TraceTree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for root in self.roots() {
            self.render_span(f, root, "", true, true)?;
        }
        Ok(())
    }
}
