//! Messaging spans by semantic conventions v1.44 ("Messaging spans"): span kinds by operation
//! type, one `create` span per message of a published batch, `receive` spans for pull
//! consumers with one link per message, the attributes a message carrier knows, and the
//! ambient span linked from a `process` span whose parent is the creation context. Checked
//! span by span on a multi-thread runtime.

use opentelemetry::trace::{SpanKind, Status, TraceContextExt};
use opentelemetry::{Context, KeyValue, Value};
use std::collections::HashMap;
use tracebound::{Extract, traced_consumer, traced_producer, traced_task};
use tracebound_tests::{attribute, ids, linked, traced};

type Headers = HashMap<String, String>;

#[derive(Clone, Debug)]
struct Message {
    id: u32,
    headers: Headers,
}

/// A broker message that knows its own attributes, as lapin's `Delivery` does.
struct Delivery {
    queue: &'static str,
    id: &'static str,
    headers: Headers,
}

impl Extract for Delivery {
    fn get(&self, key: &str) -> Option<&str> {
        self.headers.get(key).map(String::as_str)
    }
    fn keys(&self) -> Vec<&str> {
        self.headers.keys().map(String::as_str).collect()
    }
    fn message_attributes(&self, attributes: &mut Vec<KeyValue>) {
        attributes.push(KeyValue::new("messaging.system", "testmq"));
        attributes.push(KeyValue::new("messaging.destination.name", self.queue));
        attributes.push(KeyValue::new("messaging.message.id", self.id));
    }
}

#[traced_producer(carrier = headers, system = "testmq", destination = "orders")]
async fn send_one(headers: &mut Headers) {}

#[traced_producer(batch = batch, carrier = |m| &mut m.headers, system = "testmq", destination = "orders")]
async fn send_batch(batch: &mut [Message]) -> usize {
    // Every message already carries its own creation context when the body runs.
    assert!(batch.iter().all(|m| m.headers.contains_key("traceparent")));
    tokio::task::yield_now().await;
    batch.len()
}

#[traced_producer(batch = batch, carrier = |m| &mut m.headers, system = "testmq", destination = "orders")]
fn send_batch_sync(mut batch: Vec<Message>) -> Vec<Message> {
    batch.push(Message {
        id: 99,
        headers: Headers::new(),
    });
    batch
}

/// A pull consumer: the fetch returns the messages, the span links to each.
#[traced_consumer(system = "testmq", destination = "orders", receive = |fetched| fetched.iter().map(|m| &m.headers))]
async fn fetch(queue: &[Message]) -> Vec<Message> {
    tokio::task::yield_now().await;
    queue.to_vec()
}

#[traced_consumer(system = "testmq", destination = "orders", receive = |fetched| fetched.iter().flatten())]
async fn fetch_deliveries(queue: Vec<Delivery>, fail: bool) -> Result<Vec<Delivery>, &'static str> {
    if fail { Err("broker gone") } else { Ok(queue) }
}

#[traced_consumer(carrier = delivery)]
async fn process_delivery(delivery: Delivery) -> &'static str {
    delivery.queue
}

#[traced_consumer(carrier = delivery, system = "testmq", destination = "given")]
async fn process_named(delivery: &Delivery) {}

#[traced_consumer(carrier = headers, system = "testmq", destination = "orders", operation = "settle")]
async fn settle(headers: &Headers) {}

#[traced_producer(carrier = headers, system = "testmq", destination = "orders", operation = "create")]
async fn create(headers: &mut Headers) {}

#[traced_consumer(carrier = headers, system = "testmq", destination = "orders")]
async fn process(headers: Headers) {}

fn kv<'a>(span: &'a opentelemetry_sdk::trace::SpanData, key: &str) -> Option<&'a Value> {
    attribute(span, key)
}

fn s(v: &str) -> Option<Value> {
    Some(Value::from(v.to_owned()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn span_kinds_follow_the_operation_type() {
    let root = "semconv-kinds";
    let ((), trace) = traced(root, async {
        let mut headers = Headers::new();
        send_one(&mut headers).await;
        create(&mut Headers::new()).await;
        settle(&headers).await;
        process(headers).await;
    })
    .await;
    // § Span kind: create → PRODUCER, send (single message) → PRODUCER, settle → CLIENT,
    // process → CONSUMER.
    for (name, kind, operation) in [
        ("send orders", SpanKind::Producer, "send"),
        ("create orders", SpanKind::Producer, "create"),
        ("settle orders", SpanKind::Client, "settle"),
        ("process orders", SpanKind::Consumer, "process"),
    ] {
        let span = trace.span(name);
        assert_eq!(span.span_kind, kind, "{name}");
        assert_eq!(kv(span, "messaging.operation.type"), s(operation).as_ref());
        assert_eq!(kv(span, "messaging.operation.name"), s(operation).as_ref());
        assert_eq!(kv(span, "messaging.system"), s("testmq").as_ref());
        assert_eq!(kv(span, "messaging.destination.name"), s("orders").as_ref());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_published_batch_gets_a_create_span_per_message_linked_from_send() {
    let root = "semconv-batch-send";
    let (batch, trace) = traced(root, async {
        let mut batch: Vec<Message> = (0..3)
            .map(|id| Message {
                id,
                headers: Headers::new(),
            })
            .collect();
        assert_eq!(send_batch(&mut batch).await, 3);
        for message in &batch {
            process(message.headers.clone()).await;
        }
        batch
    })
    .await;
    trace.assert_single_trace();
    let send = trace.span("send orders");
    let creates = trace.all("create orders");
    assert_eq!(creates.len(), 3);
    // § Batch publishing with "Create" spans: the send span is a CLIENT span, each message's
    // context is its own create span's (PRODUCER), and send links to each of them.
    assert_eq!(send.span_kind, SpanKind::Client);
    assert_eq!(
        kv(send, "messaging.batch.message_count"),
        Some(&Value::I64(3))
    );
    assert_eq!(kv(send, "messaging.operation.type"), s("send").as_ref());
    let root_span = trace.span(root);
    for (message, create) in batch.iter().zip(&creates) {
        assert_eq!(create.span_kind, SpanKind::Producer);
        assert_eq!(kv(create, "messaging.operation.type"), s("create").as_ref());
        assert_eq!(create.parent_span_id, root_span.span_context.span_id());
        let id = create.span_context.span_id().to_string();
        assert!(
            message.headers["traceparent"].contains(&id),
            "message {} carries its create span {id}: {:?}",
            message.id,
            message.headers
        );
        // A create span ends before the send span does.
        assert!(create.end_time <= send.end_time);
    }
    assert_eq!(send.parent_span_id, root_span.span_context.span_id());
    let links = linked(send);
    let created = ids(&creates);
    assert_eq!(links, created);
    // Each message's consumer continues its own create span.
    let parents: Vec<_> = trace
        .all("process orders")
        .iter()
        .map(|p| p.parent_span_id)
        .collect();
    assert_eq!(parents, created);
}

#[test]
fn a_synchronous_batch_producer_takes_an_owned_batch() {
    let recorder = tracebound::testing::install();
    let root = "semconv-batch-sync";
    let batch = tracebound_tests::traced_sync(root, || {
        send_batch_sync(vec![
            Message {
                id: 1,
                headers: Headers::new(),
            },
            Message {
                id: 2,
                headers: Headers::new(),
            },
        ])
    })
    .0;
    let trace = recorder.trace_of(root);
    assert_eq!(trace.all("create orders").len(), 2);
    assert!(
        batch[..2]
            .iter()
            .all(|m| m.headers.contains_key("traceparent"))
    );
    assert!(!batch[2].headers.contains_key("traceparent"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_consumer_gets_a_receive_span_linking_each_message() {
    let root = "semconv-receive";
    let ((), trace) = traced(root, async {
        let mut queue: Vec<Message> = (0..3)
            .map(|id| Message {
                id,
                headers: Headers::new(),
            })
            .collect();
        send_batch(&mut queue).await;
        queue.push(Message {
            id: 7,
            headers: HashMap::from([("traceparent".into(), "garbage".into())]),
        });
        let fetched = tracebound::spawn(async move { fetch(&queue).await })
            .await
            .unwrap();
        assert_eq!(fetched.len(), 4);
    })
    .await;
    // § Receive span: CLIENT, a child of the ambient span, one link per message with a creation
    // context, and the number of messages.
    let receive = trace.span("receive orders");
    assert_eq!(receive.span_kind, SpanKind::Client);
    assert_eq!(
        receive.parent_span_id,
        trace.span(root).span_context.span_id()
    );
    assert_eq!(
        kv(receive, "messaging.operation.type"),
        s("receive").as_ref()
    );
    assert_eq!(
        kv(receive, "messaging.batch.message_count"),
        Some(&Value::I64(4))
    );
    let links = linked(receive);
    let created = ids(&trace.all("create orders"));
    assert_eq!(links, created, "the malformed message links to nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_receive_of_one_message_is_counted_and_errors_are_recorded() {
    let root = "semconv-receive-one";
    let ((), trace) = traced(root, async {
        let mut headers = Headers::new();
        send_one(&mut headers).await;
        let one = vec![Delivery {
            queue: "orders-q",
            id: "m-1",
            headers,
        }];
        assert_eq!(fetch_deliveries(one, false).await.unwrap().len(), 1);
        assert!(fetch_deliveries(Vec::new(), true).await.is_err());
    })
    .await;
    let receives = trace.all("receive orders");
    assert_eq!(receives.len(), 2);
    let (ok, failed) = (receives[0], receives[1]);
    // A batch API that fetched one message: counted, and the message's own attributes stay on
    // its link (§ "Recording per-message attributes on batch operations").
    assert_eq!(
        kv(ok, "messaging.batch.message_count"),
        Some(&Value::I64(1))
    );
    assert_eq!(kv(ok, "messaging.message.id"), None);
    // The options' destination is not replaced by the message's.
    assert_eq!(kv(ok, "messaging.destination.name"), s("orders").as_ref());
    assert_eq!(
        ok.attributes
            .iter()
            .filter(|a| a.key.as_str() == "messaging.destination.name")
            .count(),
        1
    );
    assert_eq!(ok.links.len(), 1);
    assert_eq!(
        ok.links[0].span_context.span_id(),
        trace.span("send orders").span_context.span_id()
    );
    assert!(matches!(failed.status, Status::Error { .. }));
    // A failed fetch received nothing: § Receive span, "or for no message at all".
    assert_eq!(
        kv(failed, "messaging.batch.message_count"),
        Some(&Value::I64(0))
    );
    assert!(failed.links.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_carrier_sets_the_attributes_the_options_did_not() {
    let root = "semconv-message-attributes";
    let ((), trace) = traced(root, async {
        let mut headers = Headers::new();
        send_one(&mut headers).await;
        let delivery = Delivery {
            queue: "orders-q",
            id: "m-42",
            headers: headers.clone(),
        };
        assert_eq!(process_delivery(delivery).await, "orders-q");
        process_named(&Delivery {
            queue: "orders-q",
            id: "m-43",
            headers,
        })
        .await;
    })
    .await;
    let span = trace.span("process_delivery");
    assert_eq!(span.span_kind, SpanKind::Consumer);
    assert_eq!(kv(span, "messaging.system"), s("testmq").as_ref());
    assert_eq!(
        kv(span, "messaging.destination.name"),
        s("orders-q").as_ref()
    );
    assert_eq!(kv(span, "messaging.message.id"), s("m-42").as_ref());
    assert_eq!(kv(span, "messaging.operation.type"), s("process").as_ref());
    assert_eq!(kv(span, "messaging.operation.name"), s("process").as_ref());
    let named = trace.span("process given");
    assert_eq!(kv(named, "messaging.destination.name"), s("given").as_ref());
    assert_eq!(kv(named, "messaging.message.id"), s("m-43").as_ref());
    for span in [span, named] {
        let mut keys: Vec<_> = span.attributes.iter().map(|a| a.key.as_str()).collect();
        let all = keys.len();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), all, "no attribute twice: {keys:?}");
    }
}

#[traced_task]
async fn http_request(headers: Headers) -> Context {
    process(headers).await;
    Context::current()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_span_parented_by_the_message_links_the_ambient_span() {
    let root = "semconv-ambient";
    let ((), trace) = traced(root, async {
        let mut headers = Headers::new();
        send_one(&mut headers).await;
        let ambient = http_request(headers).await;
        assert!(ambient.span().span_context().is_valid());
    })
    .await;
    // § Message creation context as parent of "Process" span: "a child of the message creation
    // context and has two links: one to the message creation context and another one to" the
    // ambient span.
    let process = trace.span("process orders");
    let send = trace.span("send orders");
    let ambient = trace.span("http_request");
    assert_eq!(process.parent_span_id, send.span_context.span_id());
    let links = linked(process);
    assert_eq!(
        links,
        [send.span_context.span_id(), ambient.span_context.span_id()]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_ambient_span_a_process_span_has_no_link() {
    let mut headers = Headers::new();
    let ((), _) = traced("semconv-no-ambient-send", send_one(&mut headers)).await;
    let recorder = tracebound::testing::install();
    // Called outside any span: nothing to link.
    let trace_id = headers["traceparent"][3..35].to_owned();
    tokio::spawn(process(headers)).await.unwrap();
    let spans = recorder.spans();
    let process = spans
        .iter()
        .find(|s| s.name == "process orders" && s.span_context.trace_id().to_string() == trace_id)
        .unwrap();
    assert!(process.links.is_empty());
}

/// A message that already holds a creation context of the user's.
#[traced_producer(batch = batch, carrier = Message::headers_mut, system = "testmq", destination = "orders")]
async fn send_batch_by_path(batch: &mut Vec<Message>) {}

impl Message {
    fn headers_mut(&mut self) -> &mut Headers {
        &mut self.headers
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_with_its_own_creation_context_keeps_it_and_is_linked() {
    const CUSTOM: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let root = "semconv-custom-creation";
    let (batch, trace) = traced(root, async {
        let mut batch = vec![
            Message {
                id: 1,
                headers: HashMap::from([("traceparent".into(), CUSTOM.into())]),
            },
            Message {
                id: 2,
                headers: Headers::new(),
            },
        ];
        send_batch_by_path(&mut batch).await;
        batch
    })
    .await;
    // § Producer spans: "If a user provides a custom creation context in a message, this
    // context SHOULD NOT be modified and a 'Create' span SHOULD NOT be created", and "The
    // 'Send' span SHOULD always link to the creation context that was injected into a message
    // either from a 'Create' span or as a custom creation context."
    assert_eq!(batch[0].headers["traceparent"], CUSTOM);
    let creates = trace.all("create orders");
    assert_eq!(creates.len(), 1);
    let created = creates[0].span_context.span_id().to_string();
    assert!(batch[1].headers["traceparent"].contains(&created));
    let send = trace.span("send orders");
    let links: Vec<String> = send
        .links
        .iter()
        .map(|l| l.span_context.span_id().to_string())
        .collect();
    assert_eq!(links, ["00f067aa0ba902b7".to_owned(), created]);
    assert_eq!(
        attribute(send, "messaging.batch.message_count"),
        Some(&Value::I64(2))
    );
}

/// A single-message pull API: `Option<M>`.
#[traced_consumer(receive = |got| got.iter())]
async fn fetch_one(queue: Option<Delivery>) -> Option<Delivery> {
    queue
}

#[traced_consumer(
    system = "testmq",
    fields(messaging.message.id = "hint"),
    receive = |got| got.iter(),
)]
async fn fetch_one_with_fields(queue: Option<Delivery>) -> Option<Delivery> {
    queue
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_message_receive_has_no_count_and_takes_what_the_options_left() {
    let root = "semconv-receive-single";
    let ((), trace) = traced(root, async {
        let one = || Delivery {
            queue: "orders-q",
            id: "m-5",
            headers: Headers::new(),
        };
        assert!(fetch_one(Some(one())).await.is_some());
        assert!(fetch_one(None).await.is_none());
        assert!(fetch_one_with_fields(Some(one())).await.is_some());
    })
    .await;
    let receives = trace.all("fetch_one");
    assert_eq!(receives.len(), 2);
    for receive in &receives {
        // § messaging.batch.message_count: "SHOULD NOT use it for single-message APIs".
        assert_eq!(kv(receive, "messaging.batch.message_count"), None);
        assert_eq!(receive.span_kind, SpanKind::Client);
        // A receive span is a messaging span without options: its operation is named.
        assert_eq!(
            kv(receive, "messaging.operation.name"),
            s("receive").as_ref()
        );
        assert_eq!(
            kv(receive, "messaging.operation.type"),
            s("receive").as_ref()
        );
    }
    // The message's own attributes, system and destination included, when the options set none.
    assert_eq!(kv(receives[0], "messaging.system"), s("testmq").as_ref());
    assert_eq!(
        kv(receives[0], "messaging.destination.name"),
        s("orders-q").as_ref()
    );
    assert_eq!(kv(receives[0], "messaging.message.id"), s("m-5").as_ref());
    assert_eq!(kv(receives[1], "messaging.message.id"), None);
    // What `fields` set is not set again by the message.
    let with_fields = trace.span("fetch_one_with_fields");
    let ids: Vec<_> = with_fields
        .attributes
        .iter()
        .filter(|a| a.key.as_str() == "messaging.message.id")
        .map(|a| a.value.to_string())
        .collect();
    assert_eq!(ids, ["hint"]);
    let systems = with_fields
        .attributes
        .iter()
        .filter(|a| a.key.as_str() == "messaging.system")
        .count();
    assert_eq!(systems, 1);
}

/// `fields(…)` reading the batch the producer writes into.
#[traced_producer(
    batch = batch,
    carrier = |m| &mut m.headers,
    destination = "orders",
    fields(batch.size = batch.len(), messaging.batch.message_count = 7)
)]
async fn send_batch_with_fields(batch: &mut Vec<Message>) {}

#[traced_consumer(
    system = "testmq",
    fields(messaging.operation.name = "poll", messaging.system = "given"),
    receive = |got| got.iter(),
)]
async fn poll(queue: Option<Delivery>) -> Option<Delivery> {
    queue
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fields_win_over_the_options_and_no_key_is_set_twice() {
    let root = "semconv-fields-win";
    let ((), trace) = traced(root, async {
        let mut batch = vec![
            Message {
                id: 1,
                headers: Headers::new(),
            },
            Message {
                id: 2,
                headers: Headers::new(),
            },
        ];
        send_batch_with_fields(&mut batch).await;
        poll(Some(Delivery {
            queue: "orders-q",
            id: "m-9",
            headers: Headers::new(),
        }))
        .await;
    })
    .await;
    let unique = |span: &opentelemetry_sdk::trace::SpanData| {
        let mut keys: Vec<_> = span.attributes.iter().map(|a| a.key.as_str()).collect();
        let all = keys.len();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), all, "{}: a key set twice: {keys:?}", span.name);
    };
    let send = trace.span("send orders");
    unique(send);
    assert_eq!(kv(send, "batch.size"), Some(&Value::I64(2)));
    assert_eq!(
        kv(send, "messaging.batch.message_count"),
        Some(&Value::I64(7))
    );
    for create in trace.all("create orders") {
        unique(create);
        // A create span is about one message: no batch count.
        assert_eq!(kv(create, "messaging.batch.message_count"), None);
    }
    let poll = trace.span("poll");
    unique(poll);
    assert_eq!(kv(poll, "messaging.operation.name"), s("poll").as_ref());
    assert_eq!(kv(poll, "messaging.system"), s("given").as_ref());
    assert_eq!(kv(poll, "messaging.message.id"), s("m-9").as_ref());
}

type Fetched = Option<Delivery>;

#[traced_consumer(receive = |got| got.iter())]
fn boxed_one(
    queue: Option<Delivery>,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Option<Delivery>> + Send>> {
    Box::pin(async move { queue })
}

#[traced_consumer(receive = |got| got.iter().flatten())]
async fn optional_batch(queue: Option<Vec<Delivery>>) -> Option<Vec<Delivery>> {
    queue
}

#[traced_consumer(receive = |got| got.iter())]
async fn recv(queue: Delivery) -> Result<Delivery, String> {
    Ok(queue)
}

#[traced_consumer(receive = |got| got.iter())]
async fn aliased(queue: Option<Delivery>) -> Fetched {
    queue
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_message_or_a_batch_is_read_from_the_declared_output() {
    let root = "semconv-output-shapes";
    let one = |id| Delivery {
        queue: "orders-q",
        id,
        headers: Headers::new(),
    };
    let ((), trace) = traced(root, async move {
        boxed_one(Some(one("a"))).await;
        optional_batch(Some(vec![one("b"), one("c")])).await;
        recv(one("d")).await.unwrap();
        aliased(Some(one("e"))).await;
    })
    .await;
    let count = |name: &str| kv(trace.span(name), "messaging.batch.message_count").cloned();
    // Through `Pin<Box<dyn Future<Output = Option<M>>>>`: one message.
    assert_eq!(count("boxed_one"), None);
    assert_eq!(
        kv(trace.span("boxed_one"), "messaging.message.id"),
        s("a").as_ref()
    );
    // `Option<Vec<M>>` is a batch.
    assert_eq!(count("optional_batch"), Some(Value::I64(2)));
    // `Result<M, E>` (rdkafka's `recv`) is one message.
    assert_eq!(count("recv"), None);
    assert_eq!(
        kv(trace.span("recv"), "messaging.message.id"),
        s("d").as_ref()
    );
    // A type alias is read as written: not seen through, counted as a batch (README).
    assert_eq!(count("aliased"), Some(Value::I64(1)));
}

#[async_trait::async_trait]
trait Source {
    async fn pull(&self, queue: Option<Delivery>) -> Option<Delivery>;
}

struct Queue;

#[async_trait::async_trait]
impl Source for Queue {
    #[traced_consumer(receive = |got| got.iter())]
    async fn pull(&self, queue: Option<Delivery>) -> Option<Delivery> {
        queue
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_async_trait_method_returning_an_option_is_a_single_message_api() {
    let root = "semconv-async-trait";
    let ((), trace) = traced(root, async {
        let got = Queue
            .pull(Some(Delivery {
                queue: "orders-q",
                id: "t-1",
                headers: Headers::new(),
            }))
            .await;
        assert!(got.is_some());
    })
    .await;
    let pull = trace.span("pull");
    assert_eq!(kv(pull, "messaging.batch.message_count"), None);
    assert_eq!(kv(pull, "messaging.message.id"), s("t-1").as_ref());
    assert_eq!(pull.parent_span_id, trace.span(root).span_context.span_id());
}
