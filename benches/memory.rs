//! Bytes retained per in-flight traced future: the future's own size plus what it keeps on the
//! heap while suspended, for the same trivial body written bare, with `#[traced_task]`, and
//! with OpenTelemetry by hand; the SDK's span is in both traced rows. Counted with a global
//! allocator that tracks live bytes, over 10,000 futures created and polled once (each waits
//! on a channel), then completed.
//!
//! `cargo bench -p tracebound-benches --bench memory`

#[path = "variants.rs"]
mod variants;

use opentelemetry::trace::{FutureExt, TraceContextExt, Tracer, TracerProvider as _};
use opentelemetry::{Context, global};
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::alloc::{GlobalAlloc, Layout, System};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::task::{Context as TaskContext, Waker};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const FUTURES: usize = 10_000;

async fn bare(wait: tokio::sync::oneshot::Receiver<()>) {
    let _ = wait.await;
}

#[tracebound::traced_task]
async fn traced(wait: tokio::sync::oneshot::Receiver<()>) {
    let _ = wait.await;
}

static TRACER: std::sync::LazyLock<global::BoxedTracer> =
    std::sync::LazyLock::new(|| global::tracer("memory"));

fn hand_written(wait: tokio::sync::oneshot::Receiver<()>) -> impl Future<Output = ()> {
    let cx = Context::current();
    let span = TRACER.start_with_context("hand_written", &cx);
    async move {
        let _ = wait.await;
    }
    .with_context(cx.with_span(span))
}

/// Live heap bytes per suspended future, and the future's own size.
fn measure<F: Future>(make: impl Fn(tokio::sync::oneshot::Receiver<()>) -> F) -> (isize, usize) {
    let mut task = TaskContext::from_waker(Waker::noop());
    let mut senders = Vec::with_capacity(FUTURES);
    let mut futures: Vec<Pin<Box<F>>> = Vec::with_capacity(FUTURES);
    let before = LIVE.load(Ordering::Relaxed);
    for _ in 0..FUTURES {
        let (send, wait) = tokio::sync::oneshot::channel();
        senders.push(send);
        let mut future = Box::pin(make(wait));
        assert!(future.as_mut().poll(&mut task).is_pending());
        futures.push(future);
    }
    let heap = (LIVE.load(Ordering::Relaxed) - before) / FUTURES as isize;
    let size = std::mem::size_of::<F>();
    for (send, mut future) in senders.into_iter().zip(futures) {
        let _ = send.send(());
        assert!(future.as_mut().poll(&mut task).is_ready());
    }
    (heap, size)
}

fn main() {
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(variants::Discard)
        .build();
    tracebound::set_tracer_provider(provider.clone());
    let sampled = Context::current_with_span(provider.tracer("memory").start("parent"));
    // Warm the per-thread tracer cache and the SDK's lazy statics before counting.
    let _ = measure(traced);
    let _ = measure(hand_written);

    let rows = {
        let _parent = tracebound::attach(sampled.clone());
        let bare = measure(bare);
        let traced_sdk = measure(traced);
        let hand = measure(hand_written);
        global::set_tracer_provider(provider.clone());
        tracebound::refresh_provider();
        let traced_global = measure(traced);
        tracebound::set_tracer_provider(provider.clone());
        drop(_parent);
        let _parent = tracebound::attach(variants::parent(false));
        let traced_unsampled = measure(traced);
        let hand_unsampled = measure(hand_written);
        [
            ("bare async fn", bare),
            ("#[traced_task]", traced_sdk),
            (
                "#[traced_task], provider set with global::set_tracer_provider",
                traced_global,
            ),
            ("OpenTelemetry by hand", hand),
            ("#[traced_task], unsampled parent", traced_unsampled),
            ("OpenTelemetry by hand, unsampled parent", hand_unsampled),
        ]
    };
    let (bare_heap, bare_size) = rows[0].1;
    println!(
        "| variant | future size | heap per suspended future (incl. the oneshot) | total | beyond bare |"
    );
    println!("|---|---|---|---|---|");
    for (name, (heap, size)) in rows {
        let total = heap + size as isize;
        let beyond = total - (bare_heap + bare_size as isize);
        println!("| {name} | {size} B | {heap} B | {total} B | {beyond} B |");
    }
}
