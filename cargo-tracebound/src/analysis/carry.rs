//! Whether what crosses a boundary — a future, a closure — carries the spawner's context.

use std::collections::HashSet;

use syn::Expr;
use syn::visit::Visit;

use super::expr;
use crate::boundary::{Auditor, Binding, Judgement};
use crate::index::{Call, Callee};
use crate::source::Imports;

/// How deep `let` bindings are followed: `let a = f(); let b = a; spawn(b)`.
const MAX_DEPTH: usize = 8;

impl Auditor<'_> {
    /// A future handed to an executor: carried when it was wrapped or built by a traced fn in
    /// the spawner, lost when it is an async block or a plain fn's future.
    /// `fix` says how to carry this kind of boundary.
    pub(crate) fn future(&self, e: &Expr, fix: &str) -> Judgement {
        self.future_at(e, fix, 0)
    }

    fn future_at(&self, e: &Expr, fix: &str, depth: usize) -> Judgement {
        let imports = &self.file.imports;
        if let Some(how) = expr::wrapper(e, imports) {
            return Judgement::carried(format!("{how} carries the spawner's context"));
        }
        if depth < MAX_DEPTH
            && let Some(base) = expr::combinator_base(e)
        {
            return self.future_at(base, fix, depth + 1);
        }
        match expr::strip(e) {
            Expr::Async(block) => match by_hand(&block.block, imports) {
                Some(how) if how.starts_with("attaches") => Judgement::lost(
                    format!(
                        "the block {how} and holds it across `.await`: the context stays on whichever worker polled it, and the next poll may run elsewhere"
                    ),
                    "wrap the future with .with_context(cx) (or use tracebound::spawn) instead of attaching inside it",
                ),
                Some(how) => {
                    Judgement::carried(format!("the block {how}, captured where it was spawned"))
                }
                None if let Some(name) = self.consumes(&block.block) => {
                    Judgement::carried(format!(
                        "`{name}` is #[traced_consumer]: the block takes its context from the message, not from the spawner"
                    ))
                }
                None => Judgement::lost(
                    "an async block starts with no context: its spans are new roots",
                    fix,
                ),
            },
            Expr::Call(call) => match &*call.func {
                Expr::Path(p) => self.callee(&expr::last_ident(&p.path), call_kind(&p.path), fix),
                _ => Judgement::unknown("a future from a computed callee", fix),
            },
            Expr::MethodCall(m)
                if m.method == "wrap" && self.describe(&m.receiver).contains("Snapshot") =>
            {
                Judgement::carried("snapshot.wrap(…) attaches the snapshot on every poll")
            }
            Expr::MethodCall(m) => self.callee(&m.method.to_string(), Call::Method, fix),
            Expr::Struct(s) if captures_context(s) => {
                Judgement::carried("the future captures Context::current() where it is spawned")
            }
            Expr::Block(b) if depth < MAX_DEPTH => match b.block.stmts.last() {
                Some(syn::Stmt::Expr(tail, None)) => self.future_at(tail, fix, depth + 1),
                _ => Judgement::unknown("the audit cannot see what this block yields", fix),
            },
            Expr::Path(p) if p.path.get_ident().is_some() => {
                let name = expr::last_ident(&p.path);
                match self.binding(&name) {
                    Some(Binding::Let {
                        init: Some(init), ..
                    }) if depth < MAX_DEPTH => self.future_at(init, fix, depth + 1),
                    Some(Binding::Param(_)) => Judgement::unknown(
                        format!(
                            "`{name}` is passed in by the caller; the audit cannot see whether it carries the context"
                        ),
                        fix,
                    ),
                    _ => Judgement::unknown(
                        format!("the audit cannot see where `{name}` comes from"),
                        fix,
                    ),
                }
            }
            Expr::Macro(m) => Judgement::unknown(
                format!(
                    "a future made by `{}!`, which the audit does not expand",
                    expr::last_ident(&m.mac.path)
                ),
                fix,
            ),
            _ => Judgement::unknown("the audit cannot see what this future is", fix),
        }
    }

    /// A call to a fn of the workspace, judged by its attributes.
    fn callee(&self, name: &str, call: Call, fix: &str) -> Judgement {
        let annotate = format!("annotate fn `{name}` with #[traced_task], or {fix}");
        match self.index.callee(name, call) {
            Callee::Traced(attribute) => Judgement::carried(format!(
                "`{name}` is #[{attribute}]: its future captures the context when it is called, in the spawner"
            )),
            Callee::Wraps => Judgement::carried(format!(
                "`{name}` returns a future that carries its caller's context"
            )),
            Callee::Instrumented => Judgement::lost(
                format!(
                    "`{name}` has #[instrument], whose span starts at the first poll, inside the new task, with no parent"
                ),
                annotate,
            ),
            Callee::Plain => Judgement::lost(
                format!("`{name}` is not traced: nothing carries the context into its future"),
                annotate,
            ),
            Callee::Ambiguous => Judgement::unknown(
                format!("several fns are named `{name}`, and only some of them carry the context"),
                fix,
            ),
            Callee::Outside => Judgement::unknown(
                format!(
                    "`{name}` is not defined in the workspace; the audit cannot see whether its future carries the context"
                ),
                fix,
            ),
        }
    }

    /// A call in the block to a `#[traced_consumer]` fn.
    fn consumes(&self, block: &syn::Block) -> Option<String> {
        struct Consumes<'i>(&'i crate::index::Index, Option<String>);
        impl<'ast> Visit<'ast> for Consumes<'_> {
            fn visit_expr_call(&mut self, call: &'ast syn::ExprCall) {
                if let Expr::Path(p) = &*call.func {
                    let name = expr::last_ident(&p.path);
                    if let Callee::Traced("traced_consumer") =
                        self.0.callee(&name, call_kind(&p.path))
                    {
                        self.1.get_or_insert(name);
                    }
                }
                syn::visit::visit_expr_call(self, call);
            }
            fn visit_expr_method_call(&mut self, m: &'ast syn::ExprMethodCall) {
                let name = m.method.to_string();
                if let Callee::Traced("traced_consumer") = self.0.callee(&name, Call::Method) {
                    self.1.get_or_insert(name);
                }
                syn::visit::visit_expr_method_call(self, m);
            }
        }
        let mut find = Consumes(self.index, None);
        find.visit_block(block);
        find.1
    }

    /// A closure run on another thread: carried when it was bound, or attaches a context it
    /// captured.
    pub(crate) fn closure(&self, e: &Expr, fix: &str) -> Judgement {
        self.closure_at(e, fix, 0)
    }

    fn closure_at(&self, e: &Expr, fix: &str, depth: usize) -> Judgement {
        let imports = &self.file.imports;
        if let Some(how) = expr::wrapper(e, imports) {
            return Judgement::carried(format!("{how} carries the spawner's context"));
        }
        match expr::strip(e) {
            Expr::Closure(c) => match by_hand(&*c.body, imports) {
                Some(how) => {
                    Judgement::carried(format!("the closure {how}, captured where it was spawned"))
                }
                None => Judgement::lost(
                    "the closure runs on another thread, where no context is current",
                    fix,
                ),
            },
            Expr::Path(p) => {
                let name = expr::last_ident(&p.path);
                match self.binding(&name) {
                    Some(Binding::Let {
                        init: Some(init), ..
                    }) if p.path.get_ident().is_some() && depth < MAX_DEPTH => {
                        self.closure_at(init, fix, depth + 1)
                    }
                    Some(Binding::Param(_)) => Judgement::unknown(
                        format!(
                            "`{name}` is passed in by the caller; the audit cannot see whether it carries the context"
                        ),
                        fix,
                    ),
                    _ if self.index.defines(&name) => Judgement::lost(
                        format!("fn `{name}` runs on another thread, where no context is current"),
                        fix,
                    ),
                    _ => Judgement::unknown(format!("the audit cannot see what `{name}` is"), fix),
                }
            }
            _ => Judgement::unknown("the audit cannot see what this closure is", fix),
        }
    }
}

/// A struct literal with a field set from `Context::current()` or `Snapshot::capture()`.
fn captures_context(s: &syn::ExprStruct) -> bool {
    s.fields.iter().any(|f| {
        let text = quote::ToTokens::to_token_stream(&f.expr).to_string();
        text.contains("Context :: current ()") || text.contains("Snapshot :: capture ()")
    })
}

/// Which fns a call through this path can reach.
pub(crate) fn call_kind(path: &syn::Path) -> Call {
    if path.segments.len() == 1 {
        Call::Free
    } else {
        Call::Path
    }
}

/// Whether code that runs after the boundary restores a context captured before it: it attaches
/// a captured context or snapshot, or wraps a future with a captured context or span. Something
/// made inside (a `Context::current()` there, `.with_current_context()` there) does not count:
/// it is the new thread's empty context.
pub(crate) fn by_hand(body: &impl ToVisit, imports: &Imports) -> Option<String> {
    let mut locals = Locals::default();
    body.visit_with(&mut locals);
    let mut find = Restores {
        imports,
        locals: locals.0,
        found: None,
    };
    body.visit_with(&mut find);
    find.found
}

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

/// The names bound inside a block: its `let`s and its closures' parameters.
#[derive(Default)]
struct Locals(HashSet<String>);

impl<'ast> Visit<'ast> for Locals {
    fn visit_pat_ident(&mut self, p: &'ast syn::PatIdent) {
        self.0.insert(p.ident.to_string());
        syn::visit::visit_pat_ident(self, p);
    }
}

struct Restores<'i> {
    imports: &'i Imports,
    locals: HashSet<String>,
    found: Option<String>,
}

impl Restores<'_> {
    /// `cx`, `cx.clone()`, `&cx` where `cx` is not bound inside.
    fn captured(&self, e: &Expr) -> Option<String> {
        match expr::strip(e) {
            Expr::Path(p) => {
                let ident = p.path.get_ident()?.to_string();
                (!self.locals.contains(&ident)).then_some(ident)
            }
            Expr::MethodCall(m) if m.method == "clone" && m.args.is_empty() => {
                self.captured(&m.receiver)
            }
            _ => None,
        }
    }
}

impl<'ast> Visit<'ast> for Restores<'_> {
    fn visit_expr_method_call(&mut self, m: &'ast syn::ExprMethodCall) {
        let method = m.method.to_string();
        let found = match (method.as_str(), m.args.len()) {
            ("attach", 0) => self
                .captured(&m.receiver)
                .map(|x| format!("attaches `{x}`")),
            ("with_context" | "instrument", 1) => self
                .captured(&m.args[0])
                .map(|x| format!("runs a future with `{x}`")),
            _ => None,
        };
        self.found = self.found.take().or(found);
        syn::visit::visit_expr_method_call(self, m);
    }

    fn visit_expr_call(&mut self, call: &'ast syn::ExprCall) {
        if let Expr::Path(p) = &*call.func {
            let path = self.imports.resolve(&p.path);
            let is = |name: &str| {
                path.last().is_some_and(|l| l == name)
                    && (path.len() == 1 || path[0] == "tracebound" || path[0] == "Context")
            };
            if (is("attach") || is("with_context"))
                && let Some(x) = call.args.first().and_then(|a| self.captured(a))
            {
                self.found = self.found.take().or(Some(format!("attaches `{x}`")));
            }
        }
        syn::visit::visit_expr_call(self, call);
    }
}
