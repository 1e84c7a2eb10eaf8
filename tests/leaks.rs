//! A context token a traced function still holds while it waits never leaks into other tasks:
//! tracebound detaches it for the suspension and attaches it again when the function resumes.
//! Each shape the compile-time check cannot see (the token made by a helper, not by a call
//! named `attach`) runs beside probe tasks on a `LocalSet` and on a multi-thread runtime; a
//! probe polled while the function waits must find nothing of the token's context, and the
//! function must find it again after each `.await`.

use opentelemetry::baggage::BaggageExt;
use opentelemetry::{Context, KeyValue};
use std::future::Future;
use std::pin::Pin;
use tracebound::{ContextToken, traced_task};
use tracebound_tests::runtime;

/// A token the check cannot tell from any other value.
fn token(shape: &'static str) -> ContextToken {
    tracebound::attach(Context::current().with_baggage([KeyValue::new("leak", shape)]))
}

/// The `leak` baggage current on this thread, if any.
fn leaked() -> Option<String> {
    Context::map_current(|cx| cx.baggage().get("leak").map(|v| v.to_string()))
}

async fn pause() {
    for _ in 0..3 {
        tokio::task::yield_now().await;
    }
}

struct Holder {
    token: ContextToken,
}

#[traced_task]
async fn in_a_struct() -> Vec<Option<String>> {
    let holder = Holder {
        token: token("struct"),
    };
    let mut seen = vec![leaked()];
    pause().await;
    seen.push(leaked());
    drop(holder.token);
    seen.push(leaked());
    seen
}

#[traced_task]
async fn in_an_option() -> Vec<Option<String>> {
    let maybe = Some(token("option"));
    let mut seen = vec![leaked()];
    pause().await;
    seen.push(leaked());
    drop(maybe);
    seen.push(leaked());
    seen
}

#[traced_task]
async fn in_a_tuple() -> Vec<Option<String>> {
    let (held, n) = (token("tuple"), 1);
    let mut seen = vec![leaked()];
    pause().await;
    seen.push(leaked());
    drop((held, n));
    seen.push(leaked());
    seen
}

#[traced_task]
#[allow(clippy::needless_late_init)]
async fn assigned_later() -> Vec<Option<String>> {
    let held: ContextToken;
    held = token("assigned");
    let mut seen = vec![leaked()];
    pause().await;
    seen.push(leaked());
    drop(held);
    seen.push(leaked());
    seen
}

#[traced_task]
#[allow(clippy::match_single_binding)]
async fn matched() -> Vec<Option<String>> {
    let mut seen = Vec::new();
    match token("match") {
        held => {
            seen.push(leaked());
            pause().await;
            seen.push(leaked());
            drop(held);
        }
    }
    seen.push(leaked());
    seen
}

#[traced_task]
async fn across_select() -> Vec<Option<String>> {
    let held = token("select");
    let mut seen = vec![leaked()];
    tokio::select! {
        () = pause() => {}
    }
    seen.push(leaked());
    drop(held);
    seen.push(leaked());
    seen
}

#[traced_task]
async fn across_join() -> Vec<Option<String>> {
    let held = token("join");
    let mut seen = vec![leaked()];
    futures::join!(pause(), pause());
    seen.push(leaked());
    drop(held);
    seen.push(leaked());
    seen
}

#[traced_task]
async fn nested_tokens() -> Vec<Option<String>> {
    let mut held = vec![token("nested-outer")];
    held.push(token("nested"));
    let mut seen = vec![leaked()];
    pause().await;
    seen.push(leaked());
    held.pop();
    pause().await;
    seen.push(leaked());
    held.clear();
    seen.push(leaked());
    seen
}

type Shape = fn() -> Pin<Box<dyn Future<Output = Vec<Option<String>>>>>;

/// Each shape, and what it must see: its token before and after the wait, nothing once dropped.
fn shapes() -> Vec<(&'static str, Shape, Vec<Option<&'static str>>)> {
    let held = |name: &'static str| vec![Some(name), Some(name), None];
    vec![
        ("struct", || Box::pin(in_a_struct()), held("struct")),
        ("option", || Box::pin(in_an_option()), held("option")),
        ("tuple", || Box::pin(in_a_tuple()), held("tuple")),
        ("assigned", || Box::pin(assigned_later()), held("assigned")),
        ("match", || Box::pin(matched()), held("match")),
        ("select", || Box::pin(across_select()), held("select")),
        ("join", || Box::pin(across_join()), held("join")),
        (
            "nested",
            || Box::pin(nested_tokens()),
            vec![Some("nested"), Some("nested"), Some("nested-outer"), None],
        ),
    ]
}

/// Polls other work while a shape waits: every value of `leak` it ever sees.
async fn probe() -> Vec<String> {
    let mut seen = Vec::new();
    for _ in 0..16 {
        seen.extend(leaked());
        tokio::task::yield_now().await;
    }
    seen
}

fn check(name: &str, seen: Vec<Option<String>>, expected: &[Option<&str>], probes: Vec<String>) {
    let seen: Vec<Option<&str>> = seen.iter().map(Option::as_deref).collect();
    assert_eq!(seen, expected, "{name}: what the function saw");
    assert!(probes.is_empty(), "{name}: other tasks saw {probes:?}");
    assert_eq!(leaked(), None, "{name}: left on the thread");
}

#[test]
fn tokens_held_across_awaits_stay_in_their_task_on_a_local_set() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    for (name, shape, expected) in shapes() {
        let local = tokio::task::LocalSet::new();
        let (seen, probes) = local.block_on(&rt, async {
            let shape = tokio::task::spawn_local(shape());
            let probes: Vec<_> = (0..4).map(|_| tokio::task::spawn_local(probe())).collect();
            let seen = shape.await.unwrap();
            let mut all = Vec::new();
            for probe in probes {
                all.extend(probe.await.unwrap());
            }
            (seen, all)
        });
        check(name, seen, &expected, probes);
    }
}

#[test]
fn tokens_held_across_awaits_stay_in_their_task_on_a_multi_thread_runtime() {
    let rt = runtime(2);
    for (name, shape, expected) in shapes() {
        // Joined in one task, the probes are polled on the same thread right after the shape
        // returns `Pending`.
        let (seen, a, b) = rt.block_on(async { futures::join!(shape(), probe(), probe()) });
        check(name, seen, &expected, [a, b].concat());
        // On a `LocalSet` driven by the multi-thread runtime's `block_on`.
        let local = tokio::task::LocalSet::new();
        let (seen, probes) = rt.block_on(local.run_until(async {
            let shape = tokio::task::spawn_local(shape());
            let probe = tokio::task::spawn_local(probe());
            (shape.await.unwrap(), probe.await.unwrap())
        }));
        check(name, seen, &expected, probes);
    }
}

#[test]
fn a_carried_future_keeps_its_tokens_too() {
    let rt = runtime(2);
    let (seen, probes) = rt.block_on(async {
        let carried = tracebound::carry(async {
            let held = token("carried");
            let mut seen = vec![leaked()];
            pause().await;
            seen.push(leaked());
            drop(held);
            seen.push(leaked());
            seen
        });
        futures::join!(carried, probe())
    });
    check(
        "carried",
        seen,
        &[Some("carried"), Some("carried"), None],
        probes,
    );
}

#[test]
fn a_token_dropped_while_its_function_waits_is_not_attached_again() {
    let rt = runtime(2);
    rt.block_on(async {
        let shared = std::rc::Rc::new(std::cell::RefCell::new(None::<ContextToken>));
        let inner = shared.clone();
        let waiting = tracebound::carry(async move {
            *inner.borrow_mut() = Some(token("taken"));
            pause().await;
            leaked()
        });
        let taker = async {
            tokio::task::yield_now().await;
            // The token leaves the waiting future and is dropped by another one.
            drop(shared.borrow_mut().take());
            leaked()
        };
        let (after, seen_by_taker) = futures::join!(waiting, taker);
        assert_eq!(after, None);
        assert_eq!(seen_by_taker, None);
        assert_eq!(leaked(), None);
    });
}
