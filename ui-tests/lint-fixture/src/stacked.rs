//! Tracebound's attributes stacked with other attribute macros, which themselves emit
//! `#[allow(unreachable_code)]` and so cannot live under `forbid(unreachable_code)`.

use crate::clean::Service;

async fn tick() {
    tokio::task::yield_now().await;
}

#[async_trait::async_trait]
pub trait Handler {
    async fn handle(&self, id: u64) -> u64;
}

#[async_trait::async_trait]
impl Handler for Service {
    #[cfg_attr(feature = "traced", tracebound::traced_task)]
    async fn handle(&self, id: u64) -> u64 {
        tick().await;
        id + self.counter
    }
}

#[cfg_attr(feature = "traced", tracebound::traced_task)]
#[tracing::instrument(skip(id))]
pub async fn instrumented_below(id: u64) -> u64 {
    tick().await;
    id
}

#[tracing::instrument(skip(id))]
#[cfg_attr(feature = "traced", tracebound::traced_task)]
pub async fn instrumented_above(id: u64) -> u64 {
    tick().await;
    id
}

