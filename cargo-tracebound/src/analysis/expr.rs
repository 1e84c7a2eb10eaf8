//! Reading expressions: what wraps them, what a method chain starts from, how a path resolves.

use quote::ToTokens;
use syn::Expr;
use syn::punctuated::Punctuated;
use syn::visit::Visit;

use crate::index::Call;
use crate::source::Imports;

/// Methods that make a future carry the context current where they are called.
const CARRYING_METHODS: [&str; 4] = [
    "with_current_context",
    "with_context",
    "in_current_span",
    "instrument",
];

/// tracebound's fns that wrap a future or a closure with the current context.
const CARRYING_FNS: [&str; 3] = ["carry", "bind", "bind_fn"];

/// Future combinators that poll the future they are called on: a carried future stays carried.
pub(crate) const COMBINATORS: [&str; 12] = [
    "boxed",
    "boxed_local",
    "fuse",
    "map",
    "map_ok",
    "map_err",
    "then",
    "and_then",
    "or_else",
    "inspect",
    "into_future",
    "unwrap_or_else",
];

/// Parentheses, `&`, invisible groups, `Box::pin(…)`, `Box::new(…)` and `.await`/`?` removed.
pub(crate) fn strip(mut e: &Expr) -> &Expr {
    loop {
        e = match e {
            Expr::Paren(p) => &p.expr,
            Expr::Group(g) => &g.expr,
            Expr::Reference(r) => &r.expr,
            Expr::Await(a) => &a.base,
            Expr::Try(t) => &t.expr,
            Expr::Call(c) if c.args.len() == 1 && is_box(&c.func) => &c.args[0],
            _ => return e,
        }
    }
}

fn is_box(func: &Expr) -> bool {
    let Expr::Path(p) = func else { return false };
    let segments: Vec<_> = p
        .path
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    segments.len() >= 2
        && segments[segments.len() - 2] == "Box"
        && matches!(segments[segments.len() - 1].as_str(), "pin" | "new")
}

/// The expression a method chain starts from, and its methods from the last call to the first.
pub(crate) fn chain(e: &Expr) -> (&Expr, Vec<&syn::ExprMethodCall>) {
    let mut methods = Vec::new();
    let mut e = strip(e);
    while let Expr::MethodCall(m) = e {
        methods.push(m);
        e = strip(&m.receiver);
    }
    (e, methods)
}

/// The last segment of a path.
pub(crate) fn last_ident(path: &syn::Path) -> String {
    path.segments
        .last()
        .map(|s| s.ident.to_string())
        .unwrap_or_default()
}

/// A path as its imports resolve it, `::`-joined.
pub(crate) fn path_text(path: &syn::Path, imports: &Imports) -> String {
    imports.resolve(path).join("::")
}

/// A type as written, with its paths resolved through the imports.
pub(crate) fn type_text(ty: &syn::Type, imports: &Imports) -> String {
    match ty {
        syn::Type::Reference(r) => type_text(&r.elem, imports),
        syn::Type::Paren(p) => type_text(&p.elem, imports),
        syn::Type::Group(g) => type_text(&g.elem, imports),
        syn::Type::Path(p) => {
            let mut text = path_text(&p.path, imports);
            // The generic arguments too: `Arc<Mutex<JoinSet<()>>>`.
            for segment in &p.path.segments {
                if let syn::PathArguments::AngleBracketed(args) = &segment.arguments {
                    for arg in &args.args {
                        if let syn::GenericArgument::Type(t) = arg {
                            text.push('<');
                            text.push_str(&type_text(t, imports));
                        }
                    }
                }
            }
            text
        }
        other => other.to_token_stream().to_string(),
    }
}

/// How a future or closure is wrapped so that it carries the context current where the wrapping
/// is written: `.with_current_context()`, `.instrument(span)`, `tracebound::carry(…)`, …
pub(crate) fn wrapper(e: &Expr, imports: &Imports) -> Option<String> {
    let (root, methods) = chain(e);
    if let Some(m) = methods
        .iter()
        .find(|m| CARRYING_METHODS.contains(&m.method.to_string().as_str()))
    {
        return Some(format!(".{}(…)", m.method));
    }
    if let Expr::Call(call) = root
        && let Expr::Path(p) = &*call.func
    {
        let path = imports.resolve(&p.path);
        if path.first().is_some_and(|s| s == "tracebound")
            && path
                .last()
                .is_some_and(|s| CARRYING_FNS.contains(&s.as_str()))
        {
            return Some(path.join("::"));
        }
    }
    None
}

/// Whether the future is a combinator over another future, and which one.
pub(crate) fn combinator_base(e: &Expr) -> Option<&Expr> {
    let Expr::MethodCall(m) = strip(e) else {
        return None;
    };
    COMBINATORS
        .contains(&m.method.to_string().as_str())
        .then_some(&*m.receiver)
}

/// The line and 1-based column where a syntax node starts.
pub(crate) fn start(node: &impl syn::spanned::Spanned) -> (usize, usize) {
    let at = node.span().start();
    (at.line, at.column + 1)
}

/// Whether a resolved path is one of tracebound's items: `tracebound::reqwest::Middleware`,
/// `tb::tower::ClientLayer` with `use tracebound as tb`, …
pub(crate) fn is_tracebound(path: &[String], items: &[&str]) -> bool {
    path.first().is_some_and(|f| f == "tracebound") && {
        let joined = path.join("::");
        items.iter().any(|item| joined.contains(item))
    }
}

/// Whether any path in some code resolves to one of tracebound's `items`.
pub(crate) fn names_tracebound(code: &impl ToVisit, imports: &Imports, items: &[&str]) -> bool {
    struct Find<'i> {
        imports: &'i Imports,
        items: &'i [&'i str],
        found: bool,
    }
    impl<'ast> Visit<'ast> for Find<'_> {
        fn visit_path(&mut self, path: &'ast syn::Path) {
            self.found |= is_tracebound(&self.imports.resolve(path), self.items);
            syn::visit::visit_path(self, path);
        }
    }
    let mut find = Find {
        imports,
        items,
        found: false,
    };
    code.visit_with(&mut find);
    find.found
}

/// Code a visitor can walk: a block, an expression, a pattern.
pub(crate) trait ToVisit {
    fn visit_with<'ast>(&'ast self, v: &mut impl Visit<'ast>);
}

impl ToVisit for syn::Block {
    fn visit_with<'ast>(&'ast self, v: &mut impl Visit<'ast>) {
        v.visit_block(self);
    }
}

impl ToVisit for Expr {
    fn visit_with<'ast>(&'ast self, v: &mut impl Visit<'ast>) {
        v.visit_expr(self);
    }
}

impl ToVisit for syn::Pat {
    fn visit_with<'ast>(&'ast self, v: &mut impl Visit<'ast>) {
        v.visit_pat(self);
    }
}

/// A call in some code: `f(…)` through a path, or `x.f(…)`.
#[derive(Clone, Copy)]
pub(crate) enum Site<'a> {
    Call(&'a syn::ExprCall, &'a syn::Path),
    Method(&'a syn::ExprMethodCall),
}

impl<'a> Site<'a> {
    /// The called fn's name.
    pub fn name(&self) -> String {
        match self {
            Site::Call(_, path) => last_ident(path),
            Site::Method(m) => m.method.to_string(),
        }
    }

    /// The path called through; `None` for a method call.
    pub fn path(&self) -> Option<&'a syn::Path> {
        match self {
            Site::Call(_, path) => Some(path),
            Site::Method(_) => None,
        }
    }

    /// Which fns of that name it can reach.
    pub fn call(&self) -> Call {
        self.path().map_or(Call::Method, call_kind)
    }

    /// Where the call starts.
    pub fn start(&self) -> (usize, usize) {
        match self {
            Site::Call(c, _) => start(c),
            Site::Method(m) => start(m),
        }
    }

    pub fn args(&self) -> &'a Punctuated<Expr, syn::Token![,]> {
        match self {
            Site::Call(c, _) => &c.args,
            Site::Method(m) => &m.args,
        }
    }
}

/// Every call in some code, outermost first.
pub(crate) fn calls<'a>(code: &'a impl ToVisit) -> Vec<Site<'a>> {
    struct Calls<'a>(Vec<Site<'a>>);
    impl<'a> Visit<'a> for Calls<'a> {
        fn visit_expr_call(&mut self, call: &'a syn::ExprCall) {
            if let Expr::Path(p) = &*call.func {
                self.0.push(Site::Call(call, &p.path));
            }
            syn::visit::visit_expr_call(self, call);
        }
        fn visit_expr_method_call(&mut self, m: &'a syn::ExprMethodCall) {
            self.0.push(Site::Method(m));
            syn::visit::visit_expr_method_call(self, m);
        }
    }
    let mut calls = Calls(Vec::new());
    code.visit_with(&mut calls);
    calls.0
}

/// Every name some code binds: its patterns' identifiers.
pub(crate) fn bound_names(code: &impl ToVisit) -> Vec<String> {
    struct Names(Vec<String>);
    impl<'ast> Visit<'ast> for Names {
        fn visit_pat_ident(&mut self, p: &'ast syn::PatIdent) {
            self.0.push(p.ident.to_string());
            syn::visit::visit_pat_ident(self, p);
        }
    }
    let mut names = Names(Vec::new());
    code.visit_with(&mut names);
    names.0
}

/// Which fns a call through this path can reach.
pub(crate) fn call_kind(path: &syn::Path) -> Call {
    if path.segments.len() == 1 {
        Call::Free
    } else {
        Call::Path
    }
}

/// A call that can only be to a fn of this crate: `helper(…)`, `crate::x::helper(…)`,
/// `Self::helper(…)` (not `Client::new(…)`, which may be another crate's type).
pub(crate) fn local_call(path: &syn::Path) -> Option<(String, Call)> {
    let first = path.segments.first()?.ident.to_string();
    match (path.segments.len(), first.as_str()) {
        (1, _) => Some((last_ident(path), Call::Free)),
        (_, "crate" | "self" | "super" | "Self") => Some((last_ident(path), Call::Path)),
        _ => None,
    }
}
