//! Helpers shared by the behaviour tests: every test runs its work under a root span with a
//! unique name and inspects only that trace, so tests can share one process and one provider.

use opentelemetry::global;
use opentelemetry::trace::{FutureExt, SpanId, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue, Value};
use opentelemetry_sdk::trace::SpanData;
use std::future::Future;
use tracebound::testing::{self, TraceTree};

/// Runs `work` inside a root span named `root` and returns its output and its whole trace.
pub async fn traced<F: Future>(root: &'static str, work: F) -> (F::Output, TraceTree) {
    let recorder = testing::install();
    let span = global::tracer("tracebound-tests").start(root);
    let cx = Context::current_with_span(span);
    let output = work.with_context(cx.clone()).await;
    cx.span().end();
    (output, recorder.trace_of(root))
}

/// The same, for synchronous work.
pub fn traced_sync<T>(root: &'static str, work: impl FnOnce() -> T) -> (T, TraceTree) {
    let recorder = testing::install();
    let span = global::tracer("tracebound-tests").start(root);
    let cx = Context::current_with_span(span);
    let output = tracebound::with_context(cx.clone(), work);
    cx.span().end();
    (output, recorder.trace_of(root))
}

/// A multi-thread runtime with `workers` worker threads.
pub fn runtime(workers: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// The value of attribute `key` on `span`.
pub fn attribute<'a>(span: &'a SpanData, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv: &KeyValue| &kv.value)
}

/// The value of attribute `key` on `event`.
pub fn event_attribute<'a>(event: &'a opentelemetry::trace::Event, key: &str) -> Option<&'a Value> {
    event
        .attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

/// The span ids `span` links to, in order.
pub fn linked(span: &SpanData) -> Vec<SpanId> {
    span.links
        .iter()
        .map(|l| l.span_context.span_id())
        .collect()
}

/// The span ids of `spans`, in order.
pub fn ids(spans: &[&SpanData]) -> Vec<SpanId> {
    spans.iter().map(|s| s.span_context.span_id()).collect()
}

/// For the tests of one binary that replace the global provider: one at a time. The lock
/// survives a failed test, whose own failure is the one to report.
pub fn exclusive() -> std::sync::MutexGuard<'static, ()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What `look` finds within five seconds, looking again every 10 ms: for spans that end after
/// the test's own work is done (a server span ends when its response body is over).
pub fn eventually<T>(look: impl Fn() -> Option<T>) -> Option<T> {
    (0..500).find_map(|_| {
        let found = look();
        if found.is_none() {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        found
    })
}

/// The recorded trace `trace_id` once it holds `count` spans that `matches`; `what` names them
/// in the panic message if it never does.
pub fn trace_holding(
    trace_id: opentelemetry::trace::TraceId,
    count: usize,
    what: &str,
    matches: impl Fn(&SpanData) -> bool,
) -> TraceTree {
    eventually(|| {
        let trace = testing::recorder().tree().trace(trace_id);
        (trace.spans().iter().filter(|s| matches(s)).count() >= count).then_some(trace)
    })
    .unwrap_or_else(|| {
        panic!(
            "no {count} spans {what} in trace {trace_id}:\n{}",
            testing::recorder().tree().trace(trace_id).to_lines()
        )
    })
}

/// Whether the current thread has a span attached.
pub fn span_attached() -> bool {
    Context::map_current(|cx| cx.has_active_span())
}

/// Helpers of the tests that talk to the machine's brokers.
pub mod brokers {
    use std::time::{SystemTime, UNIX_EPOCH};

    /// Whether broker tests are enabled (`TRACEBOUND_BROKER_TESTS=1`); says so on stderr when not.
    pub fn enabled(test: &str) -> bool {
        let on = std::env::var("TRACEBOUND_BROKER_TESTS").is_ok_and(|v| v == "1");
        if !on {
            eprintln!(
                "{test}: not run; set TRACEBOUND_BROKER_TESTS=1 to run it against the local brokers"
            );
        }
        on
    }

    /// A name no other run uses: `{prefix}-{pid}-{nanos}`.
    pub fn unique(prefix: &str) -> String {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        format!("{prefix}-{}-{nanos}", std::process::id())
    }

    /// The NATS URL: `NATS_URL`, or the machine's server.
    pub fn nats_url() -> String {
        std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
    }

    /// The NATS server's `host:port`, for a proxy in front of it.
    pub fn nats_address() -> String {
        let url = nats_url();
        url.trim_start_matches("nats://").to_owned()
    }

    /// A connection to NATS at `NATS_URL` (default: the local server); panics if it is
    /// unreachable, since an enabled broker test must not pass silently.
    pub async fn nats() -> async_nats::Client {
        let url = nats_url();
        async_nats::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("NATS at {url} is unreachable: {e}"))
    }

    /// A JetStream stream of its own in memory, `{prefix}-{pid}-{nanos}` on subject
    /// `{name}.orders`, and a durable pull consumer `{name}-workers` on it (with `ack_wait`,
    /// or the server's default): its name, its subject and the consumer.
    pub async fn jetstream_pull(
        js: &async_nats::jetstream::Context,
        prefix: &str,
        ack_wait: Option<std::time::Duration>,
    ) -> (
        String,
        String,
        async_nats::jetstream::consumer::PullConsumer,
    ) {
        use async_nats::jetstream::{consumer, stream};
        let name = unique(prefix).replace('.', "-");
        let subject = format!("{name}.orders");
        let created = js
            .create_stream(stream::Config {
                name: name.clone(),
                subjects: vec![subject.clone()],
                storage: stream::StorageType::Memory,
                ..Default::default()
            })
            .await
            .unwrap_or_else(|e| panic!("JetStream refused a stream: {e}"));
        let mut config = consumer::pull::Config {
            durable_name: Some(format!("{name}-workers")),
            ..Default::default()
        };
        if let Some(ack_wait) = ack_wait {
            config.ack_wait = ack_wait;
        }
        let consumer = created.create_consumer(config).await.unwrap();
        (name, subject, consumer)
    }

    /// A queue of this channel's connection only, deleted with it: `{prefix}-{pid}-{nanos}`.
    pub async fn exclusive_queue(channel: &lapin::Channel, prefix: &str) -> String {
        let queue = unique(prefix);
        let options = lapin::options::QueueDeclareOptions {
            exclusive: true,
            auto_delete: true,
            ..Default::default()
        };
        channel
            .queue_declare(
                queue.as_str().into(),
                options,
                lapin::types::FieldTable::default(),
            )
            .await
            .unwrap();
        queue
    }

    /// The Kafka bootstrap servers: `KAFKA_BROKERS`, or the tansu broker `.ci/run` starts.
    pub fn kafka_brokers() -> String {
        std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into())
    }

    /// An admin client for the test broker, and options that wait 10 s for it.
    fn kafka_admin() -> (
        rdkafka::admin::AdminClient<rdkafka::client::DefaultClientContext>,
        rdkafka::admin::AdminOptions,
    ) {
        let admin = kafka_config().create().expect("a Kafka admin client");
        let wait = Some(std::time::Duration::from_secs(10));
        let options = rdkafka::admin::AdminOptions::new()
            .operation_timeout(wait)
            .request_timeout(wait);
        (admin, options)
    }

    /// A new topic with `partitions` partitions, `{prefix}-{pid}-{nanos}`, created on the Kafka
    /// broker (tansu creates no topic by itself); panics if the broker is unreachable.
    pub async fn kafka_topic(prefix: &str, partitions: i32) -> String {
        use rdkafka::admin::{NewTopic, TopicReplication};
        let brokers = kafka_brokers();
        let first = brokers.split(',').next().unwrap_or_default().to_owned();
        if let Err(e) = tokio::net::TcpStream::connect(&first).await {
            panic!(
                "Kafka at {brokers} is unreachable: {e}; `.ci/run` installs and starts tansu \
                 (see README, \"Kafka\")"
            );
        }
        let (admin, options) = kafka_admin();
        let topic = unique(prefix);
        let created = admin
            .create_topics(
                &[NewTopic::new(
                    &topic,
                    partitions,
                    TopicReplication::Fixed(1),
                )],
                &options,
            )
            .await
            .unwrap_or_else(|e| panic!("Kafka at {brokers} refused to create {topic}: {e}"));
        for result in created {
            result.unwrap_or_else(|(t, e)| panic!("topic {t} was not created: {e}"));
        }
        drop_off_runtime(admin);
        topic
    }

    /// Deletes `topic`, as a test that created it ends; a broker that refuses is not an error
    /// of the test (the topic is unique to it), only said on stderr.
    pub async fn kafka_delete_topic(topic: &str) {
        let (admin, options) = kafka_admin();
        match admin.delete_topics(&[topic], &options).await {
            Ok(results) => {
                for result in results {
                    if let Err((t, e)) = result {
                        eprintln!("topic {t} was not deleted: {e}");
                    }
                }
            }
            Err(e) => eprintln!("topic {topic} was not deleted: {e}"),
        }
        drop_off_runtime(admin);
    }

    /// A client configuration for the test broker, with short timeouts so a fault shows
    /// within a test's time.
    pub fn kafka_config() -> rdkafka::ClientConfig {
        let mut config = rdkafka::ClientConfig::new();
        config
            .set("bootstrap.servers", kafka_brokers())
            .set("message.timeout.ms", "15000")
            .set("socket.timeout.ms", "10000");
        config
    }

    /// A consumer in `group`, reading `topic` from its beginning and committing by hand.
    pub fn kafka_consumer(group: &str, topic: &str) -> rdkafka::consumer::StreamConsumer {
        use rdkafka::consumer::Consumer;
        let consumer: rdkafka::consumer::StreamConsumer = kafka_config()
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .set("session.timeout.ms", "6000")
            .set("heartbeat.interval.ms", "500")
            .create()
            .expect("a Kafka consumer");
        consumer.subscribe(&[topic]).expect("subscribed");
        consumer
    }

    /// Drops `value` (an rdkafka client) on a thread of its own and waits for it for at most
    /// 20 s: `rd_kafka_destroy` has been seen to hang (rust-rdkafka #509, #611), and a hang
    /// must fail the one test, not block a runtime thread or the whole run.
    pub fn drop_off_runtime<T: Send + 'static>(value: T) {
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            drop(value);
            let _ = done.send(());
        });
        finished
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("an rdkafka client was destroyed within 20 s");
    }

    /// The Redis URL: `REDIS_URL`, or the machine's Redis.
    pub fn redis_url() -> String {
        std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
    }

    /// A connection to Redis at `url`; panics if it is unreachable.
    pub async fn redis_at(url: &str) -> redis::aio::MultiplexedConnection {
        let client = redis::Client::open(url).unwrap_or_else(|e| panic!("{url}: {e}"));
        client
            .get_multiplexed_async_connection()
            .await
            .unwrap_or_else(|e| panic!("Redis at {url} is unreachable: {e}"))
    }

    /// The Redis server's `host:port`, from `REDIS_URL`, for a proxy in front of it.
    pub fn redis_address() -> String {
        let url = redis_url();
        let client = redis::Client::open(url.as_str()).unwrap_or_else(|e| panic!("{url}: {e}"));
        match client.get_connection_info().addr() {
            redis::ConnectionAddr::Tcp(host, port) => format!("{host}:{port}"),
            other => panic!("a proxy needs a TCP address, not {other:?}"),
        }
    }

    /// Mosquitto's address: `MQTT_HOST` and `MQTT_PORT`, or the machine's broker.
    pub fn mqtt_address() -> (String, u16) {
        let host = std::env::var("MQTT_HOST").unwrap_or_else(|_| "127.0.0.1".into());
        let port = std::env::var("MQTT_PORT")
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(1883);
        (host, port)
    }

    /// A connection to RabbitMQ at `AMQP_URL` (default: the local broker); panics if it is
    /// unreachable, since an enabled broker test must not pass silently.
    pub async fn amqp() -> lapin::Connection {
        let url = std::env::var("AMQP_URL")
            .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into());
        lapin::Connection::connect(&url, lapin::ConnectionProperties::default())
            .await
            .unwrap_or_else(|e| panic!("RabbitMQ at {url} is unreachable: {e}"))
    }
}

/// A `tracing` service's setup: tracing-subscriber, tracing-opentelemetry 0.34 (context
/// activation on or off), `tracebound::tracing::layer()`, the OpenTelemetry logs bridge and a
/// fmt layer with trace ids, used by every thread of a multi-thread runtime.
pub mod with_tracing {
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
    use opentelemetry_sdk::logs::{InMemoryLogExporter, SdkLoggerProvider};
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use std::io::Write;
    use std::sync::{Arc, Mutex};
    use tracebound::testing;
    use tracebound::tracing::{TraceIds, otel};
    use tracing::Dispatch;
    use tracing_subscriber::fmt::MakeWriter;
    use tracing_subscriber::{Layer as _, fmt, prelude::*};

    /// Log lines written by the fmt layer.
    #[derive(Clone, Default)]
    pub struct Lines(Arc<Mutex<Vec<u8>>>);

    impl Lines {
        pub fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    impl Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Lines {
        type Writer = Lines;
        fn make_writer(&'a self) -> Lines {
            self.clone()
        }
    }

    /// One service's `tracing` setup.
    #[derive(Clone, Copy)]
    pub struct Mode {
        /// tracing-opentelemetry's context activation.
        pub activation: bool,
        /// tracing-opentelemetry's layer is wrapped in `tracebound::tracing::otel`.
        pub wrapped: bool,
        /// Log lines as JSON.
        pub json: bool,
        /// `tracebound::tracing::layer()` before tracing-opentelemetry's layer instead of after.
        pub reversed: bool,
    }

    pub const BOTH: [Mode; 2] = [
        Mode {
            activation: true,
            wrapped: true,
            json: false,
            reversed: false,
        },
        Mode {
            activation: false,
            wrapped: true,
            json: false,
            reversed: false,
        },
    ];

    pub struct Service {
        pub dispatch: Dispatch,
        pub lines: Lines,
        pub logs: InMemoryLogExporter,
        pub runtime: tokio::runtime::Runtime,
    }

    /// The subscriber of `mode`, with tracing-opentelemetry on a provider that records into the
    /// same recorder as tracebound's (the global one), the logs bridge and a fmt layer, and a
    /// multi-thread runtime whose threads use it.
    pub fn service(mode: Mode) -> Service {
        let recorder = testing::install();
        let tracer = SdkTracerProvider::builder()
            .with_span_processor(recorder.processor())
            .build()
            .tracer("tracing");
        let logs = InMemoryLogExporter::default();
        let loggers = SdkLoggerProvider::builder()
            .with_simple_exporter(logs.clone())
            .build();
        let lines = Lines::default();
        let fmt = match mode.json {
            false => fmt::layer()
                .event_format(TraceIds::new(fmt::format().without_time()))
                .with_writer(lines.clone())
                .boxed(),
            true => fmt::layer()
                .json()
                .event_format(TraceIds::json(fmt::format().json().without_time()))
                .with_writer(lines.clone())
                .boxed(),
        };
        let subscriber = tracing_subscriber::registry()
            .with(mode.reversed.then(tracebound::tracing::layer))
            .with(mode.wrapped.then(|| {
                otel(
                    tracing_opentelemetry::layer()
                        .with_tracer(tracer.clone())
                        .with_context_activation(mode.activation),
                )
            }))
            .with((!mode.wrapped).then(|| {
                tracing_opentelemetry::layer()
                    .with_tracer(tracer.clone())
                    .with_context_activation(mode.activation)
            }))
            .with((!mode.reversed).then(tracebound::tracing::layer))
            .with(OpenTelemetryTracingBridge::new(&loggers))
            .with(fmt);
        let dispatch = Dispatch::new(subscriber);
        let on_start = dispatch.clone();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .on_thread_start(move || std::mem::forget(tracing::dispatcher::set_default(&on_start)))
            .build()
            .unwrap();
        Service {
            dispatch,
            lines,
            logs,
            runtime,
        }
    }

    impl Service {
        pub fn run<T>(&self, work: impl Future<Output = T>) -> T {
            tracing::dispatcher::with_default(&self.dispatch, || self.runtime.block_on(work))
        }
    }

    pub fn label(mode: Mode) -> &'static str {
        match (mode.activation, mode.wrapped, mode.reversed) {
            (true, true, false) => "activation on",
            (false, true, false) => "activation off",
            (true, false, false) => "activation on, not wrapped",
            (false, false, false) => "activation off, not wrapped",
            (true, _, true) => "activation on, layer first",
            (false, _, true) => "activation off, layer first",
        }
    }
}

/// A TCP proxy between a client and a broker that injects faults: every connection reset at
/// once, or every byte held back (a stall) until released. The brokers of the machine are
/// shared, so faults are made here, on the client's side of the wire, never by stopping them.
pub mod proxy {
    use std::net::SocketAddr;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};
    use tokio::sync::watch;

    /// The proxy; dropping it stops accepting and closes every connection.
    pub struct Proxy {
        addr: SocketAddr,
        faults: watch::Sender<Faults>,
        accepted: Arc<AtomicUsize>,
        accept: tokio::task::JoinHandle<()>,
    }

    #[derive(Clone, Copy, Default)]
    struct Faults {
        /// Bumped by each reset: connections of an older generation close.
        generation: u64,
        stalled: bool,
    }

    impl Proxy {
        /// Listens on an ephemeral port of 127.0.0.1 and forwards each connection to
        /// `upstream` (`host:port`).
        pub async fn start(upstream: &str) -> Proxy {
            let listener = TcpListener::bind("127.0.0.1:0")
                .await
                .expect("a local port");
            let addr = listener.local_addr().expect("its address");
            let (faults, _) = watch::channel(Faults::default());
            let accepted = Arc::new(AtomicUsize::new(0));
            let upstream = upstream.to_owned();
            let (watcher, counter) = (faults.clone(), accepted.clone());
            let accept = tokio::spawn(async move {
                while let Ok((client, _)) = listener.accept().await {
                    counter.fetch_add(1, Ordering::Relaxed);
                    // The generation at accept: a reset while the upstream connects closes it.
                    let faults = watcher.subscribe();
                    let generation = faults.borrow().generation;
                    let upstream = upstream.clone();
                    tokio::spawn(async move {
                        if let Ok(server) = TcpStream::connect(&upstream).await {
                            relay(client, server, faults, generation).await;
                        }
                    });
                }
            });
            Proxy {
                addr,
                faults,
                accepted,
                accept,
            }
        }

        /// The address clients connect to.
        pub fn addr(&self) -> SocketAddr {
            self.addr
        }

        /// How many connections were accepted so far.
        pub fn accepted(&self) -> usize {
            self.accepted.load(Ordering::Relaxed)
        }

        /// Resets every open connection (a TCP RST to both sides); new ones are accepted.
        pub fn reset(&self) {
            self.faults.send_modify(|f| f.generation += 1);
        }

        /// Holds back every byte in both directions (`true`) or lets them through again.
        pub fn stall(&self, stalled: bool) {
            self.faults.send_modify(|f| f.stalled = stalled);
        }
    }

    impl Drop for Proxy {
        fn drop(&mut self) {
            self.accept.abort();
            self.reset();
        }
    }

    async fn relay(
        client: TcpStream,
        server: TcpStream,
        mut faults: watch::Receiver<Faults>,
        generation: u64,
    ) {
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        let (mut client_read, mut client_write) = client.into_split();
        let (mut server_read, mut server_write) = server.into_split();
        let up = pump(
            &mut client_read,
            &mut server_write,
            faults.clone(),
            generation,
        );
        let down = pump(
            &mut server_read,
            &mut client_write,
            faults.clone(),
            generation,
        );
        let reset = async {
            let _ = faults.wait_for(|f| f.generation != generation).await;
        };
        tokio::select! {
            _ = async { tokio::join!(up, down) } => {}
            _ = reset => {}
        }
        // Reset rather than close, as a crashed peer or a broken network does.
        if let (Ok(client), Ok(server)) = (
            client_read.reunite(client_write),
            server_read.reunite(server_write),
        ) {
            let _ = client.set_zero_linger();
            let _ = server.set_zero_linger();
        }
    }

    async fn pump(
        from: &mut tokio::net::tcp::OwnedReadHalf,
        to: &mut tokio::net::tcp::OwnedWriteHalf,
        mut faults: watch::Receiver<Faults>,
        generation: u64,
    ) {
        let mut buffer = vec![0; 16 * 1024];
        loop {
            let n = match from.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            // While stalled, the bytes wait here (and the reader stops reading), until the stall
            // is lifted, or the connection is reset and they are lost with it.
            let reset = match faults
                .wait_for(|f| !f.stalled || f.generation != generation)
                .await
            {
                Ok(now) => now.generation != generation,
                Err(_) => true,
            };
            if reset {
                break;
            }
            if to.write_all(&buffer[..n]).await.is_err() {
                break;
            }
        }
        let _ = to.shutdown().await;
    }
}

/// Prints a fault test's figures on one line (`cargo test -- --nocapture` shows them;
/// RELIABILITY.md quotes one run): messages sent (`sends`), messages with at least one
/// processing attempt below their send span, processing attempts (`attempts`, chosen by the test
/// by name and attributes, wherever their parent is), the attempts whose consumer span is a child
/// of a send span, and the spans of trace `trace_id` started and never ended.
pub fn figures(
    test: &str,
    trace_id: opentelemetry::trace::TraceId,
    sends: &[&SpanData],
    attempts: &[&SpanData],
) {
    let send_ids: Vec<SpanId> = ids(sends);
    let below = attempts
        .iter()
        .filter(|a| send_ids.contains(&a.parent_span_id))
        .count();
    let processed = send_ids
        .iter()
        .filter(|id| attempts.iter().any(|a| a.parent_span_id == **id))
        .count();
    let unended = testing::recorder().unended(trace_id).len();
    println!(
        "figures {test}: sent {}, processed {processed}, attempts {}, attempts below their send \
         span {below}, unended spans {unended}",
        sends.len(),
        attempts.len()
    );
}
