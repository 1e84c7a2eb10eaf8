//! Messages: lapin's `basic_publish` and consumers, async-nats' publishes and subscribers,
//! rdkafka's records and consumers.

use quote::ToTokens;
use syn::{Expr, ExprMethodCall};

use super::{Auditor, Binding, Judgement, Root};
use crate::analysis::expr::{self, ToVisit};
use crate::index::{Callee, Does, EXTRACTS, INJECTS};
use crate::source::MacroBody;

const PRODUCER_FIX: &str = "annotate the sending fn with #[traced_producer(carrier = headers)], or call tracebound::propagation::inject(&mut headers) before sending";
const CONSUMER_FIX: &str = "handle each message in a #[traced_consumer(carrier = …)] fn, or extract its context with tracebound::propagation::extract (tracebound::stream::per_message for a stream)";

pub(super) fn method<'a>(
    a: &mut Auditor<'a>,
    m: &'a ExprMethodCall,
) -> Option<(&'static str, Judgement)> {
    let name = m.method.to_string();
    let args: Vec<&Expr> = m.args.iter().collect();
    if name == "basic_publish" && a.file.mentions("lapin") {
        let properties = args.last()?;
        return Some(("lapin basic_publish", producer(a, properties)));
    }
    if a.file.mentions("async_nats") {
        let receiver = a.describe(&m.receiver);
        if receiver.contains("async_nats") || receiver.contains("jetstream") {
            match (name.as_str(), args.len()) {
                ("publish" | "request", 2) => {
                    return Some((
                        "async-nats publish",
                        Judgement::lost(
                            format!(
                                "`{name}` sends no headers, so no trace context goes with the message"
                            ),
                            format!(
                                "send with `{name}_with_headers`, with headers from #[traced_producer(carrier = headers)] or tracebound::propagation::inject"
                            ),
                        ),
                    ));
                }
                ("publish_with_headers" | "request_with_headers", 3)
                | ("publish_with_reply_and_headers", 4) => {
                    let headers = args[args.len() - 2];
                    return Some(("async-nats publish", producer(a, headers)));
                }
                _ => {}
            }
        }
    }
    if matches!(name.as_str(), "send" | "send_result")
        && (1..=2).contains(&args.len())
        && a.file.mentions("rdkafka")
    {
        let record = a.describe(args[0]);
        if record.contains("Record") {
            let judgement = if let Some(headers) = headers_of(a, args[0]) {
                producer(a, headers)
            } else if let Root::Name(param, Some(Binding::Param(_))) = a.trace(args[0]).root {
                Judgement::unknown(
                    format!(
                        "the record comes from `{param}`, the caller's; the audit cannot see its headers"
                    ),
                    PRODUCER_FIX,
                )
            } else {
                Judgement::lost(
                    "the record has no headers, so no trace context goes with it",
                    PRODUCER_FIX,
                )
            };
            return Some(("rdkafka send", judgement));
        }
    }
    if matches!(
        name.as_str(),
        "for_each" | "for_each_concurrent" | "try_for_each" | "try_for_each_concurrent"
    ) && let Some(system) = source(a, &m.receiver)
    {
        let handler = args.last()?;
        return Some((system, handles(a, *handler, &m.receiver)));
    }
    None
}

/// `while let Some(m) = consumer.next().await { … }`, `for m in consumer.iter() { … }`.
pub(super) fn consume_loop(
    a: &mut Auditor<'_>,
    source_expr: &Expr,
    body: &syn::Block,
) -> Option<(&'static str, Judgement)> {
    let source_expr = match source_expr {
        Expr::Let(l) => &*l.expr,
        other => other,
    };
    let system = source(a, source_expr)?;
    Some((system, handles(a, body, source_expr)))
}

/// A loop in a `#[traced_consumer]` fn: the fn's span is the consumer's, and a `receive`
/// option links the messages it fetches.
fn in_consumer(a: &Auditor<'_>) -> Option<Judgement> {
    (a.function()?.0 == Some("traced_consumer")).then(|| {
        Judgement::carried(
            "the loop is in a #[traced_consumer] fn, whose span takes the messages' context",
        )
    })
}

/// `loop { let m = consumer.recv().await?; … }` and `loop { match consumer.recv().await { … } }`.
pub(super) fn receive_loop(
    a: &mut Auditor<'_>,
    body: &syn::Block,
) -> Option<(&'static str, Judgement)> {
    // `loop { tokio::select! { Some(d) = consumer.next() => handle(d), … } }`
    let selected = body.stmts.iter().find_map(|stmt| {
        let mac = match stmt {
            syn::Stmt::Macro(m) => &m.mac,
            syn::Stmt::Expr(Expr::Macro(m), _) => &m.mac,
            _ => return None,
        };
        let Some(MacroBody::Select(branches)) = a.file.macros.get(&expr::start(mac)) else {
            return None;
        };
        branches.iter().find_map(|b| {
            let system = source(a, &b.future)?;
            Some((system, handles(a, &b.handler, &b.future)))
        })
    });
    if selected.is_some() {
        return selected;
    }
    body.stmts.iter().find_map(|stmt| {
        let received = match stmt {
            syn::Stmt::Local(l) => &*l.init.as_ref()?.expr,
            syn::Stmt::Expr(Expr::Match(m), _) => &*m.expr,
            syn::Stmt::Expr(Expr::If(i), _) => match &*i.cond {
                Expr::Let(l) => &*l.expr,
                _ => return None,
            },
            _ => return None,
        };
        let (_, methods) = expr::chain(received);
        let receives = methods.iter().any(|m| {
            matches!(
                m.method.to_string().as_str(),
                "recv" | "next" | "poll" | "try_next"
            )
        });
        if !receives {
            return None;
        }
        let system = source(a, received)?;
        Some((system, handles(a, body, received)))
    })
}

/// Which broker's messages an expression yields, if any.
fn source(a: &Auditor<'_>, e: &Expr) -> Option<&'static str> {
    let text = a.describe(e);
    let has = |s: &str| text.contains(s);
    if has("basic_consume") || has("lapin::Consumer") {
        Some("lapin consume loop")
    } else if a.file.mentions("async_nats")
        && (has(".subscribe")
            || has(".queue_subscribe")
            || has("Subscriber")
            || has(".messages")
            || has(".fetch"))
    {
        Some("async-nats consume loop")
    } else if a.file.mentions("rdkafka")
        && (has("StreamConsumer") || has("BaseConsumer") || has("MessageStream"))
    {
        Some("rdkafka consume loop")
    } else {
        None
    }
}

/// Whether a consumer's handling of each message extracts its context.
fn handles(a: &Auditor<'_>, handler: &impl ToVisit, source_expr: &Expr) -> Judgement {
    if let Some(judgement) = in_consumer(a) {
        return judgement;
    }
    if a.describe(source_expr).contains("per_message") {
        return Judgement::carried(
            "tracebound::stream::per_message runs each message under the context extracted from it",
        );
    }
    match extracts(a, handler) {
        Some(how) => Judgement::carried(how),
        None => Judgement::lost(
            "each message is handled without extracting the context from its headers: its spans are new roots",
            CONSUMER_FIX,
        ),
    }
}

/// How a handler extracts each message's context: itself, in a `#[traced_consumer]`, or in a
/// workspace fn that extracts.
fn extracts(a: &Auditor<'_>, handler: &impl ToVisit) -> Option<String> {
    expr::calls(handler).into_iter().find_map(|site| {
        let name = site.name();
        let call = site.call();
        if EXTRACTS.contains(&name.as_str()) {
            Some(format!(
                "the handler extracts the message's context with `{name}`"
            ))
        } else if let Callee::Traced("traced_consumer") = a.index.callee(&name, call, &a.file.name)
        {
            Some(format!(
                "`{name}` is #[traced_consumer]: it extracts each message's context"
            ))
        } else if a.index.does(&name, call, &a.file.name, Does::Extract) == Some(true) {
            Some(format!(
                "`{name}` extracts the message's context from its headers"
            ))
        } else {
            None
        }
    })
}

/// A publish: carried when the sending fn is a `#[traced_producer]` or injects.
fn producer(a: &Auditor<'_>, carrier: &Expr) -> Judgement {
    if let Some((attribute, body)) = a.function() {
        if attribute == Some("traced_producer") {
            return Judgement::carried(
                "the sending fn is #[traced_producer]: it injects its span's context into the carrier",
            );
        }
        if let Some(how) = injects(body) {
            return Judgement::carried(format!("the sending fn injects the context with `{how}`"));
        }
    }
    if let Some(judgement) = made_by_helper(a, carrier) {
        return judgement;
    }
    if let Some(param) = from_caller(a, carrier, 0) {
        return Judgement::unknown(
            format!(
                "the headers come from `{param}`, the caller's; the audit cannot see whether the context was injected into them"
            ),
            PRODUCER_FIX,
        );
    }
    Judgement::lost(
        "nothing injects the trace context into the message's headers",
        PRODUCER_FIX,
    )
}

/// Headers made by a workspace fn: carried when it injects, unknown when it does not in sight
/// (it may call something that does).
fn made_by_helper(a: &Auditor<'_>, carrier: &Expr) -> Option<Judgement> {
    let mut sites = expr::calls(carrier);
    if let Some((init, _)) = a.init_of(expr::chain(carrier).0) {
        sites.extend(expr::calls(init));
    }
    let local = sites
        .iter()
        .filter_map(|site| expr::local_call(site.path()?));
    local.into_iter().find_map(|(name, call)| {
        match a.index.does(&name, call, &a.file.name, Does::Inject)? {
            true => Some(Judgement::carried(format!(
                "the headers come from `{name}`, which injects the context into them"
            ))),
            false => Some(Judgement::unknown(
                format!("the headers come from `{name}`, and the audit does not follow it further"),
                PRODUCER_FIX,
            )),
        }
    })
}

/// The first call in a fn body that injects a context into a carrier: tracebound's, or an
/// OpenTelemetry propagator's.
fn injects(body: &syn::Block) -> Option<String> {
    expr::calls(body)
        .into_iter()
        .map(|site| site.name())
        .find(|name| INJECTS.contains(&name.as_str()))
}

/// The parameter a carrier is made from, following `let`s: `let properties =
/// BasicProperties::default().with_headers(headers)` with `headers` a parameter.
fn from_caller(a: &Auditor<'_>, e: &Expr, depth: usize) -> Option<String> {
    if depth > 8 {
        return None;
    }
    let mut idents = Vec::new();
    collect_idents(e.to_token_stream(), &mut idents);
    idents
        .into_iter()
        .find_map(|ident| match a.binding(&ident) {
            Some(Binding::Param(_)) => Some(ident),
            Some(Binding::Let {
                init: Some(init),
                id,
                ..
            }) => a.follow(id, || from_caller(a, init, depth + 1)),
            _ => None,
        })
}

fn collect_idents(tokens: proc_macro2::TokenStream, out: &mut Vec<String>) {
    for tree in tokens {
        match tree {
            proc_macro2::TokenTree::Ident(i) => out.push(i.to_string()),
            proc_macro2::TokenTree::Group(g) => collect_idents(g.stream(), out),
            _ => {}
        }
    }
}

/// The argument of `.headers(…)` in a record's builder chain, following `let`s.
fn headers_of<'a>(a: &Auditor<'a>, record: &'a Expr) -> Option<&'a Expr> {
    a.trace(record).exprs.into_iter().find_map(|e| {
        let (_, methods) = expr::chain(e);
        let headers = methods
            .into_iter()
            .find(|m| m.method == "headers" && m.args.len() == 1)?;
        Some(&headers.args[0])
    })
}
