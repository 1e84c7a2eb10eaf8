// `Send` follows the body: a body holding an `Rc` across an await is not `Send`, so it cannot
// go to `tokio::spawn` (it still runs on a `LocalSet`).
use std::rc::Rc;
use tracebound::traced_task;

#[traced_task]
async fn local() -> usize {
    let rc = Rc::new(1);
    tokio::task::yield_now().await;
    *rc
}

fn main() {
    let _ = tokio::spawn(local());
}
