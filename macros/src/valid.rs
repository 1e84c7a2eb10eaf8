//! Semantic rules on a parsed attribute and function, each a sentence-long error at the
//! user's tokens.

use crate::ast::{Function, Shape};
use crate::options::{
    BlockingOptions, Carrier, Common, ConsumerOptions, Options, ProducerOptions, TaskOptions,
};
use darling::Error;
use darling::error::Accumulator;
use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{Expr, FnArg, Pat, ReceiverKind, Type};

pub fn task(options: &TaskOptions, function: &Function) -> darling::Result<()> {
    let mut errors = Error::accumulator();
    common("traced_task", options.common(), function, &mut errors);
    if function.shape == Shape::Sync && !crate::stacking::is_tokio_body(&function.item.block) {
        let message = "#[traced_task] needs an `async fn`, or a fn returning `impl Future` or \
                       `Pin<Box<dyn Future>>`; for synchronous work use #[traced_blocking]";
        errors.push(at_output(message, function));
    }
    errors.finish()
}

pub fn blocking(options: &BlockingOptions, function: &Function) -> darling::Result<()> {
    let mut errors = Error::accumulator();
    common("traced_blocking", options.common(), function, &mut errors);
    let sig = &function.item.sig;
    if let Some(token) = &sig.asyncness {
        errors.push(
            Error::custom(
                "#[traced_blocking] is for synchronous functions: it runs the body on the blocking \
                 pool and makes the function async; for an `async fn` use #[traced_task]",
            )
            .with_span(token),
        );
    }
    for arg in &sig.inputs {
        match arg {
            FnArg::Receiver(receiver) => {
                if let ReceiverKind::Reference(..) = receiver.kind {
                    errors.push(
                        Error::custom(
                            "#[traced_blocking] runs the body on another thread, so it cannot \
                             borrow `self`; take `self` by value (in an `Arc`, say)",
                        )
                        .with_span(receiver),
                    );
                }
            }
            FnArg::Typed(typed) => {
                let name = match &*typed.pat {
                    Pat::Ident(pat) => format!("`{}`", pat.ident),
                    _ => "this argument".to_owned(),
                };
                if let Some(borrow) = first_borrow(&typed.ty) {
                    errors.push(
                        Error::custom(format!(
                            "{name} borrows: #[traced_blocking] runs the body on another \
                             thread, so every argument must be owned and `'static` (String, \
                             Vec<u8>, Arc<…>)"
                        ))
                        .with_span(&borrow),
                    );
                } else if let Some(bounds) = impl_without_send_static(&typed.ty) {
                    errors.push(
                        Error::custom(format!(
                            "{name} is an `impl Trait` that may not be `Send + 'static`: \
                             #[traced_blocking] runs the body on another thread; write \
                             `impl {bounds} + Send + 'static`"
                        ))
                        .with_span(&typed.ty),
                    );
                }
            }
        }
    }
    errors.finish()
}

/// For an `impl Trait` argument lacking `Send` or `'static` among its bounds: the bounds it has.
fn impl_without_send_static(ty: &Type) -> Option<String> {
    use quote::ToTokens;
    let Type::ImplTrait(impl_trait) = ty else {
        return None;
    };
    let has = |name: &str| {
        impl_trait.bounds.iter().any(|bound| match bound {
            syn::TypeParamBound::Trait(t) => {
                t.path.segments.last().is_some_and(|s| s.ident == name)
            }
            syn::TypeParamBound::Lifetime(l) => l.ident == name,
            _ => false,
        })
    };
    if has("Send") && has("static") {
        return None;
    }
    let bounds = impl_trait.bounds.to_token_stream().to_string();
    Some(
        bounds
            .replace(" <", "<")
            .replace("< ", "<")
            .replace(" >", ">"),
    )
}

/// The first reference or non-`'static` lifetime in `ty`, if any.
fn first_borrow(ty: &Type) -> Option<proc_macro2::TokenStream> {
    use quote::ToTokens;
    use syn::visit::Visit;
    struct Finder(Option<proc_macro2::TokenStream>);
    impl<'ast> Visit<'ast> for Finder {
        // References in a function's signature (`fn(&str)`, `dyn Fn(&str)`) are its
        // arguments', not borrows held by the value.
        fn visit_type_fn_ptr(&mut self, _: &'ast syn::TypeFnPtr) {}
        fn visit_parenthesized_generic_arguments(
            &mut self,
            _: &'ast syn::ParenthesizedGenericArguments,
        ) {
        }
        fn visit_type_reference(&mut self, node: &'ast syn::TypeReference) {
            let is_static = node.lifetime.as_ref().is_some_and(|l| l.ident == "static");
            if self.0.is_none() && !is_static {
                self.0 = Some(node.to_token_stream());
            }
            syn::visit::visit_type_reference(self, node);
        }
        fn visit_lifetime(&mut self, node: &'ast syn::Lifetime) {
            if self.0.is_none() && node.ident != "static" {
                self.0 = Some(node.to_token_stream());
            }
        }
    }
    let mut finder = Finder(None);
    finder.visit_type(ty);
    finder.0
}

pub fn consumer(options: &ConsumerOptions, function: &Function) -> darling::Result<()> {
    let mut errors = Error::accumulator();
    common("traced_consumer", options.common(), function, &mut errors);
    if let Some(receive) = &options.receive {
        receive_options(options, receive, function, &mut errors);
        return errors.finish();
    }
    match (&options.batch, &options.carrier) {
        (_, None) => errors.push(
            Error::custom(
                "#[traced_consumer] needs `carrier = …`: the parameter holding the message \
                 headers, or an expression rooted at one, like `msg.headers`",
            )
            .with_span(&Span::call_site()),
        ),
        (Some(batch), Some(carrier)) => {
            rooted_at_parameter(&batch.0, "batch", function, &mut errors);
            closure_carrier(carrier, "`carrier = |m| &m.headers`", function, &mut errors);
            if let Some(relation) = &options.relation {
                errors.push(
                    Error::custom(
                        "`relation` does not apply to `batch`: a batch span always links to \
                         each message's context",
                    )
                    .with_span(&relation.span()),
                );
            }
        }
        (None, Some(carrier)) => {
            if let Expr::Closure(closure) = &carrier.0 {
                errors.push(
                    Error::custom(
                        "a closure `carrier` reads one message of a batch; add `batch = …` naming \
                         the parameter that holds the messages, or name the headers directly",
                    )
                    .with_span(closure),
                );
            } else {
                rooted_at_parameter(&carrier.0, "carrier", function, &mut errors);
            }
        }
    }
    errors.finish()
}

/// Whether `expr` is a function: a closure, or a path that names no parameter
/// (`Message::headers_mut`, as clippy suggests for `|m| m.headers_mut()`).
fn is_function(expr: &Expr, function: &Function) -> bool {
    match expr {
        Expr::Closure(_) => true,
        Expr::Path(path) => path
            .path
            .get_ident()
            .is_none_or(|ident| !function.param_names().contains(&ident.to_string())),
        Expr::Group(group) => is_function(&group.expr, function),
        _ => false,
    }
}

/// With `batch`, `carrier` maps one message to its headers.
fn closure_carrier(
    carrier: &Carrier,
    example: &str,
    function: &Function,
    errors: &mut Accumulator,
) {
    if !is_function(&carrier.0, function) {
        errors.push(
            Error::custom(format!(
                "with `batch`, `carrier` must be a closure (or a function) from one message to its \
                 headers, like {example}"
            ))
            .with_span(&carrier.0),
        );
    }
}

/// A pull consumer reads its messages from what it returns: `receive` is a closure, and the
/// options that read messages from arguments do not apply.
fn receive_options(
    options: &ConsumerOptions,
    receive: &Carrier,
    function: &Function,
    errors: &mut Accumulator,
) {
    let is_function = is_function(&receive.0, function);
    if !is_function {
        errors.push(
            Error::custom(
                "`receive` must be a closure from the function's output to the messages it \
                 fetched, like `receive = |batch| batch.iter()` or, for a `Result`, \
                 `receive = |fetched| fetched.iter().flatten()`",
            )
            .with_span(&receive.0),
        );
    }
    // The closure runs on the output, after the body has taken every parameter. (A `receive`
    // that is a parameter was reported above, once.)
    let parameters = function.param_names();
    let read = match is_function {
        true => crate::expand::reads(&receive.0).0,
        false => Vec::new(),
    };
    for ident in read {
        if parameters.contains(&ident.to_string()) {
            errors.push(
                Error::custom(format!(
                    "`receive` cannot read the parameter `{ident}`: it runs on the function's \
                     output, after the body has taken the parameters; return what it needs \
                     with the messages"
                ))
                .with_span(&ident),
            );
        }
    }
    let conflicts: [(&str, Option<Span>); 3] = [
        ("carrier", options.carrier.as_ref().map(|c| c.0.span())),
        ("batch", options.batch.as_ref().map(|c| c.0.span())),
        ("relation", options.relation.as_ref().map(|r| r.span())),
    ];
    for (option, span) in conflicts {
        if let Some(span) = span {
            errors.push(
                Error::custom(format!(
                    "`{option}` does not apply with `receive`: a receive span starts before the \
                     messages exist, and links to each message's context once they are fetched"
                ))
                .with_span(&span),
            );
        }
    }
}

pub fn producer(options: &ProducerOptions, function: &Function) -> darling::Result<()> {
    let mut errors = Error::accumulator();
    common("traced_producer", options.common(), function, &mut errors);
    match &options.carrier {
        None if options.batch.is_some() => errors.push(
            Error::custom(
                "#[traced_producer] with `batch` needs `carrier = …`: a closure from one message \
                 to the headers its context is written to, like `carrier = |m| &mut m.headers`",
            )
            .with_span(&Span::call_site()),
        ),
        None => errors.push(
            Error::custom(
                "#[traced_producer] needs `carrier = …`: a `&mut` parameter the outgoing \
                 headers are written to",
            )
            .with_span(&Span::call_site()),
        ),
        Some(carrier) => match &options.batch {
            None => producer_carrier(carrier, function, &mut errors),
            Some(batch) => {
                rooted_at_parameter(&batch.0, "batch", function, &mut errors);
                closure_carrier(
                    carrier,
                    "`carrier = |m| &mut m.headers`",
                    function,
                    &mut errors,
                );
            }
        },
    }
    errors.finish()
}

fn producer_carrier(carrier: &Carrier, function: &Function, errors: &mut Accumulator) {
    let name = match &carrier.0 {
        Expr::Path(path) => path.path.get_ident(),
        _ => None,
    };
    let Some(name) = name else {
        errors.push(
            Error::custom("`carrier` must name a `&mut` parameter of the function")
                .with_span(&carrier.0),
        );
        return;
    };
    let param = function.item.sig.inputs.iter().find_map(|arg| match arg {
        FnArg::Typed(typed) => match &*typed.pat {
            Pat::Ident(pat) if pat.ident == *name => Some(&*typed.ty),
            _ => None,
        },
        FnArg::Receiver(_) => None,
    });
    match param {
        None => not_a_parameter(name.to_string(), name.span(), "carrier", function, errors),
        Some(Type::Reference(reference)) if reference.mutability.is_some() => {}
        Some(ty) => errors.push(
            Error::custom(format!(
                "`carrier = {name}` must be a `&mut` parameter, so that the send span's context \
                 can be written into it before the body runs"
            ))
            .with_span(ty),
        ),
    }
}

/// Rules for the options every macro takes.
fn common(attr: &str, options: &Common, function: &Function, errors: &mut Accumulator) {
    if let Some(token) = &function.item.sig.constness {
        errors.push(
            Error::custom(format!(
                "#[{attr}] cannot go on a `const fn`: a span starts at run time"
            ))
            .with_span(token),
        );
    }
    let Some(skip) = &options.skip else {
        return;
    };
    if options.skip_all.is_present() {
        errors.push(
            Error::custom("`skip_all` already skips every parameter; remove `skip(…)`")
                .with_span(&options.skip_all.span()),
        );
    }
    for path in skip.iter() {
        // `self` is a keyword, so it is not an identifier to syn.
        match path.segments.iter().collect::<Vec<_>>().as_slice() {
            [segment] if path.leading_colon.is_none() => {
                let name = segment.ident.to_string();
                if !function.param_names().contains(&name) {
                    not_a_parameter(name, segment.ident.span(), "skip", function, errors);
                }
            }
            _ => errors.push(Error::custom("expected a parameter name").with_span(path)),
        }
    }
}

fn at_output(message: &str, function: &Function) -> Error {
    let sig = &function.item.sig;
    match &sig.output {
        syn::ReturnType::Type(_, ty) => Error::custom(message).with_span(ty),
        syn::ReturnType::Default => Error::custom(message).with_span(&sig.ident),
    }
}

/// Checks that `expr` is a parameter or a field, method or index chain starting at one.
fn rooted_at_parameter(expr: &Expr, option: &str, function: &Function, errors: &mut Accumulator) {
    match root(expr) {
        Some(ident) => {
            let name = ident.to_string();
            if !function.param_names().contains(&name) {
                not_a_parameter(name, ident.span(), option, function, errors);
            }
        }
        None => errors.push(
            Error::custom(format!(
                "`{option}` must be a parameter or an expression rooted at one, like \
                 `msg.headers` or `delivery.properties.headers()`"
            ))
            .with_span(expr),
        ),
    }
}

fn root(expr: &Expr) -> Option<&syn::Ident> {
    match expr {
        Expr::Path(path) if path.qself.is_none() && path.path.segments.len() == 1 => {
            Some(&path.path.segments[0].ident)
        }
        Expr::Field(field) => root(&field.base),
        Expr::MethodCall(call) => root(&call.receiver),
        Expr::Index(index) => root(&index.expr),
        Expr::Reference(reference) => root(&reference.expr),
        Expr::Unary(unary) => root(&unary.expr),
        Expr::Paren(paren) => root(&paren.expr),
        Expr::Group(group) => root(&group.expr),
        Expr::Try(expr) => root(&expr.expr),
        _ => None,
    }
}

fn not_a_parameter(
    name: String,
    span: Span,
    option: &str,
    function: &Function,
    errors: &mut Accumulator,
) {
    let params = function.param_names();
    let fn_name = function.name();
    let message = match did_you_mean(&name, &params) {
        Some(close) => format!(
            "`{option}`: `{name}` is not a parameter of `{fn_name}`; did you mean `{close}`?"
        ),
        None if params.is_empty() => {
            format!("`{option}`: `{name}` is not a parameter of `{fn_name}`, which has none")
        }
        None => format!(
            "`{option}`: `{name}` is not a parameter of `{fn_name}` (its parameters: {})",
            params
                .iter()
                .map(|p| format!("`{p}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    errors.push(Error::custom(message).with_span(&span));
}

/// The candidate closest to `name`, if any is close enough to be a likely typo.
pub fn did_you_mean<'a>(name: &str, candidates: &'a [String]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(name, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c.as_str())
}
