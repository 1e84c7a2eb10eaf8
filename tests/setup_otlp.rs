//! `OTEL_TRACES_EXPORTER=otlp` exports to the endpoint in `OTEL_EXPORTER_OTLP_ENDPOINT`: here a
//! local HTTP server started by the test, which receives the spans (http/json, so the test can
//! read them). Installing replaces the global provider, which `work` reads: the tests that
//! install take turns.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;
use tracebound::setup::Setup;
use tracebound::traced_task;
use tracebound_tests::exclusive;

#[traced_task(name = "exported-over-otlp")]
async fn work() {}

/// Accepts HTTP requests until one arrives, answering 200; sends back path and body.
fn serve_once(listener: TcpListener, found: mpsc::Sender<(String, String)>) {
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut request_line = String::new();
        reader.read_line(&mut request_line).unwrap();
        let path = request_line
            .split(' ')
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        let mut length = 0;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header).unwrap();
            if header.trim().is_empty() {
                break;
            }
            if let Some(value) = header.to_ascii_lowercase().strip_prefix("content-length:") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let reply = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}";
        stream.write_all(reply.as_bytes()).unwrap();
        let _ = found.send((path, String::from_utf8_lossy(&body).into_owned()));
    }
}

#[test]
fn spans_reach_a_local_otlp_endpoint() {
    let _turn = exclusive();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let (found, received) = mpsc::channel();
    std::thread::spawn(move || serve_once(listener, found));

    let guard = Setup::from_env([
        ("OTEL_TRACES_EXPORTER", "otlp"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ("OTEL_SERVICE_NAME", "otlp-test"),
    ])
    .install()
    .expect("a valid configuration");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(work());
    drop(guard); // flushes the batch processor

    let (path, body) = received
        .recv_timeout(Duration::from_secs(20))
        .expect("an OTLP request");
    assert_eq!(path, "/v1/traces");
    assert!(body.contains("exported-over-otlp"), "{body}");
    assert!(
        body.contains("otlp-test"),
        "the service name travels in the resource: {body}"
    );
}

#[test]
fn an_unsupported_protocol_is_an_error() {
    let err = Setup::from_env([
        ("OTEL_TRACES_EXPORTER", "otlp"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
    ])
    .install()
    .expect_err("grpc is not built in");
    assert_eq!(err.variable, "OTEL_EXPORTER_OTLP_PROTOCOL");
}

/// Accepts connections and never answers.
fn hang(listener: TcpListener) {
    let mut open = Vec::new();
    for stream in listener.incoming().flatten() {
        open.push(stream);
    }
}

#[test]
fn the_batch_export_timeout_bounds_each_otlp_export() {
    use opentelemetry::trace::{Tracer as _, TracerProvider as _};
    let _turn = exclusive();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || hang(listener));
    let guard = Setup::from_env([
        ("OTEL_TRACES_EXPORTER", "otlp"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_BSP_EXPORT_TIMEOUT", "300"),
    ])
    .install()
    .expect("a valid configuration");
    guard.provider().tracer("export-timeout").start("waits");
    let started = std::time::Instant::now();
    let flushed = guard.provider().force_flush();
    // Unbounded, the export would wait for OTLP's 10 s default, and the flush would give up
    // at the batch processor's own 5 s.
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the export was not bounded: {flushed:?} after {:?}",
        started.elapsed()
    );
    assert!(flushed.is_err(), "nothing answered, yet: {flushed:?}");
}
