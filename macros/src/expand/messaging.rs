//! `#[traced_consumer]` and `#[traced_producer]`: spans named and attributed by the messaging
//! semantic conventions, whose context is read from or written to a carrier at call time.

use super::{Plan, Received, attributes, cx, idents_in_fields, names_read, run, scope, span_name};
use crate::ast::Function;
use crate::options::{
    Carrier, Common, ConsumerOptions, Kind, Messaging, Options, ProducerOptions, Relation, Variant,
};
use crate::valid;
use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::LitStr;
use syn::spanned::Spanned;

/// `messaging.operation.type` values; another operation name is typed by the macro's default.
const OPERATION_TYPES: [&str; 5] = ["create", "send", "receive", "process", "settle"];

/// The span kind semantic conventions v1.44 give an operation type ("Span kind"); a batch's
/// `send` span is a CLIENT one, its messages' `create` spans are the PRODUCER ones.
fn kind_of(operation_type: &str, batch: bool) -> Kind {
    match operation_type {
        "create" => Kind::Producer,
        "send" if batch => Kind::Client,
        "send" => Kind::Producer,
        "receive" | "settle" => Kind::Client,
        _ => Kind::Consumer,
    }
}

/// The span name, the fixed attributes and the operation type for a messaging span whose
/// default operation is `operation`.
fn conventions(
    messaging: &Messaging,
    operation: &str,
    of_messages: bool,
    function: &Function,
) -> (String, Vec<(&'static str, LitStr)>, String) {
    let name = messaging
        .operation
        .clone()
        .unwrap_or_else(|| LitStr::new(operation, Span::call_site()));
    let kind = if OPERATION_TYPES.contains(&name.value().as_str()) {
        LitStr::new(&name.value(), name.span())
    } else {
        LitStr::new(operation, name.span())
    };
    let span_name = match &messaging.destination {
        Some(destination) => format!("{} {}", name.value(), destination.value()),
        None => function.name().to_string(),
    };
    let mut fixed = Vec::new();
    if let Some(system) = &messaging.system {
        fixed.push(("messaging.system", system.clone()));
    }
    if let Some(destination) = &messaging.destination {
        fixed.push(("messaging.destination.name", destination.clone()));
    }
    // An HTTP handler is a consumer of headers too, but not of messages: the operation
    // attributes belong to spans that name a messaging system, destination or operation, or
    // that handle messages by their nature (batches, receives).
    if of_messages || !fixed.is_empty() || messaging.operation.is_some() {
        fixed.push(("messaging.operation.name", name));
        fixed.push(("messaging.operation.type", kind.clone()));
    }
    (span_name, fixed, kind.value())
}

/// What both messaging macros derive from their options before deciding how the span starts.
struct Parts {
    krate: TokenStream,
    scope: TokenStream,
    name: LitStr,
    kind: proc_macro2::Ident,
    attributes: TokenStream,
    used_params: Vec<String>,
    /// The attribute keys the span starts with: what a message must not set again.
    given: Vec<String>,
}

/// `kind = …` if given, else the kind of the operation type (`macro_kind` for an operation
/// named by a name of its own, typed by the macro's default).
fn parts(
    krate: TokenStream,
    common: &Common,
    messaging: &Messaging,
    operation: &str,
    batch: bool,
    carrier: Option<&Carrier>,
    function: &Function,
) -> Parts {
    let of_messages = batch || operation == "receive";
    let (default_name, fixed, operation_type) =
        conventions(messaging, operation, of_messages, function);
    let kind = kind_of(&operation_type, batch);
    let given = fixed
        .iter()
        .map(|(key, _)| (*key).to_owned())
        .chain(common.fields.0.iter().map(|field| field.key.value()))
        .collect();
    // A key `fields(…)` sets is the user's: the options' value for it is left out, never sent
    // twice.
    let fixed: Vec<(&'static str, &LitStr)> = fixed
        .iter()
        .filter(|(key, _)| {
            !common
                .fields
                .0
                .iter()
                .any(|field| field.key.value() == *key)
        })
        .map(|(k, v)| (*k, v))
        .collect();
    let mut used_params = idents_in_fields(common);
    let carrier = carrier.map(|c| &c.0);
    if let Some(carrier) = carrier {
        names_read(carrier, &mut used_params);
    }
    Parts {
        scope: scope(&krate),
        name: span_name(common, default_name, function),
        kind: common.kind.map_or(kind, |w| w.0).variant(),
        attributes: attributes(&krate, common, &fixed),
        used_params,
        given,
        krate,
    }
}

/// Whether a pull consumer's output is one message at most: a single-message API, whose span
/// gets no batch count and does get the message's attributes.
///
/// Read from the declared type, through `Option`, `Result`, `Box`, `Pin` and a future's
/// `Output`: a collection (`Vec`, `VecDeque`, a slice or array, an iterator or stream) is a
/// batch; anything else is one message (`Option<M>`, `Result<M, E>`, `Option<Result<M, E>>`).
/// A type the macro cannot see through (an alias, `Self::Output`) counts as a batch.
fn returns_one(output: &syn::ReturnType) -> bool {
    /// `Some(true)`: one message; `Some(false)`: a batch; `None`: cannot tell.
    fn one(ty: &syn::Type, wrapped: bool) -> Option<bool> {
        match ty {
            syn::Type::Path(path) => {
                let last = path.path.segments.last()?;
                let first_type = || match &last.arguments {
                    syn::PathArguments::AngleBracketed(args) => {
                        args.args.iter().find_map(|arg| match arg {
                            syn::GenericArgument::Type(ty) => Some(ty),
                            _ => None,
                        })
                    }
                    _ => None,
                };
                match last.ident.to_string().as_str() {
                    "Option" | "Result" | "Box" | "Pin" | "Poll" => one(first_type()?, true),
                    "Vec" | "VecDeque" | "LinkedList" | "SmallVec" | "ArrayVec" => Some(false),
                    // A message type inside a wrapper (`Option<M>`, `Result<M, E>`): one message.
                    _ if wrapped => Some(true),
                    _ => None,
                }
            }
            syn::Type::Slice(_) | syn::Type::Array(_) => Some(false),
            syn::Type::Reference(reference) => one(&reference.elem, wrapped),
            syn::Type::Paren(inner) => one(&inner.elem, wrapped),
            syn::Type::Group(inner) => one(&inner.elem, wrapped),
            syn::Type::ImplTrait(syn::TypeImplTrait { bounds, .. })
            | syn::Type::TraitObject(syn::TypeTraitObject { bounds, .. }) => {
                bounds.iter().find_map(|bound| {
                    let syn::TypeParamBound::Trait(bound) = bound else {
                        return None;
                    };
                    let last = bound.path.segments.last()?;
                    match last.ident.to_string().as_str() {
                        "Iterator" | "IntoIterator" | "Stream" => Some(false),
                        "Future" => match &last.arguments {
                            syn::PathArguments::AngleBracketed(args) => {
                                args.args.iter().find_map(|arg| match arg {
                                    syn::GenericArgument::AssocType(assoc)
                                        if assoc.ident == "Output" =>
                                    {
                                        one(&assoc.ty, wrapped)
                                    }
                                    _ => None,
                                })
                            }
                            _ => None,
                        },
                        _ => None,
                    }
                })
            }
            _ => None,
        }
    }
    match output {
        syn::ReturnType::Type(_, ty) => one(ty, false).unwrap_or(false),
        syn::ReturnType::Default => false,
    }
}

pub fn traced_consumer(args: TokenStream, item: TokenStream) -> TokenStream {
    run::<ConsumerOptions>(
        "traced_consumer",
        args,
        item,
        valid::consumer,
        |options, function, krate| {
            let common = options.common();
            let Parts {
                krate,
                scope,
                name,
                kind,
                attributes,
                mut used_params,
                given,
            } = parts(
                krate,
                common,
                &options.messaging,
                if options.receive.is_some() {
                    "receive"
                } else {
                    "process"
                },
                options.batch.is_some(),
                options.carrier.as_ref(),
                function,
            );
            if let Some(receive) = &options.receive {
                let receive = &receive.0;
                names_read(receive, &mut used_params);
                let start = quote! {
                    #krate::__private::start(
                        #scope, #name, #krate::__private::SpanKind::#kind, false, #attributes,
                    )
                };
                return Plan {
                    received: Some(Received {
                        messages: receive.clone(),
                        one: returns_one(&function.item.sig.output),
                        given,
                    }),
                    ..Plan::in_place(krate, start, common, used_params)
                };
            }
            let carrier = options.carrier.as_ref().map(|c| &c.0);
            let start = match &options.batch {
                Some(batch) => {
                    let batch = &batch.0;
                    names_read(batch, &mut used_params);
                    // Spanned at the user's `batch` and `carrier`, where a type that does not
                    // fit is reported.
                    let messages = quote_spanned!(batch.span()=> (#batch).iter().map(#carrier));
                    quote! {
                        #krate::__private::start_batch(
                            #scope, #name, #krate::__private::SpanKind::#kind,
                            #messages, #attributes,
                        )
                    }
                }
                None => {
                    let relation = options
                        .relation
                        .as_deref()
                        .map_or(Relation::Parent, |w| w.0)
                        .variant();
                    let carrier = quote_spanned!(carrier.span()=> &(#carrier));
                    quote! {
                        #krate::__private::start_consumer(
                            #scope, #name, #krate::__private::SpanKind::#kind,
                            #krate::__private::Relation::#relation, #carrier, #attributes,
                        )
                    }
                }
            };
            Plan::in_place(krate, start, common, used_params)
        },
    )
}

pub fn traced_producer(args: TokenStream, item: TokenStream) -> TokenStream {
    run::<ProducerOptions>(
        "traced_producer",
        args,
        item,
        valid::producer,
        |options, function, krate| {
            let common = options.common();
            let Parts {
                krate,
                scope,
                name,
                kind,
                attributes,
                mut used_params,
                ..
            } = parts(
                krate,
                common,
                &options.messaging,
                "send",
                options.batch.is_some(),
                options.carrier.as_ref(),
                function,
            );
            let carrier = options.carrier.as_ref().map(|c| &c.0);
            if let Some(batch) = &options.batch {
                let batch = &batch.0;
                names_read(batch, &mut used_params);
                let create = LitStr::new(
                    &match &options.messaging.destination {
                        Some(destination) => format!("create {}", destination.value()),
                        None => "create".to_owned(),
                    },
                    name.span(),
                );
                // Spanned at the user's `batch` and `carrier`, where a type that does not fit
                // is reported.
                let messages = quote_spanned!(batch.span()=> (#batch).iter_mut().map(#carrier));
                // The attributes first, so that `fields(…)` may read the batch the messages'
                // contexts are then written into.
                let start = quote! {
                    #krate::__private::send_batch(
                        #scope, #name, #create, #krate::__private::SpanKind::#kind,
                        #attributes,
                    )
                    .start(#messages)
                };
                let mut mutated_params = Vec::new();
                names_read(batch, &mut mutated_params);
                return Plan {
                    mutated_params,
                    ..Plan::in_place(krate, start, common, used_params)
                };
            }
            let cx = cx();
            let start = quote! {
                #krate::__private::start(
                    #scope, #name, #krate::__private::SpanKind::#kind, false, #attributes,
                )
            };
            Plan {
                after_start: quote!(#krate::__private::inject(&#cx, &mut *#carrier);),
                ..Plan::in_place(krate, start, common, used_params)
            }
        },
    )
}
