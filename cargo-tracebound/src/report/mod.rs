//! The report formats, each a renderer over the same [`Audit`].

mod json;
mod sarif;
mod table;

pub use json::json;
pub use sarif::sarif;
pub use table::table;

use crate::{Audit, Verdict};

/// `12 boundaries: 9 carried, 2 lost, 1 unknown; 1 allowed by a comment`.
pub fn summary(audit: &Audit) -> String {
    let mut line = format!(
        "{} boundar{}: {} carried, {} lost, {} unknown",
        audit.findings.len(),
        if audit.findings.len() == 1 {
            "y"
        } else {
            "ies"
        },
        audit.count(Verdict::Carried),
        audit.count(Verdict::Lost),
        audit.count(Verdict::Unknown),
    );
    if audit.allowed() > 0 {
        line.push_str(&format!("; {} allowed by a comment", audit.allowed()));
    }
    let files = if audit.files == 1 { "file" } else { "files" };
    line.push_str(&format!("; {} {files}, {} lines", audit.files, audit.lines));
    if !audit.complete() {
        line.push_str(&format!("; incomplete: {} skipped", audit.problems.len()));
    }
    line
}
