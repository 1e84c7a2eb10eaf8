//! `tracebound::init_tracing` (through `Setup::install_tracing`): the provider, the propagator
//! and a global subscriber in one call, refused when a subscriber is set already. One test, as
//! the global subscriber can be set once per process.

use opentelemetry::trace::{Status, TraceContextExt};
use tracebound::setup::Setup;
use tracebound::testing;
use tracebound::traced_task;
use tracebound::tracing::InitError;
use tracebound_tests::event_attribute;
use tracing::Instrument;

#[traced_task]
async fn work() -> bool {
    tracing::info!("inside the traced call");
    log::info!("from the log crate");
    opentelemetry::Context::map_current(|cx| cx.span().span_context().is_sampled())
}

fn setup(rust_log: &str) -> Setup {
    Setup::from_env([("OTEL_TRACES_EXPORTER", "none"), ("RUST_LOG", rust_log)])
        .span_processor(testing::recorder().processor())
}

#[test]
fn installs_one_subscriber_on_the_provider_and_refuses_a_second() {
    let refused = setup("tracebound=loudest").install_tracing().unwrap_err();
    assert!(matches!(refused, InitError::Filter { .. }), "{refused}");
    assert!(
        refused
            .to_string()
            .contains("RUST_LOG=\"tracebound=loudest\"")
    );
    assert!(
        !tracing::dispatcher::has_been_set(),
        "an invalid RUST_LOG installs nothing"
    );

    // Log lines at `warn` only: spans and events at `info` still go to the trace.
    let guard = setup("warn").install_tracing().expect("installed");
    let sampled = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let span = tracing::info_span!("init-request");
            async { tokio::spawn(work()).await.unwrap() }
                .instrument(span)
                .await
        });
    assert!(sampled);
    guard.flush();
    let trace = testing::recorder().trace_of("init-request");
    trace.assert_single_trace();
    trace.assert_parent("work", "init-request");
    let work = trace.span("work");
    let named = |name: &str| work.events.iter().filter(|e| e.name == name).count();
    assert_eq!(named("inside the traced call"), 1, "{:?}", work.events);
    assert_eq!(
        named("from the log crate"),
        1,
        "a record of the log crate, as an event"
    );
    let from_log = work
        .events
        .iter()
        .find(|e| e.name == "from the log crate")
        .unwrap();
    let attr = |key: &str| event_attribute(from_log, key).map(|v| v.to_string());
    assert_eq!(attr("target").as_deref(), Some("tracing_init"));
    assert_eq!(attr("code.module.name").as_deref(), Some("tracing_init"));
    assert!(attr("code.file.path").is_some_and(|f| f.ends_with("tracing_init.rs")));
    assert!(
        attr("log.target").is_none(),
        "log.* fields are not attributes"
    );
    assert_eq!(work.status, Status::Unset);

    let again = setup("info").install_tracing().unwrap_err();
    assert_eq!(again, InitError::SubscriberSet);
    let message = again.to_string();
    assert!(message.contains("already set"), "{message}");
    assert!(
        message.contains("tracebound::tracing::layer()"),
        "{message}"
    );
    drop(guard);
}
