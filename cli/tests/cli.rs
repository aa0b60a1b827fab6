//! End-to-end tests of the real `cargo-racedet` binary on the fixture crates
//! in `tests/fixtures/` (each its own workspace, depending on racedet by
//! path).
//!
//! Every fixture builds into one shared target directory, so the racedet
//! runtime and its dependencies are compiled once for all of them; and the
//! racy suite runs once, its run directory reused by the report tests.
//! Detection is happens-before based, so the racy fixture races on every
//! run whatever the interleaving: no sleeps, no retries.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard, OnceLock};

const BIN: &str = env!("CARGO_BIN_EXE_cargo-racedet");

/// Shared target directory of the fixtures, under the workspace target.
fn fixture_target() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("racedet-fixtures")
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(name)
}

/// A scratch directory of a test, emptied first and removed when dropped
/// (at the test's end, passed or failed: libtest has no end-of-run hook
/// that could remove a directory shared by the tests).
struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn scratch(name: &str) -> Scratch {
    // Outside every Cargo project (the system temp dir, not the target dir,
    // which may sit inside this workspace): a test that expects "no
    // project here" must not find the workspace's manifest above it.
    let dir = std::env::temp_dir().join(format!("racedet-cli-tests-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    Scratch(dir)
}

/// `cargo-racedet ARGS` in `dir`, in a clean environment: settings of an
/// outer run (even `cargo racedet test` on this workspace) must not leak in.
fn racedet(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir)
        .args(args)
        .env("CARGO_TARGET_DIR", fixture_target())
        .env("CARGO_TERM_COLOR", "never")
        // The fixtures' dependencies are a subset of this workspace's,
        // so they are in the local cache already.
        .env("CARGO_NET_OFFLINE", "true");
    for var in [
        "RACEDET_OPTIONS",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTDOCFLAGS",
        "CARGO_ENCODED_RUSTDOCFLAGS",
        "CARGO_BUILD_TARGET_DIR",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// Runs `cmd`; the output is printed so a failing test shows it.
fn run(mut cmd: Command) -> Output {
    let out = cmd.output().expect("cargo-racedet runs");
    eprintln!("--- {cmd:?} exited with {}", out.status);
    eprintln!("--- stdout:\n{}", String::from_utf8_lossy(&out.stdout));
    eprintln!("--- stderr:\n{}", String::from_utf8_lossy(&out.stderr));
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Suite runs one at a time: they share a target directory (whose lock
/// would serialize them anyway) and `runs/latest`.
fn suite_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// The run directory a suite run names on its last line.
fn run_dir_of(out: &Output) -> PathBuf {
    let err = stderr(out);
    let line = err
        .lines()
        .find_map(|l| l.strip_prefix("racedet: run directory "))
        .expect("the run directory is named");
    PathBuf::from(line.trim())
}

/// `src/lib.rs:L:C` of the method call `call` in the racy fixture, as
/// `#[track_caller]` records it (the column of the method name).
fn racy_site(call: &str) -> String {
    let src = std::fs::read_to_string(fixture("racy/src/lib.rs")).unwrap();
    let (i, line) = src
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains(call))
        .expect("call in fixture");
    let column = line.find(call).unwrap() + call.find('.').unwrap() + 2;
    format!("src/lib.rs:{}:{column}", i + 1)
}

/// The racy suite, run once (with `report` on the latest run right after,
/// under the same lock), for every test that needs its reports.
struct RacyRun {
    test: Output,
    latest_report: Output,
    /// `report --format json` on the latest run, taken with `latest_report`.
    latest_json: Output,
    /// `report --manifest-path` naming the fixture, from outside any
    /// project, taken with `latest_report`.
    latest_by_manifest: Output,
    run_dir: PathBuf,
}

fn racy_run() -> &'static RacyRun {
    static RUN: OnceLock<RacyRun> = OnceLock::new();
    RUN.get_or_init(|| {
        let _lock = suite_lock();
        let test = run(racedet(&fixture("racy"), &["racedet", "test"]));
        let latest_report = run(racedet(&fixture("racy"), &["racedet", "report"]));
        let latest_json = run(racedet(
            &fixture("racy"),
            &["racedet", "report", "--format", "json"],
        ));
        let manifest = fixture("racy").join("Cargo.toml");
        let latest_by_manifest = run(racedet(
            &scratch("report-by-manifest"),
            &["report", "--manifest-path", manifest.to_str().unwrap()],
        ));
        let run_dir = run_dir_of(&test);
        RacyRun {
            test,
            latest_report,
            latest_json,
            latest_by_manifest,
            run_dir,
        }
    })
}

#[test]
fn racy_suite_exits_66_and_the_summary_names_both_sites() {
    let r = racy_run();
    assert_eq!(r.test.status.code(), Some(66));
    let err = stderr(&r.test);
    let summary = &err[err.find("---- summary ----").expect("a summary")..];
    assert!(
        summary.contains("found 1 distinct data race in 1 of 2 instrumented test binaries"),
        "{summary}"
    );
    assert!(summary.contains("concurrent map writes"), "{summary}");
    assert!(summary.contains(&racy_site("a.insert(")), "{summary}");
    assert!(summary.contains(&racy_site("b.insert(")), "{summary}");
    assert!(
        summary.contains("in racy-fixture: tests/racy.rs (1 process)"),
        "{summary}"
    );
    assert!(
        summary.contains("(`cargo racedet report` prints them in full)"),
        "{summary}"
    );
}

#[test]
fn doc_runs_only_the_doctests_and_names_their_races_by_crate() {
    // rustdoc calls every doctest program `rust_out`; the summary and
    // `report` say whose doctests they were. (The fixture sets
    // `doctest = false`, so only `--doc` runs its doctest.)
    let _lock = suite_lock();
    let out = run(racedet(&fixture("racy"), &["racedet", "test", "--doc"]));
    assert_eq!(out.status.code(), Some(66));
    let err = stderr(&out);
    assert!(
        err.contains("racedet: --doc: only the doctests run"),
        "{err}"
    );
    assert!(
        err.contains("racedet: doctests of racy_fixture: 1 distinct data race"),
        "{err}"
    );
    let summary = &err[err.find("---- summary ----").expect("a summary")..];
    assert!(
        summary.contains("found 1 distinct data race in the doctests of 1 crate:"),
        "{summary}"
    );
    assert!(
        summary.contains("in doctests of racy_fixture (1 process)"),
        "{summary}"
    );
    let dir = run_dir_of(&out);
    let report = run(racedet(
        &fixture("racy"),
        &["report", dir.to_str().unwrap()],
    ));
    assert!(
        stdout(&report).contains("racedet: 1 distinct data race in 1 report file"),
        "{}",
        stdout(&report)
    );
}

#[test]
fn no_run_builds_with_detection_and_stops() {
    let _lock = suite_lock();
    let out = run(racedet(&fixture("racy"), &["racedet", "test", "--no-run"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("racedet: 2 test binaries built, 2 instrumented"),
        "{err}"
    );
    assert!(
        err.ends_with("racedet: --no-run: built, not run\n"),
        "{err}"
    );
}

#[test]
fn racy_suite_shows_progress_and_race_counts_per_binary() {
    let err = stderr(&racy_run().test);
    assert!(
        err.contains("racedet: 2 test binaries built, 2 instrumented"),
        "{err}"
    );
    assert!(
        err.contains("racedet: [1/2] racy-fixture: src/lib.rs: no races"),
        "{err}"
    );
    assert!(
        err.contains("racedet: [2/2] racy-fixture: tests/racy.rs: 1 distinct data race"),
        "{err}"
    );
}

#[test]
fn report_without_paths_reads_the_latest_run() {
    let r = racy_run();
    assert_eq!(r.latest_report.status.code(), Some(66));
    let out = stdout(&r.latest_report);
    assert!(
        out.starts_with("==================\nWARNING: DATA RACE: concurrent map writes\n"),
        "{out}"
    );
    assert!(
        out.ends_with("racedet: 1 distinct data race in 1 report file\n"),
        "{out}"
    );
    assert!(r.run_dir.join("run.json").is_file());
    // "Latest" is this suite's run, not an older racy one: the report's
    // process wrote its report.PID file into this run's directory.
    let json = stdout(&r.latest_json);
    let first: serde_json::Value =
        serde_json::from_str(json.lines().next().expect("a JSON report")).expect("JSON");
    let pid = first["pid"].as_u64().expect("a pid");
    assert!(
        r.run_dir.join(format!("report.{pid}")).is_file(),
        "no report.{pid} in {}",
        r.run_dir.display()
    );
}

#[test]
fn report_with_manifest_path_reads_that_project_s_latest_run_from_anywhere() {
    let r = racy_run();
    assert_eq!(r.latest_by_manifest.status.code(), Some(66));
    assert_eq!(stdout(&r.latest_by_manifest), stdout(&r.latest_report));
    // A project and run paths at once would leave one of them unused.
    let out = run(racedet(
        &fixture("racy"),
        &["report", "--manifest-path", "Cargo.toml", "some/run"],
    ));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("cannot be used with"),
        "{}",
        stderr(&out)
    );
    // A manifest that is not there: the fix named is that option's.
    for command in ["report", "test"] {
        let out = run(racedet(
            &scratch("bad-manifest"),
            &[command, "--manifest-path", "no/Cargo.toml"],
        ));
        assert_eq!(out.status.code(), Some(2), "{command}");
        assert!(
            stderr(&out).contains("or fix --manifest-path"),
            "{command}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn arguments_after_a_leading_double_dash_go_to_the_test_binaries() {
    // clap alone dropped a `--` that came first, and cargo then rejected
    // `--test-threads` as its own option.
    let out = {
        let _lock = suite_lock();
        run(racedet(
            &fixture("clean"),
            &["racedet", "test", "--", "--test-threads=1"],
        ))
    };
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("racedet: no data races found in 1 instrumented test binary"),
        "{err}"
    );
    // They reach the binaries: libtest rejects one it does not know.
    let out = {
        let _lock = suite_lock();
        run(racedet(
            &fixture("clean"),
            &["racedet", "test", "--", "--frobnicate"],
        ))
    };
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("Unrecognized option: 'frobnicate'"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn clean_suite_exits_0() {
    let out = {
        let _lock = suite_lock();
        run(racedet(&fixture("clean"), &["racedet", "test"]))
    };
    assert_eq!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert!(
        err.contains("racedet: no data races found in 1 instrumented test binary"),
        "{err}"
    );
    assert!(!err.contains("not instrumented"), "{err}");
    // A clean run is still a run: `report` on it lists nothing, exit 0.
    let report = run(racedet(
        &fixture("clean"),
        &["report", run_dir_of(&out).to_str().unwrap()],
    ));
    assert_eq!(report.status.code(), Some(0));
    assert_eq!(
        stdout(&report),
        "racedet: 0 distinct data races in 0 report files\n"
    );
}

#[test]
fn compiler_diagnostics_show_once() {
    // The build step reads cargo's JSON; the run's own build replays the
    // warnings from cargo's cache. Each shown once, with or without the
    // run, and a failed build shows its error and fails.
    let clean = fixture("clean");
    let with_feature = |feature: &str, args: &[&str]| {
        let _lock = suite_lock();
        let mut cmd = racedet(&clean, args);
        cmd.args(["--features", feature]);
        run(cmd)
    };
    for args in [&["test"][..], &["test", "--no-run"]] {
        let out = with_feature("with-warning", args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        assert_eq!(
            err.matches("unused variable: `racedet_unused_variable`")
                .count(),
            1,
            "{args:?}: {err}"
        );
    }
    let out = with_feature("with-error", &["test"]);
    let err = stderr(&out);
    assert_ne!(out.status.code(), Some(0), "{err}");
    assert_eq!(
        err.matches("error: racedet fixture: broken on purpose")
            .count(),
        1,
        "{err}"
    );
    assert!(
        err.contains("racedet: error: building the tests with detection failed"),
        "{err}"
    );
}

#[test]
fn rustflags_from_cargo_s_configuration_are_kept_with_detection() {
    // cargo racedet sets the flags variable, which switches cargo's
    // configured rustflags off: it passes them on itself. The flag
    // compiles a racing test into the clean fixture.
    let manifest = fixture("clean").join("Cargo.toml");
    let manifest = manifest.to_str().unwrap();
    let flags = r#"["--cfg", "racedet_config_flag"]"#;
    let dir = scratch("config-rustflags");
    std::fs::create_dir_all(dir.join(".cargo")).unwrap();
    for (how, file, env) in [
        (
            "build.rustflags",
            format!("[build]\nrustflags = {flags}\n"),
            None,
        ),
        (
            "target.'cfg(..)'.rustflags",
            format!(
                "[target.'cfg(target_os = \"{}\")']\nrustflags = {flags}\n",
                std::env::consts::OS
            ),
            None,
        ),
        (
            "CARGO_BUILD_RUSTFLAGS",
            String::new(),
            Some("--cfg racedet_config_flag"),
        ),
    ] {
        std::fs::write(dir.join(".cargo/config.toml"), file).unwrap();
        let out = {
            let _lock = suite_lock();
            let mut cmd = racedet(&dir, &["test", "--manifest-path", manifest]);
            if let Some(value) = env {
                cmd.env("CARGO_BUILD_RUSTFLAGS", value);
            }
            run(cmd)
        };
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(66), "{how}: {err}");
        assert!(
            err.contains("racedet: found 1 distinct data race"),
            "{how}: {err}"
        );
    }
    // A configuration cargo takes that the reader of its flags does not
    // (it types `build.jobs` as a number) is no error when it sets no
    // flags; when it does, the error names it and the way round.
    // The runs below share the fixture's target directory with the
    // other suite runs: one at a time.
    let _lock = suite_lock();
    let jobs = "[build]\njobs = \"default\"\n";
    std::fs::write(dir.join(".cargo/config.toml"), jobs).unwrap();
    let out = run(racedet(
        &dir,
        &["test", "--no-run", "--manifest-path", manifest],
    ));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    std::fs::write(
        dir.join(".cargo/config.toml"),
        format!("{jobs}rustflags = {flags}\n"),
    )
    .unwrap();
    let out = run(racedet(
        &dir,
        &["test", "--no-run", "--manifest-path", manifest],
    ));
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.starts_with("racedet: error: cannot read cargo's configuration for its rustflags: ")
            && err.contains("invalid type: string \"default\"")
            && err.contains(
                "(set RUSTFLAGS to the flags the build needs, and cargo racedet uses those)"
            ),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");

    // Given on the command line, they cannot be read: refused.
    std::fs::write(dir.join(".cargo/config.toml"), "").unwrap();
    let config = format!("build.rustflags={flags}");
    let out = run(racedet(
        &dir,
        &["test", "--manifest-path", manifest, "--config", &config],
    ));
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.starts_with("racedet: error: `--config build.rustflags=")
            && err.contains(
                "sets rustflags, which cargo racedet cannot read to pass on with its own \
                 `--cfg racedet_detect`; give them in RUSTFLAGS or in .cargo/config.toml"
            ),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn binary_without_the_runtime_is_listed_as_not_instrumented() {
    // The racy fixture's run first: the plain one's becomes the latest of
    // the target directory the fixtures share.
    racy_run();
    let (out, racy_report) = {
        let _lock = suite_lock();
        let out = run(racedet(&fixture("plain"), &["test"]));
        (out, run(racedet(&fixture("racy"), &["report"])))
    };
    // `report` in the racy fixture reads that workspace's latest run, not
    // the plain one's, and says so.
    let note = stderr(&racy_report);
    let read = note
        .lines()
        .find_map(|l| l.split_once("; reading this workspace's latest, "))
        .map(|(_, dir)| PathBuf::from(dir))
        .unwrap_or_else(|| panic!("{note}"));
    let info: Value =
        serde_json::from_str(&std::fs::read_to_string(read.join("run.json")).unwrap()).unwrap();
    assert!(
        info["workspace"]
            .as_str()
            .unwrap()
            .ends_with("fixtures/racy"),
        "{info}"
    );
    assert!(note.contains("fixtures/plain; reading"), "{note}");
    // Its tests pass; it is not clean, only unchecked: the run fails.
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("racedet: 1 test binary built, 0 instrumented"),
        "{err}"
    );
    assert!(
        err.contains("racedet: [1/1] plain-fixture: src/lib.rs: not instrumented, nothing checked"),
        "{err}"
    );
    assert!(
        err.contains(
            "racedet: NOT checked (1 test binary not instrumented): plain-fixture: src/lib.rs"
        ),
        "{err}"
    );
    assert!(
        err.contains("racedet: error: nothing was checked: no test binary is instrumented"),
        "{err}"
    );
    // So does `report` on it.
    let report = run(racedet(&fixture("plain"), &["report"]));
    assert_eq!(report.status.code(), Some(1), "{}", stderr(&report));
    assert!(
        stderr(&report).contains("that nothing was checked in: plain-fixture: src/lib.rs"),
        "{}",
        stderr(&report)
    );

    // `check` agrees, on the binary the run recorded.
    let info: Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir_of(&out).join("run.json")).unwrap())
            .unwrap();
    let plain = info["binaries"][0]["path"].as_str().unwrap();
    let checked = run(racedet(&fixture("plain"), &["check", plain]));
    assert_eq!(checked.status.code(), Some(1));
    assert!(
        stdout(&checked).contains(": not instrumented"),
        "{}",
        stdout(&checked)
    );
}

#[test]
fn check_reads_the_marker_of_an_instrumented_binary() {
    let info: Value = serde_json::from_str(
        &std::fs::read_to_string(racy_run().run_dir.join("run.json")).unwrap(),
    )
    .unwrap();
    let paths: Vec<&str> = info["binaries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["path"].as_str().unwrap())
        .collect();
    let mut args = vec!["check"];
    args.extend(&paths);
    let out = run(racedet(&fixture("racy"), &args));
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        text.matches(&format!(
            ": racedet-runtime {version}, detection compiled in"
        ))
        .count(),
        2,
        "{text}"
    );
}

#[test]
fn check_finds_no_marker_in_a_binary_that_uses_racedet_without_detection() {
    // The racy fixture's tests use `RaceMap`, built here by plain cargo
    // (no `detect`): its map lock links racedet's runtime crate, but
    // nothing that can start the runtime, so no marker.
    let out = {
        let _lock = suite_lock();
        let mut cmd = Command::new(env!("CARGO"));
        cmd.current_dir(fixture("racy"))
            .args(["test", "--no-run", "--message-format=json"])
            .env("CARGO_TARGET_DIR", fixture_target().join("plain-build"))
            .env("CARGO_NET_OFFLINE", "true")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS");
        run(cmd)
    };
    assert!(out.status.success(), "{}", stderr(&out));
    let binaries: Vec<String> = stdout(&out)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|m| m["executable"].as_str().map(str::to_string))
        .collect();
    assert_eq!(binaries.len(), 2, "{}", stdout(&out));
    let mut args = vec!["check"];
    args.extend(binaries.iter().map(String::as_str));
    let checked = run(racedet(&fixture("racy"), &args));
    assert_eq!(checked.status.code(), Some(1), "{}", stdout(&checked));
    assert_eq!(
        stdout(&checked).matches(": not instrumented").count(),
        2,
        "{}",
        stdout(&checked)
    );
}

/// Copies the racy run's report files into a fresh run directory, passing
/// each line through `edit` (to make a second, different race).
fn copy_run(name: &str, edit: impl Fn(&str) -> String) -> Scratch {
    let dir = scratch(name);
    for entry in std::fs::read_dir(&racy_run().run_dir).unwrap() {
        let path = entry.unwrap().path();
        let file = path.file_name().unwrap().to_str().unwrap().to_string();
        if file.starts_with("report.") {
            let text = std::fs::read_to_string(&path).unwrap();
            let edited: String = text.lines().map(|l| edit(l) + "\n").collect();
            std::fs::write(dir.join(file), edited).unwrap();
        }
    }
    dir
}

#[test]
fn report_merges_run_directories_from_several_machines() {
    let a = copy_run("machine-a", str::to_string);
    let b = copy_run("machine-b", str::to_string);
    let other = copy_run("machine-c", |l| {
        l.replace("\"src/lib.rs\"", "\"src/other.rs\"")
            .replace("\"concurrent map writes\"", "\"data race\"")
    });
    let dirs = [
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        other.to_str().unwrap(),
    ];

    // The same race from two machines is one race.
    let same = run(racedet(&a, &["report", dirs[0], dirs[1]]));
    assert_eq!(same.status.code(), Some(66));
    assert!(
        stdout(&same).ends_with("racedet: 1 distinct data race in 2 report files\n"),
        "{}",
        stdout(&same)
    );

    // Different races add up; JSON output is one report per line.
    let all = run(racedet(
        &a,
        &["report", "--format", "json", dirs[0], dirs[1], dirs[2]],
    ));
    assert_eq!(all.status.code(), Some(66));
    let lines: Vec<Value> = stdout(&all)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON report per line"))
        .collect();
    assert_eq!(lines.len(), 2);

    // Filters: by kind, by path.
    let kind = run(racedet(
        &a,
        &["report", "--kind", "data race", dirs[0], dirs[2]],
    ));
    assert!(
        stdout(&kind).contains("1 distinct data race (2 before filtering)"),
        "{}",
        stdout(&kind)
    );
    assert!(stdout(&kind).contains("src/other.rs"));
    let path = run(racedet(
        &a,
        &[
            "report", "--path", "other.rs", "--format", "json", dirs[0], dirs[2],
        ],
    ));
    assert_eq!(stdout(&path).lines().count(), 1);
    let none = run(racedet(&a, &["report", "--path", "nowhere.rs", dirs[0]]));
    assert_eq!(none.status.code(), Some(0));
}

#[test]
fn json_output_reads_back_as_the_same_races() {
    let dir = racy_run().run_dir.to_str().unwrap().to_string();
    let first = run(racedet(
        &fixture("racy"),
        &["report", "--format", "json", &dir],
    ));
    let dir = scratch("round-trip");
    let file = dir.join("merged.jsonl");
    std::fs::write(&file, &first.stdout).unwrap();
    let again = run(racedet(
        &fixture("racy"),
        &["report", "--format", "json", file.to_str().unwrap()],
    ));
    assert_eq!(again.status.code(), Some(66));
    assert_eq!(stdout(&first), stdout(&again));
}

#[test]
fn sarif_output_has_the_2_1_0_shape() {
    let dir = racy_run().run_dir.to_str().unwrap().to_string();
    let out = run(racedet(
        &fixture("racy"),
        &["report", "--format", "sarif", &dir],
    ));
    assert_eq!(out.status.code(), Some(66));
    let log: Value = serde_json::from_slice(&out.stdout).expect("SARIF is JSON");
    assert!(log["$schema"]
        .as_str()
        .unwrap()
        .contains("sarif-schema-2.1.0"));
    assert_eq!(log["version"], "2.1.0");
    let run0 = &log["runs"][0];
    assert_eq!(run0["tool"]["driver"]["name"], "racedet");
    let rules: Vec<&str> = run0["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        rules,
        [
            "concurrent-map-writes",
            "concurrent-map-read-and-map-write",
            "concurrent-map-iteration-and-map-write",
            "data-race"
        ]
    );
    let results = run0["results"].as_array().unwrap();
    assert_eq!(results.len(), 1);
    let r = &results[0];
    assert_eq!(r["ruleId"], "concurrent-map-writes");
    assert!(r["message"]["text"]
        .as_str()
        .unwrap()
        .starts_with("concurrent map writes: write in `insert`"));
    let at = |loc: &Value| {
        let p = &loc["physicalLocation"];
        format!(
            "{}:{}:{}",
            p["artifactLocation"]["uri"].as_str().unwrap(),
            p["region"]["startLine"],
            p["region"]["startColumn"]
        )
    };
    let mut sites = vec![at(&r["locations"][0]), at(&r["relatedLocations"][0])];
    sites.sort();
    let mut expected = vec![racy_site("a.insert("), racy_site("b.insert(")];
    expected.sort();
    assert_eq!(sites, expected);
}

#[test]
fn malformed_report_line_is_an_error_naming_file_and_line() {
    let dir = copy_run("malformed", str::to_string);
    let file = std::fs::read_dir(&*dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("report.")
        })
        .unwrap();
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str("{\"kind\": \"concurrent map writes\", \"current\": 1}\n");
    std::fs::write(&file, text).unwrap();
    let out = run(racedet(&dir, &["report", dir.to_str().unwrap()]));
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    let expected = format!(
        "racedet: error: {}:2: expected a racedet JSON report (one object per line",
        file.display()
    );
    assert!(err.starts_with(&expected), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        stdout(&out).is_empty(),
        "nothing is printed from a half-read input"
    );
}

#[test]
fn a_race_the_test_took_is_expected_not_counted() {
    // `{"taken": REPORT}` is what a process adds when a test drains the
    // report with `racedet::reports::take`: it does not fail the process,
    // and it does not fail the run.
    let dir = copy_run("taken", |l| format!("{l}\n{{\"taken\":{l}}}"));
    let out = run(racedet(&dir, &["report", dir.to_str().unwrap()]));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout(&out),
        "racedet: 0 distinct data races in 1 report file\n\
         racedet: not listed: 1 distinct data race taken by racedet::reports::take (expected \
         by the program): not counted\n"
    );
}

#[test]
fn a_race_taken_on_an_unrelated_thread_is_named_under_a_warning() {
    // Another test's `take()` drained it: not counted (as for the exit
    // status), but named, since its own test may not have expected it.
    let dir = copy_run("taken-elsewhere", |l| {
        format!("{l}\n{{\"taken\":{l},\"by_unrelated_thread\":true}}")
    });
    let out = run(racedet(&dir, &["report", dir.to_str().unwrap()]));
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(
        text.contains(
            "racedet: not listed: 1 distinct data race taken by racedet::reports::take (expected \
             by the program): not counted\n\
             racedet: warning: 1 of them on a thread unrelated to the race (another test's \
             take()?"
        ),
        "{text}"
    );
    assert!(text.contains("  1. concurrent map writes\n"), "{text}");
}

#[test]
fn a_run_given_twice_is_refused_not_counted_twice() {
    let dir = copy_run("twice", str::to_string);
    let d = dir.to_str().unwrap();
    let out = run(racedet(&dir, &["report", d, d]));
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains(": given twice (directly, or through its run directory)"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(stdout(&out).is_empty());
}

#[test]
fn a_run_that_did_not_finish_is_no_clean_verdict() {
    // An interrupted run: its run.json never got the runner's status, and
    // no test process reported yet.
    let dir = scratch("unfinished");
    let info = std::fs::read_to_string(racy_run().run_dir.join("run.json")).unwrap();
    let mut info: Value = serde_json::from_str(&info).unwrap();
    info.as_object_mut().unwrap().remove("runner_status");
    std::fs::write(dir.join("run.json"), info.to_string()).unwrap();
    let out = run(racedet(
        &fixture("racy"),
        &["report", dir.to_str().unwrap()],
    ));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stdout(&out),
        "racedet: 0 distinct data races in 0 report files\n"
    );
    assert!(
        stderr(&out).contains(&format!(
            "racedet: warning: run {} did not finish (interrupted, or still running)",
            dir.display()
        )),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_process_the_runtime_stopped_is_listed_not_called_clean() {
    // A report file holding a fatal line, as the runtime writes it, given
    // alone (a run's own run.json lists the stopped processes it saw).
    let dir = scratch("stopped");
    let line = serde_json::json!({
        "fatal": "racedet: more than 65536 threads alive at once",
        "pid": 9,
        "program": "stopped-1",
    });
    let file = dir.join("report.9");
    std::fs::write(&file, format!("{line}\n")).unwrap();
    let out = run(racedet(
        &fixture("racy"),
        &["report", file.to_str().unwrap()],
    ));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "racedet:     stopped-1 (process 9): stopped by racedet, so not checked to the \
             end: racedet: more than 65536 threads alive at once"
        ),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_report_that_cannot_be_written_is_an_error() {
    // A full disk: the SARIF file uploaded after must not be taken for an
    // empty, clean one.
    let dir = racy_run().run_dir.to_str().unwrap().to_string();
    for format in ["text", "sarif"] {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let mut cmd = racedet(&fixture("racy"), &["report", "--format", format, &dir]);
        cmd.stdout(full);
        let out = run(cmd);
        assert_eq!(out.status.code(), Some(2), "{format}");
        assert!(
            stderr(&out).contains("racedet: error: cannot write the report to stdout: No space"),
            "{}",
            stderr(&out)
        );
    }
}

#[test]
fn text_report_given_as_json_says_what_was_expected() {
    let dir = scratch("text-report");
    let file = dir.join("report.1");
    std::fs::write(&file, "==================\nWARNING: DATA RACE: data race\n").unwrap();
    let out = run(racedet(
        &fixture("racy"),
        &["report", file.to_str().unwrap()],
    ));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains(":1: this is a text report; expected JSON reports"));
}

#[test]
fn missing_paths_say_what_was_expected() {
    let out = run(racedet(&fixture("racy"), &["report", "/no/such/run"]));
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "racedet: error: /no/such/run: no such file or directory (expected a JSON report \
         file or a run directory such as target/racedet/runs/latest)\n"
    );

    let out = run(racedet(&fixture("racy"), &["check", "/no/such/binary"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("/no/such/binary: no such file (expected a compiled test binary"));

    let empty = scratch("not-a-run");
    let out = run(racedet(&empty, &["report", empty.to_str().unwrap()]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not a racedet run directory (expected report.PID files"));
}

#[test]
fn a_relative_suppressions_path_names_a_file_from_where_racedet_runs() {
    // Test processes run in their package's directory; the path is the
    // user's, typed where they ran `cargo racedet`. First from a directory
    // whose name RACEDET_OPTIONS could not carry (the processes read a
    // copy in the run directory), then from one where the target directory
    // is named relatively too (the copy's path must still be found from
    // the package's directory).
    let manifest = fixture("racy").join("Cargo.toml");
    let manifest = manifest.to_str().unwrap();
    for name in ["relative suppressions", "relative-target"] {
        let dir = scratch(name);
        std::fs::create_dir_all(dir.join("supp")).unwrap();
        std::fs::write(dir.join("supp/racy.txt"), "race:racy_fixture::fill\n").unwrap();
        let mut args = vec!["test", "--manifest-path", manifest];
        let up = "../".repeat(dir.components().count() - 1);
        let target = format!("{up}{}", fixture_target().display()).replace("//", "/");
        if name == "relative-target" {
            args.extend(["--target-dir", &target]);
        }
        let out = {
            let _lock = suite_lock();
            let mut cmd = racedet(&dir, &args);
            cmd.env("RACEDET_OPTIONS", "suppressions=supp/racy.txt");
            run(cmd)
        };
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(0), "{name}: {err}");
        assert!(
            err.contains("racedet: no data races found"),
            "{name}: {err}"
        );
        assert!(
            !err.contains("ignoring"),
            "{name}: the copy is no stray file: {err}"
        );
        // The command that prints the run names it (from another
        // directory, `report` alone would read another project's runs).
        let report = format!(
            "(`cargo racedet report {}` prints them",
            run_dir_of(&out).display()
        );
        assert!(err.contains(&report), "{name}: {err}");
        assert_eq!(
            std::fs::read_to_string(run_dir_of(&out).join("suppressions")).unwrap(),
            "race:racy_fixture::fill\n",
            "{name}: the run keeps the suppressions it used"
        );
    }

    // A file that is not there is refused before anything is built.
    let dir = scratch("missing-suppressions");
    let mut cmd = racedet(&dir, &["test", "--manifest-path", manifest]);
    cmd.env("RACEDET_OPTIONS", "suppressions=supp/missing.txt");
    let out = run(cmd);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.starts_with("racedet: error: cannot read suppressions file ")
            && err.contains("supp/missing.txt"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn bad_options_are_refused_before_anything_is_built() {
    let mut cmd = racedet(&fixture("clean"), &["test"]);
    cmd.env("RACEDET_OPTIONS", "histry=full");
    let out = run(cmd);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.starts_with("racedet: error: bad RACEDET_OPTIONS: unknown key `histry`"),
        "{err}"
    );
    // Refused before the build: the error is all it printed.
    assert_eq!(err.lines().count(), 1, "{err}");

    // So is a target directory RACEDET_OPTIONS could not name the run
    // directories in, and no run is left behind.
    let dir = scratch("spaced target");
    let target = dir.join("t d");
    let out = run(racedet(
        &fixture("clean"),
        &["test", "--target-dir", target.to_str().unwrap()],
    ));
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("contains a space or `:`"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!target.exists(), "nothing built, no run directory");

    // A relative symbolizer path the test processes' options could not
    // carry once made absolute (a space): refused before the build too.
    let spaced = scratch("spaced symbolizer");
    let symbolizer = spaced.join("llvm-symbolizer");
    std::fs::write(&symbolizer, "#!/bin/sh\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&symbolizer, std::fs::Permissions::from_mode(0o755)).unwrap();
    let manifest = fixture("clean").join("Cargo.toml");
    let mut cmd = racedet(
        &spaced,
        &["test", "--manifest-path", manifest.to_str().unwrap()],
    );
    cmd.env("RACEDET_OPTIONS", "symbolizer=./llvm-symbolizer");
    let out = run(cmd);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.starts_with("racedet: error: symbolizer=./llvm-symbolizer: from here its path is ")
            && err
                .contains("spaced symbolizer/llvm-symbolizer, which RACEDET_OPTIONS cannot carry"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");

    let out = run(racedet(&fixture("clean"), &["report", "--frobnicate"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unexpected argument '--frobnicate'"));

    let out = run(racedet(&fixture("clean"), &["report", "--kind", "races"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("concurrent map writes"));
}

#[test]
fn test_or_report_outside_a_cargo_project_is_a_clear_error_naming_that_command_s_fix() {
    let dir = scratch("no-project");
    for (args, fix) in [
        (&["test"][..], "or pass --manifest-path)"),
        (
            &["report"][..],
            "or pass --manifest-path, or a run directory such as target/racedet/runs/latest)",
        ),
    ] {
        let out = run(racedet(&dir, args));
        assert_eq!(out.status.code(), Some(2));
        let err = stderr(&out);
        assert!(
            err.starts_with("racedet: error: cargo metadata failed: could not find `Cargo.toml`"),
            "{err}"
        );
        assert!(err.trim_end().ends_with(fix), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

#[test]
fn nextest_runs_each_test_in_its_own_process_and_finds_the_race() {
    let has_nextest = Command::new("cargo")
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_nextest {
        eprintln!("cargo-nextest is not installed: this test checks nothing");
        return;
    }
    let out = {
        let _lock = suite_lock();
        run(racedet(&fixture("racy"), &["nextest"]))
    };
    assert_eq!(out.status.code(), Some(66));
    let err = stderr(&out);
    assert!(
        err.contains("racedet: racy-fixture: tests/racy.rs: 1 distinct data race"),
        "{err}"
    );
    // Which tests nextest ran is its own output's to say: a binary without
    // races is not called clean (a filter may have skipped it).
    assert!(!err.contains("src/lib.rs: no races"), "{err}");
    assert!(err.contains(&racy_site("a.insert(")), "{err}");

    let out = {
        let _lock = suite_lock();
        run(racedet(
            &fixture("racy"),
            &["nextest", "-E", "binary(racy_fixture)"],
        ))
    };
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains(
            "racedet: no data races found in the tests nextest ran (2 instrumented test \
             binaries built; nextest's summary above says which tests ran)"
        ),
        "{err}"
    );
    assert!(!err.contains("no races"), "{err}");

    // A filter that leaves no test: nextest's status says so, not racedet.
    let out = {
        let _lock = suite_lock();
        run(racedet(
            &fixture("racy"),
            &["nextest", "-E", "test(=no_such_test)"],
        ))
    };
    assert!(
        stderr(&out).contains("racedet: cargo nextest run exited with status 4 (no test ran)"),
        "{}",
        stderr(&out)
    );
}
