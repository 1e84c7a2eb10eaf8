//! HTTP round trips over loopback, with and without instrumentation, in interleaved rounds.
//!
//! `cargo bench -p tracebound-benches --bench http`: a minimal axum server (`GET
//! /orders/{id}` answering the id) per variant, served by hyper, called by a hyper client, one
//! request at a time over a kept-alive loopback connection, all on one current-thread runtime:
//! a round trip then costs what its code and system calls cost, without the cross-core thread
//! wake-ups that make a two-runtime measurement vary by several times from run to run. Each round times a batch of requests of every variant, in an order that rotates
//! from round to round, and divides each variant's time by the uninstrumented one's *in the same
//! round*; the median of those ratios (with its quartiles) is printed, with the median time per
//! request and the overhead over the uninstrumented round trip.
//!
//! Every request carries a sampled `traceparent`, so every server span is sampled and continues
//! it; every variant reads it with the same global propagator (the SDK's W3C trace context and
//! baggage) and reports to the same SDK provider (simple processor, discarding exporter).
//!
//! - `plain`: no instrumentation.
//! - `floor_server`: the least a server span costs: extract, start a SERVER span without
//!   attributes, end it with the response (a hand-written layer, not a product).
//! - `tracebound_server`: `tracebound::tower::ServerLayer`.
//! - `otel_tower_server`: `opentelemetry-instrumentation-tower`'s layer, metrics off (the same
//!   job: a SERVER span with the HTTP conventions and the route, continued from the headers).
//! - `tracelayer_otel_server`: tower-http's `TraceLayer` making a tracing span continued from
//!   the headers (`tracebound::tracing::server_span`, what a hand-written `make_span_with` does)
//!   and recording the response, with tracing-opentelemetry's layer as the subscriber.
//! - `tracebound_both`: `ServerLayer` on the server and `ClientLayer` on the client, the client
//!   span (child of a sampled local span) injected instead of the fixed `traceparent`.

#[path = "variants.rs"]
mod variants;

use axum::extract::Path;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use opentelemetry::Context;
use opentelemetry::trace::{FutureExt, TraceContextExt, Tracer as _};
use std::future::Future;
use std::hint::black_box;
use std::net::SocketAddr;
use std::time::Instant;
use tower::{Layer, Service, ServiceExt};
use tracing_subscriber::layer::SubscriberExt;

const ROUNDS: usize = 1000;
const BATCH: u64 = 20;
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// The least any server instrumentation does: extract, start a SERVER span with no attribute,
/// end it when the response is ready. Not a product: the floor the others stand on.
#[derive(Clone)]
struct Floor<S>(S);

impl<S, B> Service<http::Request<B>> for Floor<S>
where
    S: Service<http::Request<B>> + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = std::pin::Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let parent = tracebound::propagation::extract(request.headers());
        let span = variants::SDK_TRACER.build_with_context(
            opentelemetry::trace::SpanBuilder::from_name("GET")
                .with_kind(opentelemetry::trace::SpanKind::Server),
            &parent,
        );
        let cx = parent.with_span(span);
        let future = self.0.call(request);
        Box::pin(async move {
            let response = future.with_context(cx.clone()).await;
            cx.span().end();
            response
        })
    }
}

async fn order(Path(id): Path<u64>) -> String {
    id.to_string()
}

fn app() -> axum::Router {
    axum::Router::new().route("/orders/{id}", axum::routing::get(order))
}

/// Serves `app` on the bench's thread: one task per connection, each under `dispatch` as its
/// `tracing` subscriber if given (no other variant pays for a subscriber).
async fn serve(app: axum::Router, dispatch: Option<tracing::Dispatch>) -> SocketAddr {
    use tracing::instrument::WithSubscriber;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.expect("a connection");
            tcp.set_nodelay(true).unwrap();
            let service = hyper_util::service::TowerToHyperService::new(app.clone());
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(tcp), service);
            match &dispatch {
                Some(dispatch) => tokio::spawn(connection.with_subscriber(dispatch.clone())),
                None => tokio::spawn(connection),
            };
        }
    });
    address
}

type Plain = Client<HttpConnector, Empty<Bytes>>;

fn request(address: SocketAddr, id: u64, traceparent: bool) -> http::Request<Empty<Bytes>> {
    let mut request = http::Request::get(format!("http://{address}/orders/{id}"));
    if traceparent {
        request = request.header("traceparent", TRACEPARENT);
    }
    request.body(Empty::new()).unwrap()
}

/// `BATCH` requests to `address`, each read to its end.
async fn batch<S, B>(client: &mut S, address: SocketAddr, traceparent: bool)
where
    S: Service<http::Request<Empty<Bytes>>, Response = http::Response<B>>,
    S::Error: std::fmt::Debug,
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    for id in 0..BATCH {
        let response = client
            .ready()
            .await
            .unwrap()
            .call(request(address, id, traceparent))
            .await
            .unwrap();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        black_box(body);
    }
}

fn quartiles(mut values: Vec<f64>) -> [f64; 3] {
    values.sort_by(f64::total_cmp);
    let at = |q: usize| values[(values.len() - 1) * q / 4];
    [at(1), at(2), at(3)]
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    variants::install();
    // The propagator every variant reads the headers with: W3C trace context and baggage, the
    // SDK's, as an application sets it (OpenTelemetry's default global one reads nothing).
    opentelemetry::global::set_text_map_propagator(
        opentelemetry::propagation::TextMapCompositePropagator::new(vec![
            Box::new(opentelemetry_sdk::propagation::TraceContextPropagator::new()),
            Box::new(opentelemetry_sdk::propagation::BaggagePropagator::new()),
        ]),
    );
    tracebound::refresh_provider();
    let provider = &*variants::PROVIDER;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _entered = runtime.enter();

    let otel_tower = opentelemetry_instrumentation_tower::http::server::LayerBuilder::builder()
        .with_metrics(false)
        .build()
        .unwrap();
    let trace_layer = tower_http::trace::TraceLayer::new_for_http()
        .make_span_with(|request: &http::Request<_>| {
            let route = request
                .extensions()
                .get::<axum::extract::MatchedPath>()
                .map(axum::extract::MatchedPath::as_str);
            tracebound::tracing::server_span(request, route)
        })
        .on_request(())
        .on_response(tracebound::tracing::server_response)
        .on_eos(())
        .on_failure(());
    use opentelemetry::trace::TracerProvider as _;
    let dispatch = tracing::Dispatch::new(
        tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("tracing"))),
    );
    let apps = [
        app(),
        app().layer(tower::layer::layer_fn(Floor)),
        app().layer(tracebound::tower::ServerLayer::new()),
        app().layer(otel_tower),
        app().layer(trace_layer),
    ];
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("direct") {
        // `http direct <variant> <requests>`: the variant's router called in process, without
        // the network, for callgrind to count what the layer itself costs.
        let variant = [
            "plain",
            "floor_server",
            "tracebound_server",
            "otel_tower_server",
            "tracelayer_otel_server",
        ]
        .iter()
        .position(|n| *n == args[1])
        .expect("a server variant");
        let requests: u64 = args[2].parse().expect("a number of requests");
        let mut router = apps[variant].clone();
        let _default = (variant == 4).then(|| tracing::dispatcher::set_default(&dispatch));
        runtime.block_on(async {
            for id in 0..requests {
                // As a server receives it: the path alone, the host in its header.
                let request = http::Request::get(format!("/orders/{id}"))
                    .header("host", "127.0.0.1:3000")
                    .header("traceparent", TRACEPARENT)
                    .body(axum::body::Body::empty())
                    .unwrap();
                let response = ServiceExt::<http::Request<axum::body::Body>>::ready(&mut router)
                    .await
                    .unwrap()
                    .call(request)
                    .await
                    .unwrap();
                black_box(response.into_body().collect().await.unwrap());
            }
        });
        return;
    }
    let [plain, floor, tracebound, otel_tower, trace_layer] = {
        let [a, b, c, d, e] = apps;
        let dispatch = dispatch.clone();
        runtime.block_on(async move {
            [
                serve(a, None).await,
                serve(b, None).await,
                serve(c, None).await,
                serve(d, None).await,
                serve(e, Some(dispatch)).await,
            ]
        })
    };

    let client: Plain = Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
    let mut plain_client = client.clone();
    let mut traced_client = tracebound::tower::ClientLayer::new().layer(client);
    let parent = Context::current_with_span(variants::SDK_TRACER.start("client parent"));

    let names = [
        "plain",
        "floor_server",
        "tracebound_server",
        "otel_tower_server",
        "tracelayer_otel_server",
        "tracebound_both",
    ];
    let n = names.len();
    // `http count <variant> <batches>`: that variant alone, for callgrind to count.
    let count = (args.first().map(String::as_str) == Some("count")).then(|| {
        let variant = names.iter().position(|n| *n == args[1]).expect("a variant");
        (
            variant,
            args[2].parse::<usize>().expect("a number of batches"),
        )
    });
    let mut times = vec![Vec::with_capacity(ROUNDS); n];
    runtime.block_on(async {
        let mut run = async |i: usize| match i {
            0 => batch(&mut plain_client, plain, true).await,
            1 => batch(&mut plain_client, floor, true).await,
            2 => batch(&mut plain_client, tracebound, true).await,
            3 => batch(&mut plain_client, otel_tower, true).await,
            4 => batch(&mut plain_client, trace_layer, true).await,
            _ => {
                batch(&mut traced_client, tracebound, false)
                    .with_context(parent.clone())
                    .await
            }
        };
        if let Some((variant, batches)) = count {
            for _ in 0..batches {
                run(variant).await;
            }
            return;
        }
        // Warm up: connections, lazily built statics, the per-thread tracers.
        for i in 0..n {
            for _ in 0..5 {
                run(i).await;
            }
        }
        for round in 0..ROUNDS {
            for k in 0..n {
                let i = (round + k) % n;
                let start = Instant::now();
                run(i).await;
                times[i].push(start.elapsed().as_nanos() as f64 / BATCH as f64);
            }
        }
    });
    if count.is_some() {
        return;
    }
    let base = quartiles(times[0].clone())[1];
    println!("variant                  ratio to plain [q1 - q3]     ns/request   overhead (ns)");
    for i in 0..n {
        let ratio = quartiles(times[i].iter().zip(&times[0]).map(|(a, b)| a / b).collect());
        let ns = quartiles(times[i].clone())[1];
        println!(
            "{:<24} {:.3} [{:.3} - {:.3}]   {:>10.0}   {:>+10.0}",
            names[i],
            ratio[1],
            ratio[0],
            ratio[2],
            ns,
            ns - base
        );
    }
    let _ = provider.force_flush();
}
