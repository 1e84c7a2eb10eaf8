// The returned future is `Send` exactly when the body is.
use tracebound::traced_task;

#[traced_task]
async fn sendable(x: u32) -> u32 {
    tokio::task::yield_now().await;
    x
}

fn assert_send<T: Send>(_: &T) {}

#[tokio::main]
async fn main() {
    let future = sendable(1);
    assert_send(&future);
    assert_eq!(tokio::spawn(future).await.unwrap(), 1);
}
