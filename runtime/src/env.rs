//! Trace context for child processes, through environment variables.
//!
//! No in-memory context can cross into a child process. Following OpenTelemetry's
//! specification of environment variables as context propagation carriers, the parent writes
//! `TRACEPARENT`, `TRACESTATE` and `BAGGAGE` into the child's environment and the child reads
//! them back: names are the propagator's header names upper-cased with every character other
//! than `A-Z`, `0-9` and `_` replaced by `_`; values are passed through unchanged.
//!
//! In the parent:
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! let mut command = tokio::process::Command::new("worker");
//! tracebound::env::inject_into(&mut command); // the current span becomes the child's parent
//! command.status().await?;
//! # Ok(()) }
//! ```
//!
//! In the child, either attach the inherited context at the top of `main`:
//!
//! ```no_run
//! let _token = tracebound::attach(tracebound::env::extract());
//! // every span started from here on continues the parent's trace
//! ```
//!
//! or make the entry point a consumer of the environment, so it gets a span of its own:
//!
//! ```no_run
//! use tracebound::env::Environment;
//!
//! #[tracebound::traced_consumer(carrier = env, kind = server, name = "worker")]
//! fn work(env: &Environment) {
//!     // a child span of the parent process's current span
//! }
//!
//! work(tracebound::env::vars());
//! ```

use crate::carrier::{Extract, Inject, readable_str};
use crate::propagation;
use opentelemetry::Context;
use std::sync::OnceLock;

/// The variable name a propagator field (`traceparent`) is carried in (`TRACEPARENT`).
///
/// ```
/// assert_eq!(tracebound::env::variable("traceparent"), "TRACEPARENT");
/// assert_eq!(tracebound::env::variable("x-b3-traceid"), "X_B3_TRACEID");
/// ```
pub fn variable(field: &str) -> String {
    field
        .chars()
        .map(|c| match c.to_ascii_uppercase() {
            c @ ('A'..='Z' | '0'..='9' | '_') => c,
            _ => '_',
        })
        .collect()
}

/// A snapshot of environment variables, as a carrier: lookups go through [`variable`].
#[derive(Clone, Debug, Default)]
pub struct Environment {
    vars: Vec<(String, String)>,
}

impl Environment {
    /// The given variables; those whose names or values are not UTF-8 are the caller's to skip.
    pub fn from_vars<K: Into<String>, V: Into<String>>(
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Environment {
            vars: vars
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// This process's environment now; variables that are not UTF-8 are left out.
    pub fn current() -> Self {
        Environment {
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        }
    }
}

impl Extract for Environment {
    fn get(&self, key: &str) -> Option<&str> {
        let name = variable(key);
        self.vars
            .iter()
            .find(|(k, _)| *k == name)
            .and_then(|(_, v)| readable_str(v))
    }

    fn keys(&self) -> Vec<&str> {
        self.vars.iter().map(|(k, _)| k.as_str()).collect()
    }
}

impl Inject for Environment {
    fn set(&mut self, key: &str, value: String) {
        let name = variable(key);
        self.vars.retain(|(k, _)| *k != name);
        self.vars.push((name, value));
    }
}

/// This process's environment as it was when first asked for, read once.
pub fn vars() -> &'static Environment {
    static VARS: OnceLock<Environment> = OnceLock::new();
    VARS.get_or_init(Environment::current)
}

/// The context the parent process passed in the environment (see [`vars`]), on top of the
/// current context; the current context unchanged if there is none.
pub fn extract() -> Context {
    propagation::extract(vars())
}

/// A command whose child process environment tracebound can write to.
pub trait Command: sealed::Sealed {
    /// Sets one variable of the child's environment.
    fn set_var(&mut self, name: &str, value: &str);
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for std::process::Command {}
    #[cfg(feature = "tokio")]
    impl Sealed for tokio::process::Command {}
}

impl Command for std::process::Command {
    fn set_var(&mut self, name: &str, value: &str) {
        self.env(name, value);
    }
}

#[cfg(feature = "tokio")]
impl Command for tokio::process::Command {
    fn set_var(&mut self, name: &str, value: &str) {
        self.env(name, value);
    }
}

/// Writes the current context into `command`'s environment.
pub fn inject_into<C: Command>(command: &mut C) {
    Context::map_current(|cx| inject_context_into(cx, command));
}

/// Writes `cx` into `command`'s environment.
pub fn inject_context_into<C: Command>(cx: &Context, command: &mut C) {
    let mut vars = Environment::default();
    propagation::inject_context(cx, &mut vars);
    for (name, value) in &vars.vars {
        command.set_var(name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::TraceContextExt;

    #[test]
    fn names_are_normalized_and_values_kept() {
        let env = Environment::from_vars([
            (
                "TRACEPARENT",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ),
            ("BAGGAGE", "k=v"),
            ("traceparent", "ignored: not the normalized name"),
        ]);
        assert_eq!(env.get("baggage"), Some("k=v"));
        let cx = propagation::extract_with(&Context::new(), &env);
        assert_eq!(
            cx.span().span_context().span_id().to_string(),
            "00f067aa0ba902b7"
        );
    }

    #[test]
    fn injection_writes_normalized_names() {
        let mut env = Environment::default();
        env.set("traceparent", "a".into());
        env.set("x-b3-traceid", "b".into());
        env.set("traceparent", "c".into());
        assert_eq!(env.keys(), ["X_B3_TRACEID", "TRACEPARENT"]);
        assert_eq!(env.get("traceparent"), Some("c"));
    }
}
