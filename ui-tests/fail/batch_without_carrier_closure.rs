use std::collections::HashMap;
use tracebound::traced_consumer;

struct Message {
    headers: HashMap<String, String>,
}

#[traced_consumer(batch = messages, carrier = headers)]
async fn not_a_closure(messages: Vec<Message>, headers: HashMap<String, String>) {
    let _ = (messages, headers);
}

#[traced_consumer(carrier = |m: &Message| &m.headers)]
async fn closure_without_batch(messages: Vec<Message>) {
    let _ = messages;
}

#[traced_consumer(batch = messages, carrier = |m| &m.headers, relation = link)]
async fn relation_with_batch(messages: Vec<Message>) {
    let _ = messages;
}

fn main() {}
