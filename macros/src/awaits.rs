//! "A context token alive at an `.await`" as a compile error, decided by the value's type.
//!
//! A token attached in an async body and still alive when the task suspends would leave its
//! context on the worker thread for every task polled there next (tracebound's own tokens are
//! detached for the suspension at run time; OpenTelemetry's `ContextGuard`s cannot be).
//! This pass finds the values that may be tokens or guards: the result of a call or method
//! named `attach`, `mark_span_as_active` or `enter_telemetry_suppressed_scope`, bound by `let`
//! (also inside a struct, tuple, `Some(…)` or array), assigned to a name declared earlier, or
//! matched on. For each one still alive at an `.await` (or a `select!`/`join!`), it wraps the
//! value in a check that compiles only if the value is **not** a `ContextToken`/`ContextGuard`:
//! `db.attach()` returning a connection compiles, `tracebound::attach(cx)` does not.
//!
//! `let v = cx.attach();` alive at `x.await` gets its check right after it:
//! ```text
//! let v = cx.attach();
//! { /* error at `.await` if v is a token */ }
//! ```
//! a value inside a struct, a tuple, `Some(…)`, an array or an assignment is checked where it
//! is made, `{ let tb_held = cx.attach(); { /* check */ } tb_held }`, and a matched one inside
//! the match, `match E { v => { /* check */ match v { arms } } }`.
//! A value moved (passed by value, `drop`), with a method called on it (`.detach()`,
//! `.take()`), or mentioned in a macro, counts as released from there on, even on one branch
//! only: the check never rejects code in which the
//! token may be gone. Closures and `async` blocks are futures of their own and start with
//! nothing alive. `let _ = attach(cx);`, which detaches at once, is an error too.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::visit_mut::{self, VisitMut};
use syn::{Block, Expr, Ident, Local, Pat, Stmt, parse_quote};

/// `block` with its checks, and the items the checks use (to be placed at the top of the
/// function); `is_async` says whether the block itself is an async body.
pub fn checked(krate: &TokenStream, block: &Block, is_async: bool) -> (Block, TokenStream) {
    let mut block = block.clone();
    let mut finder = Finder {
        live: Vec::new(),
        candidates: Vec::new(),
        in_async: is_async,
    };
    finder.visit_block_mut(&mut block);
    let mut fix = Fixup {
        krate,
        candidates: &finder.candidates,
        items: TokenStream::new(),
        sites: 0,
    };
    fix.visit_block_mut(&mut block);
    (block, fix.items)
}

/// A value that may be a token.
struct Candidate {
    /// How messages name it.
    what: String,
    /// Where it was found alive, or dropped at once: each gets a check there.
    sites: Vec<(Span, Message)>,
    /// The name its checks read it by: a `let` binding or a matched value, checked by a
    /// `__tb_check!(N)` statement the finder puts right after it; `None` for a value the
    /// finder wrapped as `{ let __tb_candidate_N = E; __tb_candidate_N }` (inside a struct, a
    /// tuple, an assignment).
    name: Option<Ident>,
}

#[derive(Clone, Copy)]
enum Message {
    AliveAtAwait,
    AliveAtMacro,
    DroppedAtOnce,
}

struct Live {
    candidate: usize,
    /// The binding holding it, whose moves release it; `None` for a matched value.
    name: Option<String>,
}

struct Finder {
    live: Vec<Live>,
    candidates: Vec<Candidate>,
    in_async: bool,
}

/// Macros that wait for futures without a visible `.await`.
const AWAITING_MACROS: [&str; 5] = ["select", "select_biased", "join", "try_join", "pending"];

impl Finder {
    fn separate_future(&mut self, is_async: bool, f: impl FnOnce(&mut Self)) {
        let live = std::mem::take(&mut self.live);
        let was_async = std::mem::replace(&mut self.in_async, is_async);
        f(self);
        self.live = live;
        self.in_async = was_async;
    }

    fn new_candidate(&mut self, what: String, name: Option<Ident>) -> usize {
        self.candidates.push(Candidate {
            what,
            sites: Vec::new(),
            name,
        });
        self.candidates.len() - 1
    }

    /// A `let` of a value that may be a token: the candidate, if the check goes after the
    /// statement (the value bound to one name, whose type the `let` may annotate).
    fn bind_local(&mut self, local: &mut Local) -> Option<usize> {
        let init = &mut local.init.as_mut()?.expr;
        if makes_guard(init)
            && let Pat::Ident(binding) = strip(&local.pat)
        {
            let name = binding.ident.clone();
            let n = self.new_candidate(format!("context token `{name}`"), Some(name.clone()));
            self.live.push(Live {
                candidate: n,
                name: Some(name.to_string()),
            });
            return Some(n);
        }
        self.bind(&local.pat, init);
        None
    }

    /// Wraps `expr` as candidate N if it may be a token; returns N.
    fn candidate(&mut self, expr: &mut Expr, what: String) -> Option<usize> {
        if !makes_guard(expr) {
            return None;
        }
        let n = self.new_candidate(what, None);
        let marker = marker(n);
        let value = std::mem::replace(expr, parse_quote!(()));
        *expr = parse_quote!({ let #marker = #value; #marker });
        Some(n)
    }

    /// The candidates in the parts of a `let` initializer that end up in `pat`'s bindings.
    fn bind(&mut self, pat: &Pat, init: &mut Expr) {
        let name = binding_name(pat);
        let what = match &name {
            Some(name) => format!("context token `{name}`"),
            None => "context token".to_owned(),
        };
        if let Some(n) = self.candidate(init, what) {
            if let Pat::Wild(wild) = strip(pat) {
                let at = wild.underscore_token.span;
                self.candidates[n].sites.push((at, Message::DroppedAtOnce));
            } else {
                self.live.push(Live { candidate: n, name });
            }
            return;
        }
        match (strip(pat), init) {
            (Pat::Tuple(pats), Expr::Tuple(exprs)) if pats.elems.len() == exprs.elems.len() => {
                for (pat, expr) in pats.elems.iter().zip(exprs.elems.iter_mut()) {
                    self.bind(pat, expr);
                }
            }
            (_, init) => {
                let Some(name) = name else { return };
                let what = format!("`{name}`, which holds a context token,");
                for part in parts(init) {
                    if let Some(n) = self.candidate(part, what.clone()) {
                        self.live.push(Live {
                            candidate: n,
                            name: Some(name.clone()),
                        });
                    }
                }
            }
        }
    }

    fn awaited(&mut self, at: Span, message: Message) {
        if !self.in_async {
            return;
        }
        for live in &self.live {
            self.candidates[live.candidate].sites.push((at, message));
        }
    }

    fn release(&mut self, name: &str) {
        self.live.retain(|l| l.name.as_deref() != Some(name));
    }

    /// Releases every live name that appears among `tokens` (a macro's input).
    fn release_mentioned(&mut self, tokens: &TokenStream) {
        let mut names = Vec::new();
        crate::ast::idents(tokens.clone(), &mut names);
        for name in names {
            self.release(&name);
        }
    }
}

impl VisitMut for Finder {
    fn visit_block_mut(&mut self, block: &mut Block) {
        let depth = self.live.len();
        let mut bound = Vec::new();
        for (i, stmt) in block.stmts.iter_mut().enumerate() {
            match stmt {
                Stmt::Local(local) => {
                    self.visit_local_mut(local);
                    bound.extend(self.bind_local(local).map(|n| (i, n)));
                }
                other => self.visit_stmt_mut(other),
            }
        }
        // Whatever this block bound is dropped at its end: every site of its candidates is
        // known, and those found alive get their check right after their `let`.
        self.live.truncate(depth.min(self.live.len()));
        for (i, n) in bound.into_iter().rev() {
            if !self.candidates[n].sites.is_empty() {
                block.stmts.insert(i + 1, placeholder(n));
            }
        }
    }

    fn visit_local_mut(&mut self, local: &mut Local) {
        let Some(init) = &mut local.init else { return };
        self.visit_expr_mut(&mut init.expr);
        if let Some((_, diverge)) = &mut init.diverge {
            self.visit_expr_mut(diverge);
        }
    }

    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        match expr {
            Expr::Path(path) => {
                // A name used by value (moved), or with a method called on it (`detach`,
                // `take`, `replace`… may release what it holds): released from here on, so
                // that no program that may have released its token is rejected.
                if let Some(ident) = path.path.get_ident() {
                    self.release(&ident.to_string());
                }
            }
            Expr::Reference(reference) => {
                if !is_name(&reference.expr) {
                    self.visit_expr_mut(&mut reference.expr);
                }
            }
            Expr::Field(field) => {
                if !is_name(&field.base) {
                    self.visit_expr_mut(&mut field.base);
                }
            }
            Expr::Await(node) => {
                self.visit_expr_mut(&mut node.base);
                self.awaited(node.await_token.span, Message::AliveAtAwait);
            }
            Expr::Assign(assign) => {
                self.visit_expr_mut(&mut assign.right);
                // The value assigned over is dropped.
                if let Some(name) = name_of(&assign.left) {
                    self.release(&name);
                }
                if let Some(name) = name_of(&assign.left)
                    && let Some(n) =
                        self.candidate(&mut assign.right, format!("context token `{name}`"))
                {
                    self.live.push(Live {
                        candidate: n,
                        name: Some(name),
                    });
                }
            }
            Expr::Match(node) => {
                self.visit_expr_mut(&mut node.expr);
                let depth = self.live.len();
                let candidate = makes_guard(&node.expr).then(|| {
                    let name = format_ident!("tb_matched_{}", self.candidates.len());
                    let n = self
                        .new_candidate("the context token matched here".into(), Some(name.clone()));
                    self.live.push(Live {
                        candidate: n,
                        name: None,
                    });
                    (n, name)
                });
                for arm in &mut node.arms {
                    self.visit_arm_mut(arm);
                }
                self.live.truncate(depth.min(self.live.len()));
                // `match E { arms }` becomes `match E { v => { check(&v); match v { arms } } }`:
                // the scrutinee's temporaries live as long as before.
                if let Some((n, name)) = candidate
                    && !self.candidates[n].sites.is_empty()
                {
                    let check = placeholder(n);
                    let arms = std::mem::take(&mut node.arms);
                    let inner = syn::ExprMatch {
                        attrs: Vec::new(),
                        match_token: node.match_token,
                        expr: Box::new(parse_quote!(#name)),
                        brace_token: node.brace_token,
                        arms,
                    };
                    node.arms = vec![parse_quote!(#name => { #check #inner })];
                }
            }
            Expr::Closure(node) => {
                // A closure may capture what is alive: released from here on.
                self.release_mentioned(&node.body.to_token_stream());
                let is_async = node.asyncness.is_some();
                self.separate_future(is_async, |this| {
                    visit_mut::visit_expr_closure_mut(this, node)
                });
            }
            Expr::Async(node) => {
                self.release_mentioned(&node.block.to_token_stream());
                self.separate_future(true, |this| visit_mut::visit_expr_async_mut(this, node));
            }
            Expr::Macro(node) => self.visit_macro_mut(&mut node.mac),
            other => visit_mut::visit_expr_mut(self, other),
        }
    }

    fn visit_stmt_mut(&mut self, stmt: &mut Stmt) {
        match stmt {
            Stmt::Macro(node) => self.visit_macro_mut(&mut node.mac),
            Stmt::Item(_) => {}
            other => visit_mut::visit_stmt_mut(self, other),
        }
    }

    fn visit_macro_mut(&mut self, mac: &mut syn::Macro) {
        let name = mac.path.segments.last().map(|s| s.ident.to_string());
        if name.is_some_and(|n| AWAITING_MACROS.contains(&n.as_str())) {
            let at = mac
                .path
                .segments
                .last()
                .map_or_else(Span::call_site, |s| s.ident.span());
            self.awaited(at, Message::AliveAtMacro);
        } else if let Some(at) = await_in(&mac.tokens) {
            self.awaited(at, Message::AliveAtAwait);
        }
        self.release_mentioned(&mac.tokens);
    }

    fn visit_item_mut(&mut self, _: &mut syn::Item) {}
}

/// Replaces each candidate's marker: with its checks if it has sites, else by the value alone.
struct Fixup<'a> {
    krate: &'a TokenStream,
    candidates: &'a [Candidate],
    /// One trait and function per site: the trait carries the site's message.
    items: TokenStream,
    sites: usize,
}

impl Fixup<'_> {
    /// The checks of candidate `n`, reading it by `held`.
    fn checks(&mut self, n: usize, held: &Ident) -> Vec<TokenStream> {
        let candidate = &self.candidates[n];
        let mut checks = Vec::new();
        for (at, message) in &candidate.sites {
            let (item, check) = check(self.krate, self.sites, held, *at, &candidate.what, *message);
            self.items.extend(item);
            checks.push(check);
            self.sites += 1;
        }
        checks
    }
}

impl VisitMut for Fixup<'_> {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        visit_mut::visit_expr_mut(self, expr);
        let Some((n, value)) = wrapped(expr) else {
            return;
        };
        if self.candidates[n].sites.is_empty() {
            *expr = value;
            return;
        }
        let held = Ident::new("tb_held", Span::call_site());
        let checks = self.checks(n, &held);
        *expr = parse_quote!({ let #held = #value; #(#checks)* #held });
    }

    fn visit_stmt_mut(&mut self, stmt: &mut Stmt) {
        visit_mut::visit_stmt_mut(self, stmt);
        let Some(n) = placeholder_of(stmt) else {
            return;
        };
        let Some(held) = self.candidates[n].name.clone() else {
            return;
        };
        let checks = self.checks(n, &held);
        *stmt = Stmt::Expr(parse_quote!({ #(#checks)* }), None);
    }
}

/// `__tb_check!(N);`: where the checks of candidate N go.
fn placeholder(n: usize) -> Stmt {
    let n = syn::Index::from(n);
    parse_quote!(__tb_check!(#n);)
}

fn placeholder_of(stmt: &Stmt) -> Option<usize> {
    let Stmt::Macro(mac) = stmt else {
        return None;
    };
    if !mac.mac.path.is_ident("__tb_check") {
        return None;
    }
    mac.mac
        .parse_body::<syn::LitInt>()
        .ok()?
        .base10_parse()
        .ok()
}

/// The candidate number and value of a marker block the finder made.
fn wrapped(expr: &Expr) -> Option<(usize, Expr)> {
    let Expr::Block(block) = expr else {
        return None;
    };
    let [Stmt::Local(local), Stmt::Expr(_, None)] = block.block.stmts.as_slice() else {
        return None;
    };
    let Pat::Ident(pat) = &local.pat else {
        return None;
    };
    let n = pat
        .ident
        .to_string()
        .strip_prefix("__tb_candidate_")?
        .parse()
        .ok()?;
    Some((n, (*local.init.as_ref()?.expr).clone()))
}

fn marker(n: usize) -> Ident {
    format_ident!("__tb_candidate_{}", n, span = Span::mixed_site())
}

/// A statement that compiles only if `held` is not a token or guard, with the error at `at`,
/// and the items it uses: a trait whose unmet bound carries the message, and a function
/// requiring it.
fn check(
    krate: &TokenStream,
    site: usize,
    held: &Ident,
    at: Span,
    what: &str,
    message: Message,
) -> (TokenStream, TokenStream) {
    let (message, label) = match message {
        Message::AliveAtAwait => (
            format!(
                "{what} is still attached at this `.await`: while the task is suspended, its \
                 context would stay on the thread and leak into other tasks; release it first \
                 (`drop(…)` or `.detach()`), or end its scope before awaiting"
            ),
            "still attached here",
        ),
        Message::AliveAtMacro => (
            format!(
                "{what} is still attached while this macro awaits: while the task is \
                 suspended, its context would stay on the thread and leak into other tasks; \
                 release it first (`drop(…)` or `.detach()`), or end its scope before awaiting"
            ),
            "still attached here",
        ),
        Message::DroppedAtOnce => (
            format!(
                "`let _ = …` drops the {what} at once, so nothing stays attached; bind it to a \
                 name (`let _token = …`) for as long as the context should stay attached"
            ),
            "dropped here, detaching at once",
        ),
    };
    let released = format_ident!("ContextTokenReleased{}", site);
    let check = format_ident!("__tb_check_released_{}", site);
    let call_check = Ident::new(&check.to_string(), at);
    let items = quote! {
        #[diagnostic::on_unimplemented(message = #message, label = #label)]
        trait #released {}
        impl #released for #krate::__private::held::NotAContextToken {}
        fn #check<T: #released>(_: T) {}
    };
    let call = quote_spanned!(at=> #call_check((&Probe(&#held)).__tb_kind()));
    let statement = quote! {
        {
            use #krate::__private::held::*;
            #call;
        }
    };
    (items, statement)
}

/// Whether `expr` is a call shaped like one that makes a token or guard: `cx.attach()`,
/// `attach(cx)`, `mark_span_as_active(span)`, `enter_telemetry_suppressed_scope()`. Whether
/// it does is left to its type.
fn makes_guard(expr: &Expr) -> bool {
    match expr {
        Expr::MethodCall(call) => {
            call.args.is_empty()
                && (call.method == "attach" || call.method == "enter_telemetry_suppressed_scope")
        }
        Expr::Call(call) => match &*call.func {
            Expr::Path(path) => path
                .path
                .segments
                .last()
                .is_some_and(|s| match call.args.len() {
                    0 => s.ident == "enter_telemetry_suppressed_scope",
                    1 => s.ident == "attach" || s.ident == "mark_span_as_active",
                    _ => false,
                }),
            _ => false,
        },
        Expr::Paren(inner) => makes_guard(&inner.expr),
        Expr::Group(inner) => makes_guard(&inner.expr),
        _ => false,
    }
}

/// The parts of an aggregate value that may hold a token: struct fields, tuple and array
/// elements, the arguments of a tuple struct or variant (`Some(…)`).
fn parts(expr: &mut Expr) -> Vec<&mut Expr> {
    match expr {
        Expr::Struct(s) => s.fields.iter_mut().map(|f| &mut f.expr).collect(),
        Expr::Tuple(t) => t.elems.iter_mut().collect(),
        Expr::Array(a) => a.elems.iter_mut().collect(),
        Expr::Paren(p) => parts(&mut p.expr),
        Expr::Call(call) if is_constructor(&call.func) => call.args.iter_mut().collect(),
        _ => Vec::new(),
    }
}

fn is_constructor(func: &Expr) -> bool {
    let Expr::Path(path) = func else {
        return false;
    };
    // `Some(…)`, `Holder(…)`; not `Holder::new(…)`, which may consume what it is given.
    path.path.segments.last().is_some_and(|s| {
        s.ident
            .to_string()
            .starts_with(|c: char| c.is_ascii_uppercase())
    })
}

fn strip(pat: &Pat) -> &Pat {
    match pat {
        Pat::Type(typed) => strip(&typed.pat),
        Pat::Paren(paren) => strip(&paren.pat),
        other => other,
    }
}

fn binding_name(pat: &Pat) -> Option<String> {
    match strip(pat) {
        Pat::Ident(p) => Some(p.ident.to_string()),
        _ => None,
    }
}

fn is_name(expr: &Expr) -> bool {
    name_of(expr).is_some()
}

fn name_of(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Path(path) if path.qself.is_none() => path.path.get_ident().map(Ident::to_string),
        Expr::Paren(p) => name_of(&p.expr),
        _ => None,
    }
}

/// The first `.await` among a macro's tokens: enough for `println!("{}", f().await)`.
fn await_in(tokens: &TokenStream) -> Option<Span> {
    let mut previous: Option<TokenTree> = None;
    for tree in tokens.clone() {
        match &tree {
            TokenTree::Ident(ident) if ident == "await" => {
                if let Some(TokenTree::Punct(dot)) = &previous
                    && dot.as_char() == '.'
                {
                    return Some(ident.span());
                }
            }
            TokenTree::Group(group) => {
                if let Some(found) = await_in(&group.stream()) {
                    return Some(found);
                }
            }
            _ => {}
        }
        previous = Some(tree);
    }
    None
}
