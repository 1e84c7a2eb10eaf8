//! Tasks: tokio's `spawn`, `spawn_local`, `spawn_blocking`, `block_in_place`, `JoinSet`,
//! `LocalSet`, runtime handles and task builders, and the `futures` executors.

use syn::{ExprCall, ExprMethodCall};

use super::{Auditor, BIND_FIX, Judgement};

const SPAWN_FIX: &str = "use tracebound::spawn, or add .with_current_context() to the future";
const LOCAL_FIX: &str = "use tracebound::spawn_local";
const BLOCKING_FIX: &str =
    "use tracebound::spawn_blocking, or make the closure's work a #[traced_blocking] fn";
const WRAP_FIX: &str = "spawn tracebound::carry(future)";

pub(super) fn call(
    a: &mut Auditor<'_>,
    path: &[&str],
    call: &ExprCall,
) -> Option<(&'static str, Judgement)> {
    let arg = call.args.first()?;
    Some(match path {
        [
            "tracebound",
            name @ ("spawn" | "spawn_local" | "spawn_blocking"),
        ] => (
            match *name {
                "spawn" => "tracebound::spawn",
                "spawn_local" => "tracebound::spawn_local",
                _ => "tracebound::spawn_blocking",
            },
            Judgement::carried(format!("tracebound::{name} carries the spawner's context")),
        ),
        ["tokio", "spawn"] | ["tokio", "task", "spawn"] => {
            ("tokio::spawn", a.future(arg, SPAWN_FIX))
        }
        ["tokio", "task", "spawn_local"] => ("tokio::task::spawn_local", a.future(arg, LOCAL_FIX)),
        ["tokio", "task", "spawn_blocking"] => {
            ("tokio::task::spawn_blocking", a.closure(arg, BLOCKING_FIX))
        }
        ["tokio", "task", "block_in_place"] => (
            "tokio::task::block_in_place",
            Judgement::carried(
                "the closure runs on the calling thread, where the context stays current",
            ),
        ),
        ["smol", "spawn"] | ["async_std", "task", "spawn"] => ("spawn", a.future(arg, WRAP_FIX)),
        _ => return None,
    })
}

pub(super) fn method(a: &mut Auditor<'_>, m: &ExprMethodCall) -> Option<(&'static str, Judgement)> {
    let arg = m.args.first()?;
    let name = m.method.to_string();
    let receiver = a.describe(&m.receiver);
    let has = |s: &str| receiver.contains(s);
    let futures = has("futures") && (has("ThreadPool") || has("Spawner") || has("LocalPool"));
    Some(match name.as_str() {
        "spawn" | "spawn_on" if has("JoinSet") => ("JoinSet::spawn", a.future(arg, WRAP_FIX)),
        "spawn_local" | "spawn_local_on" if has("JoinSet") => {
            ("JoinSet::spawn_local", a.future(arg, WRAP_FIX))
        }
        "spawn_blocking" | "spawn_blocking_on" if has("JoinSet") => {
            ("JoinSet::spawn_blocking", a.closure(arg, BIND_FIX))
        }
        "spawn_local" if has("LocalSet") => ("LocalSet::spawn_local", a.future(arg, LOCAL_FIX)),
        "spawn" | "spawn_local" | "spawn_blocking" if has("tokio::task::Builder") => {
            if name == "spawn_blocking" {
                ("task::Builder::spawn_blocking", a.closure(arg, BIND_FIX))
            } else {
                ("task::Builder::spawn", a.future(arg, WRAP_FIX))
            }
        }
        "spawn" if has("Handle") || has("tokio::runtime") || has("Runtime") => {
            ("Handle::spawn", a.future(arg, WRAP_FIX))
        }
        "spawn_blocking" if has("Handle") || has("tokio::runtime") || has("Runtime") => {
            ("Handle::spawn_blocking", a.closure(arg, BIND_FIX))
        }
        "spawn_ok" | "spawn_obj_ok" => ("futures ThreadPool::spawn_ok", a.future(arg, WRAP_FIX)),
        "spawn" | "spawn_with_handle" | "spawn_local" | "spawn_local_with_handle" if futures => {
            ("futures executor spawn", a.future(arg, WRAP_FIX))
        }
        _ => return None,
    })
}
