//! The official W3C Trace Context test suite (`conformance/w3c-trace-context`, vendored
//! unmodified) against `w3c-service`, an HTTP service written with tracebound's macros, at
//! `SPEC_LEVEL=2 STRICT_LEVEL=2`: every test of the suite must run and pass. Then W3C Baggage
//! and more `tracestate` cases, from the specifications' text, over HTTP to the same service.
//!
//! The suite needs Python with aiohttp: `python3` if it imports aiohttp, else a virtual
//! environment made once in `target/w3c-venv` with aiohttp from PyPI. Not being able to make
//! it fails the test, saying why.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Pinned; PyPI has its wheels for CPython 3.11, so installing it builds nothing.
const AIOHTTP: &str = "3.13.5";
const HARNESS_TIMEOUT: Duration = Duration::from_secs(120);

#[test]
fn the_w3c_trace_context_suite_passes_against_a_traced_http_service() {
    let started = Instant::now();
    let suite = workspace().join("conformance/w3c-trace-context");
    let expected = test_names(&suite.join("test.py"));
    let python = python_with_aiohttp();
    let service = Service::start();
    let run = run_harness(&python, &suite, service.port);
    let service_log = service.stop();
    let report = Report::parse(&run.stderr);

    let not_passed: Vec<_> = report
        .results
        .iter()
        .filter(|r| r.outcome != "ok")
        .collect();
    let missing: Vec<_> = expected
        .iter()
        .filter(|name| !report.results.iter().any(|r| r.method() == name.as_str()))
        .collect();
    let mut summary = format!(
        "W3C Trace Context suite: {} tests in test.py, {} ran, {} passed ({:.1} s)\n",
        expected.len(),
        report.ran.map_or("none".into(), |n| n.to_string()),
        report.results.len() - not_passed.len(),
        started.elapsed().as_secs_f64(),
    );
    for result in &not_passed {
        let reason = report.reasons.get(&result.name).map_or("", String::as_str);
        summary += &format!("  {:<8} {}: {reason}\n", result.outcome, result.name);
    }
    for name in &missing {
        summary += &format!(
            "  {:<8} {name}: no result in the harness output\n",
            "MISSING"
        );
    }
    let passed = not_passed.is_empty()
        && missing.is_empty()
        && report.results.len() == expected.len()
        && report.ran == Some(expected.len())
        && run.status.success();
    if passed {
        println!("{summary}");
    }
    assert!(
        passed,
        "{summary}harness exit status: {}\n\n--- harness stderr ---\n{}\n--- harness stdout ---\n{}\n\
         --- w3c-service output ---\n{service_log}",
        run.status, run.stderr, run.stdout,
    );
}

/// One case sent to the service: request headers, and what the callback it makes must carry
/// (`None`: no such header).
struct Forwarded {
    section: &'static str,
    sent: Vec<(&'static str, String)>,
    baggage: Option<String>,
    tracestate: Option<String>,
}

/// W3C Baggage and `tracestate` cases over HTTP: each request goes to the service, which calls
/// back a local server from its client span; what the callback carries is what the service
/// forwards. The cases come from the specifications' text (sections in each case).
#[test]
fn baggage_and_tracestate_are_forwarded_over_http_as_the_specifications_say() {
    const PARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let tp = |extra: Vec<(&'static str, String)>| {
        let mut headers = vec![("traceparent", PARENT.to_owned())];
        headers.extend(extra);
        headers
    };
    let sixty_five: Vec<String> = (0..65).map(|i| format!("k{i:02}=v")).collect();
    let sixty_four = sixty_five[..64].join(",");
    // Members of 1000 bytes: 8 fit in 8192 (with commas), the 9th does not.
    let big: Vec<String> = (0..9)
        .map(|i| format!("b{i}={}", "x".repeat(997)))
        .collect();
    let cases = vec![
        Forwarded {
            section: "Baggage § Definition: OWS around keys, values and properties",
            sent: tp(vec![(
                "baggage",
                " userId = alice ; ttl = 30 ,\tregion=eu\t".into(),
            )]),
            baggage: Some("region=eu,userId=alice;ttl=30".into()),
            tracestate: None,
        },
        Forwarded {
            section: "Baggage § value: percent-decoded in, percent-encoded out",
            sent: tp(vec![("baggage", "name=Am%C3%A9lie%20D,plain=a%2Cb".into())]),
            baggage: Some("name=Am%C3%A9lie%20D,plain=a%2Cb".into()),
            tracestate: None,
        },
        Forwarded {
            section: "Baggage § property: properties kept",
            sent: tp(vec![("baggage", "k=v;flag;p=q".into())]),
            baggage: Some("k=v;flag;p=q".into()),
            tracestate: None,
        },
        Forwarded {
            section: "Baggage § Limits: a malformed member is skipped, the rest kept",
            sent: tp(vec![(
                "baggage",
                "good=1,bad key=2,no-equals,also=%zz,fine=3".into(),
            )]),
            baggage: Some("fine=3,good=1".into()),
            tracestate: None,
        },
        Forwarded {
            section: "Baggage § Limits: at least 64 members, never a partial one",
            sent: tp(vec![("baggage", sixty_five.join(","))]),
            baggage: Some(sixty_four),
            tracestate: None,
        },
        Forwarded {
            section: "Baggage § Limits: at least 8192 bytes, whole members",
            sent: tp(vec![("baggage", big[..8].join(","))]),
            baggage: Some(big[..8].join(",")),
            tracestate: None,
        },
        Forwarded {
            section: "Baggage: repeated header fields combined",
            sent: tp(vec![("baggage", "a=1".into()), ("baggage", "b=2".into())]),
            baggage: Some("a=1,b=2".into()),
            tracestate: None,
        },
        Forwarded {
            section: "Baggage without a traceparent still travels",
            sent: vec![("baggage", "tenant=acme".into())],
            baggage: Some("tenant=acme".into()),
            tracestate: None,
        },
        Forwarded {
            section: "Trace Context § tracestate: valid keys OpenTelemetry refuses, kept in place",
            sent: tp(vec![(
                "tracestate",
                "a=1,foo@@bar=2,t@vvvvvvvvvvvvvvv=3".into(),
            )]),
            baggage: None,
            tracestate: Some("a=1,foo@@bar=2,t@vvvvvvvvvvvvvvv=3".into()),
        },
        Forwarded {
            section: "Trace Context § tracestate: an empty value discards the whole list",
            sent: tp(vec![("tracestate", "foo=,bar=3".into())]),
            baggage: None,
            tracestate: None,
        },
        Forwarded {
            section: "Trace Context § tracestate: 33 members over two fields discard it",
            sent: tp(vec![
                (
                    "tracestate",
                    (1..=20)
                        .map(|i| format!("k{i}=v"))
                        .collect::<Vec<_>>()
                        .join(","),
                ),
                (
                    "tracestate",
                    (21..=33)
                        .map(|i| format!("k{i}=v"))
                        .collect::<Vec<_>>()
                        .join(","),
                ),
            ]),
            baggage: None,
            tracestate: None,
        },
    ];
    let service = Service::start();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let failures = runtime.block_on(async {
        let (sink, mut received) = tokio::sync::mpsc::unbounded_channel::<axum::http::HeaderMap>();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let callback = format!("http://{}/callback", listener.local_addr().unwrap());
        let app = axum::Router::new().route(
            "/callback",
            axum::routing::post(move |headers: axum::http::HeaderMap| {
                let sink = sink.clone();
                async move {
                    let _ = sink.send(headers);
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let mut failures = Vec::new();
        for case in &cases {
            let mut request = client
                .post(format!("http://127.0.0.1:{}/test", service.port))
                .json(&serde_json::json!([{ "url": callback, "arguments": [] }]));
            for (name, value) in &case.sent {
                request = request.header(*name, value);
            }
            let response = request.send().await.expect("the service answers");
            assert!(
                response.status().is_success(),
                "{}: {}",
                case.section,
                response.status()
            );
            let headers = tokio::time::timeout(Duration::from_secs(10), received.recv())
                .await
                .expect("the service calls back")
                .unwrap();
            let one = |name: &str| {
                let values: Vec<String> = headers
                    .get_all(name)
                    .iter()
                    .map(|v| v.to_str().unwrap().to_owned())
                    .collect();
                assert!(
                    values.len() <= 1,
                    "{}: {name} sent {} times",
                    case.section,
                    values.len()
                );
                values.into_iter().next()
            };
            let sorted = |value: Option<String>| {
                value.map(|v| {
                    let mut members: Vec<&str> = v.split(',').collect();
                    members.sort_unstable();
                    members.join(",")
                })
            };
            // OpenTelemetry's baggage keeps no order: members are compared sorted.
            let baggage = sorted(one("baggage"));
            if baggage != sorted(case.baggage.clone()) {
                failures.push(format!(
                    "{}: baggage {baggage:?}, expected {:?}",
                    case.section, case.baggage
                ));
            }
            let tracestate = one("tracestate");
            if tracestate != case.tracestate {
                failures.push(format!(
                    "{}: tracestate {tracestate:?}, expected {:?}",
                    case.section, case.tracestate
                ));
            }
            assert!(
                one("traceparent").is_some(),
                "{}: a traceparent is sent",
                case.section
            );
        }
        failures
    });
    assert!(
        failures.is_empty(),
        "{}\n{}",
        failures.join("\n"),
        service.stop()
    );
}

#[test]
fn unittest_output_is_read_test_by_test() {
    let stderr = "\
test_a (__main__.T.test_a)
doc of a ... ok
test_b (__main__.T.test_b) ... FAIL
test_c (__main__.U)
doc of c ...
Exception in handler
ERROR
test_d (__main__.U.test_d) ... skipped 'strict'

======================================================================
FAIL: test_b (__main__.T.test_b)
----------------------------------------------------------------------
Traceback (most recent call last):
  File \"test.py\", line 1, in test_b
AssertionError: '1' != '2' : your service
said more

======================================================================
ERROR: test_c (__main__.U)
doc of c
----------------------------------------------------------------------
Traceback (most recent call last):
  File \"client.py\", line 2, in send_request
ConnectionRefusedError: [Errno 111] Connection refused

----------------------------------------------------------------------
Ran 4 tests in 0.1s

FAILED (failures=1, errors=1, skipped=1)
";
    let report = Report::parse(stderr);
    let results: Vec<_> = report
        .results
        .iter()
        .map(|r| format!("{} {}", r.name, r.outcome))
        .collect();
    assert_eq!(
        results,
        [
            "T.test_a ok",
            "T.test_b FAIL",
            "U.test_c ERROR",
            "U.test_d skipped 'strict'"
        ]
    );
    assert_eq!(report.ran, Some(4));
    assert_eq!(
        report.reasons["T.test_b"],
        "AssertionError: '1' != '2' : your service"
    );
    assert_eq!(
        report.reasons["U.test_c"],
        "ConnectionRefusedError: [Errno 111] Connection refused"
    );
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is in the workspace")
        .to_path_buf()
}

/// The `def test_…` methods of the suite, in order: what must run.
fn test_names(test_py: &Path) -> Vec<String> {
    let source = std::fs::read_to_string(test_py)
        .unwrap_or_else(|e| panic!("reading {}: {e}", test_py.display()));
    let names: Vec<String> = source
        .lines()
        .filter_map(|line| line.trim_start().strip_prefix("def "))
        .filter(|def| def.starts_with("test_"))
        .map(|def| def.split('(').next().unwrap_or(def).trim().to_owned())
        .collect();
    assert!(!names.is_empty(), "no test in {}", test_py.display());
    names
}

// --- Python ------------------------------------------------------------------------------------

/// `python3` if it has aiohttp, else the venv's interpreter, made on first use.
fn python_with_aiohttp() -> PathBuf {
    let system = PathBuf::from("python3");
    if imports_aiohttp(&system, None) {
        return system;
    }
    let target = workspace().join("target");
    let venv = target.join("w3c-venv");
    let python = venv.join(if cfg!(windows) {
        "Scripts/python.exe"
    } else {
        "bin/python"
    });
    std::fs::create_dir_all(&target).expect("creating target/");
    // Two test runs at once must not build the venv over each other.
    let lock = File::create(target.join("w3c-venv.lock")).expect("creating target/w3c-venv.lock");
    lock.lock().expect("locking target/w3c-venv.lock");
    if imports_aiohttp(&python, Some(AIOHTTP)) {
        return python;
    }
    let venv_arg = venv.to_str().expect("a UTF-8 target path");
    setup_step(&system, &["-m", "venv", "--clear", venv_arg]);
    setup_step(
        &python,
        &[
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
            "--only-binary",
            ":all:",
            &format!("aiohttp=={AIOHTTP}"),
        ],
    );
    assert!(
        imports_aiohttp(&python, Some(AIOHTTP)),
        "{} cannot import aiohttp {AIOHTTP} after installing it",
        python.display()
    );
    python
}

fn imports_aiohttp(python: &Path, version: Option<&str>) -> bool {
    let check = match version {
        Some(v) => format!("import aiohttp, sys; sys.exit(aiohttp.__version__ != {v:?})"),
        None => "import aiohttp".into(),
    };
    Command::new(python)
        .args(["-c", &check])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn setup_step(program: &Path, args: &[&str]) {
    let command = format!("{} {}", program.display(), args.join(" "));
    let why = "the W3C Trace Context suite needs python3 with the venv module and pip, and \
               PyPI to install aiohttp into target/w3c-venv";
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{command}`: {e}\n{why}"));
    assert!(
        output.status.success(),
        "`{command}` failed ({}):\n{}{}\n{why}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
}

// --- The service -------------------------------------------------------------------------------

/// The running `w3c-service`; killed when dropped, so also when the test panics.
struct Service {
    child: Child,
    port: u16,
    output: Option<JoinHandle<String>>,
}

impl Service {
    fn start() -> Service {
        let mut child = Command::new(env!("CARGO_BIN_EXE_w3c-service"))
            // It exits when stdin closes: it cannot outlive this process, even killed.
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting w3c-service");
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let (first_line, port_line) = mpsc::channel();
        let output = std::thread::spawn(move || {
            let mut stdout = BufReader::new(stdout);
            let mut line = String::new();
            let _ = stdout.read_line(&mut line);
            let _ = first_line.send(line.clone());
            let _ = stdout.read_to_string(&mut line);
            line + &drain(stderr).join().unwrap_or_default()
        });
        let mut service = Service {
            child,
            port: 0,
            output: Some(output),
        };
        let line = port_line
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_default();
        match line
            .trim()
            .strip_prefix("listening 127.0.0.1:")
            .and_then(|port| port.parse().ok())
        {
            Some(port) => service.port = port,
            None => panic!(
                "w3c-service did not print `listening 127.0.0.1:PORT` within 30 s:\n{line}{}",
                service.stop()
            ),
        }
        service
    }

    /// Kills the service and returns what it printed.
    fn stop(mut self) -> String {
        self.kill();
        self.output
            .take()
            .and_then(|output| output.join().ok())
            .unwrap_or_default()
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill();
    }
}

fn drain(mut pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

// --- The harness -------------------------------------------------------------------------------

struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// Kills the harness if the test panics while it runs.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run_harness(python: &Path, suite: &Path, service_port: u16) -> Run {
    let harness_port = free_port().to_string();
    let mut child = KillOnDrop(
        Command::new(python)
            .arg("test.py")
            .arg(format!("http://127.0.0.1:{service_port}/test"))
            .current_dir(suite)
            .env("SPEC_LEVEL", "2")
            .env("STRICT_LEVEL", "2")
            .env("HARNESS_HOST", "127.0.0.1")
            .env("HARNESS_PORT", &harness_port)
            .env("HARNESS_BIND_PORT", &harness_port)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("running {} test.py: {e}", python.display())),
    );
    let stdout = drain(child.0.stdout.take().expect("piped stdout"));
    let stderr = drain(child.0.stderr.take().expect("piped stderr"));
    let deadline = Instant::now() + HARNESS_TIMEOUT;
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("waiting for the harness") {
            break Some(status);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    drop(child);
    let (stdout, stderr) = (stdout.join().unwrap(), stderr.join().unwrap());
    let Some(status) = status else {
        panic!(
            "the W3C harness did not finish within {HARNESS_TIMEOUT:?} and was killed\n\
             --- harness stderr ---\n{stderr}\n--- harness stdout ---\n{stdout}"
        );
    };
    Run {
        status,
        stdout,
        stderr,
    }
}

/// A port nothing listens on now, for the harness's callback server.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free local port")
        .port()
}

// --- unittest's output -------------------------------------------------------------------------

/// What `unittest.TextTestRunner(verbosity = 2)` wrote on stderr.
#[derive(Default)]
struct Report {
    /// One per test line, in order.
    results: Vec<TestResult>,
    /// The `Ran N tests` count.
    ran: Option<usize>,
    /// `Class.test_name` → the last exception line of its FAIL/ERROR traceback.
    reasons: BTreeMap<String, String>,
}

struct TestResult {
    /// `Class.test_name`.
    name: String,
    /// `ok`, `FAIL`, `ERROR`, `skipped '…'`, `expected failure`, `unexpected success`.
    outcome: String,
}

impl TestResult {
    fn method(&self) -> &str {
        self.name.rsplit('.').next().unwrap_or(&self.name)
    }
}

const OUTCOMES: [&str; 6] = [
    "ok",
    "FAIL",
    "ERROR",
    "skipped",
    "expected failure",
    "unexpected success",
];

impl Report {
    // A test's lines: `test_x (__main__.Class.test_x)` (`(__main__.Class)` before Python 3.11),
    // its docstring's first line if it has one, then ` ... ok`, on one line when it has none
    // (a log line may come between ` ... ` and the outcome). After the run, each FAIL and ERROR
    // is detailed under `FAIL: test_x (…)`; its traceback ends with the exception's line.
    fn parse(stderr: &str) -> Report {
        let mut report = Report::default();
        let mut current: Option<String> = None;
        let mut awaiting_outcome = false;
        let mut detail: Option<String> = None;
        let mut in_traceback = false;
        for line in stderr.lines() {
            if let Some(name) = test_header(line) {
                current = Some(name);
            }
            if let Some((_, tail)) = line.rsplit_once(" ... ") {
                awaiting_outcome = !record(&mut report, &mut current, tail);
            } else if line.ends_with(" ...") {
                awaiting_outcome = true;
            } else if awaiting_outcome && record(&mut report, &mut current, line) {
                awaiting_outcome = false;
            } else if let Some(ran) = line.strip_prefix("Ran ") {
                report.ran = ran.split(' ').next().and_then(|n| n.parse().ok());
            } else if let Some(header) = line
                .strip_prefix("FAIL: ")
                .or_else(|| line.strip_prefix("ERROR: "))
            {
                detail = test_header(header).or_else(|| Some(header.trim().to_owned()));
                in_traceback = false;
            } else if line.starts_with("Traceback ") {
                in_traceback = true;
            } else if let Some(name) = &detail
                && in_traceback
                && is_exception_line(line)
            {
                report.reasons.insert(name.clone(), line.trim().to_owned());
                in_traceback = false;
            }
        }
        report
    }
}

/// Records `text` as the current test's outcome if it is one.
fn record(report: &mut Report, current: &mut Option<String>, text: &str) -> bool {
    let text = text.trim();
    let is_outcome = OUTCOMES
        .iter()
        .any(|o| text == *o || (*o == "skipped" && text.starts_with("skipped ")));
    if !is_outcome {
        return false;
    }
    let name = current.take().unwrap_or_else(|| "(unnamed test)".into());
    report.results.push(TestResult {
        name,
        outcome: text.to_owned(),
    });
    true
}

/// `test_x (__main__.Class.test_x)` or `test_x (__main__.Class)` → `Class.test_x`.
fn test_header(line: &str) -> Option<String> {
    let (method, rest) = line.split_once(" (")?;
    let path = rest.split_once(')')?.0;
    if !method.starts_with("test_") || method.contains(char::is_whitespace) {
        return None;
    }
    let path = path
        .strip_suffix(method)
        .and_then(|p| p.strip_suffix('.'))
        .unwrap_or(path);
    let class = path.rsplit('.').next().unwrap_or(path);
    Some(format!("{class}.{method}"))
}

/// `AssertionError: …`, `KeyError: 'x'`, `ConnectionRefusedError`: the line naming the
/// exception at the end of a traceback (of a chain, the last traceback's wins).
fn is_exception_line(line: &str) -> bool {
    let name = line.split(':').next().unwrap_or(line);
    !line.starts_with(char::is_whitespace)
        && !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '.')
        && ["Error", "Exception", "Failure", "Timeout"]
            .iter()
            .any(|suffix| name.ends_with(suffix))
}
