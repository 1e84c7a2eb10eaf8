//! Attribute macros of [tracebound](https://docs.rs/tracebound). Depend on `tracebound`, which
//! re-exports them with their documentation; generated code names only `::tracebound` paths
//! (or the path given by `crate = …`).

mod ast;
mod awaits;
mod expand;
mod fallback;
mod options;
mod stacking;
mod valid;

use proc_macro::TokenStream;

/// See `tracebound::traced_task`.
#[proc_macro_attribute]
pub fn traced_task(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::traced_task(args.into(), item.into()).into()
}

/// See `tracebound::traced_consumer`.
#[proc_macro_attribute]
pub fn traced_consumer(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::traced_consumer(args.into(), item.into()).into()
}

/// See `tracebound::traced_producer`.
#[proc_macro_attribute]
pub fn traced_producer(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::traced_producer(args.into(), item.into()).into()
}

/// See `tracebound::traced_blocking`.
#[proc_macro_attribute]
pub fn traced_blocking(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::traced_blocking(args.into(), item.into()).into()
}
