use std::collections::HashMap;
use tracebound::traced_producer;

#[traced_producer(carrier = headers)]
async fn owned(headers: HashMap<String, String>) {
    let _ = headers;
}

#[traced_producer(carrier = headers)]
async fn shared(headers: &HashMap<String, String>) {
    let _ = headers;
}

#[traced_producer(carrier = message.headers)]
async fn expression(message: &mut (HashMap<String, String>, u32)) {
    let _ = message;
}

fn main() {}
