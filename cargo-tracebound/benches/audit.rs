//! Time and memory to audit a generated 50,000-line crate: `cargo bench -p cargo-tracebound`.
//! Prints the median of several runs and the process's peak resident memory.

use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const MODULES: usize = 100;
const FNS_PER_MODULE: usize = 14;

/// One module: traced and plain fns, spawns of each kind, a consumer loop, a command, a macro.
fn module(m: usize) -> String {
    let mut s = String::from(
        "use std::process::Command;\nuse std::thread;\n\nuse tokio::task::{self, JoinSet};\nuse tracebound::traced_task;\n\n",
    );
    for f in 0..FNS_PER_MODULE {
        let _ = write!(
            s,
            r#"
#[traced_task]
pub async fn traced_{m}_{f}(n: u64) -> u64 {{
    let doubled = n * 2;
    let label = format!("order {{}}", doubled);
    println!("{{label}}");
    doubled + 1
}}

pub async fn plain_{m}_{f}(n: u64) -> u64 {{
    let items: Vec<u64> = (0..n).map(|i| i * 3).filter(|i| i % 2 == 0).collect();
    items.iter().sum()
}}

pub fn blocking_{m}_{f}(n: u64) -> u64 {{
    (0..n).fold(0, |acc, i| acc ^ i)
}}

pub async fn boundaries_{m}_{f}(n: u64) {{
    let first = tokio::spawn(traced_{m}_{f}(n));
    let second = tokio::spawn(plain_{m}_{f}(n));
    let third = task::spawn_blocking(move || blocking_{m}_{f}(n));
    let mut set = JoinSet::new();
    set.spawn(tracebound::carry(plain_{m}_{f}(n + 1)));
    set.spawn(async move {{ plain_{m}_{f}(n + 2).await }});
    let worker = thread::spawn(move || blocking_{m}_{f}(n));
    let mut command = Command::new("true");
    tracebound::env::inject_into(&mut command);
    let _ = command.status();
    assert!(first.await.is_ok());
    let _ = (second.await, third.await, worker.join());
    while let Some(done) = set.join_next().await {{
        if let Ok(value) = done {{
            println!("{{value}}");
        }}
    }}
}}
"#
        );
    }
    s
}

fn generate(dir: &Path) -> usize {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        "[package]\nname = \"generated\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\n[workspace]\n",
    )
    .unwrap();
    let mut lib = String::new();
    let mut lines = 0;
    for m in 0..MODULES {
        let _ = writeln!(lib, "pub mod m{m};");
        let text = module(m);
        lines += text.lines().count();
        std::fs::write(dir.join(format!("src/m{m}.rs")), text).unwrap();
    }
    lines += lib.lines().count();
    std::fs::write(dir.join("src/lib.rs"), lib).unwrap();
    lines
}

/// Peak resident memory of this process, from /proc (Linux).
fn peak_rss() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    Some(line["VmHWM:".len()..].trim().to_string())
}

fn main() {
    let dir: PathBuf = std::env::temp_dir().join("tracebound-audit-bench");
    let lines = generate(&dir);
    let options = cargo_tracebound::Options {
        manifest_path: Some(dir.join("Cargo.toml")),
        packages: Vec::new(),
    };
    let mut times: Vec<Duration> = Vec::new();
    let mut audit = None;
    let mut first_peak = None;
    for _ in 0..7 {
        let start = Instant::now();
        audit = Some(cargo_tracebound::audit(&options).expect("the generated crate"));
        times.push(start.elapsed());
        // proc-macro2 keeps each parsed file's text for span locations, per thread: later
        // runs on this thread add to the first one's memory.
        first_peak.get_or_insert_with(peak_rss);
    }
    times.sort();
    let audit = audit.unwrap();
    assert_eq!(audit.lines, lines);
    assert!(audit.complete());
    println!(
        "audit of a generated crate: {} files, {} lines, {} boundaries ({} lost)",
        audit.files,
        audit.lines,
        audit.findings.len(),
        audit.count(cargo_tracebound::Verdict::Lost),
    );
    println!(
        "time: median {:.3} s, min {:.3} s, max {:.3} s over {} runs (cargo metadata included)",
        times[times.len() / 2].as_secs_f64(),
        times[0].as_secs_f64(),
        times[times.len() - 1].as_secs_f64(),
        times.len()
    );
    let na = || "n/a".to_string();
    println!(
        "peak resident memory: {} after one audit, {} after all",
        first_peak.flatten().unwrap_or_else(na),
        peak_rss().unwrap_or_else(na)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
