// On a closure, the attribute says it needs a function, and nothing else goes wrong.
use tracebound::traced_task;

fn main() {
    let work = #[traced_task]
    async || 1;
    let _ = work;
}
