use std::collections::HashMap;
use tracebound::traced_consumer;

struct Message {
    headers: HashMap<String, String>,
}

fn headers_of(message: &Message) -> &HashMap<String, String> {
    &message.headers
}

#[traced_consumer(carrier = hedaers)]
async fn misspelled(headers: HashMap<String, String>) {
    let _ = headers;
}

#[traced_consumer(carrier = msg.headers)]
async fn wrong_root(message: Message) {
    let _ = message;
}

#[traced_consumer(carrier = headers_of(&message))]
async fn not_rooted(message: Message) {
    let _ = message;
}

#[traced_consumer(destination = "orders")]
async fn no_carrier(message: Message) {
    let _ = message;
}

fn main() {}
