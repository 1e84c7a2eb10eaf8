//! A provider given to tracing-opentelemetry's layer only, OpenTelemetry's global provider
//! never set: tracebound's spans cannot be recorded, and the warning says why and what to do.
//! Its own process, as the test needs no global provider.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracebound::traced_task;
use tracebound_tests::with_tracing::Lines;
use tracing::Instrument;
use tracing_subscriber::{fmt, prelude::*};

#[traced_task]
async fn handle() {}

#[test]
fn a_provider_only_in_the_tracing_layer_is_named_with_its_fix() {
    let recorder = tracebound::testing::recorder();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(recorder.processor())
        .build();
    let lines = Lines::default();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("tracing")))
        .with(tracebound::tracing::layer())
        .with(fmt::layer().with_writer(lines.clone()));
    tracing::subscriber::with_default(subscriber, || {
        futures::executor::block_on(
            async { handle().await }.instrument(tracing::info_span!("provider-only")),
        )
    });
    let names: Vec<_> = recorder
        .spans()
        .iter()
        .map(|s| s.name.to_string())
        .collect();
    assert_eq!(names, ["provider-only"], "the traced call records nothing");
    let text = lines.text();
    assert!(
        text.contains("not OpenTelemetry's global one")
            && text.contains("tracebound::set_tracer_provider(provider.clone())")
            && text.contains("tracebound::init_tracing()"),
        "{text}"
    );
}
