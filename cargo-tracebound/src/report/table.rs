use std::fmt::Write;

use crate::{Audit, Verdict};

/// Findings grouped by file, one line each, the fix under what is not carried.
pub fn table(audit: &Audit) -> String {
    let mut out = String::new();
    let kind_width = audit
        .findings
        .iter()
        .map(|f| f.kind.len())
        .max()
        .unwrap_or(0);
    let mut file = None;
    for f in &audit.findings {
        if file != Some(&f.file) {
            if file.is_some() {
                out.push('\n');
            }
            let _ = writeln!(out, "{}", f.file);
            file = Some(&f.file);
        }
        let verdict = match (&f.allowed, f.verdict) {
            (Some(_), _) => "allowed",
            (None, Verdict::Lost) => "LOST",
            (None, v) => v.as_str(),
        };
        let at = format!("{}:{}", f.line, f.column);
        let _ = writeln!(
            out,
            "  {at:<8} {:<kind_width$}  {verdict:<8} {}",
            f.kind, f.reason
        );
        let indent = 8 + kind_width + 15;
        if let Some(reason) = &f.allowed {
            let reason = if reason.is_empty() {
                "(no reason given)"
            } else {
                reason
            };
            let _ = writeln!(out, "{:indent$}allowed: {reason}", "");
        } else if !f.fix.is_empty() {
            let _ = writeln!(out, "{:indent$}fix: {}", "", f.fix);
        }
    }
    if !audit.problems.is_empty() {
        out.push_str("\nskipped\n");
        for p in &audit.problems {
            if p.line > 0 {
                let _ = writeln!(out, "  {}:{}: {}", p.file, p.line, p.message);
            } else {
                let _ = writeln!(out, "  {}: {}", p.file, p.message);
            }
        }
    }
    if !out.is_empty() {
        out.push('\n');
    }
    out.push_str(&super::summary(audit));
    out.push('\n');
    out
}
