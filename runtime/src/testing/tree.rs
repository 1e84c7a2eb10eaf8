use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry_sdk::trace::SpanData;
use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
        assert_eq!(
            traces.len(),
            1,
            "expected one trace, found {}:\n{self}",
            traces.len()
        );
        let roots = self.roots();
        assert_eq!(
            roots.len(),
            1,
            "expected one root span, found {}:\n{self}",
            roots.len()
        );
    }

    /// The names of all spans, by start time.
    pub fn names(&self) -> Vec<&str> {
        self.spans.iter().map(|s| s.name.as_ref()).collect()
    }

    /// The spans as lines of text, to hand them across a process boundary (a child process
    /// prints them, the parent reads them back with [`from_lines`](TraceTree::from_lines)).
    /// Keeps ids, parent, kind, times, status and name; not attributes, events or links.
    pub fn to_lines(&self) -> String {
        let mut out = String::new();
        for span in &self.spans {
            let nanos = |t: SystemTime| t.duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos();
            let status = match &span.status {
                Status::Error { description } => format!("error:{description}"),
                Status::Ok => "ok".to_owned(),
                Status::Unset => "unset".to_owned(),
            };
            let clean = |s: &str| s.replace(['\t', '\n', '\r'], " ");
            out.push_str(&format!(
                "span\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
                span.span_context.trace_id(),
                span.span_context.span_id(),
                span.parent_span_id,
                kind(&span.span_kind),
                nanos(span.start_time),
                nanos(span.end_time),
                clean(&status),
                clean(&span.name),
            ));
        }
        out
    }

    /// Spans written by [`to_lines`](TraceTree::to_lines); other lines are ignored.
    pub fn from_lines(text: &str) -> Vec<SpanData> {
        text.lines().filter_map(parse_line).collect()
    }

    /// A text waterfall: one line per span, indented under its parent, with its kind, a bar
    /// on the trace's time axis, its duration and an error status if any.
    ///
    /// ```text
    /// handle_order [server]           |██████████████████████████████|     2.319ms  trace a3a7…
    /// ├─ reserve_stock [internal]     | █████████████████████████████|     2.275ms
    /// └─ send_confirmation [internal] |  ████████████████████████████|     2.194ms
    /// ```
    pub fn render(&self) -> String {
        self.to_string()
    }

    /// [`render`](TraceTree::render), with each span's events (the `tracing` log events the
    /// tracing bridge records, an `exception`, a cancellation) listed under it, with their
    /// `level` attribute when they have one.
    ///
    /// ```text
    /// create_order [internal]          | ████████████████████████████ |     1.812ms
    /// │    · INFO creating the order
    /// └─ reserve_stock [internal]      |  ███████████                 |     0.311ms
    /// ```
    pub fn render_with_events(&self) -> String {
        let mut out = String::new();
        let _ = self.write(&mut out, true);
        out
    }

    /// One line per span, in tree order: its label (name and kind after the tree's branches)
    /// and the prefix that continues its branches on the lines below it.
    fn lines(&self) -> Vec<(String, String, &SpanData)> {
        fn walk<'a>(
            tree: &'a TraceTree,
            span: &'a SpanData,
            prefix: &str,
            branch: &str,
            out: &mut Vec<(String, String, &'a SpanData)>,
        ) {
            let next = match branch {
                "" => String::new(),
                "└─ " => format!("{prefix}   "),
                _ => format!("{prefix}│  "),
            };
            out.push((
                format!("{prefix}{branch}{} [{}]", span.name, kind(&span.span_kind)),
                next.clone(),
                span,
            ));
            let children = tree.children(span);
            for (i, child) in children.iter().enumerate() {
                let branch = if i + 1 == children.len() {
                    "└─ "
                } else {
                    "├─ "
                };
                walk(tree, child, &next, branch, out);
            }
        }
        let mut out = Vec::new();
        for root in self.roots() {
            walk(self, root, "", "", &mut out);
        }
        out
    }
}

const BAR_WIDTH: usize = 30;

impl fmt::Display for TraceTree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write(f, false)
    }
}

impl TraceTree {
    fn write(&self, f: &mut impl fmt::Write, events: bool) -> fmt::Result {
        let lines = self.lines();
        let (Some(start), Some(end)) = (
            self.spans.iter().map(|s| s.start_time).min(),
            self.spans.iter().map(|s| s.end_time).max(),
        ) else {
            return Ok(());
        };
        let total = end
            .duration_since(start)
            .unwrap_or_default()
            .as_secs_f64()
            .max(1e-9);
        let width = lines
            .iter()
            .map(|(l, _, _)| l.chars().count())
            .max()
            .unwrap_or(0);
        for (label, below, span) in lines {
            let from = span
                .start_time
                .duration_since(start)
                .unwrap_or_default()
                .as_secs_f64();
            let to = span
                .end_time
                .duration_since(start)
                .unwrap_or_default()
                .as_secs_f64();
            let first = ((from / total) * BAR_WIDTH as f64).floor() as usize;
            let last =
                (((to / total) * BAR_WIDTH as f64).ceil() as usize).clamp(first + 1, BAR_WIDTH);
            let first = first.min(BAR_WIDTH - 1);
            let bar: String = (0..BAR_WIDTH)
                .map(|i| {
                    if (first..last).contains(&i) {
                        '█'
                    } else {
                        ' '
                    }
                })
                .collect();
            let pad = width - label.chars().count();
            write!(f, "{label}{:pad$} |{bar}| {:>9.3}ms", "", (to - from) * 1e3)?;
            match &span.status {
                Status::Error { description } if description.is_empty() => write!(f, "  ERROR")?,
                Status::Error { description } => write!(f, "  ERROR: {description}")?,
                _ => {}
            }
            if span.parent_span_id == SpanId::INVALID || self.parent_of(span).is_none() {
                write!(f, "  trace {}", span.span_context.trace_id())?;
            }
            writeln!(f)?;
            if events {
                let branch = if self.children(span).is_empty() {
                    ' '
                } else {
                    '│'
                };
                for event in span.events.iter() {
                    let level = event
                        .attributes
                        .iter()
                        .find(|kv| kv.key.as_str() == "level")
                        .map(|kv| format!("{} ", kv.value))
                        .unwrap_or_default();
                    writeln!(f, "{below}{branch}    · {level}{}", event.name)?;
                }
            }
        }
        Ok(())
    }
}

fn parse_line(line: &str) -> Option<SpanData> {
    let mut parts = line.splitn(9, '\t');
    if parts.next()? != "span" {
        return None;
    }
    let trace_id = TraceId::from_hex(parts.next()?).ok()?;
    let span_id = SpanId::from_hex(parts.next()?).ok()?;
    let parent_span_id = SpanId::from_hex(parts.next()?).ok()?;
    let span_kind = match parts.next()? {
        "client" => SpanKind::Client,
        "server" => SpanKind::Server,
        "producer" => SpanKind::Producer,
        "consumer" => SpanKind::Consumer,
        _ => SpanKind::Internal,
    };
    let time = |nanos: &str| -> Option<SystemTime> {
        let nanos: u64 = nanos.parse().ok()?;
        Some(UNIX_EPOCH + Duration::from_nanos(nanos))
    };
    let start_time = time(parts.next()?)?;
    let end_time = time(parts.next()?)?;
    let status = match parts.next()? {
        "ok" => Status::Ok,
        "unset" => Status::Unset,
        other => Status::error(other.strip_prefix("error:").unwrap_or(other).to_owned()),
    };
    let name = parts.next()?.to_owned();
    Some(SpanData {
        span_context: SpanContext::new(
            trace_id,
            span_id,
            TraceFlags::SAMPLED,
            false,
            TraceState::NONE,
        ),
        parent_span_id,
        parent_span_is_remote: false,
        span_kind,
        name: Cow::Owned(name),
        start_time,
        end_time,
        attributes: Vec::new(),
        dropped_attributes_count: 0,
        events: Default::default(),
        links: Default::default(),
        status,
        instrumentation_scope: Default::default(),
    })
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
