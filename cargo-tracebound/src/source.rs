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
    /// The imports of the file's top-level module.
    pub imports: Imports,
    /// The imports of each inline `mod m { … }`, by where the module starts: Rust does not
    /// carry a module's imports into its children (only `use super::…` brings them).
    pub modules: HashMap<(usize, usize), Imports>,
    /// The arguments of every macro that parse as expressions or statements, by where the
    /// macro starts.
    pub macros: HashMap<(usize, usize), MacroBody>,
    /// Selected for the report (not only indexed).
    pub selected: bool,
    /// A target's root file (its modules are beside it).
    pub is_root: bool,
}

impl SourceFile {
    /// Reads and parses a file; a file that is not UTF-8 or not Rust is a problem, not a panic.
    pub fn read(source: &SourcePath, selected: bool, is_root: bool) -> Result<Self, Problem> {
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
        let mut modules = HashMap::new();
        let imports = module_imports(&ast.items, None, &mut modules);
        let mut macros = Macros::default();
        macros.visit_file(&ast);
        Ok(SourceFile {
            name: source.name.clone(),
            text,
            ast,
            imports,
            modules,
            macros: macros.0,
            selected,
            is_root,
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

    // A nested module's imports are its own.
    fn visit_item_mod(&mut self, _: &'ast syn::ItemMod) {}
}

/// A module's imports (its `use` items, and those in its fns' bodies), with `super::` paths
/// and `use super::*` resolved through the parent's; and each inline child module's, into
/// `modules`.
fn module_imports(
    items: &[syn::Item],
    parent: Option<&Imports>,
    modules: &mut HashMap<(usize, usize), Imports>,
) -> Imports {
    let mut imports = Imports::default();
    for item in items {
        imports.visit_item(item);
    }
    if let Some(parent) = parent {
        for path in imports.names.values_mut() {
            if path.first().is_some_and(|s| s == "super") {
                *path = parent.resolve_segments(path[1..].to_vec());
            }
        }
        if imports
            .globs
            .iter()
            .any(|g| g.len() == 1 && g[0] == "super")
        {
            imports.globs.retain(|g| !(g.len() == 1 && g[0] == "super"));
            for (name, path) in &parent.names {
                imports
                    .names
                    .entry(name.clone())
                    .or_insert_with(|| path.clone());
            }
            imports.globs.extend(parent.globs.iter().cloned());
            for root in parent.roots.keys() {
                imports.roots.insert(root.clone(), ());
            }
        }
    }
    for item in items {
        if let syn::Item::Mod(m) = item
            && let Some((_, content)) = &m.content
        {
            let child = module_imports(content, Some(&imports), modules);
            let at = syn::spanned::Spanned::span(m).start();
            modules.insert((at.line, at.column + 1), child);
        }
    }
    imports
}

/// A macro's arguments, parsed.
pub(crate) enum MacroBody {
    /// `println!("{}", x)`, `vec![a, b]`, `assert!(f(x))`.
    Exprs(Punctuated<syn::Expr, syn::Token![,]>),
    /// `thread_local! { … }`-like bodies that are statements.
    Stmts(Vec<syn::Stmt>),
    /// `tokio::select!` and `futures::select!` branches.
    Select(Vec<SelectBranch>),
}

/// `pattern = future (, if condition)? => handler`, or `else => handler`.
pub(crate) struct SelectBranch {
    pub pat: Option<syn::Pat>,
    pub future: syn::Expr,
    pub handler: syn::Expr,
}

fn select_branches(input: syn::parse::ParseStream) -> syn::Result<Vec<SelectBranch>> {
    use syn::Token;
    if input.peek(syn::Ident) && input.fork().parse::<syn::Ident>()? == "biased" {
        input.parse::<syn::Ident>()?;
        input.parse::<Token![;]>()?;
    }
    let mut branches = Vec::new();
    while !input.is_empty() {
        let (pat, future) = if input.peek(Token![else]) {
            input.parse::<Token![else]>()?;
            (None, syn::Expr::Verbatim(proc_macro2::TokenStream::new()))
        } else {
            let pat = syn::Pat::parse_multi_with_leading_vert(input)?;
            input.parse::<Token![=]>()?;
            let future: syn::Expr = input.parse()?;
            if input.peek(Token![,]) {
                input.parse::<Token![,]>()?;
                input.parse::<Token![if]>()?;
                input.parse::<syn::Expr>()?;
            }
            (Some(pat), future)
        };
        input.parse::<Token![=>]>()?;
        // A block needs no comma after it; an expression is followed by one, or the end.
        let handler = if input.peek(syn::token::Brace) {
            syn::Expr::Block(input.parse()?)
        } else {
            input.parse()?
        };
        if input.peek(Token![,]) {
            input.parse::<Token![,]>()?;
        }
        branches.push(SelectBranch {
            pat,
            future,
            handler,
        });
    }
    Ok(branches)
}

#[derive(Default)]
struct Macros(HashMap<(usize, usize), MacroBody>);

impl<'ast> Visit<'ast> for Macros {
    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        let name = mac.path.segments.last().map(|s| s.ident.to_string());
        let body = if matches!(name.as_deref(), Some("select" | "select_biased")) {
            mac.parse_body_with(select_branches).map(MacroBody::Select)
        } else {
            mac.parse_body_with(Punctuated::<syn::Expr, syn::Token![,]>::parse_terminated)
                .map(MacroBody::Exprs)
                .or_else(|_| {
                    mac.parse_body_with(syn::Block::parse_within)
                        .map(MacroBody::Stmts)
                })
        };
        let Ok(body) = body else { return };
        // Macros inside the arguments.
        let mut inner = Macros::default();
        match &body {
            MacroBody::Exprs(args) => args.iter().for_each(|a| inner.visit_expr(a)),
            MacroBody::Stmts(stmts) => stmts.iter().for_each(|s| inner.visit_stmt(s)),
            MacroBody::Select(branches) => branches.iter().for_each(|b| {
                inner.visit_expr(&b.future);
                inner.visit_expr(&b.handler);
            }),
        }
        self.0.extend(inner.0);
        let at = syn::spanned::Spanned::span(mac).start();
        self.0.insert((at.line, at.column + 1), body);
    }
}
