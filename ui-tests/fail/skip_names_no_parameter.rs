use tracebound::traced_task;

#[traced_task(skip(pasword))]
async fn login(user: String, password: String) {
    let _ = (user, password);
}

#[traced_task(skip(user), skip_all)]
async fn both(user: String) {
    let _ = user;
}

fn main() {}
