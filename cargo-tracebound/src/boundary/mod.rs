//! Finding boundaries: one walk over a file, with the bindings of the fn it is in, asking each
//! kind of boundary whether a call is one of its own.

mod http;
mod messaging;
mod process;
mod task;
mod thread;

use std::cell::RefCell;
use std::collections::HashMap;

use syn::Expr;
use syn::spanned::Spanned;
use syn::visit::Visit;

use crate::analysis::expr;
use crate::index::{Index, TRACEBOUND_ATTRIBUTES};
use crate::source::{Imports, MacroBody, SourceFile};
use crate::{Finding, Verdict};

/// The fix for a closure run on another thread.
const BIND_FIX: &str = "wrap the closure in tracebound::bind(…)";

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

    /// The worse of two (both sides of a fork that may run elsewhere, `rayon::join`): lost
    /// over unknown over carried.
    pub fn worst(self, other: Judgement) -> Judgement {
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

/// How many `let`s [`Auditor::trace`] follows.
const MAX_FOLLOW: usize = 8;

/// What [`Auditor::trace`] found.
pub(crate) struct Traced<'a> {
    pub exprs: Vec<&'a Expr>,
    pub root: Root<'a>,
}

/// What the last expression of a [`Traced`] starts from.
pub(crate) enum Root<'a> {
    /// A plain name, with what it is bound to (not a followed `let`), if anything.
    Name(String, Option<Binding<'a>>),
    /// `x.field`.
    Field(&'a syn::ExprField),
    /// A call, a literal, a path of several segments.
    Other,
}

/// What a name stands for in the fn being walked.
#[derive(Clone, Copy)]
pub(crate) enum Binding<'a> {
    Let {
        init: Option<&'a Expr>,
        ty: Option<&'a syn::Type>,
        /// This binding's place in [`Auditor::history`].
        id: usize,
        /// What the name meant before: `let fut = fut.with_current_context()`.
        shadowed: Option<usize>,
        /// Where the `let` is.
        at: (usize, usize),
    },
    /// A parameter of the fn or of a closure.
    Param(Option<&'a syn::Type>),
    /// Bound by a pattern: `if let`, `while let`, a `match` arm, a `for` loop, destructuring.
    Pattern,
    /// The `s` of `std::thread::scope(|s| …)`.
    ThreadScope,
    /// The `s` of `rayon::scope(|s| …)`.
    RayonScope,
}

#[derive(Default)]
struct Scope<'a> {
    /// For a fn: its tracebound attribute and body; `None` for a block or a closure.
    function: Option<(Option<&'static str>, &'a syn::Block)>,
    /// Names to their binding in [`Auditor::history`].
    bindings: HashMap<String, usize>,
}

pub(crate) struct Auditor<'a> {
    pub file: &'a SourceFile,
    pub index: &'a Index<'a>,
    pub findings: Vec<Finding>,
    /// For each finding, the line where its whole expression starts (an allow comment above
    /// a formatted chain is above that line).
    pub anchors: Vec<usize>,
    scopes: Vec<Scope<'a>>,
    history: Vec<Binding<'a>>,
    /// The `let`s whose initialiser is being followed: in it, their own name means what it
    /// meant before them.
    following: RefCell<Vec<usize>>,
    /// The `Self` type of the `impl` blocks being walked.
    impl_types: Vec<String>,
    /// The imports of the inline modules being walked.
    modules: Vec<&'a Imports>,
    /// The binding the next closure's first parameter gets (`thread::scope(|s| …)`).
    closure_role: Option<Binding<'a>>,
}

impl<'a> Auditor<'a> {
    pub fn new(file: &'a SourceFile, index: &'a Index<'a>) -> Self {
        Auditor {
            file,
            index,
            findings: Vec::new(),
            anchors: Vec::new(),
            scopes: Vec::new(),
            history: Vec::new(),
            following: RefCell::new(Vec::new()),
            impl_types: Vec::new(),
            modules: Vec::new(),
            closure_role: None,
        }
    }

    pub fn audit(&mut self) {
        let ast = &self.file.ast;
        self.visit_file(ast);
    }

    /// The imports of the module being walked.
    pub(crate) fn imports(&self) -> &'a Imports {
        self.modules.last().copied().unwrap_or(&self.file.imports)
    }

    pub(crate) fn binding(&self, name: &str) -> Option<Binding<'a>> {
        let mut id = self
            .scopes
            .iter()
            .rev()
            .find_map(|s| s.bindings.get(name).copied())?;
        while self.following.borrow().contains(&id) {
            match self.history[id] {
                Binding::Let { shadowed, .. } => id = shadowed?,
                _ => break,
            }
        }
        Some(self.history[id])
    }

    /// Runs `f` inside the initialiser of the `let` `id`.
    pub(crate) fn follow<R>(&self, id: usize, f: impl FnOnce() -> R) -> R {
        self.following.borrow_mut().push(id);
        let result = f();
        self.following.borrow_mut().pop();
        result
    }

    /// The initialiser of the `let` a plain name is bound by, and that `let`'s id.
    pub(crate) fn init_of(&self, e: &Expr) -> Option<(&'a Expr, usize)> {
        let Expr::Path(p) = e else { return None };
        match self.binding(&p.path.get_ident()?.to_string())? {
            Binding::Let {
                init: Some(init),
                id,
                ..
            } => Some((init, id)),
            _ => None,
        }
    }

    /// Where a value comes from: every expression on the way, the value first, following the
    /// `let` its method chain starts from (`let c = builder.build(); c.get(url)`), and the root
    /// the last one starts from.
    pub(crate) fn trace(&self, e: &'a Expr) -> Traced<'a> {
        let mut exprs = Vec::new();
        let root = self.trace_at(e, 0, &mut exprs);
        Traced { exprs, root }
    }

    fn trace_at(&self, e: &'a Expr, depth: usize, exprs: &mut Vec<&'a Expr>) -> Root<'a> {
        exprs.push(e);
        match expr::chain(e).0 {
            Expr::Field(f) => Root::Field(f),
            Expr::Path(p) => match p.path.get_ident() {
                Some(ident) => match self.binding(&ident.to_string()) {
                    Some(Binding::Let {
                        init: Some(init),
                        id,
                        ..
                    }) if depth < MAX_FOLLOW => {
                        self.follow(id, || self.trace_at(init, depth + 1, exprs))
                    }
                    binding => Root::Name(ident.to_string(), binding),
                },
                None => Root::Other,
            },
            _ => Root::Other,
        }
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
        let imports = self.imports();
        let (root, methods) = expr::chain(e);
        let mut text = match root {
            Expr::Path(p) => match p
                .path
                .get_ident()
                .and_then(|i| self.binding(&i.to_string()))
            {
                Some(Binding::Let { ty, init, id, .. }) => {
                    let mut t = ty
                        .map(|ty| expr::type_text(ty, imports))
                        .unwrap_or_default();
                    if let Some(init) = init {
                        t.push(' ');
                        t.push_str(&self.follow(id, || self.describe_at(init, depth + 1)));
                    }
                    t
                }
                Some(Binding::Param(Some(ty))) => expr::type_text(ty, imports),
                Some(Binding::ThreadScope) => "std::thread::Scope".into(),
                Some(Binding::RayonScope) => "rayon::Scope".into(),
                Some(Binding::Param(None) | Binding::Pattern) => String::new(),
                None => expr::path_text(&p.path, imports),
            },
            Expr::Call(c) => match &*c.func {
                Expr::Path(p) => expr::path_text(&p.path, imports),
                _ => String::new(),
            },
            Expr::Field(f) => match &f.member {
                syn::Member::Named(name) => self
                    .index
                    .field_type(self.owner(&f.base).as_deref(), &name.to_string())
                    .unwrap_or_default()
                    .to_string(),
                syn::Member::Unnamed(_) => String::new(),
            },
            Expr::Struct(s) => expr::path_text(&s.path, imports),
            Expr::Macro(m) => format!("{}!", expr::path_text(&m.mac.path, imports)),
            _ => String::new(),
        };
        for m in methods.iter().rev() {
            text.push('.');
            text.push_str(&m.method.to_string());
        }
        text
    }

    /// The struct a field access is on: `self` in an `impl`, or a binding of a known type.
    pub(crate) fn owner(&self, base: &Expr) -> Option<String> {
        if let Expr::Path(p) = expr::strip(base)
            && p.path.is_ident("self")
        {
            return self.impl_types.last().cloned();
        }
        let text = self.describe(base);
        let ty = text.split(['<', ' ', '.']).next()?;
        let last = ty.rsplit("::").next()?;
        (!last.is_empty()).then(|| last.to_string())
    }

    fn report(
        &mut self,
        node: &impl Spanned,
        anchor: &impl Spanned,
        kind: &'static str,
        judgement: Judgement,
    ) {
        let (line, column) = expr::start(node);
        self.anchors.push(expr::start(anchor).0);
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

    fn bind(&mut self, name: String, binding: Binding<'a>) {
        let id = self.history.len();
        self.history.push(binding);
        if let Some(scope) = self.scopes.last_mut() {
            scope.bindings.insert(name, id);
        }
    }

    /// Every name a pattern binds, as `binding` (for a plain name) or as [`Binding::Pattern`].
    fn bind_pattern(&mut self, pat: &'a syn::Pat, binding: Binding<'a>) {
        match pat {
            syn::Pat::Ident(p) if p.subpat.is_none() => {
                let name = p.ident.to_string();
                let binding = match binding {
                    Binding::Let { init, ty, at, .. } => Binding::Let {
                        init,
                        ty,
                        id: self.history.len(),
                        shadowed: self
                            .scopes
                            .iter()
                            .rev()
                            .find_map(|s| s.bindings.get(&name).copied()),
                        at,
                    },
                    other => other,
                };
                self.bind(name, binding);
            }
            syn::Pat::Type(t) => {
                let binding = match binding {
                    Binding::Let {
                        init,
                        id,
                        shadowed,
                        at,
                        ..
                    } => Binding::Let {
                        init,
                        ty: Some(&t.ty),
                        id,
                        shadowed,
                        at,
                    },
                    Binding::Param(_) => Binding::Param(Some(&t.ty)),
                    other => other,
                };
                self.bind_pattern(&t.pat, binding);
            }
            syn::Pat::Reference(r) => self.bind_pattern(&r.pat, binding),
            // Destructured: the parts are not the value.
            other => {
                for name in expr::bound_names(other) {
                    self.bind(name, Binding::Pattern);
                }
            }
        }
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
        self.scopes.push(Scope {
            function: Some((attribute, body)),
            bindings: HashMap::new(),
        });
        for input in &sig.inputs {
            if let syn::FnArg::Typed(t) = input {
                self.bind_pattern(&t.pat, Binding::Param(Some(&t.ty)));
            }
        }
    }

    /// A macro's arguments, walked when they parse as expressions, statements or `select!`
    /// branches; a macro that does not parse and names a boundary is reported as unknown.
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
            Some(MacroBody::Select(branches)) => {
                for branch in branches {
                    self.visit_expr(&branch.future);
                    self.scopes.push(Scope::default());
                    if let Some(pat) = &branch.pat {
                        self.bind_pattern(pat, Binding::Pattern);
                    }
                    self.visit_expr(&branch.handler);
                    self.scopes.pop();
                }
            }
            None => {
                if let Some(ident) = boundary_token(mac.tokens.clone()) {
                    let name = expr::last_ident(&mac.path);
                    let judgement = Judgement::unknown(
                        format!("`{ident}` inside `{name}!`, which the audit cannot expand"),
                        "move the boundary out of the macro, or check it by hand and allow it",
                    );
                    self.report(&ident, &ident, "macro", judgement);
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

impl<'a> Visit<'a> for Auditor<'a> {
    fn visit_item_fn(&mut self, f: &'a syn::ItemFn) {
        self.enter_fn(&f.attrs, &f.sig, &f.block);
        syn::visit::visit_item_fn(self, f);
        self.scopes.pop();
    }

    fn visit_item_mod(&mut self, m: &'a syn::ItemMod) {
        let imports = self.file.modules.get(&expr::start(m));
        if let Some(imports) = imports {
            self.modules.push(imports);
        }
        syn::visit::visit_item_mod(self, m);
        if imports.is_some() {
            self.modules.pop();
        }
    }

    fn visit_item_impl(&mut self, i: &'a syn::ItemImpl) {
        let name = match &*i.self_ty {
            syn::Type::Path(p) => expr::last_ident(&p.path),
            _ => String::new(),
        };
        self.impl_types.push(name);
        syn::visit::visit_item_impl(self, i);
        self.impl_types.pop();
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

    fn visit_block(&mut self, b: &'a syn::Block) {
        self.scopes.push(Scope::default());
        syn::visit::visit_block(self, b);
        self.scopes.pop();
    }

    fn visit_expr_closure(&mut self, c: &'a syn::ExprClosure) {
        self.scopes.push(Scope::default());
        let mut role = self.closure_role.take();
        for input in &c.inputs {
            let binding = role.take().unwrap_or(Binding::Param(None));
            self.bind_pattern(input, binding);
        }
        self.visit_expr(&c.body);
        self.scopes.pop();
    }

    fn visit_local(&mut self, local: &'a syn::Local) {
        syn::visit::visit_local(self, local);
        let init = local.init.as_ref().map(|i| &*i.expr);
        let binding = Binding::Let {
            init,
            ty: None,
            id: 0,
            shadowed: None,
            at: expr::start(local),
        };
        self.bind_pattern(&local.pat, binding);
    }

    fn visit_expr_let(&mut self, l: &'a syn::ExprLet) {
        self.visit_expr(&l.expr);
        self.bind_pattern(&l.pat, Binding::Pattern);
    }

    fn visit_arm(&mut self, arm: &'a syn::Arm) {
        self.scopes.push(Scope::default());
        self.bind_pattern(&arm.pat, Binding::Pattern);
        syn::visit::visit_arm(self, arm);
        self.scopes.pop();
    }

    fn visit_expr_call(&mut self, call: &'a syn::ExprCall) {
        if let Expr::Path(p) = &*call.func {
            let path = self.imports().resolve(&p.path);
            let candidates = std::iter::once(path.clone()).chain(
                // A bare name may come from a glob import.
                (path.len() == 1)
                    .then(|| self.imports().globs().to_vec())
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
                    self.report(call, call, kind, judgement);
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
            // At the method's name: a formatted chain spans many lines.
            self.report(&m.method, m, kind, judgement);
        }
        syn::visit::visit_expr_method_call(self, m);
    }

    fn visit_expr_while(&mut self, w: &'a syn::ExprWhile) {
        if let Some((kind, judgement)) = messaging::consume_loop(self, &w.cond, &w.body) {
            self.report(&w.while_token, w, kind, judgement);
        }
        self.scopes.push(Scope::default());
        syn::visit::visit_expr_while(self, w);
        self.scopes.pop();
    }

    fn visit_expr_for_loop(&mut self, f: &'a syn::ExprForLoop) {
        if let Some((kind, judgement)) = messaging::consume_loop(self, &f.expr, &f.body) {
            self.report(&f.for_token, f, kind, judgement);
        }
        self.visit_expr(&f.expr);
        self.scopes.push(Scope::default());
        self.bind_pattern(&f.pat, Binding::Pattern);
        self.visit_block(&f.body);
        self.scopes.pop();
    }

    fn visit_expr_loop(&mut self, l: &'a syn::ExprLoop) {
        if let Some((kind, judgement)) = messaging::receive_loop(self, &l.body) {
            self.report(&l.loop_token, l, kind, judgement);
        }
        syn::visit::visit_expr_loop(self, l);
    }

    fn visit_expr_if(&mut self, i: &'a syn::ExprIf) {
        // `if let` bindings are for the `then` block only.
        self.scopes.push(Scope::default());
        self.visit_expr(&i.cond);
        self.visit_block(&i.then_branch);
        self.scopes.pop();
        if let Some((_, other)) = &i.else_branch {
            self.visit_expr(other);
        }
    }

    fn visit_macro(&mut self, mac: &'a syn::Macro) {
        self.macro_tokens(mac);
    }
}
