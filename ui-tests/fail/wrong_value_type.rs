use tracebound::traced_task;

#[traced_task(name = 5)]
async fn numeric_name() {}

#[traced_task(err = "no")]
async fn string_err() {}

#[traced_task(kind = sever)]
async fn misspelled_kind() {}

fn main() {}
