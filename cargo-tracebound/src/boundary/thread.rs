//! Threads: `std::thread::spawn`, its `Builder` and `scope`, and rayon's `spawn`, `join`,
//! `scope` and thread pools.

use syn::{ExprCall, ExprMethodCall};

use super::{Auditor, BIND_FIX, Binding, Judgement};

const THREAD_FIX: &str =
    "use tracebound::thread::spawn, or wrap the closure in tracebound::bind(…)";

pub(super) fn call(
    a: &mut Auditor<'_>,
    path: &[&str],
    call: &ExprCall,
) -> Option<(&'static str, Judgement)> {
    let arg = call.args.first()?;
    Some(match path {
        ["tracebound", "thread", "spawn"] => (
            "tracebound::thread::spawn",
            Judgement::carried("tracebound::thread::spawn carries the spawner's context"),
        ),
        ["std", "thread", "spawn"] => ("std::thread::spawn", a.closure(arg, THREAD_FIX)),
        ["rayon", "spawn" | "spawn_fifo"] => ("rayon::spawn", a.closure(arg, BIND_FIX)),
        ["rayon", "join"] if call.args.len() == 2 => (
            "rayon::join",
            // Either closure may be stolen by another worker.
            a.closure(arg, BIND_FIX)
                .worst(a.closure(&call.args[1], BIND_FIX)),
        ),
        // Not boundaries themselves: their closure runs here, and what it spawns on the scope
        // is one.
        ["std", "thread", "scope"] => {
            a.closure_role = Some(Binding::ThreadScope);
            return None;
        }
        ["rayon", "scope" | "scope_fifo" | "in_place_scope"] => {
            a.closure_role = Some(Binding::RayonScope);
            return None;
        }
        _ => return None,
    })
}

pub(super) fn method(a: &mut Auditor<'_>, m: &ExprMethodCall) -> Option<(&'static str, Judgement)> {
    let arg = m.args.first()?;
    let receiver = a.describe(&m.receiver);
    let has = |s: &str| receiver.contains(s);
    Some(match m.method.to_string().as_str() {
        "spawn" if has("std::thread::Scope") => {
            ("std::thread::Scope::spawn", a.closure(arg, BIND_FIX))
        }
        "spawn" | "spawn_scoped" if has("std::thread::Builder") => {
            ("std::thread::Builder::spawn", a.closure(arg, THREAD_FIX))
        }
        "spawn" | "spawn_fifo" if has("rayon::Scope") => {
            ("rayon::Scope::spawn", a.closure(arg, BIND_FIX))
        }
        "spawn" | "spawn_fifo" if has("rayon") && has("ThreadPool") => {
            ("rayon::ThreadPool::spawn", a.closure(arg, BIND_FIX))
        }
        "install" if has("rayon") && has("ThreadPool") => {
            ("rayon::ThreadPool::install", a.closure(arg, BIND_FIX))
        }
        // A parallel iterator runs its closures on the pool's threads.
        "for_each" | "for_each_with" | "try_for_each" if parallel(a, &m.receiver) => (
            "rayon parallel iterator",
            a.closure(m.args.last()?, BIND_FIX),
        ),
        _ => return None,
    })
}

/// Whether a method chain is over one of rayon's parallel iterators.
fn parallel(a: &Auditor<'_>, receiver: &syn::Expr) -> bool {
    let text = a.describe(receiver);
    [
        ".par_iter",
        ".into_par_iter",
        ".par_iter_mut",
        ".par_bridge",
        ".par_chunks",
        ".par_drain",
    ]
    .iter()
    .any(|p| text.contains(p))
}
