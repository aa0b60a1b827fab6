//! The two ways of running a suite, `cargo test` and `cargo nextest run`,
//! and the user's arguments to them: what cargo racedet must know (where
//! the manifest and target directory are) and what it adds.

use crate::error::{Failure, Result};
use std::path::PathBuf;

/// Which test runner.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Runner {
    /// `cargo test`: one process per test binary, run one after another.
    CargoTest,
    /// `cargo nextest run`: one process per test, in parallel.
    Nextest,
}

impl Runner {
    /// `cargo test` / `cargo nextest run`, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Runner::CargoTest => "cargo test",
            Runner::Nextest => "cargo nextest run",
        }
    }

    /// The cargo subcommand words.
    pub fn subcommand(self) -> &'static [&'static str] {
        match self {
            Runner::CargoTest => &["test"],
            Runner::Nextest => &["nextest", "run"],
        }
    }

    /// Flags that build the tests without running them and print cargo's
    /// JSON messages on stdout, compiler diagnostics among them (rendered
    /// with colors when `color`): cargo racedet prints those itself, since
    /// the run's own build replays the warnings (see `artifacts::build`).
    pub fn build_only_flags(self, color: bool) -> &'static [&'static str] {
        match (self, color) {
            (Runner::CargoTest, false) => &["--no-run", "--message-format=json"],
            (Runner::CargoTest, true) => {
                &["--no-run", "--message-format=json-diagnostic-rendered-ansi"]
            }
            (Runner::Nextest, false) => &["--no-run", "--cargo-message-format", "json"],
            (Runner::Nextest, true) => &[
                "--no-run",
                "--cargo-message-format",
                "json-diagnostic-rendered-ansi",
            ],
        }
    }

    /// User flags that already decide about failing fast.
    fn fail_fast_flags(self) -> &'static [&'static str] {
        match self {
            Runner::CargoTest => &["--no-fail-fast"],
            Runner::Nextest => &[
                "--no-fail-fast",
                "--nff",
                "--fail-fast",
                "--ff",
                "--max-fail",
            ],
        }
    }

    /// Flags cargo racedet sets itself and so cannot take from the user.
    fn reserved_flags(self) -> &'static [&'static str] {
        match self {
            Runner::CargoTest => &["--message-format"],
            Runner::Nextest => &["--cargo-message-format"],
        }
    }
}

/// The user's arguments, understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunnerArgs {
    /// For the build step (with `--no-run`): the user's arguments without
    /// the fail-fast flags, which nextest refuses next to `--no-run`.
    pub build: Vec<String>,
    /// For the run: the user's arguments, plus `--no-fail-fast` unless they
    /// decided about failing fast themselves.
    pub run: Vec<String>,
    /// `--manifest-path`, for `cargo metadata`.
    pub manifest_path: Option<String>,
    /// `--target-dir`, the base under which `racedet/` goes. Taken out of
    /// both lists: the runner gets `<it>/racedet` instead.
    pub target_dir: Option<PathBuf>,
    /// `--no-run`: build with detection, say what is instrumented, stop.
    /// Taken out of both lists (the build step has it already).
    pub no_run: bool,
    /// `--doc` (`cargo test` only): only the doctests, which rustdoc builds
    /// as it runs them, so there is no build step (cargo refuses `--doc`
    /// with `--no-run`). Kept for the run.
    pub doc: bool,
    /// `--target` values (kept in both lists): the targets whose configured
    /// rustflags `detect_env` passes on.
    pub targets: Vec<String>,
    /// `--config` values (kept in both lists), which `detect_env` reads for
    /// settings of flags and `build.target`.
    pub configs: Vec<String>,
    /// The `--color` value (kept in both lists): how cargo racedet renders
    /// the diagnostics it prints itself.
    pub color: Option<String>,
}

impl RunnerArgs {
    /// Splits `args` (everything after `cargo racedet test`). Only flags
    /// before `--` are the runner's; the rest belongs to the test binaries.
    pub fn parse(runner: Runner, args: &[String], fail_fast: bool) -> Result<RunnerArgs> {
        let split = args.iter().position(|a| a == "--").unwrap_or(args.len());
        let (ours, theirs) = args.split_at(split);
        let mut build = Vec::new();
        let mut run = Vec::new();
        let mut manifest_path = None;
        let mut target_dir = None;
        let mut decided = false;
        let mut no_run = false;
        let mut doc = false;
        let mut targets = Vec::new();
        let mut configs = Vec::new();
        let mut color = None;
        // Both asked for: which one cargo racedet obeyed would be a guess.
        let mut fail_fast_given = fail_fast.then_some("--fail-fast");
        let mut no_fail_fast_given = None;
        let mut it = ours.iter();
        while let Some(arg) = it.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
                _ => (arg.as_str(), None),
            };
            if runner.reserved_flags().contains(&flag) {
                return Err(Failure::input(format!(
                    "`{flag}` is set by cargo racedet {} itself; remove it",
                    match runner {
                        Runner::CargoTest => "test",
                        Runner::Nextest => "nextest",
                    }
                )));
            }
            let mut value = |what: &str| {
                inline
                    .clone()
                    .or_else(|| it.next().cloned())
                    .ok_or_else(|| Failure::input(format!("`{flag}` needs a value ({what})")))
            };
            // cargo test has no `--fail-fast`: it is cargo racedet's own
            // flag, which reaches here when it follows a runner argument.
            match flag {
                "--fail-fast" | "--ff" => fail_fast_given = Some(flag),
                "--no-fail-fast" | "--nff" => no_fail_fast_given = Some(flag),
                _ => {}
            }
            if runner == Runner::CargoTest && flag == "--fail-fast" {
                decided = true;
                continue;
            }
            if runner.fail_fast_flags().contains(&flag) {
                decided = true;
                run.push(arg.clone());
                if flag == "--max-fail" && inline.is_none() {
                    run.push(value("a number of failures")?);
                }
                continue;
            }
            match flag {
                "--no-run" => no_run = true,
                "--doc" if runner == Runner::Nextest => {
                    return Err(Failure::input(
                        "`--doc`: cargo nextest does not run doctests; run them with \
                         `cargo racedet test --doc`"
                            .to_string(),
                    ))
                }
                "--doc" => {
                    doc = true;
                    run.push(arg.clone());
                }
                "--target-dir" => {
                    let dir = value("a directory")?;
                    once(flag, target_dir.is_some())?;
                    target_dir = Some(PathBuf::from(dir));
                }
                // Passed on to both steps, and noted.
                "--target" | "--config" | "--color" => {
                    let v = value(match flag {
                        "--target" => "a target triple",
                        "--config" => "KEY=VALUE or a config file",
                        _ => "auto, always or never",
                    })?;
                    build.push(format!("{flag}={v}"));
                    run.push(format!("{flag}={v}"));
                    match flag {
                        "--target" => targets.push(v),
                        "--config" => configs.push(v),
                        _ => color = Some(v),
                    }
                }
                "--manifest-path" => {
                    let m = value("a path to Cargo.toml")?;
                    once(flag, manifest_path.is_some())?;
                    build.push(format!("--manifest-path={m}"));
                    run.push(format!("--manifest-path={m}"));
                    manifest_path = Some(m);
                }
                _ => {
                    build.push(arg.clone());
                    run.push(arg.clone());
                }
            }
        }
        if let (Some(yes), Some(no)) = (fail_fast_given, no_fail_fast_given) {
            return Err(Failure::input(format!(
                "`{yes}` and `{no}` ask for opposite things; give one of them"
            )));
        }
        // A race fails its test process, and one race must not hide the
        // others: keep running after a failure (both runners spell it so).
        if !decided && !fail_fast {
            run.insert(0, "--no-fail-fast".to_string());
        }
        build.extend(theirs.iter().cloned());
        run.extend(theirs.iter().cloned());
        if no_run && doc {
            return Err(Failure::input(
                "`--no-run` with `--doc`: doctests are built only as they run; give one of them"
                    .to_string(),
            ));
        }
        Ok(RunnerArgs {
            build,
            run,
            manifest_path,
            target_dir,
            no_run,
            doc,
            targets,
            configs,
            color,
        })
    }
}

/// Refuses a flag given a second time (`given`): cargo refuses it too, and
/// which value won would be a guess.
fn once(flag: &str, given: bool) -> Result<()> {
    if given {
        return Err(Failure::input(format!(
            "`{flag}` given twice; give it once"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn no_fail_fast_is_added_and_binary_args_are_kept() {
        let a = RunnerArgs::parse(
            Runner::CargoTest,
            &strings(&["-p", "x", "--", "--test-threads=1"]),
            false,
        )
        .unwrap();
        assert_eq!(
            a.run,
            strings(&["--no-fail-fast", "-p", "x", "--", "--test-threads=1"])
        );
        assert_eq!(a.build, strings(&["-p", "x", "--", "--test-threads=1"]));
    }

    #[test]
    fn color_is_kept_for_both_steps_and_noted_in_either_spelling() {
        for given in [&["--color=never", "-q"][..], &["--color", "never", "-q"]] {
            let a = RunnerArgs::parse(Runner::CargoTest, &strings(given), false).unwrap();
            assert_eq!(a.color.as_deref(), Some("never"));
            assert_eq!(a.build, strings(&["--color=never", "-q"]));
        }
        let after = RunnerArgs::parse(
            Runner::CargoTest,
            &strings(&["--", "--color=always"]),
            false,
        )
        .unwrap();
        assert_eq!(after.color, None);
    }

    #[test]
    fn no_run_is_noted_not_passed_and_doc_is_for_the_run_only() {
        let a = RunnerArgs::parse(Runner::CargoTest, &strings(&["--no-run", "-p", "x"]), false)
            .unwrap();
        assert!(a.no_run && !a.doc);
        assert_eq!(a.build, strings(&["-p", "x"]));
        let a = RunnerArgs::parse(Runner::CargoTest, &strings(&["--doc"]), false).unwrap();
        assert!(a.doc);
        assert_eq!(a.run, strings(&["--no-fail-fast", "--doc"]));
        assert!(a.build.is_empty());
        let e = RunnerArgs::parse(Runner::Nextest, &strings(&["--doc"]), false).unwrap_err();
        assert!(e.message.contains("cargo racedet test --doc"), "{e}");
        let e = RunnerArgs::parse(Runner::CargoTest, &strings(&["--doc", "--no-run"]), false)
            .unwrap_err();
        assert!(e.message.starts_with("`--no-run` with `--doc`"), "{e}");
    }

    #[test]
    fn target_dir_is_taken_out_and_manifest_path_seen() {
        let a = RunnerArgs::parse(
            Runner::Nextest,
            &strings(&["--target-dir", "/t", "--manifest-path=a/Cargo.toml", "--ff"]),
            false,
        )
        .unwrap();
        assert_eq!(a.target_dir, Some(PathBuf::from("/t")));
        assert_eq!(a.manifest_path.as_deref(), Some("a/Cargo.toml"));
        assert_eq!(a.run, strings(&["--manifest-path=a/Cargo.toml", "--ff"]));
        assert_eq!(a.build, strings(&["--manifest-path=a/Cargo.toml"]));
    }

    #[test]
    fn targets_and_configs_are_seen_in_both_spellings_and_passed_on() {
        let a = RunnerArgs::parse(
            Runner::CargoTest,
            &strings(&[
                "--target",
                "a",
                "--target=b",
                "--target-dir",
                "c",
                "--config=x=1",
                "--",
                "--target",
                "d",
            ]),
            true,
        )
        .unwrap();
        assert_eq!(a.targets, strings(&["a", "b"]));
        assert_eq!(a.configs, strings(&["x=1"]));
        assert_eq!(
            a.build,
            strings(&[
                "--target=a",
                "--target=b",
                "--config=x=1",
                "--",
                "--target",
                "d"
            ])
        );
    }

    #[test]
    fn flags_after_double_dash_belong_to_the_test_binaries() {
        let a = RunnerArgs::parse(
            Runner::CargoTest,
            &strings(&["--", "--target-dir", "x"]),
            true,
        )
        .unwrap();
        assert_eq!(a.target_dir, None);
        assert_eq!(a.run, strings(&["--", "--target-dir", "x"]));
    }

    #[test]
    fn fail_fast_after_cargo_arguments_is_ours_not_cargo_s() {
        let a = RunnerArgs::parse(
            Runner::CargoTest,
            &strings(&["-p", "x", "--fail-fast"]),
            false,
        )
        .unwrap();
        assert_eq!(a.run, strings(&["-p", "x"]));
        assert_eq!(a.build, strings(&["-p", "x"]));
    }

    #[test]
    fn nextest_max_fail_goes_to_the_run_only() {
        let a = RunnerArgs::parse(
            Runner::Nextest,
            &strings(&["--max-fail", "3", "-E", "all()"]),
            false,
        )
        .unwrap();
        assert_eq!(a.run, strings(&["--max-fail", "3", "-E", "all()"]));
        assert_eq!(a.build, strings(&["-E", "all()"]));
    }

    #[test]
    fn message_format_is_refused() {
        let e = RunnerArgs::parse(
            Runner::CargoTest,
            &strings(&["--message-format=json"]),
            false,
        )
        .unwrap_err();
        assert!(e.message.contains("--message-format"), "{e}");
    }

    #[test]
    fn a_directory_flag_given_twice_or_opposite_fail_fast_flags_are_refused() {
        for args in [
            &["--target-dir", "a", "--target-dir=b"][..],
            &[
                "--manifest-path=a/Cargo.toml",
                "--manifest-path",
                "b/Cargo.toml",
            ],
        ] {
            let e = RunnerArgs::parse(Runner::CargoTest, &strings(args), false).unwrap_err();
            assert!(e.message.ends_with("given twice; give it once"), "{e}");
        }
        for (runner, args, fail_fast) in [
            (
                Runner::CargoTest,
                &["--fail-fast", "--no-fail-fast"][..],
                false,
            ),
            (Runner::CargoTest, &["--no-fail-fast"], true),
            (Runner::Nextest, &["--nff"], true),
            (Runner::Nextest, &["--ff", "--no-fail-fast"], false),
        ] {
            let e = RunnerArgs::parse(runner, &strings(args), fail_fast).unwrap_err();
            assert!(e.message.contains("ask for opposite things"), "{e}");
        }
        // After `--`, they are the test binaries' arguments.
        let a = RunnerArgs::parse(
            Runner::CargoTest,
            &strings(&["--target-dir", "a", "--", "--target-dir", "b"]),
            false,
        )
        .unwrap();
        assert_eq!(a.target_dir, Some(PathBuf::from("a")));
    }
}
