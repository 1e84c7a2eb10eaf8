// `let _ = …` drops a token or guard on the spot: the context is detached before the next line.
use opentelemetry::Context;
use tracebound::{attach, traced_task};

#[traced_task]
async fn handler(cx: Context) {
    let _ = attach(cx.clone());
    let _ = cx.attach();
}

fn main() {}
