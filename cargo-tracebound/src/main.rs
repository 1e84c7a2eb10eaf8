//! `cargo tracebound audit`: see the crate docs and the README.
//!
//! Exit codes: 0 the audit is complete and nothing denied was found; 1 a denied verdict was
//! found (`--deny lost`); 2 the audit is incomplete (a file skipped, or no audit could be made);
//! 3 both.

use std::path::PathBuf;
use std::process::ExitCode;

use cargo_tracebound::{Options, Verdict, audit, report};
use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(name = "cargo", bin_name = "cargo")]
enum Cargo {
    /// tracebound's tools.
    Tracebound(Tracebound),
}

#[derive(clap::Args)]
#[command(version, about)]
struct Tracebound {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List every async boundary (spawned tasks, blocking closures, threads, messages, HTTP
    /// requests, child processes) and whether the trace context crosses it.
    Audit(AuditArgs),
}

#[derive(clap::Args)]
struct AuditArgs {
    /// Path to Cargo.toml.
    #[arg(long, value_name = "PATH")]
    manifest_path: Option<PathBuf>,
    /// Package to report on (all workspace members if not given); repeatable.
    #[arg(short, long = "package", value_name = "SPEC")]
    packages: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Exit with 1 when a boundary has this verdict and no comment allows it; repeatable.
    #[arg(long, value_enum, value_name = "VERDICT")]
    deny: Vec<Deny>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
    Sarif,
}

#[derive(Clone, Copy, ValueEnum)]
enum Deny {
    Lost,
    Unknown,
}

fn main() -> ExitCode {
    // `cargo tracebound …` runs `cargo-tracebound tracebound …`; run directly, the binary gets
    // no `tracebound`.
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_none_or(|a| a != "tracebound") {
        args.insert(1, "tracebound".into());
    }
    let Cargo::Tracebound(Tracebound {
        command: Command::Audit(args),
    }) = Cargo::parse_from(args);
    let options = Options {
        manifest_path: args.manifest_path,
        packages: args.packages,
    };
    let audit = match audit(&options) {
        Ok(audit) => audit,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let text = match args.format {
        Format::Table => report::table(&audit),
        Format::Json => report::json(&audit),
        Format::Sarif => report::sarif(&audit),
    };
    print!("{text}");
    let denied = args.deny.iter().any(|d| {
        audit.count(match d {
            Deny::Lost => Verdict::Lost,
            Deny::Unknown => Verdict::Unknown,
        }) > 0
    });
    if !matches!(args.format, Format::Table) {
        // The machine-readable formats keep stdout clean; say the outcome on stderr.
        eprintln!("{}", report::summary(&audit));
    }
    ExitCode::from(u8::from(denied) | if audit.complete() { 0 } else { 2 })
}
