use serde_json::{Value, json};

use crate::{Audit, Verdict};

const INFORMATION_URI: &str = "https://github.com/tracebound/tracebound#audit";

/// SARIF 2.1.0: one result per boundary that is lost or unknown, with `level` `error` or
/// `warning`, an in-source suppression where a comment allows it, and every skipped file as a
/// tool notification, so GitHub code scanning shows them on the lines.
pub fn sarif(audit: &Audit) -> String {
    let results: Vec<Value> = audit
        .findings
        .iter()
        .filter(|f| f.verdict != Verdict::Carried)
        .map(|f| {
            let mut result = json!({
                "ruleId": rule_id(f.verdict),
                "level": if f.verdict == Verdict::Lost { "error" } else { "warning" },
                "message": { "text": format!("{}: {}. Fix: {}.", f.kind, f.reason, f.fix) },
                "locations": [location(&f.file, f.line, f.column)],
                "properties": { "kind": f.kind, "fix": f.fix },
            });
            if let Some(reason) = &f.allowed {
                result["suppressions"] = json!([{ "kind": "inSource", "justification": reason }]);
            }
            result
        })
        .collect();
    let notifications: Vec<Value> = audit
        .problems
        .iter()
        .map(|p| {
            json!({
                "level": "warning",
                "message": { "text": format!("{} {}", p.file, p.message) },
                "locations": [location(&p.file, p.line.max(1), 1)],
            })
        })
        .collect();
    let root = format!("file://{}/", audit.root.display());
    let report = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "cargo-tracebound",
                    "version": env!("CARGO_PKG_VERSION"),
                    "informationUri": INFORMATION_URI,
                    "rules": [
                        rule(Verdict::Lost, "error", "The trace context is lost at this boundary",
                            "Nothing carries the OpenTelemetry context across this boundary: the spans on the other side start a new trace."),
                        rule(Verdict::Unknown, "warning", "The audit cannot see whether the trace context crosses this boundary",
                            "The future, closure, client or headers come from code the audit cannot see; check it by hand, or carry the context explicitly."),
                    ],
                }
            },
            "originalUriBaseIds": { "SRCROOT": { "uri": root } },
            "invocations": [{
                "executionSuccessful": audit.complete(),
                "toolExecutionNotifications": notifications,
            }],
            "results": results,
        }],
    });
    let mut text = serde_json::to_string_pretty(&report).unwrap_or_default();
    text.push('\n');
    text
}

fn rule_id(verdict: Verdict) -> String {
    format!("tracebound/{}", verdict.as_str())
}

fn rule(verdict: Verdict, level: &str, short: &str, full: &str) -> Value {
    json!({
        "id": rule_id(verdict),
        "name": format!("Context{}", if verdict == Verdict::Lost { "Lost" } else { "Unknown" }),
        "shortDescription": { "text": short },
        "fullDescription": { "text": full },
        "help": { "text": "Use tracebound::spawn, spawn_blocking, thread::spawn, bind or carry; annotate spawned fns with #[traced_task]; publish from #[traced_producer] and handle in #[traced_consumer]; inject HTTP requests and child processes. Allow a finding that is meant with `// tracebound: allow(lost) reason`." },
        "defaultConfiguration": { "level": level },
    })
}

fn location(file: &str, line: usize, column: usize) -> Value {
    json!({
        "physicalLocation": {
            "artifactLocation": { "uri": file, "uriBaseId": "SRCROOT" },
            "region": { "startLine": line, "startColumn": column },
        }
    })
}
