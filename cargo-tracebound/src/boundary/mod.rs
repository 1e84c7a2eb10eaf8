//! Finding boundaries: one walk over a file, with the bindings of the fn it is in, asking each
//! kind of boundary whether a call is one of its own.

mod http;
mod messaging;
mod process;
mod task;
mod thread;

use std::collections::HashMap;

use syn::Expr;
use syn::spanned::Spanned;
use syn::visit::Visit;

use crate::analysis::expr;
use crate::index::{Index, TRACEBOUND_ATTRIBUTES};
use crate::source::{MacroBody, SourceFile};
use crate::{Finding, Verdict};

/// A verdict with its reason and fix.
pub(crate) struct Judgement {
    pub verdict: Verdict,
    pub reason: String,
    pub fix: String,
}

impl Judgement {
    pub fn carried(reason: impl Into<String>) -> Self {
        Judgement {
            verdict: Verdict::Carried,
            reason: reason.into(),
            fix: String::new(),
        }
    }

    pub fn lost(reason: impl Into<String>, fix: impl Into<String>) -> Self {
        Judgement {
            verdict: Verdict::Lost,
            reason: reason.into(),
            fix: fix.into(),
        }
    }

    pub fn unknown(reason: impl Into<String>, fix: impl Into<String>) -> Self {
        Judgement {
            verdict: Verdict::Unknown,
            reason: reason.into(),
            fix: fix.into(),
        }
    }

    /// The worse of two: lost over unknown over carried.
    fn worst(self, other: Judgement) -> Judgement {
        let rank = |v| match v {
            Verdict::Carried => 0,
            Verdict::Unknown => 1,
            Verdict::Lost => 2,
        };
        if rank(other.verdict) > rank(self.verdict) {
            other
        } else {
            self
        }
    }
}

/// What a name stands for in the fn being walked.
#[derive(Clone, Copy)]
pub(crate) enum Binding<'a> {
    Let {
        init: Option<&'a Expr>,
        ty: Option<&'a syn::Type>,
    },
    /// A parameter of the fn or of a closure.
    Param(Option<&'a syn::Type>),
    /// The `s` of `std::thread::scope(|s| …)`.
    ThreadScope,
    /// The `s` of `rayon::scope(|s| …)`.
    RayonScope,
}

#[derive(Default)]
struct Scope<'a> {
    /// For a fn: its tracebound attribute and body; `None` for a closure.
    function: Option<(Option<&'static str>, &'a syn::Block)>,
    bindings: HashMap<String, Binding<'a>>,
}

pub(crate) struct Auditor<'a> {
    pub file: &'a SourceFile,
    pub index: &'a Index,
    pub findings: Vec<Finding>,
    scopes: Vec<Scope<'a>>,
    /// The binding the next closure's first parameter gets (`thread::scope(|s| …)`).
    closure_role: Option<Binding<'a>>,
}

impl<'a> Auditor<'a> {
    pub fn new(file: &'a SourceFile, index: &'a Index) -> Self {
        Auditor {
            file,
            index,
            findings: Vec::new(),
            scopes: Vec::new(),
            closure_role: None,
        }
    }

    pub fn audit(&mut self) {
        let ast = &self.file.ast;
        self.visit_file(ast);
    }

    pub(crate) fn binding(&self, name: &str) -> Option<Binding<'a>> {
        self.scopes
            .iter()
            .rev()
            .find_map(|s| s.bindings.get(name).copied())
    }

    /// The tracebound attribute and body of the fn being walked.
    pub(crate) fn function(&self) -> Option<(Option<&'static str>, &'a syn::Block)> {
        self.scopes.iter().rev().find_map(|s| s.function)
    }

    /// What an expression is, as far as the audit can tell: resolved paths of the calls and
    /// types it comes from, and the methods called on the way (`lapin::Connection::connect
    /// .create_channel.basic_consume`). Used to recognise receivers.
    pub(crate) fn describe(&self, e: &Expr) -> String {
        self.describe_at(e, 0)
    }

    fn describe_at(&self, e: &Expr, depth: usize) -> String {
        if depth > 8 {
            return String::new();
        }
        let imports = &self.file.imports;
        let (root, methods) = expr::chain(e);
        let mut text = match root {
            Expr::Path(p) => match p
                .path
                .get_ident()
                .and_then(|i| self.binding(&i.to_string()))
            {
                Some(Binding::Let { ty: Some(ty), init }) => {
                    let mut t = expr::type_text(ty, imports);
                    if let Some(init) = init {
                        t.push(' ');
                        t.push_str(&self.describe_at(init, depth + 1));
                    }
                    t
                }
                Some(Binding::Let {
                    init: Some(init), ..
                }) => self.describe_at(init, depth + 1),
                Some(Binding::Param(Some(ty))) => expr::type_text(ty, imports),
                Some(Binding::ThreadScope) => "std::thread::Scope".into(),
                Some(Binding::RayonScope) => "rayon::Scope".into(),
                _ => expr::path_text(&p.path, imports),
            },
            Expr::Call(c) => match &*c.func {
                Expr::Path(p) => expr::path_text(&p.path, imports),
                _ => String::new(),
            },
            Expr::Field(f) => match &f.member {
                syn::Member::Named(name) => self.index.field_types(&name.to_string()).join(" | "),
                syn::Member::Unnamed(_) => String::new(),
            },
            Expr::Struct(s) => expr::path_text(&s.path, imports),
            _ => String::new(),
        };
        for m in methods.iter().rev() {
            text.push('.');
            text.push_str(&m.method.to_string());
        }
        text
    }

    fn report(&mut self, node: &impl Spanned, kind: &'static str, judgement: Judgement) {
        let (line, column) = expr::start(node);
        self.findings.push(Finding {
            file: self.file.name.clone(),
            line,
            column,
            kind,
            verdict: judgement.verdict,
            reason: judgement.reason,
            fix: judgement.fix,
            allowed: None,
        });
    }

    fn enter_fn(
        &mut self,
        attrs: &[syn::Attribute],
        sig: &'a syn::Signature,
        body: &'a syn::Block,
    ) {
        let attribute = attrs.iter().find_map(|a| {
            let last = a.path().segments.last()?.ident.to_string();
            TRACEBOUND_ATTRIBUTES.into_iter().find(|t| *t == last)
        });
        let mut scope = Scope {
            function: Some((attribute, body)),
            bindings: HashMap::new(),
        };
        for input in &sig.inputs {
            if let syn::FnArg::Typed(t) = input {
                bind_pattern(&mut scope.bindings, &t.pat, Binding::Param(Some(&t.ty)));
            }
        }
        self.scopes.push(scope);
    }

    /// A macro's arguments, walked when they parse as expressions or statements; a macro that
    /// does not parse and names a boundary is reported as unknown.
    fn macro_tokens(&mut self, mac: &'a syn::Macro) {
        match self.file.macros.get(&expr::start(mac)) {
            Some(MacroBody::Exprs(args)) => {
                for arg in args {
                    self.visit_expr(arg);
                }
            }
            Some(MacroBody::Stmts(stmts)) => {
                for stmt in stmts {
                    self.visit_stmt(stmt);
                }
            }
            None => {
                if let Some(ident) = boundary_token(mac.tokens.clone()) {
                    let name = expr::last_ident(&mac.path);
                    let judgement = Judgement::unknown(
                        format!("`{ident}` inside `{name}!`, which the audit cannot expand"),
                        "move the boundary out of the macro, or check it by hand and allow it",
                    );
                    self.report(&ident, "macro", judgement);
                }
            }
        }
    }
}

/// Names that suggest a boundary inside tokens the audit cannot parse.
const BOUNDARY_WORDS: [&str; 9] = [
    "spawn",
    "spawn_blocking",
    "spawn_local",
    "basic_publish",
    "basic_consume",
    "publish",
    "publish_with_headers",
    "send",
    "Command",
];

fn boundary_token(tokens: proc_macro2::TokenStream) -> Option<proc_macro2::Ident> {
    tokens.into_iter().find_map(|tree| match tree {
        proc_macro2::TokenTree::Ident(ident)
            if BOUNDARY_WORDS.contains(&ident.to_string().as_str()) =>
        {
            Some(ident)
        }
        proc_macro2::TokenTree::Group(g) => boundary_token(g.stream()),
        _ => None,
    })
}

fn bind_pattern<'a>(
    bindings: &mut HashMap<String, Binding<'a>>,
    pat: &'a syn::Pat,
    binding: Binding<'a>,
) {
    match pat {
        syn::Pat::Ident(p) => {
            bindings.insert(p.ident.to_string(), binding);
        }
        syn::Pat::Type(t) => {
            let binding = match binding {
                Binding::Let { init, .. } => Binding::Let {
                    init,
                    ty: Some(&t.ty),
                },
                Binding::Param(_) => Binding::Param(Some(&t.ty)),
                other => other,
            };
            bind_pattern(bindings, &t.pat, binding);
        }
        syn::Pat::Reference(r) => bind_pattern(bindings, &r.pat, binding),
        // Destructured: the parts are not the value.
        syn::Pat::Tuple(t) => {
            for p in &t.elems {
                bind_pattern(bindings, p, Binding::Param(None));
            }
        }
        syn::Pat::TupleStruct(t) => {
            for p in &t.elems {
                bind_pattern(bindings, p, Binding::Param(None));
            }
        }
        _ => {}
    }
}

impl<'a> Visit<'a> for Auditor<'a> {
    fn visit_item_fn(&mut self, f: &'a syn::ItemFn) {
        self.enter_fn(&f.attrs, &f.sig, &f.block);
        syn::visit::visit_item_fn(self, f);
        self.scopes.pop();
    }

    fn visit_impl_item_fn(&mut self, f: &'a syn::ImplItemFn) {
        self.enter_fn(&f.attrs, &f.sig, &f.block);
        syn::visit::visit_impl_item_fn(self, f);
        self.scopes.pop();
    }

    fn visit_trait_item_fn(&mut self, f: &'a syn::TraitItemFn) {
        if let Some(body) = &f.default {
            self.enter_fn(&f.attrs, &f.sig, body);
            syn::visit::visit_trait_item_fn(self, f);
            self.scopes.pop();
        }
    }

    fn visit_expr_closure(&mut self, c: &'a syn::ExprClosure) {
        let mut scope = Scope::default();
        let mut role = self.closure_role.take();
        for input in &c.inputs {
            let binding = role.take().unwrap_or(Binding::Param(None));
            bind_pattern(&mut scope.bindings, input, binding);
        }
        self.scopes.push(scope);
        syn::visit::visit_expr_closure(self, c);
        self.scopes.pop();
    }

    fn visit_local(&mut self, local: &'a syn::Local) {
        syn::visit::visit_local(self, local);
        let init = local.init.as_ref().map(|i| &*i.expr);
        // `let client = client.clone();` keeps standing for what `client` was: the new binding
        // would only point back at itself.
        let reborrow = match (&local.pat, init.map(|e| expr::chain(e).0)) {
            (syn::Pat::Ident(p), Some(Expr::Path(root))) => root.path.is_ident(&p.ident),
            _ => false,
        };
        if reborrow {
            return;
        }
        if let Some(scope) = self.scopes.last_mut() {
            bind_pattern(
                &mut scope.bindings,
                &local.pat,
                Binding::Let { init, ty: None },
            );
        }
    }

    fn visit_expr_call(&mut self, call: &'a syn::ExprCall) {
        if let Expr::Path(p) = &*call.func {
            let path = self.file.imports.resolve(&p.path);
            let candidates = std::iter::once(path.clone()).chain(
                // A bare name may come from a glob import.
                (path.len() == 1)
                    .then(|| self.file.imports.globs().to_vec())
                    .into_iter()
                    .flatten()
                    .map(|mut g| {
                        g.extend(path.iter().cloned());
                        g
                    }),
            );
            for path in candidates {
                let path: Vec<&str> = path.iter().map(String::as_str).collect();
                if let Some((kind, judgement)) = task::call(self, &path, call)
                    .or_else(|| thread::call(self, &path, call))
                    .or_else(|| http::call(self, &path, call))
                {
                    self.report(call, kind, judgement);
                    break;
                }
            }
        }
        syn::visit::visit_expr_call(self, call);
        self.closure_role = None;
    }

    fn visit_expr_method_call(&mut self, m: &'a syn::ExprMethodCall) {
        let found = task::method(self, m)
            .or_else(|| thread::method(self, m))
            .or_else(|| messaging::method(self, m))
            .or_else(|| http::method(self, m))
            .or_else(|| process::method(self, m));
        if let Some((kind, judgement)) = found {
            // The position of the method's name: a chain spans many lines.
            self.report(&m.method, kind, judgement);
        }
        syn::visit::visit_expr_method_call(self, m);
    }

    fn visit_expr_while(&mut self, w: &'a syn::ExprWhile) {
        if let Some((kind, judgement)) = messaging::consume_loop(self, &w.cond, &w.body) {
            self.report(&w.while_token, kind, judgement);
        }
        syn::visit::visit_expr_while(self, w);
    }

    fn visit_expr_for_loop(&mut self, f: &'a syn::ExprForLoop) {
        if let Some((kind, judgement)) = messaging::consume_loop(self, &f.expr, &f.body) {
            self.report(&f.for_token, kind, judgement);
        }
        syn::visit::visit_expr_for_loop(self, f);
    }

    fn visit_expr_loop(&mut self, l: &'a syn::ExprLoop) {
        if let Some((kind, judgement)) = messaging::receive_loop(self, &l.body) {
            self.report(&l.loop_token, kind, judgement);
        }
        syn::visit::visit_expr_loop(self, l);
    }

    fn visit_macro(&mut self, mac: &'a syn::Macro) {
        self.macro_tokens(mac);
    }
}

/// Both sides of a fork that may run elsewhere (`rayon::join`): the worse verdict.
pub(crate) fn worst(a: Judgement, b: Judgement) -> Judgement {
    a.worst(b)
}
