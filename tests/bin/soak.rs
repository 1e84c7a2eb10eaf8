//! A soak run: many traced calls on a multi-thread runtime, mixing spawns, nested spawns,
//! `select!` cancellations, timeouts, panics and blocking calls, audited span by span.
//!
//! `cargo run --release -p tracebound-tests --bin soak -- --calls 1000000`
//!
//! Every traced function records its own `key` and its logical parent's `parent_key`; an
//! auditing span processor checks, as spans end, that each span's parent span id is the span of
//! its logical parent (children always end before their parent here). Prints the figures and
//! exits non-zero if spans started ≠ spans ended, a parent is wrong, a worker or blocking thread
//! keeps a context attached, or resident memory grows more than 32 MiB after warm-up.

use opentelemetry::trace::{SpanId, TraceContextExt, Tracer, TracerProvider as _};
use opentelemetry::{Context, Value};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, Span, SpanData, SpanProcessor};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracebound::{traced_blocking, traced_task};

#[derive(Debug, Default)]
struct Audit {
    started: AtomicU64,
    ended: AtomicU64,
    mismatches: AtomicU64,
    checked: AtomicU64,
    /// Parent span ids reported by children that ended, by their parent's key.
    pending: Mutex<HashMap<i64, Vec<SpanId>>>,
}

fn int(span: &SpanData, key: &str) -> Option<i64> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .and_then(|kv| match kv.value {
            Value::I64(n) => Some(n),
            _ => None,
        })
}

#[derive(Debug)]
struct Auditor(Arc<Audit>);

impl SpanProcessor for Auditor {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {
        self.0.started.fetch_add(1, Ordering::Relaxed);
    }

    fn on_end(&self, span: SpanData) {
        let this = &self.0;
        this.ended.fetch_add(1, Ordering::Relaxed);
        let mut pending = this.pending.lock().unwrap();
        if let Some(parent_key) = int(&span, "parent_key") {
            pending
                .entry(parent_key)
                .or_default()
                .push(span.parent_span_id);
        }
        if let Some(key) = int(&span, "key")
            && let Some(children) = pending.remove(&key)
        {
            let own = span.span_context.span_id();
            let wrong = children.iter().filter(|p| **p != own).count() as u64;
            this.mismatches.fetch_add(wrong, Ordering::Relaxed);
            this.checked
                .fetch_add(children.len() as u64, Ordering::Relaxed);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

static NEXT_KEY: AtomicU64 = AtomicU64::new(1);

fn next_key() -> i64 {
    NEXT_KEY.fetch_add(1, Ordering::Relaxed) as i64
}

#[traced_task(kind = server, fields(key = key, parent_key = parent_key))]
async fn request(key: i64, parent_key: i64, n: u64) {
    // A spawned child with a nested spawn of its own.
    tokio::spawn(step(next_key(), key)).await.unwrap();
    // A race: the loser is cancelled.
    tokio::select! {
        biased;
        _ = quick(next_key(), key) => {}
        _ = slow(next_key(), key) => {}
    }
    // A timeout that always fires: the child is dropped after its first poll.
    let _ = tokio::time::timeout(Duration::ZERO, slow(next_key(), key)).await;
    if n.is_multiple_of(10) {
        crunch(next_key(), key, n).await;
    }
    if n.is_multiple_of(50) {
        let panicked = tokio::spawn(explode(next_key(), key)).await;
        assert!(panicked.is_err_and(|e| e.is_panic()));
    }
}

#[traced_task(fields(key = key, parent_key = parent_key))]
async fn step(key: i64, parent_key: i64) {
    tokio::task::yield_now().await;
    tokio::spawn(quick(next_key(), key)).await.unwrap();
}

#[traced_task(fields(key = key, parent_key = parent_key))]
async fn quick(key: i64, parent_key: i64) {}

#[traced_task(fields(key = key, parent_key = parent_key))]
async fn slow(key: i64, parent_key: i64) {
    for _ in 0..3 {
        tokio::task::yield_now().await;
    }
}

#[traced_blocking(fields(key = key, parent_key = parent_key))]
fn crunch(key: i64, parent_key: i64, n: u64) -> u64 {
    (0..100).fold(n, |a, b| a.wrapping_mul(31).wrapping_add(b))
}

#[traced_task(fields(key = key, parent_key = parent_key))]
async fn explode(key: i64, parent_key: i64) {
    panic!("planned panic in the soak");
}

/// Traced calls per request: request, step, its quick child, quick, slow, slow (timeout), and
/// on average 0.1 crunch and 0.02 explode.
const CALLS_PER_REQUEST: f64 = 6.12;

fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn span_attached() -> bool {
    Context::map_current(|cx| cx.has_active_span())
}

fn main() {
    let calls: f64 = std::env::args()
        .skip_while(|a| a != "--calls")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000.0);
    let requests = (calls / CALLS_PER_REQUEST).ceil() as u64;
    std::panic::set_hook(Box::new(|_| {})); // the planned panics would flood stderr

    let audit = Arc::new(Audit::default());
    let provider = SdkTracerProvider::builder()
        .with_span_processor(Auditor(audit.clone()))
        .build();
    opentelemetry::global::set_tracer_provider(provider.clone());
    tracebound::refresh_provider();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(4)
        .enable_all()
        .build()
        .unwrap();
    let started_at = Instant::now();
    let root_key = next_key();
    let mut warm_rss = 0;
    runtime.block_on(async {
        let root = provider.tracer("soak").start("soak-root");
        let cx = Context::current_with_span(root);
        let _root = tracebound::attach(cx.clone());
        // The root's key, so that requests can be checked against it too.
        cx.span()
            .set_attribute(opentelemetry::KeyValue::new("key", root_key));
        let mut in_flight = tokio::task::JoinSet::new();
        for n in 0..requests {
            if n == requests / 10 {
                warm_rss = resident_bytes();
            }
            while in_flight.len() >= 256 {
                in_flight.join_next().await.unwrap().unwrap();
            }
            in_flight.spawn(request(next_key(), root_key, n));
        }
        while let Some(done) = in_flight.join_next().await {
            done.unwrap();
        }
        cx.span().end();
    });
    let elapsed = started_at.elapsed();

    // Probe every worker and blocking thread for a context left attached.
    let leaks = runtime.block_on(async {
        let mut leaks = 0;
        for _ in 0..512 {
            leaks += u64::from(tokio::spawn(async { span_attached() }).await.unwrap());
        }
        let probes: Vec<_> = (0..64)
            .map(|_| tokio::task::spawn_blocking(span_attached))
            .collect();
        for probe in probes {
            leaks += u64::from(probe.await.unwrap());
        }
        leaks
    });
    let end_rss = resident_bytes();
    let started = audit.started.load(Ordering::Relaxed);
    let ended = audit.ended.load(Ordering::Relaxed);
    let mismatches = audit.mismatches.load(Ordering::Relaxed);
    let checked = audit.checked.load(Ordering::Relaxed);
    let unresolved: usize = audit.pending.lock().unwrap().values().map(Vec::len).sum();
    let growth = end_rss as i64 - warm_rss as i64;
    println!("requests:              {requests}");
    println!("traced calls:          {}", started - 1);
    println!(
        "elapsed:               {:.1} s ({:.0} calls/s)",
        elapsed.as_secs_f64(),
        started as f64 / elapsed.as_secs_f64()
    );
    println!("spans started / ended: {started} / {ended}");
    println!("parents checked:       {checked}");
    println!("parent mismatches:     {mismatches}");
    println!("unresolved parents:    {unresolved}");
    println!("contexts left attached on worker or blocking threads: {leaks}");
    println!(
        "resident memory:       {:.1} MiB after warm-up, {:.1} MiB at the end ({:+.1} MiB)",
        warm_rss as f64 / 1048576.0,
        end_rss as f64 / 1048576.0,
        growth as f64 / 1048576.0
    );
    let ok = started == ended
        && mismatches == 0
        && unresolved == 0
        && leaks == 0
        && growth < 32 << 20
        && checked + 1 == started;
    println!("{}", if ok { "soak: ok" } else { "soak: FAILED" });
    std::process::exit(if ok { 0 } else { 1 });
}
