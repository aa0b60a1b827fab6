//! Talking to cargo: which cargo, and where the workspace and its target
//! directory are.

use crate::error::{Failure, Result};
use serde::Deserialize;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The cargo that invoked us (`CARGO` is set for subcommands), else the one
/// on PATH.
pub fn command() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo")))
}

/// The workspace being tested.
#[derive(Debug, Clone)]
pub struct Workspace {
    /// Its root directory.
    pub root: PathBuf,
    /// Its target directory (honours `CARGO_TARGET_DIR` and config).
    pub target_dir: PathBuf,
    /// Its packages: name and manifest directory.
    pub packages: Vec<(String, PathBuf)>,
}

#[derive(Deserialize)]
struct Metadata {
    workspace_root: PathBuf,
    target_directory: PathBuf,
    packages: Vec<Package>,
}

#[derive(Deserialize)]
struct Package {
    name: String,
    manifest_path: PathBuf,
}

impl Workspace {
    /// Asks `cargo metadata` about the workspace of the current directory
    /// (or of `manifest_path`). `elsewhere` tells the user, in the error,
    /// what to pass instead when run outside a project (a manifest, a run
    /// directory).
    pub fn find(manifest_path: Option<&str>, elsewhere: &str) -> Result<Workspace> {
        let mut cmd = command();
        cmd.args(["metadata", "--format-version", "1", "--no-deps"]);
        if let Some(m) = manifest_path {
            cmd.args(["--manifest-path", m]);
        }
        let out = cmd
            .stderr(Stdio::piped())
            .stdout(Stdio::piped())
            .output()
            .map_err(|e| Failure::input(format!("cannot run cargo: {e}")))?;
        if !out.status.success() {
            // cargo's error and its `Caused by:` chain, on one line.
            let text = String::from_utf8_lossy(&out.stderr);
            let why = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && *l != "Caused by:")
                .map(|l| l.trim_start_matches("error: "))
                .collect::<Vec<_>>()
                .join(": ");
            return Err(Failure::input(format!(
                "cargo metadata failed: {why} (run cargo racedet inside a crate or workspace, \
                 or {elsewhere})"
            )));
        }
        let meta: Metadata = serde_json::from_slice(&out.stdout).map_err(|e| {
            Failure::input(format!("cannot read the output of cargo metadata: {e}"))
        })?;
        Ok(Workspace {
            root: meta.workspace_root,
            target_dir: meta.target_directory,
            packages: meta
                .packages
                .into_iter()
                .map(|p| {
                    let dir = p
                        .manifest_path
                        .parent()
                        .map(Path::to_path_buf)
                        .unwrap_or_default();
                    (p.name, dir)
                })
                .collect(),
        })
    }

    /// The package whose manifest directory holds `manifest_dir`.
    pub fn package_of(&self, manifest_dir: &Path) -> Option<&str> {
        self.packages
            .iter()
            .find(|(_, dir)| dir == manifest_dir)
            .map(|(name, _)| name.as_str())
    }
}

/// racedet's own corner of a target directory: the detection build
/// (`debug/`, `release/`...) and `runs/`.
pub fn racedet_dir(target_dir: &Path) -> PathBuf {
    target_dir.join("racedet")
}

/// Where run directories go.
pub fn runs_dir(target_dir: &Path) -> PathBuf {
    racedet_dir(target_dir).join("runs")
}
