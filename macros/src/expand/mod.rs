//! Code generation. Each macro is `parse → validate → generate`; on an error the original item
//! is emitted next to the errors (see `fallback`), so the rest of the crate still type-checks
//! and IDEs keep seeing the function.
//!
//! What the macros share lives here: a macro decides how its span starts (a [`Plan`]), and
//! [`generate`] rewrites the function so that the start runs **at call time** and the body runs
//! inside the span, whatever the function's shape.

mod blocking;
mod messaging;
mod sig;
mod task;

pub use blocking::traced_blocking;
pub use messaging::{traced_consumer, traced_producer};
pub use task::traced_task;

use crate::ast::{Function, Shape};
use crate::options::{Common, Options};
use crate::stacking::{self, Stacking};
use crate::{awaits, fallback};
use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{Ident, LitStr, ReturnType, Stmt, parse_quote};

/// How a macro starts its span.
pub struct Plan {
    pub krate: TokenStream,
    /// An expression evaluating to the `Started` call: the context that holds the new span.
    pub start: TokenStream,
    /// Statements run right after the start, with [`cx`] in scope (a producer's injection).
    pub after_start: TokenStream,
    pub record_errors: bool,
    /// A pull consumer's `receive`: the messages in the body's output, linked from the span
    /// before it ends.
    pub received: Option<Received>,
    /// The names the start expression reads (in `fields`, `carrier`, `batch`): parameters
    /// bound by a pattern are borrowed for it at call time.
    pub used_params: Vec<String>,
    /// The parameters the start writes into (a producer's batch).
    pub mutated_params: Vec<String>,
    /// Where the body runs.
    pub runs: Runs,
}

impl Plan {
    /// A span started by `start`, at call time, around a body that runs where it is polled; no
    /// injection, no output read but errors, no parameter written to.
    pub fn in_place(
        krate: TokenStream,
        start: TokenStream,
        common: &Common,
        used_params: Vec<String>,
    ) -> Plan {
        Plan {
            krate,
            start,
            after_start: quote!(),
            record_errors: common.records_errors(),
            received: None,
            used_params,
            mutated_params: Vec::new(),
            runs: Runs::InPlace,
        }
    }
}

/// What a pull consumer's span learns from the body's output.
pub struct Received {
    /// `receive = …`: from the output to its messages.
    pub messages: syn::Expr,
    /// Whether the output holds one message at most (a single-message API).
    pub one: bool,
    /// The attribute keys the span starts with, which a message does not set again.
    pub given: Vec<String>,
}

/// Where a traced body runs.
pub enum Runs {
    /// Where the function's future is polled (or, for a synchronous function, in the call).
    InPlace,
    /// On the blocking pool or a thread of its own: `#[traced_blocking]`.
    Elsewhere { executor: TokenStream },
}

/// The name of the context a call started, in the generated code.
pub fn cx() -> Ident {
    Ident::new("__tb_cx", Span::mixed_site())
}

/// Parses `args` and `item`, validates them with `validate`, plans with `plan` and generates.
pub fn run<O: Options>(
    attr: &'static str,
    args: TokenStream,
    item: TokenStream,
    validate: impl FnOnce(&O, &Function) -> darling::Result<()>,
    plan: impl FnOnce(&O, &Function, TokenStream) -> Plan,
) -> TokenStream {
    let (deferred, args) = stacking::strip_marker(args);
    let function = match Function::parse(item.clone(), attr) {
        Ok(function) => function,
        Err(error) => return fallback::unparsed(attr, item, error),
    };
    // Semantic rules are checked only on options that parsed: on defaults they would report
    // what the user did write as missing.
    let options = match O::parse(args.clone()).and_then(|o| validate(&o, &function).map(|()| o)) {
        Ok(options) => options,
        Err(error) => return fallback::emit(attr, function, error.write_errors()),
    };
    let krate = match options.common().krate() {
        Ok(krate) => krate,
        Err(error) => return fallback::emit(attr, function, error.into_compile_error()),
    };
    match stacking::decide(attr, &function, deferred) {
        Stacking::Defer => stacking::defer(attr, &krate, args, function),
        stacking => {
            let plan = plan(&options, &function, krate);
            generate(function, plan, stacking)
        }
    }
}

/// The `static` scope of a generated function: the user's crate name and version.
pub fn scope(krate: &TokenStream) -> TokenStream {
    quote! {
        {
            static __TB_SCOPE: #krate::__private::Scope = #krate::__private::Scope::new(
                match ::core::option_env!("CARGO_PKG_NAME") {
                    ::core::option::Option::Some(name) => name,
                    ::core::option::Option::None => "unknown",
                },
                ::core::option_env!("CARGO_PKG_VERSION"),
            );
            &__TB_SCOPE
        }
    }
}

/// The span name: `name = "…"` if given, else `default`.
pub fn span_name(common: &Common, default: String, function: &Function) -> LitStr {
    match &common.name {
        Some(name) => name.0.clone(),
        None => LitStr::new(&default, function.name().span()),
    }
}

/// The span's start attributes, as a closure: fixed `(key, value)` pairs, then `fields(…)`.
pub fn attributes(krate: &TokenStream, common: &Common, fixed: &[(&str, &LitStr)]) -> TokenStream {
    // Closures rather than paths to functions: lints read a function passed by path as a
    // side effect, and would stop suggesting `#[must_use]` for the user's function.
    if fixed.is_empty() && common.fields.0.is_empty() {
        return quote!(|| ::core::option::Option::None);
    }
    let fixed = fixed.iter().map(|(key, value)| {
        quote!(::core::option::Option::Some(#krate::__private::KeyValue::new(#key, #value)))
    });
    // Spanned at the value, so that a type that cannot be recorded is reported there.
    let fields = common.fields.0.iter().map(|field| {
        let (key, value) = (&field.key, &field.value);
        quote_spanned!(value.span()=> #krate::__private::field(#key, &(#value)))
    });
    // A closure: the values are computed only if a span is built (not with no provider).
    quote!(|| #krate::__private::fields([#(#fixed,)* #(#fields),*]))
}

/// The names `fields(…)` values read.
pub fn idents_in_fields(common: &Common) -> Vec<String> {
    let mut names = Vec::new();
    for field in &common.fields.0 {
        names_read(&field.value, &mut names);
    }
    names
}

/// The names an expression reads: paths of one identifier (not method or field names), and
/// any identifier inside a macro call, which cannot be told apart.
///
/// A closure's own parameters are not names it reads from outside: `receive = |o| o.iter()`
/// reads no parameter `o` of the function.
pub fn names_read(expr: &syn::Expr, out: &mut Vec<String>) {
    let (paths, in_macros) = reads(expr);
    out.extend(paths.iter().map(ToString::to_string));
    out.extend(in_macros);
}

/// The one-identifier paths an expression reads from outside its closures' parameters, and the
/// identifiers inside its macro calls.
pub fn reads(expr: &syn::Expr) -> (Vec<Ident>, Vec<String>) {
    #[derive(Default)]
    struct Names {
        paths: Vec<Ident>,
        in_macros: Vec<String>,
        /// The parameters of the closures being visited.
        shadowed: Vec<String>,
    }
    impl<'ast> Visit<'ast> for Names {
        fn visit_expr_path(&mut self, path: &'ast syn::ExprPath) {
            if let Some(ident) = path.path.get_ident()
                && !self.shadowed.contains(&ident.to_string())
            {
                self.paths.push(ident.clone());
            }
        }
        fn visit_expr_closure(&mut self, closure: &'ast syn::ExprClosure) {
            let before = self.shadowed.len();
            for input in &closure.inputs {
                let bound = crate::ast::binding_idents(input);
                self.shadowed.extend(bound.iter().map(ToString::to_string));
            }
            self.visit_expr(&closure.body);
            self.shadowed.truncate(before);
        }
        fn visit_macro(&mut self, mac: &'ast syn::Macro) {
            crate::ast::idents(mac.tokens.clone(), &mut self.in_macros);
        }
    }
    let mut names = Names::default();
    names.visit_expr(expr);
    (names.paths, names.in_macros)
}

/// The closure that records the body's output on the span before it ends: autoref
/// specialization picks `Err`'s `Display`, else its type name, else nothing.
fn recorder(plan: &Plan) -> TokenStream {
    let krate = &plan.krate;
    let received = plan.received.as_ref().map(|received| {
        let Received {
            messages,
            one,
            given,
        } = received;
        let fetch = match one {
            true => quote!(One),
            false => quote!(Batch),
        };
        // Spanned at the user's closure, path and all, where a message type that is not a
        // carrier is reported.
        let span = messages.span();
        let call = respan(quote!(#krate::__private::received), span);
        quote_spanned! {span=>
            #call(
                __tb_cx,
                __tb_output,
                #messages,
                #krate::__private::Fetch::#fetch,
                &[#(#given),*],
            );
        }
    });
    let errors = plan.record_errors.then(|| {
        quote! {
            use #krate::__private::record::*;
            (&#krate::__private::Outcome(__tb_output)).__tb_record(__tb_cx)
        }
    });
    if received.is_none() && errors.is_none() {
        return quote!(|_, _| {});
    }
    quote! {
        |__tb_output, __tb_cx| {
            #received
            #errors
        }
    }
}

/// `tokens` with every span set to `span`.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut token| {
            if let proc_macro2::TokenTree::Group(group) = &token {
                let mut inner =
                    proc_macro2::Group::new(group.delimiter(), respan(group.stream(), span));
                inner.set_span(span);
                token = inner.into();
            }
            token.set_span(span);
            token
        })
        .collect()
}

/// Rewrites the function so the plan's start runs at call time and the body inside the span.
///
/// `async fn f(a: A) -> R { body }` becomes
/// ```text
/// fn f(a: A) -> impl Future<Output = R> {
///     let cx = start;                              // at call time
///     instrument::<R, _, _>(cx, async move {
///         let a = a;                               // every parameter moves in (see `sig`)
///         body
///     }, record)
/// }
/// ```
/// a fn returning a future keeps its signature and becomes
/// ```text
/// fn f(a: A) -> F {
///     let cx = start;
///     let future = in_context(&cx, move || -> F { let a = a; body });
///     instrument::<_, _, _>(cx, future, record)    // `Box::pin(…)` for boxed futures
/// }
/// ```
/// a synchronous fn (consumers and producers) becomes
/// ```text
/// fn f(a: A) -> R {
///     let cx = start;
///     run_sync(cx, move || -> R { let a = a; body }, record)
/// }
/// ```
/// and a `#[traced_blocking]` fn becomes async, its body handed to the pool:
/// ```text
/// fn f(a: A) -> impl Future<Output = R> {
///     let cx = start;
///     blocking(cx, executor, "f", move || -> R { let a = a; body }, record)
/// }
/// ```
/// Beside the rewritten function, rustdoc gets the function as written (see [`doc_copy`]).
pub fn generate(function: Function, plan: Plan, stacking: Stacking) -> TokenStream {
    let cx = cx();
    let krate = &plan.krate;
    let record = recorder(&plan);
    let output = function.output(krate);
    let Plan {
        start, after_start, ..
    } = &plan;
    let Function { mut item, shape } = function;
    let original = item.clone();
    let braces = item.block.brace_token;
    let (mut body, checks) = awaits::checked(krate, &item.block, shape == Shape::Async);
    let inferable = &output.inferable;
    // The body is the user's block, braces and all, nested in the code around it, so that what
    // lints look at in it (the parent of a statement macro, say) is the user's code, and its
    // tail's temporaries drop where the function's would. It starts with a `return` that is
    // never taken: an `async` block infers its output from its first `return`, and this one
    // makes it the declared type, so that the body's `return`s and tail coerce to it as in the
    // `async fn` (`&String` to `&str`, `Box<T>` to `Box<dyn Trait>`) and `?` converts into it.
    // Inside the block, it also keeps a one-line body from reading as needless braces. (A body
    // of type `!` needs none, and the call would be unreachable code; a body `#[tokio::main]`
    // already rewrote is an `async` block already.)
    if !output.is_never && stacking != Stacking::TokioBody {
        body.stmts.insert(
            0,
            // A `let`: a bare `if` would be the tail of an empty body.
            parse_quote! {
                let () = if false {
                    return #krate::__private::unreachable_output::<#inferable>();
                };
            },
        );
    }
    let mut doc_copy = None;
    if stacking == Stacking::Entry || stacking == Stacking::TokioBody {
        // The entry point's own macro keeps (or kept) the signature.
        *item.block = match stacking {
            Stacking::Entry => parse_quote!({
                // Under `#[tokio::main]`/`#[tokio::test]` (and the like), which need an
                // `async fn`: the span starts when the function's future is first polled,
                // which is right away.
                #krate::__private::instrument::<#inferable, _, _>(
                    { #start },
                    async move #body,
                    #record,
                )
                .await
            }),
            _ => tokio_body(body, &plan, &record, inferable),
        };
    } else {
        let borrows =
            sig::borrow_pattern_bindings(&item.sig.inputs, &plan.used_params, &plan.mutated_params);
        let moved = sig::move_params(
            &mut item.sig.inputs,
            &plan.used_params,
            &plan.mutated_params,
            krate,
        );
        let rebinds = &moved.rebinds;
        let runs_later = matches!(plan.runs, Runs::Elsewhere { .. }) || shape == Shape::Async;
        if runs_later {
            item.sig.asyncness = None;
            let future = match &item.sig.abi {
                Some(_) => output.foreign_future(),
                None => output.future(),
            };
            item.sig.output = ReturnType::Type(Default::default(), Box::new(future));
        }
        if runs_later || moved.renamed {
            doc_copy = Some(self::doc_copy(&original, &mut item, runs_later));
        }
        *item.block = match (&plan.runs, shape) {
            (Runs::Elsewhere { executor }, _) => {
                let name = item.sig.ident.to_string();
                parse_quote!({
                    let #cx = { #borrows #start };
                    #krate::__private::blocking(
                        #cx,
                        #krate::__private::Executor::#executor,
                        #name,
                        move || -> #inferable { #(#rebinds)* #body },
                        #record,
                    )
                })
            }
            (Runs::InPlace, Shape::Async) => {
                // An `async fn` returning a future is allowed to; an `async` block yielding
                // one is a mistake to clippy.
                let yields_future = output
                    .is_future
                    .then(|| quote!(#[allow(clippy::async_yields_async)]));
                parse_quote!({
                    let #cx = { #borrows #start };
                    #after_start
                    #yields_future
                    let __tb_body = async move {
                        #(#rebinds)*
                        #body
                    };
                    #krate::__private::instrument::<#inferable, _, _>(#cx, __tb_body, #record)
                })
            }
            (Runs::InPlace, Shape::ImplFuture | Shape::BoxedFuture) => {
                let boxed = (shape == Shape::BoxedFuture).then(|| quote!(::std::boxed::Box::pin));
                parse_quote!({
                    let #cx = { #borrows #start };
                    #after_start
                    let __tb_future = #krate::__private::in_context(
                        &#cx,
                        move || -> #inferable { #(#rebinds)* #body },
                    );
                    #boxed(#krate::__private::instrument::<_, _, _>(#cx, __tb_future, #record))
                })
            }
            (Runs::InPlace, Shape::Sync) => parse_quote!({
                let #cx = { #borrows #start };
                #after_start
                #krate::__private::run_sync(
                    #cx,
                    move || -> #inferable { #(#rebinds)* #body },
                    #record,
                )
            }),
        };
    }
    if !checks.is_empty() {
        item.block
            .stmts
            .insert(0, Stmt::Item(syn::Item::Verbatim(checks)));
    }
    // The function keeps the user's braces, so that its span is the user's code.
    item.block.brace_token = braces;
    quote!(#doc_copy #item)
}

/// The body of a function `#[tokio::main]` or `#[tokio::test]` already rewrote (when it sits
/// above the tracebound attribute): its first statement is `let body = async { … };`, the user's
/// body, which runs traced from the call.
fn tokio_body(
    mut block: syn::Block,
    plan: &Plan,
    record: &TokenStream,
    inferable: &TokenStream,
) -> syn::Block {
    let krate = &plan.krate;
    let start = &plan.start;
    if let Some(Stmt::Local(local)) = block.stmts.first_mut()
        && let Some(init) = &mut local.init
    {
        let future = &init.expr;
        *init.expr = parse_quote! {
            #krate::__private::instrument::<#inferable, _, _>({ #start }, #future, #record)
        };
    }
    block
}

/// What rustdoc documents for a function the rewrite changes the signature of: the function
/// as written (an `async fn`, its parameters as named), under `#[cfg(doc)]`, while the
/// rewritten one is `#[cfg(not(doc))]`. A `#[traced_blocking]` function is documented as the
/// `async fn` it becomes.
fn doc_copy(original: &syn::ItemFn, rewritten: &mut syn::ItemFn, is_async: bool) -> TokenStream {
    let mut copy = original.clone();
    if is_async {
        copy.sig.asyncness = Some(Default::default());
    }
    rewritten.attrs.push(parse_quote!(#[cfg(not(doc))]));
    // `#[must_use]` on an `async fn` applies to what `.await` gives, which rustc knows only
    // for an `async fn`; on the rewritten function it would mark the future, which every
    // future already is (and clippy says so).
    if is_async {
        rewritten.attrs.retain(|a| !a.path().is_ident("must_use"));
    }
    quote!(#[cfg(doc)] #copy)
}
