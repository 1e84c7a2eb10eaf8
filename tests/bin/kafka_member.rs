//! A member of a Kafka consumer group for `tests/kafka.rs`, killed by the test: it joins group
//! `GROUP` on `TOPIC`, processes `COUNT` records under `#[traced_consumer]` spans without ever
//! committing, prints each span (`TraceTree::to_lines`) and then `processed {COUNT}`, and waits
//! to be killed, heartbeating as a live member does.

use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::BorrowedMessage;
use std::io::Write;
use tracebound::kafka::Group;
use tracebound::testing::TraceTree;

#[tracebound::traced_consumer(carrier = group.message(message), system = "kafka")]
async fn handle_in_member(message: &BorrowedMessage<'_>, group: &Group) {}

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let recorder = tracebound::testing::install();
    let count: usize = var("COUNT").parse().expect("COUNT is a number");
    let consumer: StreamConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", var("BROKERS"))
        .set("group.id", var("GROUP"))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "500")
        .create()
        .expect("a Kafka consumer");
    consumer.subscribe(&[&var("TOPIC")]).expect("subscribed");
    let group = Group::of(&consumer).expect("a consumer in a group");
    let mut out = std::io::stdout();
    for _ in 0..count {
        let message = consumer.recv().await.expect("a record");
        handle_in_member(&message, &group).await;
    }
    let spans = TraceTree::new(recorder.spans()).to_lines();
    writeln!(out, "{spans}processed {count}").unwrap();
    out.flush().unwrap();
    // Alive and in the group, with its records uncommitted, until the test kills it.
    std::future::pending::<()>().await;
}
