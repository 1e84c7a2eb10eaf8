//! Code generation. Each macro is `parse → validate → generate`; on an error the original item
//! is emitted unchanged next to the errors (see `fallback`), so the rest of the crate still
//! type-checks and IDEs keep seeing the function.
//!
//! What the macros share lives here: a macro decides how its span starts (a [`Plan`]), and
//! [`generate`] rewrites the function so that the start runs **at call time** and the body runs
//! inside the span, whatever the function's shape.

mod blocking;
mod messaging;
mod task;

pub use blocking::traced_blocking;
pub use messaging::{traced_consumer, traced_producer};
pub use task::traced_task;

use crate::ast::{Function, Shape};
use crate::options::{Common, Options};
use crate::{awaits, fallback};
use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{FnArg, LitStr, Pat, PatIdent, ReturnType, Type, parse_quote};

/// How a macro starts its span.
pub struct Plan {
    pub krate: TokenStream,
    /// An expression evaluating to the `Context` that holds the new span.
    pub start: TokenStream,
    /// Statements run right after the start, with `__tb_cx` in scope (a producer's injection).
    pub after_start: TokenStream,
    pub record_errors: bool,
    /// Parameter names the start expression uses: their rebinding in the body must not warn.
    pub used_params: Vec<String>,
}

/// Parses `args` and `item`, validates them with `validate` and generates with `expand`.
pub fn run<O: Options>(
    attr: &str,
    args: TokenStream,
    item: TokenStream,
    validate: impl FnOnce(&O, &Function) -> darling::Result<()>,
    expand: impl FnOnce(&O, Function) -> TokenStream,
) -> TokenStream {
    let function = match Function::parse(item.clone(), attr) {
        Ok(function) => function,
        Err(error) => return fallback::emit(item, error.into_compile_error()),
    };
    // Semantic rules are checked only on options that parsed: on defaults they would report
    // what the user did write as missing.
    let options = match O::parse(args).and_then(|o| validate(&o, &function).map(|()| o)) {
        Ok(options) => options,
        Err(error) => return fallback::emit(item, error.write_errors()),
    };
    expand(&options, function)
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
pub fn attributes(common: &Common, fixed: &[(&str, &LitStr)]) -> TokenStream {
    let krate = common.krate();
    if fixed.is_empty() && common.fields.0.is_empty() {
        return quote!(#krate::__private::no_fields);
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

/// Identifiers mentioned by `fields(…)` values.
pub fn idents_in_fields(common: &Common) -> Vec<String> {
    let mut idents = Vec::new();
    for field in &common.fields.0 {
        let value = &field.value;
        collect_idents(quote!(#value), &mut idents);
    }
    idents
}

fn collect_idents(tokens: TokenStream, out: &mut Vec<String>) {
    for tree in tokens {
        match tree {
            proc_macro2::TokenTree::Ident(ident) => out.push(ident.to_string()),
            proc_macro2::TokenTree::Group(group) => collect_idents(group.stream(), out),
            _ => {}
        }
    }
}

/// The closure that records the body's output on the span before it ends.
fn record(plan: &Plan) -> TokenStream {
    recorder(&plan.krate, plan.record_errors)
}

/// The recorder closure for `krate`, or the no-op one when errors are not recorded.
pub fn recorder(krate: &TokenStream, record_errors: bool) -> TokenStream {
    if !record_errors {
        return quote!(#krate::__private::no_record);
    }
    quote! {
        |__tb_output, __tb_cx| {
            #[allow(unused_imports)]
            use #krate::__private::{RecordAnyErr as _, RecordDisplayErr as _, RecordNothing as _};
            (&#krate::__private::Outcome(__tb_output)).__tb_record(__tb_cx)
        }
    }
}

/// Rewrites the function so the plan's start runs at call time and the body inside the span.
///
/// `async fn f(a: A) -> R { body }` becomes
/// ```text
/// fn f(a: A) -> impl Future<Output = R> {
///     let __tb_cx = start;
///     instrument(__tb_cx, async move { let a = a; body }, record)
/// }
/// ```
/// a fn returning a future keeps its signature and becomes
/// ```text
/// fn f(a: A) -> F {
///     let __tb_cx = start;
///     let fut = in_context(&__tb_cx, move || body);
///     instrument(__tb_cx, fut, record)          // `Box::pin(…)` for boxed futures
/// }
/// ```
/// and a synchronous fn (consumers and producers only) becomes
/// ```text
/// fn f(a: A) -> R {
///     let __tb_cx = start;
///     let scope = enter_sync(__tb_cx);
///     let out = (move || -> R { body })();
///     scope.finish(&out, record);
///     out
/// }
/// ```
pub fn generate(function: Function, plan: Plan) -> TokenStream {
    let krate = &plan.krate;
    let record = record(&plan);
    let Plan {
        start, after_start, ..
    } = &plan;
    let Function { mut item, shape } = function;
    let body = item.block.clone();
    *item.block = match shape {
        Shape::Async => {
            let output = match &item.sig.output {
                ReturnType::Default => quote!(()),
                ReturnType::Type(_, ty) => quote!(#ty),
            };
            let fake_return = fake_return(&item.sig.output);
            let rebinds = move_params_into_body(&mut item.sig.inputs, &plan.used_params);
            let stmts = &body.stmts;
            item.sig.asyncness = None;
            // `impl` is spanned at the macro, whose edition (2024) captures every in-scope
            // lifetime, as `async fn` does, whatever the edition of the user's crate.
            item.sig.output = parse_quote!(-> impl ::core::future::Future<Output = #output>);
            parse_quote!({
                let __tb_cx = #start;
                #after_start
                #krate::__private::instrument(
                    __tb_cx,
                    async move {
                        #(#rebinds)*
                        #fake_return
                        #(#stmts)*
                    },
                    #record,
                )
            })
        }
        Shape::ImplFuture | Shape::BoxedFuture => {
            let (annotation, boxed) = match (&item.sig.output, shape) {
                (ReturnType::Type(_, ty), Shape::BoxedFuture) => {
                    (quote!(-> #ty), quote!(::std::boxed::Box::pin))
                }
                _ => (quote!(), quote!()),
            };
            parse_quote!({
                let __tb_cx = #start;
                #after_start
                let __tb_future = #krate::__private::in_context(&__tb_cx, move || #annotation #body);
                #boxed(#krate::__private::instrument(__tb_cx, __tb_future, #record))
            })
        }
        Shape::Sync => {
            let annotation = match &item.sig.output {
                ReturnType::Type(_, ty) if contains_impl_trait(ty) => quote!(),
                ReturnType::Type(_, ty) => quote!(-> #ty),
                ReturnType::Default => quote!(-> ()),
            };
            parse_quote!({
                let __tb_cx = #start;
                #after_start
                let __tb_scope = #krate::__private::enter_sync(__tb_cx);
                #[allow(clippy::redundant_closure_call)]
                let __tb_output = (move || #annotation #body)();
                __tb_scope.finish(&__tb_output, #record);
                __tb_output
            })
        }
    };
    let errors = awaits::check(&body, shape == Shape::Async);
    let mut tokens = quote!(#item);
    tokens.extend(errors.into_iter().map(|e| e.into_compile_error()));
    tokens
}

/// Binds every parameter inside the async body, so that each is moved into the future (and
/// dropped with it) exactly as in the `async fn`, used or not. Patterns other than a plain
/// name become `__tb_argN` in the signature and are destructured inside. A parameter the span
/// start uses (in `fields`, say) is used, so its binding in the body must not warn.
fn move_params_into_body(
    inputs: &mut syn::punctuated::Punctuated<FnArg, syn::Token![,]>,
    used: &[String],
) -> Vec<TokenStream> {
    inputs
        .iter_mut()
        .enumerate()
        .map(|(i, arg)| match arg {
            FnArg::Receiver(_) => quote!(let _ = &self;),
            FnArg::Typed(typed) => match &mut *typed.pat {
                Pat::Ident(PatIdent {
                    by_ref: None,
                    subpat: None,
                    mutability,
                    ident,
                    ..
                }) => {
                    let mutability = mutability.take();
                    let allow = used
                        .contains(&ident.to_string())
                        .then(|| quote!(#[allow(unused_variables)]));
                    quote!(#allow let #mutability #ident = #ident;)
                }
                pat => {
                    let name = format_ident!("__tb_arg{}", i);
                    let rebind = quote!(let #pat = #name;);
                    *pat = parse_quote!(#name);
                    rebind
                }
            },
        })
        .collect()
}

/// Fixes the async body's output type up front so that `?` and `.into()` infer as they do in
/// an `async fn`, and so that a diverging body cannot leave the output for the error recorder
/// to guess. Not possible for `impl Trait` outputs, which cannot be named in a `let`.
fn fake_return(output: &ReturnType) -> TokenStream {
    let ty = match output {
        ReturnType::Type(_, ty) if contains_impl_trait(ty) => return quote!(),
        ReturnType::Type(_, ty) => quote!(#ty),
        ReturnType::Default => quote!(()),
    };
    quote! {
        #[allow(
            unknown_lints, unreachable_code, clippy::diverging_sub_expression,
            clippy::empty_loop, clippy::let_unit_value, clippy::let_with_type_underscore,
            clippy::needless_return, clippy::unreachable
        )]
        if false {
            let __tb_fake_return: #ty = loop {};
            return __tb_fake_return;
        }
    }
}

pub fn contains_impl_trait(ty: &Type) -> bool {
    struct Finder(bool);
    impl Visit<'_> for Finder {
        fn visit_type_impl_trait(&mut self, _: &syn::TypeImplTrait) {
            self.0 = true;
        }
    }
    let mut finder = Finder(false);
    finder.visit_type(ty);
    finder.0
}
