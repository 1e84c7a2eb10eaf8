//! Code with diagnostics of its own: each must be reported the same with the attributes.
#![forbid(unused_variables, unreachable_code, unused_imports)]
#![warn(clippy::missing_errors_doc, clippy::missing_panics_doc)]

use std::sync::Arc;

async fn tick() {
    tokio::task::yield_now().await;
}

#[cfg_attr(feature = "traced", tracebound::traced_task)]
pub async fn unused_parameter(id: u64, name: String) -> u64 {
    tick().await;
    id
}

#[cfg_attr(feature = "traced", tracebound::traced_task)]
pub async fn unused_mut(mut id: u64) -> u64 {
    tick().await;
    id
}

#[cfg_attr(feature = "traced", tracebound::traced_task)]
pub async fn underscore_used(_id: u64) -> u64 {
    tick().await;
    _id
}

#[cfg_attr(feature = "traced", tracebound::traced_task)]
pub async fn no_await(id: u64) -> u64 {
    id
}

#[cfg_attr(feature = "traced", tracebound::traced_task)]
pub async fn unreachable_after_return(id: u64) -> u64 {
    tick().await;
    return id;
    0
}

#[cfg_attr(feature = "traced", tracebound::traced_task)]
#[must_use]
pub async fn must_use_output(id: u64) -> u64 {
    tick().await;
    id
}

pub async fn ignores_output() {
    must_use_output(1).await;
}

pub fn ignores_future() {
    let _ = unused_mut(1);
    must_use_output(2);
}

pub struct Store {
    pub name: String,
}

impl Store {
    #[cfg_attr(feature = "traced", tracebound::traced_task)]
    pub async fn unused_self(&self, id: u64) -> u64 {
        tick().await;
        id
    }

    #[cfg_attr(feature = "traced", tracebound::traced_task)]
    pub async fn passed_by_value(self: Arc<Self>, names: Vec<String>) -> usize {
        tick().await;
        names.len() + self.name.len()
    }
}

#[cfg_attr(feature = "traced", tracebound::traced_consumer(carrier = headers))]
pub fn sync_unused(headers: &std::collections::HashMap<String, String>, count: u32) -> usize {
    headers.len()
}

#[cfg_attr(feature = "traced", tracebound::traced_task)]
pub async extern "C" fn foreign(id: u64) -> u64 {
    tick().await;
    id
}

#[cfg_attr(feature = "traced", tracebound::traced_task)]
pub async fn statement_macros(x: u32, s: String) {
    tick().await;
    println!("");
    println!("{}", "lit");
    assert_eq!(x > 1, true);
    println!("{}", s);
}

#[cfg_attr(feature = "traced", tracebound::traced_task)]
pub async fn block_lints(x: u32) -> u32 {
    tick().await;
    let y = x + 1;
    fn helper(v: u32) -> u32 {
        v * 2
    }
    drop(y);
    helper(x)
}

#[cfg_attr(feature = "traced", tracebound::traced_task)]
pub async fn needless_return(x: u32) -> u32 {
    tick().await;
    return x;
}

#[cfg_attr(feature = "traced", tracebound::traced_consumer(carrier = headers))]
pub fn sync_needless_return(headers: &std::collections::HashMap<String, String>) -> usize {
    return headers.len();
}

#[cfg_attr(feature = "traced", tracebound::traced_task)]
pub async fn fallible(x: u32) -> Result<u32, String> {
    tick().await;
    if x == 0 { Err("zero".into()) } else { Ok(x) }
}

#[cfg_attr(feature = "traced", tracebound::traced_task)]
pub async fn panicky(x: Option<u32>) -> u32 {
    tick().await;
    x.unwrap()
}

#[cfg_attr(feature = "traced", tracebound::traced_task(fields(n = items.len())))]
pub async fn fields_method_name(items: Vec<u8>, len: usize) -> usize {
    tick().await;
    items.capacity()
}

#[cfg_attr(feature = "traced", tracebound::traced_task)]
#[allow(clippy::manual_async_fn)]
pub fn manual_async(id: u64) -> impl std::future::Future<Output = u64> {
    async move { id }
}

#[cfg_attr(feature = "traced", tracebound::traced_task)]
pub fn manual_async_unallowed(id: u64) -> impl std::future::Future<Output = u64> {
    async move { id }
}

#[cfg_attr(feature = "traced", tracebound::traced_task)]
#[track_caller]
pub async fn tracked(id: u64) -> u64 {
    tick().await;
    id
}

pub trait Service {
    #[cfg_attr(feature = "traced", tracebound::traced_task)]
    async fn call(&self, id: u64) -> u64 {
        tick().await;
        id
    }
}

#[cfg_attr(feature = "traced", tracebound::traced_consumer(carrier = headers))]
pub fn sync_by_value(headers: &std::collections::HashMap<String, String>, body: String) -> usize {
    body.len() + headers.len()
}

#[cfg_attr(feature = "traced", tracebound::traced_task)]
#[allow(clippy::similar_names)]
pub async fn many(a: u8, b: u8, c: u8, d: u8, e: u8, f: u8, g: u8, h: u8) -> u8 {
    tick().await;
    a + b + c + d + e + f + g + h
}

#[cfg_attr(feature = "traced", tracebound::traced_task)]
pub async fn one_line(x: u32) -> u32 { x }

#[cfg_attr(feature = "traced", tracebound::traced_task)]
pub async fn returns_a_future(n: u32) -> impl std::future::Future<Output = u32> {
    tick().await;
    async move { n }
}

#[cfg_attr(feature = "traced", tracebound::traced_blocking)]
pub fn callback(f: Box<dyn Fn(&str) -> bool + Send>, g: fn(&str) -> bool) -> bool {
    f("x") && g("y")
}

#[cfg_attr(feature = "traced", tracebound::traced_task)]
pub async fn option_token_taken(cx: opentelemetry::Context) {
    let mut t = Some(tracebound::attach(cx));
    drop(t.take());
    tick().await;
    drop(t);
}
