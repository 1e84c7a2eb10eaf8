//! One parsed file and the names its `use` items bring in.

use std::collections::HashMap;

use syn::punctuated::Punctuated;
use syn::visit::Visit;

use crate::Problem;
use crate::workspace::SourcePath;

pub(crate) struct SourceFile {
    pub name: String,
    pub text: String,
    pub ast: syn::File,
    pub imports: Imports,
    /// The arguments of every macro that parse as expressions or statements, by where the
    /// macro starts.
    pub macros: HashMap<(usize, usize), MacroBody>,
    /// Selected for the report (not only indexed).
    pub selected: bool,
}

impl SourceFile {
    /// Reads and parses a file; a file that is not UTF-8 or not Rust is a problem, not a panic.
    pub fn read(source: &SourcePath, selected: bool) -> Result<Self, Problem> {
        let skipped = |line, message: String| Problem {
            file: source.name.clone(),
            line,
            message,
        };
        let bytes = std::fs::read(&source.path)
            .map_err(|e| skipped(0, format!("cannot be read: {e}; skipped")))?;
        let text = String::from_utf8(bytes).map_err(|e| {
            skipped(
                0,
                format!(
                    "is not UTF-8 (invalid byte at offset {}); skipped",
                    e.utf8_error().valid_up_to()
                ),
            )
        })?;
        let ast = syn::parse_file(&text).map_err(|e| {
            let at = e.span().start();
            skipped(at.line, format!("does not parse: {e}; skipped"))
        })?;
        let mut imports = Imports::default();
        imports.visit_file(&ast);
        let mut macros = Macros::default();
        macros.visit_file(&ast);
        Ok(SourceFile {
            name: source.name.clone(),
            text,
            ast,
            imports,
            macros: macros.0,
            selected,
        })
    }

    /// Whether the file names a crate at all (its `use` items or any path in its text).
    pub fn mentions(&self, krate: &str) -> bool {
        self.imports.roots.contains_key(krate) || self.text.contains(&format!("{krate}::"))
    }
}

/// Every name the file's `use` items bring in, wherever they are in the file.
#[derive(Default)]
pub(crate) struct Imports {
    /// `spawn` → `tokio::task::spawn`; a name imported twice keeps its first path.
    names: HashMap<String, Vec<String>>,
    /// Prefixes of glob imports: `use tokio::task::*` → `tokio::task`.
    globs: Vec<Vec<String>>,
    /// First segments of every import: the crates the file uses.
    roots: HashMap<String, ()>,
}

impl Imports {
    /// The full path a path written in this file stands for, as far as its imports say.
    pub fn resolve(&self, path: &syn::Path) -> Vec<String> {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        self.resolve_segments(segments)
    }

    pub fn resolve_segments(&self, mut segments: Vec<String>) -> Vec<String> {
        let Some(first) = segments.first() else {
            return segments;
        };
        if let Some(full) = self.names.get(first) {
            let mut resolved = full.clone();
            resolved.extend(segments.drain(1..));
            return resolved;
        }
        segments
    }

    /// Glob prefixes that a bare name might come from.
    pub fn globs(&self) -> &[Vec<String>] {
        &self.globs
    }

    fn add(&mut self, prefix: &[String], tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                let mut prefix = prefix.to_vec();
                prefix.push(p.ident.to_string());
                self.add(&prefix, &p.tree);
            }
            syn::UseTree::Name(n) => self.name(prefix, &n.ident, &n.ident),
            syn::UseTree::Rename(r) => self.name(prefix, &r.ident, &r.rename),
            syn::UseTree::Glob(_) => {
                self.root(prefix);
                self.globs.push(prefix.to_vec());
            }
            syn::UseTree::Group(g) => {
                for tree in &g.items {
                    self.add(prefix, tree);
                }
            }
        }
    }

    fn name(&mut self, prefix: &[String], ident: &syn::Ident, alias: &syn::Ident) {
        let mut full = prefix.to_vec();
        let ident = ident.to_string();
        // `use tokio::task::{self}` imports the module itself.
        if ident != "self" {
            full.push(ident);
        }
        self.root(&full);
        let alias = if alias == "self" {
            full.last().cloned().unwrap_or_default()
        } else {
            alias.to_string()
        };
        if alias != "_" {
            self.names.entry(alias).or_insert(full);
        }
    }

    fn root(&mut self, path: &[String]) {
        if let Some(first) = path.first() {
            self.roots.insert(first.clone(), ());
        }
    }
}

impl<'ast> Visit<'ast> for Imports {
    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        self.add(&[], &item.tree);
    }
}

/// A macro's arguments, parsed.
pub(crate) enum MacroBody {
    /// `println!("{}", x)`, `vec![a, b]`, `assert!(f(x))`.
    Exprs(Punctuated<syn::Expr, syn::Token![,]>),
    /// `thread_local! { … }`-like bodies that are statements.
    Stmts(Vec<syn::Stmt>),
}

#[derive(Default)]
struct Macros(HashMap<(usize, usize), MacroBody>);

impl<'ast> Visit<'ast> for Macros {
    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        let body = mac
            .parse_body_with(Punctuated::<syn::Expr, syn::Token![,]>::parse_terminated)
            .map(MacroBody::Exprs)
            .or_else(|_| {
                mac.parse_body_with(syn::Block::parse_within)
                    .map(MacroBody::Stmts)
            });
        let Ok(body) = body else { return };
        // Macros inside the arguments.
        let mut inner = Macros::default();
        match &body {
            MacroBody::Exprs(args) => args.iter().for_each(|a| inner.visit_expr(a)),
            MacroBody::Stmts(stmts) => stmts.iter().for_each(|s| inner.visit_stmt(s)),
        }
        self.0.extend(inner.0);
        let at = syn::spanned::Spanned::span(mac).start();
        self.0.insert((at.line, at.column + 1), body);
    }
}
