//! The attribute grammar: one darling struct per macro, shared option types here.

use darling::util::{Flag, PathList};
use darling::{Error, FromMeta, Result};
use proc_macro_crate::FoundCrate;
use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, LitStr, Token};

/// Options every tracebound attribute takes.
#[derive(Debug, Default, FromMeta)]
#[darling(default)]
pub struct Common {
    pub name: Option<SpanName>,
    pub kind: Option<Word<Kind>>,
    pub skip: Option<PathList>,
    pub skip_all: Flag,
    pub fields: Fields,
    pub err: Option<Switch>,
    #[darling(rename = "crate")]
    pub krate: Option<syn::Path>,
}

impl Common {
    /// The path generated code names the runtime crate by: `crate = …` if given, else the name
    /// the user's `Cargo.toml` gives the `tracebound` package (`tb = { package = "tracebound" }`
    /// works without `crate = …`).
    pub fn krate(&self) -> syn::Result<TokenStream> {
        if let Some(path) = &self.krate {
            return Ok(path.to_token_stream());
        }
        match proc_macro_crate::crate_name("tracebound") {
            Ok(FoundCrate::Name(name)) => {
                let name = Ident::new(&name, Span::call_site());
                Ok(quote!(::#name))
            }
            // The package itself: its doctests and examples name it `tracebound`.
            Ok(FoundCrate::Itself) => Ok(quote!(::tracebound)),
            // Not built by cargo: nothing to read the name from.
            Err(_) if std::env::var_os("CARGO_MANIFEST_DIR").is_none() => Ok(quote!(::tracebound)),
            Err(_) => Err(syn::Error::new(
                Span::call_site(),
                "`tracebound` is not a dependency of this crate: add it to Cargo.toml, or, if \
                 another crate re-exports it, give its path with `crate = …` (for example \
                 `crate = my_facade::tracebound`)",
            )),
        }
    }

    pub fn records_errors(&self) -> bool {
        self.err.is_none_or(|err| err.0)
    }
}

/// Parsing an attribute's arguments into its options struct.
pub trait Options: FromMeta + Default {
    fn common(&self) -> &Common;

    fn parse(args: TokenStream) -> Result<Self> {
        let items = darling::ast::NestedMeta::parse_meta_list(args)?;
        Self::from_list(&items)
    }
}

/// `#[traced_task(…)]`.
#[derive(Debug, Default, FromMeta)]
#[darling(default)]
pub struct TaskOptions {
    #[darling(flatten)]
    pub common: Common,
    pub root: Flag,
}

impl Options for TaskOptions {
    fn common(&self) -> &Common {
        &self.common
    }
}

/// `#[traced_blocking(…)]`.
#[derive(Debug, Default, FromMeta)]
#[darling(default)]
pub struct BlockingOptions {
    #[darling(flatten)]
    pub common: Common,
    pub executor: Option<Word<Executor>>,
}

impl Options for BlockingOptions {
    fn common(&self) -> &Common {
        &self.common
    }
}

/// `executor = pool|thread`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromMeta)]
#[darling(rename_all = "snake_case")]
pub enum Executor {
    Pool,
    Thread,
}

impl Variant for Executor {}

/// `#[traced_consumer(…)]`.
#[derive(Debug, Default, FromMeta)]
#[darling(default)]
pub struct ConsumerOptions {
    #[darling(flatten)]
    pub messaging: Messaging,
    pub carrier: Option<Carrier>,
    pub batch: Option<Carrier>,
    pub relation: Option<darling::util::SpannedValue<Word<Relation>>>,
    /// A pull consumer's `receive = |output| …`: the messages its output holds.
    pub receive: Option<Carrier>,
}

impl Options for ConsumerOptions {
    fn common(&self) -> &Common {
        &self.messaging.common
    }
}

/// `#[traced_producer(…)]`.
#[derive(Debug, Default, FromMeta)]
#[darling(default)]
pub struct ProducerOptions {
    #[darling(flatten)]
    pub messaging: Messaging,
    pub carrier: Option<Carrier>,
    /// A batch of messages, each with its own `create` span and carrier.
    pub batch: Option<Carrier>,
}

impl Options for ProducerOptions {
    fn common(&self) -> &Common {
        &self.messaging.common
    }
}

/// The options of the messaging macros: the common ones, and the messaging semantic
/// conventions `system = "…"`, `destination = "…"`, `operation = "…"`.
#[derive(Debug, Default, FromMeta)]
#[darling(default)]
pub struct Messaging {
    #[darling(flatten)]
    pub common: Common,
    pub system: Option<LitStr>,
    pub destination: Option<LitStr>,
    pub operation: Option<LitStr>,
}

/// An expression naming where headers are: `headers`, `msg.headers`, `|m| &m.headers`.
#[derive(Debug, Clone)]
pub struct Carrier(pub Expr);

impl FromMeta for Carrier {
    fn from_expr(expr: &Expr) -> Result<Self> {
        match expr {
            Expr::Group(group) => Self::from_expr(&group.expr),
            expr => Ok(Carrier(expr.clone())),
        }
    }
}

/// `relation = parent|link`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromMeta)]
#[darling(rename_all = "snake_case")]
pub enum Relation {
    Parent,
    Link,
}

impl Variant for Relation {}

/// An option whose values name a variant of the runtime's enum of the same name.
pub trait Variant: std::fmt::Debug {
    /// The runtime's variant: `Kind::Server` is `SpanKind::Server`.
    fn variant(&self) -> Ident {
        Ident::new(&format!("{self:?}"), Span::call_site())
    }
}

/// An option's value written as a bare word or a string literal: `kind = server` or
/// `kind = "server"`. The derived `FromMeta` of `T` reads string literals only.
#[derive(Debug, Clone, Copy)]
pub struct Word<T>(pub T);

impl<T: FromMeta> FromMeta for Word<T> {
    fn from_expr(expr: &Expr) -> Result<Self> {
        match expr {
            Expr::Path(path) if path.path.get_ident().is_some() => {
                let ident = path
                    .path
                    .get_ident()
                    .map(Ident::to_string)
                    .unwrap_or_default();
                T::from_string(&ident).map_err(|e| e.with_span(expr))
            }
            Expr::Lit(lit) => T::from_value(&lit.lit).map_err(|e| e.with_span(expr)),
            Expr::Group(group) => return Self::from_expr(&group.expr),
            _ => Err(Error::unexpected_expr_type(expr).with_span(expr)),
        }
        .map(Word)
    }
}

/// `name = "…"`: a string literal, used as the span name as is.
#[derive(Debug)]
pub struct SpanName(pub LitStr);

impl FromMeta for SpanName {
    fn from_expr(expr: &Expr) -> Result<Self> {
        match expr {
            Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(name),
                ..
            }) => Ok(SpanName(name.clone())),
            Expr::Group(group) => Self::from_expr(&group.expr),
            _ => Err(Error::custom(
                "`name` takes a string literal, as in `name = \"orders.lookup\"`",
            )
            .with_span(expr)),
        }
    }
}

/// A boolean option: the bare word means `true`, or `= true` / `= false`.
#[derive(Debug, Clone, Copy)]
pub struct Switch(pub bool);

impl FromMeta for Switch {
    fn from_word() -> Result<Self> {
        Ok(Switch(true))
    }

    fn from_expr(expr: &Expr) -> Result<Self> {
        match expr {
            Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Bool(value),
                ..
            }) => Ok(Switch(value.value)),
            Expr::Group(group) => Self::from_expr(&group.expr),
            _ => Err(Error::custom("expected `true` or `false`").with_span(expr)),
        }
    }
}

/// `kind = internal|server|client|producer|consumer` (a bare word or a string).
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromMeta)]
#[darling(rename_all = "snake_case")]
pub enum Kind {
    Internal,
    Server,
    Client,
    Producer,
    Consumer,
}

impl Variant for Kind {}

/// `fields(key = expr, a.dotted.key = expr, "quoted.key" = expr, shorthand)`.
#[derive(Debug, Default)]
pub struct Fields(pub Vec<Field>);

#[derive(Debug)]
pub struct Field {
    pub key: LitStr,
    pub value: Expr,
}

impl FromMeta for Fields {
    fn from_meta(item: &syn::Meta) -> Result<Self> {
        let syn::Meta::List(list) = item else {
            return Err(Error::custom("expected `fields(key = value, …)`").with_span(item));
        };
        let entries = list
            .parse_args_with(Punctuated::<Field, Token![,]>::parse_terminated)
            .map_err(Error::from)?;
        let mut errors = Error::accumulator();
        let mut seen = std::collections::HashSet::new();
        for field in &entries {
            if !seen.insert(field.key.value()) {
                // In darling's words, as for a repeated option.
                errors.push(Error::duplicate_field(&field.key.value()).with_span(&field.key));
            }
        }
        errors.finish_with(Fields(entries.into_iter().collect()))
    }
}

impl Parse for Field {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.peek(LitStr) {
            let key: LitStr = input.parse()?;
            input.parse::<Token![=]>()?;
            return Ok(Field {
                key,
                value: input.parse()?,
            });
        }
        let first = input.call(Ident::parse_any)?;
        let mut key = first.to_string();
        let mut span = first.span();
        while input.peek(Token![.]) {
            input.parse::<Token![.]>()?;
            let part = input.call(Ident::parse_any)?;
            key.push('.');
            key.push_str(&part.to_string());
            span = span.join(part.span()).unwrap_or(span);
        }
        let value = if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            input.parse()?
        } else if key.contains('.') {
            return Err(input.error(format!("expected `= value` after the dotted key `{key}`")));
        } else {
            syn::parse_quote_spanned!(first.span()=> #first)
        };
        Ok(Field {
            key: LitStr::new(&key, span),
            value,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Common;

    /// Run by cargo for this crate, whose manifest has no `tracebound` dependency: the error
    /// says so and names `crate = …`.
    #[test]
    fn a_crate_without_tracebound_is_told_about_crate_option() {
        let error = Common::default().krate().unwrap_err().to_string();
        assert!(error.contains("not a dependency"), "{error}");
        assert!(error.contains("crate = …"), "{error}");
    }
}
