//! `cargo racedet test` and `cargo racedet nextest`: build the suite with
//! detection, list binaries that are not instrumented, run it with reports
//! going to a fresh run directory, and sum up.

use crate::artifacts;
use crate::cargo::{self, Workspace};
use crate::detect_env;
use crate::error::{Failure, Result, NOT_INSTRUMENTED};
use crate::load;
use crate::progress::Progress;
use crate::races::Races;
use crate::run_dir::{self, RunInfo, Unchecked, REPORT_PREFIX};
use crate::runner::{Runner, RunnerArgs};
use crate::summary::{self, plural, races_phrase};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};

/// Runs the suite; returns the exit status: the races' `exitcode` (66) when
/// races were found, else the runner's own status.
pub fn run(runner: Runner, args: &[String], fail_fast: bool) -> Result<i32> {
    let rargs = RunnerArgs::parse(runner, args, fail_fast)?;
    let fix = match rargs.manifest_path {
        Some(_) => "fix --manifest-path",
        None => "pass --manifest-path",
    };
    let ws = Workspace::find(rargs.manifest_path.as_deref(), fix)?;
    // Absolute: RACEDET_OPTIONS names files under it for test processes.
    let base = match &rargs.target_dir {
        Some(dir) => detect_env::from_here(dir)?,
        None => ws.target_dir.clone(),
    };
    detect_env::validate_user_options(&cargo::runs_dir(&base))?;
    let target = cargo::racedet_dir(&base);
    let build_vars = detect_env::build_vars(&rargs.targets, &rargs.configs)?;
    let mut err = std::io::stderr();

    let built = if rargs.doc {
        // rustdoc builds each doctest as it runs it.
        artifacts::Built::default()
    } else {
        let _ = writeln!(
            err,
            "racedet: building tests with detection in {}",
            target.display()
        );
        let build = artifacts::command(
            runner,
            runner.build_only_flags(diagnostics_in_color(rargs.color.as_deref())),
            &rargs.build,
            &target,
            &build_vars,
        );
        artifacts::build(build, runner, &ws)?
    };
    let mut info = RunInfo {
        racedet_version: env!("CARGO_PKG_VERSION").to_string(),
        runner: runner.name().to_string(),
        args: args.to_vec(),
        started_unix: run_dir::unix_now(),
        workspace: Some(ws.root.clone()),
        binaries: built.binaries,
        runner_status: None,
        doctests: BTreeMap::new(),
        dir: PathBuf::new(),
        unchecked: Vec::new(),
    };
    if rargs.no_run {
        // Nothing builds again to replay the warnings.
        for text in &built.warnings {
            let _ = write!(err, "{text}");
        }
        say_instrumentation(&info, &mut err);
        let _ = writeln!(err, "racedet: --no-run: built, not run");
        return Ok(0);
    }

    // Only now, so a failed build leaves no empty run behind `latest`.
    let run_dir = run_dir::create(&cargo::runs_dir(&base))?;
    let options = detect_env::run_options(&run_dir.join(REPORT_PREFIX))?;
    let _ = writeln!(err, "racedet: run directory {}", run_dir.display());
    for pair in &options.replaced {
        let _ = writeln!(
            err,
            "racedet: note: RACEDET_OPTIONS `{pair}` is replaced for this run (reports go to the run directory as JSON)"
        );
    }
    info.save(&run_dir)?;
    if rargs.doc {
        let _ = writeln!(
            err,
            "racedet: --doc: only the doctests run (rustdoc builds them with detection as it runs them)"
        );
    } else {
        say_instrumentation(&info, &mut err);
    }

    let mut vars = build_vars;
    vars.push(options.var.clone());
    let mut cmd = artifacts::command(runner, &[], &rargs.run, &target, &vars);
    let status = match runner {
        Runner::CargoTest => {
            let (status, doctests, unchecked) =
                run_with_progress(cmd, &info, &run_dir, options.exitcode)?;
            info.doctests = doctests;
            info.unchecked = unchecked;
            status
        }
        // nextest shows its own per-test progress; its output is left alone.
        Runner::Nextest => cmd
            .stdin(Stdio::inherit())
            .status()
            .map_err(|e| Failure::input(format!("cannot run {}: {e}", runner.name())))?,
    };
    let code = exit_code(status);
    info.runner_status = Some(code);
    info.save(&run_dir)?;

    let loaded = load::load(std::slice::from_ref(&run_dir))?;
    // Under nextest and in doctests the progress follows no binary: the
    // runtime's own fatal lines in the run say which were stopped.
    info.note_fatal(&loaded.fatal);
    info.save(&run_dir)?;
    for note in &loaded.notes {
        let _ = writeln!(err, "racedet: note: {note}");
    }
    let mut races = Races::merge(loaded.reports, &loaded.taken);
    races.note_taken_elsewhere(&loaded.taken_elsewhere);
    // From another project or target directory than the current one's,
    // `report` alone would read another run: name this one.
    let report = if rargs.manifest_path.is_some() || rargs.target_dir.is_some() {
        format!("cargo racedet report {}", run_dir.display())
    } else {
        "cargo racedet report".to_string()
    };
    say_summary(
        &info,
        (&races, loaded.empty.len()),
        code,
        (&run_dir, &report),
        runner,
        rargs.doc,
        &mut err,
    );
    let lost = !loaded.empty.is_empty();
    Ok(run_status(
        &info,
        &races,
        lost,
        code,
        options.exitcode,
        rargs.doc,
    ))
}

/// The exit status of `cargo racedet test`: the user's `exitcode` (66
/// unless set) when races were found, as each racy process did (also when
/// a process exited so but its reports were lost; `exitcode=0` asks for
/// races not to fail the run); else the runner's, but never 0 when no
/// instrumented binary ran, as nothing was checked.
fn run_status(
    info: &RunInfo,
    races: &Races,
    empty_files: bool,
    code: i32,
    exitcode: i32,
    doc: bool,
) -> i32 {
    if (!races.is_empty() || info.reports_lost(empty_files)) && exitcode != 0 {
        exitcode
    } else if code == 0 && nothing_checked(info, races, doc) {
        NOT_INSTRUMENTED
    } else {
        code
    }
}

/// No race, and no instrumented binary that could have found one (doctests,
/// built by rustdoc as they run, are not read for the marker: under
/// `--doc` racedet cannot tell).
fn nothing_checked(info: &RunInfo, races: &Races, doc: bool) -> bool {
    races.is_empty() && !doc && !info.binaries.iter().any(|b| b.instrumented)
}

/// Runs `cargo test`, passing its stderr through line by line and adding
/// `racedet: [i/N]` progress.
fn run_with_progress(
    mut cmd: std::process::Command,
    info: &RunInfo,
    run_dir: &Path,
    exitcode: i32,
) -> Result<(ExitStatus, BTreeMap<String, String>, Vec<Unchecked>)> {
    // cargo colours its output only on a terminal; its stderr is a pipe
    // here, so pass the user's terminal on in words.
    if std::io::stderr().is_terminal() && std::env::var_os("CARGO_TERM_COLOR").is_none() {
        cmd.env("CARGO_TERM_COLOR", "always");
    }
    let mut child = cmd
        .stdin(Stdio::inherit())
        .stdout(Stdio::inherit())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Failure::input(format!("cannot run cargo test: {e}")))?;
    let stderr = child.stderr.take().expect("stderr is piped");
    let mut progress = Progress::new(&info.binaries, run_dir, exitcode);
    let mut out = std::io::stderr();
    let mut reader = BufReader::new(stderr);
    let mut buf = Vec::new();
    // Bytes, not `lines()`: test output need not be UTF-8.
    while reader.read_until(b'\n', &mut buf).unwrap_or(0) > 0 {
        progress.line(&buf, &mut out);
        buf.clear();
    }
    let status = child
        .wait()
        .map_err(|e| Failure::input(format!("waiting for cargo test: {e}")))?;
    progress.finish(&mut out);
    let (doctests, unchecked) = progress.into_parts();
    Ok((status, doctests, unchecked))
}

/// Lists the binaries that are not instrumented: they are never clean, only
/// unchecked.
fn say_instrumentation(info: &RunInfo, err: &mut dyn Write) {
    let missing: Vec<_> = info.binaries.iter().filter(|b| !b.instrumented).collect();
    let _ = writeln!(
        err,
        "racedet: {} built, {} instrumented",
        plural(info.binaries.len(), "test binary", "test binaries"),
        info.binaries.len() - missing.len()
    );
    if !missing.is_empty() {
        let _ = writeln!(
            err,
            "racedet: not instrumented (they do not start the racedet runtime, so nothing in them is checked):"
        );
        for b in missing {
            let _ = writeln!(err, "racedet:     {} ({})", b.name, b.path.display());
        }
    }
}

/// Sums the run up; `empty_files` is the number of report files whose
/// reports were lost.
fn say_summary(
    info: &RunInfo,
    (races, empty_files): (&Races, usize),
    code: i32,
    (run_dir, report): (&Path, &str),
    runner: Runner,
    doc: bool,
    err: &mut dyn Write,
) {
    let instrumented: Vec<_> = info.binaries.iter().filter(|b| b.instrumented).collect();
    let missing: Vec<_> = info.binaries.iter().filter(|b| !b.instrumented).collect();
    // Each distinct race in full, as `go test -race` prints it: the test
    // processes wrote JSON into the run directory, not to the terminal.
    for race in races.iter() {
        let _ = write!(err, "{}", race.report.to_text());
    }
    let _ = writeln!(err, "racedet: ---- summary ----");
    if runner == Runner::Nextest {
        // cargo test's binaries were summed up one by one as they ended;
        // nextest's run interleaved, so their counts come here. Only
        // binaries with races are named: which tests nextest ran (its
        // filters, partitions) is in its own output, not followed here, so
        // a binary without races may not have run at all.
        for b in &instrumented {
            let n = races.count_in(&b.program);
            if n > 0 {
                let _ = writeln!(err, "racedet: {}: {}", b.name, races_phrase(n));
            }
        }
    }
    let name = |program: &str| {
        info.binary_name(program)
            .map(str::to_string)
            .unwrap_or_else(|| program.to_string())
    };
    // `doc`: under `--doc` only doctests ran, built by rustdoc on the fly.
    let binaries = plural(
        instrumented.len(),
        "instrumented test binary",
        "instrumented test binaries",
    );
    if nothing_checked(info, races, doc) {
        let _ = writeln!(
            err,
            "racedet: error: nothing was checked: no test binary is instrumented (none \
             starts the racedet runtime: make the tests use racedet's types, see `Using it` \
             in racedet's README)"
        );
    } else if races.is_empty() && !info.unchecked.is_empty() {
        let _ = writeln!(
            err,
            "racedet: no data race report reached the run directory, but {} not checked \
             through (listed below)",
            plural(
                info.unchecked.len(),
                "instrumented test binary was",
                "instrumented test binaries were"
            )
        );
    } else if races.is_empty() && empty_files > 0 {
        let _ = writeln!(
            err,
            "racedet: no data race report reached the run directory, but {} empty: their \
             processes' reports were lost (see the notes above)",
            plural(empty_files, "report file is", "report files are")
        );
    } else if races.is_empty() && doc {
        // rustdoc builds the doctests as it runs them: no marker is read.
        let _ = writeln!(
            err,
            "racedet: no data race reported by the doctests (racedet cannot tell whether \
             they use its types)"
        );
    } else if races.is_empty() && runner == Runner::Nextest {
        let _ = writeln!(
            err,
            "racedet: no data races found in the tests nextest ran ({binaries} built; \
             nextest's summary above says which tests ran)"
        );
    } else if races.is_empty() {
        let _ = writeln!(err, "racedet: no data races found in {binaries}");
    } else {
        let mut places = Vec::new();
        if !instrumented.is_empty() {
            let with_races = instrumented
                .iter()
                .filter(|b| races.count_in(&b.program) > 0)
                .count();
            // nextest: of those built, which need not all have run.
            let built = if runner == Runner::Nextest {
                " built"
            } else {
                ""
            };
            places.push(format!("{with_races} of {binaries}{built}"));
        }
        let doctests: BTreeSet<&String> = info
            .doctests
            .values()
            .filter(|label| races.count_in(label) > 0)
            .collect();
        if !doctests.is_empty() {
            places.push(format!(
                "the doctests of {}",
                plural(doctests.len(), "crate", "crates")
            ));
        }
        // Races only from programs the run does not know (a test's own
        // child programs) name no place here; the entries below do.
        let places = if places.is_empty() {
            String::new()
        } else {
            format!(" in {}", places.join(" and in "))
        };
        let _ = writeln!(err, "racedet: found {}{places}:", races_phrase(races.len()));
        let _ = write!(err, "{}", summary::render(races, &name));
    }
    let _ = write!(err, "{}", summary::taken(races, "", &name));
    say_unchecked(&info.unchecked, err);
    if !missing.is_empty() {
        const SHOWN: usize = 3;
        let mut names: Vec<&str> = missing
            .iter()
            .take(SHOWN)
            .map(|b| b.name.as_str())
            .collect();
        let more = format!(
            "and {} more, listed above",
            missing.len().saturating_sub(SHOWN)
        );
        if missing.len() > SHOWN {
            names.push(&more);
        }
        let _ = writeln!(
            err,
            "racedet: NOT checked ({} not instrumented): {}",
            plural(missing.len(), "test binary", "test binaries"),
            names.join(", ")
        );
    }
    if code != 0 {
        let why = if !races.is_empty() || info.reports_lost(empty_files > 0) {
            "a test process that finds races fails"
        } else {
            // nextest's own exit codes: 4 when its filters left no test,
            // 100 when a test failed, others for its other failures.
            match (runner, code) {
                (Runner::Nextest, 4) => "no test ran",
                (Runner::Nextest, 100) | (Runner::CargoTest, _) => "tests failed",
                (Runner::Nextest, _) => "see its output above",
            }
        };
        let _ = writeln!(
            err,
            "racedet: {} exited with status {code} ({why})",
            runner.name()
        );
    }
    let _ = writeln!(
        err,
        "racedet: reports in {} (`{report}` prints them in full)",
        run_dir.display()
    );
}

/// The instrumented binaries (or, under nextest and for doctests, the
/// processes) whose run did not check through, each with why.
pub fn say_unchecked(unchecked: &[Unchecked], err: &mut dyn Write) {
    if unchecked.is_empty() {
        return;
    }
    let _ = writeln!(
        err,
        "racedet: NOT checked through ({}):",
        plural(unchecked.len(), "test program", "test programs")
    );
    for u in unchecked {
        let _ = writeln!(err, "racedet:     {}: {}", u.label, u.why);
    }
}

/// A child's exit status as a process exit code; 128 + signal when it was
/// killed, as shells report it.
pub fn exit_code(status: ExitStatus) -> i32 {
    if let Some(code) = status.code() {
        return code;
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return 128 + sig;
        }
    }
    1
}

/// Whether the build step's diagnostics are rendered in color, as cargo
/// would print them: the user's `--color` if given, else
/// `CARGO_TERM_COLOR`, else when stderr is a terminal.
fn diagnostics_in_color(color: Option<&str>) -> bool {
    let env = std::env::var("CARGO_TERM_COLOR").ok();
    match color.or(env.as_deref()) {
        Some("always") => true,
        Some("never") => false,
        _ => std::io::stderr().is_terminal(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::races::tests::found;
    use crate::run_dir::BinaryInfo;

    fn summary_of(info: &RunInfo, races: &Races) -> String {
        let mut out = Vec::new();
        let dir = Path::new("/r");
        say_summary(
            info,
            (races, 0),
            66,
            (dir, "cargo racedet report"),
            Runner::CargoTest,
            false,
            &mut out,
        );
        String::from_utf8(out).unwrap()
    }

    fn info(instrumented: bool) -> RunInfo {
        RunInfo {
            racedet_version: "0.1.0".into(),
            runner: "cargo test".into(),
            args: Vec::new(),
            started_unix: 0,
            binaries: vec![BinaryInfo {
                name: "beta: src/lib.rs".into(),
                program: "beta-1".into(),
                path: "/t/beta-1".into(),
                instrumented,
                marker: String::new(),
            }],
            workspace: None,
            runner_status: Some(101),
            doctests: [("report.7".to_string(), "doctests of beta".to_string())].into(),
            dir: PathBuf::new(),
            unchecked: Vec::new(),
        }
    }

    fn doctest_race() -> Races {
        let mut f = found(3, "/r/report.7");
        f.report.program = "doctests of beta".into();
        Races::merge([f], &[])
    }

    #[test]
    fn doctest_races_are_listed_when_no_test_binary_is_instrumented() {
        let s = summary_of(&info(false), &doctest_race());
        assert!(
            s.contains("racedet: found 1 distinct data race in the doctests of 1 crate:\n"),
            "{s}"
        );
        assert!(s.contains("in doctests of beta (1 process)"), "{s}");
        assert!(!s.contains("nothing was checked"), "{s}");
    }

    #[test]
    fn doctest_races_are_counted_beside_the_binaries() {
        let s = summary_of(&info(true), &doctest_race());
        assert!(
            s.contains(
                "found 1 distinct data race in 0 of 1 instrumented test binary and in the \
                 doctests of 1 crate:"
            ),
            "{s}"
        );
    }

    #[test]
    fn nothing_checked_is_said_only_when_nothing_was_and_fails_the_run() {
        let none = Races::default();
        let s = summary_of(&info(false), &none);
        assert!(s.contains("racedet: error: nothing was checked"), "{s}");
        assert_eq!(run_status(&info(false), &none, false, 0, 66, false), 1);
        assert_eq!(run_status(&info(false), &none, false, 101, 66, false), 101);
        // Under --doc racedet cannot tell: the doctests' silence is said as such.
        assert_eq!(run_status(&info(false), &none, false, 0, 66, true), 0);
        assert_eq!(run_status(&info(true), &none, false, 0, 66, false), 0);
        assert_eq!(
            run_status(&info(false), &doctest_race(), false, 0, 66, false),
            66
        );
    }

    #[test]
    fn a_binary_not_checked_through_is_never_summed_up_as_clean() {
        let mut run = info(true);
        run.unchecked = vec![Unchecked {
            label: "beta: src/lib.rs".into(),
            why: "exit status: 66, racedet's status for races found, but ...".into(),
            reports_lost: true,
        }];
        let none = Races::default();
        let s = summary_of(&run, &none);
        assert!(!s.contains("no data races found"), "{s}");
        assert!(
            s.contains("but 1 instrumented test binary was not checked through"),
            "{s}"
        );
        assert!(
            s.contains("racedet: NOT checked through (1 test program):\n"),
            "{s}"
        );
        assert!(
            s.contains("racedet:     beta: src/lib.rs: exit status: 66, racedet's status"),
            "{s}"
        );
        // Its reports were lost, not its races: the run fails as for races.
        assert_eq!(run_status(&run, &none, false, 101, 66, false), 66);
        assert_eq!(run_status(&run, &none, false, 101, 0, false), 101);
        run.unchecked[0].reports_lost = false;
        assert_eq!(run_status(&run, &none, false, 101, 66, false), 101);
        // An empty report file: a report begun and lost.
        assert_eq!(run_status(&info(true), &none, true, 66, 66, false), 66);
        assert_eq!(run_status(&info(true), &none, true, 0, 66, false), 66);
    }
}
