//! Every environment variable `tracebound::init()` reads, each invalid value's error, and the
//! guard that flushes a batch processor at exit (in a child process, counting its spans).

use opentelemetry::Value;
use std::time::Duration;
use tracebound::setup::{Batch, Exporter, Propagator, SamplerChoice, Setup, SetupError};

fn resolve(vars: &[(&str, &str)]) -> Result<tracebound::setup::Resolved, SetupError> {
    Setup::from_env(vars.iter().copied()).resolve()
}

fn error(vars: &[(&str, &str)]) -> SetupError {
    resolve(vars).expect_err("the configuration is rejected")
}

fn resource_value(resolved: &tracebound::setup::Resolved, key: &str) -> Option<Value> {
    resolved
        .resource
        .iter()
        .find(|(k, _)| k.as_str() == key)
        .map(|(_, v)| v.clone())
}

#[test]
fn defaults() {
    let resolved = resolve(&[]).unwrap();
    assert_eq!(
        resolved.exporter,
        Exporter::Otlp,
        "the otlp feature is on in these tests"
    );
    assert_eq!(
        resolved.propagators,
        [Propagator::TraceContext, Propagator::Baggage]
    );
    assert_eq!(resolved.sampler, SamplerChoice::ParentBasedAlwaysOn);
    assert_eq!(
        resolved.batch,
        Batch {
            schedule_delay: Duration::from_millis(5000),
            max_queue_size: 2048,
            max_export_batch_size: 512,
            export_timeout: Duration::from_millis(30000),
        }
    );
    assert_eq!(
        resource_value(&resolved, "service.name"),
        Some(Value::from("unknown_service"))
    );
}

#[test]
fn service_name_and_resource_attributes() {
    let resolved = resolve(&[
        ("OTEL_SERVICE_NAME", "checkout"),
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            "deployment.environment=prod, team=pay%20ments,service.name=ignored",
        ),
    ])
    .unwrap();
    assert_eq!(
        resource_value(&resolved, "service.name"),
        Some(Value::from("checkout"))
    );
    assert_eq!(
        resource_value(&resolved, "deployment.environment"),
        Some(Value::from("prod"))
    );
    assert_eq!(
        resource_value(&resolved, "team"),
        Some(Value::from("pay ments"))
    );
    let from_attributes = resolve(&[("OTEL_RESOURCE_ATTRIBUTES", "service.name=billing")]).unwrap();
    assert_eq!(
        resource_value(&from_attributes, "service.name"),
        Some(Value::from("billing"))
    );
    let err = error(&[("OTEL_RESOURCE_ATTRIBUTES", "a=1,broken")]);
    assert_eq!(err.variable, "OTEL_RESOURCE_ATTRIBUTES");
    assert_eq!(
        error(&[("OTEL_RESOURCE_ATTRIBUTES", "a=%ZZ")]).variable,
        "OTEL_RESOURCE_ATTRIBUTES"
    );
}

#[test]
fn exporters() {
    assert_eq!(
        resolve(&[("OTEL_TRACES_EXPORTER", "console")])
            .unwrap()
            .exporter,
        Exporter::Console
    );
    assert_eq!(
        resolve(&[("OTEL_TRACES_EXPORTER", "none")])
            .unwrap()
            .exporter,
        Exporter::None
    );
    assert_eq!(
        resolve(&[("OTEL_TRACES_EXPORTER", "otlp")])
            .unwrap()
            .exporter,
        Exporter::Otlp
    );
    let err = error(&[("OTEL_TRACES_EXPORTER", "jaeger")]);
    assert_eq!(err.variable, "OTEL_TRACES_EXPORTER");
    assert_eq!(err.value, "jaeger");
    assert!(
        err.to_string().contains("`otlp`, `console`, `none`"),
        "{err}"
    );
}

#[test]
fn propagators() {
    let list = |v| resolve(&[("OTEL_PROPAGATORS", v)]).unwrap().propagators;
    assert_eq!(list("b3"), [Propagator::B3]);
    assert_eq!(
        list("b3multi, jaeger,tracecontext"),
        [
            Propagator::B3Multi,
            Propagator::Jaeger,
            Propagator::TraceContext
        ]
    );
    assert_eq!(list("baggage,baggage"), [Propagator::Baggage]);
    assert_eq!(list("none"), []);
    assert_eq!(list("tracecontext,none"), []);
    let err = error(&[("OTEL_PROPAGATORS", "tracecontext,xray")]);
    assert_eq!(
        (err.variable.as_str(), err.value.as_str()),
        ("OTEL_PROPAGATORS", "xray")
    );
    assert!(err.accepted.contains("b3multi"));
}

#[test]
fn samplers() {
    let sampler = |name, arg: Option<&str>| {
        let mut vars = vec![("OTEL_TRACES_SAMPLER", name)];
        vars.extend(arg.map(|a| ("OTEL_TRACES_SAMPLER_ARG", a)));
        resolve(&vars)
    };
    assert_eq!(
        sampler("always_on", None).unwrap().sampler,
        SamplerChoice::AlwaysOn
    );
    assert_eq!(
        sampler("always_off", None).unwrap().sampler,
        SamplerChoice::AlwaysOff
    );
    assert_eq!(
        sampler("traceidratio", Some("0.25")).unwrap().sampler,
        SamplerChoice::TraceIdRatio(0.25)
    );
    assert_eq!(
        sampler("traceidratio", None).unwrap().sampler,
        SamplerChoice::TraceIdRatio(1.0)
    );
    assert_eq!(
        sampler("parentbased_always_off", None).unwrap().sampler,
        SamplerChoice::ParentBasedAlwaysOff
    );
    assert_eq!(
        sampler("parentbased_traceidratio", Some("0"))
            .unwrap()
            .sampler,
        SamplerChoice::ParentBasedTraceIdRatio(0.0)
    );
    for bad in ["1.5", "-0.1", "half", "NaN"] {
        let err = sampler("traceidratio", Some(bad)).expect_err(bad);
        assert_eq!(err.variable, "OTEL_TRACES_SAMPLER_ARG");
    }
    assert_eq!(
        sampler("jaeger_remote", None).unwrap_err().variable,
        "OTEL_TRACES_SAMPLER"
    );
}

#[test]
fn batch_processor_settings() {
    let batch = resolve(&[
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "64"),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "32"),
        ("OTEL_BSP_EXPORT_TIMEOUT", "1000"),
    ])
    .unwrap()
    .batch;
    assert_eq!(batch.schedule_delay, Duration::from_millis(100));
    assert_eq!(
        (batch.max_queue_size, batch.max_export_batch_size),
        (64, 32)
    );
    assert_eq!(batch.export_timeout, Duration::from_millis(1000));
    assert_eq!(
        error(&[("OTEL_BSP_SCHEDULE_DELAY", "soon")]).variable,
        "OTEL_BSP_SCHEDULE_DELAY"
    );
    assert_eq!(
        error(&[("OTEL_BSP_MAX_QUEUE_SIZE", "0")]).variable,
        "OTEL_BSP_MAX_QUEUE_SIZE"
    );
    assert_eq!(
        error(&[("OTEL_BSP_EXPORT_TIMEOUT", "-1")]).variable,
        "OTEL_BSP_EXPORT_TIMEOUT"
    );
    let err = error(&[
        ("OTEL_BSP_MAX_QUEUE_SIZE", "10"),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "11"),
    ]);
    assert_eq!(err.variable, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE");
}

#[test]
fn code_wins_over_the_environment_only_where_set() {
    let resolved = Setup::from_env([
        ("OTEL_TRACES_EXPORTER", "console"),
        ("OTEL_SERVICE_NAME", "env-name"),
        ("OTEL_PROPAGATORS", "b3"),
    ])
    .exporter(Exporter::None)
    .sampler(SamplerChoice::AlwaysOff)
    .resolve()
    .unwrap();
    assert_eq!(resolved.exporter, Exporter::None);
    assert_eq!(resolved.sampler, SamplerChoice::AlwaysOff);
    assert_eq!(
        resolved.propagators,
        [Propagator::B3],
        "not set in code: from the environment"
    );
    assert_eq!(
        resource_value(&resolved, "service.name"),
        Some(Value::from("env-name"))
    );
    let batch = Batch {
        schedule_delay: Duration::from_millis(10),
        max_queue_size: 8,
        max_export_batch_size: 4,
        export_timeout: Duration::from_millis(100),
    };
    let resolved = Setup::from_env([
        ("OTEL_BSP_SCHEDULE_DELAY", "oops"),
        ("OTEL_RESOURCE_ATTRIBUTES", "team=a,region=eu"),
    ])
    .batch(batch)
    .resource_attribute(opentelemetry::KeyValue::new("team", "b"))
    .resolve()
    .unwrap();
    assert_eq!(resolved.batch, batch);
    assert_eq!(resource_value(&resolved, "team"), Some(Value::from("b")));
    assert_eq!(resource_value(&resolved, "region"), Some(Value::from("eu")));
    // Code-set values skip the environment's checks too: an invalid variable it overrides is fine.
    let ok = Setup::from_env([("OTEL_TRACES_EXPORTER", "bogus")])
        .exporter(Exporter::Console)
        .resolve();
    assert!(ok.is_ok());
}

#[test]
fn the_guard_flushes_every_span_of_a_batch_processor_at_exit() {
    const SPANS: usize = 300;
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_batch-child"))
        .env("OTEL_TRACES_EXPORTER", "console")
        .env("OTEL_BSP_SCHEDULE_DELAY", "600000") // no timed export: only the guard flushes
        .env("OTEL_BSP_MAX_QUEUE_SIZE", "4096")
        .env("CHILD_SPANS", SPANS.to_string())
        .output()
        .expect("the child runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = stdout.lines().filter(|l| l.starts_with("span ")).collect();
    assert_eq!(
        lines.len(),
        SPANS + 1,
        "every span, and the root, exported at exit"
    );
    let root = lines
        .iter()
        .find(|l| l.contains("\"batch-root\""))
        .expect("the root span");
    let root_id = root
        .split(" span=")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .unwrap();
    let children = lines
        .iter()
        .filter(|l| l.contains(&format!("parent={root_id}")))
        .count();
    assert_eq!(
        children, SPANS,
        "console lines show each span's parent span id"
    );
}

#[test]
fn a_batch_set_in_code_is_checked_like_the_environment() {
    let batch = |max_queue_size, max_export_batch_size, export_timeout| Batch {
        schedule_delay: Duration::from_millis(10),
        max_queue_size,
        max_export_batch_size,
        export_timeout,
    };
    for (wrong, field) in [
        (batch(0, 1, Duration::from_secs(1)), "Batch::max_queue_size"),
        (
            batch(4, 8, Duration::from_secs(1)),
            "Batch::max_export_batch_size",
        ),
        (
            batch(4, 0, Duration::from_secs(1)),
            "Batch::max_export_batch_size",
        ),
        (batch(4, 2, Duration::ZERO), "Batch::export_timeout"),
    ] {
        let err = Setup::from_env::<&str, &str>([])
            .exporter(Exporter::None)
            .batch(wrong)
            .install()
            .expect_err("an inconsistent batch");
        assert_eq!(err.variable, field);
    }
    assert_eq!(
        error(&[("OTEL_BSP_EXPORT_TIMEOUT", "0")]).variable,
        "OTEL_BSP_EXPORT_TIMEOUT"
    );
}

#[test]
fn a_setup_error_debugs_as_its_message() {
    let err = error(&[("OTEL_TRACES_EXPORTER", "carrier-pigeon")]);
    // What `fn main() -> Result<(), SetupError>` prints.
    assert_eq!(format!("{err:?}"), err.to_string());
    assert!(
        err.to_string()
            .starts_with("OTEL_TRACES_EXPORTER=\"carrier-pigeon\"")
    );
}

/// Counts the batches the console exporter writes: it flushes once per export.
#[derive(Clone, Default)]
struct Batches(std::sync::Arc<std::sync::Mutex<(usize, String)>>);

impl std::io::Write for Batches {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap()
            .1
            .push_str(&String::from_utf8_lossy(bytes));
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.lock().unwrap().0 += 1;
        Ok(())
    }
}

#[test]
fn the_installed_batch_processor_uses_the_resolved_batch_size() {
    use opentelemetry::trace::{Tracer as _, TracerProvider as _};
    let output = Batches::default();
    let guard = Setup::from_env([
        ("OTEL_TRACES_EXPORTER", "console"),
        ("OTEL_BSP_SCHEDULE_DELAY", "3600000"),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "2"),
    ])
    .console_output(output.clone())
    .install()
    .expect("a valid configuration");
    // The installed provider itself, not the global one other tests of this binary replace.
    let tracer = guard.provider().tracer("batch-size");
    for _ in 0..5 {
        tracer.start("batched");
    }
    guard.flush();
    let (batches, text) = output.0.lock().unwrap().clone();
    assert_eq!(
        text.lines().filter(|l| l.contains("\"batched\"")).count(),
        5
    );
    assert_eq!(batches, 3, "5 spans in batches of at most 2:\n{text}");
}
