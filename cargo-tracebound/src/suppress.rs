//! `// tracebound: allow(lost) reason` on a finding's line, or alone on the line above it.

use crate::{Finding, Verdict};

const MARKER: &str = "tracebound: allow(";

/// `anchors[i]` is the line where finding `i`'s whole expression starts: a comment above a
/// formatted chain is above that line, not above the method the finding points at.
pub(crate) fn apply(text: &str, findings: &mut [Finding], anchors: &[usize]) {
    let lines: Vec<&str> = text.lines().collect();
    let line = |n: usize| lines.get(n.wrapping_sub(1)).copied();
    let comment_above =
        |n: usize| line(n.wrapping_sub(1)).filter(|l| l.trim_start().starts_with("//"));
    for (finding, &anchor) in findings.iter_mut().zip(anchors) {
        if finding.verdict == Verdict::Carried {
            continue;
        }
        let candidates = [
            line(finding.line),
            comment_above(finding.line),
            line(anchor),
            comment_above(anchor),
        ];
        for line in candidates.into_iter().flatten() {
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
