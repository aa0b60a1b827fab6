//! `cargo racedet`: run a test suite under racedet, inspect its reports,
//! check binaries for the runtime.
//!
//! Installed as `cargo-racedet`, cargo runs it as `cargo-racedet racedet
//! ARGS`; it also accepts being run directly as `cargo-racedet ARGS`.

mod artifacts;
mod cargo;
mod check;
mod detect_env;
mod error;
mod load;
mod marker;
mod progress;
mod races;
mod report_cmd;
mod run;
mod run_dir;
mod runner;
mod sarif;
mod summary;

use clap::{Args, Parser, Subcommand};
use report_cmd::{Format, Kind};
use runner::Runner;
use std::path::PathBuf;

/// Data-race detection for a Rust test suite, with racedet.
#[derive(Parser, Debug)]
#[command(name = "cargo-racedet", bin_name = "cargo racedet", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run `cargo test` with race detection on for every crate, and sum up
    /// the races found (exit status `exitcode`, 66 unless set, when there
    /// are any or a process's reports were lost; else cargo test's own
    /// status, but 1 for 0 when no test binary is instrumented).
    Test(RunArgs),
    /// The same with `cargo nextest run` (one process per test).
    Nextest(RunArgs),
    /// Say whether each binary links the racedet runtime with detection on
    /// (exit status 1 when one does not).
    Check {
        /// Compiled binaries, e.g. target/racedet/debug/deps/NAME-HASH.
        #[arg(required = true, value_name = "BINARY")]
        binaries: Vec<PathBuf>,
    },
    /// Merge, filter and print JSON reports (exit status 66 when it lists
    /// any or a run's reports were lost; 1 when none but a run checked less
    /// than asked).
    Report {
        /// JSON report files or run directories [default: the latest run].
        #[arg(value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Only races of this kind (repeatable).
        #[arg(long, value_enum)]
        kind: Vec<Kind>,
        /// Only races with a site whose file path contains this (repeatable).
        #[arg(long = "path", value_name = "SUBSTRING")]
        path_filters: Vec<String>,
        /// Output format. `json` is JSON Lines: one report per line.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// The project whose latest run to read, as for `test` (instead of
        /// the one in the current directory; not with PATHs).
        #[arg(long, value_name = "PATH", conflicts_with = "paths")]
        manifest_path: Option<String>,
    },
}

#[derive(Args, Debug)]
struct RunArgs {
    /// Stop at the first failure (by default everything runs, so one race
    /// does not hide another).
    #[arg(long)]
    fail_fast: bool,
    /// Arguments for the runner, as you would give them to it (after `--`:
    /// arguments for the test binaries).
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "RUNNER ARGS"
    )]
    args: Vec<String>,
}

/// For `test` and `nextest`: takes `--` and what follows off `argv`, to be
/// passed on as they are. clap would drop a `--` that comes first (`cargo
/// racedet test -- --nocapture`), handing the test binaries' arguments to
/// the runner itself.
fn split_binary_args(argv: &mut Vec<std::ffi::OsString>) -> Vec<String> {
    let runs = argv.get(1).is_some_and(|c| c == "test" || c == "nextest");
    match argv.iter().position(|a| a == "--") {
        Some(at) if runs => argv
            .split_off(at)
            .into_iter()
            .map(|a| {
                a.into_string().unwrap_or_else(|a| {
                    eprintln!("racedet: error: argument {a:?} is not valid UTF-8");
                    std::process::exit(2)
                })
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn main() {
    let mut argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // `cargo racedet X` runs `cargo-racedet racedet X`.
    if argv.get(1).is_some_and(|a| a == "racedet") {
        argv.remove(1);
    }
    let for_binaries = split_binary_args(&mut argv);
    let cli = Cli::parse_from(argv);
    let with_binary_args = |mut args: Vec<String>| {
        args.extend(for_binaries.iter().cloned());
        args
    };
    let result = match cli.command {
        Command::Test(a) => run::run(Runner::CargoTest, &with_binary_args(a.args), a.fail_fast),
        Command::Nextest(a) => run::run(Runner::Nextest, &with_binary_args(a.args), a.fail_fast),
        Command::Check { binaries } => Ok(check::run(&binaries)),
        Command::Report {
            paths,
            kind,
            path_filters,
            format,
            manifest_path,
        } => report_cmd::run(&report_cmd::Request {
            paths: &paths,
            kinds: &kind,
            path_filters: &path_filters,
            format,
            manifest_path: manifest_path.as_deref(),
        }),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            // Runtime messages already start with `racedet: `.
            let message = e.message.strip_prefix("racedet: ").unwrap_or(&e.message);
            eprintln!("racedet: error: {message}");
            std::process::exit(e.code);
        }
    }
}
