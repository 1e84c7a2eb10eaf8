//! What a macro emits when its input is wrong: the item exactly as written, plus the errors.
//! The function keeps existing for the rest of the crate and for IDEs, so the only errors the
//! user sees are ours.

use proc_macro2::TokenStream;

pub fn emit(item: TokenStream, errors: TokenStream) -> TokenStream {
    let mut output = item;
    output.extend(errors);
    output
}
