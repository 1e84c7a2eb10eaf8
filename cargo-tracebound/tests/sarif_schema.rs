//! The SARIF output, validated against the official SARIF 2.1.0 schema (tests/schema) with
//! Python's `jsonschema`: a complete audit, and one with skipped files.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

use cargo_tracebound::{Options, audit, report};

fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/<test>
    exe.ancestors().nth(3).unwrap().to_path_buf()
}

fn ok(python: &Path, args: &[&str]) -> bool {
    Command::new(python)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `python3` if it has jsonschema, else a venv's interpreter with jsonschema from PyPI.
fn python() -> PathBuf {
    let system = PathBuf::from("python3");
    if ok(&system, &["-c", "import jsonschema"]) {
        return system;
    }
    let target = target_dir();
    let lock = File::create(target.join("sarif-venv.lock")).unwrap();
    lock.lock().unwrap();
    let venv = target.join("sarif-venv");
    let python = venv.join("bin/python");
    if ok(&python, &["-c", "import jsonschema"]) {
        return python;
    }
    let why = "validating SARIF needs python3 with venv and pip, and PyPI for jsonschema";
    assert!(
        ok(&system, &["-m", "venv", "--clear", venv.to_str().unwrap()]),
        "{why}"
    );
    assert!(
        ok(&python, &["-m", "pip", "install", "-q", "jsonschema>=4,<5"]),
        "{why}"
    );
    python
}

const VALIDATE: &str = r#"
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
errors = list(jsonschema.Draft4Validator(schema).iter_errors(json.load(open(sys.argv[2]))))
for e in errors[:20]:
    print("/".join(map(str, e.absolute_path)), e.message[:300])
sys.exit(1 if errors else 0)
"#;

fn validate(name: &str, sarif: &str) {
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schema/sarif-2.1.0-rtm.5.json");
    let file = target_dir().join(format!("tracebound-audit-{name}.sarif"));
    std::fs::write(&file, sarif).unwrap();
    let out = Command::new(python())
        .args([
            "-c",
            VALIDATE,
            schema.to_str().unwrap(),
            file.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{name}: not valid SARIF 2.1.0:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn sarif_output_is_valid_against_the_sarif_2_1_0_schema() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let planted = audit(&Options {
        manifest_path: Some(fixtures.join("planted/Cargo.toml")),
        packages: Vec::new(),
    })
    .unwrap();
    assert!(planted.allowed() > 0 && planted.complete());
    validate("planted", &report::sarif(&planted));

    let broken = audit(&Options {
        manifest_path: Some(fixtures.join("broken/Cargo.toml")),
        packages: Vec::new(),
    })
    .unwrap();
    assert!(!broken.complete());
    validate("broken", &report::sarif(&broken));
}
