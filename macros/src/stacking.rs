//! A tracebound attribute stacked with other attribute macros behaves the same in either order.
//!
//! Attribute macros expand outermost first, each seeing what the ones above it produced. A
//! tracebound attribute above `#[tracing::instrument]` would hand it a function already
//! rewritten (no longer `async`), so it steps aside instead: it emits the function again with
//! itself **last**, marked so that it does not step aside twice. The other macros then see the
//! function as written, and the tracebound one expands on their result, as if written below
//! them.
//!
//! Runtime entry points are the exception: `#[tokio::main]` and `#[tokio::test]` (and any
//! `…::main` / `…::test`) need an `async fn`. Above one of them, `#[traced_task]` keeps the
//! function `async` and traces its body from the first poll, which is the call: nothing can
//! spawn `main`. Below `#[tokio::main]`/`#[tokio::test]`, it finds the body those macros made,
//! `let body = async { … };`, and traces that future from the call.

use crate::ast::{Function, Shape};
use proc_macro2::{Ident, TokenStream, TokenTree};
use quote::quote;
use syn::{Attribute, Expr, Stmt};

/// How a tracebound attribute relates to the attributes around it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Stacking {
    /// No other attribute macro to wait for.
    Alone,
    /// Other attribute macros follow: emit the function again with this attribute last.
    Defer,
    /// A runtime entry point's attribute follows: keep the function `async`.
    Entry,
    /// The function is what `#[tokio::main]`/`#[tokio::test]` made of an `async fn`.
    TokioBody,
}

/// The argument a deferred attribute carries, so that it does not defer again.
const MARKER: &str = "__tb_deferred";

/// Splits the marker off an attribute's arguments.
pub fn strip_marker(args: TokenStream) -> (bool, TokenStream) {
    let mut trees = args.clone().into_iter().peekable();
    match trees.next() {
        Some(TokenTree::Ident(ident)) if ident == MARKER => {
            if matches!(trees.peek(), Some(TokenTree::Punct(p)) if p.as_char() == ',') {
                trees.next();
            }
            (true, trees.collect())
        }
        _ => (false, args),
    }
}

pub fn decide(attr: &str, function: &Function, deferred: bool) -> Stacking {
    let attrs = &function.item.attrs;
    let is_task = attr == "traced_task";
    if is_task && function.shape == Shape::Sync && is_tokio_body(&function.item.block) {
        return Stacking::TokioBody;
    }
    if deferred {
        return Stacking::Alone;
    }
    if is_task && function.shape == Shape::Async && attrs.iter().any(is_entry_point) {
        return Stacking::Entry;
    }
    if attrs.iter().any(|a| !is_inert(a)) {
        return Stacking::Defer;
    }
    Stacking::Alone
}

/// The function again, with the attribute `attr` moved after all the others.
pub fn defer(
    attr: &str,
    krate: &TokenStream,
    args: TokenStream,
    function: Function,
) -> TokenStream {
    let mut item = function.item;
    let name = Ident::new(attr, proc_macro2::Span::call_site());
    let marker = Ident::new(MARKER, proc_macro2::Span::call_site());
    let args = if args.is_empty() {
        quote!(#marker)
    } else {
        quote!(#marker, #args)
    };
    item.attrs.push(syn::parse_quote!(#[#krate::#name(#args)]));
    quote!(#item)
}

/// `#[…::main]` or `#[…::test]`: a runtime's entry point, which needs an `async fn`.
fn is_entry_point(attr: &Attribute) -> bool {
    let segments = &attr.path().segments;
    segments.len() >= 2
        && segments
            .last()
            .is_some_and(|s| s.ident == "main" || s.ident == "test")
}

/// Attributes that are not macros: the compiler's and tools' own.
fn is_inert(attr: &Attribute) -> bool {
    const BUILTIN: [&str; 19] = [
        "doc",
        "allow",
        "warn",
        "deny",
        "forbid",
        "expect",
        "deprecated",
        "must_use",
        "inline",
        "cold",
        "track_caller",
        "cfg",
        "no_mangle",
        "export_name",
        "link_section",
        "target_feature",
        "optimize",
        "instruction_set",
        "unsafe",
    ];
    const TOOLS: [&str; 4] = ["rustfmt", "clippy", "diagnostic", "rust_analyzer"];
    let path = attr.path();
    match path.segments.first() {
        Some(first) if path.segments.len() == 1 => BUILTIN.iter().any(|b| first.ident == b),
        Some(first) => TOOLS.iter().any(|t| first.ident == t),
        None => true,
    }
}

/// The shape of a body `#[tokio::main]`/`#[tokio::test]` generated: it starts with
/// `let body = async { … };`.
pub fn is_tokio_body(block: &syn::Block) -> bool {
    matches!(block.stmts.first(), Some(Stmt::Local(local))
        if matches!(&local.pat, syn::Pat::Ident(p) if p.ident == "body")
            && local.init.as_ref().is_some_and(|init| matches!(*init.expr, Expr::Async(_))))
}
