// A token or guard released before the `.await`, by scope, `drop`, `detach` or a move, is fine;
// so is one inside a closure or a nested block that ends before the await, or one that may have
// been released on some branch. Values named `attach` that are not tokens are not checked.
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
async fn moved_away() {
    let token = attach(Context::current());
    keep(token);
    tick().await;
}

fn keep(token: tracebound::ContextToken) {
    drop(token);
}

#[traced_task]
async fn released_on_one_branch(flag: bool) {
    let token = attach(Context::current());
    if flag {
        drop(token);
    }
    tick().await;
}

#[traced_task]
async fn released_by_assignment() {
    let mut token = attach(Context::current());
    inspect(&token);
    token = attach(Context::new());
    inspect(&token);
    drop(token);
    tick().await;
}

fn inspect(_: &tracebound::ContextToken) {}

struct Database;
struct Connection;

impl Database {
    fn attach(&self) -> Connection {
        Connection
    }
}

mod sqlite {
    pub fn attach(path: &str) -> usize {
        path.len()
    }
}

#[traced_task]
async fn not_tokens(db: Database) -> usize {
    let connection = db.attach();
    let n = sqlite::attach("file.db");
    let (attached, _) = (sqlite::attach("other.db"), 1);
    tick().await;
    drop(connection);
    n + attached
}

#[traced_task]
async fn token_moved_into_a_closure() {
    let token = attach(Context::current());
    let release = move || drop(token);
    release();
    tick().await;
}

fn main() {}
