//! The runtime API without macros: tokens, `with_context`, `Snapshot`, `bind`, `carry` and the
//! spawn functions, each checked by the parent of a span started on the far side.

use opentelemetry::baggage::BaggageExt;
use opentelemetry::global;
use opentelemetry::trace::{TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};
use tracebound::{Snapshot, attach, bind, bind_fn, with_context};
use tracebound_tests::{span_attached, traced, traced_sync};

/// Starts and ends a span named `name` as a child of the current context.
fn leaf(name: &'static str) {
    global::tracer("tracebound-tests").in_span(name, |_| {});
}

fn baggage(cx: &Context) -> usize {
    cx.baggage().len()
}

#[test]
fn tokens_restore_the_previous_context_in_any_order() {
    let a = Context::new().with_baggage([KeyValue::new("a", "1")]);
    let b = Context::new().with_baggage([KeyValue::new("a", "1"), KeyValue::new("b", "2")]);
    let outer = attach(a);
    let inner = attach(b);
    assert_eq!(baggage(&Context::current()), 2);
    // Detaching the outer token first leaves the inner context current...
    outer.detach();
    assert_eq!(baggage(&Context::current()), 2);
    // ...and once the inner one goes, nothing is left.
    drop(inner);
    assert_eq!(baggage(&Context::current()), 0);
}

#[test]
fn with_context_detaches_after_a_panic() {
    let cx = Context::new().with_baggage([KeyValue::new("k", "v")]);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        with_context(cx, || panic!("inside"))
    }));
    assert!(result.is_err());
    assert_eq!(baggage(&Context::current()), 0);
}

#[test]
fn a_snapshot_carries_the_context_to_another_thread() {
    let ((), trace) = traced_sync("core-snapshot", || {
        let snapshot = Snapshot::capture();
        std::thread::spawn(move || {
            assert!(!span_attached());
            snapshot.run(|| leaf("snapshot-leaf"));
            let _token = snapshot.attach();
            leaf("snapshot-token-leaf");
        })
        .join()
        .unwrap();
    });
    trace.assert_parent("snapshot-leaf", "core-snapshot");
    trace.assert_parent("snapshot-token-leaf", "core-snapshot");
}

#[test]
fn bind_and_thread_spawn_carry_the_context() {
    let ((), trace) = traced_sync("core-bind", || {
        std::thread::spawn(bind(|| leaf("bind-leaf")))
            .join()
            .unwrap();
        tracebound::thread::spawn(|| leaf("thread-leaf"))
            .join()
            .unwrap();
        let each = bind_fn(|i: usize| {
            leaf(["bind-fn-0", "bind-fn-1", "bind-fn-2"][i]);
            span_attached()
        });
        std::thread::scope(|s| {
            for i in 0..3 {
                let each = &each;
                assert!(s.spawn(move || each(i)).join().unwrap());
            }
        });
        // The threads that ran them keep nothing attached afterwards.
        assert!(!std::thread::spawn(span_attached).join().unwrap());
    });
    for name in [
        "bind-leaf",
        "thread-leaf",
        "bind-fn-0",
        "bind-fn-1",
        "bind-fn-2",
    ] {
        trace.assert_parent(name, "core-bind");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawn_and_spawn_blocking_carry_the_context() {
    let ((), trace) = traced("core-spawn", async {
        tracebound::spawn(async { leaf("spawn-leaf") })
            .await
            .unwrap();
        tracebound::spawn_blocking(|| leaf("blocking-leaf"))
            .await
            .unwrap();
        let carried = tracebound::carry(async { leaf("carry-leaf") });
        tokio::spawn(carried).await.unwrap();
        // Plain tokio::spawn does not, and that is the bug tracebound exists for.
        tokio::spawn(async { leaf("plain-leaf") }).await.unwrap();
    })
    .await;
    for name in ["spawn-leaf", "blocking-leaf", "carry-leaf"] {
        trace.assert_parent(name, "core-spawn");
    }
    assert!(
        trace.all("plain-leaf").is_empty(),
        "plain tokio::spawn loses the parent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn the_blocking_pool_keeps_nothing_attached_between_jobs() {
    let ((), _) = traced("core-blocking-clean", async {
        for _ in 0..4 {
            assert!(tracebound::spawn_blocking(span_attached).await.unwrap());
            assert!(!tokio::task::spawn_blocking(span_attached).await.unwrap());
        }
    })
    .await;
}

#[test]
fn spawn_local_carries_the_context() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    let ((), trace) = local.block_on(&runtime, async {
        traced("core-spawn-local", async {
            tracebound::spawn_local(async { leaf("local-leaf") })
                .await
                .unwrap();
        })
        .await
    });
    trace.assert_parent("local-leaf", "core-spawn-local");
}

/// Each spawned task keeps its own parent across awaits while 32 tasks with 8 parents interleave
/// on two workers; between their polls the workers have nothing attached. `spawn` hands the
/// context to OpenTelemetry for each poll and takes it back when the task is not done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawned_tasks_keep_their_own_context_across_awaits() {
    const PARENTS: usize = 8;
    const STEPS: usize = 4;
    let ((), trace) = traced("core-spawn-awaits", async {
        let tracer = global::tracer("tracebound-tests");
        let mut parents = Vec::new();
        let mut tasks = Vec::new();
        for p in 0..PARENTS {
            let span = tracer.start(format!("awaits-parent-{p}"));
            let cx = Context::current_with_span(span)
                .with_baggage([KeyValue::new("parent", p.to_string())]);
            let _token = attach(cx.clone());
            for t in 0..4 {
                tasks.push(tracebound::spawn(async move {
                    for step in 0..STEPS {
                        let name = format!("awaits-leaf-{p}-{t}-{step}");
                        tracer_leaf(name);
                        assert_eq!(
                            Context::current()
                                .baggage()
                                .get("parent")
                                .map(|v| v.as_str().to_owned()),
                            Some(p.to_string()),
                            "task {p}-{t} lost its baggage before step {step}"
                        );
                        if step % 2 == 0 {
                            tokio::task::yield_now().await;
                        } else {
                            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                        }
                    }
                }));
            }
            parents.push(cx);
        }
        // Plain tasks interleaved with them see nothing attached.
        let probes: Vec<_> = (0..64)
            .map(|_| {
                tokio::spawn(async {
                    tokio::task::yield_now().await;
                    span_attached()
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        for probe in probes {
            assert!(
                !probe.await.unwrap(),
                "a worker kept a spawned task's context"
            );
        }
        for cx in parents {
            cx.span().end();
        }
    })
    .await;
    for p in 0..PARENTS {
        for t in 0..4 {
            for step in 0..STEPS {
                trace.assert_parent(
                    &format!("awaits-leaf-{p}-{t}-{step}"),
                    &format!("awaits-parent-{p}"),
                );
            }
        }
    }
}

fn tracer_leaf(name: String) {
    global::tracer("tracebound-tests").in_span(name, |_| {});
}

#[tracebound::traced_task]
async fn under_block_on(n: u32) -> u32 {
    n + 1
}

#[test]
fn the_recorder_records_under_futures_block_on() {
    // The SDK's simple processor blocks on its exporter inside `end`, which panics inside
    // `futures::executor::block_on`; the recorder must not, and must keep recording after.
    for round in ["block-on-first", "block-on-second"] {
        let recorder = tracebound::testing::install();
        let span = global::tracer("tracebound-tests").start(round);
        let cx = Context::current_with_span(span);
        let n = futures::executor::block_on(with_context(cx.clone(), || under_block_on(1)));
        cx.span().end();
        assert_eq!(n, 2);
        recorder
            .trace_of(round)
            .assert_parent("under_block_on", round);
    }
}
