//! The annotated function, borrowed from the syn tree into the shape the expansions need.

use proc_macro2::{Span, TokenStream};
use syn::spanned::Spanned;
use syn::{FnArg, GenericArgument, Ident, ItemFn, Pat, PathArguments, ReturnType, Type};

/// A function a tracebound attribute was put on.
pub struct Function {
    pub item: ItemFn,
    pub shape: Shape,
}

/// How the function produces its future.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// `async fn`.
    Async,
    /// A sync fn returning `impl Future<…>`.
    ImplFuture,
    /// A sync fn returning a boxed future: `Pin<Box<dyn Future<…>>>`, `BoxFuture`; what
    /// `#[async_trait]` hands us.
    BoxedFuture,
    /// A sync fn returning something else.
    Sync,
}

impl Function {
    /// Parses the item an attribute was put on; the error says what it is instead.
    pub fn parse(item: TokenStream, attr: &str) -> syn::Result<Self> {
        let item = match syn::parse2::<syn::Item>(item)? {
            syn::Item::Fn(item) => item,
            syn::Item::Verbatim(tokens) if is_bodiless_fn(&tokens) => {
                return Err(syn::Error::new_spanned(
                    tokens,
                    format!(
                        "#[{attr}] needs a function body; put it on the implementation, not the declaration"
                    ),
                ));
            }
            other => {
                return Err(syn::Error::new(
                    item_span(&other),
                    format!(
                        "#[{attr}] applies to functions, not to {}",
                        item_kind(&other)
                    ),
                ));
            }
        };
        let shape = Shape::of(&item);
        Ok(Function { item, shape })
    }

    pub fn name(&self) -> &Ident {
        &self.item.sig.ident
    }

    /// What the body evaluates to.
    pub fn output(&self, krate: &TokenStream) -> Output {
        Output::of(&self.item.sig.output, krate)
    }

    /// The names bound by the parameters (`self` included), for `skip` and `fields` checks.
    pub fn param_names(&self) -> Vec<String> {
        self.item
            .sig
            .inputs
            .iter()
            .flat_map(|arg| match arg {
                FnArg::Receiver(_) => vec!["self".to_owned()],
                FnArg::Typed(pat) => binding_idents(&pat.pat)
                    .iter()
                    .map(Ident::to_string)
                    .collect(),
            })
            .collect()
    }
}

impl Shape {
    fn of(item: &ItemFn) -> Self {
        if item.sig.asyncness.is_some() {
            return Shape::Async;
        }
        match &item.sig.output {
            ReturnType::Type(_, ty) => Shape::of_type(ty),
            ReturnType::Default => Shape::Sync,
        }
    }

    fn of_type(ty: &Type) -> Self {
        match ty {
            Type::ImplTrait(bounds) if bounds.bounds.iter().any(is_future_bound) => {
                Shape::ImplFuture
            }
            Type::Path(path) => match path.path.segments.last() {
                Some(seg) if seg.ident == "BoxFuture" || seg.ident == "LocalBoxFuture" => {
                    Shape::BoxedFuture
                }
                Some(seg) if seg.ident == "Pin" && pins_dyn_future(&seg.arguments) => {
                    Shape::BoxedFuture
                }
                _ => Shape::Sync,
            },
            Type::Paren(inner) => Shape::of_type(&inner.elem),
            Type::Group(inner) => Shape::of_type(&inner.elem),
            _ => Shape::Sync,
        }
    }
}

fn is_future_bound(bound: &syn::TypeParamBound) -> bool {
    matches!(bound, syn::TypeParamBound::Trait(t)
        if t.path.segments.last().is_some_and(|s| s.ident == "Future"))
}

/// `Pin<Box<dyn Future<…> + …>>`.
fn pins_dyn_future(args: &PathArguments) -> bool {
    let PathArguments::AngleBracketed(args) = args else {
        return false;
    };
    args.args.iter().any(|arg| match arg {
        GenericArgument::Type(Type::Path(boxed)) => boxed.path.segments.last().is_some_and(|s| {
            s.ident == "Box"
                && matches!(&s.arguments, PathArguments::AngleBracketed(inner)
                    if inner.args.iter().any(|a| matches!(a,
                        GenericArgument::Type(Type::TraitObject(obj))
                            if obj.bounds.iter().any(is_future_bound))))
        }),
        _ => false,
    })
}

/// The identifiers a pattern binds, with their spans.
pub fn binding_idents(pat: &Pat) -> Vec<Ident> {
    struct Bindings(Vec<Ident>);
    impl<'ast> syn::visit::Visit<'ast> for Bindings {
        fn visit_pat_ident(&mut self, p: &'ast syn::PatIdent) {
            self.0.push(p.ident.clone());
            syn::visit::visit_pat_ident(self, p);
        }
    }
    let mut found = Bindings(Vec::new());
    syn::visit::Visit::visit_pat(&mut found, pat);
    found.0
}

/// Whether a pattern is a plain name (`x`, `mut x`) not marked unused (`_x`): a parameter the
/// rewrite keeps, named as written.
pub fn is_plain_name(pat: &Pat) -> bool {
    matches!(pat, Pat::Ident(p)
        if p.by_ref.is_none() && p.subpat.is_none() && !p.ident.to_string().starts_with('_'))
}

/// Every identifier in a token stream (a macro's input), whatever it names there.
pub fn idents(tokens: TokenStream, out: &mut Vec<String>) {
    for tree in tokens {
        match tree {
            proc_macro2::TokenTree::Ident(ident) => out.push(ident.to_string()),
            proc_macro2::TokenTree::Group(group) => idents(group.stream(), out),
            _ => {}
        }
    }
}

fn is_bodiless_fn(tokens: &TokenStream) -> bool {
    let mut iter = tokens.clone().into_iter();
    let has_fn = iter.any(|tt| matches!(&tt, proc_macro2::TokenTree::Ident(i) if i == "fn"));
    let ends_in_semi =
        tokens.clone().into_iter().last().is_some_and(
            |tt| matches!(&tt, proc_macro2::TokenTree::Punct(p) if p.as_char() == ';'),
        );
    has_fn && ends_in_semi
}

fn item_span(item: &syn::Item) -> proc_macro2::Span {
    use syn::Item;
    match item {
        Item::Struct(i) => i.struct_token.span,
        Item::Enum(i) => i.enum_token.span,
        Item::Trait(i) => i.trait_token.span,
        Item::Impl(i) => i.impl_token.span,
        Item::Mod(i) => i.mod_token.span,
        Item::Const(i) => i.const_token.span,
        Item::Static(i) => i.static_token.span,
        Item::Type(i) => i.type_token.span,
        Item::Use(i) => i.use_token.span,
        other => other.span(),
    }
}

fn item_kind(item: &syn::Item) -> &'static str {
    use syn::Item;
    match item {
        Item::Struct(_) => "a struct",
        Item::Enum(_) => "an enum",
        Item::Union(_) => "a union",
        Item::Trait(_) => "a trait",
        Item::Impl(_) => "an impl block (put it on the methods inside)",
        Item::Mod(_) => "a module",
        Item::Const(_) => "a constant",
        Item::Static(_) => "a static",
        Item::Type(_) => "a type alias",
        Item::Use(_) => "a `use` item",
        Item::Macro(_) => "a macro invocation",
        Item::ExternCrate(_) => "an `extern crate` item",
        Item::ForeignMod(_) => "an `extern` block",
        _ => "this item",
    }
}

/// The type a function's body evaluates to, in the forms the expansions write it.
pub struct Output {
    /// As declared, `()` for no return type, and `!` as the runtime's `Never` (stable Rust
    /// names `!` only as a function's return type).
    pub ty: TokenStream,
    /// The same with `_` for every `impl Trait` in it (`Result<impl Display, E>` becomes
    /// `Result<_, E>`): writable in an expression, and enough for `?` to know its target.
    pub inferable: TokenStream,
    /// Whether it is `!`.
    pub is_never: bool,
    /// Whether it is written as a future (`impl Future<…>`, `Pin<Box<dyn Future<…>>>`).
    pub is_future: bool,
}

impl Output {
    fn of(output: &ReturnType, krate: &TokenStream) -> Self {
        let ty: Type = match output {
            ReturnType::Default => syn::parse_quote!(()),
            ReturnType::Type(_, ty) => (**ty).clone(),
        };
        if let Type::Never(never) = &ty {
            let never = quote::quote_spanned!(never.bang_token.span=> #krate::__private::Never);
            return Output {
                ty: never.clone(),
                inferable: never,
                is_never: true,
                is_future: false,
            };
        }
        let mut inferable = ty.clone();
        syn::visit_mut::VisitMut::visit_type_mut(&mut Placeholders, &mut inferable);
        Output {
            ty: quote::quote!(#ty),
            inferable: quote::quote!(#inferable),
            is_never: false,
            is_future: Shape::of_type(&ty) != Shape::Sync,
        }
    }

    /// The type of the future a rewritten function returns.
    pub fn future(&self) -> Type {
        let ty = &self.ty;
        // `impl` is spanned at the macro, whose edition (2024) captures every in-scope
        // lifetime, as `async fn` does, whatever the edition of the user's crate.
        syn::parse_quote!(impl ::core::future::Future<Output = #ty>)
    }

    /// The future type of an `extern` function, spanned as the user's code so that the lint
    /// on types that cannot cross an FFI boundary reports it, as for the `async extern fn`.
    pub fn foreign_future(&self) -> Type {
        let ty = &self.ty;
        let span = self
            .ty
            .clone()
            .into_iter()
            .next()
            .map_or_else(Span::call_site, |t| t.span());
        syn::parse_quote_spanned!(span=> impl ::core::future::Future<Output = #ty>)
    }
}

/// Replaces every `impl Trait` with `_`.
struct Placeholders;

impl syn::visit_mut::VisitMut for Placeholders {
    fn visit_type_mut(&mut self, ty: &mut Type) {
        if let Type::ImplTrait(impl_trait) = ty {
            *ty = Type::Infer(syn::TypeInfer {
                attrs: Vec::new(),
                underscore_token: syn::Token![_](impl_trait.impl_token.span),
            });
            return;
        }
        syn::visit_mut::visit_type_mut(self, ty);
    }
}
