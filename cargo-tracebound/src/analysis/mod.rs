//! The audit's two passes: index every function of the workspace, then judge every boundary of
//! the selected packages.

pub(crate) mod carry;
pub(crate) mod expr;
mod modules;

use std::collections::HashSet;

use crate::boundary::Auditor;
use crate::index::Index;
use crate::source::SourceFile;
use crate::workspace::{SourcePath, Workspace};
use crate::{Audit, suppress};

pub(crate) fn run(workspace: Workspace) -> Audit {
    let mut problems = workspace.problems;
    let mut files = Vec::new();
    let mut seen = HashSet::new();
    for package in &workspace.packages {
        // Each target's root, then the modules it declares, depth first.
        let mut queue: Vec<(SourcePath, bool)> = package
            .roots
            .iter()
            .rev()
            .map(|r| (r.clone(), true))
            .collect();
        while let Some((path, is_root)) = queue.pop() {
            let key = std::fs::canonicalize(&path.path).unwrap_or_else(|_| path.path.clone());
            if !seen.insert(key) {
                continue;
            }
            match SourceFile::read(&path, package.selected, is_root) {
                Ok(file) => {
                    let (children, missing) = modules::declared(&workspace.root, &path.path, &file);
                    queue.extend(children.into_iter().rev().map(|c| (c, false)));
                    problems.extend(missing.into_iter().filter(|_| package.selected));
                    files.push(file);
                }
                Err(problem) if package.selected => problems.push(problem),
                // Only the selected packages are reported on.
                Err(_) => {}
            }
        }
    }
    let index = Index::build(&files);
    let mut audit = Audit {
        root: workspace.root,
        ..Audit::default()
    };
    for file in files.iter().filter(|f| f.selected) {
        let mut auditor = Auditor::new(file, &index);
        auditor.audit();
        let mut findings = auditor.findings;
        suppress::apply(&file.text, &mut findings, &auditor.anchors);
        audit.findings.extend(findings);
        audit.files += 1;
        audit.lines += file.text.lines().count();
    }
    audit
        .findings
        .sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
    audit.findings.dedup();
    problems.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    audit.problems = problems;
    audit
}
