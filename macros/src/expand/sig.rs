//! Moving a function's parameters into the code that runs its body later: the one signature
//! rewrite the macros share.
//!
//! The Rust reference spells out what an `async fn` does with its parameters: every one is
//! moved into the future whole, and its pattern is bound inside, so that each value lives
//! until the future completes (or is dropped), whatever the pattern keeps of it.
//!
//! `fn f(mut a: A, (b, _): (B, C), _: D)` moved into a body becomes
//! ```text
//! fn f(a: A, __tb_arg1: (B, C), __tb_arg2: D)      // signature
//! let mut a = a;                                   // in the body, first
//! let __tb_arg1 = __tb_arg1; let (b, _) = __tb_arg1;
//! let __tb_arg2 = __tb_arg2;
//! ```
//! The bindings the user wrote keep the user's tokens, so that an unused one warns where the
//! user wrote it, as it would without the attribute. A plain name moves as itself; a `_x` and
//! every pattern move through `__tb_argN`, spanned at the macro, so that lints about names
//! (`_x` used) do not fire on code the user did not write.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::punctuated::Punctuated;
use syn::{Attribute, FnArg, Ident, Pat, PatIdent, Token};

type Inputs = Punctuated<FnArg, Token![,]>;

/// What a moved signature leaves for the body: one statement list per parameter.
pub struct Moved {
    /// Statements moving every parameter into the body, in order.
    pub rebinds: Vec<TokenStream>,
    /// Whether a parameter was renamed (the signature no longer shows it as written).
    pub renamed: bool,
}

/// Renames the parameters whose patterns are not a plain name, and returns the statements that
/// move every parameter into the body and bind its pattern there.
///
/// A plain `x` keeps its name: `let x = x;`, the value named with the parameter's own span so
/// that it resolves wherever the name came from (a `macro_rules!` caller, say). A `_x`, which
/// clippy would flag as used if named, and every pattern, move through `__tb_argN`.
///
/// A parameter in `mutated` (an owned batch a producer writes each message's context into at
/// call time) keeps a `mut` binding in the signature too.
pub fn move_params(
    inputs: &mut Inputs,
    used: &[String],
    mutated: &[String],
    krate: &TokenStream,
) -> Moved {
    let mut renamed = false;
    let rebinds = inputs
        .iter_mut()
        .enumerate()
        .map(|(i, arg)| match arg {
            FnArg::Receiver(receiver) => {
                // An owned `self` whose field is a producer's batch is written to at call time.
                if matches!(receiver.kind, syn::ReceiverKind::Value | syn::ReceiverKind::Typed(..))
                    && mutated.iter().any(|name| name == "self")
                {
                    receiver.mutability = Some(Token![mut](Span::mixed_site()));
                }
                // `self` cannot be rebound; naming it moves it into the body, as in an
                // `async fn`, used or not.
                let self_token = Token![self](receiver.self_token.span);
                quote!(let _ = &#self_token;)
            }
            FnArg::Typed(typed) => {
                let cfgs: Vec<Attribute> = cfg_attrs(&typed.attrs).into_iter().cloned().collect();
                let lints = take_lint_attrs(&mut typed.attrs);
                let plain = crate::ast::is_plain_name(&typed.pat);
                match &mut *typed.pat {
                    Pat::Ident(PatIdent {
                        mutability, ident, ..
                    }) if plain => {
                        let owned = !matches!(*typed.ty, syn::Type::Reference(_));
                        let keep = owned && mutated.contains(&ident.to_string());
                        let signature = keep.then(|| Token![mut](Span::mixed_site()));
                        let mutability = std::mem::replace(mutability, signature);
                        let read = read_by_start(ident, used);
                        quote!(#(#cfgs)* #(#lints)* let #mutability #ident = #ident; #read)
                    }
                    pat => {
                        renamed = true;
                        let name = arg_name(i);
                        let bind = match &*pat {
                            Pat::Wild(_) => quote!(),
                            // `let _x = __tb_arg0;` reads as a binding with no effect.
                            Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => {
                                quote!(#(#cfgs)* #(#lints)* let #pat = #krate::__private::moved(#name);)
                            }
                            pat => {
                                let reads: TokenStream = crate::ast::binding_idents(pat)
                                    .iter()
                                    .map(|ident| read_by_start(ident, used))
                                    .collect();
                                let reads = (!reads.is_empty()).then(|| quote!(#(#cfgs)* { #reads }));
                                quote!(#(#cfgs)* #(#lints)* let #pat = #name; #reads)
                            }
                        };
                        // Borrowed mutably at call time (a producer's batch): `mut __tb_argN`.
                        let mutated = crate::ast::binding_idents(pat)
                            .iter()
                            .any(|ident| mutated.contains(&ident.to_string()));
                        *pat = Pat::Ident(PatIdent {
                            attrs: Vec::new(),
                            by_ref: None,
                            mutability: mutated.then(|| Token![mut](Span::mixed_site())),
                            ident: name.clone(),
                            subpat: None,
                        });
                        quote!(#(#cfgs)* let #name = #name; #bind)
                    }
                }
            }
        })
        .collect();
    Moved { rebinds, renamed }
}

/// For a parameter the span's start reads (in `fields`, `carrier`): a use of its binding, which
/// the body may not use, so that it does not warn as unused.
pub fn read_by_start(ident: &Ident, used: &[String]) -> TokenStream {
    if !used.contains(&ident.to_string()) {
        return quote!();
    }
    quote!(let _ = &#ident;)
}

/// The name a parameter with a pattern takes in a moved signature.
fn arg_name(i: usize) -> Ident {
    format_ident!("__tb_arg{}", i, span = Span::mixed_site())
}

/// Statements run at call time, before the parameters move, that borrow the names in `used`
/// bound by the patterns of `original` (the signature before [`move_params`]), so that
/// `fields(…)` and `carrier` can read them: `(a, _): (A, B)` with `a` used gives
/// `let (ref a, _) = __tb_arg0;`. Plain names need nothing: the parameter is still there.
pub fn borrow_pattern_bindings(
    original: &Inputs,
    used: &[String],
    mutated: &[String],
) -> TokenStream {
    original
        .iter()
        .enumerate()
        .filter_map(|(i, arg)| {
            let FnArg::Typed(typed) = arg else {
                return None;
            };
            if crate::ast::is_plain_name(&typed.pat)
                || !crate::ast::binding_idents(&typed.pat)
                    .iter()
                    .any(|ident| used.contains(&ident.to_string()))
            {
                return None;
            }
            let pat = by_ref(&typed.pat, used, mutated);
            let name = arg_name(i);
            let cfgs = cfg_attrs(&typed.attrs);
            Some(quote!(#(#cfgs)* let #pat = #name;))
        })
        .collect()
}

/// `pat` binding the names in `used` by reference and nothing else, so that matching it
/// against the parameter moves nothing. The names keep their spans, to resolve as `fields`
/// reads them.
fn by_ref(pat: &Pat, used: &[String], mutated: &[String]) -> TokenStream {
    match pat {
        Pat::Ident(p) => {
            let ident = &p.ident;
            let sub = p.subpat.as_ref().map(|(_, sub)| by_ref(sub, used, mutated));
            // A producer's batch is written to at call time: borrowed mutably.
            let by = match mutated.contains(&ident.to_string()) {
                true => quote!(ref mut),
                false => quote!(ref),
            };
            match (used.contains(&ident.to_string()), sub) {
                (true, Some(sub)) => quote!(#by #ident @ #sub),
                (true, None) => quote!(#by #ident),
                (false, Some(sub)) => sub,
                (false, None) => quote!(_),
            }
        }
        Pat::Tuple(t) => {
            let elems = t.elems.iter().map(|p| by_ref(p, used, mutated));
            quote!((#(#elems,)*))
        }
        Pat::TupleStruct(t) => {
            let path = &t.path;
            let elems = t.elems.iter().map(|p| by_ref(p, used, mutated));
            quote!(#path(#(#elems,)*))
        }
        Pat::Struct(s) => {
            let path = &s.path;
            let fields = s.fields.iter().map(|f| {
                let pat = by_ref(&f.pat, used, mutated);
                match &f.member {
                    // `Pair { left }` stays short: `Pair { ref left }`.
                    syn::Member::Named(name)
                        if f.colon_token.is_none() && used.contains(&name.to_string()) =>
                    {
                        pat
                    }
                    syn::Member::Named(name) => quote!(#name: #pat),
                    syn::Member::Unnamed(index) => {
                        let index = syn::Index::from(index.index as usize);
                        quote!(#index: #pat)
                    }
                }
            });
            let rest = s.rest.as_ref().map(|_| quote!(..));
            quote!(#path { #(#fields,)* #rest })
        }
        Pat::Slice(s) => {
            let elems = s.elems.iter().map(|p| by_ref(p, used, mutated));
            quote!([#(#elems,)*])
        }
        Pat::Reference(r) => {
            let mutability = r.mutability.map(|_| quote!(mut));
            let inner = by_ref(&r.pat, used, mutated);
            quote!(&#mutability #inner)
        }
        Pat::Type(t) => by_ref(&t.pat, used, mutated),
        Pat::Paren(p) => by_ref(&p.pat, used, mutated),
        Pat::Rest(_) => quote!(..),
        _ => quote!(_),
    }
}

/// The `#[cfg]` and `#[cfg_attr]` attributes of a parameter, which its rebinding needs too.
pub fn cfg_attrs(attrs: &[Attribute]) -> Vec<&Attribute> {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("cfg") || a.path().is_ident("cfg_attr"))
        .collect()
}

/// Takes the lint attributes (`#[allow(unused_variables)]`, …) off a parameter: they belong to
/// its binding, which moves into the body.
fn take_lint_attrs(attrs: &mut Vec<Attribute>) -> Vec<Attribute> {
    let (lints, rest) = std::mem::take(attrs).into_iter().partition(|a| {
        ["allow", "warn", "deny", "forbid", "expect"]
            .iter()
            .any(|lint| a.path().is_ident(lint))
    });
    *attrs = rest;
    lints
}
