//! Attribute macros of [tracebound](https://docs.rs/tracebound). Depend on `tracebound`, which
//! re-exports them with their documentation; generated code names only `::tracebound` paths
//! (or the path given by `crate = …`).

mod ast;
mod awaits;
mod expand;
mod fallback;
mod options;
mod valid;

use proc_macro::TokenStream;

/// See `tracebound::traced_task`.
#[proc_macro_attribute]
pub fn traced_task(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::traced_task(args.into(), item.into()).into()
}
