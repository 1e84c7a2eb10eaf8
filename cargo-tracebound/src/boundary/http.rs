//! HTTP clients: reqwest (bare or with reqwest-middleware) and hyper-util's client, where the
//! audit can see how the client was built.

use syn::visit::Visit;
use syn::{Expr, ExprCall, ExprMethodCall};

use super::{Auditor, Binding, Judgement, Root};
use crate::analysis::expr;
use crate::index::{CLIENT_INJECTORS, Does, INJECTS};
use crate::source::Imports;

const REQWEST_FIX: &str = "build the client with reqwest_middleware and tracebound::reqwest::Middleware, or send tracebound::reqwest::inject(request)";
const HYPER_FIX: &str = "put tracebound::tower::ClientLayer in front of the client: ServiceBuilder::new().layer(ClientLayer::new()).service(client)";
const REQUEST_METHODS: [&str; 7] = [
    ".get", ".post", ".put", ".patch", ".delete", ".head", ".request",
];

pub(super) fn call(
    _: &mut Auditor<'_>,
    path: &[&str],
    _: &ExprCall,
) -> Option<(&'static str, Judgement)> {
    match path {
        ["reqwest", "get"] => Some((
            "reqwest::get",
            Judgement::lost(
                "reqwest::get sends from a bare client, with no trace headers",
                REQWEST_FIX,
            ),
        )),
        _ => None,
    }
}

pub(super) fn method<'a>(
    a: &mut Auditor<'a>,
    m: &'a ExprMethodCall,
) -> Option<(&'static str, Judgement)> {
    let name = m.method.to_string();
    if name == "send" && m.args.is_empty() && a.file.mentions("reqwest") {
        let request = a.describe(&m.receiver);
        if !REQUEST_METHODS.iter().any(|r| request.contains(r))
            && !request.contains("RequestBuilder")
            && !request.contains("tracebound::reqwest::inject")
        {
            return None;
        }
        return Some(("reqwest send", reqwest(a, &m.receiver, &request)));
    }
    if matches!(name.as_str(), "request" | "call")
        && m.args.len() == 1
        && (a.file.mentions("hyper") || a.file.mentions("hyper_util"))
    {
        let client = a.describe(&m.receiver);
        if let Some(judgement) = built(a, &m.receiver) {
            return Some(("HTTP client request", judgement));
        }
        if client.contains("hyper_util") || client.contains("legacy::Client") {
            let judgement = injected(a).unwrap_or_else(|| {
                Judgement::lost(
                    "a hyper client with no tracebound ClientLayer sends no trace headers",
                    HYPER_FIX,
                )
            });
            return Some(("HTTP client request", judgement));
        }
    }
    None
}

fn reqwest<'a>(a: &Auditor<'a>, receiver: &'a Expr, request: &str) -> Judgement {
    if request.contains("tracebound::reqwest::inject") {
        return Judgement::carried(
            "tracebound::reqwest::inject adds the trace headers to the request",
        );
    }
    if let Some(judgement) = built(a, receiver).or_else(|| injected(a)) {
        return judgement;
    }
    // From a parameter, a pattern or a struct field, through `let`s.
    let comes_from_elsewhere = matches!(
        a.trace(receiver).root,
        Root::Field(_) | Root::Name(_, Some(Binding::Param(_) | Binding::Pattern) | None)
    );
    let bare = (request.contains("reqwest::Client") || request.contains("reqwest::ClientBuilder"))
        && !request.contains("reqwest_middleware");
    if bare {
        Judgement::lost("a bare reqwest client sends no trace headers", REQWEST_FIX)
    } else if comes_from_elsewhere {
        Judgement::unknown(
            "the client comes from elsewhere; the audit cannot see whether its middleware injects",
            REQWEST_FIX,
        )
    } else if request.contains("reqwest_middleware") {
        Judgement::lost(
            "the client's middleware has no tracebound::reqwest::Middleware",
            REQWEST_FIX,
        )
    } else {
        Judgement::lost(
            "nothing injects the trace context into the request",
            REQWEST_FIX,
        )
    }
}

/// Headers injected by hand in the sending fn: `propagator.inject_context(&cx, &mut headers)`
/// or `tracebound::propagation::inject(&mut headers)` (not `tracebound::reqwest::inject`, which
/// is seen on the request it wraps).
fn injected(a: &Auditor<'_>) -> Option<Judgement> {
    let (_, body) = a.function()?;
    let how = expr::calls(body).into_iter().find_map(|site| {
        let name = site.name();
        let by_hand = match site.path() {
            Some(path) => {
                INJECTS.contains(&name.as_str())
                    && !a.imports().resolve(path).iter().any(|s| s == "reqwest")
            }
            None => name == "inject_context",
        };
        by_hand.then_some(name)
    })?;
    Some(Judgement::carried(format!(
        "the sending fn injects the context into the request's headers with `{how}`"
    )))
}

/// How the client or service was built, following `let`s, struct fields and one workspace fn:
/// carried when tracebound's middleware or layer is in it, unknown when a workspace fn built it
/// without them in sight.
fn built<'a>(a: &Auditor<'a>, e: &'a Expr) -> Option<Judgement> {
    let carried = || {
        Some(Judgement::carried(
            "the client has tracebound's middleware or ClientLayer, which injects every request",
        ))
    };
    let parts = origin(a, e);
    for &(part, imports) in &parts {
        if expr::names_tracebound(part, imports, &CLIENT_INJECTORS) {
            return carried();
        }
        // A workspace fn that returns the client: `let client = build_client();`.
        let helper = match expr::chain(part).0 {
            Expr::Call(c) => match &*c.func {
                Expr::Path(p) => expr::local_call(&p.path),
                _ => None,
            },
            _ => None,
        };
        if let Some((name, call)) = helper {
            match a
                .index
                .does(&name, call, &a.file.name, Does::BuildTracedClient)
            {
                Some(true) => return carried(),
                Some(false) => {
                    return Some(Judgement::unknown(
                        format!(
                            "the client is built by `{name}`, and the audit does not follow it further"
                        ),
                        REQWEST_FIX,
                    ));
                }
                None => {}
            }
        }
    }
    // A struct literal that builds the client in sight, without tracebound's pieces.
    let (root, _) = expr::chain(e);
    if let Expr::Field(_) = root
        && parts.iter().skip(1).any(|(part, _)| builds(part))
    {
        return Some(Judgement::lost(
            "the field's client is built without tracebound's middleware or ClientLayer",
            REQWEST_FIX,
        ));
    }
    None
}

/// Whether an expression builds a value (calls a constructor or a builder), rather than
/// passing one along.
fn builds(e: &Expr) -> bool {
    struct Builds(bool);
    impl<'ast> Visit<'ast> for Builds {
        fn visit_expr_call(&mut self, _: &'ast ExprCall) {
            self.0 = true;
        }
        fn visit_expr_method_call(&mut self, m: &'ast ExprMethodCall) {
            self.0 |= matches!(
                m.method.to_string().as_str(),
                "build" | "with" | "layer" | "service"
            );
            syn::visit::visit_expr_method_call(self, m);
        }
    }
    let mut find = Builds(false);
    find.visit_expr(e);
    find.0
}

/// The expressions a value was built from, following `let`s and struct fields, each with the
/// imports of its file.
fn origin<'a>(a: &Auditor<'a>, e: &'a Expr) -> Vec<(&'a Expr, &'a Imports)> {
    let traced = a.trace(e);
    let mut parts: Vec<_> = traced.exprs.into_iter().map(|e| (e, a.imports())).collect();
    if let Root::Field(f) = traced.root
        && let syn::Member::Named(name) = &f.member
    {
        parts.extend(
            a.index
                .field_inits(a.owner(&f.base).as_deref(), &name.to_string()),
        );
    }
    parts
}
