//! The runtime seen from outside: exit status, options, log files, report
//! formats and suppressions, on a real subprocess (`src/bin/racy.rs`).

use racedet::reports::{Report, ReportKind};
use std::process::{Command, Output};

fn racy(mode: &str, options: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_racy"))
        .arg(mode)
        .env("RACEDET_OPTIONS", options)
        .output()
        .expect("racy runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn blocks(text: &str) -> usize {
    text.matches("WARNING: DATA RACE").count()
}

/// A fresh directory of this test, removed when dropped (at the test's
/// end, passed or failed).
struct TempDir(std::path::PathBuf);

impl std::ops::Deref for TempDir {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp_dir(name: &str) -> TempDir {
    let dir = std::env::temp_dir().join(format!("racedet-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

#[test]
fn exit_status_is_66_after_a_race() {
    let o = racy("race", "");
    assert_eq!(o.status.code(), Some(66), "{}", stderr(&o));
    assert!(stderr(&o).contains("WARNING: DATA RACE: concurrent map writes"));
    assert!(
        stderr(&o).ends_with("racedet: found 1 data race(s)\n"),
        "{}",
        stderr(&o)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("racy: race done"));
}

#[test]
fn exit_status_is_0_without_races() {
    let o = racy("clean", "");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(blocks(&stderr(&o)), 0);
    assert!(!stderr(&o).contains("racedet:"));
}

#[test]
fn a_race_taken_by_the_test_that_made_it_does_not_set_the_status() {
    let o = racy("taken-here", "");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).ends_with("racedet: found 1 data race(s) (1 taken by racedet::reports::take)\n"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_race_taken_by_another_test_is_said_at_exit() {
    // One test's `take()` drains a race another test made (libtest runs
    // them side by side in one process): handled, as SPEC's `take` says,
    // but the exit line and the JSON log tell it from a test's own.
    let o = racy("taken-elsewhere", "");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).ends_with(
            "racedet: found 1 data race(s) (1 taken by racedet::reports::take, 1 of them on a \
             thread unrelated to the race: another test's? take() drains every test's reports)\n"
        ),
        "{}",
        stderr(&o)
    );
    for (mode, unrelated) in [("taken-elsewhere", true), ("taken-here", false)] {
        let o = racy(mode, "report_format=json");
        let taken: Vec<serde_json::Value> = stderr(&o)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v.get("taken").is_some())
            .collect();
        assert_eq!(taken.len(), 1, "{}", stderr(&o));
        assert_eq!(taken[0]["by_unrelated_thread"], unrelated, "{mode}");
    }
}

#[test]
fn exitcode_option_sets_the_status() {
    let o = racy("race", "exitcode=7");
    assert_eq!(o.status.code(), Some(7));
}

#[test]
fn each_distinct_race_is_reported_once() {
    let o = racy("two", "");
    assert_eq!(o.status.code(), Some(66));
    assert_eq!(blocks(&stderr(&o)), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("racedet: found 2 data race(s)"));
}

#[test]
fn halt_on_error_stops_at_the_first_report() {
    let o = racy("two", "halt_on_error=1");
    assert_eq!(o.status.code(), Some(66));
    assert_eq!(blocks(&stderr(&o)), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("racedet: found 1 data race(s)"));
    assert!(
        !String::from_utf8_lossy(&o.stdout).contains("done"),
        "the program stopped"
    );
}

#[test]
fn max_reports_limits_printing_but_not_counting() {
    let o = racy("two", "max_reports=1");
    assert_eq!(o.status.code(), Some(66));
    let err = stderr(&o);
    assert_eq!(blocks(&err), 1, "{err}");
    assert!(err.contains("max_reports=1 reached"), "{err}");
    assert!(err.contains("racedet: found 2 data race(s)"), "{err}");
}

#[test]
fn log_path_writes_prefix_dot_pid() {
    let dir = temp_dir("log");
    let prefix = dir.join("races");
    let child = Command::new(env!("CARGO_BIN_EXE_racy"))
        .arg("race")
        .env("RACEDET_OPTIONS", format!("log_path={}", prefix.display()))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(66));
    let log =
        std::fs::read_to_string(format!("{}.{pid}", prefix.display())).expect("PREFIX.PID exists");
    assert_eq!(blocks(&log), 1, "{log}");
    assert!(log.contains("racedet: found 1 data race(s)"));
    assert_eq!(blocks(&stderr(&o)), 0, "reports go to the log, not stderr");
    assert!(
        stderr(&o).contains("racedet: found 1 data race(s)"),
        "the summary still shows"
    );
}

/// `racy MODE` started by `sh -c 'SETUP; exec racy MODE'`: SETUP can
/// prepare `PREFIX.$$`, the log file the process will open (`exec` keeps
/// the shell's pid, `$$`).
fn racy_after(setup: &str, mode: &str, options: &str) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(format!("{setup}; exec \"$0\" \"$1\""))
        .arg(env!("CARGO_BIN_EXE_racy"))
        .arg(mode)
        .env("RACEDET_OPTIONS", options)
        .output()
        .expect("sh runs racy")
}

#[test]
fn a_log_file_that_cannot_be_written_sends_the_reports_to_stderr_saying_so_once() {
    let dir = temp_dir("fulllog");
    let prefix = dir.join("races");
    let o = racy_after(
        &format!("ln -s /dev/full '{}.'$$", prefix.display()),
        "two",
        &format!("log_path={}", prefix.display()),
    );
    assert_eq!(o.status.code(), Some(66), "{}", stderr(&o));
    let err = stderr(&o);
    let failure: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("racedet: cannot write log file"))
        .collect();
    assert_eq!(failure.len(), 1, "{err}");
    assert!(
        failure[0].starts_with(&format!(
            "racedet: cannot write log file {}.",
            prefix.display()
        )) && failure[0].contains("No space left on device")
            && failure[0].contains(
                "this report and all later output go to stderr instead, the file keeping the 0 \
                 whole reports written before"
            ),
        "{err}"
    );
    assert_eq!(blocks(&err), 2, "both reports on stderr: {err}");
    assert_eq!(err.matches("racedet: found").count(), 1, "{err}");
    assert!(err.ends_with("racedet: found 2 data race(s)\n"), "{err}");

    // A file size limit (in 512-byte blocks) lets the first report in and
    // cuts the second: the line says how many the file keeps whole. The
    // reports' sizes are measured first, unlimited.
    let child = Command::new(env!("CARGO_BIN_EXE_racy"))
        .arg("two")
        .env(
            "RACEDET_OPTIONS",
            format!("log_path={}", dir.join("sizes").display()),
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let log = format!("{}.{}", dir.join("sizes").display(), child.id());
    child.wait_with_output().unwrap();
    let log = std::fs::read_to_string(log).unwrap();
    // Each report opens and closes with this rule.
    let rule = "==================\n";
    let ends: Vec<usize> = log
        .match_indices(rule)
        .map(|(at, _)| at + rule.len())
        .collect();
    assert_eq!(ends.len(), 4, "two reports: {log}");
    let blocks_for_first = ends[1].div_ceil(512);
    assert!(
        ends[3] > blocks_for_first * 512,
        "the second must not fit: {log}"
    );
    let o = racy_after(
        &format!("trap '' XFSZ; ulimit -f {blocks_for_first}"),
        "two",
        &format!("log_path={}", dir.join("limited").display()),
    );
    assert_eq!(o.status.code(), Some(66), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("File too large")
            && err.contains(
                "this report and all later output go to stderr instead, the file keeping the 1 \
                 whole report written before"
            ),
        "{err}"
    );
    assert_eq!(blocks(&err), 1, "{err}");
    assert!(err.contains("WARNING: DATA RACE: data race"), "{err}");
    // The part of the second report that got in was cut back off: the file
    // ends with the first one, whole.
    let limited = std::fs::read_dir(&*dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("limited.")
        })
        .expect("the limited run's log");
    let kept = std::fs::read_to_string(limited).unwrap();
    assert_eq!(blocks(&kept), 1, "{kept}");
    assert!(kept.ends_with(rule), "{kept}");
}

#[test]
fn a_log_file_that_cannot_be_opened_sends_the_reports_to_stderr_saying_so() {
    let dir = temp_dir("dirlog");
    let prefix = dir.join("races");
    let o = racy_after(
        &format!("mkdir '{}.'$$", prefix.display()),
        "race",
        &format!("log_path={}", prefix.display()),
    );
    assert_eq!(o.status.code(), Some(66), "{}", stderr(&o));
    let err = stderr(&o);
    let first = err.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(&format!(
            "racedet: cannot open log file {}.",
            prefix.display()
        )) && first.contains("Is a directory")
            && first.ends_with(
                "this report and all later output go to stderr instead (fix `log_path=` in \
                 RACEDET_OPTIONS)"
            ),
        "{err}"
    );
    assert_eq!(blocks(&err), 1, "{err}");
    assert!(err.ends_with("racedet: found 1 data race(s)\n"), "{err}");
}

#[test]
fn a_log_path_outside_an_existing_directory_is_a_one_line_error_at_start() {
    // Said at start, racy or clean: not at the first race, which it
    // would cost, nor never.
    for mode in ["race", "clean"] {
        let o = racy(mode, "log_path=/nonexistent/dir/r");
        assert_eq!(o.status.code(), Some(2), "{mode}: {}", stderr(&o));
        let err = stderr(&o);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with(
                "racedet: bad RACEDET_OPTIONS: `log_path=/nonexistent/dir/r`: directory \
                 /nonexistent/dir: No such file or directory"
            ),
            "{err}"
        );
        assert!(String::from_utf8_lossy(&o.stdout).is_empty(), "{mode}");
    }
}

#[test]
fn a_log_path_naming_a_directory_is_refused_not_written_as_a_hidden_file() {
    let dir = temp_dir("dirprefix");
    let value = format!("{}/", dir.display());
    let o = racy("race", &format!("log_path={value}"));
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!(
            "`log_path={value}` names a directory; log_path is a file prefix (log_path={0}/report \
             writes {0}/report.PID)",
            dir.display()
        )),
        "{err}"
    );
    let made: Vec<_> = std::fs::read_dir(&*dir).unwrap().collect();
    assert!(made.is_empty(), "no `.PID` file: {made:?}");
}

#[test]
fn a_clean_process_with_a_log_path_leaves_no_file() {
    let dir = temp_dir("cleanlog");
    let o = racy("clean", &format!("log_path={}/r", dir.display()));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let made: Vec<_> = std::fs::read_dir(&*dir).unwrap().collect();
    assert!(made.is_empty(), "{made:?}");
}

#[test]
fn bad_option_key_is_a_one_line_error_naming_it() {
    let o = racy("clean", "exticode=1");
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("unknown key `exticode`") && err.contains("exitcode"),
        "{err}"
    );
}

/// Run only as the child of
/// `fatal_errors_reach_stderr_though_libtest_captures_the_test_s_output`
/// (ignored otherwise): starts racedet on a test thread, whose output
/// libtest captures.
#[test]
#[ignore = "the child of fatal_errors_reach_stderr_though_libtest_captures_the_test_s_output"]
fn child_starting_racedet_on_a_test_thread() {
    racedet::cell::RaceCell::new(0u8).set(1);
}

#[test]
fn fatal_errors_reach_stderr_though_libtest_captures_the_test_s_output() {
    // This test binary runs itself on the test above, with a misspelt
    // option: the one-line error must show without `--nocapture`, though
    // the process ends at once (nothing libtest captured is printed).
    let o = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "--ignored",
            "child_starting_racedet_on_a_test_thread",
        ])
        .env("RACEDET_OPTIONS", "halt_on_eror=1")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("racedet: bad RACEDET_OPTIONS") && err.contains("halt_on_eror"),
        "{err}"
    );
}

#[test]
fn bad_option_value_is_a_one_line_error_naming_the_accepted_values() {
    let o = racy("clean", "report_format=xml");
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("`xml`") && err.contains("`json`"), "{err}");
}

#[test]
fn options_that_are_not_utf8_are_a_one_line_error_not_a_silent_default() {
    use std::os::unix::ffi::OsStrExt;
    let o = Command::new(env!("CARGO_BIN_EXE_racy"))
        .arg("clean")
        .env(
            "RACEDET_OPTIONS",
            std::ffi::OsStr::from_bytes(b"exitcode=\xff"),
        )
        .output()
        .expect("racy runs");
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("RACEDET_OPTIONS is not valid UTF-8"), "{err}");
}

#[test]
fn json_reports_are_one_object_per_line_and_round_trip() {
    let o = racy("two", "report_format=json");
    assert_eq!(o.status.code(), Some(66));
    let err = stderr(&o);
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with('{')).collect();
    let reports: Vec<Report> = lines
        .iter()
        .map(|l| serde_json::from_str(l).expect("each line is a report"))
        .collect();
    assert_eq!(reports.len(), 2, "{err}");
    let kinds: Vec<ReportKind> = reports.iter().map(|r| r.kind).collect();
    assert!(kinds.contains(&ReportKind::MapWrites) && kinds.contains(&ReportKind::DataRace));
    for (line, r) in lines.iter().zip(&reports) {
        // Byte for byte: no field is lost, renamed or reordered on the way
        // through the Report type (the CLI reads and re-writes these).
        assert_eq!(serde_json::to_string(r).unwrap(), *line);
        assert_eq!(r.program, "racy");
        assert!(r.current.site.file.ends_with("racy.rs"));
        assert!(r.previous.site.file.ends_with("racy.rs"));
    }
    let map = reports
        .iter()
        .find(|r| r.kind == ReportKind::MapWrites)
        .unwrap();
    assert_eq!(map.current.site.line, 11);
    assert_eq!(map.previous.site.line, 11);
    assert_eq!(map.object.created_at.as_ref().unwrap().line, 15);
    let cell = reports
        .iter()
        .find(|r| r.kind == ReportKind::DataRace)
        .unwrap();
    let mut cell_lines = [cell.current.site.line, cell.previous.site.line];
    cell_lines.sort();
    assert_eq!(cell_lines, [33, 34], "the two `set`s of cell_race");
    assert_eq!(cell.object.kind, "cell");
}

#[test]
fn the_process_main_thread_is_reported_as_the_main_thread() {
    // cell_race: the process's main thread sets the cell at line 34, a
    // racedet thread at line 33. Only the first is "main thread" (id 0).
    // The guard that telling the main thread by its thread id still finds
    // it (a std thread named "main" is the other half: cells_threads_locks).
    let o = racy("cell", "report_format=json");
    assert_eq!(o.status.code(), Some(66), "{}", stderr(&o));
    let err = stderr(&o);
    let line = err.lines().find(|l| l.starts_with('{')).expect("a report");
    let r: Report = serde_json::from_str(line).unwrap();
    for side in [&r.current, &r.previous] {
        let main = side.site.line == 34;
        assert_eq!(side.thread.id == 0, main, "{err}");
        assert_eq!(side.thread.label() == "main thread", main, "{err}");
    }
}

#[test]
fn strip_path_prefix_shortens_exact_sites_and_stack_frames_alike() {
    // Exact sites are relative to the workspace root, debug-info paths
    // absolute: a root-relative prefix and an absolute one shorten both.
    let root = std::fs::canonicalize(concat!(env!("CARGO_MANIFEST_DIR"), "/../")).unwrap();
    let absolute = format!("{}/tests/src/", root.display());
    for prefix in ["tests/src/", absolute.as_str()] {
        let o = racy(
            "race",
            &format!("report_format=json strip_path_prefix={prefix}"),
        );
        let err = stderr(&o);
        let line = err.lines().find(|l| l.starts_with('{')).expect("a report");
        let r: Report = serde_json::from_str(line).unwrap();
        let mut files: Vec<&str> = vec![&r.current.site.file, &r.previous.site.file];
        files.extend(
            r.current
                .stack
                .iter()
                .filter_map(|f| f.site.as_ref())
                .map(|s| s.file.as_str())
                .filter(|f| f.ends_with("racy.rs")),
        );
        assert!(files.len() > 2, "{prefix}: a stack frame in racy.rs\n{err}");
        assert!(
            files.iter().all(|f| *f == "bin/racy.rs"),
            "{prefix}: {files:?}"
        );
    }
}

#[test]
fn suppressions_hide_matching_races() {
    let dir = temp_dir("supp");
    let file = dir.join("supp.txt");
    std::fs::write(
        &file,
        "# known race in the cache\nrace:racy::apply_update\n",
    )
    .unwrap();
    let o = racy("race", &format!("suppressions={}", file.display()));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(blocks(&stderr(&o)), 0);
    // Said at exit, so a pattern that hides more than meant is noticed.
    assert!(
        stderr(&o).ends_with("racedet: found 0 data race(s) (1 suppressed)\n"),
        "{}",
        stderr(&o)
    );
    // One of two distinct races suppressed: the other still counts.
    let o = racy("two", &format!("suppressions={}", file.display()));
    assert_eq!(o.status.code(), Some(66), "{}", stderr(&o));
    assert_eq!(blocks(&stderr(&o)), 1);
    assert!(
        stderr(&o).ends_with("racedet: found 1 data race(s) (1 suppressed)\n"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn malformed_suppressions_file_is_a_one_line_error_naming_the_line() {
    let dir = temp_dir("badsupp");
    let file = dir.join("supp.txt");
    std::fs::write(&file, "race:fine\nrace apply_update\n").unwrap();
    let o = racy("race", &format!("suppressions={}", file.display()));
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("line 2") && err.contains("race:PATTERN"),
        "{err}"
    );
}

#[test]
fn a_symbolizer_that_fails_is_said_once_and_reports_keep_their_stacks() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("badsym");
    let program = dir.join("failing-symbolizer");
    std::fs::write(&program, "#!/bin/sh\nexit 1\n").unwrap();
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    let o = racy("two", &format!("symbolizer={}", program.display()));
    assert_eq!(o.status.code(), Some(66), "{}", stderr(&o));
    let err = stderr(&o);
    let note = format!("racedet: note: symbolizer {} failed", program.display());
    assert_eq!(err.matches(&note).count(), 1, "{err}");
    assert!(
        err.contains("report stacks are resolved in process instead"),
        "{err}"
    );
    assert_eq!(blocks(&err), 2, "{err}");
    assert!(
        err.contains("racy::apply_update"),
        "resolved in process: {err}"
    );
}

#[test]
fn history_full_keeps_the_previous_stack() {
    let o = racy("race", "history=full");
    let err = stderr(&o);
    let previous = err
        .split("Previous write")
        .nth(1)
        .expect("a previous access");
    let previous = previous.split("\n\n").next().unwrap();
    assert!(previous.contains("racy::apply_update"), "{previous}");
    assert!(
        !err.contains("run with RACEDET_OPTIONS=history=full"),
        "{err}"
    );
}

#[test]
fn default_history_says_how_to_get_the_previous_stack() {
    let o = racy("race", "");
    assert!(stderr(&o).contains("RACEDET_OPTIONS=history=full"));
}

/// The text report's structure, with addresses and library frames removed
/// (they vary with the toolchain), against a golden file.
#[test]
fn text_report_matches_the_golden_structure() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../");
    let root = std::fs::canonicalize(root).unwrap();
    let o = racy("race", &format!("strip_path_prefix={}/", root.display()));
    let err = stderr(&o);
    let mut skeleton = Vec::new();
    let mut keep_next = false;
    for line in err.lines() {
        let line = normalize_address(line);
        if keep_next {
            skeleton.push(line.clone());
            keep_next = false;
        } else if !line.starts_with("  ") {
            skeleton.push(line.clone());
        } else if line.trim_start().starts_with("racy::") {
            skeleton.push(line.clone());
            keep_next = true;
        } else if line.trim_start().starts_with("tests/src/bin/racy.rs") || line.starts_with("  (")
        {
            skeleton.push(line.clone());
        }
    }
    let got = skeleton.join("\n") + "\n";
    let golden_path = concat!(env!("CARGO_MANIFEST_DIR"), "/golden/two_writers.txt");
    if std::env::var_os("RACEDET_BLESS").is_some() {
        std::fs::write(golden_path, &got).unwrap();
    }
    let golden =
        std::fs::read_to_string(golden_path).expect("golden file (RACEDET_BLESS=1 writes it)");
    // Which worker comes second varies; the golden names worker threads
    // generically.
    let normalize_workers = |s: &str| {
        s.replace("worker-0", "worker-N")
            .replace("worker-1", "worker-N")
            .replace("T1 ", "TN ")
            .replace("T2 ", "TN ")
    };
    assert_eq!(normalize_workers(&got), normalize_workers(&golden));
}

fn normalize_address(line: &str) -> String {
    match line.find("0x") {
        Some(i) => {
            let end = line[i + 2..]
                .find(|c: char| !c.is_ascii_hexdigit())
                .map_or(line.len(), |e| i + 2 + e);
            format!("{}0xADDR{}", &line[..i], &line[end..])
        }
        None => line.to_string(),
    }
}

#[test]
fn a_fatal_error_is_also_a_line_in_a_json_log_for_tools_that_read_the_run() {
    // cargo racedet reads the run directory, not every process's stderr
    // (nextest's, doctests'): a process the runtime stopped says so there.
    let dir = temp_dir("fatallog");
    let prefix = dir.join("report");
    let missing = dir.join("missing-suppressions.txt");
    let child = Command::new(env!("CARGO_BIN_EXE_racy"))
        .arg("race")
        .env(
            "RACEDET_OPTIONS",
            format!(
                "report_format=json log_path={} suppressions={}",
                prefix.display(),
                missing.display()
            ),
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let message = stderr(&o).trim_end().to_string();
    assert!(message.starts_with("racedet: "), "{message}");
    let log = std::fs::read_to_string(format!("{}.{pid}", prefix.display())).expect("the log");
    let line: serde_json::Value = serde_json::from_str(log.trim_end()).unwrap();
    assert_eq!(line["fatal"], message.as_str(), "{log}");
    assert_eq!(line["pid"], pid);
    assert_eq!(line["program"], "racy");
    assert_eq!(log.lines().count(), 1, "{log}");

    // A text log is for people: stderr says it, the log gets no JSON.
    let o = racy(
        "race",
        &format!(
            "log_path={} suppressions={}",
            dir.join("text").display(),
            missing.display()
        ),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(std::fs::read_dir(&*dir).unwrap().all(|e| !e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .starts_with("text.")));
}
