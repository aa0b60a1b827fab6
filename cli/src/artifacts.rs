//! Building the test binaries with detection and finding them: cargo's JSON
//! messages name every test executable it built.

use crate::cargo::Workspace;
use crate::error::{Failure, Result};
use crate::marker;
use crate::run_dir::BinaryInfo;
use crate::runner::Runner;
use serde::Deserialize;
use std::collections::BTreeSet;
use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The parts of a `compiler-artifact` message used here.
#[derive(Deserialize)]
struct Artifact {
    reason: String,
    #[serde(default)]
    executable: Option<PathBuf>,
    #[serde(default)]
    manifest_path: Option<PathBuf>,
    #[serde(default)]
    profile: Option<Profile>,
    #[serde(default)]
    target: Option<Target>,
    /// A `compiler-message`'s diagnostic.
    #[serde(default)]
    message: Option<Diagnostic>,
}

#[derive(Deserialize)]
struct Diagnostic {
    level: String,
    #[serde(default)]
    rendered: Option<String>,
}

/// What the build step made: the test executables, and the compiler's
/// warnings, rendered. They are not printed as they come: the run's own
/// `cargo test` (or nextest's build) replays them from cargo's cache, and
/// printing them here too showed every warning twice. A caller that does
/// not run the tests after (`--no-run`) prints them; a failed build
/// prints them itself.
#[derive(Default)]
pub struct Built {
    pub binaries: Vec<BinaryInfo>,
    pub warnings: Vec<String>,
}

#[derive(Deserialize)]
struct Profile {
    test: bool,
}

#[derive(Deserialize)]
struct Target {
    src_path: PathBuf,
}

/// Runs `cmd` (a runner with its build-only flags) and returns the test
/// executables it built, each checked for the runtime marker, and the
/// build's warnings (see [`Built`]); errors are printed as they come. A
/// failed build prints its warnings and passes on cargo's exit status.
pub fn build(mut cmd: Command, runner: Runner, ws: &Workspace) -> Result<Built> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| Failure::input(format!("cannot run {}: {e}", runner.name())))?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut paths = BTreeSet::new();
    let mut binaries = Vec::new();
    let mut warnings = Vec::new();
    let mut seen = BTreeSet::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(|e| Failure::input(format!("reading cargo's output: {e}")))?;
        // Cargo's JSON messages are objects; anything else a runner prints
        // on stdout is not ours to read.
        if !line.starts_with('{') {
            continue;
        }
        let Ok(a) = serde_json::from_str::<Artifact>(&line) else {
            continue;
        };
        if a.reason == "compiler-message" {
            let Some(Diagnostic {
                level,
                rendered: Some(text),
            }) = a.message
            else {
                continue;
            };
            // A lib and its unit tests report the same diagnostic twice
            // (cargo's human output says "1 duplicate"): once is enough.
            if !seen.insert(text.clone()) {
                continue;
            }
            // Errors, and their notes ("For more information about this
            // error"), as they come: only warnings are replayed.
            if level.starts_with("error") || level == "failure-note" {
                eprint!("{text}");
            } else {
                warnings.push(text);
            }
            continue;
        }
        if a.reason != "compiler-artifact" || !a.profile.as_ref().is_some_and(|p| p.test) {
            continue;
        }
        let Some(exe) = a.executable else { continue };
        if paths.insert(exe.clone()) {
            binaries.push((exe, a.manifest_path, a.target.map(|t| t.src_path)));
        }
    }
    let status = child
        .wait()
        .map_err(|e| Failure::input(format!("waiting for {}: {e}", runner.name())))?;
    if !status.success() {
        for text in &warnings {
            eprint!("{text}");
        }
        return Err(Failure::with_code(
            match runner {
                Runner::CargoTest => format!(
                    "building the tests with detection failed ({} exited with {status})",
                    runner.name()
                ),
                // nextest also lists each binary's tests here (running it
                // with `--list`), which fails where the build did not.
                Runner::Nextest => format!(
                    "building or listing the tests with detection failed ({} --no-run \
                     exited with {status}; its error is above)",
                    runner.name()
                ),
            },
            crate::run::exit_code(status),
        ));
    }
    let mut described = binaries
        .into_iter()
        .map(|(exe, manifest, src)| describe(ws, exe, manifest, src))
        .collect::<Result<Vec<_>>>()?;
    // Build order varies with scheduling; listings should not.
    described.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Built {
        binaries: described,
        warnings,
    })
}

/// Names a binary as the user knows it (`package: tests/foo.rs`) and reads
/// its marker.
fn describe(
    ws: &Workspace,
    exe: PathBuf,
    manifest: Option<PathBuf>,
    src: Option<PathBuf>,
) -> Result<BinaryInfo> {
    let program = exe
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = manifest
        .as_deref()
        .and_then(Path::parent)
        .map(Path::to_path_buf);
    let package = dir
        .as_deref()
        .and_then(|d| ws.package_of(d))
        .map(str::to_string)
        .or_else(|| {
            dir.as_deref()
                .and_then(Path::file_name)
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| program.clone());
    let src = match (src, dir.as_deref()) {
        (Some(src), Some(dir)) => src.strip_prefix(dir).map(Path::to_path_buf).unwrap_or(src),
        (Some(src), None) => src,
        (None, _) => PathBuf::from(&program),
    };
    let found = marker::read(&exe)?;
    Ok(BinaryInfo {
        name: format!("{package}: {}", src.display()),
        program,
        path: exe,
        instrumented: found.is_instrumented(),
        marker: found.describe(),
    })
}

/// A runner command with the detection environment.
pub fn command(
    runner: Runner,
    extra: &[&str],
    args: &[String],
    target_dir: &Path,
    env: &[(String, OsString)],
) -> Command {
    let mut cmd = crate::cargo::command();
    cmd.args(runner.subcommand())
        .args(extra)
        .args(args)
        .env("CARGO_TARGET_DIR", target_dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}
