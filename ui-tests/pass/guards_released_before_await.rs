// A token or guard released before the `.await`, by scope, `drop` or `detach`, is fine; so is
// one inside a closure or a nested block that ends before the await.
use opentelemetry::Context;
use tracebound::{attach, traced_task};

async fn tick() {}

#[traced_task]
async fn scoped() {
    {
        let _token = attach(Context::current());
    }
    tick().await;
}

#[traced_task]
async fn dropped() {
    let guard = Context::current().attach();
    drop(guard);
    tick().await;
}

#[traced_task]
async fn detached() {
    let token = tracebound::attach(Context::current());
    token.detach();
    tick().await;
}

#[traced_task]
async fn in_a_closure() {
    let run = || {
        let _token = attach(Context::current());
    };
    run();
    tick().await;
}

#[traced_task]
async fn ignored_with_underscore() {
    // `let _ =` drops the token on the spot: nothing stays attached.
    let _ = attach(Context::current());
    tick().await;
}

fn main() {}
