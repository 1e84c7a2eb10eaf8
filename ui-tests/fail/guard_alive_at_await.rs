use opentelemetry::{Context, ContextGuard};
use tracebound::traced_task;

async fn tick() {}

#[traced_task]
async fn attach_method() {
    let guard = Context::current().attach();
    if true {
        tick().await;
    }
    drop(guard);
}

#[traced_task]
async fn annotated(cx: Context) {
    let _guard: ContextGuard = cx.attach();
    let _ = async { 1 }.await;
}

#[traced_task]
fn returns_future() -> impl std::future::Future<Output = ()> {
    async {
        let _token = tracebound::attach(Context::current());
        tick().await;
    }
}

fn main() {}
