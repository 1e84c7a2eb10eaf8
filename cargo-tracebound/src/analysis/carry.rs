//! Whether what crosses a boundary — a future, a closure — carries the spawner's context.

use std::collections::HashSet;

use syn::Expr;
use syn::visit::Visit;

use super::expr::{self, ToVisit};
use crate::boundary::{Auditor, Binding, Judgement};
use crate::index::{Call, Callee};

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
        if let Some(how) = expr::wrapper(e, self.imports()) {
            return Judgement::carried(format!("{how} carries the spawner's context"));
        }
        if depth >= MAX_DEPTH {
            return Judgement::unknown("the audit stopped following this value", fix);
        }
        if let Some(base) = expr::combinator_base(e) {
            return self.future_at(base, fix, depth + 1);
        }
        match expr::strip(e) {
            Expr::Async(block) => match self.by_hand(&block.block) {
                Some(Restored::Held(how)) if awaits(&block.block) => Judgement::lost(
                    format!(
                        "the block {how} and holds it across `.await`: it stays on whichever worker polled the task, and the next poll may run elsewhere"
                    ),
                    "wrap the future with .with_context(cx) (or use tracebound::spawn) instead of attaching inside it",
                ),
                Some(Restored::Held(how) | Restored::Scoped(how)) => {
                    Judgement::carried(format!("the block {how}, captured where it was spawned"))
                }
                None => match self.consumes(&block.block) {
                    Some(name) => consumer_call(&name),
                    None => Judgement::lost(
                        "an async block starts with no context: its spans are new roots",
                        fix,
                    ),
                },
            },
            Expr::Call(call) => match &*call.func {
                // `let make = move || work(id); spawn(make())`.
                Expr::Path(p) if p.path.get_ident().is_some() => {
                    match self.closure_init(&call.func) {
                        Some((body, id)) => {
                            self.follow(id, || self.future_at(body, fix, depth + 1))
                        }
                        None => {
                            self.callee(&expr::last_ident(&p.path), expr::call_kind(&p.path), fix)
                        }
                    }
                }
                Expr::Path(p) => {
                    self.callee(&expr::last_ident(&p.path), expr::call_kind(&p.path), fix)
                }
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
            Expr::Block(b) => match b.block.stmts.last() {
                Some(syn::Stmt::Expr(tail, None)) => self.future_at(tail, fix, depth + 1),
                _ => Judgement::unknown("the audit cannot see what this block yields", fix),
            },
            Expr::Path(p) if p.path.get_ident().is_some() => {
                let name = expr::last_ident(&p.path);
                match self.binding(&name) {
                    Some(Binding::Let {
                        init: Some(init),
                        id,
                        ..
                    }) => self.follow(id, || self.future_at(init, fix, depth + 1)),
                    Some(Binding::Param(_)) => Judgement::unknown(
                        format!(
                            "`{name}` is passed in by the caller; the audit cannot see whether it carries the context"
                        ),
                        fix,
                    ),
                    Some(Binding::Pattern) => Judgement::unknown(
                        format!(
                            "`{name}` is bound by a pattern (`if let`, `match`, `for`); the audit does not follow it"
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

    /// The body of a closure a plain name is bound to.
    fn closure_init(&self, e: &Expr) -> Option<(&Expr, usize)> {
        match self.init_of(e)? {
            (Expr::Closure(c), id) => Some((&*c.body, id)),
            _ => None,
        }
    }

    /// A call to a fn of the workspace, judged by its attributes.
    fn callee(&self, name: &str, call: Call, fix: &str) -> Judgement {
        let annotate = format!("annotate fn `{name}` with #[traced_task], or {fix}");
        match self.index.callee(name, call, &self.file.name) {
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

    /// A call in the code to a `#[traced_consumer]` fn.
    fn consumes(&self, code: &impl ToVisit) -> Option<String> {
        expr::calls(code).into_iter().find_map(|site| {
            let name = site.name();
            let callee = self.index.callee(&name, site.call(), &self.file.name);
            matches!(callee, Callee::Traced("traced_consumer")).then_some(name)
        })
    }

    /// A closure run on another thread: carried when it was bound, or attaches a context it
    /// captured.
    pub(crate) fn closure(&self, e: &Expr, fix: &str) -> Judgement {
        self.closure_at(e, fix, 0)
    }

    fn closure_at(&self, e: &Expr, fix: &str, depth: usize) -> Judgement {
        if let Some(how) = expr::wrapper(e, self.imports()) {
            return Judgement::carried(format!("{how} carries the spawner's context"));
        }
        match expr::strip(e) {
            Expr::Closure(c) => match self.by_hand(&*c.body) {
                Some(Restored::Held(how) | Restored::Scoped(how)) => {
                    Judgement::carried(format!("the closure {how}, captured where it was spawned"))
                }
                None => match self.consumes(&*c.body) {
                    Some(name) => consumer_call(&name),
                    None => Judgement::lost(
                        "the closure runs on another thread, where no context is current",
                        fix,
                    ),
                },
            },
            Expr::Path(p) => {
                let name = expr::last_ident(&p.path);
                match self.binding(&name) {
                    Some(Binding::Let {
                        init: Some(init),
                        id,
                        ..
                    }) if p.path.get_ident().is_some() && depth < MAX_DEPTH => {
                        self.follow(id, || self.closure_at(init, fix, depth + 1))
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

    /// Whether code that runs after the boundary restores a context captured before it.
    fn by_hand(&self, body: &impl ToVisit) -> Option<Restored> {
        let mut find = Restores {
            auditor: self,
            locals: expr::bound_names(body).into_iter().collect(),
            found: None,
        };
        body.visit_with(&mut find);
        find.found
    }
}

fn consumer_call(name: &str) -> Judgement {
    Judgement::carried(format!(
        "`{name}` is #[traced_consumer]: the work takes its context from the message, not from the spawner"
    ))
}

/// A struct literal with a field set from `Context::current()` or `Snapshot::capture()`.
fn captures_context(s: &syn::ExprStruct) -> bool {
    s.fields.iter().any(|f| {
        let text = quote::ToTokens::to_token_stream(&f.expr).to_string();
        text.contains("Context :: current ()") || text.contains("Snapshot :: capture ()")
    })
}

/// Whether a block awaits (not counting async blocks and closures inside it).
fn awaits(block: &syn::Block) -> bool {
    struct Awaits(bool);
    impl<'ast> Visit<'ast> for Awaits {
        fn visit_expr_await(&mut self, _: &'ast syn::ExprAwait) {
            self.0 = true;
        }
        fn visit_expr_async(&mut self, _: &'ast syn::ExprAsync) {}
        fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
    }
    let mut find = Awaits(false);
    find.visit_block(block);
    find.0
}

/// How code after a boundary restores a captured context.
enum Restored {
    /// Attached until a guard drops: `cx.attach()`, `span.enter()`.
    Held(String),
    /// For a call or a future only: `with_context(cx, f)`, `span.in_scope(f)`,
    /// `snapshot.run(f)`, `fut.with_context(cx)`, `fut.instrument(span)`.
    Scoped(String),
}

/// Finds a captured context, snapshot or span being restored. Something made inside (a
/// `Context::current()` there, `.with_current_context()` there) does not count: it is the new
/// thread's empty context.
struct Restores<'x, 'a> {
    auditor: &'x Auditor<'a>,
    locals: HashSet<String>,
    found: Option<Restored>,
}

impl Restores<'_, '_> {
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

    fn is(&self, receiver: &Expr, ty: &str) -> bool {
        let text = self.auditor.describe(receiver);
        text.contains(ty) || (ty == "Span" && text.contains("span!"))
    }

    fn found(&mut self, restored: Option<Restored>) {
        if self.found.is_none() {
            self.found = restored;
        }
    }
}

impl<'ast> Visit<'ast> for Restores<'_, '_> {
    fn visit_expr_method_call(&mut self, m: &'ast syn::ExprMethodCall) {
        let method = m.method.to_string();
        let receiver = self.captured(&m.receiver);
        let restored = match (method.as_str(), m.args.len(), receiver) {
            ("attach", 0, Some(x)) => Some(Restored::Held(format!("attaches `{x}`"))),
            ("enter" | "entered", 0, Some(x)) if self.is(&m.receiver, "Span") => {
                Some(Restored::Held(format!("enters span `{x}`")))
            }
            ("in_scope", 1, Some(x)) => Some(Restored::Scoped(format!("runs in span `{x}`"))),
            ("run", 1, Some(x)) if self.is(&m.receiver, "Snapshot") => {
                Some(Restored::Scoped(format!("runs in snapshot `{x}`")))
            }
            ("with_context" | "instrument", 1, _) => self
                .captured(&m.args[0])
                .map(|x| Restored::Scoped(format!("runs a future with `{x}`"))),
            _ => None,
        };
        self.found(restored);
        syn::visit::visit_expr_method_call(self, m);
    }

    fn visit_expr_call(&mut self, call: &'ast syn::ExprCall) {
        if let Expr::Path(p) = &*call.func {
            let path = self.auditor.imports().resolve(&p.path);
            let ours = path.len() == 1 || path[0] == "tracebound" || path[0] == "Context";
            let captured = call.args.first().and_then(|a| self.captured(a));
            let restored = match (path.last().map(String::as_str), ours, captured) {
                (Some("attach"), true, Some(x)) => Some(Restored::Held(format!("attaches `{x}`"))),
                (Some("with_context"), true, Some(x)) => {
                    Some(Restored::Scoped(format!("runs with `{x}`")))
                }
                _ => None,
            };
            self.found(restored);
        }
        syn::visit::visit_expr_call(self, call);
    }
}
