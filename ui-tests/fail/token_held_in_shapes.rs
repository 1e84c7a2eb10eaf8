// A token or guard alive at an `.await` in every shape the check sees: inside a struct, an
// `Option`, a tuple, assigned after its `let`, matched on, or across `select!` and `join!`.
use opentelemetry::{Context, ContextGuard};
use tracebound::{ContextToken, attach, traced_task};

async fn tick() {}

struct Holder {
    token: ContextToken,
}

#[traced_task]
async fn in_a_struct(cx: Context) {
    let holder = Holder { token: attach(cx) };
    tick().await;
    drop(holder.token);
}

#[traced_task]
async fn in_an_option(cx: Context) {
    let maybe = Some(cx.attach());
    tick().await;
    drop(maybe);
}

#[traced_task]
async fn in_a_tuple(cx: Context) {
    let (token, n) = (attach(cx), 1);
    tick().await;
    drop((token, n));
}

#[traced_task]
async fn assigned_later(cx: Context) {
    let guard: ContextGuard;
    guard = cx.attach();
    tick().await;
    drop(guard);
}

#[traced_task]
async fn matched(cx: Context) {
    match attach(cx) {
        token => {
            tick().await;
            drop(token);
        }
    }
}

#[traced_task]
async fn across_select(cx: Context) {
    let token = attach(cx);
    tokio::select! {
        () = tick() => {}
    }
    drop(token);
}

#[traced_task]
async fn across_join(cx: Context) {
    let token = attach(cx);
    tokio::join!(tick(), tick());
    drop(token);
}

fn main() {}
