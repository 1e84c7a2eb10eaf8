//! `// tracebound: allow(lost) reason` on a finding's line, or alone on the line above it.

use crate::{Finding, Verdict};

const MARKER: &str = "tracebound: allow(";

pub(crate) fn apply(text: &str, findings: &mut [Finding]) {
    let lines: Vec<&str> = text.lines().collect();
    for finding in findings.iter_mut() {
        if finding.verdict == Verdict::Carried {
            continue;
        }
        let here = lines.get(finding.line.wrapping_sub(1)).copied();
        let above = lines
            .get(finding.line.wrapping_sub(2))
            .copied()
            .filter(|l| l.trim_start().starts_with("//"));
        for line in [here, above].into_iter().flatten() {
            if let Some((verdicts, reason)) = allow(line)
                && verdicts.contains(&finding.verdict)
            {
                finding.allowed = Some(reason);
                break;
            }
        }
    }
}

/// The verdicts a comment allows, and its reason.
fn allow(line: &str) -> Option<(Vec<Verdict>, String)> {
    let comment = &line[line.find("//")?..];
    let rest = &comment[comment.find(MARKER)? + MARKER.len()..];
    let (list, reason) = rest.split_once(')')?;
    // A later comment on the line is not part of the reason.
    let reason = reason.split("//").next().unwrap_or_default();
    let verdicts = list
        .split(',')
        .filter_map(|v| Verdict::parse(v.trim()))
        .collect();
    Some((verdicts, reason.trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_verdicts_and_the_reason() {
        let (verdicts, reason) =
            allow("    spawn(x); // tracebound: allow(lost, unknown) a new trace per job").unwrap();
        assert_eq!(verdicts, [Verdict::Lost, Verdict::Unknown]);
        assert_eq!(reason, "a new trace per job");
        assert!(allow("let s = \"tracebound: allow(lost)\";").is_none());
        assert_eq!(
            allow("// tracebound: allow(carried)").unwrap().0,
            [Verdict::Carried]
        );
        assert!(allow("// tracebound: allow(lost").is_none());
        assert_eq!(
            allow("f(); // tracebound: allow(lost) why // other")
                .unwrap()
                .1,
            "why"
        );
    }
}
