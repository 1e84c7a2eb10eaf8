//! Which files are audited: the workspace from `cargo metadata`, each member's `.rs` files.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::{Options, Problem};

/// Why no audit could be made at all.
#[derive(Debug)]
pub enum Error {
    /// `cargo metadata` failed: no manifest, a malformed one, no `cargo` on the path.
    Metadata(String),
    /// `-p` named a package that is not a workspace member.
    UnknownPackage { name: String, members: Vec<String> },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Metadata(message) => write!(f, "cargo metadata failed: {message}"),
            Error::UnknownPackage { name, members } => write!(
                f,
                "package `{name}` is not a member of this workspace (members: {})",
                members.join(", ")
            ),
        }
    }
}

impl std::error::Error for Error {}

pub(crate) struct Workspace {
    pub root: PathBuf,
    pub packages: Vec<Package>,
    pub problems: Vec<Problem>,
}

pub(crate) struct Package {
    /// Reported on; the others only contribute their functions.
    pub selected: bool,
    /// Its targets' root files (`src/lib.rs`, `src/main.rs`, each example, test, bench and
    /// build script): the audit reads these and the modules they declare, as rustc does.
    pub roots: Vec<SourcePath>,
}

#[derive(Clone)]
pub(crate) struct SourcePath {
    pub path: PathBuf,
    /// Relative to the workspace root, `/`-separated.
    pub name: String,
}

pub(crate) fn load(options: &Options) -> Result<Workspace, Error> {
    let mut command = cargo_metadata::MetadataCommand::new();
    command.no_deps();
    if let Some(path) = &options.manifest_path {
        command.manifest_path(path);
    }
    let metadata = command.exec().map_err(|e| Error::Metadata(e.to_string()))?;
    let root = metadata.workspace_root.clone().into_std_path_buf();
    let members: Vec<_> = metadata.workspace_packages();
    for name in &options.packages {
        if !members.iter().any(|p| p.name.as_str() == name) {
            return Err(Error::UnknownPackage {
                name: name.clone(),
                members: members.iter().map(|p| p.name.to_string()).collect(),
            });
        }
    }
    let mut problems = Vec::new();
    let packages = members
        .iter()
        .map(|package| {
            let dir = package
                .manifest_path
                .parent()
                .map(|d| d.as_std_path().to_path_buf())
                .unwrap_or_else(|| root.clone());
            // Only for what cannot be a module: a `.rs` path that is not UTF-8.
            unreadable_paths(&root, &dir, &mut problems);
            let mut roots: Vec<SourcePath> = package
                .targets
                .iter()
                .map(|t| t.src_path.as_std_path())
                .map(|path| SourcePath {
                    name: relative(&root, path),
                    path: path.to_path_buf(),
                })
                .collect();
            roots.sort_by(|a, b| a.name.cmp(&b.name));
            roots.dedup_by(|a, b| a.path == b.path);
            Package {
                selected: options.packages.is_empty()
                    || options.packages.iter().any(|n| n == package.name.as_str()),
                roots,
            }
        })
        .collect();
    Ok(Workspace {
        root,
        packages,
        problems,
    })
}

/// Reports the `.rs` paths under a package's directory that are not UTF-8 (no `mod` can name
/// them, so they are never read) and the directories that cannot be read, leaving out build
/// output, hidden directories and nested packages.
fn unreadable_paths(root: &Path, dir: &Path, problems: &mut Vec<Problem>) {
    let walk = walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|entry| {
            if entry.depth() == 0 || !entry.file_type().is_dir() {
                return true;
            }
            let name = entry.file_name().to_string_lossy();
            !(name == "target" || name.starts_with('.') || entry.path().join("Cargo.toml").exists())
        });
    for entry in walk {
        match entry {
            Ok(entry) => {
                let path = entry.path();
                if path.extension().is_some_and(|e| e == "rs") && path.to_str().is_none() {
                    problems.push(problem(root, path, "its path is not UTF-8; skipped".into()));
                }
            }
            Err(e) => {
                let path = e.path().unwrap_or(dir);
                problems.push(problem(root, path, format!("cannot be read: {e}")));
            }
        }
    }
}

pub(crate) fn relative(root: &Path, path: &Path) -> String {
    let relative = path.strip_prefix(root).unwrap_or(path);
    relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

fn problem(root: &Path, path: &Path, message: String) -> Problem {
    Problem {
        file: relative(root, path),
        line: 0,
        message,
    }
}
