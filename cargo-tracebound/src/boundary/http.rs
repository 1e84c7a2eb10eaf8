//! HTTP clients: reqwest (bare or with reqwest-middleware) and hyper-util's client, where the
//! audit can see how the client was built.

use quote::ToTokens;
use syn::{Expr, ExprCall, ExprMethodCall};

use super::{Auditor, Binding, Judgement};
use crate::analysis::expr;

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

pub(super) fn method(a: &mut Auditor<'_>, m: &ExprMethodCall) -> Option<(&'static str, Judgement)> {
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
        let built = origin(a, &m.receiver);
        if built.contains("ClientLayer") {
            return Some((
                "HTTP client request",
                Judgement::carried(
                    "tracebound::tower::ClientLayer injects the context into every request",
                ),
            ));
        }
        if client.contains("hyper_util") || client.contains("legacy::Client") {
            return Some((
                "HTTP client request",
                Judgement::lost(
                    "a hyper client with no tracebound ClientLayer sends no trace headers",
                    HYPER_FIX,
                ),
            ));
        }
    }
    None
}

fn reqwest(a: &Auditor<'_>, receiver: &Expr, request: &str) -> Judgement {
    if request.contains("tracebound::reqwest::inject") {
        return Judgement::carried(
            "tracebound::reqwest::inject adds the trace headers to the request",
        );
    }
    let built = origin(a, receiver);
    if built.contains("Middleware")
        && (built.contains("tracebound") || a.file.mentions("tracebound::reqwest"))
    {
        return Judgement::carried(
            "the client has tracebound::reqwest::Middleware, which injects every request",
        );
    }
    let (root, _) = expr::chain(receiver);
    let comes_from_elsewhere = match root {
        Expr::Path(p) => p
            .path
            .get_ident()
            .is_some_and(|i| matches!(a.binding(&i.to_string()), Some(Binding::Param(_)) | None)),
        Expr::Field(_) => true,
        _ => false,
    };
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

/// The source text an expression was built from, following `let`s: where a client got its
/// middleware or layers.
fn origin(a: &Auditor<'_>, e: &Expr) -> String {
    let mut text = String::new();
    let mut e = e;
    for _ in 0..8 {
        text.push_str(&e.to_token_stream().to_string());
        text.push('\n');
        let (root, _) = expr::chain(e);
        if let Expr::Field(f) = root
            && let syn::Member::Named(name) = &f.member
        {
            text.push_str(&a.index.field_inits(&name.to_string()).join("\n"));
            break;
        }
        let Expr::Path(p) = root else { break };
        let Some(ident) = p.path.get_ident() else {
            break;
        };
        match a.binding(&ident.to_string()) {
            Some(Binding::Let {
                init: Some(init), ..
            }) => e = init,
            _ => break,
        }
    }
    text
}
