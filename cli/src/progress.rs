//! Progress of a `cargo test` run, one test binary at a time.
//!
//! cargo runs test binaries one after another and says so on stderr
//! (`     Running tests/foo.rs (target/.../foo-1a2b)`). Each such line ends
//! the previous binary, so its report files are complete: they are counted
//! then, and the binary's race count printed before the next one starts.

use crate::load;
use crate::races::Races;
use crate::run_dir::{BinaryInfo, Unchecked, REPORT_PREFIX};
use crate::summary::races_phrase;
use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

/// What a line of cargo's stderr says, for progress.
#[derive(Debug, PartialEq, Eq)]
pub enum CargoLine {
    /// A test binary starts; the file name of its path.
    Running(String),
    /// Doctests of a crate start.
    DocTests(String),
    /// The process just run failed: `exit status: 101`, `signal: 11, ...`,
    /// and the file name of its program when the line names it (it is
    /// the only line naming the binary under `cargo test -q`).
    Failed(String, Option<String>),
    /// A line the racedet runtime of the process being run wrote to its
    /// stderr (`racedet: ...`): a fatal error is one.
    Runtime(String),
    /// Anything else.
    Other,
}

/// Classifies one line (colours removed first).
pub fn classify(line: &str) -> CargoLine {
    let line = strip_ansi(line);
    let t = line.trim();
    if let Some(rest) = t.strip_prefix("Running ") {
        // `Running [unittests ]SRC (PATH)`: the path is in the last parens;
        // verbose (`-v`): `Running `PATH ARGS...``, and rustdoc's run of
        // the doctests, which the `Doc-tests` line has announced already.
        let path = match rest.strip_prefix('`') {
            Some(command) => program_of(command),
            None => last_parens(rest),
        };
        if let Some(path) = path {
            let name = Path::new(path)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if name != "rustdoc" {
                return CargoLine::Running(name);
            }
        }
    }
    if let Some(krate) = t.strip_prefix("Doc-tests ") {
        return CargoLine::DocTests(krate.trim().to_string());
    }
    if let Some(rest) = t.strip_prefix("process didn't exit successfully: ") {
        if let Some(status) = last_parens(rest) {
            let program = rest
                .strip_prefix('`')
                .and_then(program_of)
                .and_then(|p| Path::new(p).file_name())
                .map(|n| n.to_string_lossy().into_owned());
            return CargoLine::Failed(status.to_string(), program);
        }
    }
    if t.starts_with("racedet: ") {
        return CargoLine::Runtime(t.to_string());
    }
    CargoLine::Other
}

/// The program of a verbose `Running` line's command (after the opening
/// backquote): its first word that is not a `KEY=VALUE` setting (`-vv`
/// puts the environment first, values single-quoted when they have
/// spaces).
fn program_of(command: &str) -> Option<&str> {
    let mut rest = command;
    loop {
        rest = rest.trim_start();
        let word_end = word_end(rest)?;
        let word = &rest[..word_end];
        let is_setting = word.split_once('=').is_some_and(|(key, _)| {
            !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
        if !is_setting {
            return Some(word.trim_end_matches('`'));
        }
        rest = &rest[word_end..];
    }
}

/// Where the shell word at the start of `s` ends (quotes kept in it).
fn word_end(s: &str) -> Option<usize> {
    if s.is_empty() || s.starts_with('`') {
        return None;
    }
    let mut quoted = false;
    for (i, c) in s.char_indices() {
        match c {
            '\'' => quoted = !quoted,
            ' ' | '`' if !quoted => return Some(i),
            _ => {}
        }
    }
    Some(s.len())
}

/// What `TEXT (THIS)` ends with in parentheses.
fn last_parens(s: &str) -> Option<&str> {
    let open = s.rfind(" (")?;
    s.strip_suffix(')').map(|inner| &inner[open + 2..])
}

/// Removes ANSI escape sequences (cargo colours its output on a terminal).
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // CSI: ESC [ parameters... final byte in @..~
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// The binary being run.
struct Current {
    /// `[i/N] name`, as progress lines say it.
    label: String,
    /// `name`: `pkg: tests/foo.rs`, `doctests of CRATE`.
    name: String,
    /// Doctests are built on the fly by rustdoc, so no marker was read.
    doctests: bool,
    instrumented: bool,
    failed: Option<String>,
    /// The file name of its program (empty for doctests).
    program: String,
    /// Known only from its failure line (`-q`): report files since the
    /// last binary summed up may be earlier ones', told apart by program.
    from_failure: bool,
    /// Its runtime's last line was its exit count (`racedet: found N data
    /// race(s)`): it ran to its end and found races.
    counted: bool,
}

/// Whether a runtime's line is its exit count. The count is a process's
/// last line, so any line after it is the next process's (under `-q`,
/// where one that passed names no binary): each line sets the flag anew.
fn is_count(text: &str) -> bool {
    text.starts_with("racedet: found ")
}

/// Follows a `cargo test` run and prints `racedet: [i/N] ...` lines.
pub struct Progress<'a> {
    binaries: &'a [BinaryInfo],
    run_dir: &'a Path,
    counted: HashSet<PathBuf>,
    started: usize,
    current: Option<Current>,
    /// Report files that appeared while doctests ran, and whose.
    doctests: BTreeMap<String, String>,
    /// The exit status racedet's processes end with after races
    /// (`exitcode`; 0: races do not fail them).
    race_status: Option<String>,
    unchecked: Vec<Unchecked>,
    /// `Current::counted` while no binary is known to run (`cargo test
    /// -q` hides the `Running` lines): the failure line names it.
    unattributed_counted: bool,
}

impl<'a> Progress<'a> {
    /// Progress over the binaries found by the build, writing its report
    /// files into `run_dir`, their runtimes exiting with `exitcode` after
    /// races.
    pub fn new(binaries: &'a [BinaryInfo], run_dir: &'a Path, exitcode: i32) -> Progress<'a> {
        Progress {
            binaries,
            run_dir,
            counted: HashSet::new(),
            started: 0,
            current: None,
            doctests: BTreeMap::new(),
            race_status: (exitcode != 0).then(|| format!("exit status: {exitcode}")),
            unchecked: Vec::new(),
            unattributed_counted: false,
        }
    }

    /// Takes one line of cargo's stderr and passes it on to `out`, after
    /// the result of the binary it ends and before the progress line of the
    /// binary it starts.
    pub fn line(&mut self, raw: &[u8], out: &mut dyn Write) {
        let line = String::from_utf8_lossy(raw);
        let kind = classify(&line);
        if matches!(kind, CargoLine::Running(_) | CargoLine::DocTests(_)) {
            self.finish(out);
        }
        let _ = out.write_all(raw);
        match kind {
            CargoLine::Running(program) => {
                self.started += 1;
                let known = self.binaries.iter().find(|b| b.program == program);
                let name = known.map_or(program.as_str(), |b| b.name.as_str());
                let label = format!("[{}/{}] {name}", self.started, self.binaries.len());
                let instrumented = known.is_some_and(|b| b.instrumented);
                let note = if instrumented {
                    ""
                } else {
                    " (NOT instrumented: nothing in it is checked)"
                };
                let _ = writeln!(out, "racedet: {label}: running{note}");
                self.current = Some(Current {
                    label,
                    name: name.to_string(),
                    doctests: false,
                    instrumented,
                    failed: None,
                    program,
                    from_failure: false,
                    counted: false,
                });
            }
            CargoLine::DocTests(krate) => {
                let label = format!("doctests of {krate}");
                let _ = writeln!(out, "racedet: {label}: running");
                self.current = Some(Current {
                    name: label.clone(),
                    label,
                    doctests: true,
                    instrumented: false,
                    failed: None,
                    program: String::new(),
                    from_failure: false,
                    counted: false,
                });
            }
            CargoLine::Failed(status, program) => match (self.current.as_mut(), program) {
                (Some(c), _) => {
                    c.failed.get_or_insert(status);
                }
                // Under `-q` the failure line is the first to name the
                // binary: it is summed up now.
                (None, Some(program)) => {
                    let known = self.binaries.iter().find(|b| b.program == program);
                    let name = known.map_or(program.as_str(), |b| b.name.as_str());
                    self.current = Some(Current {
                        label: name.to_string(),
                        name: name.to_string(),
                        doctests: false,
                        instrumented: known.is_some_and(|b| b.instrumented),
                        failed: Some(status),
                        program,
                        from_failure: true,
                        counted: std::mem::take(&mut self.unattributed_counted),
                    });
                    self.finish(out);
                }
                (None, None) => self.unattributed_counted = false,
            },
            CargoLine::Runtime(text) => match self.current.as_mut() {
                Some(c) => c.counted = is_count(&text),
                None => self.unattributed_counted = is_count(&text),
            },
            CargoLine::Other => {}
        }
    }

    /// Ends the binary being run, if any: counts the races in the report
    /// files that appeared while it ran, and says them.
    pub fn finish(&mut self, out: &mut dyn Write) {
        let Some(c) = self.current.take() else { return };
        let mut found = Vec::new();
        let mut taken = Vec::new();
        let mut fatal = Vec::new();
        for file in self.new_report_files() {
            if c.doctests {
                if let Some(name) = file.file_name() {
                    let name = name.to_string_lossy().into_owned();
                    self.doctests.insert(name, c.label.clone());
                }
            }
            match load::load_one(&file) {
                // Another binary's file (`-q`): not this one's count.
                Ok(loaded)
                    if c.from_failure
                        && loaded.programs.first().is_some_and(|p| *p != c.program) => {}
                Ok(loaded) => {
                    found.extend(loaded.reports);
                    taken.extend(loaded.taken);
                    fatal.extend(loaded.fatal);
                }
                // Said again, as an error, when the run's reports are read.
                Err(e) => {
                    let _ = writeln!(out, "racedet: warning: {e}");
                }
            }
        }
        // Under `-q` the files since the last binary summed up may hold
        // another's reports (one whose races were all taken passed):
        // whether this one reported is told by the reports' program.
        let reported = !taken.is_empty() || found.iter().any(|f| f.report.program == c.program);
        // The run's own dedup, so each binary's count adds up to the summary's.
        let races = Races::merge(found, &taken).len();
        // The runtime's own record of stopping a process of this binary (a
        // fatal line in its log): not a line on stderr, which may be a
        // child's, or under `-q` an earlier binary's.
        let stopped = fatal
            .iter()
            .find(|f| !c.program.is_empty() && f.program == c.program)
            .map(|f| f.message.as_str());
        if let Some((why, stopped)) = self.unchecked_why(&c, reported, stopped) {
            let _ = writeln!(out, "racedet: {}: {why}", c.label);
            self.unchecked.push(Unchecked {
                label: c.name,
                why,
                reports_lost: !stopped,
            });
            return;
        }
        let mut said = if races > 0 {
            races_phrase(races)
        } else if c.doctests {
            "no races reported (doctests are not checked for the runtime marker)".to_string()
        } else if c.instrumented {
            "no races".to_string()
        } else {
            "not instrumented, nothing checked".to_string()
        };
        if let Some(status) = c.failed {
            said.push_str(&format!(" ({status})"));
        }
        let _ = writeln!(out, "racedet: {}: {said}", c.label);
    }

    /// Why binary `c` was not checked through, if it was not: its runtime
    /// stopped it (exit status 2, and a process of its program left a
    /// fatal line, `stopped`, in its log), or it exited with the races'
    /// status after its runtime counted races, yet no report of it
    /// (`reported`) reached the run directory. True with the words when it
    /// was stopped.
    fn unchecked_why(
        &self,
        c: &Current,
        reported: bool,
        stopped: Option<&str>,
    ) -> Option<(String, bool)> {
        if c.doctests || !c.instrumented {
            return None;
        }
        let failed = c.failed.as_deref()?;
        match stopped {
            Some(said) if failed == "exit status: 2" => Some((
                format!("stopped by racedet ({failed}), so not checked to the end: {said}"),
                true,
            )),
            _ if c.counted && !reported && Some(failed) == self.race_status.as_deref() => Some((
                format!(
                    "{failed}, racedet's status for races found, but no report of it is in the \
                     run directory: its reports were lost (the run's output says why)"
                ),
                false,
            )),
            _ => None,
        }
    }

    /// The report files doctests wrote, and whose doctests they were (see
    /// `RunInfo::doctests`), and the binaries not checked through.
    pub fn into_parts(self) -> (BTreeMap<String, String>, Vec<Unchecked>) {
        (self.doctests, self.unchecked)
    }

    fn new_report_files(&mut self) -> Vec<PathBuf> {
        let prefix = format!("{REPORT_PREFIX}.");
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.run_dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
            .map(|e| e.path())
            .filter(|p| !self.counted.contains(p))
            .collect();
        files.sort();
        self.counted.extend(files.iter().cloned());
        files
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_lines_name_the_binary_file() {
        assert_eq!(
            classify("     Running unittests src/lib.rs (target/racedet/debug/deps/foo-1a2b)"),
            CargoLine::Running("foo-1a2b".into())
        );
        assert_eq!(
            classify("\x1b[1m\x1b[92m     Running\x1b[0m tests/x.rs (/abs/deps/x-9f)"),
            CargoLine::Running("x-9f".into())
        );
        // `cargo test -v`: the command, quoted, with its arguments.
        assert_eq!(
            classify("     Running `/abs/target/debug/deps/integration-05aa --test-threads=1`"),
            CargoLine::Running("integration-05aa".into())
        );
        assert_eq!(
            classify("     Running `/abs/deps/x-9f`"),
            CargoLine::Running("x-9f".into())
        );
        // `-vv`: the environment first, quoted where it has spaces.
        assert_eq!(
            classify(
                "     Running `CARGO=/b/cargo CARGO_PKG_DESCRIPTION='a b' N=1 /abs/deps/x-9f --q`"
            ),
            CargoLine::Running("x-9f".into())
        );
        assert_eq!(
            classify("     Running `CARGO=/b/cargo /x/bin/rustdoc --test src/lib.rs`"),
            CargoLine::Other
        );
        assert_eq!(
            classify("     Running `rustdoc --edition=2021 --crate-type lib --test src/lib.rs`"),
            CargoLine::Other
        );
    }

    #[test]
    fn doctests_and_failures_are_recognised() {
        assert_eq!(
            classify("   Doc-tests my_crate"),
            CargoLine::DocTests("my_crate".into())
        );
        assert_eq!(
            classify("  process didn't exit successfully: `/t/deps/x-9f` (exit status: 66)"),
            CargoLine::Failed("exit status: 66".into(), Some("x-9f".into()))
        );
        assert_eq!(
            classify("  process didn't exit successfully: `/t/x-9f --q` (signal: 9, SIGKILL)"),
            CargoLine::Failed("signal: 9, SIGKILL".into(), Some("x-9f".into()))
        );
        assert_eq!(classify("test result: ok."), CargoLine::Other);
        assert_eq!(
            classify("racedet: cannot open log file /x/r.7: denied"),
            CargoLine::Runtime("racedet: cannot open log file /x/r.7: denied".into())
        );
    }

    fn binary(program: &str) -> BinaryInfo {
        BinaryInfo {
            name: format!("pkg: tests/{program}.rs"),
            program: program.to_string(),
            path: PathBuf::from(program),
            instrumented: true,
            marker: String::new(),
        }
    }

    /// Feeds `lines` of cargo's stderr for binaries `a` and `b` run with no
    /// report file; returns what was said and the unchecked binaries.
    fn follow(lines: &[&str]) -> (String, Vec<Unchecked>) {
        follow_with(66, lines)
    }

    /// `follow` for processes whose runtime exits with `exitcode` after races.
    fn follow_with(exitcode: i32, lines: &[&str]) -> (String, Vec<Unchecked>) {
        follow_in(exitcode, &[], lines)
    }

    /// `follow_with` with these report files in the run directory from the
    /// start (as if written by processes that ran before the lines).
    fn follow_in(
        exitcode: i32,
        files: &[(&str, String)],
        lines: &[&str],
    ) -> (String, Vec<Unchecked>) {
        static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let binaries = [binary("a-1"), binary("b-2")];
        let dir = std::env::temp_dir().join(format!("racedet-progress-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (name, text) in files {
            std::fs::write(dir.join(name), text).unwrap();
        }
        let mut progress = Progress::new(&binaries, &dir, exitcode);
        let mut out = Vec::new();
        for line in lines {
            // `STOPPED program`: that program's runtime stops a process,
            // writing its fatal line (as `global::fatal` does) then its
            // stderr line.
            if let Some(program) = line.strip_prefix("STOPPED ") {
                let fatal = format!(
                    "{{\"fatal\":\"racedet: too many threads alive at once\",\"pid\":5,\
                     \"program\":\"{program}\"}}\n"
                );
                let n = std::fs::read_dir(&dir).unwrap().count();
                std::fs::write(dir.join(format!("report.{}", 100 + n)), fatal).unwrap();
                progress.line(b"racedet: too many threads alive at once\n", &mut out);
                continue;
            }
            progress.line(format!("{line}\n").as_bytes(), &mut out);
        }
        progress.finish(&mut out);
        let _ = std::fs::remove_dir_all(&dir);
        (String::from_utf8(out).unwrap(), progress.into_parts().1)
    }

    /// A report line of program `program`, as its process wrote it, taken
    /// by it (`{"taken": ..}`) or not.
    fn report_line(program: &str, taken: bool) -> String {
        let mut report = crate::races::tests::found(3, "x").report;
        report.program = program.to_string();
        let line = serde_json::to_string(&report).unwrap();
        if taken {
            format!("{{\"taken\":{line}}}\n")
        } else {
            format!("{line}\n")
        }
    }

    #[test]
    fn under_q_a_passing_binary_s_lines_and_files_are_not_the_next_one_s() {
        // a-1 took its race and passed (no failure line); b-2 was stopped.
        let (said, unchecked) = follow(&[
            "racedet: found 1 data race(s) (1 taken by racedet::reports::take)",
            "STOPPED b-2",
            "  process didn't exit successfully: `/t/deps/b-2 -q` (exit status: 2)",
        ]);
        assert_eq!(unchecked.len(), 1, "{said}");
        assert!(unchecked[0].why.starts_with("stopped by racedet"), "{said}");
        // b-2's reports were lost; a-1's file, with its taken race, is not
        // b-2's report, nor its race.
        let (said, unchecked) = follow_in(
            66,
            &[("report.1", report_line("a-1", true))],
            &[
                "racedet: found 1 data race(s) (1 taken by racedet::reports::take)",
                "racedet: cannot write log file /r/report.2: No space left on device; ...",
                "racedet: found 1 data race(s)",
                "  process didn't exit successfully: `/t/deps/b-2 -q` (exit status: 66)",
            ],
        );
        assert_eq!(unchecked.len(), 1, "{said}");
        assert!(unchecked[0].reports_lost, "{said}");
        // exitcode=0: a-1's race passed; b-2 exits 3 by itself, with none.
        let (said, unchecked) = follow_in(
            0,
            &[("report.1", report_line("a-1", false))],
            &["  process didn't exit successfully: `/t/deps/b-2 -q` (exit status: 3)"],
        );
        assert!(unchecked.is_empty(), "{said}");
        assert!(
            said.ends_with("\nracedet: pkg: tests/b-2.rs: no races (exit status: 3)\n"),
            "{said}"
        );
    }

    #[test]
    fn a_binary_stopped_by_racedet_or_without_its_reports_is_not_called_clean() {
        let (said, unchecked) = follow(&[
            "     Running tests/a.rs (/t/deps/a-1)",
            "racedet: found 1 data race(s)",
            "error: test failed, to rerun pass `--test a`",
            "  process didn't exit successfully: `/t/deps/a-1` (exit status: 66)",
            "     Running tests/b.rs (/t/deps/b-2)",
            "STOPPED b-2",
            "  process didn't exit successfully: `/t/deps/b-2` (exit status: 2)",
        ]);
        assert_eq!(unchecked.len(), 2, "{said}");
        assert_eq!(unchecked[1].label, "pkg: tests/b-2.rs");
        assert!(
            unchecked[0]
                .why
                .starts_with("exit status: 66, racedet's status for races found"),
            "{said}"
        );
        assert_eq!(
            unchecked[1].why,
            "stopped by racedet (exit status: 2), so not checked to the end: racedet: too many \
             threads alive at once"
        );
        assert!(!said.contains("no races"), "{said}");
        assert!(
            said.contains("racedet: [2/2] pkg: tests/b-2.rs: stopped by racedet"),
            "{said}"
        );
    }

    #[test]
    fn under_q_the_failure_line_names_the_binary_not_checked_through() {
        // `cargo test -q`: no `Running` lines.
        let (said, unchecked) = follow(&[
            "racedet: found 2 data race(s)",
            "error: test failed, to rerun pass `--test a`",
            "  process didn't exit successfully: `/t/deps/a-1 -q` (exit status: 66)",
            "STOPPED b-2",
            "  process didn't exit successfully: `/t/deps/b-2 -q` (exit status: 2)",
        ]);
        let labels: Vec<&str> = unchecked.iter().map(|u| u.label.as_str()).collect();
        assert_eq!(labels, ["pkg: tests/a-1.rs", "pkg: tests/b-2.rs"], "{said}");
        assert!(
            unchecked[0].reports_lost && !unchecked[1].reports_lost,
            "{said}"
        );
        assert!(
            said.contains("racedet: pkg: tests/b-2.rs: stopped by racedet"),
            "{said}"
        );
    }

    #[test]
    fn a_custom_exitcode_is_not_taken_for_races_nor_a_finished_run_for_a_stopped_one() {
        // exitcode=1: a test binary exiting 1 by itself found no race (its
        // runtime printed no count).
        let (said, unchecked) = follow_with(
            1,
            &[
                "     Running tests/a.rs (/t/deps/a-1)",
                "  process didn't exit successfully: `/t/deps/a-1` (exit status: 1)",
            ],
        );
        assert!(unchecked.is_empty(), "{said}");
        // exitcode=2: a run that reached its count was not stopped, even
        // after a runtime line.
        let (said, unchecked) = follow_with(
            2,
            &[
                "     Running tests/a.rs (/t/deps/a-1)",
                "racedet: cannot write log file /r/report.9: No space left on device; ...",
                "racedet: found 1 data race(s)",
                "  process didn't exit successfully: `/t/deps/a-1` (exit status: 2)",
            ],
        );
        assert_eq!(unchecked.len(), 1, "{said}");
        assert!(unchecked[0].reports_lost, "{said}");
    }

    #[test]
    fn a_child_process_s_stop_is_not_the_binary_s() {
        // A test of b-2 runs a child (another program) that racedet
        // stops, then b-2 exits 2 by itself; and under `-q`, a passing
        // a-1's child was stopped before b-2 exits 2.
        for lines in [
            &[
                "     Running tests/b.rs (/t/deps/b-2)",
                "STOPPED child-9",
                "  process didn't exit successfully: `/t/deps/b-2` (exit status: 2)",
            ][..],
            &[
                "STOPPED a-1",
                "  process didn't exit successfully: `/t/deps/b-2 -q` (exit status: 2)",
            ],
        ] {
            let (said, unchecked) = follow(lines);
            assert!(unchecked.is_empty(), "{said}");
            assert!(
                said.contains("pkg: tests/b-2.rs: no races (exit status: 2)"),
                "{said}"
            );
        }
    }

    #[test]
    fn a_test_s_own_failure_is_not_blamed_on_racedet() {
        let (said, unchecked) = follow(&[
            "     Running tests/a.rs (/t/deps/a-1)",
            "  process didn't exit successfully: `/t/deps/a-1` (exit status: 101)",
            "     Running tests/b.rs (/t/deps/b-2)",
            "racedet: note: symbolizer /x/llvm-symbolizer failed (...)",
            "  process didn't exit successfully: `/t/deps/b-2` (exit status: 2)",
        ]);
        assert!(unchecked.is_empty(), "{said}");
        assert!(
            said.contains("pkg: tests/b-2.rs: no races (exit status: 2)"),
            "{said}"
        );
    }
}
