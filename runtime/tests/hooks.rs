//! `tracebound::hooks`: on a runtime built with `hooks::carry`, every task runs each poll with
//! the context current where it was spawned, a library's bare `tokio::spawn` included; tasks
//! that carry their own keep it. Checked span by span (parent span id and trace id).
//!
//! Tokio has task hooks only with `--cfg tokio_unstable`: `.ci/run` runs this file with
//! `RUSTFLAGS="--cfg tokio_unstable"` in a target directory of its own, building only this
//! crate's dependencies. Without the cfg it is empty.
#![cfg(tokio_unstable)]

use futures::future::BoxFuture;
use opentelemetry::trace::{FutureExt, SpanId, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue, Value, global};
use opentelemetry_sdk::trace::SpanData;
use std::panic::Location;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use support::{attribute, eventually, runtime, span_attached, traced};
use tokio::runtime::{Builder, Runtime};
use tokio::task::{JoinHandle, JoinSet, yield_now};
use tracebound::hooks::{self, Callbacks};
use tracebound::{attach, testing, traced_task};

/// What the tests crate's helpers do, for this crate's own tests.
mod support {
    use opentelemetry::trace::{FutureExt, TraceContextExt, Tracer};
    use opentelemetry::{Context, KeyValue, Value, global};
    use opentelemetry_sdk::trace::SpanData;
    use tracebound::testing::{self, TraceTree};

    /// Runs `work` under a new root span `root`, and returns the trace recorded under it.
    pub async fn traced<F: Future>(root: &'static str, work: F) -> (F::Output, TraceTree) {
        let recorder = testing::install();
        let span = global::tracer("tracebound-tests").start(root);
        let cx = Context::current_with_span(span);
        let output = work.with_context(cx.clone()).await;
        cx.span().end();
        (output, recorder.trace_of(root))
    }

    /// A multi-thread runtime with `workers` workers and no hooks.
    pub fn runtime(workers: usize) -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()
            .expect("a tokio runtime")
    }

    /// The value of attribute `key` on `span`.
    pub fn attribute<'a>(span: &'a SpanData, key: &str) -> Option<&'a Value> {
        span.attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv: &KeyValue| &kv.value)
    }

    /// `look()` once it is `Some`, trying for up to five seconds.
    pub fn eventually<T>(look: impl Fn() -> Option<T>) -> Option<T> {
        (0..500).find_map(|_| {
            let found = look();
            if found.is_none() {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            found
        })
    }

    /// Whether a span is current.
    pub fn span_attached() -> bool {
        Context::map_current(|cx| cx.has_active_span())
    }
}

/// A library that never heard of tracebound: it spawns its work with a bare `tokio::spawn` and
/// starts its span, after a first poll, with OpenTelemetry's global tracer in whatever context
/// is current then.
mod library {
    use opentelemetry::trace::{TraceContextExt, Tracer};
    use opentelemetry::{Context, KeyValue, global};

    pub async fn fetch(key: i64) -> i64 {
        tokio::spawn(async move {
            tokio::task::yield_now().await;
            let tracer = global::tracer("library");
            let span = tracer
                .span_builder("library-fetch")
                .with_attributes([KeyValue::new("key", key)])
                .start(&tracer);
            let cx = Context::current_with_span(span);
            tokio::task::yield_now().await;
            cx.span().end();
            key
        })
        .await
        .unwrap()
    }
}

/// A multi-thread runtime with two workers and the hooks.
fn hooked() -> Runtime {
    let mut builder = Builder::new_multi_thread();
    builder.worker_threads(2).enable_all();
    hooks::carry(&mut builder).build().unwrap()
}

/// A context holding a new span named `name`, a child of the current context, with attribute
/// `n = n`.
fn start(name: &'static str, n: i64) -> Context {
    let tracer = global::tracer("tracebound-tests");
    let span = tracer
        .span_builder(name)
        .with_attributes([KeyValue::new("n", n)])
        .start(&tracer);
    Context::current_with_span(span)
}

/// Starts and ends a span named `name`, a child of the current context.
fn leaf(name: &'static str, n: i64) {
    start(name, n).span().end();
}

fn span_id(cx: &Context) -> SpanId {
    cx.span().span_context().span_id()
}

fn current_span_id() -> SpanId {
    Context::map_current(span_id)
}

fn n_of(span: &SpanData) -> i64 {
    match attribute(span, "n") {
        Some(Value::I64(n)) => *n,
        other => panic!("span {} has n = {other:?}", span.name),
    }
}

/// The one ended span named `name` with attribute `key = value`, from every trace.
fn recorded(name: &str, key: &str, value: i64) -> SpanData {
    let spans: Vec<SpanData> = testing::recorder()
        .spans()
        .into_iter()
        .filter(|s| s.name == name && attribute(s, key) == Some(&Value::I64(value)))
        .collect();
    assert_eq!(spans.len(), 1, "spans named {name} with {key} = {value}");
    spans.into_iter().next().unwrap()
}

fn assert_child_of(child: &SpanData, parent: &SpanData) {
    assert_eq!(
        child.parent_span_id,
        parent.span_context.span_id(),
        "{}'s parent should be {}",
        child.name,
        parent.name
    );
    assert_eq!(
        child.span_context.trace_id(),
        parent.span_context.trace_id(),
        "{} should be in {}'s trace",
        child.name,
        parent.name
    );
}

/// `tokio::spawn(future)`, and where it was called.
#[track_caller]
fn spawn_at<F>(future: F) -> (JoinHandle<F::Output>, &'static Location<'static>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    (tokio::spawn(future), Location::caller())
}

/// `tracebound::spawn(future)`, and where it was called.
#[track_caller]
fn tracebound_spawn_at<F>(future: F) -> (JoinHandle<F::Output>, &'static Location<'static>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    (tracebound::spawn(future), Location::caller())
}

/// The report's row for `location`.
fn site(location: &Location<'_>) -> Option<hooks::SpawnSite> {
    hooks::report()
        .sites()
        .iter()
        .find(|site| site.location == location)
        .copied()
}

/// The report's row for `location` once none of its carried tasks is running: tokio reports a
/// task's end just after waking the task that awaits it.
fn settled(location: &Location<'_>) -> hooks::SpawnSite {
    eventually(|| site(location).filter(|s| s.running == 0))
        .unwrap_or_else(|| panic!("tasks still running at {location}: {:?}", site(location)))
}

#[test]
fn a_librarys_bare_spawn_keeps_its_parent_with_the_hooks_and_loses_it_without() {
    let with_hooks = hooked();
    let (key, trace) = with_hooks.block_on(traced("hooks-library", library::fetch(1)));
    assert_eq!(key, 1);
    trace.assert_single_trace();
    let fetch = recorded("library-fetch", "key", 1);
    assert_child_of(&fetch, trace.span("hooks-library"));

    let plain = runtime(2);
    let (key, trace) = plain.block_on(traced("hooks-library-plain", library::fetch(2)));
    assert_eq!(key, 2);
    let root = trace.span("hooks-library-plain");
    let lost = recorded("library-fetch", "key", 2);
    assert_eq!(
        lost.parent_span_id,
        SpanId::INVALID,
        "a root without the hooks"
    );
    assert_ne!(lost.span_context.trace_id(), root.span_context.trace_id());
    assert!(trace.all("library-fetch").is_empty());
}

/// Each level starts a span after its first poll and, with it current, spawns the next level
/// with a bare `tokio::spawn`.
fn level(depth: i64, deepest: i64) -> BoxFuture<'static, ()> {
    Box::pin(async move {
        yield_now().await;
        let cx = start("level", depth);
        let next = (depth < deepest).then(|| {
            let _token = attach(cx.clone());
            tokio::spawn(level(depth + 1, deepest))
        });
        if let Some(next) = next {
            next.await.unwrap();
        }
        cx.span().end();
    })
}

#[test]
fn nested_spawns_chain_from_task_to_task() {
    let rt = hooked();
    let ((), trace) = rt.block_on(traced("hooks-nested", level(1, 6)));
    trace.assert_single_trace();
    let mut levels = trace.all("level");
    levels.sort_by_key(|s| n_of(s));
    assert_eq!(levels.len(), 6);
    assert_child_of(levels[0], trace.span("hooks-nested"));
    for pair in levels.windows(2) {
        assert_child_of(pair[1], pair[0]);
    }
}

/// Checks on every poll that the current span is `parent`, yielding `yields` times, then
/// starts a span `child` with `n`. Returns the polls that saw another span.
async fn child_of(parent: SpanId, n: i64, yields: usize) -> usize {
    let mut wrong = 0;
    for _ in 0..yields {
        wrong += usize::from(current_span_id() != parent);
        yield_now().await;
    }
    wrong += usize::from(current_span_id() != parent);
    leaf("child", n);
    wrong
}

#[test]
fn many_interleaved_tasks_each_keep_their_own_parent() {
    const PARENTS: i64 = 200;
    const CHILDREN: i64 = 3;
    let rt = hooked();
    let (wrong, trace) = rt.block_on(traced("hooks-interleaved", async {
        let mut parents = Vec::new();
        let mut children = Vec::new();
        for i in 0..PARENTS {
            let parent = start("parent", i);
            let _token = attach(parent.clone());
            for c in 0..CHILDREN {
                let n = i * CHILDREN + c;
                children.push(tokio::spawn(child_of(span_id(&parent), n, 5)));
            }
            parents.push(parent);
        }
        let mut wrong = 0;
        for child in children {
            wrong += child.await.unwrap();
        }
        for parent in parents {
            parent.span().end();
        }
        wrong
    }));
    assert_eq!(wrong, 0, "polls that ran in another context");
    trace.assert_single_trace();
    let root = trace.span("hooks-interleaved");
    let parents = trace.all("parent");
    assert_eq!(parents.len(), PARENTS as usize);
    let children = trace.all("child");
    assert_eq!(children.len(), (PARENTS * CHILDREN) as usize);
    for parent in &parents {
        assert_child_of(parent, root);
    }
    for child in children {
        let i = n_of(child) / CHILDREN;
        let parent = parents.iter().find(|p| n_of(p) == i).unwrap();
        assert_child_of(child, parent);
    }
}

#[test]
fn every_poll_of_a_task_that_yields_many_times_is_carried() {
    let rt = hooked();
    let (wrong, trace) = rt.block_on(traced("hooks-yields", async {
        let parent = span_id(&Context::current());
        tokio::spawn(async move {
            let mut wrong = 0;
            for poll in 0..1000 {
                wrong += usize::from(current_span_id() != parent);
                if poll % 250 == 0 {
                    leaf("poll", poll);
                }
                yield_now().await;
            }
            wrong
        })
        .await
        .unwrap()
    }));
    assert_eq!(wrong, 0, "polls that ran in another context");
    let root = trace.span("hooks-yields");
    assert_eq!(trace.all("poll").len(), 4);
    for poll in trace.all("poll") {
        assert_child_of(poll, root);
    }
}

#[traced_task]
async fn traced_child() {
    yield_now().await;
    leaf("inside-traced", 0);
}

#[test]
fn tasks_that_carry_their_own_context_keep_it() {
    let rt = hooked();
    let ((), trace) = rt.block_on(traced("hooks-own", async {
        let own = start("own", 0);
        let spawner = start("spawner", 0);
        let (traced, with_context, ours, ours_at) = {
            let _spawner = attach(spawner.clone());
            // Created under `own`, spawned under `spawner`.
            let traced = {
                let _own = attach(own.clone());
                traced_child()
            };
            let with_context = async {
                yield_now().await;
                leaf("with-context", 0);
            }
            .with_context(own.clone());
            let (ours, ours_at) = {
                let _own = attach(own.clone());
                tracebound_spawn_at(async {
                    yield_now().await;
                    leaf("tracebound-spawn", 0);
                })
            };
            (
                tokio::spawn(traced),
                tokio::spawn(with_context),
                ours,
                ours_at,
            )
        };
        traced.await.unwrap();
        with_context.await.unwrap();
        ours.await.unwrap();
        own.span().end();
        spawner.span().end();
        // `tracebound::spawn` told the hooks to leave its task alone.
        let site = settled(ours_at);
        assert_eq!((site.carried, site.own), (0, 1), "{ours_at}");
    }));
    trace.assert_single_trace();
    let own = trace.span("own");
    assert_child_of(trace.span("traced_child"), own);
    assert_child_of(trace.span("inside-traced"), trace.span("traced_child"));
    assert_child_of(trace.span("with-context"), own);
    assert_child_of(trace.span("tracebound-spawn"), own);
}

/// Spawns a task with nothing current, after carried tasks ran on the runtime's threads and
/// while one is alive (so the table is not empty): it sees no span in any poll, and its span
/// is a root.
fn stays_a_root(rt: &Runtime, n: i64) {
    let (carried, gate) = {
        let _enter = rt.enter();
        let _token = attach(start("hooks-busy", n));
        let done: Vec<_> = (0..8)
            .map(|_| tokio::spawn(async { yield_now().await }))
            .collect();
        for task in done {
            rt.block_on(task).unwrap();
        }
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        (tokio::spawn(async { rx.await.ok() }), tx)
    };
    // Spawned from the test's thread, with nothing current.
    assert!(!span_attached());
    let (orphan, at) = {
        let _enter = rt.enter();
        spawn_at(async move {
            let mut attached = 0;
            for _ in 0..100 {
                attached += usize::from(span_attached());
                yield_now().await;
            }
            leaf("hooks-orphan", n);
            attached
        })
    };
    assert_eq!(
        rt.block_on(orphan).unwrap(),
        0,
        "polls with a span attached"
    );
    let orphan = recorded("hooks-orphan", "n", n);
    assert_eq!(orphan.parent_span_id, SpanId::INVALID);
    assert!(site(at).is_none(), "nothing to carry, nothing counted");
    gate.send(()).unwrap();
    rt.block_on(carried).unwrap();
}

#[test]
fn a_task_spawned_with_no_context_stays_a_root() {
    stays_a_root(&hooked(), 1);
    let current_thread = hooks::carry(&mut Builder::new_current_thread())
        .build()
        .unwrap();
    stays_a_root(&current_thread, 2);
}

#[test]
fn spawn_blocking_runs_no_hook_so_tracebound_spawn_blocking_carries_it() {
    let rt = hooked();
    let ((bare, ours), trace) = rt.block_on(traced("hooks-blocking", async {
        let bare = tokio::task::spawn_blocking(span_attached).await.unwrap();
        let ours = tracebound::spawn_blocking(|| {
            leaf("blocking-leaf", 0);
            span_attached()
        })
        .await
        .unwrap();
        (bare, ours)
    }));
    assert!(!bare, "tokio calls no hook for a blocking job");
    assert!(ours);
    assert_child_of(trace.span("blocking-leaf"), trace.span("hooks-blocking"));
}

#[test]
fn joinset_spawn_keeps_each_tasks_parent() {
    let rt = hooked();
    let ((), trace) = rt.block_on(traced("hooks-joinset", async {
        let parents = [start("set-parent", 0), start("set-parent", 1)];
        let mut set = JoinSet::new();
        for k in 0..20 {
            let _token = attach(parents[k % 2].clone());
            set.spawn(async move {
                yield_now().await;
                leaf("set-child", k as i64);
            });
        }
        while let Some(done) = set.join_next().await {
            done.unwrap();
        }
        for parent in parents {
            parent.span().end();
        }
    }));
    trace.assert_single_trace();
    let parents = trace.all("set-parent");
    let children = trace.all("set-child");
    assert_eq!(children.len(), 20);
    for child in children {
        let parent = parents.iter().find(|p| n_of(p) == n_of(child) % 2).unwrap();
        assert_child_of(child, parent);
    }
}

#[test]
fn the_report_lists_each_spawn_site_with_its_counts() {
    let rt = hooked();
    let ((carried_at, own_at, bare_at), _) = rt.block_on(traced("hooks-report", async {
        let mut carried_at = None;
        for _ in 0..5 {
            let (task, at) = spawn_at(async { yield_now().await });
            task.await.unwrap();
            carried_at = Some(at);
        }
        let mut own_at = None;
        for _ in 0..3 {
            let (task, at) = tracebound_spawn_at(async { yield_now().await });
            task.await.unwrap();
            own_at = Some(at);
        }
        let (task, bare_at) = tracebound::with_context(Context::new(), || spawn_at(async {}));
        task.await.unwrap();
        (carried_at.unwrap(), own_at.unwrap(), bare_at)
    }));
    let carried = settled(carried_at);
    assert_eq!((carried.carried, carried.running, carried.own), (5, 0, 0));
    let own = site(own_at).unwrap();
    assert_eq!((own.carried, own.running, own.own), (0, 0, 3));
    assert!(site(bare_at).is_none(), "spawned with nothing current");

    let report = hooks::report();
    let row = report.site(carried_at.file(), carried_at.line()).unwrap();
    assert_eq!(row.location, carried_at);
    let text = report.to_string();
    let row = text
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .find(|words| words[0] == carried_at.to_string())
        .unwrap_or_else(|| panic!("no line for {carried_at} in\n{text}"));
    assert_eq!(row[1..], ["5", "0", "0"]);
    assert!(text.starts_with("spawn site"), "{text}");
}

#[test]
fn the_report_counts_running_tasks_until_they_end() {
    let rt = hooked();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let (task, at) = {
        let _enter = rt.enter();
        let _token = attach(start("hooks-running", 0));
        spawn_at(async { rx.await.ok() })
    };
    // Recorded by the spawn itself.
    let row = site(at).unwrap();
    assert_eq!((row.carried, row.running), (1, 1));
    tx.send(()).unwrap();
    rt.block_on(task).unwrap();
    assert_eq!(settled(at).carried, 1);
}

#[test]
fn no_entry_outlives_its_task() {
    let rt = hooked();
    let (at, _) = rt.block_on(traced("hooks-leaks", async {
        let mut at = None;
        for kind in 0..4 {
            let (task, here) = spawn_at(async move {
                yield_now().await;
                match kind {
                    0 => panic!("a task that panics"),
                    1 => std::future::pending::<()>().await,
                    _ => {}
                }
            });
            at = Some(here);
            match kind {
                0 => assert!(task.await.unwrap_err().is_panic()),
                1 => {
                    task.abort();
                    assert!(task.await.unwrap_err().is_cancelled());
                }
                2 => drop(task),
                _ => task.await.unwrap(),
            }
        }
        at.unwrap()
    }));
    assert_eq!(settled(at).carried, 4);

    // A runtime dropped with a carried task pending takes its entry with it, and keeps the
    // count.
    let pending_at = {
        let rt = hooked();
        let _enter = rt.enter();
        let _token = attach(start("hooks-dropped", 0));
        let (_task, at) = spawn_at(std::future::pending::<()>());
        at
    };
    let row = site(pending_at).unwrap();
    assert_eq!((row.carried, row.running), (1, 0));
}

#[test]
fn a_current_thread_runtime_carries_too() {
    let rt = hooks::carry(&mut Builder::new_current_thread())
        .build()
        .unwrap();
    let (key, trace) = rt.block_on(traced("hooks-current-thread", library::fetch(3)));
    assert_eq!(key, 3);
    assert_child_of(
        &recorded("library-fetch", "key", 3),
        trace.span("hooks-current-thread"),
    );
}

#[test]
fn spawn_local_on_a_local_runtime_carries_too() {
    let rt = hooks::carry(&mut Builder::new_current_thread())
        .build_local(Default::default())
        .unwrap();
    let ((), trace) = rt.block_on(traced("hooks-local", async {
        tokio::task::spawn_local(async {
            yield_now().await;
            leaf("local-leaf", 0);
        })
        .await
        .unwrap();
    }));
    assert_child_of(trace.span("local-leaf"), trace.span("hooks-local"));
}

#[test]
fn carry_with_runs_the_users_callbacks_inside_tracebounds() {
    let counts: Arc<[AtomicUsize; 5]> = Arc::new(Default::default());
    let count = |i: usize| {
        let counts = counts.clone();
        move |_: &tokio::runtime::TaskMeta<'_>| {
            counts[i].fetch_add(1, Ordering::Relaxed);
        }
    };
    let in_context = {
        let counts = counts.clone();
        move |_: &tokio::runtime::TaskMeta<'_>| {
            counts[1].fetch_add(1, Ordering::Relaxed);
            counts[4].fetch_add(usize::from(span_attached()), Ordering::Relaxed);
        }
    };
    let callbacks = Callbacks::new()
        .on_task_spawn(count(0))
        .on_before_task_poll(in_context)
        .on_after_task_poll(count(2))
        .on_task_terminate(count(3));
    let rt = hooks::carry_with(&mut Builder::new_current_thread(), callbacks)
        .build()
        .unwrap();
    let ((), trace) = rt.block_on(traced("hooks-callbacks", async {
        tokio::spawn(async {
            for _ in 0..3 {
                yield_now().await;
            }
            leaf("callbacks-leaf", 0);
        })
        .await
        .unwrap();
    }));
    assert_child_of(trace.span("callbacks-leaf"), trace.span("hooks-callbacks"));
    let counts: Vec<usize> = counts.iter().map(|c| c.load(Ordering::Relaxed)).collect();
    // One spawn, four polls (each with the task's span attached), one end.
    assert_eq!(counts, [1, 4, 4, 1, 4]);
}

/// A task that outlives its spawner (a client's connection driver) does not keep the spawner's
/// span from ending: the hooks carry the span's ids, not the span. Its spans still parent on it.
#[test]
fn a_long_lived_task_does_not_keep_its_spawners_span_from_ending() {
    let rt = hooked();
    let recorder = testing::install();
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let driver = {
        let _enter = rt.enter();
        // Ended when its last reference goes, as `Tracer::in_span` ends its span.
        let _token = attach(start("hooks-request", 40));
        tokio::spawn(async move {
            let _ = released.await;
            leaf("driver-work", 40);
        })
    };
    let request = eventually(|| {
        recorder
            .spans()
            .into_iter()
            .find(|s| s.name == "hooks-request" && attribute(s, "n") == Some(&Value::I64(40)))
    })
    .expect("the request's span ends while the task it spawned lives on");
    assert!(!driver.is_finished());
    release.send(()).unwrap();
    rt.block_on(driver).unwrap();
    assert_child_of(&recorded("driver-work", "n", 40), &request);
}

/// Tokio reports the end of a task spawned onto a runtime that is shutting down before its
/// spawn: no entry may be left for it.
#[test]
fn a_task_spawned_onto_a_closed_runtime_leaves_no_entry() {
    // A current-thread runtime closes its task list as it is dropped.
    let rt = hooks::carry(&mut Builder::new_current_thread())
        .build()
        .unwrap();
    let handle = rt.handle().clone();
    drop(rt);
    let _token = attach(start("hooks-closed", 50));
    let (task, at) = {
        let _enter = handle.enter();
        spawn_at(async {})
    };
    // The handle keeps the runtime's hooks alive: an entry left now would stay.
    assert_eq!(site(at).map_or(0, |s| s.running), 0, "{:?}", site(at));
    assert!(handle.block_on(task).unwrap_err().is_cancelled());
}

/// A task that calls another hooked runtime's `block_on` from `block_in_place` polls that
/// runtime's tasks inside its own poll: each poll sees its own task's context, and the outer
/// task's is current again afterwards.
#[test]
fn a_poll_inside_another_tasks_poll_keeps_both_contexts() {
    let rt = hooked();
    let ((), trace) = rt.block_on(traced("hooks-block-in-place", async {
        tokio::spawn(async {
            yield_now().await;
            tokio::task::block_in_place(|| {
                let inner = hooks::carry(&mut Builder::new_current_thread())
                    .build()
                    .unwrap();
                let cx = start("nested-inner", 60);
                let token = attach(cx.clone());
                inner.block_on(async {
                    tokio::spawn(async {
                        yield_now().await;
                        leaf("nested-inner-leaf", 60);
                    })
                    .await
                    .unwrap();
                });
                drop(token);
                cx.span().end();
                leaf("nested-after", 60);
            });
            leaf("nested-outer-leaf", 60);
        })
        .await
        .unwrap();
    }));
    let root = trace.span("hooks-block-in-place");
    assert_child_of(trace.span("nested-inner"), root);
    assert_child_of(trace.span("nested-inner-leaf"), trace.span("nested-inner"));
    assert_child_of(trace.span("nested-after"), root);
    assert_child_of(trace.span("nested-outer-leaf"), root);
}

/// A user's terminate callback that panics (tokio catches it) still lets the hooks remove the
/// task's entry.
#[test]
fn a_panicking_callback_still_lets_the_hooks_clean_up() {
    let callbacks = Callbacks::new().on_task_terminate(|_| panic!("a user's callback panics"));
    let rt = hooks::carry_with(&mut Builder::new_current_thread(), callbacks)
        .build()
        .unwrap();
    let at = rt.block_on(async {
        let _token = attach(start("hooks-panicking-callback", 70));
        let (task, at) = spawn_at(async { yield_now().await });
        task.await.unwrap();
        at
    });
    let row = settled(at);
    assert_eq!((row.carried, row.running), (1, 0));
}

/// An after-poll hook set on the builder after `carry` replaces tracebound's, which then never
/// detaches what it attached: the next poll that runs inside no other drops what was left.
#[test]
fn a_poll_hook_set_after_carry_leaves_no_context_to_the_next_task() {
    let mut builder = Builder::new_current_thread();
    hooks::carry(&mut builder).on_after_task_poll(|_| {});
    let rt = builder.build().unwrap();
    let carried = {
        let _token = attach(start("hooks-replaced", 80));
        rt.spawn(async { yield_now().await })
    };
    rt.block_on(carried).unwrap();
    // Spawned from a thread with nothing current, polled on this one.
    let handle = rt.handle().clone();
    let plain = std::thread::spawn(move || handle.spawn(async { span_attached() }))
        .join()
        .unwrap();
    assert!(
        !rt.block_on(plain).unwrap(),
        "a context left by the carried task"
    );
}
