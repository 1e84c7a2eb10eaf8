//! What a macro emits when its input is wrong: the item, plus the errors. The function keeps
//! existing for the rest of the crate and for IDEs, in the shape its callers expect, so the only
//! errors the user sees are ours.

use crate::ast::Function;
use proc_macro2::TokenStream;
use quote::quote;
use syn::{ReturnType, parse_quote};

/// A function with wrong options: as written, except that a `#[traced_blocking]` function is
/// already the async function its callers await, with its body type-checked but not run.
pub fn emit(attr: &str, function: Function, errors: TokenStream) -> TokenStream {
    let output = (attr == "traced_blocking" && function.item.sig.asyncness.is_none())
        .then(|| function.output(&quote!(::tracebound)));
    let mut item = function.item;
    if let Some(output) = output {
        let inferable = &output.inferable;
        let body = &item.block;
        item.sig.output = ReturnType::Type(Default::default(), Box::new(output.future()));
        *item.block = parse_quote!({
            let _ = move || -> #inferable #body;
            ::core::future::pending()
        });
    }
    quote!(#item #errors)
}

/// An item that is not a function: as written, plus the error. In expression position (an
/// attribute on a closure), one block expression holding both.
pub fn unparsed(attr: &str, item: TokenStream, error: syn::Error) -> TokenStream {
    if syn::parse2::<syn::Item>(item.clone()).is_err()
        && let Ok(expr) = syn::parse2::<syn::Expr>(item.clone())
    {
        let what = match expr {
            syn::Expr::Closure(_) => "a closure: move its body into an `async fn` and call that",
            syn::Expr::Async(_) => "an `async` block: move it into an `async fn` and call that",
            _ => "an expression",
        };
        let error = syn::Error::new_spanned(
            &item,
            format!("#[{attr}] applies to functions, not to {what}"),
        )
        .into_compile_error();
        return quote!({ #error; #item });
    }
    let error = error.into_compile_error();
    quote!(#item #error)
}
