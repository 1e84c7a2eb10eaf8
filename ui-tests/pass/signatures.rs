// Every signature a tracebound attribute accepts compiles, and calls, as the native function
// does. Built by `ui-tests` (edition 2024) and by `ui-tests/edition2021`.
#![deny(warnings)]

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::OwnedSemaphorePermit;
use tracebound::{traced_blocking, traced_consumer, traced_producer, traced_task};

type Headers = HashMap<String, String>;

async fn tick() {
    tokio::task::yield_now().await;
}

#[derive(Debug)]
struct NoDisplay;

struct Pair {
    left: u32,
    right: u32,
}

struct Message {
    headers: Headers,
    body: String,
}

#[traced_task]
async fn plain(id: u64) -> u64 {
    tick().await;
    id
}

#[traced_task]
async fn question_mark(text: &str) -> Result<u32, Box<dyn std::error::Error>> {
    tick().await;
    Ok(text.parse::<u32>()?)
}

#[traced_task]
async fn impl_in_result(flag: bool) -> Result<impl fmt::Display, NoDisplay> {
    tick().await;
    if flag { Ok(1) } else { Err(NoDisplay) }
}

#[traced_task]
async fn impl_output(id: u32) -> impl fmt::Display {
    tick().await;
    id
}

#[traced_task]
async fn diverges() -> ! {
    loop {
        tick().await;
    }
}

#[traced_task]
async fn panics() -> u32 {
    panic!("no")
}

#[traced_task]
async fn generic<T: fmt::Debug, U: Clone>(value: T, other: &U) -> (String, U)
where
    T: Send,
{
    tick().await;
    (format!("{value:?}"), other.clone())
}

#[traced_task]
async fn borrows<'a>(text: &'a str, other: &str) -> &'a str {
    tick().await;
    if other.is_empty() { text } else { &text[1..] }
}

#[traced_task]
async fn impl_arguments(items: impl IntoIterator<Item = u32>, f: impl Fn(u32) -> u32) -> u32 {
    tick().await;
    items.into_iter().map(f).sum()
}

#[traced_task]
async fn patterns((a, _): (u32, String), Pair { left, .. }: Pair, _: OwnedSemaphorePermit) -> u32 {
    tick().await;
    a + left
}

#[traced_task]
async fn mutable(mut count: u32, _unused: u64) -> u32 {
    tick().await;
    count += 1;
    count
}

#[traced_task]
async fn gated(#[cfg(unix)] unix_only: u32, #[cfg(not(unix))] other: u32) -> u32 {
    tick().await;
    #[cfg(unix)]
    let n = unix_only;
    #[cfg(not(unix))]
    let n = other;
    n
}

#[traced_task(fields(left = left, count = n))]
async fn fields_from_patterns(Pair { left, right }: Pair, n: u64) -> u64 {
    tick().await;
    u64::from(left + right) + n
}

#[traced_task]
fn returns_future(id: u64) -> impl Future<Output = u64> + Send {
    async move {
        tick().await;
        id
    }
}

#[traced_task]
fn returns_boxed(id: u64) -> Pin<Box<dyn Future<Output = u64> + Send>> {
    Box::pin(async move {
        tick().await;
        id
    })
}

// As without the attribute, the future is not FFI-safe.
#[traced_task]
#[allow(improper_ctypes_definitions)]
async extern "C" fn foreign(id: u64) -> u64 {
    id
}

macro_rules! traced_in_a_macro {
    ($name:ident) => {
        #[traced_task]
        async fn $name(value: u32) -> u32 {
            tick().await;
            value
        }
    };
}

traced_in_a_macro!(from_a_macro);

struct Service {
    name: String,
    counter: u64,
}

impl Service {
    #[traced_task]
    async fn by_ref(&self, suffix: &str) -> String {
        tick().await;
        format!("{}{suffix}", self.name)
    }

    #[traced_task]
    async fn by_mut(&mut self) -> u64 {
        tick().await;
        self.counter += 1;
        self.counter
    }

    #[traced_task]
    async fn by_value(self) -> String {
        tick().await;
        self.name
    }

    #[traced_task]
    async fn by_arc(self: Arc<Self>) -> usize {
        tick().await;
        self.name.len()
    }

    #[traced_consumer(carrier = message.headers)]
    fn body_of<'m>(&mut self, message: &'m Message) -> &'m str {
        self.counter += 1;
        &message.body
    }

    #[traced_consumer(carrier = headers)]
    fn counter_of(&mut self, headers: &Headers) -> &mut u64 {
        self.counter += headers.len() as u64;
        &mut self.counter
    }
}

#[async_trait::async_trait]
trait Handler {
    async fn handle(&self, id: u64) -> u64;
}

#[async_trait::async_trait]
impl Handler for Service {
    #[traced_task]
    async fn handle(&self, id: u64) -> u64 {
        tick().await;
        id + self.counter
    }
}

trait Native {
    fn native(&self, id: u64) -> impl Future<Output = u64> + Send;
}

impl Native for Service {
    #[traced_task]
    async fn native(&self, id: u64) -> u64 {
        tick().await;
        id + self.counter
    }
}

#[traced_consumer(carrier = message.headers, system = "rabbitmq", destination = "orders")]
async fn consume(message: Message) -> Result<usize, NoDisplay> {
    tick().await;
    Ok(message.body.len())
}

#[traced_producer(carrier = headers, destination = "orders")]
async fn publish(body: &str, headers: &mut Headers) -> usize {
    tick().await;
    body.len()
}

#[traced_blocking]
fn checksum(data: Vec<u8>, _permit: OwnedSemaphorePermit) -> u32 {
    data.into_iter().map(u32::from).sum()
}

#[traced_blocking]
fn blocking_diverges(message: String) -> ! {
    panic!("{message}")
}

#[traced_task]
#[tracing::instrument(skip(id))]
async fn instrumented_below(id: u64) -> u64 {
    tick().await;
    id
}

#[tracing::instrument(skip(id))]
#[traced_task]
async fn instrumented_above(id: u64) -> u64 {
    tick().await;
    id
}

#[tokio::main(flavor = "current_thread")]
#[traced_task]
async fn under_tokio_main() -> u64 {
    plain(1).await
}

#[traced_task]
#[tokio::main(flavor = "current_thread")]
async fn over_tokio_main() -> u64 {
    plain(2).await
}

// Return-type coercions, as in the `async fn`: deref, unsizing, closures typed by the return.
struct Named {
    name: String,
    bytes: Vec<u8>,
}

impl Named {
    #[traced_task]
    async fn name(&self) -> &str {
        tick().await;
        &self.name
    }

    #[traced_task]
    async fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

#[traced_task]
async fn boxed_display(n: u32) -> Box<dyn fmt::Display + Send> {
    tick().await;
    if n > 1 {
        return Box::new("many");
    }
    Box::new(n)
}

#[traced_task]
async fn boxed_closure(n: usize) -> Box<dyn Fn(&str) -> usize + Send> {
    Box::new(move |s| s.len() + n)
}

#[traced_task]
async fn optional_box(n: u32) -> Option<Box<dyn fmt::Debug + Send>> {
    Some(Box::new(n))
}

#[traced_task]
async fn fn_pointer() -> fn(u32) -> u32 {
    |x| x + 1
}

// Raw identifiers as parameters.
#[traced_task(fields(kind = r#type))]
async fn raw_names(r#type: u32, (r#in, _): (u32, u32)) -> u32 {
    r#type + r#in
}

// Parameters, `self` included, named by a `macro_rules!` caller.
macro_rules! traced_from_caller {
    ($name:ident, $arg:ident) => {
        #[traced_task]
        async fn $name($arg: u32) -> u32 {
            tick().await;
            $arg + 1
        }
    };
}

traced_from_caller!(from_caller, x);

macro_rules! method_from_caller {
    ($name:ident, $this:ident) => {
        impl Named {
            #[traced_task]
            async fn $name(&$this) -> usize {
                $this.name.len()
            }
        }
    };
}

method_from_caller!(name_len, self);

// Values the `.await` check must let through: a generic function named `attach` whose type
// is given by the `let`, and a match on a borrow of a temporary.
fn attach<T: Default>() -> T {
    T::default()
}

struct Source;

impl Source {
    fn attach(&self) -> &str {
        "source"
    }
}

fn source() -> Source {
    Source
}

#[traced_task]
async fn not_tokens_either() -> usize {
    let text: String = attach();
    tick().await;
    let n = match source().attach() {
        s => {
            tick().await;
            s.len()
        }
    };
    text.len() + n
}

#[tokio::main]
async fn main() {
    // Two calls below panic on purpose.
    std::panic::set_hook(Box::new(|_| {}));
    let semaphore = Arc::new(tokio::sync::Semaphore::new(2));
    let mut service = Service {
        name: "svc".into(),
        counter: 0,
    };
    let message = Message {
        headers: Headers::new(),
        body: "body".into(),
    };
    assert_eq!(plain(1).await, 1);
    assert_eq!(question_mark("7").await.unwrap(), 7);
    assert!(impl_in_result(false).await.is_err());
    assert_eq!(impl_output(3).await.to_string(), "3");
    assert_eq!(generic(1, &2).await.1, 2);
    assert_eq!(borrows("abc", "x").await, "bc");
    assert_eq!(impl_arguments([1, 2], |x| x * 2).await, 6);
    let permit = semaphore.clone().acquire_owned().await.unwrap();
    assert_eq!(
        patterns((1, String::new()), Pair { left: 2, right: 3 }, permit).await,
        3
    );
    assert_eq!(mutable(1, 0).await, 2);
    assert_eq!(gated(4).await, 4);
    assert_eq!(fields_from_patterns(Pair { left: 1, right: 2 }, 3).await, 6);
    assert_eq!(returns_future(5).await, 5);
    assert_eq!(returns_boxed(6).await, 6);
    assert_eq!(foreign(7).await, 7);
    assert_eq!(from_a_macro(8).await, 8);
    assert_eq!(service.by_ref("!").await, "svc!");
    assert_eq!(service.by_mut().await, 1);
    assert_eq!(service.body_of(&message), "body");
    *service.counter_of(&message.headers) += 1;
    assert_eq!(service.handle(1).await, 4);
    assert_eq!(service.native(1).await, 4);
    assert_eq!(Arc::new(Service { name: "a".into(), counter: 0 }).by_arc().await, 1);
    assert_eq!(service.by_value().await, "svc");
    assert_eq!(consume(message).await.unwrap(), 4);
    assert_eq!(publish("abc", &mut Headers::new()).await, 3);
    let permit = semaphore.clone().acquire_owned().await.unwrap();
    assert_eq!(checksum(vec![1, 2], permit).await, 3);
    assert!(tokio::spawn(blocking_diverges("x".into())).await.is_err());
    assert!(tokio::spawn(panics()).await.is_err());
    assert_eq!(instrumented_below(1).await + instrumented_above(2).await, 3);
    drop(diverges());
    let named = Named {
        name: "n".into(),
        bytes: vec![1],
    };
    assert_eq!(named.name().await, "n");
    assert_eq!(named.bytes().await, [1]);
    assert_eq!(named.name_len().await, 1);
    assert_eq!(boxed_display(2).await.to_string(), "many");
    assert_eq!(boxed_closure(1).await("ab"), 3);
    assert!(optional_box(1).await.is_some());
    assert_eq!(fn_pointer().await(1), 2);
    assert_eq!(raw_names(1, (2, 3)).await, 3);
    assert_eq!(from_caller(1).await, 2);
    assert_eq!(not_tokens_either().await, 6);
    let (a, b) = std::thread::spawn(|| (under_tokio_main(), over_tokio_main()))
        .join()
        .unwrap();
    assert_eq!(a + b, 3);
}
