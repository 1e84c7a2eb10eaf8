use std::collections::HashMap;
use tracebound::traced_consumer;

#[traced_consumer(carrier = headers, relation = parnet)]
async fn handler(headers: HashMap<String, String>) {
    let _ = headers;
}

fn main() {}
