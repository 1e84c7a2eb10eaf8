//! Code with diagnostics of its own: each must be reported the same with the attributes.
#![forbid(unused_variables, unreachable_code, unused_imports)]

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
