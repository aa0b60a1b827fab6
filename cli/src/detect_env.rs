//! The environment that turns detection on for a whole dependency graph
//! without editing manifests, and points every test process's reports at
//! the run directory.

use crate::error::{Failure, Result};
use racedet_runtime::options::{self, Options, PAIR_SEPARATORS};
use racedet_runtime::suppressions::Suppressions;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The `cfg` the `racedet` crate checks besides its `detect` feature.
const DETECT_CFG: &str = "racedet_detect";

/// Flags for rustc and rustdoc that compile detection into every crate:
/// for the build and the run alike, so the run rebuilds nothing. `targets`
/// and `configs` are the runner's `--target` and `--config` values.
pub fn build_vars(targets: &[String], configs: &[String]) -> Result<Vec<(String, OsString)>> {
    let var = |k: &str| std::env::var(k).ok();
    let (rustflags, rustdocflags) = (var("RUSTFLAGS"), var("RUSTDOCFLAGS"));
    let (encoded, encoded_doc) = (
        var("CARGO_ENCODED_RUSTFLAGS"),
        var("CARGO_ENCODED_RUSTDOCFLAGS"),
    );
    // Set at all, the variables are what cargo uses; unset, cargo takes
    // its configuration's flags, which setting one of them would switch
    // off: those flags are then read here and passed on with ours.
    let need = [
        encoded.is_none() && rustflags.is_none(),
        encoded_doc.is_none() && rustdocflags.is_none(),
    ];
    let [from_config, from_config_doc] = if need.contains(&true) {
        config_flags(targets, configs, need)?
    } else {
        [None, None]
    };
    Ok(vec![
        flags_var("RUSTFLAGS", encoded.or(from_config), rustflags),
        flags_var(
            "RUSTDOCFLAGS",
            encoded_doc.or(from_config_doc),
            rustdocflags,
        ),
    ])
}

/// The two kinds of flags, as cargo's configuration names them.
const KINDS: [&str; 2] = ["rustflags", "rustdocflags"];

/// The rustflags and rustdocflags of cargo's configuration (config files,
/// `CARGO_BUILD_RUSTFLAGS`, `CARGO_TARGET_<TRIPLE>_RUSTFLAGS`, `target.<triple>`
/// and `target.'cfg(..)'` tables) for the targets built, encoded as
/// `CARGO_ENCODED_*` takes them (0x1f between flags), for each kind the
/// caller `need`s.
fn config_flags(
    targets: &[String],
    configs: &[String],
    need: [bool; 2],
) -> Result<[Option<String>; 2]> {
    let cli = CliConfig::read(configs, need)?;
    let config = match cargo_config2::Config::load() {
        Ok(config) => config,
        // A configuration cargo takes but cargo-config2 does not (it types
        // some keys more narrowly, `build.jobs = "default"`): only an error
        // if it may hold flags that would be lost.
        Err(_) if !configured_flags_may_exist(need) => return Ok([None, None]),
        Err(e) => return Err(unreadable_config(&e)),
    };
    let unreadable = |e: cargo_config2::Error| unreadable_config(&e);
    let mut targets = if targets.is_empty() {
        cli.targets
    } else {
        targets.to_vec()
    };
    for t in &mut targets {
        // cargo's name for the host's triple.
        if t == "host-tuple" {
            *t = config.host_triple().map_err(unreadable)?.to_string();
        }
    }
    let targets = config
        .build_target_for_config(targets.iter().map(String::as_str))
        .map_err(unreadable)?;
    let mut flags = [None, None];
    for i in 0..2 {
        if !need[i] {
            continue;
        }
        let doc = i == 1;
        let mut seen: Option<Option<String>> = None;
        for target in &targets {
            let resolved = if doc {
                config.rustdocflags(target.clone())
            } else {
                config.rustflags(target.clone())
            }
            .map_err(unreadable)?;
            let encoded = resolved
                .map(|f| f.encode())
                .transpose()
                .map_err(unreadable)?;
            match &seen {
                Some(first) if *first != encoded => {
                    return Err(Failure::input(format!(
                        "cargo's configuration gives the targets {} different {}, which \
                         cargo racedet cannot pass on with its own `--cfg {DETECT_CFG}` in \
                         one variable; run one --target at a time",
                        targets
                            .iter()
                            .map(|t| t.triple())
                            .collect::<Vec<_>>()
                            .join(", "),
                        KINDS[i],
                    )))
                }
                _ => seen = Some(encoded),
            }
        }
        flags[i] = seen.flatten();
    }
    Ok(flags)
}

/// cargo's configuration could not be read: the error with its causes, and
/// the way round it.
fn unreadable_config(e: &cargo_config2::Error) -> Failure {
    let causes: Vec<String> =
        std::iter::successors(Some(e as &dyn std::error::Error), |e| e.source())
            .map(ToString::to_string)
            .collect();
    // On one line: a TOML error shows the offending line with a caret
    // under it, on lines of their own (`2 | jobs = ..`, `  |   ^^^`).
    let why = causes
        .join(": ")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.contains('|'))
        .collect::<Vec<_>>()
        .join(": ");
    Failure::input(format!(
        "cannot read cargo's configuration for its rustflags: {why} (set RUSTFLAGS to the \
         flags the build needs, and cargo racedet uses those)"
    ))
}

/// Whether cargo's configuration might set flags of a kind `need`ed: in a
/// config file (the current directory's and its parents' `.cargo/`, and
/// `CARGO_HOME`'s) or a `CARGO_BUILD_*`/`CARGO_TARGET_*` variable.
fn configured_flags_may_exist(need: [bool; 2]) -> bool {
    let kinds: Vec<&str> = KINDS
        .iter()
        .zip(need)
        .filter_map(|(k, n)| n.then_some(*k))
        .collect();
    let env = std::env::vars_os().any(|(k, _)| {
        let k = k.to_string_lossy().to_ascii_lowercase();
        (k.starts_with("cargo_build_") || k.starts_with("cargo_target_"))
            && kinds.iter().any(|kind| k.ends_with(kind))
    });
    let mut dirs: Vec<PathBuf> = std::env::current_dir()
        .map(|d| d.ancestors().map(|a| a.join(".cargo")).collect())
        .unwrap_or_default();
    dirs.extend(
        std::env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo"))),
    );
    let files = dirs
        .into_iter()
        .flat_map(|d| [d.join("config.toml"), d.join("config")]);
    env || files
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .any(|text| {
            text.lines()
                .filter(|l| !l.trim_start().starts_with('#'))
                .any(|l| kinds.iter().any(|kind| l.contains(kind)))
        })
}

/// What cargo racedet needs of the runner's `--config` values (TOML,
/// given inline as `KEY=VALUE` or as a file), which cargo-config2 does not
/// read: `build.target`.
struct CliConfig {
    targets: Vec<String>,
}

impl CliConfig {
    /// Reads the `--config` values (`configs`); refuses one that sets flags of a kind
    /// `need`ed: cargo racedet cannot pass them on with its own flag, and
    /// dropping them silently would build other code than the user's.
    fn read(configs: &[String], need: [bool; 2]) -> Result<CliConfig> {
        let mut targets = Vec::new();
        for value in configs {
            let text = if Path::new(value).is_file() {
                std::fs::read_to_string(value).unwrap_or_default()
            } else {
                value.to_string()
            };
            // Not TOML: cargo says what is wrong with it.
            let Ok(table) = text.parse::<toml::Table>() else {
                continue;
            };
            if let Some(kind) = sets_flags(&table, need) {
                return Err(Failure::input(format!(
                    "`--config {value}` sets {kind}, which cargo racedet cannot read to pass \
                     on with its own `--cfg {DETECT_CFG}`; give them in {} or in \
                     .cargo/config.toml",
                    kind.to_ascii_uppercase()
                )));
            }
            match table.get("build").and_then(|b| b.get("target")) {
                Some(toml::Value::String(t)) => targets = vec![t.clone()],
                Some(toml::Value::Array(ts)) => {
                    targets = ts
                        .iter()
                        .filter_map(|t| t.as_str().map(str::to_string))
                        .collect()
                }
                _ => {}
            }
        }
        Ok(CliConfig { targets })
    }
}

/// The kind of flags a `--config` table sets (`build.KIND`,
/// `target.<anything>.KIND`), of those `need`ed.
fn sets_flags(table: &toml::Table, need: [bool; 2]) -> Option<&'static str> {
    let sections = table.get("build").into_iter().chain(
        table
            .get("target")
            .and_then(toml::Value::as_table)
            .into_iter()
            .flat_map(|t| t.values()),
    );
    let sections: Vec<&toml::Value> = sections.collect();
    KINDS
        .into_iter()
        .zip(need)
        .filter(|(_, n)| *n)
        .map(|(k, _)| k)
        .find(|kind| sections.iter().any(|s| s.get(kind).is_some()))
}

/// `RACEDET_OPTIONS` for the test processes of one run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The variable to set.
    pub var: (String, OsString),
    /// The `exitcode` a racy process exits with (the user's, or 66).
    pub exitcode: i32,
    /// The user's pairs this run replaces, to say so.
    pub replaced: Vec<String>,
}

/// Checks, before anything is built, what would otherwise fail every test
/// process alike after the build: the user's `RACEDET_OPTIONS` (the same
/// check each process makes, with the same message), their suppressions
/// file, and that the run directories under `runs` can be named in
/// `RACEDET_OPTIONS`.
pub fn validate_user_options(runs: &Path) -> Result<()> {
    let Some(runs) = runs.to_str() else {
        return Err(Failure::input(format!(
            "the run directories' path {} is not valid UTF-8, which RACEDET_OPTIONS cannot \
             carry; set CARGO_TARGET_DIR (or --target-dir) to a path in plain text",
            runs.display()
        )));
    };
    if runs.contains(PAIR_SEPARATORS) {
        return Err(Failure::input(format!(
            "the run directories' path {runs} contains a space or `:`, which RACEDET_OPTIONS \
             cannot carry; set CARGO_TARGET_DIR (or --target-dir) to a path without them"
        )));
    }
    user_options().map(drop)
}

fn user_options() -> Result<(String, Options)> {
    let user = match std::env::var("RACEDET_OPTIONS") {
        Ok(user) => user,
        Err(std::env::VarError::NotPresent) => String::new(),
        Err(std::env::VarError::NotUnicode(_)) => {
            return Err(Failure::input(
                "RACEDET_OPTIONS is not valid UTF-8; set it to key=value pairs in plain text",
            ))
        }
    };
    let parsed = Options::parse(&user).map_err(|e| Failure::input(e.to_string()))?;
    if let Some(path) = &parsed.suppressions {
        Suppressions::load(&from_here(path)?).map_err(|e| Failure::input(e.to_string()))?;
    }
    // Checked with the rest, before anything is built: `merged_options`
    // makes the same paths for the run.
    for pair in options::pairs(&user) {
        if let Some(("symbolizer", program)) = pair.split_once('=') {
            symbolizer_from_here(program)?;
        }
    }
    Ok((user, parsed))
}

/// `path` as named from the directory `cargo racedet` runs in (as cargo
/// takes a relative `--target-dir`): test processes run in their
/// package's directory, where a relative path would name another file or
/// none.
pub(crate) fn from_here(path: &Path) -> Result<PathBuf> {
    if path.is_absolute() {
        return Ok(path.to_path_buf());
    }
    let here = std::env::current_dir()
        .map_err(|e| Failure::input(format!("cannot read the current directory: {e}")))?;
    Ok(here.join(path))
}

/// The user's options with reports sent to `reports_prefix` (`RUN/report`)
/// as JSON, and their suppressions file copied into the run directory
/// (`RUN/suppressions`), which the test processes read instead: they run in
/// their packages' directories, where a relative path would name another
/// file or none, and the copy's path is one `RACEDET_OPTIONS` can carry.
/// The run directory also keeps what was suppressed in it.
pub fn run_options(reports_prefix: &Path) -> Result<RunOptions> {
    let (user, parsed) = user_options()?;
    let copy = match &parsed.suppressions {
        Some(path) => {
            let copy = reports_prefix.with_file_name(crate::run_dir::SUPPRESSIONS);
            std::fs::copy(from_here(path)?, &copy).map_err(|e| {
                Failure::input(format!(
                    "cannot copy the suppressions file into {}: {e}",
                    copy.display()
                ))
            })?;
            Some(copy)
        }
        None => None,
    };
    let (options, replaced) = merged_options(&user, reports_prefix, copy.as_deref())?;
    Ok(RunOptions {
        var: ("RACEDET_OPTIONS".to_string(), options.into()),
        exitcode: parsed.exitcode,
        replaced,
    })
}

/// Appends `--cfg racedet_detect` to the flags cargo will use. Cargo reads
/// `CARGO_ENCODED_<NAME>` (flags separated by 0x1f; set at all, even empty,
/// it wins) before `<NAME>`, so the one in use is the one extended.
fn flags_var(name: &str, encoded: Option<String>, plain: Option<String>) -> (String, OsString) {
    if let Some(enc) = encoded {
        let value = if enc.split('\x1f').any(|f| f == DETECT_CFG) {
            enc
        } else if enc.is_empty() {
            format!("--cfg\x1f{DETECT_CFG}")
        } else {
            format!("{enc}\x1f--cfg\x1f{DETECT_CFG}")
        };
        return (format!("CARGO_ENCODED_{name}"), value.into());
    }
    let plain = plain.unwrap_or_default();
    let value = if plain.split_whitespace().any(|f| f == DETECT_CFG) {
        plain
    } else if plain.trim().is_empty() {
        format!("--cfg {DETECT_CFG}")
    } else {
        format!("{} --cfg {DETECT_CFG}", plain.trim_end())
    };
    (name.to_string(), value.into())
}

/// The user's `RACEDET_OPTIONS`, validated, with `report_format` and
/// `log_path` replaced by this run's, and `suppressions` by the run's copy
/// of the file; every other key is kept.
fn merged_options(
    user: &str,
    prefix: &Path,
    suppressions: Option<&Path>,
) -> Result<(String, Vec<String>)> {
    // Under the run directories, whose path `validate_user_options` checked.
    let prefix = prefix.to_string_lossy();
    let mut kept = Vec::new();
    let mut replaced = Vec::new();
    for pair in options::pairs(user) {
        let key = pair.split_once('=').map_or(pair, |(key, _)| key);
        if key == "log_path" || key == "report_format" {
            replaced.push(pair.to_string());
        } else if key == "suppressions" {
            // Each copy of the key (the last one wins) names the run's copy
            // of the file the options chose.
            if let Some(copy) = suppressions {
                kept.push(format!("suppressions={}", copy.display()));
            }
        } else if let Some(("symbolizer", program)) = pair.split_once('=') {
            kept.push(format!("symbolizer={}", symbolizer_from_here(program)?));
        } else {
            kept.push(pair.to_string());
        }
    }
    kept.push("report_format=json".to_string());
    kept.push(format!("log_path={prefix}"));
    Ok((kept.join(" "), replaced))
}

/// A symbolizer named by a relative path, made absolute as `from_here`
/// does: checked from here, it would name another file or none in the test
/// processes' directories, which would all stop on it. Names without a `/`
/// (looked up on `PATH`) and keywords are kept.
fn symbolizer_from_here(program: &str) -> Result<String> {
    if !program.contains('/') {
        return Ok(program.to_string());
    }
    // `./x` names `x` here: said without the `.`.
    let path: PathBuf = from_here(Path::new(program))?
        .components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect();
    match path.to_str() {
        Some(p) if !p.contains(PAIR_SEPARATORS) => Ok(p.to_string()),
        _ => Err(Failure::input(format!(
            "symbolizer={program}: from here its path is {}, which RACEDET_OPTIONS cannot \
             carry (a space, `:` or not UTF-8); give the program's path without them",
            path.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rustflags_given_with_config_are_refused_others_kept() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let both = [true, true];
        let read = |a: &[&str], need| CliConfig::read(&args(a), need);
        assert!(read(&["net.offline=true"], both).is_ok());
        // A value that only mentions the word is no setting of flags.
        let linker = r#"target.x.linker="/opt/rustflags/cc""#;
        assert!(read(&[linker], both).is_ok());
        let err = read(&[r#"target.x.rustflags=["-Cy"]"#], both)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("`--config target.x.rustflags="), "{err}");
        assert!(err.contains("sets rustflags, which cargo racedet cannot read to pass on with its own `--cfg racedet_detect`; give them in RUSTFLAGS or in .cargo/config.toml"), "{err}");
        let doc = ["build.rustdocflags=[]"];
        let err = read(&doc, both).err().unwrap().to_string();
        assert!(err.contains("give them in RUSTDOCFLAGS"), "{err}");
        // Set by the variable already: cargo ignores the configured ones.
        assert!(read(&doc, [true, false]).is_ok());
        // build.target is taken from a --config value.
        let t = read(&[r#"build.target="x86_64-unknown-linux-musl""#], both).unwrap();
        assert_eq!(t.targets, ["x86_64-unknown-linux-musl"]);
    }

    #[test]
    fn rustflags_are_extended_not_replaced() {
        assert_eq!(
            flags_var("RUSTFLAGS", None, Some("-C opt-level=1".into())),
            (
                "RUSTFLAGS".to_string(),
                "-C opt-level=1 --cfg racedet_detect".into()
            )
        );
        assert_eq!(
            flags_var("RUSTFLAGS", None, None).1,
            OsString::from("--cfg racedet_detect")
        );
        assert_eq!(
            flags_var(
                "RUSTFLAGS",
                Some("-Cdebuginfo=1".into()),
                Some("ignored".into())
            ),
            (
                "CARGO_ENCODED_RUSTFLAGS".to_string(),
                "-Cdebuginfo=1\x1f--cfg\x1fracedet_detect".into()
            )
        );
    }

    #[test]
    fn user_options_are_kept_except_where_reports_go() {
        let (o, replaced) = merged_options(
            "history=full log_path=/tmp/x report_format=text suppressions=a/b.txt",
            Path::new("/t/runs/1/report"),
            Some(Path::new("/t/runs/1/suppressions")),
        )
        .unwrap();
        assert_eq!(
            o,
            "history=full suppressions=/t/runs/1/suppressions report_format=json \
             log_path=/t/runs/1/report"
        );
        assert_eq!(replaced, ["log_path=/tmp/x", "report_format=text"]);
    }

    #[test]
    fn a_relative_symbolizer_path_is_made_absolute_and_a_name_on_path_kept() {
        let here = std::env::current_dir().unwrap();
        let (o, _) = merged_options(
            "symbolizer=tools/llvm-symbolizer",
            Path::new("/t/runs/1/report"),
            None,
        )
        .unwrap();
        assert!(
            o.starts_with(&format!(
                "symbolizer={}/tools/llvm-symbolizer ",
                here.display()
            )),
            "{o}"
        );
        for kept in [
            "symbolizer=addr2line",
            "symbolizer=/usr/bin/addr2line",
            "symbolizer=auto",
        ] {
            let (o, _) = merged_options(kept, Path::new("/t/r"), None).unwrap();
            assert!(o.starts_with(&format!("{kept} ")), "{o}");
        }
    }

    #[test]
    fn a_run_directory_the_options_cannot_carry_is_refused() {
        let e = validate_user_options(Path::new("/my dir/racedet/runs")).unwrap_err();
        assert!(e.message.contains("CARGO_TARGET_DIR"), "{e}");
    }
}
