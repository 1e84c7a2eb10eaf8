//! `#[traced_task]`: a span started as a child of the current context (or as a new root).

use super::{Plan, attributes, idents_in_fields, run, scope, span_name};
use crate::ast::Function;
use crate::options::{Common, Kind, Options, TaskOptions, Variant};
use crate::valid;
use proc_macro2::TokenStream;
use quote::quote;

pub fn traced_task(args: TokenStream, item: TokenStream) -> TokenStream {
    run::<TaskOptions>(
        "traced_task",
        args,
        item,
        valid::task,
        |options, function, krate| {
            let common = options.common();
            let start = start(&krate, common, function, options.root.is_present());
            Plan::in_place(krate, start, common, idents_in_fields(common))
        },
    )
}

/// Starts a span named after the function (or `name`), of kind `kind` (default internal), as
/// a child of the current context or, with `root`, as a new trace.
pub fn start(krate: &TokenStream, common: &Common, function: &Function, root: bool) -> TokenStream {
    let scope = scope(krate);
    let name = span_name(common, function.name().to_string(), function);
    let kind = common.kind.map_or(Kind::Internal, |w| w.0).variant();
    let attributes = attributes(krate, common, &[]);
    quote! {
        #krate::__private::start(
            #scope, #name, #krate::__private::SpanKind::#kind, #root, #attributes,
        )
    }
}
