use std::collections::HashMap;
use tracebound::{traced_consumer, traced_producer};

type Headers = HashMap<String, String>;

struct Message {
    headers: Headers,
}

#[traced_consumer(receive = messages)]
async fn receive_not_a_closure(messages: Vec<Message>) -> Vec<Message> {
    messages
}

#[traced_consumer(receive = |out| out.iter().map(|m| &m.headers), carrier = headers)]
async fn receive_with_a_carrier(headers: Headers) -> Vec<Message> {
    let _ = headers;
    Vec::new()
}

#[traced_consumer(receive = |out| out.iter().map(|m| &m.headers), relation = link)]
async fn receive_with_a_relation() -> Vec<Message> {
    Vec::new()
}

#[traced_consumer(receive = |out| out.iter())]
async fn receive_of_what_is_not_a_carrier() -> Vec<u32> {
    Vec::new()
}

#[traced_producer(batch = batch, carrier = headers)]
async fn producer_batch_not_a_closure(batch: &mut [Message], headers: &mut Headers) {
    let _ = (batch, headers);
}

#[traced_producer(batch = messages, carrier = |m| &mut m.headers)]
async fn producer_batch_names_no_parameter(batch: &mut [Message]) {
    let _ = batch;
}

#[traced_producer(batch = batch, destination = "orders")]
async fn producer_batch_without_a_carrier(batch: &mut [Message]) -> usize {
    batch.len()
}

#[traced_consumer(receive = |out| out.iter().filter(|m| m.headers.len() > limit).map(|m| &m.headers))]
async fn receive_reads_a_parameter(limit: usize) -> Vec<Message> {
    let _ = limit;
    Vec::new()
}

#[deny(unused_variables)]
#[traced_consumer(receive = |o| o.iter().map(|m| &m.headers))]
fn receive_closure_names_are_its_own(o: u32, queue: Option<Message>) -> Option<Message> {
    queue
}

fn main() {}
