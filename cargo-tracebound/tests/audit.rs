//! The audit on planted fixtures: every boundary found with the verdict its `// expect:` comment
//! names, nothing else reported; the formats, `--deny`, and files it cannot read.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cargo_tracebound::{Audit, Options, Verdict, audit, report};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn run(manifest: &Path, packages: &[&str]) -> Audit {
    audit(&Options {
        manifest_path: Some(manifest.to_path_buf()),
        packages: packages.iter().map(|p| p.to_string()).collect(),
    })
    .expect("the fixture has a manifest")
}

/// (file, line, verdict, kind, allowed)
type Row = (String, usize, String, String, bool);

/// Every `// expect: <verdict> <kind> [(allowed)]` under `dir`, with file names relative to
/// `root`.
fn expectations(root: &Path, dir: &Path) -> BTreeSet<Row> {
    let mut rows = BTreeSet::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let name = path
                .strip_prefix(root)
                .unwrap()
                .to_str()
                .unwrap()
                .replace('\\', "/");
            let text = std::fs::read_to_string(&path).unwrap();
            for (i, line) in text.lines().enumerate() {
                let Some((_, expected)) = line.split_once("// expect: ") else {
                    continue;
                };
                let (verdict, kind) = expected.trim().split_once(' ').unwrap();
                let (kind, allowed) = match kind.strip_suffix(" (allowed)") {
                    Some(kind) => (kind, true),
                    None => (kind, false),
                };
                assert!(
                    Verdict::parse(verdict).is_some(),
                    "{name}:{}: {verdict}",
                    i + 1
                );
                rows.insert((name.clone(), i + 1, verdict.into(), kind.into(), allowed));
            }
        }
    }
    rows
}

fn rows(audit: &Audit) -> BTreeSet<Row> {
    audit
        .findings
        .iter()
        .map(|f| {
            (
                f.file.clone(),
                f.line,
                f.verdict.as_str().to_string(),
                f.kind.to_string(),
                f.allowed.is_some(),
            )
        })
        .collect()
}

/// Fails listing what was expected and not found, and what was found and not expected.
fn assert_same(found: &BTreeSet<Row>, expected: &BTreeSet<Row>) {
    let missing: Vec<_> = expected.difference(found).collect();
    let unexpected: Vec<_> = found.difference(expected).collect();
    assert!(
        missing.is_empty() && unexpected.is_empty(),
        "expected and not reported:\n{missing:#?}\nreported and not expected:\n{unexpected:#?}"
    );
}

#[test]
fn every_planted_boundary_has_its_expected_verdict() {
    let root = fixture("planted");
    let audit = run(&root.join("Cargo.toml"), &[]);
    let expected = expectations(&root, &root);
    assert!(
        expected.len() > 100,
        "{} planted boundaries",
        expected.len()
    );
    assert_same(&rows(&audit), &expected);
    assert!(audit.complete(), "{:?}", audit.problems);
    // Every kind of verdict is planted, and each one that is not carried says how to fix it.
    for verdict in [Verdict::Carried, Verdict::Lost, Verdict::Unknown] {
        assert!(audit.findings.iter().any(|f| f.verdict == verdict));
    }
    for f in &audit.findings {
        assert!(!f.reason.is_empty(), "{f:?}");
        assert_eq!(f.fix.is_empty(), f.verdict == Verdict::Carried, "{f:?}");
    }
}

#[test]
fn a_selected_package_is_reported_with_the_whole_workspace_known() {
    let root = fixture("planted");
    let audit = run(&root.join("Cargo.toml"), &["app"]);
    let expected = expectations(&root, &root.join("app"));
    assert_same(&rows(&audit), &expected);
    // `helpers` is not reported, but its traced fn is known to `app`.
    assert!(audit.findings.iter().all(|f| f.file.starts_with("app/")));
    assert!(audit.findings.iter().any(|f| {
        f.verdict == Verdict::Carried && f.reason.contains("`remote_traced` is #[traced_task]")
    }));

    let unknown = cargo_tracebound::audit(&Options {
        manifest_path: Some(root.join("Cargo.toml")),
        packages: vec!["nope".into()],
    });
    let message = unknown.unwrap_err().to_string();
    assert!(message.contains("`nope` is not a member"), "{message}");
    assert!(message.contains("app"), "{message}");
}

#[test]
fn suppressions_are_counted_and_only_for_the_verdicts_they_name() {
    let root = fixture("planted");
    let audit = run(&root.join("Cargo.toml"), &["app"]);
    let allowed: Vec<_> = audit
        .findings
        .iter()
        .filter_map(|f| f.allowed.as_deref())
        .collect();
    assert_eq!(
        allowed,
        [
            "a formatted chain, allowed from above its first line",
            "each connection starts its own trace from its request's headers",
            "a background refresh, a trace of its own",
            "every caller passes a #[traced_task] future",
        ]
    );
    assert_eq!(audit.allowed(), 4);
    let summary = report::summary(&audit);
    assert!(summary.contains("4 allowed by a comment"), "{summary}");
}

#[test]
fn json_has_one_object_per_boundary() {
    let root = fixture("planted");
    let audit = run(&root.join("Cargo.toml"), &["app"]);
    let json: serde_json::Value = serde_json::from_str(&report::json(&audit)).unwrap();
    let boundaries = json["boundaries"].as_array().unwrap();
    assert_eq!(boundaries.len(), audit.findings.len());
    for (b, f) in boundaries.iter().zip(&audit.findings) {
        assert_eq!(b["file"], f.file.as_str());
        assert_eq!(b["line"], f.line);
        assert_eq!(b["column"], f.column);
        assert_eq!(b["kind"], f.kind);
        assert_eq!(b["verdict"], f.verdict.as_str());
        assert_eq!(b["reason"], f.reason.as_str());
        assert_eq!(b["fix"], f.fix.as_str());
    }
    assert_eq!(json["summary"]["lost"], audit.count(Verdict::Lost));
    assert_eq!(json["summary"]["complete"], true);
}

#[test]
fn sarif_is_2_1_0_with_a_result_per_lost_or_unknown_boundary() {
    let root = fixture("planted");
    let audit = run(&root.join("Cargo.toml"), &["app"]);
    let sarif: serde_json::Value = serde_json::from_str(&report::sarif(&audit)).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let run = &sarif["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "cargo-tracebound");
    let rules: Vec<_> = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["tracebound/lost", "tracebound/unknown"]);
    let results = run["results"].as_array().unwrap();
    let not_carried: Vec<_> = audit
        .findings
        .iter()
        .filter(|f| f.verdict != Verdict::Carried)
        .collect();
    assert_eq!(results.len(), not_carried.len());
    for (r, f) in results.iter().zip(not_carried) {
        assert_eq!(r["ruleId"], format!("tracebound/{}", f.verdict));
        let level = if f.verdict == Verdict::Lost {
            "error"
        } else {
            "warning"
        };
        assert_eq!(r["level"], level);
        let location = &r["locations"][0]["physicalLocation"];
        assert_eq!(location["artifactLocation"]["uri"], f.file.as_str());
        assert_eq!(location["artifactLocation"]["uriBaseId"], "SRCROOT");
        assert_eq!(location["region"]["startLine"], f.line);
        assert_eq!(location["region"]["startColumn"], f.column);
        assert_eq!(r["suppressions"].is_array(), f.allowed.is_some());
    }
    assert_eq!(run["invocations"][0]["executionSuccessful"], true);
}

fn cargo_tracebound(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cargo-tracebound"))
        .arg("tracebound")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn deny_lost_fails_the_command_and_the_table_reads_by_file() {
    let manifest = fixture("planted").join("Cargo.toml");
    let manifest = manifest.to_str().unwrap();
    let ok = cargo_tracebound(&["audit", "--manifest-path", manifest, "-p", "helpers"]);
    assert_eq!(ok.status.code(), Some(0), "{ok:?}");
    let table = String::from_utf8(ok.stdout).unwrap();
    assert!(table.starts_with("helpers/src/lib.rs\n"), "{table}");
    assert!(table.contains("tokio::spawn"), "{table}");
    assert!(table.contains("LOST"), "{table}");
    assert!(
        table.contains("fix: annotate fn `remote_plain` with #[traced_task]"),
        "{table}"
    );
    assert!(
        table.ends_with("1 boundary: 0 carried, 1 lost, 0 unknown; 1 file, 19 lines\n"),
        "{table}"
    );

    let denied = cargo_tracebound(&["audit", "--manifest-path", manifest, "--deny", "lost"]);
    assert_eq!(denied.status.code(), Some(1), "{denied:?}");
    let json = cargo_tracebound(&[
        "audit",
        "--manifest-path",
        manifest,
        "--format",
        "json",
        "-p",
        "app",
        "--deny",
        "unknown",
    ]);
    assert_eq!(json.status.code(), Some(1));
    serde_json::from_slice::<serde_json::Value>(&json.stdout).expect("stdout is only JSON");
    assert!(String::from_utf8_lossy(&json.stderr).contains("boundaries:"));

    let missing = cargo_tracebound(&["audit", "--manifest-path", "/nonexistent/Cargo.toml"]);
    assert_eq!(missing.status.code(), Some(2), "{missing:?}");
    assert!(String::from_utf8_lossy(&missing.stderr).starts_with("error: cargo metadata failed"));
}

/// The broken fixture in a scratch directory, with a file whose name is not UTF-8 added.
fn broken_copy() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tracebound-audit-broken-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    let from = fixture("broken");
    std::fs::copy(from.join("Cargo.toml"), dir.join("Cargo.toml")).unwrap();
    std::fs::create_dir_all(dir.join("templates")).unwrap();
    std::fs::copy(
        from.join("templates/method.rs"),
        dir.join("templates/method.rs"),
    )
    .unwrap();
    for entry in std::fs::read_dir(from.join("src")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.join("src").join(entry.file_name())).unwrap();
    }
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let name = std::ffi::OsStr::from_bytes(b"caf\xe9.rs");
        std::fs::write(dir.join("src").join(name), "pub fn f() {}\n").unwrap();
    }
    dir
}

#[test]
fn files_it_cannot_read_are_reported_and_skipped_and_the_audit_is_incomplete() {
    let dir = broken_copy();
    let audit = run(&dir.join("Cargo.toml"), &[]);
    let problems: Vec<_> = audit
        .problems
        .iter()
        .map(|p| format!("{}:{} {}", p.file, p.line, p.message))
        .collect();
    let has = |file: &str, what: &str| {
        problems
            .iter()
            .any(|p| p.starts_with(file) && p.contains(what))
    };
    assert!(
        has("src/latin1.rs:0", "is not UTF-8 (invalid byte at offset 6)"),
        "{problems:#?}"
    );
    assert!(has("src/unparsable.rs:", "does not parse"), "{problems:#?}");
    #[cfg(unix)]
    assert!(
        has("src/caf\u{fffd}.rs:0", "path is not UTF-8"),
        "{problems:#?}"
    );
    assert!(!audit.complete());
    // The readable file is still audited.
    assert_eq!(audit.findings.len(), 1);
    assert_eq!(
        (audit.findings[0].file.as_str(), audit.findings[0].line),
        ("src/lib.rs", 8)
    );

    let manifest = dir.join("Cargo.toml");
    let out = cargo_tracebound(&["audit", "--manifest-path", manifest.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "incomplete: {out:?}");
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.contains("\nskipped\n"), "{table}");
    assert!(table.contains("incomplete: 4 skipped"), "{table}");
    let denied = cargo_tracebound(&[
        "audit",
        "--manifest-path",
        manifest.to_str().unwrap(),
        "--deny",
        "lost",
    ]);
    assert_eq!(
        denied.status.code(),
        Some(3),
        "denied and incomplete: {denied:?}"
    );
    let sarif: serde_json::Value = serde_json::from_slice(
        &cargo_tracebound(&[
            "audit",
            "--manifest-path",
            manifest.to_str().unwrap(),
            "--format",
            "sarif",
        ])
        .stdout,
    )
    .unwrap();
    let run = &sarif["runs"][0]["invocations"][0];
    assert_eq!(run["executionSuccessful"], false);
    assert_eq!(
        run["toolExecutionNotifications"].as_array().unwrap().len(),
        4
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_repos_own_examples_lose_nothing_unexplained() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let audit = run(&manifest, &["tracebound-examples"]);
    assert!(audit.complete(), "{:?}", audit.problems);
    let lost: Vec<_> = audit
        .findings
        .iter()
        .filter(|f| f.verdict == Verdict::Lost && f.allowed.is_none())
        .collect();
    assert!(lost.is_empty(), "{}", report::table(&audit));
    for f in audit.findings.iter().filter(|f| f.allowed.is_some()) {
        assert!(
            !f.allowed.as_ref().unwrap().is_empty(),
            "an allow without a reason: {f:?}"
        );
    }
    // The order service's spawns are carried by its #[traced_task] fns.
    let order_service: Vec<_> = audit
        .findings
        .iter()
        .filter(|f| f.file == "examples/order_service.rs" && f.kind == "tokio::spawn")
        .collect();
    assert!(!order_service.is_empty());
    assert!(order_service.iter().all(|f| f.verdict == Verdict::Carried));
}

/// Valid Rust nested as deep as generated code gets: audited, not a stack overflow.
#[test]
fn deeply_nested_code_is_audited() {
    let dir = std::env::temp_dir().join(format!("tracebound-audit-deep-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        "[package]\nname = \"deep\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\n[workspace]\n",
    )
    .unwrap();
    let n = 1000;
    let parens = format!(
        "pub fn parens() -> u64 {{ {}1{} }}\n",
        "(".repeat(n),
        ")".repeat(n)
    );
    let blocks = format!(
        "pub async fn work() {{}}\npub fn blocks() {{ {} tokio::spawn(work()); {} }}\n",
        "{ ".repeat(n),
        "} ".repeat(n)
    );
    let ifs = format!(
        "pub fn ifs(b: bool) -> u64 {{ {} 0 {} }}\n",
        "if b { 1 } else { ".repeat(400),
        "}".repeat(400)
    );
    let sum = format!("pub fn sum() -> u64 {{ 1{} }}\n", " + 1".repeat(50_000));
    let closures = format!("pub fn closures() {{ let f = {} 1; }}\n", "|| ".repeat(n));
    std::fs::write(
        dir.join("src/lib.rs"),
        [parens, blocks, ifs, sum, closures].concat(),
    )
    .unwrap();
    let audit = run(&dir.join("Cargo.toml"), &[]);
    assert!(audit.complete(), "{:?}", audit.problems);
    assert_eq!(audit.findings.len(), 1, "{:?}", audit.findings);
    assert_eq!(audit.findings[0].verdict, Verdict::Lost);
    let _ = std::fs::remove_dir_all(&dir);
}
