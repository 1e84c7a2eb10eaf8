//! `#[traced_producer]` → carrier → `#[traced_consumer]`, over in-memory carriers: parentage,
//! links, baggage, semantic conventions, hostile headers, batches and synchronous handlers.

use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::{SpanId, SpanKind, Status, TraceContextExt};
use opentelemetry::{Context, KeyValue, Value};
use std::collections::HashMap;
use tracebound::{traced_consumer, traced_producer};
use tracebound_tests::{attribute, span_attached, traced, traced_sync};

type Headers = HashMap<String, String>;

struct Message {
    headers: Headers,
    body: String,
}

#[derive(Default)]
struct Properties {
    headers: Option<Headers>,
}

impl Properties {
    fn headers(&self) -> &Option<Headers> {
        &self.headers
    }
}

struct Delivery {
    properties: Properties,
}

#[traced_producer(carrier = headers, system = "rabbitmq", destination = "orders")]
async fn publish(body: &str, headers: &mut Headers) -> Message {
    // The send span's context is already in the headers when the body runs.
    let injected = headers.get("traceparent").cloned().unwrap_or_default();
    let current = Context::current()
        .span()
        .span_context()
        .span_id()
        .to_string();
    assert!(
        injected.contains(&current),
        "{injected} should carry {current}"
    );
    Message {
        headers: headers.clone(),
        body: body.to_owned(),
    }
}

#[traced_consumer(carrier = msg.headers, system = "rabbitmq", destination = "orders")]
async fn process(msg: Message) -> (usize, Option<String>) {
    tokio::task::yield_now().await;
    let tenant = Context::current()
        .baggage()
        .get("tenant")
        .map(|v| v.to_string());
    (msg.body.len(), tenant)
}

#[traced_consumer(carrier = msg.headers, relation = link, name = "untrusted")]
async fn process_untrusted(msg: &Message) -> usize {
    msg.body.len()
}

#[traced_consumer(carrier = delivery.properties.headers())]
async fn process_delivery(delivery: Delivery) -> bool {
    delivery.properties.headers.is_some()
}

#[traced_consumer(carrier = delivery.properties.headers())]
async fn process_headerless(delivery: Delivery) -> bool {
    delivery.properties.headers.is_some()
}

#[traced_consumer(carrier = headers, name = "GET /orders", kind = server)]
async fn http_handler(headers: &Headers) -> Result<u32, std::num::ParseIntError> {
    headers.get("x-count").map_or(Ok(0), |n| n.parse())
}

#[traced_consumer(carrier = msg.headers, system = "rabbitmq", destination = "orders", operation = "receive")]
fn process_sync(msg: &Message) -> Result<usize, String> {
    assert!(span_attached());
    if msg.body.is_empty() {
        Err("empty order".to_owned())
    } else {
        Ok(msg.body.len())
    }
}

#[traced_consumer(carrier = msg.headers)]
fn process_sync_panics(msg: &Message) {
    panic!("cannot process {}", msg.body);
}

#[traced_consumer(batch = msgs, carrier = |m| &m.headers, system = "rabbitmq", destination = "orders")]
async fn process_batch(msgs: Vec<Message>) -> usize {
    msgs.len()
}

fn child_of(trace: &tracebound::testing::TraceTree, child: &str, parent: &str) {
    trace.assert_parent(child, parent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_consumers_parent_is_the_send_span_and_baggage_arrives() {
    let root = "messaging-roundtrip";
    let ((len, tenant), trace) = traced(root, async {
        let cx = Context::current().with_baggage([KeyValue::new("tenant", "acme")]);
        let message = {
            let _token = tracebound::attach(cx);
            let mut headers = Headers::new();
            publish("order #1", &mut headers).await
        };
        assert!(message.headers.contains_key("traceparent"));
        assert_eq!(message.headers["baggage"], "tenant=acme");
        // Delivered on another task, as a queue would.
        tokio::spawn(async move { process(message).await })
            .await
            .unwrap()
    })
    .await;
    assert_eq!((len, tenant.as_deref()), (8, Some("acme")));

    trace.assert_single_trace();
    child_of(&trace, "send orders", root);
    child_of(&trace, "process orders", "send orders");
    let send = trace.span("send orders");
    let process = trace.span("process orders");
    assert_eq!(send.span_kind, SpanKind::Producer);
    assert_eq!(process.span_kind, SpanKind::Consumer);
    assert!(process.parent_span_is_remote);
    for (span, operation) in [(send, "send"), (process, "process")] {
        assert_eq!(
            attribute(span, "messaging.system"),
            Some(&Value::from("rabbitmq"))
        );
        assert_eq!(
            attribute(span, "messaging.destination.name"),
            Some(&Value::from("orders"))
        );
        assert_eq!(
            attribute(span, "messaging.operation.name"),
            Some(&Value::from(operation))
        );
        assert_eq!(
            attribute(span, "messaging.operation.type"),
            Some(&Value::from(operation))
        );
    }
    assert!(
        process
            .attributes
            .iter()
            .all(|kv| !kv.key.as_str().starts_with("tenant")),
        "baggage is never copied into span attributes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relation_link_starts_a_new_trace_linked_to_the_send_span() {
    let recorder = tracebound::testing::install();
    let ((), trace) = traced("messaging-link", async {
        let message = publish("x", &mut Headers::new()).await;
        assert_eq!(process_untrusted(&message).await, 1);
    })
    .await;
    let send = trace.span("send orders");
    let consumer_trace = recorder.trace_of("untrusted");
    let consumer = consumer_trace.span("untrusted");
    assert_eq!(consumer.parent_span_id, SpanId::INVALID);
    assert_ne!(
        consumer.span_context.trace_id(),
        send.span_context.trace_id()
    );
    let links: Vec<_> = consumer
        .links
        .iter()
        .map(|l| {
            (
                l.span_context.trace_id(),
                l.span_context.span_id(),
                l.span_context.is_remote(),
            )
        })
        .collect();
    let send_ids = (
        send.span_context.trace_id(),
        send.span_context.span_id(),
        true,
    );
    assert_eq!(links, vec![send_ids]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_or_malformed_context_starts_a_new_root_and_the_body_still_runs() {
    let recorder = tracebound::testing::install();
    let hostile = [
        ("traceparent", "00-garbage"),
        (
            "traceparent",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01",
        ),
        (
            "traceparent",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        ),
        ("traceparent", "\u{0}\u{1}\r\n"),
        ("traceparent", ""),
        ("baggage", "=;,=,%%%,tenant=%ZZ"),
    ];
    let ((), _) = traced("messaging-hostile", async {
        for (i, (key, value)) in hostile.iter().enumerate() {
            let message = Message {
                headers: Headers::from([(key.to_string(), value.to_string())]),
                body: "b".repeat(i + 1),
            };
            assert_eq!(process(message).await.0, i + 1);
        }
        assert!(
            !process_headerless(Delivery {
                properties: Properties::default()
            })
            .await
        );
    })
    .await;
    let all = recorder.tree();
    let processed = all.all("process orders");
    let roots = processed
        .iter()
        .filter(|s| s.parent_span_id == SpanId::INVALID)
        .count();
    assert!(
        roots >= hostile.len(),
        "every hostile message is processed under a new root"
    );
    let delivery = all.span("process_headerless");
    assert_eq!(
        delivery.parent_span_id,
        SpanId::INVALID,
        "an absent header table is no context"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_carrier_can_be_a_method_call_and_kind_can_be_server() {
    let root = "messaging-carrier-forms";
    let ((), trace) = traced(root, async {
        let message = publish("x", &mut Headers::new()).await;
        let delivery = Delivery {
            properties: Properties {
                headers: Some(message.headers.clone()),
            },
        };
        assert!(process_delivery(delivery).await);
        let mut headers = message.headers.clone();
        headers.insert("x-count".into(), "nope".into());
        assert!(http_handler(&headers).await.is_err());
    })
    .await;
    child_of(&trace, "process_delivery", "send orders");
    child_of(&trace, "GET /orders", "send orders");
    let handler = trace.span("GET /orders");
    assert_eq!(handler.span_kind, SpanKind::Server);
    assert!(
        handler
            .attributes
            .iter()
            .all(|kv| !kv.key.as_str().starts_with("messaging.")),
        "no messaging conventions without a messaging option: {:?}",
        handler.attributes
    );
    assert!(matches!(handler.status, Status::Error { .. }));
    assert!(attribute(handler, "error.type").is_some());
}

#[test]
fn synchronous_consumers_record_errors_and_panics_and_detach() {
    let root = "messaging-sync";
    let ((), trace) = traced_sync(root, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let message = runtime.block_on(async { publish("abc", &mut Headers::new()).await });
        assert_eq!(process_sync(&message), Ok(3));
        let empty = Message {
            headers: message.headers.clone(),
            body: String::new(),
        };
        assert!(process_sync(&empty).is_err());
        let root_span = Context::current().span().span_context().span_id();
        let panicked = std::panic::catch_unwind(|| process_sync_panics(&empty));
        assert!(panicked.is_err());
        assert_eq!(
            Context::current().span().span_context().span_id(),
            root_span
        );
    });
    let spans = trace.all("receive orders");
    assert_eq!(spans.len(), 2);
    let send = trace.span("send orders");
    for span in &spans {
        assert_eq!(span.parent_span_id, send.span_context.span_id());
        assert_eq!(
            attribute(span, "messaging.operation.type"),
            Some(&Value::from("receive"))
        );
    }
    assert_eq!(spans[0].status, Status::Unset);
    assert_eq!(spans[1].status, Status::error("empty order"));
    let panicked = trace.span("process_sync_panics");
    assert_eq!(panicked.status, Status::error("panicked"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_is_one_span_linking_each_message_with_a_context() {
    let root = "messaging-batch";
    let ((), trace) = traced(root, async {
        let a = publish("a", &mut Headers::new()).await;
        let b = publish("b", &mut Headers::new()).await;
        let plain = Message {
            headers: Headers::new(),
            body: "c".into(),
        };
        assert_eq!(process_batch(vec![a, plain, b]).await, 3);
    })
    .await;
    child_of(&trace, "process orders", root);
    let batch = trace.span("process orders");
    assert_eq!(
        attribute(batch, "messaging.batch.message_count"),
        Some(&Value::I64(3))
    );
    let sends: Vec<_> = trace
        .all("send orders")
        .iter()
        .map(|s| s.span_context.span_id())
        .collect();
    let linked: Vec<_> = batch
        .links
        .iter()
        .map(|l| l.span_context.span_id())
        .collect();
    assert_eq!(
        linked, sends,
        "one link per message with a context, in order"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_consumer_span_starts_at_call_time_even_if_never_polled() {
    let root = "messaging-call-time";
    let ((), trace) = traced(root, async {
        let message = publish("x", &mut Headers::new()).await;
        let delivery = Delivery {
            properties: Properties {
                headers: Some(message.headers),
            },
        };
        drop(process_delivery(delivery));
    })
    .await;
    child_of(&trace, "process_delivery", "send orders");
    let span = trace.span("process_delivery");
    assert!(span.events.iter().any(|e| e.name == "cancelled"));
}
