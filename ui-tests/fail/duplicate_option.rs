use tracebound::traced_task;

#[traced_task(name = "a", name = "b")]
async fn handler() {}

#[traced_task(fields(id = 1, id = 2))]
async fn fields_twice() {}

fn main() {}
