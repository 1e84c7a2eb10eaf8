//! `cargo tracebound audit`: every place in a crate where execution leaves the current thread or
//! process — a spawned task, a blocking closure, a thread, a published or consumed message, an
//! HTTP request, a child process — and whether the OpenTelemetry context crosses it.
//!
//! The audit reads sources with `syn`; it does not compile them. It resolves `use` imports,
//! `let` bindings in the same function and the functions of the whole workspace by name, and
//! says `unknown` where that is not enough to decide.
//!
//! ```no_run
//! let options = cargo_tracebound::Options {
//!     manifest_path: Some("Cargo.toml".into()),
//!     ..Default::default()
//! };
//! let audit = cargo_tracebound::audit(&options)?;
//! print!("{}", cargo_tracebound::report::table(&audit));
//! # Ok::<(), cargo_tracebound::Error>(())
//! ```

mod analysis;
mod boundary;
mod index;
pub mod report;
mod source;
mod suppress;
mod workspace;

use std::fmt;
use std::path::PathBuf;

pub use workspace::Error;

/// What is audited.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The `Cargo.toml` of the package or workspace; the one `cargo` finds from the current
    /// directory when `None`.
    pub manifest_path: Option<PathBuf>,
    /// Workspace members to report on (`-p`); all of them when empty. Functions of every member
    /// are known either way.
    pub packages: Vec<String>,
}

/// Whether the trace context crosses a boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    /// Something carries the context across: tracebound, a traced fn, or code written by hand.
    Carried,
    /// Nothing carries it: the other side starts a new trace.
    Lost,
    /// The audit cannot see what crosses (a future passed in from elsewhere, a fn outside the
    /// workspace, a macro it cannot expand).
    Unknown,
}

impl Verdict {
    /// `carried`, `lost` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Carried => "carried",
            Verdict::Lost => "lost",
            Verdict::Unknown => "unknown",
        }
    }

    /// Parses `carried`, `lost` or `unknown`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "carried" => Some(Verdict::Carried),
            "lost" => Some(Verdict::Lost),
            "unknown" => Some(Verdict::Unknown),
            _ => None,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One boundary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Relative to the workspace root, with `/` separators.
    pub file: String,
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    /// What crosses: `tokio::spawn`, `lapin basic_publish`, `Command::spawn`, …
    pub kind: &'static str,
    pub verdict: Verdict,
    /// Why the audit decided so.
    pub reason: String,
    /// What to change; empty when carried.
    pub fix: String,
    /// The reason given in a `// tracebound: allow(…)` comment that covers this finding.
    pub allowed: Option<String>,
}

/// A file the audit had to skip, or a part of one it could not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    /// 1-based; 0 when the whole file was skipped before parsing.
    pub line: usize,
    pub message: String,
}

/// The result of [`audit`].
#[derive(Debug, Clone, Default)]
pub struct Audit {
    /// The workspace root the file names are relative to.
    pub root: PathBuf,
    /// Sorted by file, line and column.
    pub findings: Vec<Finding>,
    /// Files skipped and macros not expanded; the audit is complete when this is empty.
    pub problems: Vec<Problem>,
    /// Files read and parsed.
    pub files: usize,
    /// Lines in those files.
    pub lines: usize,
}

impl Audit {
    /// Whether every file was read and parsed.
    pub fn complete(&self) -> bool {
        self.problems.is_empty()
    }

    /// Findings with `verdict` that no comment allows.
    pub fn count(&self, verdict: Verdict) -> usize {
        self.findings
            .iter()
            .filter(|f| f.verdict == verdict && f.allowed.is_none())
            .count()
    }

    /// Findings allowed by a `// tracebound: allow(…)` comment.
    pub fn allowed(&self) -> usize {
        self.findings.iter().filter(|f| f.allowed.is_some()).count()
    }
}

/// Stack for parsing and walking: syn and the walk recurse once per level of nesting, and
/// generated code nests deeply (a thousand parentheses, a 50,000-term sum). Reserved, not
/// committed: only what a file needs is touched.
const STACK: usize = 1 << 30;

/// Audits the selected packages of a workspace.
pub fn audit(options: &Options) -> Result<Audit, Error> {
    let workspace = workspace::load(options)?;
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("tracebound-audit".into())
            .stack_size(STACK)
            .spawn_scoped(scope, || analysis::run(workspace))
            .map_err(|e| Error::Metadata(format!("cannot start the audit thread: {e}")))?
            .join()
            .map_err(|panic| std::panic::resume_unwind(panic))
    })
}
