// The messaging macros on every function shape they accept.
use std::collections::HashMap;
use std::future::Future;
use tracebound::{traced_consumer, traced_producer};

type Headers = HashMap<String, String>;

struct Message {
    headers: Option<Headers>,
    body: Vec<u8>,
}

#[traced_consumer(carrier = msg.headers, system = "nats", destination = "orders")]
async fn by_value(msg: Message) -> usize {
    msg.body.len()
}

#[traced_consumer(carrier = msg.headers)]
fn synchronous(msg: &Message) -> Result<usize, std::str::Utf8Error> {
    Ok(std::str::from_utf8(&msg.body)?.len())
}

#[traced_consumer(carrier = msg.headers)]
fn returns_future(msg: Message) -> impl Future<Output = usize> {
    async move { msg.body.len() }
}

#[traced_consumer(batch = msgs, carrier = |m| &m.headers)]
fn batch_of_slice(msgs: &[Message]) -> usize {
    msgs.len()
}

#[traced_producer(carrier = headers, destination = "orders")]
fn send_sync(headers: &mut Headers) -> bool {
    headers.contains_key("traceparent")
}

#[traced_producer(carrier = headers)]
async fn send(body: &[u8], headers: &mut Headers) -> usize {
    body.len()
}

struct Outgoing {
    headers: Headers,
}

#[traced_producer(batch = batch, carrier = |m| &mut m.headers, system = "kafka", destination = "orders")]
async fn send_batch(batch: &mut [Outgoing]) -> usize {
    batch.len()
}

#[traced_producer(batch = batch, carrier = |m| &mut m.headers)]
fn send_owned_batch(batch: Vec<Outgoing>) -> Vec<Outgoing> {
    batch
}

#[traced_producer(batch = batch, carrier = |m| &mut m.headers)]
fn send_owned_batch_mutated(mut batch: Vec<Outgoing>) -> usize {
    batch.clear();
    batch.len()
}

#[traced_consumer(system = "kafka", destination = "orders", receive = |fetched| fetched.iter().map(|m| &m.headers))]
async fn receive_vec(queue: Vec<Message>) -> Vec<Message> {
    queue
}

#[traced_consumer(receive = |fetched| fetched.iter().flatten().map(|m| &m.headers))]
fn receive_result(queue: Vec<Message>) -> Result<Vec<Message>, std::io::Error> {
    Ok(queue)
}

#[traced_consumer(receive = |fetched| fetched.iter().map(|m| &m.headers), err = false)]
fn receive_option(queue: Option<Message>) -> Option<Message> {
    queue
}

impl Outgoing {
    fn headers_mut(&mut self) -> &mut Headers {
        &mut self.headers
    }
}

struct Request {
    messages: Vec<Outgoing>,
}

#[traced_producer(batch = req.messages, carrier = |m| &mut m.headers)]
async fn send_owned_field(req: Request) -> usize {
    req.messages.len()
}

#[traced_producer(batch = req.messages, carrier = |m| &mut m.headers)]
async fn send_owned_field_mutated(mut req: Request) -> usize {
    req.messages.clear();
    req.messages.len()
}

#[traced_producer(batch = req.messages, carrier = |m| &mut m.headers)]
fn send_borrowed_field(req: &mut Request) -> usize {
    req.messages.len()
}

#[traced_producer(batch = batch, carrier = |m| &mut m.headers)]
async fn send_pattern((batch, n): (Vec<Outgoing>, u32)) -> usize {
    batch.len() + n as usize
}

#[traced_producer(batch = _batch, carrier = |m| &mut m.headers)]
async fn send_underscored(_batch: Vec<Outgoing>) {}

#[traced_producer(batch = batch, carrier = Outgoing::headers_mut)]
fn send_by_path(batch: &mut [Outgoing]) -> usize {
    batch.len()
}

fn messages_of(fetched: &Vec<Message>) -> impl Iterator<Item = &Option<Headers>> {
    fetched.iter().map(|m| &m.headers)
}

#[traced_consumer(receive = messages_of)]
async fn receive_by_path(queue: Vec<Message>) -> Vec<Message> {
    queue
}

struct Outbox {
    pending: Vec<Outgoing>,
}

impl Outbox {
    #[traced_producer(batch = self.pending, carrier = |m| &mut m.headers)]
    async fn flush(self) -> Vec<Outgoing> {
        self.pending
    }

    #[traced_producer(batch = self.pending, carrier = |m| &mut m.headers)]
    fn flush_borrowed(&mut self) -> usize {
        self.pending.len()
    }
}

#[traced_producer(batch = batch, carrier = |m| &mut m.headers, fields(count = batch.len()))]
async fn send_batch_read_by_fields(batch: Vec<Outgoing>) -> usize {
    batch.len()
}

fn main() {}
