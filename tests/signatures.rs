//! Every function shape `#[traced_task]` accepts, each checked for its span and its parent.
//! This file is compiled twice: by this crate (edition 2024) and by `edition2021/`, because
//! return-position `impl Trait` captures lifetimes differently in the two editions.

use async_trait::async_trait;
use std::fmt::{Debug, Display};
use std::future::Future;
use std::num::ParseIntError;
use std::pin::Pin;
use std::rc::Rc;
use tokio::task::yield_now;
use tracebound::traced_task;
use tracebound_tests::traced;

#[traced_task]
async fn free_fn(x: u32) -> u32 {
    yield_now().await;
    x + 1
}

struct Service {
    name: String,
    hits: u32,
}

impl Service {
    #[traced_task]
    async fn by_ref(&self, suffix: &str) -> String {
        yield_now().await;
        format!("{}{}", self.name, suffix)
    }

    #[traced_task]
    async fn by_mut(&mut self) -> u32 {
        yield_now().await;
        self.hits += 1;
        self.hits
    }

    #[traced_task]
    async fn by_value(self) -> String {
        yield_now().await;
        self.name
    }

    #[traced_task]
    async fn named_lifetimes<'a, 'b>(&'a self, other: &'b str) -> &'a str
    where
        'b: 'a,
    {
        yield_now().await;
        if other.is_empty() { &self.name } else { other }
    }

    #[traced_task]
    async fn elided(&self, a: &str, b: &[u8]) -> usize {
        yield_now().await;
        self.name.len() + a.len() + b.len()
    }

    #[traced_task]
    async fn uses_self_type() -> Self {
        yield_now().await;
        Self {
            name: "made".into(),
            hits: 0,
        }
    }

    #[traced_task]
    async fn early_return_and_question_mark(&self, input: &str) -> Result<u32, ParseIntError> {
        if input.is_empty() {
            return Ok(0);
        }
        yield_now().await;
        let parsed: u32 = input.parse()?;
        Ok(parsed + self.hits)
    }
}

struct Wrapper<'w, T> {
    inner: &'w T,
}

impl<'w, T: Display + Sync> Wrapper<'w, T> {
    // The hidden type borrows `'w` through `&self`: needs every in-scope lifetime captured.
    #[traced_task]
    async fn show(&self) -> String {
        yield_now().await;
        self.inner.to_string()
    }
}

#[traced_task]
async fn generic<T: Display + Send, U>(t: T, u: U) -> String
where
    U: Debug + Send,
{
    yield_now().await;
    format!("{t}{u:?}")
}

#[traced_task]
async fn impl_trait_arg(items: impl IntoIterator<Item = u32> + Send) -> u32 {
    yield_now().await;
    items.into_iter().sum()
}

#[traced_task]
async fn impl_trait_output(x: u32) -> impl Display {
    yield_now().await;
    x * 3
}

#[traced_task]
async fn patterns((a, b): (u32, u32), mut c: u32, _: String) -> u32 {
    c += a;
    yield_now().await;
    c + b
}

#[traced_task]
async fn await_everywhere(x: u32) -> u32 {
    let ready = |v: u32| async move { v };
    let a = match ready(x).await {
        0 => ready(1).await,
        n => n,
    };
    let b = if ready(a).await > 1 {
        ready(2).await
    } else {
        0
    };
    let c = [ready(3).await, ready(4).await].iter().sum::<u32>();
    let d = async { ready(5).await }.await;
    a + b + c + d
}

trait Repository {
    async fn get(&self, id: u32) -> Option<String>;
}

impl Repository for Service {
    #[traced_task]
    async fn get(&self, id: u32) -> Option<String> {
        yield_now().await;
        (id == 1).then(|| self.name.clone())
    }
}

#[async_trait]
trait DynRepository {
    async fn fetch(&self, id: u32) -> u32;
}

#[async_trait]
impl DynRepository for Service {
    #[traced_task]
    async fn fetch(&self, id: u32) -> u32 {
        yield_now().await;
        id + self.hits
    }
}

#[traced_task]
fn returns_impl_future(x: u32) -> impl Future<Output = u32> + Send {
    let doubled = x * 2;
    async move {
        yield_now().await;
        doubled
    }
}

#[traced_task]
#[allow(clippy::type_complexity)]
fn returns_boxed_future(x: u32) -> Pin<Box<dyn Future<Output = u32> + Send>> {
    if x == 0 {
        return Box::pin(async { 0 });
    }
    Box::pin(async move {
        yield_now().await;
        x
    })
}

#[traced_task]
async fn holds_rc_across_await() -> usize {
    let rc = Rc::new(5);
    yield_now().await;
    *rc
}

fn assert_send<T: Send>(value: T) -> T {
    value
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_shape_gets_a_span_under_the_callers_span() {
    let root = "signatures-root";
    let ((), trace) = traced(root, async {
        assert_eq!(assert_send(free_fn(1)).await, 2);
        let mut service = Service {
            name: "svc".into(),
            hits: 0,
        };
        assert_eq!(assert_send(service.by_ref("!")).await, "svc!");
        assert_eq!(service.by_mut().await, 1);
        assert_eq!(service.named_lifetimes("").await, "svc");
        assert_eq!(service.elided("ab", b"c").await, 6);
        assert_eq!(Service::uses_self_type().await.name, "made");
        assert_eq!(service.early_return_and_question_mark("").await, Ok(0));
        assert_eq!(service.early_return_and_question_mark("41").await, Ok(42));
        assert!(service.early_return_and_question_mark("x").await.is_err());
        let value = 7;
        assert_eq!(Wrapper { inner: &value }.show().await, "7");
        assert_eq!(generic(1, "u").await, "1\"u\"");
        assert_eq!(impl_trait_arg(vec![1, 2, 3]).await, 6);
        assert_eq!(impl_trait_output(2).await.to_string(), "6");
        assert_eq!(patterns((1, 2), 3, String::new()).await, 6);
        assert_eq!(await_everywhere(0).await, 1 + 7 + 5);
        assert_eq!(service.get(1).await.as_deref(), Some("svc"));
        assert_eq!(assert_send(service.fetch(2)).await, 3);
        assert_eq!(assert_send(returns_impl_future(4)).await, 8);
        assert_eq!(returns_boxed_future(0).await, 0);
        assert_eq!(returns_boxed_future(5).await, 5);
        assert_eq!(service.by_value().await, "svc");
    })
    .await;

    trace.assert_single_trace();
    let root_span = trace.span(root);
    let expected = [
        ("free_fn", 1),
        ("by_ref", 1),
        ("by_mut", 1),
        ("named_lifetimes", 1),
        ("elided", 1),
        ("uses_self_type", 1),
        ("early_return_and_question_mark", 3),
        ("show", 1),
        ("generic", 1),
        ("impl_trait_arg", 1),
        ("impl_trait_output", 1),
        ("patterns", 1),
        ("await_everywhere", 1),
        ("get", 1),
        ("fetch", 1),
        ("returns_impl_future", 1),
        ("returns_boxed_future", 2),
        ("by_value", 1),
    ];
    for (name, count) in expected {
        let spans = trace.all(name);
        assert_eq!(spans.len(), count, "spans named {name}:\n{trace}");
        for span in spans {
            assert_eq!(
                span.parent_span_id,
                root_span.span_context.span_id(),
                "{name} should be a child of the root:\n{trace}"
            );
        }
    }
    assert_eq!(
        trace.spans().len(),
        1 + expected.iter().map(|(_, n)| n).sum::<usize>()
    );
}

#[test]
fn a_body_holding_an_rc_across_await_runs_on_a_local_set() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    let ((), trace) = local.block_on(&runtime, async {
        traced("signatures-local-root", async {
            let n = tokio::task::spawn_local(holds_rc_across_await())
                .await
                .unwrap();
            assert_eq!(n, 5);
        })
        .await
    });
    trace.assert_parent("holds_rc_across_await", "signatures-local-root");
}

/// Logs its drop, to compare drop orders.
struct Loud(
    &'static str,
    std::sync::Arc<std::sync::Mutex<Vec<&'static str>>>,
);

impl Drop for Loud {
    fn drop(&mut self) {
        self.1.lock().unwrap().push(self.0);
    }
}

impl Loud {
    fn len(&self) -> usize {
        self.0.len()
    }
}

type DropLog = std::sync::Arc<std::sync::Mutex<Vec<&'static str>>>;

async fn tail_native(log: DropLog, param: Loud) -> usize {
    let _local = Loud("local", log.clone());
    // The temporary in the tail drops after `_local` in Rust 2021, before it in 2024; the
    // parameter drops last in both.
    Loud("temporary", log).len() + param.len()
}

#[traced_task]
async fn tail_traced(log: DropLog, param: Loud) -> usize {
    let _local = Loud("local", log.clone());
    Loud("temporary", log).len() + param.len()
}

#[test]
fn tail_temporaries_drop_as_in_the_native_fn_of_each_edition() {
    let mut orders = Vec::new();
    for traced_fn in [false, true] {
        let log = DropLog::default();
        let param = Loud("param", log.clone());
        let n = futures::executor::block_on(async {
            if traced_fn {
                tail_traced(log.clone(), param).await
            } else {
                tail_native(log.clone(), param).await
            }
        });
        assert_eq!(n, 14);
        orders.push(log.lock().unwrap().clone());
    }
    assert_eq!(orders[1], orders[0]);
    assert_eq!(orders[0].last(), Some(&"param"));
}
