//! The test service of the W3C Trace Context test suite (`conformance/w3c-trace-context`), for
//! `tests/w3c_trace_context.rs`: an HTTP server whose `POST /test` handler continues the trace
//! in the request's headers and, for each `{"url": …, "arguments": […]}` of the JSON array it
//! receives, in order, POSTs `arguments` to `url` from a client span whose context is in that
//! request's headers.
//!
//! `cargo run -p tracebound-tests --bin w3c-service` prints `listening 127.0.0.1:PORT` as its
//! first line, then serves until its standard input closes or it is killed.

use axum::Json;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::Value;
use std::io::{Read, Write};
use tracebound::setup::{Exporter, Propagator, SamplerChoice, Setup};
use tracebound::{traced_consumer, traced_producer};

#[traced_consumer(carrier = headers, kind = server, name = "POST /test")]
async fn handle(headers: HeaderMap, Json(body): Json<Value>) -> (StatusCode, Json<Value>) {
    let Some(actions) = body.as_array() else {
        return failure(
            StatusCode::BAD_REQUEST,
            "the body is not a JSON array".into(),
        );
    };
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("a client without TLS or proxies");
    let mut errors = Vec::new();
    for action in actions {
        let Some(url) = action.get("url").and_then(Value::as_str) else {
            return failure(StatusCode::BAD_REQUEST, format!("no \"url\" in {action}"));
        };
        let arguments = action.get("arguments").unwrap_or(&Value::Null);
        if let Err(error) = call(&client, url, arguments, &mut HeaderMap::new()).await {
            errors.push(Value::from(format!("POST {url}: {}", chain(&error))));
        }
    }
    // The harness records this body; a failed callback then explains itself in its report.
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_GATEWAY
    };
    (status, Json(Value::Array(errors)))
}

#[traced_producer(carrier = headers, kind = client, name = "POST callback")]
async fn call(
    client: &reqwest::Client,
    url: &str,
    arguments: &Value,
    headers: &mut HeaderMap,
) -> Result<(), reqwest::Error> {
    client
        .post(url)
        .headers(std::mem::take(headers))
        .json(arguments)
        .send()
        .await?
        .error_for_status()?;
    Ok(())
}

/// An error and its sources, `a: b: c` (reqwest's own message names only the URL).
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}

fn failure(status: StatusCode, message: String) -> (StatusCode, Json<Value>) {
    (status, Json(Value::Array(vec![message.into()])))
}

fn main() {
    // Everything in code, nothing from the environment: the suite tests the default
    // configuration, ParentBased(AlwaysOn) and the W3C propagators.
    let _telemetry = Setup::from_env(std::iter::empty::<(String, String)>())
        .service_name("w3c-service")
        .exporter(Exporter::None)
        .sampler(SamplerChoice::ParentBasedAlwaysOn)
        .propagators([Propagator::TraceContext, Propagator::Baggage])
        .install()
        .expect("a valid configuration");

    // The test holds the other end of stdin: if it dies without killing us, we exit too.
    std::thread::spawn(|| {
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        std::process::exit(0);
    });

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a local port");
        let address = listener.local_addr().expect("the bound address");
        let mut stdout = std::io::stdout();
        writeln!(stdout, "listening {address}").expect("stdout");
        stdout.flush().expect("stdout");
        let app = axum::Router::new().route("/test", post(handle));
        axum::serve(listener, app).await.expect("the server");
    });
}
