//! `#[traced_blocking]`: a synchronous function made async, its body run on the blocking pool
//! (or a new thread) inside a span started at call time.
//!
//! The body, its arguments and its output move to another thread, so `valid::blocking` rejects
//! borrowed arguments with the reason before the compiler's `'static` errors would.

use super::{Plan, Runs, idents_in_fields, run, task};
use crate::options::{BlockingOptions, Executor, Options, Variant};
use crate::valid;
use proc_macro2::TokenStream;
use quote::quote;

pub fn traced_blocking(args: TokenStream, item: TokenStream) -> TokenStream {
    run::<BlockingOptions>(
        "traced_blocking",
        args,
        item,
        valid::blocking,
        |options, function, krate| {
            let common = options.common();
            let executor = options.executor.map_or(Executor::Pool, |w| w.0).variant();
            Plan {
                start: task::start(&krate, common, function, false),
                after_start: quote!(),
                record_errors: common.records_errors(),
                received: None,
                used_params: idents_in_fields(common),
                mutated_params: Vec::new(),
                runs: Runs::Elsewhere {
                    executor: quote!(#executor),
                },
                krate,
            }
        },
    )
}
