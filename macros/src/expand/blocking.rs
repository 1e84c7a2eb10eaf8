//! `#[traced_blocking]`: a synchronous function made async, its body run on the blocking pool
//! (or a new thread) inside a span started at call time.

use super::{contains_impl_trait, recorder, run, task};
use crate::options::{BlockingOptions, Executor, Options};
use crate::{awaits, valid};
use proc_macro2::TokenStream;
use quote::quote;
use syn::{ReturnType, parse_quote};

/// `fn f(a: A) -> R { body }` becomes
/// ```text
/// fn f(a: A) -> impl Future<Output = R> {
///     let __tb_cx = start(…);                                  // at call time
///     blocking(__tb_cx, Executor::Pool, "f", move || -> R { body }, record)
/// }
/// ```
/// The body, its arguments and its output move to another thread, so `valid::blocking` rejects
/// borrowed arguments with the reason before the compiler's `'static` errors would.
pub fn traced_blocking(args: TokenStream, item: TokenStream) -> TokenStream {
    run::<BlockingOptions>(
        "traced_blocking",
        args,
        item,
        valid::blocking,
        |options, function| {
            let common = options.common();
            let krate = common.krate();
            let start = task::start(common, &function, false);
            let record = recorder(&krate, common.records_errors());
            let executor = match options.executor.unwrap_or(Executor::Pool) {
                Executor::Pool => quote!(Pool),
                Executor::Thread => quote!(Thread),
            };
            let mut item = function.item;
            let body = item.block.clone();
            let (output, annotation) = match &item.sig.output {
                ReturnType::Default => (quote!(()), quote!(-> ())),
                ReturnType::Type(_, ty) if contains_impl_trait(ty) => (quote!(#ty), quote!()),
                ReturnType::Type(_, ty) => (quote!(#ty), quote!(-> #ty)),
            };
            let name = item.sig.ident.to_string();
            // `impl` spanned at the macro (edition 2024), as for `#[traced_task]`.
            item.sig.output = parse_quote!(-> impl ::core::future::Future<Output = #output>);
            *item.block = parse_quote!({
                let __tb_cx = #start;
                #krate::__private::blocking(
                    __tb_cx,
                    #krate::__private::Executor::#executor,
                    #name,
                    move || #annotation #body,
                    #record,
                )
            });
            let mut tokens = quote!(#item);
            tokens.extend(
                awaits::check(&body, false)
                    .into_iter()
                    .map(|e| e.into_compile_error()),
            );
            tokens
        },
    )
}
