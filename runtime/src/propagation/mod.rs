//! Reading and writing trace context through carriers.
//!
//! [`extract`] and [`inject`] use the global propagator
//! ([`opentelemetry::global::set_text_map_propagator`]). When none was ever set, OpenTelemetry's
//! is a no-op that silently breaks every trace; tracebound then uses W3C Trace Context and
//! Baggage instead, the default of `OTEL_PROPAGATORS`.

mod b3;
mod baggage;
mod jaeger;
mod trace_context;
mod tracestate;

pub use b3::B3Propagator;
pub use baggage::BaggagePropagator;
#[cfg(feature = "setup")]
pub(crate) use baggage::decode as percent_decode;
pub use jaeger::JaegerPropagator;
pub use trace_context::TraceContextPropagator;

use crate::carrier::{AsExtractor, AsInjector, Extract, Inject};
use opentelemetry::Context;
use opentelemetry::propagation::{TextMapCompositePropagator, TextMapPropagator};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicBool, Ordering};

/// The W3C Trace Context Level 2 flag saying that a trace id's rightmost 7 bytes are random.
pub const RANDOM_TRACE_ID_FLAG: u8 = 0x02;

static RANDOM_TRACE_IDS: AtomicBool = AtomicBool::new(true);

/// Says whether the trace ids the installed tracer provider makes are random, as the
/// OpenTelemetry SDK's default id generator's are (the default here too).
///
/// OpenTelemetry's SDK sets the W3C Level 2 random flag
/// ([`RANDOM_TRACE_ID_FLAG`]) on no span: neither on the trace ids it makes nor on a span its
/// sampler drops under a parent that had it. A span tracebound starts gets the flag when its
/// trace id came from a parent that had it, or was made by the provider for a trace tracebound
/// starts and this is `true`; so the `traceparent` it sends keeps it. (A root span started with
/// the SDK directly has no flag, and its children cannot tell it from a remote parent that had
/// none.) Call it with `false` when the provider has an id generator whose ids are not random
/// (a counter, a timestamp in the low bytes).
pub fn set_random_trace_ids(random: bool) {
    RANDOM_TRACE_IDS.store(random, Ordering::Relaxed);
}

pub(crate) fn random_trace_ids() -> bool {
    RANDOM_TRACE_IDS.load(Ordering::Relaxed)
}

pub(crate) static DEFAULT: LazyLock<TextMapCompositePropagator> = LazyLock::new(|| {
    TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
    ])
});

/// W3C Trace Context followed by W3C Baggage: what tracebound uses while no global propagator
/// is set.
pub fn default_propagator() -> &'static TextMapCompositePropagator {
    &DEFAULT
}

/// Runs `f` with the global propagator, or with [`default_propagator`] if none was set.
///
/// Each thread remembers which that is, and looks again when tracebound installs a propagator
/// and after a number of uses ([`RECHECK_EVERY`](crate::inspect::RECHECK_EVERY)); a propagator
/// set with `opentelemetry::global::set_text_map_propagator` is therefore used from the next
/// call after [`refresh_provider`](crate::refresh_provider), and within that many uses on each
/// thread without it.
pub fn with_propagator<T>(f: impl FnOnce(&dyn TextMapPropagator) -> T) -> T {
    crate::globals::with_propagator(f)
}

/// The context in `carrier`, on top of the current context: the remote span context if the
/// carrier holds a valid one, and its baggage.
///
/// ```
/// use opentelemetry::trace::TraceContextExt;
/// use std::collections::HashMap;
///
/// let headers = HashMap::from([(
///     "traceparent".to_owned(),
///     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned(),
/// )]);
/// let cx = tracebound::propagation::extract(&headers);
/// assert!(cx.span().span_context().is_remote());
/// assert_eq!(cx.span().span_context().trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// ```
pub fn extract<C: Extract + ?Sized>(carrier: &C) -> Context {
    extract_with(&Context::current(), carrier)
}

/// Like [`extract`], on top of `cx` instead of the current context.
pub fn extract_with<C: Extract + ?Sized>(cx: &Context, carrier: &C) -> Context {
    with_propagator(|propagator| extract_using(propagator, cx, carrier))
}

/// Like [`extract_with`], with `propagator` instead of the configured one.
pub fn extract_using<C: Extract + ?Sized>(
    propagator: &dyn TextMapPropagator,
    cx: &Context,
    carrier: &C,
) -> Context {
    propagator.extract_with_context(cx, &AsExtractor(carrier))
}

/// Writes the current context (span context and baggage) into `carrier`.
///
/// ```
/// use opentelemetry::{Context, KeyValue, baggage::BaggageExt};
/// use std::collections::HashMap;
///
/// let _token = tracebound::attach(Context::new().with_baggage([KeyValue::new("tenant", "acme")]));
/// let mut headers = HashMap::<String, String>::new();
/// tracebound::propagation::inject(&mut headers);
/// assert_eq!(headers["baggage"], "tenant=acme");
/// ```
pub fn inject<C: Inject + ?Sized>(carrier: &mut C) {
    Context::map_current(|cx| inject_context(cx, carrier));
}

/// Writes `cx` into `carrier`.
pub fn inject_context<C: Inject + ?Sized>(cx: &Context, carrier: &mut C) {
    with_propagator(|propagator| inject_using(propagator, cx, carrier));
}

/// Like [`inject_context`], with `propagator` instead of the configured one.
pub fn inject_using<C: Inject + ?Sized>(
    propagator: &dyn TextMapPropagator,
    cx: &Context,
    carrier: &mut C,
) {
    propagator.inject_context(cx, &mut AsInjector(carrier));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// xorshift64*: deterministic noise without a dependency.
    fn noise(state: &mut u64) -> u64 {
        *state ^= *state >> 12;
        *state ^= *state << 25;
        *state ^= *state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn bytes(state: &mut u64, alphabet: &[u8]) -> Vec<u8> {
        let len = (noise(state) % 80) as usize;
        (0..len)
            .map(|_| alphabet[(noise(state) % alphabet.len() as u64) as usize])
            .collect()
    }

    #[test]
    fn random_headers_never_panic_and_never_yield_an_invalid_parent() {
        let alphabet = b"0123456789abcdefABCDEF-=,;% \t\r\n\x00\xff\xc3tracepntsgb".to_vec();
        let keys = ["traceparent", "tracestate", "baggage", "Traceparent", "x"];
        let mut state = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            let mut map: HashMap<String, Vec<u8>> = HashMap::new();
            let mut list: Vec<(String, Vec<u8>)> = Vec::new();
            for _ in 0..(noise(&mut state) % 5) {
                let key = keys[(noise(&mut state) % keys.len() as u64) as usize].to_owned();
                let mut value = bytes(&mut state, &alphabet);
                if noise(&mut state).is_multiple_of(4) {
                    value = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_vec();
                }
                map.insert(key.clone(), value.clone());
                list.push((key, value));
            }
            for cx in [
                extract_with(&Context::new(), &map),
                extract_with(&Context::new(), &list),
            ] {
                let span = opentelemetry::trace::TraceContextExt::span(&cx);
                let sc = span.span_context();
                assert!(
                    !sc.is_valid() || (sc.is_remote() && sc.trace_id().to_string().len() == 32)
                );
            }
        }
    }
}
