//! Child processes: `std::process::Command` and `tokio::process::Command` spawned without
//! `tracebound::env::inject_into`.

use quote::ToTokens;
use syn::{Expr, ExprMethodCall};

use super::{Auditor, Binding, Judgement};
use crate::analysis::expr;

const FIX: &str = "call tracebound::env::inject_into(&mut command) before spawning";

pub(super) fn method(a: &mut Auditor<'_>, m: &ExprMethodCall) -> Option<(&'static str, Judgement)> {
    let kind = match m.method.to_string().as_str() {
        "spawn" if m.args.is_empty() => "Command::spawn",
        "output" if m.args.is_empty() => "Command::output",
        "status" if m.args.is_empty() => "Command::status",
        _ => return None,
    };
    let command = a.describe(&m.receiver);
    if !command.contains("process::Command") {
        return None;
    }
    let (root, _) = expr::chain(&m.receiver);
    let variable = match root {
        Expr::Path(p) => p.path.get_ident().map(|i| i.to_string()),
        _ => None,
    };
    let Some(variable) = variable else {
        return Some((
            kind,
            Judgement::lost(
                "the command is spawned where it is built, with no TRACEPARENT: the child's spans are new roots",
                FIX,
            ),
        ));
    };
    // The injection counts between this binding's `let` and the spawn.
    let after = match a.binding(&variable) {
        Some(Binding::Let { at, .. }) => at,
        _ => (0, 0),
    };
    let between = (after, expr::start(&m.method));
    if let Some((_, body)) = a.function()
        && let Some(how) = injects_into(body, &variable, between)
    {
        return Some((
            kind,
            Judgement::carried(format!(
                "`{how}` puts TRACEPARENT into `{variable}`'s environment"
            )),
        ));
    }
    let judgement = match a.binding(&variable) {
        Some(Binding::Param(_)) => Judgement::unknown(
            format!(
                "`{variable}` comes from the caller; the audit cannot see whether its environment was injected"
            ),
            FIX,
        ),
        _ => Judgement::lost(
            "the child process starts with no TRACEPARENT: its spans are new roots",
            FIX,
        ),
    };
    Some((kind, judgement))
}

/// `env::inject_into(&mut cmd)` or `inject_context_into(&cx, &mut cmd)` on this variable,
/// after the command's `let` and before its spawn.
fn injects_into(
    body: &syn::Block,
    variable: &str,
    (after, before): ((usize, usize), (usize, usize)),
) -> Option<String> {
    expr::calls(body).into_iter().find_map(|site| {
        let name = site.name();
        let at = site.start();
        let on_it = site.args().iter().any(|arg| {
            arg.to_token_stream()
                .into_iter()
                .any(|t| t.to_string() == variable)
        });
        (site.path().is_some()
            && matches!(name.as_str(), "inject_into" | "inject_context_into")
            && after < at
            && at < before
            && on_it)
            .then_some(name)
    })
}
