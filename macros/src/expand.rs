//! Code generation. Each macro is `parse → validate → generate`; on an error the original item
//! is emitted unchanged next to the errors (see `fallback`), so the rest of the crate still
//! type-checks and IDEs keep seeing the function.

use crate::ast::{Function, Shape};
use crate::options::{Kind, TaskOptions};
use crate::{awaits, fallback, valid};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::visit::Visit;
use syn::{FnArg, Pat, PatIdent, ReturnType, Type, parse_quote};

/// `#[traced_task]`:
///
/// ```text
/// async fn f(a: A) -> R { body }
/// ```
/// becomes
/// ```text
/// fn f(a: A) -> impl Future<Output = R> {
///     let cx = start(scope, "f", kind, root, fields);      // at call time
///     instrument(cx, async move { let a = a; body }, record_err)
/// }
/// ```
/// and a sync fn returning a future (`impl Future`, `Pin<Box<dyn Future>>`) keeps its
/// signature; its body runs at call time inside the span, and the future it returns is wrapped.
pub fn traced_task(args: TokenStream, item: TokenStream) -> TokenStream {
    let function = match Function::parse(item.clone(), "traced_task") {
        Ok(function) => function,
        Err(error) => return fallback::emit(item, error.into_compile_error()),
    };
    let mut errors = darling::Error::accumulator();
    let options = errors.handle(TaskOptions::parse(args));
    let defaults = TaskOptions::default();
    errors.handle(valid::task(
        options.as_ref().unwrap_or(&defaults),
        &function,
    ));
    if let Err(error) = errors.finish() {
        return fallback::emit(item, error.write_errors());
    }
    let options = options.unwrap_or(defaults);
    let start = span_start(&options, &function, options.kind.unwrap_or(Kind::Internal));
    wrap(function, &options, start)
}

/// The expression that starts the span and evaluates to the context holding it.
fn span_start(options: &TaskOptions, function: &Function, kind: Kind) -> TokenStream {
    let krate = options.krate();
    let name = match &options.name {
        Some(name) => {
            let name = &name.0;
            quote!(#name)
        }
        None => {
            let name = syn::LitStr::new(&function.name().to_string(), function.name().span());
            quote!(#name)
        }
    };
    let kind = kind.variant();
    let root = options.root.is_present();
    let attributes = if options.fields.0.is_empty() {
        quote!(::core::option::Option::None)
    } else {
        let entries = options.fields.0.iter().map(|field| {
            let (key, value) = (&field.key, &field.value);
            quote!(#krate::__private::field(#key, &(#value)))
        });
        quote!(#krate::__private::fields([#(#entries),*]))
    };
    quote! {
        #krate::__private::start(
            {
                static __TB_SCOPE: #krate::__private::Scope = #krate::__private::Scope::new(
                    match ::core::option_env!("CARGO_PKG_NAME") {
                        ::core::option::Option::Some(name) => name,
                        ::core::option::Option::None => "unknown",
                    },
                    ::core::option_env!("CARGO_PKG_VERSION"),
                );
                &__TB_SCOPE
            },
            #name,
            #krate::__private::SpanKind::#kind,
            #root,
            #attributes,
        )
    }
}

/// The closure that records the body's output on the span before it ends.
fn record(options: &TaskOptions) -> TokenStream {
    let krate = options.krate();
    if options.err.is_some_and(|err| !err.0) {
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

/// Rewrites the function so `start` runs at call time and the body runs inside the span.
fn wrap(function: Function, options: &TaskOptions, start: TokenStream) -> TokenStream {
    let krate = options.krate();
    let record = record(options);
    let Function { mut item, shape } = function;
    let body = item.block.clone();
    item.block = match shape {
        Shape::Async => {
            let output = match &item.sig.output {
                ReturnType::Default => quote!(()),
                ReturnType::Type(_, ty) => quote!(#ty),
            };
            let fake_return = fake_return(&item.sig.output);
            let rebinds = move_params_into_body(&mut item.sig.inputs, &idents_in_fields(options));
            let stmts = &body.stmts;
            item.sig.asyncness = None;
            // `impl` is spanned at the macro, whose edition (2024) captures every in-scope
            // lifetime, as `async fn` does, whatever the edition of the user's crate.
            item.sig.output = parse_quote!(-> impl ::core::future::Future<Output = #output>);
            Box::new(parse_quote!({
                let __tb_cx = #start;
                #krate::__private::instrument(
                    __tb_cx,
                    async move {
                        #(#rebinds)*
                        #fake_return
                        #(#stmts)*
                    },
                    #record,
                )
            }))
        }
        Shape::ImplFuture | Shape::BoxedFuture | Shape::Sync => {
            let (annotation, boxed) = match (&item.sig.output, shape) {
                (ReturnType::Type(_, ty), Shape::BoxedFuture) => {
                    (quote!(-> #ty), quote!(::std::boxed::Box::pin))
                }
                _ => (quote!(), quote!()),
            };
            Box::new(parse_quote!({
                let __tb_cx = #start;
                let __tb_future = #krate::__private::in_context(&__tb_cx, move || #annotation #body);
                #boxed(#krate::__private::instrument(__tb_cx, __tb_future, #record))
            }))
        }
    };
    let errors = awaits::check(&body, shape == Shape::Async);
    let mut tokens = quote!(#item);
    tokens.extend(errors.into_iter().map(|e| e.into_compile_error()));
    tokens
}

/// Binds every parameter inside the async body, so that each is moved into the future (and
/// dropped with it) exactly as in the `async fn`, used or not. Patterns other than a plain
/// name become `__tb_argN` in the signature and are destructured inside.
/// A parameter used only by `fields(…)` is used; its binding in the body must not warn.
fn move_params_into_body(
    inputs: &mut syn::punctuated::Punctuated<FnArg, syn::Token![,]>,
    used_by_fields: &[String],
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
                    let allow = used_by_fields
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

fn idents_in_fields(options: &TaskOptions) -> Vec<String> {
    fn collect(tokens: TokenStream, out: &mut Vec<String>) {
        for tree in tokens {
            match tree {
                proc_macro2::TokenTree::Ident(ident) => out.push(ident.to_string()),
                proc_macro2::TokenTree::Group(group) => collect(group.stream(), out),
                _ => {}
            }
        }
    }
    let mut idents = Vec::new();
    for field in &options.fields.0 {
        let value = &field.value;
        collect(quote!(#value), &mut idents);
    }
    idents
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

fn contains_impl_trait(ty: &Type) -> bool {
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
