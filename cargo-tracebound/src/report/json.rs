use serde_json::{Value, json};

use crate::Audit;

/// `{"boundaries": [{file, line, column, kind, verdict, reason, fix, allowed}], "skipped": […],
/// "summary": {…}}`.
pub fn json(audit: &Audit) -> String {
    let boundaries: Vec<Value> = audit
        .findings
        .iter()
        .map(|f| {
            json!({
                "file": f.file,
                "line": f.line,
                "column": f.column,
                "kind": f.kind,
                "verdict": f.verdict.as_str(),
                "reason": f.reason,
                "fix": f.fix,
                "allowed": f.allowed,
            })
        })
        .collect();
    let skipped: Vec<Value> = audit
        .problems
        .iter()
        .map(|p| json!({ "file": p.file, "line": p.line, "message": p.message }))
        .collect();
    let report = json!({
        "boundaries": boundaries,
        "skipped": skipped,
        "summary": {
            "boundaries": audit.findings.len(),
            "carried": audit.count(crate::Verdict::Carried),
            "lost": audit.count(crate::Verdict::Lost),
            "unknown": audit.count(crate::Verdict::Unknown),
            "allowed": audit.allowed(),
            "files": audit.files,
            "lines": audit.lines,
            "complete": audit.complete(),
        },
    });
    let mut text = serde_json::to_string_pretty(&report).unwrap_or_default();
    text.push('\n');
    text
}
