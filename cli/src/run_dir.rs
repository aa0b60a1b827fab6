//! Run directories: `<target-dir>/racedet/runs/<UTC time>/`, one per
//! `cargo racedet test`, holding the `report.PID` files the test processes
//! write and `run.json` (what was run, which binaries were instrumented).
//! `runs/latest` points at the newest one.

use crate::error::{Failure, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// File name of a run's metadata inside its directory.
pub const RUN_INFO: &str = "run.json";
/// The run's copy of the user's suppressions file, which its test
/// processes read (see `detect_env::run_options`).
pub const SUPPRESSIONS: &str = "suppressions";

/// Prefix given to `log_path`: the runtime appends `.PID`.
pub const REPORT_PREFIX: &str = "report";

/// What rustdoc calls every doctest program.
pub const RUSTDOC_PROGRAM: &str = "rust_out";

/// Name of the pointer to the newest run, inside `runs/`.
pub const LATEST: &str = "latest";

/// What a run was, so `cargo racedet report` on its directory (perhaps
/// copied from another machine) can still say what was not checked.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunInfo {
    /// Version of `cargo racedet` that made the run.
    pub racedet_version: String,
    /// `cargo test` or `cargo nextest run`.
    pub runner: String,
    /// The user's arguments to the runner.
    #[serde(default)]
    pub args: Vec<String>,
    /// Seconds since the Unix epoch when the run started.
    #[serde(default)]
    pub started_unix: u64,
    /// The test binaries that were built.
    #[serde(default)]
    pub binaries: Vec<BinaryInfo>,
    /// Root of the workspace the run tested (absent in runs of earlier
    /// versions): runs of several workspaces can share a target directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<PathBuf>,
    /// Exit status of the runner, once it has finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runner_status: Option<i32>,
    /// Report files written by doctests, with what to call their program
    /// (`doctests of CRATE`): rustdoc names every doctest program
    /// `rust_out`, and only the order of cargo's output tells whose they
    /// are.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub doctests: BTreeMap<String, String>,
    /// The run directory, when read from one (not saved: a run directory
    /// can be copied elsewhere).
    #[serde(skip)]
    pub dir: PathBuf,
    /// Instrumented binaries whose run did not check through.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unchecked: Vec<Unchecked>,
}

/// An instrumented test binary whose run did not check what it should
/// have: racedet stopped it, or its reports did not reach the run
/// directory. Never counted as clean.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unchecked {
    /// `pkg: tests/foo.rs`.
    pub label: String,
    /// Why, in words.
    pub why: String,
    /// It exited with the races' status, so it found races, whose reports
    /// were lost.
    pub reports_lost: bool,
}

/// One test binary of a run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BinaryInfo {
    /// `package: tests/foo.rs`.
    pub name: String,
    /// File name, as reports name it in `program`.
    pub program: String,
    /// Where it was built.
    pub path: PathBuf,
    /// Whether it starts the runtime with detection compiled in.
    pub instrumented: bool,
    /// What its marker says, in words.
    pub marker: String,
}

impl RunInfo {
    /// Adds the processes the runtime stopped (their fatal lines in the
    /// run's files) to `unchecked` where the run's progress did not follow
    /// the processes: under nextest, and for doctests. Under cargo test the
    /// progress has listed the binaries stopped (a fatal line of a
    /// program is not proof of its binary's stop: a test may run itself as
    /// a child and expect that to stop).
    pub fn note_fatal(&mut self, fatal: &[crate::load::Fatal]) {
        let followed = self.runner == crate::runner::Runner::CargoTest.name();
        for f in fatal {
            let file = f.file.file_name().map(|n| n.to_string_lossy().into_owned());
            let doctests = file.and_then(|n| self.doctests.get(&n).cloned());
            if followed && doctests.is_none() && f.program != RUSTDOC_PROGRAM {
                continue;
            }
            let name = doctests
                .or_else(|| self.binary_name(&f.program).map(str::to_string))
                .unwrap_or_else(|| f.program.clone());
            self.unchecked.push(f.unchecked(&name));
        }
    }

    /// Whether a process of the run found races whose reports were lost:
    /// its binary is listed so, or (`empty_files`) a report file was left
    /// empty.
    pub fn reports_lost(&self, empty_files: bool) -> bool {
        empty_files || self.unchecked.iter().any(|u| u.reports_lost)
    }

    /// Display name of a report's `program`, when it is one of our binaries.
    pub fn binary_name(&self, program: &str) -> Option<&str> {
        self.binaries
            .iter()
            .find(|b| b.program == program)
            .map(|b| b.name.as_str())
    }

    /// Writes `run.json` into `dir` (replacing the previous one of this run).
    pub fn save(&self, dir: &Path) -> Result<()> {
        let path = dir.join(RUN_INFO);
        let text = serde_json::to_string_pretty(self).expect("run info serializes");
        std::fs::write(&path, text + "\n")
            .map_err(|e| Failure::input(format!("cannot write {}: {e}", path.display())))
    }

    /// Reads `run.json` of a run directory; a malformed one is an error
    /// naming it.
    pub fn load(path: &Path) -> Result<RunInfo> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Failure::input(format!("{}: cannot read: {e}", path.display())))?;
        if text.trim().is_empty() {
            return Err(Failure::input(format!(
                "{}: empty: the run could not write it (a full disk?), so it says nothing of \
                 what ran; run the tests again, or give the run's report files instead",
                path.display()
            )));
        }
        let mut info: RunInfo = serde_json::from_str(&text).map_err(|e| {
            Failure::input(format!(
                "{}: expected racedet run metadata (JSON written by cargo racedet test): {e}",
                path.display()
            ))
        })?;
        info.dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok(info)
    }
}

/// Creates a new, empty run directory under `runs` and points `latest` at
/// it. Never reuses an existing directory: `create_dir` fails on one, and
/// the next suffix is tried (two runs in the same second, or in parallel).
pub fn create(runs: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(runs)
        .map_err(|e| Failure::input(format!("cannot create {}: {e}", runs.display())))?;
    let stamp = utc_stamp(SystemTime::now());
    for n in 1.. {
        let name = if n == 1 {
            stamp.clone()
        } else {
            format!("{stamp}-{n}")
        };
        let dir = runs.join(&name);
        match std::fs::create_dir(&dir) {
            Ok(()) => {
                point_latest(runs, &name)?;
                return Ok(dir);
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(Failure::input(format!(
                    "cannot create run directory {}: {e}",
                    dir.display()
                )))
            }
        }
    }
    unreachable!("the suffixes are unbounded")
}

/// The newest run under `runs`, following `latest`.
pub fn latest(runs: &Path) -> Result<PathBuf> {
    let pointer = runs.join(LATEST);
    let no_runs = || {
        Failure::input(format!(
            "no racedet run found at {} (run `cargo racedet test` first, or pass report \
             files or run directories)",
            pointer.display()
        ))
    };
    let meta = std::fs::symlink_metadata(&pointer).map_err(|_| no_runs())?;
    let dir = if meta.file_type().is_symlink() || meta.is_dir() {
        pointer.clone()
    } else {
        // Where symlinks are not available `latest` is a file naming the run.
        let name = std::fs::read_to_string(&pointer).map_err(|_| no_runs())?;
        runs.join(name.trim())
    };
    if !dir.is_dir() {
        return Err(Failure::input(format!(
            "{} points at a run directory that no longer exists ({})",
            pointer.display(),
            dir.display()
        )));
    }
    Ok(dir)
}

/// The newest run under `runs` of the workspace at `root`: the latest, unless
/// it is of another workspace sharing the target directory (a shared
/// `CARGO_TARGET_DIR`); then this workspace's newest, said in a note.
pub fn latest_of(runs: &Path, root: &Path) -> Result<PathBuf> {
    let latest = latest(runs)?;
    let other = match workspace_of(&latest) {
        Some(w) if w != root => w,
        _ => return Ok(latest),
    };
    let mut names: Vec<String> = std::fs::read_dir(runs)
        .map_err(|e| Failure::input(format!("{}: cannot list: {e}", runs.display())))?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        // Run directories only (a copy named otherwise is not one of the
        // runs this orders by time).
        .filter(|n| stamp_of(n).is_some())
        .collect();
    // Newest first: stamps sort by time, `-2` suffixes after their stamp.
    names.sort_by(|a, b| stamp_of(b).cmp(&stamp_of(a)));
    let mine = names
        .iter()
        .map(|n| runs.join(n))
        .find(|dir| workspace_of(dir).as_deref() == Some(root));
    match mine {
        Some(dir) => {
            eprintln!(
                "racedet: note: the latest run in {} tested {}; reading this workspace's \
                 latest, {}",
                runs.display(),
                other.display(),
                dir.display()
            );
            Ok(dir)
        }
        None => Err(Failure::input(format!(
            "the latest run in {} tested another workspace ({}) and none tested this one ({}): \
             run `cargo racedet test` here first, or pass a run directory",
            runs.display(),
            other.display(),
            root.display()
        ))),
    }
}

/// A run directory's name as (stamp, suffix) for ordering by time:
/// `YYYYMMDD-HHMMSS`, suffix 1, or `YYYYMMDD-HHMMSS-N`, suffix N; `None`
/// for any other name (`latest`, a copy named otherwise).
fn stamp_of(name: &str) -> Option<(&str, u32)> {
    let stamp = name.get(..15)?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let well_formed = stamp.as_bytes()[8] == b'-' && digits(&stamp[..8]) && digits(&stamp[9..]);
    let suffix = match &name[15..] {
        "" => Some(1),
        rest => rest.strip_prefix('-').filter(|n| digits(n))?.parse().ok(),
    };
    suffix.filter(|_| well_formed).map(|n| (stamp, n))
}

/// The workspace a run directory's `run.json` names, if it is readable and
/// names one.
fn workspace_of(dir: &Path) -> Option<PathBuf> {
    RunInfo::load(&dir.join(RUN_INFO)).ok()?.workspace
}

/// Replaces `runs/latest` atomically (a new link renamed over the old one),
/// so a reader never sees it missing.
fn point_latest(runs: &Path, name: &str) -> Result<()> {
    let pointer = runs.join(LATEST);
    let tmp = runs.join(format!(".{LATEST}.{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    #[cfg(unix)]
    let made = std::os::unix::fs::symlink(name, &tmp);
    #[cfg(not(unix))]
    let made = std::fs::write(&tmp, name);
    made.and_then(|()| std::fs::rename(&tmp, &pointer))
        .map_err(|e| Failure::input(format!("cannot update {}: {e}", pointer.display())))
}

/// `20260804-101530`: sorts by time, and is a valid file name everywhere.
fn utc_stamp(now: SystemTime) -> String {
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let t = secs % 86_400;
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}",
        t / 3600,
        t / 60 % 60,
        t % 60
    )
}

/// Seconds since the Unix epoch, for `RunInfo::started_unix`.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian
/// calendar (Howard Hinnant's algorithm), to avoid a date crate for one name.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn stamp_is_utc_date_and_time() {
        assert_eq!(utc_stamp(UNIX_EPOCH), "19700101-000000");
        let t = UNIX_EPOCH + Duration::from_secs(1_709_210_096); // 2024-02-29 12:34:56
        assert_eq!(utc_stamp(t), "20240229-123456");
    }

    #[test]
    fn runs_never_share_a_directory_and_latest_follows() {
        let runs = std::env::temp_dir().join(format!("racedet-runs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&runs);
        let a = create(&runs).unwrap();
        let b = create(&runs).unwrap();
        assert_ne!(a, b);
        assert_eq!(
            std::fs::canonicalize(latest(&runs).unwrap()).unwrap(),
            std::fs::canonicalize(&b).unwrap()
        );
        std::fs::remove_dir_all(&runs).unwrap();
    }

    #[test]
    fn no_latest_is_an_error_saying_what_to_do() {
        let e = latest(Path::new("/nonexistent/racedet/runs")).unwrap_err();
        assert!(e.message.contains("cargo racedet test"), "{e}");
    }

    #[test]
    fn an_empty_run_json_says_what_it_means() {
        let dir = std::env::temp_dir().join(format!("racedet-empty-run-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(RUN_INFO), "").unwrap();
        let e = RunInfo::load(&dir.join(RUN_INFO)).unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(
            e.message
                .contains("run.json: empty: the run could not write it"),
            "{e}"
        );
    }

    #[test]
    fn only_stamps_are_runs() {
        for name in ["20261205-100000", "20261205-100000-2", "20261205-100000-10"] {
            assert!(stamp_of(name).is_some(), "{name}");
        }
        for name in [
            "latest",
            "backup",
            ".latest.7",
            "20261205-10000",
            "20261205x100000",
            "20261205-100000-",
            "20261205-100000-x",
            "20261205-1000é0",
        ] {
            assert!(stamp_of(name).is_none(), "{name}");
        }
        let mut names = vec![
            "20261205-100000-10",
            "20261205-100000",
            "20261205-100000-2",
            "20261204-235959",
        ];
        names.sort_by(|a, b| stamp_of(b).cmp(&stamp_of(a)));
        assert_eq!(
            names,
            [
                "20261205-100000-10",
                "20261205-100000-2",
                "20261205-100000",
                "20261204-235959"
            ]
        );
    }

    #[test]
    fn stopped_processes_are_noted_where_the_progress_did_not_follow_them() {
        let fatal = |program: &str, file: &str| crate::load::Fatal {
            message: "racedet: too many threads".into(),
            program: program.into(),
            pid: 4,
            file: PathBuf::from("/r").join(file),
        };
        let mut run: RunInfo = serde_json::from_str(
            r#"{"racedet_version":"0.1.0","runner":"cargo test","binaries":[{"name":"p: tests/t.rs","program":"t-1","path":"/t/t-1","instrumented":true,"marker":""}],"doctests":{"report.8":"doctests of p"}}"#,
        )
        .unwrap();
        let stopped = [
            fatal("t-1", "report.4"),
            fatal("rust_out", "report.8"),
            fatal("rust_out", "report.9"),
        ];
        run.note_fatal(&stopped);
        let labels: Vec<&str> = run.unchecked.iter().map(|u| u.label.as_str()).collect();
        // cargo test's progress lists its binaries itself.
        assert_eq!(
            labels,
            ["doctests of p (process 4)", "rust_out (process 4)"]
        );
        run.unchecked.clear();
        run.runner = crate::runner::Runner::Nextest.name().into();
        run.note_fatal(&stopped[..1]);
        assert_eq!(run.unchecked[0].label, "p: tests/t.rs (process 4)");
        assert!(run.unchecked[0]
            .why
            .ends_with("not checked to the end: racedet: too many threads"));
    }
}
