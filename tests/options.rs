//! The options of `#[traced_task]`: `name`, `kind`, `fields`, `skip`, `skip_all`, `root`,
//! `crate`, and the instrumentation scope.

use opentelemetry::Value;
use opentelemetry::trace::SpanKind;
use tracebound::traced_task;
use tracebound_tests::{attribute, traced};

#[traced_task(name = "orders.lookup", kind = client)]
async fn renamed() {}

#[traced_task(kind = "server")]
async fn server_kind() {}

#[traced_task(kind = producer)]
async fn producer_kind() {}

#[traced_task(kind = consumer)]
async fn consumer_kind() {}

#[traced_task(kind = internal)]
async fn internal_kind() {}

struct User {
    id: u64,
    email: String,
}

#[traced_task(fields(
    user.id = user.id,
    "http.route" = "/users/{id}",
    attempt,
    note = maybe_note,
    ratio = 0.5,
    admin = user.email.ends_with("@example.com"),
))]
async fn with_fields(
    user: &User,
    attempt: u32,
    maybe_note: Option<&str>,
    password: String,
) -> usize {
    // Fields borrow their arguments: the body still owns them.
    user.email.len() + password.len() + attempt as usize
}

#[traced_task(skip(password), fields(login = login))]
async fn skips_one(login: String, password: String) -> usize {
    login.len() + password.len()
}

#[traced_task(skip_all)]
async fn skips_all(login: String, password: String) -> usize {
    login.len() + password.len()
}

#[traced_task(root)]
async fn new_trace() {}

mod facade {
    // A crate that re-exports tracebound under its own path, as a framework would.
    pub use tracebound::*;
}

#[traced_task(crate = crate::facade, name = "through-facade")]
async fn through_facade() {}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn name_and_kind() {
    let ((), trace) = traced("options-name-kind", async {
        renamed().await;
        server_kind().await;
        producer_kind().await;
        consumer_kind().await;
        internal_kind().await;
    })
    .await;
    assert_eq!(trace.span("orders.lookup").span_kind, SpanKind::Client);
    assert_eq!(trace.span("server_kind").span_kind, SpanKind::Server);
    assert_eq!(trace.span("producer_kind").span_kind, SpanKind::Producer);
    assert_eq!(trace.span("consumer_kind").span_kind, SpanKind::Consumer);
    assert_eq!(trace.span("internal_kind").span_kind, SpanKind::Internal);
    assert!(trace.all("renamed").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fields_become_attributes_and_arguments_are_not_recorded() {
    let user = User {
        id: 42,
        email: "ada@example.com".into(),
    };
    let ((), trace) = traced("options-fields", async {
        assert_eq!(with_fields(&user, 2, None, "hunter2".into()).await, 24);
        with_fields(&user, 3, Some("retry"), String::new()).await;
    })
    .await;
    let spans = trace.all("with_fields");
    let first = spans[0];
    assert_eq!(attribute(first, "user.id"), Some(&Value::I64(42)));
    assert_eq!(
        attribute(first, "http.route"),
        Some(&Value::from("/users/{id}"))
    );
    assert_eq!(attribute(first, "attempt"), Some(&Value::I64(2)));
    assert_eq!(attribute(first, "note"), None, "None records nothing");
    assert_eq!(attribute(first, "ratio"), Some(&Value::F64(0.5)));
    assert_eq!(attribute(first, "admin"), Some(&Value::Bool(true)));
    assert_eq!(
        first.attributes.len(),
        5,
        "only the fields: {:?}",
        first.attributes
    );
    assert_eq!(attribute(spans[1], "note"), Some(&Value::from("retry")));
    for span in trace.spans() {
        for kv in &span.attributes {
            assert_ne!(kv.key.as_str(), "password");
            assert!(!kv.value.to_string().contains("hunter2"));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_and_skip_all_record_no_arguments() {
    let ((), trace) = traced("options-skip", async {
        skips_one("ada".into(), "secret".into()).await;
        skips_all("ada".into(), "secret".into()).await;
    })
    .await;
    let one = trace.span("skips_one");
    assert_eq!(attribute(one, "login"), Some(&Value::from("ada")));
    assert_eq!(one.attributes.len(), 1);
    assert!(trace.span("skips_all").attributes.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_starts_a_new_trace() {
    let recorder = tracebound::testing::install();
    let ((), trace) = traced("options-root", async {
        new_trace().await;
    })
    .await;
    assert!(
        trace.all("new_trace").is_empty(),
        "not in the caller's trace"
    );
    let root_trace = recorder.trace_of("new_trace");
    let span = root_trace.span("new_trace");
    assert_eq!(span.parent_span_id, opentelemetry::trace::SpanId::INVALID);
    assert_ne!(
        span.span_context.trace_id(),
        trace.span("options-root").span_context.trace_id()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crate_path_and_instrumentation_scope() {
    let ((), trace) = traced("options-crate", async {
        through_facade().await;
    })
    .await;
    let span = trace.span("through-facade");
    trace.assert_parent("through-facade", "options-crate");
    assert_eq!(span.instrumentation_scope.name(), "tracebound-tests");
    assert_eq!(
        span.instrumentation_scope.version(),
        Some(env!("CARGO_PKG_VERSION"))
    );
}
