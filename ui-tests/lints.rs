//! The attributes leave a user's lint gate as it was: `lint-fixture/` is linted by clippy with
//! `-W clippy::pedantic` under `#![deny(warnings)]` and `#![forbid(unused_variables,
//! unreachable_code, unused_imports)]`, once as written and once with every function under a
//! tracebound attribute, and the two lists of diagnostics must be the same, but for the known
//! differences below (all of them diagnostics hidden, none added). rustdoc must show the
//! functions as written.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What rustc and clippy say only of a real `async fn` (or of a body that is the function's
/// whole body), which a function starting its span when called cannot be: README, "What the
/// attribute changes". Each must still show without the attributes, so that the fixture keeps
/// exercising it, and none may show with them.
const HIDDEN: [&str; 15] = [
    // `#[must_use]` reaches the value of `.await` only for an `async fn`.
    "src/flagged.rs:49: unused output of future returned by `flagged::must_use_output` that must be used",
    "src/flagged.rs:54: unused return value of `flagged::must_use_output` that must be used",
    // rustc's lints on `async fn` items.
    "src/flagged.rs:147: `#[track_caller]` on async functions is a no-op",
    "src/flagged.rs:155: use of `async fn` in public traits is discouraged as auto trait bounds cannot be specified",
    // clippy's lints on the shape of an `async fn` or of a function's own body.
    "src/flagged.rs:30: unused `async` for function with no await statements",
    "src/flagged.rs:174: unused `async` for function with no await statements",
    "src/flagged.rs:109: unneeded `return` statement",
    "src/flagged.rs:114: unneeded `return` statement",
    "src/flagged.rs:118: docs for function returning `Result` missing `# Errors` section",
    "src/flagged.rs:142: this function can be simplified using the `async fn` syntax",
    "src/flagged.rs:162: this argument is passed by value, but not consumed in the function body",
    "src/flagged.rs:183: this argument is passed by value, but not consumed in the function body",
    // Reported at the attribute instead (below).
    "src/flagged.rs:87: docs for function which may panic missing `# Panics` section",
    "src/flagged.rs:124: docs for function which may panic missing `# Panics` section",
    "src/flagged.rs:168: this function has too many arguments (8/7)",
];

/// The same diagnostics, reported at the attribute rather than at the function.
const MOVED: [&str; 3] = [
    "src/flagged.rs:86: docs for function which may panic missing `# Panics` section",
    "src/flagged.rs:123: docs for function which may panic missing `# Panics` section",
    "src/flagged.rs:166: this function has too many arguments (8/7)",
];

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("lint-fixture")
}

fn target() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("lint-parity")
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command
        .current_dir(fixture())
        .env("CARGO_TARGET_DIR", target())
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS");
    command
}

/// `file:line: message` for every diagnostic clippy reports on the fixture.
fn diagnostics(traced: bool) -> BTreeSet<String> {
    let mut command = cargo();
    command.args(["clippy", "--locked", "--quiet", "--message-format=json"]);
    if traced {
        command.args(["--features", "traced"]);
    }
    command.args(["--", "-W", "clippy::pedantic"]);
    let output = command.output().expect("cargo clippy runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut found = BTreeSet::new();
    for line in stdout.lines() {
        // Children have `"rendered":null`; the diagnostic's own text is the one string.
        let Some(message) = field(line, "\"rendered\":") else {
            continue;
        };
        // `--> src/file.rs:LINE:COL` is the primary location.
        let Some(location) = message
            .lines()
            .find_map(|l| l.trim_start().strip_prefix("--> "))
        else {
            continue;
        };
        let mut parts = location.rsplitn(3, ':');
        let (_, line_no, file) = (parts.next(), parts.next(), parts.next());
        let headline = message.lines().next().unwrap_or_default();
        let text = headline
            .split_once(": ")
            .map_or(headline, |(_, text)| text)
            .to_owned();
        found.insert(format!(
            "{}:{}: {text}",
            file.unwrap_or_default(),
            line_no.unwrap_or_default()
        ));
    }
    assert!(
        !found.is_empty(),
        "clippy reported nothing on the fixture, which has diagnostics on purpose:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    found
}

/// The JSON string value after `key` on a line of cargo's output, unescaped.
fn field(line: &str, key: &str) -> Option<String> {
    let key = format!("{key}\"");
    let start = line.find(&key)? + key.len();
    let rest = &line[start..];
    let mut out = String::new();
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'u' => {
                    let hex: String = chars.by_ref().take(4).collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

#[test]
fn attributes_add_no_diagnostic_and_hide_only_the_known_ones() {
    let native = diagnostics(false);
    let traced = diagnostics(true);
    for known in HIDDEN {
        assert!(
            native.contains(known),
            "the fixture no longer shows the known difference {known:?}; native diagnostics:\n{native:#?}"
        );
    }
    let expected: BTreeSet<String> = native
        .iter()
        .filter(|d| !HIDDEN.contains(&d.as_str()))
        .cloned()
        .chain(MOVED.iter().map(|d| (*d).to_owned()))
        .collect();
    let added: Vec<_> = traced.difference(&expected).collect();
    let hidden: Vec<_> = expected.difference(&traced).collect();
    assert!(
        added.is_empty() && hidden.is_empty(),
        "with the attributes, clippy added {added:#?}\nand no longer reported {hidden:#?}"
    );
}

/// The signature rustdoc renders for `module::function` of the fixture.
fn documented(module: &str, function: &str) -> String {
    let page = target()
        .join("doc/tracebound_lint_fixture")
        .join(module)
        .join(format!("fn.{function}.html"));
    let html = std::fs::read_to_string(&page).unwrap_or_else(|e| panic!("{}: {e}", page.display()));
    let start = html
        .find("<pre class=\"rust item-decl\"><code>")
        .expect("a declaration");
    let end = start + html[start..].find("</code></pre>").expect("its end");
    let mut text = String::new();
    let mut in_tag = false;
    for c in html[start..end].chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace("( ", "(")
        .replace(", )", ")")
}

#[test]
fn rustdoc_shows_the_function_as_written() {
    let status = cargo()
        .args([
            "doc",
            "--locked",
            "--quiet",
            "--no-deps",
            "--features",
            "traced",
        ])
        .status()
        .expect("cargo doc runs");
    assert!(status.success());
    for (module, function, signature) in [
        ("clean", "plain", "pub async fn plain(id: u64) -> u64"),
        (
            "clean",
            "mutable",
            "pub async fn mutable(count: u32, _unused: u64) -> u32",
        ),
        ("clean", "diverges", "pub async fn diverges() -> !"),
        (
            "clean",
            "checksum",
            "pub async fn checksum(data: Vec<u8>, _permit: OwnedSemaphorePermit) -> u32",
        ),
        (
            "clean",
            "opaque_error",
            "pub async fn opaque_error(flag: bool) -> Result<impl Display, Opaque>",
        ),
    ] {
        assert_eq!(
            documented(module, function),
            signature,
            "{module}::{function}"
        );
    }
}
