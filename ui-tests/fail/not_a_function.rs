use tracebound::traced_task;

#[traced_task]
struct Handler;

#[traced_task]
impl Handler {}

trait Repository {
    #[traced_task]
    async fn get(&self) -> u32;
}

fn main() {}
