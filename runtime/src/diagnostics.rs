//! Warnings about broken propagation, each logged once per process through `tracing` (the
//! facade OpenTelemetry's own diagnostics use), under the target `tracebound`.

use crate::carrier::Extract;
use std::sync::atomic::{AtomicBool, Ordering};

/// Header names of the formats tracebound knows, with the `OTEL_PROPAGATORS` value that reads
/// each.
const KNOWN: [(&str, &str); 5] = [
    ("traceparent", "tracecontext"),
    ("b3", "b3"),
    ("x-b3-traceid", "b3multi"),
    ("uber-trace-id", "jaeger"),
    ("baggage", "baggage"),
];

static UNREADABLE: [AtomicBool; 5] = [const { AtomicBool::new(false) }; 5];
static MALFORMED: AtomicBool = AtomicBool::new(false);
static NO_PROVIDER: AtomicBool = AtomicBool::new(false);

fn first(flag: &AtomicBool) -> bool {
    !flag.load(Ordering::Relaxed) && !flag.swap(true, Ordering::Relaxed)
}

/// A consumer found no valid context in `carrier`: say why, if the carrier shows it.
///
/// Called for every message without a context, so it does nothing once every warning was
/// given, and asks for the propagator's `fields` only when a known header is present.
pub(crate) fn no_remote_context(carrier: &dyn Extract, fields: impl FnOnce() -> Vec<String>) {
    let given = |flag: &AtomicBool| flag.load(Ordering::Relaxed);
    if UNREADABLE.iter().all(given) && given(&MALFORMED) {
        return;
    }
    let keys = carrier.keys();
    let mut fields = Some(fields);
    let mut known: Option<Vec<String>> = None;
    for (i, (header, propagator)) in KNOWN.iter().enumerate() {
        let present = keys.iter().any(|k| k.eq_ignore_ascii_case(header));
        if !present {
            continue;
        }
        let fields = known.get_or_insert_with(|| fields.take().map(|f| f()).unwrap_or_default());
        if !fields.iter().any(|f| f.eq_ignore_ascii_case(header)) {
            if first(&UNREADABLE[i]) {
                tracing::warn!(
                    target: "tracebound",
                    "a carrier holds a `{header}` header, but the configured propagator reads only \
                     [{}]; add `{propagator}` to OTEL_PROPAGATORS to continue these traces",
                    fields.join(", ")
                );
            }
        } else if *header == "traceparent" && first(&MALFORMED) {
            let value: String = carrier
                .get(header)
                .unwrap_or("(unreadable)")
                .chars()
                .take(80)
                .collect();
            tracing::warn!(
                target: "tracebound",
                "a malformed `traceparent` was dropped and the consumer started a new trace: {value:?}"
            );
        }
    }
}

/// A span was started while no tracer provider was installed; `under_span`: under a valid
/// span, which another provider made (tracing-opentelemetry's layer, given a provider that was
/// not made OpenTelemetry's global one, is the usual cause).
pub(crate) fn no_provider(under_span: bool) {
    if !first(&NO_PROVIDER) {
        return;
    }
    if under_span {
        tracing::warn!(
            target: "tracebound",
            "a traced call was made under a span from a tracer provider that is not \
             OpenTelemetry's global one (a provider given to tracing-opentelemetry's layer \
             only?), so its span is not recorded; install that provider globally too, \
             `tracebound::set_tracer_provider(provider.clone())` or \
             `opentelemetry::global::set_tracer_provider(provider.clone())`, or set everything \
             up with `tracebound::init_tracing()`"
        );
    } else {
        tracing::warn!(
            target: "tracebound",
            "spans are being started before any tracer provider is installed: they are not \
             recorded; install one (tracebound::init, or opentelemetry::global::set_tracer_provider) \
             before the first traced call"
        );
    }
}

static GUARD_HELD: AtomicBool = AtomicBool::new(false);

/// A traced body returned `Pending` with an OpenTelemetry `ContextGuard` still attached.
#[cold]
pub(crate) fn guard_held_across_await() {
    if first(&GUARD_HELD) {
        tracing::warn!(
            target: "tracebound",
            "a traced function is waiting at an `.await` with an OpenTelemetry `ContextGuard` \
             still attached: every task polled on this thread meanwhile runs in its context; \
             drop the guard before awaiting, or use `tracebound::attach`, whose tokens are \
             detached while the function waits"
        );
    }
}

#[cfg(feature = "mqtt")]
static MQTT_V311_READ: AtomicBool = AtomicBool::new(false);
#[cfg(feature = "mqtt")]
static MQTT_V311_WRITE: AtomicBool = AtomicBool::new(false);

/// A consumer read an MQTT 3.1.1 publish, which has no user properties to carry a context.
#[cfg(feature = "mqtt")]
#[cold]
pub(crate) fn mqtt_v311_read() {
    if first(&MQTT_V311_READ) {
        tracing::warn!(
            target: "tracebound",
            "an MQTT 3.1.1 publish carries no user properties, so no trace context: its consumer \
             starts a new trace; connect with MQTT 5 (rumqttc::v5) on both sides to continue \
             the producer's trace"
        );
    }
}

/// A producer wrote into an MQTT 3.1.1 publish, which cannot carry a context.
#[cfg(feature = "mqtt")]
#[cold]
pub(crate) fn mqtt_v311_write() {
    if first(&MQTT_V311_WRITE) {
        tracing::warn!(
            target: "tracebound",
            "an MQTT 3.1.1 publish has no user properties: the trace context was not sent; \
             publish with MQTT 5 (rumqttc::v5) and `PublishProperties` to send it"
        );
    }
}
