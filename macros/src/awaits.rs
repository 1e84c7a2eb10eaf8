//! "A context token alive at an `.await`" as a compile error.
//!
//! A token attached in an async body and still alive when the task suspends leaves its context
//! on the worker thread: every task polled there next inherits it. Within a function carrying
//! a tracebound attribute, this pass finds `let` bindings of tokens and guards (`attach(…)`,
//! `….attach()`, `mark_span_as_active(…)`, `enter_telemetry_suppressed_scope()`, or a
//! `ContextToken`/`ContextGuard` type annotation) and reports each `.await` reached while one
//! is in scope and not yet released by `drop(name)` or `name.detach()`.
//!
//! Closures and nested `async` blocks are separate futures and start with nothing attached.
//! A release inside a nested block counts only within that block.

use proc_macro2::TokenStream;
use quote::quote;
use syn::visit::{self, Visit};
use syn::{Block, Expr, Ident, Local, Pat, Stmt, Type};

/// Checks `block`; `is_async` says whether the block itself is an async body.
pub fn check(block: &Block, is_async: bool) -> Vec<syn::Error> {
    let mut checker = Checker {
        live: Vec::new(),
        errors: Vec::new(),
        in_async: is_async,
    };
    checker.visit_block(block);
    checker.errors
}

struct Checker {
    live: Vec<Ident>,
    errors: Vec<syn::Error>,
    in_async: bool,
}

impl Checker {
    fn separate_future(&mut self, is_async: bool, f: impl FnOnce(&mut Self)) {
        let live = std::mem::take(&mut self.live);
        let was_async = std::mem::replace(&mut self.in_async, is_async);
        f(self);
        self.live = live;
        self.in_async = was_async;
    }
}

impl<'ast> Visit<'ast> for Checker {
    fn visit_block(&mut self, block: &'ast Block) {
        let saved = self.live.clone();
        for stmt in &block.stmts {
            match stmt {
                Stmt::Local(local) => {
                    if let Some(init) = &local.init {
                        self.visit_expr(&init.expr);
                        if let Some((_, diverge)) = &init.diverge {
                            self.visit_expr(diverge);
                        }
                    }
                    if let Some(name) = guard_binding(local) {
                        self.live.push(name);
                    }
                }
                Stmt::Expr(expr, _) => match released(expr) {
                    Some(name) => {
                        if let Some(at) = self.live.iter().rposition(|g| *g == *name) {
                            self.live.remove(at);
                        }
                    }
                    None => self.visit_expr(expr),
                },
                Stmt::Item(_) | Stmt::Macro(_) => {}
            }
        }
        self.live = saved;
    }

    fn visit_expr_await(&mut self, node: &'ast syn::ExprAwait) {
        self.visit_expr(&node.base);
        if !self.in_async {
            return;
        }
        let at = {
            let dot = &node.dot_token;
            let await_token = &node.await_token;
            quote!(#dot #await_token)
        };
        for name in &self.live {
            self.errors.push(error_at(at.clone(), name));
        }
    }

    fn visit_expr_closure(&mut self, node: &'ast syn::ExprClosure) {
        let is_async = node.asyncness.is_some();
        self.separate_future(is_async, |this| visit::visit_expr_closure(this, node));
    }

    fn visit_expr_async(&mut self, node: &'ast syn::ExprAsync) {
        self.separate_future(true, |this| visit::visit_expr_async(this, node));
    }

    fn visit_item(&mut self, _: &'ast syn::Item) {}
}

fn error_at(at: TokenStream, name: &Ident) -> syn::Error {
    syn::Error::new_spanned(
        at,
        format!(
            "context token `{name}` is still attached at this `.await`: while the task is \
             suspended its context would stay on the thread and leak into other tasks; \
             release it first with `drop({name})` (or `{name}.detach()`), or end its scope \
             before awaiting"
        ),
    )
}

/// The name a `let` binds a token or guard to, if it does.
fn guard_binding(local: &Local) -> Option<Ident> {
    let (pat, ty) = match &local.pat {
        Pat::Type(typed) => (&*typed.pat, Some(&*typed.ty)),
        pat => (pat, None),
    };
    let Pat::Ident(binding) = pat else {
        return None;
    };
    let typed_as_guard = ty.is_some_and(|ty| {
        matches!(ty, Type::Path(p) if p.path.segments.last()
            .is_some_and(|s| s.ident == "ContextToken" || s.ident == "ContextGuard"))
    });
    let made_by_attach = local
        .init
        .as_ref()
        .is_some_and(|init| makes_guard(&init.expr));
    (typed_as_guard || made_by_attach).then(|| binding.ident.clone())
}

fn makes_guard(expr: &Expr) -> bool {
    match expr {
        Expr::MethodCall(call) => call.method == "attach" && call.args.is_empty(),
        Expr::Call(call) => match &*call.func {
            Expr::Path(path) => path.path.segments.last().is_some_and(|s| {
                (s.ident == "attach" && call.args.len() == 1)
                    || s.ident == "mark_span_as_active"
                    || s.ident == "enter_telemetry_suppressed_scope"
            }),
            _ => false,
        },
        Expr::Paren(inner) => makes_guard(&inner.expr),
        _ => false,
    }
}

/// `drop(name)` or `name.detach()` as a statement: the name released.
fn released(expr: &Expr) -> Option<&Ident> {
    match expr {
        Expr::Call(call) if call.args.len() == 1 => {
            let Expr::Path(func) = &*call.func else {
                return None;
            };
            if func.path.segments.last().is_none_or(|s| s.ident != "drop") {
                return None;
            }
            path_ident(&call.args[0])
        }
        Expr::MethodCall(call) if call.method == "detach" && call.args.is_empty() => {
            path_ident(&call.receiver)
        }
        _ => None,
    }
}

fn path_ident(expr: &Expr) -> Option<&Ident> {
    match expr {
        Expr::Path(path) => path.path.get_ident(),
        _ => None,
    }
}
