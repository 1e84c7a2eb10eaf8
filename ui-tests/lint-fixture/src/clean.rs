//! Code that passes every gate without the attributes, so must with them.
#![forbid(unused_variables, unreachable_code, unused_imports)]

use opentelemetry::Context;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::OwnedSemaphorePermit;

pub type Headers = HashMap<String, String>;

#[derive(Debug)]
pub struct Failed;

impl fmt::Display for Failed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("failed")
    }
}

impl std::error::Error for Failed {}

/// An error without `Display`.
#[derive(Debug)]
pub struct Opaque;

pub struct Message {
    pub headers: Headers,
    pub body: String,
}

pub struct Pair {
    pub left: u32,
    pub right: u32,
}

async fn tick() {
    tokio::task::yield_now().await;
}

#[cfg_attr(feature = "traced", tracebound::traced_task)]
pub async fn plain(id: u64) -> u64 {
    tick().await;
    id + 1
}

#[cfg_attr(feature = "traced", tracebound::traced_task(name = "fallible", kind = server))]
pub async fn fallible(id: u64) -> Result<u64, Failed> {
    tick().await;
    if id == 0 { Err(Failed) } else { Ok(id) }
}

#[cfg_attr(feature = "traced", tracebound::traced_task)]
pub async fn question_mark(text: &str) -> Result<u32, Box<dyn std::error::Error + Send + Sync>> {
    tick().await;
    let n: u32 = text.parse()?;
    Ok(n)
}

#[cfg_attr(feature = "traced", tracebound::traced_task)]
pub async fn opaque_error(flag: bool) -> Result<impl fmt::Display, Opaque> {
    tick().await;
    if flag { Ok("yes") } else { Err(Opaque) }
}

#[cfg_attr(feature = "traced", tracebound::traced_task)]
pub async fn diverges() -> ! {
    loop {
        tick().await;
    }
}

#[cfg_attr(feature = "traced", tracebound::traced_task)]
pub async fn panics(reason: &str) -> u32 {
    tick().await;
    panic!("{reason}")
}

#[cfg_attr(feature = "traced", tracebound::traced_task)]
pub async fn generic<T: fmt::Debug + Send, U>(value: T, other: U) -> (String, U)
where
    U: Clone,
{
    tick().await;
    (format!("{value:?}"), other.clone())
}

#[cfg_attr(feature = "traced", tracebound::traced_task)]
pub async fn borrows<'a>(text: &'a str, other: &str) -> &'a str {
    tick().await;
    if other.is_empty() { text } else { &text[1..] }
}

#[cfg_attr(feature = "traced", tracebound::traced_task)]
pub async fn impl_arguments(items: impl IntoIterator<Item = u32>, f: impl Fn(u32) -> u32) -> u32 {
    tick().await;
    items.into_iter().map(f).sum()
}

#[cfg_attr(feature = "traced", tracebound::traced_task)]
pub async fn patterns((a, _): (u32, String), Pair { left, .. }: Pair, _: OwnedSemaphorePermit) -> u32 {
    tick().await;
    a + left
}

#[cfg_attr(feature = "traced", tracebound::traced_task)]
pub async fn mutable(mut count: u32, _unused: u64) -> u32 {
    tick().await;
    count += 1;
    count
}

#[cfg_attr(feature = "traced", tracebound::traced_task)]
pub async fn gated(#[cfg(unix)] unix_only: u32, #[cfg(not(unix))] other: u32) -> u32 {
    tick().await;
    #[cfg(unix)]
    return unix_only;
    #[cfg(not(unix))]
    return other;
}

#[cfg_attr(feature = "traced", tracebound::traced_task(fields(pair.left = left, count = n)))]
pub async fn fields_from_patterns(Pair { left, right }: Pair, n: u64) -> u64 {
    tick().await;
    u64::from(left + right) + n
}

#[cfg_attr(feature = "traced", tracebound::traced_task)]
#[allow(clippy::manual_async_fn)]
pub fn returns_future(id: u64) -> impl Future<Output = u64> + Send {
    async move {
        tick().await;
        id
    }
}

#[cfg_attr(feature = "traced", tracebound::traced_task)]
pub fn returns_boxed(id: u64) -> Pin<Box<dyn Future<Output = u64> + Send>> {
    Box::pin(async move {
        tick().await;
        id
    })
}

pub struct Service {
    pub name: String,
    pub counter: u64,
}

impl Service {
    #[cfg_attr(feature = "traced", tracebound::traced_task)]
    pub async fn by_ref(&self, suffix: &str) -> String {
        tick().await;
        format!("{}{suffix}", self.name)
    }

    #[cfg_attr(feature = "traced", tracebound::traced_task)]
    pub async fn by_mut(&mut self) -> u64 {
        tick().await;
        self.counter += 1;
        self.counter
    }

    #[cfg_attr(feature = "traced", tracebound::traced_task)]
    pub async fn by_value(self) -> String {
        tick().await;
        self.name
    }

    #[cfg_attr(feature = "traced", tracebound::traced_task)]
    pub async fn by_arc(self: Arc<Self>) -> usize {
        tick().await;
        self.name.len()
    }

    #[cfg_attr(feature = "traced", tracebound::traced_consumer(carrier = message.headers))]
    #[must_use]
    pub fn body_of<'m>(&mut self, message: &'m Message) -> &'m str {
        self.counter += 1;
        &message.body
    }

    #[cfg_attr(feature = "traced", tracebound::traced_consumer(carrier = headers))]
    pub fn counter_of(&mut self, headers: &Headers) -> &mut u64 {
        self.counter += headers.len() as u64;
        &mut self.counter
    }
}

pub trait Native {
    fn native(&self, id: u64) -> impl Future<Output = u64> + Send;
}

impl Native for Service {
    #[cfg_attr(feature = "traced", tracebound::traced_task)]
    async fn native(&self, id: u64) -> u64 {
        tick().await;
        id + self.counter
    }
}

#[cfg_attr(
    feature = "traced",
    tracebound::traced_consumer(carrier = message.headers, system = "rabbitmq", destination = "orders")
)]
pub async fn consume(message: Message) -> Result<usize, Failed> {
    tick().await;
    Ok(message.body.len())
}

#[cfg_attr(feature = "traced", tracebound::traced_consumer(carrier = headers))]
#[must_use]
pub fn consume_sync(headers: &Headers, body: &str) -> usize {
    body.len() + headers.len()
}

#[cfg_attr(feature = "traced", tracebound::traced_producer(carrier = headers, destination = "orders"))]
pub async fn publish(body: &str, headers: &mut Headers) -> usize {
    tick().await;
    headers.insert("length".into(), body.len().to_string());
    body.len()
}

#[cfg_attr(feature = "traced", tracebound::traced_blocking)]
#[must_use]
pub fn checksum(data: Vec<u8>, _permit: OwnedSemaphorePermit) -> u32 {
    data.into_iter().map(u32::from).sum()
}

/// Values named `attach` that are not context tokens, alive at an `.await`.
pub struct Database;

impl Database {
    #[must_use]
    pub fn attach(&self) -> Connection {
        Connection
    }
}

pub struct Connection;

impl Drop for Connection {
    fn drop(&mut self) {}
}

pub mod other {
    #[must_use]
    pub fn attach(n: u32) -> u32 {
        n
    }
}

#[cfg_attr(feature = "traced", tracebound::traced_task)]
pub async fn not_tokens(db: &Database) -> u32 {
    let connection = db.attach();
    let n = other::attach(3);
    tick().await;
    drop(connection);
    n
}

#[cfg_attr(feature = "traced", tracebound::traced_task)]
pub async fn token_released_before_await(cx: Context) {
    let token = tracebound::attach(cx.clone());
    token.detach();
    let guard = cx.attach();
    drop(guard);
    let moved = tracebound::attach(Context::new());
    consume_token(moved);
    tick().await;
}

fn consume_token(token: tracebound::ContextToken) {
    drop(token);
}

#[cfg_attr(feature = "traced", tracebound::traced_task)]
#[allow(clippy::unused_async)]
pub async fn empty() {}

#[cfg_attr(feature = "traced", tracebound::traced_task)]
#[allow(clippy::unused_async)]
pub async fn one_expression(x: u32) -> u32 { x + 1 }

#[cfg_attr(feature = "traced", tracebound::traced_consumer(carrier = headers))]
#[must_use]
pub fn one_expression_sync(headers: &Headers) -> usize { headers.len() }

/// A message to publish in a batch.
pub struct Outgoing {
    pub headers: Headers,
}

#[cfg_attr(
    feature = "traced",
    tracebound::traced_producer(batch = batch, carrier = |m| &mut m.headers, destination = "orders")
)]
pub async fn publish_batch(batch: &mut [Outgoing]) -> usize {
    tick().await;
    batch.len()
}

#[cfg_attr(feature = "traced", tracebound::traced_producer(batch = batch, carrier = |m| &mut m.headers))]
#[must_use]
pub fn publish_owned_batch(batch: Vec<Outgoing>) -> usize {
    batch.into_iter().count()
}

#[cfg_attr(
    feature = "traced",
    tracebound::traced_consumer(destination = "orders", receive = |got| got.iter().flatten().map(|m| &m.headers))
)]
pub async fn fetch(queue: Vec<Message>) -> Result<Vec<Message>, Failed> {
    tick().await;
    Ok(queue)
}
