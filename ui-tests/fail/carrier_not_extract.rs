use tracebound::traced_consumer;

struct Message {
    headers: Vec<String>,
}

#[traced_consumer(carrier = message.headers)]
async fn handler(message: Message) {
    let _ = message;
}

fn main() {}
