//! The files a crate is made of: from a target's root, every `mod name;` to `name.rs` or
//! `name/mod.rs` (or its `#[path]`), as rustc finds them. Files that no module names (templates,
//! fixtures, trybuild cases) are not part of the crate and are not read.

use std::path::{Path, PathBuf};

use crate::Problem;
use crate::analysis::expr;
use crate::source::SourceFile;
use crate::workspace::{SourcePath, relative};

/// The files the modules declared in `file` are in, and the declarations whose file is missing.
pub(crate) fn declared(
    root: &Path,
    path: &Path,
    file: &SourceFile,
) -> (Vec<SourcePath>, Vec<Problem>) {
    let here = path.parent().unwrap_or(Path::new(""));
    // A crate root or a `mod.rs` keeps its modules beside it; `foo.rs` keeps them in `foo/`.
    let owns_dir = path.file_name().is_some_and(|n| n == "mod.rs") || file.is_root;
    let dir = if owns_dir {
        here.to_path_buf()
    } else {
        here.join(path.file_stem().unwrap_or_default())
    };
    let mut found = Found {
        root,
        file,
        children: Vec::new(),
        missing: Vec::new(),
    };
    found.items(&file.ast.items, here, &dir);
    (found.children, found.missing)
}

struct Found<'a> {
    root: &'a Path,
    file: &'a SourceFile,
    children: Vec<SourcePath>,
    missing: Vec<Problem>,
}

impl Found<'_> {
    /// `items` of a module whose `#[path]`s are relative to `here` and whose children live in
    /// `dir`.
    fn items(&mut self, items: &[syn::Item], here: &Path, dir: &Path) {
        for item in items {
            // tokio's `cfg_rt! { pub mod runtime; }` (items), `cfg_if! { if … { mod a; } }` (a
            // `mod name;` anywhere in the tokens).
            if let syn::Item::Macro(m) = item {
                let parsed = m.mac.parse_body_with(|input: syn::parse::ParseStream| {
                    let mut items = Vec::new();
                    while !input.is_empty() {
                        items.push(input.parse::<syn::Item>()?);
                    }
                    Ok(items)
                });
                match parsed {
                    // Items, `#[path]`s included: read as the module's own.
                    Ok(items) => self.items(&items, here, dir),
                    Err(_) => {
                        for (name, at) in declared_in(m.mac.tokens.clone()) {
                            self.module(&name, None, here, dir, at);
                        }
                    }
                }
                continue;
            }
            let syn::Item::Mod(m) = item else { continue };
            let name = m.ident.to_string();
            let name = name.strip_prefix("r#").unwrap_or(&name);
            let path_attr = m.attrs.iter().find_map(|a| match &a.meta {
                syn::Meta::NameValue(nv) if nv.path.is_ident("path") => match &nv.value {
                    syn::Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Str(s),
                        ..
                    }) => Some(s.value()),
                    _ => None,
                },
                _ => None,
            });
            match &m.content {
                // `mod a { mod b; }`: `b` is in `dir/a/`.
                Some((_, content)) => {
                    let inner = match &path_attr {
                        Some(p) => dir.join(p),
                        None => dir.join(name),
                    };
                    self.items(content, &inner, &inner);
                }
                None => self.module(name, path_attr.as_deref(), here, dir, expr::start(m).0),
            }
        }
    }
}

impl Found<'_> {
    /// `mod name;` at `line`: its file, or a problem saying it is missing.
    fn module(
        &mut self,
        name: &str,
        path_attr: Option<&str>,
        here: &Path,
        dir: &Path,
        line: usize,
    ) {
        let candidates: Vec<PathBuf> = match path_attr {
            Some(p) => vec![here.join(p)],
            None => vec![
                dir.join(format!("{name}.rs")),
                dir.join(name).join("mod.rs"),
            ],
        };
        match candidates.iter().find(|c| c.is_file()) {
            Some(path) => self.children.push(SourcePath {
                name: relative(self.root, path),
                path: path.clone(),
            }),
            None => {
                let names: Vec<String> =
                    candidates.iter().map(|c| relative(self.root, c)).collect();
                let absent = match names.as_slice() {
                    [one] => format!("{one} does not exist"),
                    many => format!("neither {} exists", many.join(" nor ")),
                };
                self.missing.push(Problem {
                    file: self.file.name.clone(),
                    line,
                    message: format!("declares `mod {name};`, but {absent}; skipped"),
                });
            }
        }
    }
}

/// Every `mod name;` in a macro's tokens, with its line.
fn declared_in(tokens: proc_macro2::TokenStream) -> Vec<(String, usize)> {
    use proc_macro2::TokenTree;
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    let mut found = Vec::new();
    for (i, tree) in trees.iter().enumerate() {
        match tree {
            TokenTree::Group(g) => found.extend(declared_in(g.stream())),
            TokenTree::Ident(kw) if kw == "mod" => {
                if let (Some(TokenTree::Ident(name)), Some(TokenTree::Punct(semi))) =
                    (trees.get(i + 1), trees.get(i + 2))
                    && semi.as_char() == ';'
                {
                    let name = name.to_string();
                    let name = name.strip_prefix("r#").unwrap_or(&name).to_string();
                    found.push((name, kw.span().start().line));
                }
            }
            _ => {}
        }
    }
    found
}
