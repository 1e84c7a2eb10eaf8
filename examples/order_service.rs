//! The order service story, end to end: an HTTP-style handler accepts an order and publishes
//! it to a queue; a queue consumer processes it and spawns follow-up work. Without tracebound
//! the consumer's span starts a second, disconnected trace; here one attribute on each side
//! makes it one waterfall.
//!
//! ```text
//! cargo run --example order_service                          # an in-process queue, no setup
//! cargo run --example order_service --features brokers -- --amqp amqp://guest:guest@127.0.0.1:5672/%2f
//! cargo run --example order_service --features brokers -- --nats nats://127.0.0.1:4222
//! cargo run --example order_service --features kafka -- --kafka 127.0.0.1:9092
//! OTEL_TRACES_EXPORTER=console cargo run --example order_service   # also export them
//! ```
//!
//! With any `OTEL_TRACES_EXPORTER` set, the example installs its provider and propagator with
//! `tracebound::setup` from the `OTEL_*` variables (so `OTEL_PROPAGATORS=b3` runs the story over
//! B3 headers), and also records the spans in memory to draw the waterfall.
//!
//! The traced functions are generic over the queue, so the same code runs on each transport,
//! each with its native header type as the carrier.

#[cfg(feature = "brokers")]
use futures::StreamExt;
use opentelemetry::trace::{SpanKind, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue, global};
use std::collections::HashMap;
use std::fmt;
use std::time::Duration;
use tracebound::testing::TraceTree;
use tracebound::{Extract, Inject, traced_consumer, traced_producer, traced_task};

/// What a queue transport offers the order service: send a message with headers, receive one.
trait Queue {
    type Headers: Inject + Extract + Default + Send + 'static;
    const SYSTEM: &'static str;

    async fn send(&self, headers: Self::Headers, body: Vec<u8>);
    async fn receive(&mut self) -> Option<(Self::Headers, Vec<u8>)>;
}

// --- The service ---------------------------------------------------------------------------

struct Request {
    headers: http::HeaderMap,
    body: String,
}

#[derive(Debug)]
struct InvalidOrder(String);

impl fmt::Display for InvalidOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid order: {}", self.0)
    }
}

#[traced_consumer(carrier = request.headers, kind = server, name = "POST /orders")]
async fn handle_request<Q: Queue>(request: Request, queue: &Q) -> Result<u64, InvalidOrder> {
    let order_id = validate(&request.body).await?;
    let mut headers = Q::Headers::default();
    publish_order(queue, order_id, &mut headers).await;
    Ok(order_id)
}

#[traced_task(fields(body.length = body.len()))]
async fn validate(body: &str) -> Result<u64, InvalidOrder> {
    body.strip_prefix("order=")
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| InvalidOrder(body.to_owned()))
}

#[traced_producer(carrier = headers, destination = "orders", fields(messaging.system = Q::SYSTEM, order.id = order_id))]
async fn publish_order<Q: Queue>(queue: &Q, order_id: u64, headers: &mut Q::Headers) {
    // `headers` already carries this span's context: the consumer will continue the trace.
    queue
        .send(std::mem::take(headers), order_id.to_string().into_bytes())
        .await;
}

#[traced_consumer(carrier = headers, destination = "orders", fields(messaging.system = system))]
async fn process_order<H: Extract>(system: &'static str, headers: H, body: Vec<u8>) -> u64 {
    let order_id: u64 = String::from_utf8_lossy(&body).parse().unwrap_or_default();
    // Follow-up work on other tasks: created here, so both stay under `process orders`.
    let stock = tokio::spawn(reserve_stock(order_id));
    let receipt = tokio::spawn(send_receipt(order_id));
    let _ = tokio::join!(stock, receipt);
    order_id
}

#[traced_task(fields(order.id = order_id))]
async fn reserve_stock(order_id: u64) {
    tokio::time::sleep(Duration::from_millis(2 + order_id % 3)).await;
}

#[traced_task(fields(order.id = order_id))]
async fn send_receipt(order_id: u64) {
    tokio::time::sleep(Duration::from_millis(1 + order_id % 2)).await;
}

/// A client upstream of the service, sending its request with W3C headers.
async fn client_posts_order<Q: Queue>(queue: &Q, order_id: u64) -> Result<u64, InvalidOrder> {
    let tracer = global::tracer("order-service-client");
    let span = tracer
        .span_builder("client POST /orders")
        .with_kind(SpanKind::Client)
        .with_attributes([KeyValue::new("order.id", order_id as i64)])
        .start(&tracer);
    let cx = Context::current_with_span(span);
    let mut headers = http::HeaderMap::new();
    tracebound::propagation::inject_context(&cx, &mut headers);
    let request = Request {
        headers,
        body: format!("order={order_id}"),
    };
    let result = handle_request(request, queue).await;
    cx.span().end();
    result
}

async fn run<Q: Queue>(mut queue: Q) -> TraceTree {
    let recorder = tracebound::testing::recorder();
    let order_id = 42;
    client_posts_order(&queue, order_id)
        .await
        .expect("a valid order");
    let (headers, body) = tokio::time::timeout(Duration::from_secs(20), queue.receive())
        .await
        .expect("the order arrives within 20 s")
        .expect("the queue is open");
    assert_eq!(process_order(Q::SYSTEM, headers, body).await, order_id);
    recorder.trace_of("client POST /orders")
}

// --- Transports ----------------------------------------------------------------------------

/// A queue inside this process: the default, needing no broker.
struct InProcess {
    sender: tokio::sync::mpsc::UnboundedSender<(HashMap<String, String>, Vec<u8>)>,
    receiver: tokio::sync::mpsc::UnboundedReceiver<(HashMap<String, String>, Vec<u8>)>,
}

impl Queue for InProcess {
    type Headers = HashMap<String, String>;
    const SYSTEM: &'static str = "in-process";

    async fn send(&self, headers: Self::Headers, body: Vec<u8>) {
        let _ = self.sender.send((headers, body));
    }

    async fn receive(&mut self) -> Option<(Self::Headers, Vec<u8>)> {
        self.receiver.recv().await
    }
}

#[cfg(feature = "brokers")]
struct Amqp {
    _connection: lapin::Connection,
    channel: lapin::Channel,
    queue: String,
    consumer: lapin::Consumer,
}

#[cfg(feature = "brokers")]
impl Amqp {
    async fn connect(url: &str) -> Result<Self, lapin::Error> {
        use lapin::options::{BasicConsumeOptions, QueueDeclareOptions};
        use lapin::types::FieldTable;
        let connection =
            lapin::Connection::connect(url, lapin::ConnectionProperties::default()).await?;
        let channel = connection.create_channel().await?;
        let queue = format!("tracebound-example-orders-{}", std::process::id());
        let options = QueueDeclareOptions {
            exclusive: true,
            auto_delete: true,
            ..Default::default()
        };
        channel
            .queue_declare(queue.as_str().into(), options, FieldTable::default())
            .await?;
        let consumer = channel
            .basic_consume(
                queue.as_str().into(),
                "".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        Ok(Amqp {
            _connection: connection,
            channel,
            queue,
            consumer,
        })
    }
}

#[cfg(feature = "brokers")]
impl Queue for Amqp {
    type Headers = lapin::types::FieldTable;
    const SYSTEM: &'static str = "rabbitmq";

    async fn send(&self, headers: Self::Headers, body: Vec<u8>) {
        let properties = lapin::BasicProperties::default().with_headers(headers);
        let options = lapin::options::BasicPublishOptions::default();
        let confirm = self
            .channel
            .basic_publish(
                "".into(),
                self.queue.as_str().into(),
                options,
                &body,
                properties,
            )
            .await
            .expect("publish to RabbitMQ");
        confirm.await.expect("RabbitMQ confirms the publish");
    }

    async fn receive(&mut self) -> Option<(Self::Headers, Vec<u8>)> {
        let delivery = self.consumer.next().await?.ok()?;
        delivery
            .ack(lapin::options::BasicAckOptions::default())
            .await
            .ok()?;
        let headers = delivery.properties.headers().clone().unwrap_or_default();
        Some((headers, delivery.data))
    }
}

#[cfg(feature = "brokers")]
struct Nats {
    client: async_nats::Client,
    subject: String,
    subscriber: async_nats::Subscriber,
}

#[cfg(feature = "brokers")]
impl Nats {
    async fn connect(url: &str) -> Result<Self, async_nats::Error> {
        let client = async_nats::connect(url).await?;
        let subject = format!("tracebound.example.orders.{}", std::process::id());
        let subscriber = client.subscribe(subject.clone()).await?;
        client.flush().await?;
        Ok(Nats {
            client,
            subject,
            subscriber,
        })
    }
}

#[cfg(feature = "brokers")]
impl Queue for Nats {
    type Headers = async_nats::HeaderMap;
    const SYSTEM: &'static str = "nats";

    async fn send(&self, headers: Self::Headers, body: Vec<u8>) {
        self.client
            .publish_with_headers(self.subject.clone(), headers, body.into())
            .await
            .expect("publish to NATS");
        self.client.flush().await.expect("flush to NATS");
    }

    async fn receive(&mut self) -> Option<(Self::Headers, Vec<u8>)> {
        let message = self.subscriber.next().await?;
        Some((
            message.headers.unwrap_or_default(),
            message.payload.to_vec(),
        ))
    }
}

/// A Kafka topic of its own, created at start (a broker need not create topics on first use),
/// read by a consumer in a group that commits each record as it takes it (at most once, as the
/// other transports here acknowledge on receipt).
#[cfg(feature = "kafka")]
struct Kafka {
    producer: rdkafka::producer::FutureProducer,
    consumer: rdkafka::consumer::StreamConsumer,
    topic: String,
}

#[cfg(feature = "kafka")]
impl Kafka {
    async fn connect(brokers: &str) -> Result<Self, rdkafka::error::KafkaError> {
        use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
        use rdkafka::consumer::Consumer;
        let mut config = rdkafka::ClientConfig::new();
        config.set("bootstrap.servers", brokers);
        let topic = format!("tracebound-example-orders-{}", std::process::id());
        let admin: AdminClient<_> = config.create()?;
        let wait = Some(Duration::from_secs(10));
        let options = AdminOptions::new()
            .operation_timeout(wait)
            .request_timeout(wait);
        for created in admin
            .create_topics(
                &[NewTopic::new(&topic, 1, TopicReplication::Fixed(1))],
                &options,
            )
            .await?
        {
            created.map_err(|(_, code)| rdkafka::error::KafkaError::AdminOp(code))?;
        }
        let producer = config.create()?;
        let consumer: rdkafka::consumer::StreamConsumer = config
            .clone()
            .set("group.id", "tracebound-example-orders")
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .create()?;
        consumer.subscribe(&[&topic])?;
        Ok(Kafka {
            producer,
            consumer,
            topic,
        })
    }
}

#[cfg(feature = "kafka")]
impl Queue for Kafka {
    type Headers = rdkafka::message::OwnedHeaders;
    const SYSTEM: &'static str = "kafka";

    async fn send(&self, headers: Self::Headers, body: Vec<u8>) {
        let record = rdkafka::producer::FutureRecord::<(), _>::to(&self.topic)
            .payload(&body)
            .headers(headers);
        self.producer
            .send(record, Duration::from_secs(10))
            .await
            .map_err(|(e, _)| e)
            .expect("publish to Kafka");
    }

    async fn receive(&mut self) -> Option<(Self::Headers, Vec<u8>)> {
        use rdkafka::Message;
        use rdkafka::consumer::{CommitMode, Consumer};
        let message = self.consumer.recv().await.ok()?;
        self.consumer
            .commit_message(&message, CommitMode::Async)
            .ok()?;
        let headers = message.headers().map(|h| h.detach()).unwrap_or_default();
        Some((headers, message.payload().unwrap_or_default().to_vec()))
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    // The exporter's guard flushes at the end of main, after the waterfall is printed.
    let _telemetry = match std::env::var_os("OTEL_TRACES_EXPORTER") {
        Some(_) => {
            let recorder = tracebound::testing::recorder();
            Some(
                tracebound::setup::Setup::new()
                    .span_processor(recorder.processor())
                    .install()?,
            )
        }
        None => {
            tracebound::testing::install();
            None
        }
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (transport, trace) = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] => {
            let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
            (
                "an in-process queue",
                run(InProcess { sender, receiver }).await,
            )
        }
        #[cfg(feature = "brokers")]
        ["--amqp", url] => ("RabbitMQ", run(Amqp::connect(url).await?).await),
        #[cfg(feature = "brokers")]
        ["--nats", url] => ("NATS", run(Nats::connect(url).await?).await),
        #[cfg(feature = "kafka")]
        ["--kafka", brokers] => ("Kafka", run(Kafka::connect(brokers).await?).await),
        #[cfg(not(feature = "brokers"))]
        ["--amqp" | "--nats", _] => {
            eprintln!(
                "the brokers need the example's `brokers` feature: cargo run --example order_service --features brokers -- …"
            );
            std::process::exit(2);
        }
        #[cfg(not(feature = "kafka"))]
        ["--kafka", _] => {
            eprintln!(
                "Kafka needs the example's `kafka` feature: cargo run --example order_service --features kafka -- --kafka 127.0.0.1:9092"
            );
            std::process::exit(2);
        }
        _ => {
            eprintln!("usage: order_service [--amqp URL | --nats URL | --kafka BROKERS]");
            std::process::exit(2);
        }
    };
    println!(
        "one order through {transport}: {} spans, {} trace(s)\n",
        trace.spans().len(),
        trace.trace_ids().len()
    );
    print!("{trace}");
    if _telemetry.is_some() {
        println!("\nexported by OTEL_TRACES_EXPORTER:");
    }
    trace.assert_single_trace();
    trace.assert_parent("process orders", "send orders");
    trace.assert_parent("send orders", "POST /orders");
    trace.assert_parent("POST /orders", "client POST /orders");
    trace.assert_parent("reserve_stock", "process orders");
    trace.assert_parent("send_receipt", "process orders");
    Ok(())
}
