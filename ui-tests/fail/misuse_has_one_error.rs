// A misused attribute gives its own error and nothing else: the function keeps the shape its
// callers expect (a `#[traced_blocking]` function is still awaited), so no second, misleading
// error follows.
use tracebound::{traced_blocking, traced_task};

#[traced_blocking]
fn borrowed(text: &str) -> usize {
    text.len()
}

#[traced_task(nme = "typo")]
async fn misspelled(id: u64) -> u64 {
    id
}

async fn caller() -> u64 {
    let n = borrowed("text").await;
    misspelled(n as u64).await
}

fn main() {
    let _ = caller();
}
