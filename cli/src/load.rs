//! Reading JSON report files and run directories back.
//!
//! A report file is what the runtime writes with `report_format=json`: one
//! `Report` per line (JSON Lines). A run directory holds such files, named
//! `report.PID`, and `run.json`. Every problem is an error naming the file
//! (and line); nothing is skipped without a word.

use crate::error::{Failure, Result};
use crate::run_dir::{RunInfo, Unchecked, REPORT_PREFIX, RUN_INFO, SUPPRESSIONS};
use racedet_runtime::report::{PairKey, Report};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// One report and the file it came from.
#[derive(Clone, Debug)]
pub struct Found {
    /// The report.
    pub report: Report,
    /// The file it was read from (a file is one process's log).
    pub file: PathBuf,
}

/// A fatal error a process's runtime stopped it with.
#[derive(Clone, Debug)]
pub struct Fatal {
    /// Its one-line message.
    pub message: String,
    /// File name of its program.
    pub program: String,
    /// Its process id.
    pub pid: u64,
    /// The report file it was read from.
    pub file: PathBuf,
}

impl Fatal {
    /// This process as not checked through, called `name (process PID)`.
    pub fn unchecked(&self, name: &str) -> Unchecked {
        Unchecked {
            label: format!("{name} (process {})", self.pid),
            why: format!(
                "stopped by racedet, so not checked to the end: {}",
                self.message
            ),
            reports_lost: false,
        }
    }
}

/// Everything read from the paths given.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Every report, in file order.
    pub reports: Vec<Found>,
    /// Report files read.
    pub files: Vec<PathBuf>,
    /// Races a process took with `racedet::reports::take` (a test that
    /// expects them), by report file: they do not fail the run.
    pub taken: Vec<(PathBuf, PairKey)>,
    /// Of those, the races a process took on a thread unrelated to both of
    /// the race's threads: in a test binary, another test's `take()`.
    pub taken_elsewhere: Vec<PairKey>,
    /// Metadata of the run directories read.
    pub runs: Vec<RunInfo>,
    /// Things worth saying that are not errors: runtime notices found in
    /// report files (`max_reports` reached), files in a run directory that
    /// are not reports. Callers print them.
    pub notes: Vec<String>,
    /// The program of each report, taken report and fatal line read, in
    /// file order (a file is one process's, so one program's).
    pub programs: Vec<String>,
    /// Processes the runtime stopped with a fatal error (a `{"fatal": ..}`
    /// line in their file): they were not checked to their end.
    pub fatal: Vec<Fatal>,
    /// Report files with nothing in them. The runtime creates its file only
    /// to write a report into it, so its process found a race and the
    /// report was lost (a full disk, a kill while writing).
    pub empty: Vec<PathBuf>,
    /// Report files read, as canonical paths: one given twice (or with its
    /// run directory) would count its races twice.
    read: std::collections::HashSet<PathBuf>,
}

/// Reads one report file (used while a run is going on, to count each
/// binary's races as it finishes).
pub fn load_one(path: &Path) -> Result<Loaded> {
    let mut loaded = Loaded::default();
    load_file(path, &mut loaded)?;
    Ok(loaded)
}

/// Reads each path: a report file, or a run directory.
pub fn load(paths: &[PathBuf]) -> Result<Loaded> {
    let mut loaded = Loaded::default();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Failure::input(format!(
                    "{}: no such file or directory (expected a JSON report file or a run \
                     directory such as target/racedet/runs/latest)",
                    path.display()
                ))
            } else {
                Failure::input(format!("{}: cannot read: {e}", path.display()))
            }
        })?;
        if meta.is_dir() {
            load_run_dir(path, &mut loaded)?;
        } else {
            load_file(path, &mut loaded)?;
        }
    }
    Ok(loaded)
}

fn load_run_dir(dir: &Path, loaded: &mut Loaded) -> Result<()> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Failure::input(format!("{}: cannot list: {e}", dir.display())))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry =
            entry.map_err(|e| Failure::input(format!("{}: cannot list: {e}", dir.display())))?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    // Sorted, so merged output does not depend on directory order.
    names.sort();
    let report_prefix = format!("{REPORT_PREFIX}.");
    let is_report = |n: &str| n.starts_with(&report_prefix);
    if !names.iter().any(|n| is_report(n) || n == RUN_INFO) {
        // The directory of the runs themselves, given for one of them.
        let hint = if names.iter().any(|n| n == crate::run_dir::LATEST) {
            format!(
                "; it holds runs: give one, such as {}",
                dir.join("latest").display()
            )
        } else {
            String::new()
        };
        return Err(Failure::input(format!(
            "{}: not a racedet run directory (expected {REPORT_PREFIX}.PID files or {RUN_INFO} \
             in it, as cargo racedet test writes under target/racedet/runs/){hint}",
            dir.display()
        )));
    }
    let first = loaded.reports.len();
    let runs = loaded.runs.len();
    for name in names {
        let path = dir.join(&name);
        if name == RUN_INFO {
            loaded.runs.push(RunInfo::load(&path)?);
        } else if is_report(&name) {
            load_file(&path, loaded)?;
        } else if name == SUPPRESSIONS {
            // The run's copy of the suppressions it used: not a report.
        } else {
            loaded.notes.push(format!(
                "ignoring {} (not a {REPORT_PREFIX}.PID file)",
                path.display()
            ));
        }
    }
    // Doctest programs are all `rust_out`: the run says whose they were.
    if let Some(run) = loaded.runs.get(runs) {
        for found in &mut loaded.reports[first..] {
            let file = found.file.file_name().map(|n| n.to_string_lossy());
            if let Some(label) = file.and_then(|n| run.doctests.get(n.as_ref())) {
                found.report.program = label.clone();
            }
        }
    }
    Ok(())
}

fn load_file(path: &Path, loaded: &mut Loaded) -> Result<()> {
    let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    if !loaded.read.insert(canonical) {
        return Err(Failure::input(format!(
            "{}: given twice (directly, or through its run directory); give each run or \
             file once, or its reports count twice",
            path.display()
        )));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::input(format!("{}: cannot read: {e}", path.display())))?;
    if text.trim().is_empty() {
        loaded.notes.push(format!(
            "{} is empty: its process had a race to report, but the report was lost (a full \
             disk? killed while writing?); run the tests again",
            path.display()
        ));
        loaded.empty.push(path.to_path_buf());
    }
    // Reports of another racedet release may mean other things by the
    // same fields: said once per file (read all the same).
    let mut other_version = None;
    for (i, line) in text.lines().enumerate() {
        let at = format!("{}:{}", path.display(), i + 1);
        let line = parse_line(line, &at)?;
        match &line {
            Line::Report(r) | Line::Taken(r, _) => {
                loaded.programs.push(r.program.clone());
                if other_version.is_none() && !same_format(&r.racedet_version) {
                    other_version = Some(r.racedet_version.clone());
                }
            }
            Line::Fatal { program, .. } => loaded.programs.push(program.clone()),
            Line::Notice(_) | Line::Blank => {}
        }
        match line {
            Line::Report(report) => loaded.reports.push(Found {
                report: *report,
                file: path.to_path_buf(),
            }),
            Line::Taken(report, unrelated) => {
                if unrelated {
                    loaded.taken_elsewhere.push(report.pair_key());
                }
                loaded.taken.push((path.to_path_buf(), report.pair_key()));
            }
            Line::Notice(text) => loaded.notes.push(format!("{at}: {text}")),
            Line::Fatal {
                message,
                program,
                pid,
            } => loaded.fatal.push(Fatal {
                message,
                program,
                pid,
                file: path.to_path_buf(),
            }),
            Line::Blank => {}
        }
    }
    if let Some(version) = other_version {
        loaded.notes.push(format!(
            "{} was written by racedet {version}, this is cargo racedet {}: read as this \
             version's reports (use the cargo racedet of that release to be sure)",
            path.display(),
            env!("CARGO_PKG_VERSION")
        ));
    }
    loaded.files.push(path.to_path_buf());
    Ok(())
}

/// Whether reports of racedet `version` have this release's format: the
/// same major and minor version (`0.1.x`), or no version (early logs).
fn same_format(version: &str) -> bool {
    let release = |v: &str| v.split('.').take(2).collect::<Vec<_>>().join(".");
    version.is_empty() || release(version) == release(env!("CARGO_PKG_VERSION"))
}

/// One line of a report file.
#[derive(Debug)]
enum Line {
    Report(Box<Report>),
    /// `{"taken": REPORT, "by_unrelated_thread": BOOL}`: the process took
    /// this report with `racedet::reports::take`, so, as for its exit
    /// status, it is handled; the flag says the taking thread was unrelated
    /// to the race's (absent in logs of earlier versions: false).
    Taken(Box<Report>, bool),
    /// A line the runtime writes between reports, such as
    /// `racedet: max_reports=N reached; ...`.
    Notice(String),
    /// `{"fatal": MESSAGE, "pid": .., "program": ..}`: the runtime stopped
    /// the process.
    Fatal {
        message: String,
        program: String,
        pid: u64,
    },
    Blank,
}

/// Parses one line, or says what was expected there.
fn parse_line(line: &str, at: &str) -> Result<Line> {
    let trimmed = line.trim();
    if trimmed.is_empty() {
        return Ok(Line::Blank);
    }
    if trimmed.starts_with("racedet: ") {
        return Ok(Line::Notice(trimmed.to_string()));
    }
    if trimmed.starts_with("==================") || trimmed.starts_with("WARNING: DATA RACE") {
        return Err(Failure::input(format!(
            "{at}: this is a text report; expected JSON reports, one per line (written with \
             RACEDET_OPTIONS=report_format=json, as cargo racedet test does)"
        )));
    }
    let expected = |e: serde_json::Error| {
        // A line that ends inside its object was cut short, not misformed.
        let cut = if e.is_eof() {
            " (the line is cut short: was its process killed while writing it?)"
        } else {
            ""
        };
        Failure::input(format!(
            "{at}: expected a racedet JSON report (one object per line, as written with \
             report_format=json): {e}{cut}"
        ))
    };
    let mut value: Value = serde_json::from_str(trimmed).map_err(expected)?;
    if let Some(message) = value.get("fatal").and_then(Value::as_str) {
        let program = value.get("program").and_then(Value::as_str).unwrap_or("");
        return Ok(Line::Fatal {
            message: message.to_string(),
            program: program.to_string(),
            pid: value.get("pid").and_then(Value::as_u64).unwrap_or(0),
        });
    }
    let unrelated = value
        .get("by_unrelated_thread")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    // Another release's report that does not read as this one's: that is
    // the likely why, and the fix.
    let report = value.get("taken").unwrap_or(&value);
    let version = report
        .get("racedet_version")
        .and_then(Value::as_str)
        .filter(|v| !same_format(v))
        .map(str::to_string);
    match value.get_mut("taken").map(Value::take) {
        Some(taken) => serde_json::from_value(taken).map(|r| Line::Taken(r, unrelated)),
        None => serde_json::from_value(value).map(Line::Report),
    }
    .map_err(|e| match &version {
        Some(v) => Failure::input(format!(
            "{at}: a report of racedet {v}, which this cargo racedet ({}) does not read: {e} \
             (read it with the cargo racedet of racedet {v})",
            env!("CARGO_PKG_VERSION")
        )),
        None => expected(e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_lines_and_runtime_notices_are_not_reports() {
        assert!(matches!(parse_line("", "f:1").unwrap(), Line::Blank));
        assert!(matches!(
            parse_line("racedet: max_reports=1 reached; ...", "f:2").unwrap(),
            Line::Notice(_)
        ));
    }

    #[test]
    fn reports_of_another_release_are_read_with_a_note() {
        assert!(same_format(env!("CARGO_PKG_VERSION")));
        assert!(same_format(""));
        assert!(!same_format("9.9.9"));
        let mut report = crate::races::tests::found(3, "x").report;
        report.racedet_version = "9.9.9".into();
        let file = std::env::temp_dir().join(format!("racedet-load-old-{}", std::process::id()));
        std::fs::write(&file, serde_json::to_string(&report).unwrap() + "\n").unwrap();
        let loaded = load_one(&file);
        std::fs::remove_file(&file).unwrap();
        let loaded = loaded.unwrap();
        assert_eq!(loaded.reports.len(), 1);
        assert!(
            loaded.notes[0].contains("was written by racedet 9.9.9, this is cargo racedet"),
            "{:?}",
            loaded.notes
        );
    }

    #[test]
    fn another_release_s_report_that_does_not_read_names_the_release() {
        let e = parse_line(r#"{"racedet_version":"0.9.0","current":1}"#, "f:2").unwrap_err();
        assert!(
            e.message
                .starts_with("f:2: a report of racedet 0.9.0, which this cargo racedet")
                && e.message
                    .ends_with("(read it with the cargo racedet of racedet 0.9.0)"),
            "{e}"
        );
    }

    #[test]
    fn a_fatal_line_names_the_stopped_program() {
        let line = r#"{"fatal":"racedet: too many threads","pid":7,"program":"t-1"}"#;
        match parse_line(line, "f:1").unwrap() {
            Line::Fatal {
                message,
                program,
                pid,
            } => {
                assert_eq!(message, "racedet: too many threads");
                assert_eq!(program, "t-1");
                assert_eq!(pid, 7);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_bad_line_names_file_and_line() {
        let e = parse_line("{\"kind\": 3}", "dir/report.1:7").unwrap_err();
        assert!(
            e.message
                .starts_with("dir/report.1:7: expected a racedet JSON report"),
            "{e}"
        );
    }

    #[test]
    fn an_empty_report_file_is_a_lost_report() {
        let file = std::env::temp_dir().join(format!("racedet-load-empty-{}", std::process::id()));
        std::fs::write(&file, "").unwrap();
        let loaded = load_one(&file);
        std::fs::remove_file(&file).unwrap();
        let loaded = loaded.unwrap();
        assert_eq!(loaded.empty, [file]);
        assert!(loaded.notes[0].ends_with(
            "is empty: its process had a race to report, but the \
             report was lost (a full disk? killed while writing?); run the tests again"
        ));
    }

    #[test]
    fn a_line_cut_short_says_so() {
        let e = parse_line("{\"kind\": \"data race\", \"cur", "r.1:3").unwrap_err();
        assert!(
            e.message
                .ends_with("(the line is cut short: was its process killed while writing it?)"),
            "{e}"
        );
        let e = parse_line("{\"kind\": 3}", "r.1:4").unwrap_err();
        assert!(!e.message.contains("cut short"), "{e}");
    }

    #[test]
    fn the_directory_of_runs_is_not_a_run_and_the_error_names_one() {
        let runs = std::env::temp_dir().join(format!("racedet-load-runs-{}", std::process::id()));
        std::fs::create_dir_all(runs.join("latest")).unwrap();
        let e = load(std::slice::from_ref(&runs)).unwrap_err();
        std::fs::remove_dir_all(&runs).unwrap();
        assert!(
            e.message.ends_with(&format!(
                "; it holds runs: give one, such as {}",
                runs.join("latest").display()
            )),
            "{e}"
        );
    }

    #[test]
    fn a_text_report_says_json_was_expected() {
        let e = parse_line("==================", "r.txt:1").unwrap_err();
        assert!(e.message.contains("report_format=json"), "{e}");
    }
}
