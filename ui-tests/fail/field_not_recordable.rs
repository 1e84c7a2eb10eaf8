use tracebound::traced_task;

struct Order;

#[traced_task(fields(order = order))]
async fn place(order: Order) {
    let _ = order;
}

fn main() {}
