//! `RACEDET_OPTIONS`: parsed once, every key validated.

use std::fmt;
use std::path::PathBuf;

/// How much of the previous access is kept.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum History {
    /// Exact site (file:line:col) and thread of the previous access.
    Sites,
    /// Also its full stack (captured at every access: slow).
    Full,
}

/// Which map accesses conflict.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum MapPolicy {
    /// Go's: every operation reads the map header, every mutation writes it.
    Go,
    /// Only same-bucket accesses and whole-map operations conflict.
    Bucket,
}

/// How reports are written.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ReportFormat {
    /// Go-style text blocks.
    Text,
    /// One JSON object per line.
    Json,
}

/// How report stacks are turned into function names and source lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Symbolizer {
    /// `llvm-symbolizer`, else `addr2line`, from `PATH`, run as a child
    /// process; in process when neither works.
    Auto,
    /// In process (the `backtrace` crate): no child process, but the debug
    /// info read stays in the program's memory (tens of MB for a test binary).
    InProcess,
    /// This program, run as a child process: an `llvm-symbolizer`, or an
    /// `addr2line` when its name says so; in process when it fails.
    Program(PathBuf),
}

/// The runtime's options (SPEC section 5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// Write reports to `PREFIX.PID` instead of stderr.
    pub log_path: Option<PathBuf>,
    /// Exit status after reports.
    pub exitcode: i32,
    /// Exit after the first report.
    pub halt_on_error: bool,
    /// Previous-access history kept.
    pub history: History,
    /// Prefix removed from file paths in reports.
    pub strip_path_prefix: Option<String>,
    /// Suppressions file.
    pub suppressions: Option<PathBuf>,
    /// Default map policy.
    pub map_policy: MapPolicy,
    /// Report format.
    pub report_format: ReportFormat,
    /// Stop printing after this many distinct reports (0 = no limit).
    pub max_reports: usize,
    /// How stacks are symbolized.
    pub symbolizer: Symbolizer,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            log_path: None,
            exitcode: 66,
            halt_on_error: false,
            history: History::Sites,
            strip_path_prefix: None,
            suppressions: None,
            map_policy: MapPolicy::Go,
            report_format: ReportFormat::Text,
            max_reports: 0,
            symbolizer: Symbolizer::Auto,
        }
    }
}

/// A bad `RACEDET_OPTIONS`: names the key or word and what is accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OptionsError(pub String);

impl fmt::Display for OptionsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "racedet: bad RACEDET_OPTIONS: {}", self.0)
    }
}

impl std::error::Error for OptionsError {}

/// What separates `RACEDET_OPTIONS` pairs (as TSAN_OPTIONS): so no value
/// can hold one of these.
pub const PAIR_SEPARATORS: [char; 4] = [' ', '\t', '\n', ':'];

/// The `key=value` pairs of a `RACEDET_OPTIONS` text, in order (`cargo
/// racedet` reads the user's the same way before it rewrites them).
pub fn pairs(text: &str) -> impl Iterator<Item = &str> {
    text.split(PAIR_SEPARATORS).filter(|p| !p.is_empty())
}

/// Every accepted key, for error messages.
pub const KEYS: &str = "log_path, exitcode, halt_on_error, history, strip_path_prefix, suppressions, map_policy, report_format, max_reports, symbolizer";

impl Options {
    /// Parses `key=value key=value ...` (spaces or colons between pairs, as
    /// TSAN_OPTIONS accepts). Later keys override earlier ones.
    pub fn parse(text: &str) -> Result<Options, OptionsError> {
        let mut o = Options::default();
        for pair in pairs(text) {
            // A `.env` file saved with CRLF endings leaves a `\r` on its
            // last value, which prints invisibly in the quote below.
            if pair.contains('\r') {
                return Err(OptionsError(format!(
                    "`{}` contains a carriage return (shown as \\r; a file with Windows (CRLF) line \
                     endings leaves one): remove it",
                    pair.replace('\r', "\\r")
                )));
            }
            let Some((key, value)) = pair.split_once('=') else {
                return Err(OptionsError(format!(
                    "`{pair}` is not key=value ({SEPARATORS}; accepted keys: {KEYS})"
                )));
            };
            let bad = |accepted: String| {
                let found = match value {
                    "" => format!("no value for `{key}`"),
                    _ => format!("bad value `{value}` for `{key}`"),
                };
                OptionsError(format!(
                    "{found}; expected {accepted}{}",
                    separators_hint(value)
                ))
            };
            match key {
                "log_path" => o.log_path = Some(path_value(key, value)?.into()),
                "exitcode" => {
                    o.exitcode = value
                        .parse::<i32>()
                        .ok()
                        .filter(|c| (0..=255).contains(c))
                        .ok_or_else(|| bad("an integer from 0 to 255".into()))?
                }
                "halt_on_error" => {
                    o.halt_on_error = pick(
                        value,
                        &[("0", false), ("1", true), ("false", false), ("true", true)],
                    )
                    .map_err(bad)?
                }
                "history" => {
                    o.history = pick(value, &[("sites", History::Sites), ("full", History::Full)])
                        .map_err(bad)?
                }
                "strip_path_prefix" => {
                    o.strip_path_prefix = Some(no_comma_pair(key, value)?.to_string())
                }
                "suppressions" => o.suppressions = Some(path_value(key, value)?.into()),
                "map_policy" => {
                    o.map_policy = pick(
                        value,
                        &[("go", MapPolicy::Go), ("bucket", MapPolicy::Bucket)],
                    )
                    .map_err(bad)?
                }
                "report_format" => {
                    o.report_format = pick(
                        value,
                        &[("text", ReportFormat::Text), ("json", ReportFormat::Json)],
                    )
                    .map_err(bad)?
                }
                "max_reports" => {
                    o.max_reports = value
                        .parse()
                        .map_err(|_| bad("a non-negative integer (0 = no limit)".into()))?
                }
                "symbolizer" => {
                    o.symbolizer = match value {
                        "auto" => Symbolizer::Auto,
                        "inprocess" => Symbolizer::InProcess,
                        program => {
                            let path = find_program(program)
                                .filter(|path| names_a_symbolizer(path))
                                .ok_or_else(|| {
                                    bad("`auto`, `inprocess`, or an existing llvm-symbolizer or addr2line program (a path, or a name on PATH, whose file name contains `symbolizer` or `addr2line`: it says which protocol to speak)".into())
                                })?;
                            // Running it would fail at every report, each
                            // falling back to in-process resolution.
                            if !is_executable(&path) {
                                return Err(OptionsError(format!(
                                    "`symbolizer={program}`: {} is not executable; make it \
                                     executable (chmod +x) or use `symbolizer=auto` or `inprocess`",
                                    path.display()
                                )));
                            }
                            Symbolizer::Program(path)
                        }
                    }
                }
                _ => {
                    return Err(OptionsError(format!(
                        "unknown key `{key}` (accepted keys: {KEYS})"
                    )))
                }
            }
        }
        Ok(o)
    }

    /// Checks at runtime start that `log_path` can name the log files: a
    /// file prefix (`DIR/report` gives `DIR/report.PID`) in a directory
    /// that exists. Found only at the first race, a bad one would cost
    /// that report, and a clean run would never say. No file is made: a
    /// process without races leaves none, as TSan's. Not part of `parse`:
    /// `cargo racedet` parses the user's options too, and replaces
    /// `log_path` with its own.
    pub fn check_log_path(&self) -> Result<(), OptionsError> {
        let Some(prefix) = &self.log_path else {
            return Ok(());
        };
        let text = prefix.to_string_lossy();
        let (dir, name) = match text.rsplit_once('/') {
            Some(("", name)) => ("/", name),
            Some((dir, name)) => (dir, name),
            None => (".", &*text),
        };
        // `DIR/` would write `DIR/.PID`, a hidden file.
        if matches!(name, "" | "." | "..") || prefix.is_dir() {
            let example = format!("{}/report", text.trim_end_matches('/'));
            return Err(OptionsError(format!(
                "`log_path={text}` names a directory; log_path is a file prefix \
                 (log_path={example} writes {example}.PID)"
            )));
        }
        match std::fs::metadata(dir) {
            Ok(m) if m.is_dir() => Ok(()),
            Ok(_) => Err(OptionsError(format!(
                "`log_path={text}`: {dir} is not a directory; point log_path into a directory"
            ))),
            Err(e) => Err(OptionsError(format!(
                "`log_path={text}`: directory {dir}: {e}; create it, or point log_path elsewhere"
            ))),
        }
    }
}

/// The value named `value` among `choices`, or the list of accepted names
/// (one list serves both the parse and its error, so they cannot drift).
fn pick<T: Copy>(value: &str, choices: &[(&str, T)]) -> Result<T, String> {
    choices
        .iter()
        .find(|(name, _)| *name == value)
        .map(|&(_, v)| v)
        .ok_or_else(|| {
            let names: Vec<String> = choices.iter().map(|(n, _)| format!("`{n}`")).collect();
            names.join(", ")
        })
}

/// How pairs are written, for messages about a value that a misplaced
/// separator emptied or that holds the next pair.
const SEPARATORS: &str =
    "pairs are separated by spaces or colons, not commas; a value cannot contain a space or colon";

/// `SEPARATORS` for a value that is empty (`exitcode= 5`: the blank ended
/// the pair) or holds `=` or `,` (`exitcode=5,halt_on_error=1`: the next
/// pair, comma-separated), where a separator is the likely mistake.
fn separators_hint(value: &str) -> String {
    if value.is_empty() || value.contains(['=', ',']) {
        format!(" ({SEPARATORS})")
    } else {
        String::new()
    }
}

/// A path value: not empty, and not holding a comma-separated pair.
fn path_value<'a>(key: &str, value: &'a str) -> Result<&'a str, OptionsError> {
    if value.is_empty() {
        return Err(OptionsError(format!(
            "`{key}` needs a path, found nothing ({SEPARATORS})"
        )));
    }
    no_comma_pair(key, value)
}

/// `value`, unless it holds `,KEY=` for a known key: a path may hold
/// commas, but `log_path=/tmp/r,exitcode=3` is two pairs written with a
/// comma, and taking it as one path would silently drop the second.
fn no_comma_pair<'a>(key: &str, value: &'a str) -> Result<&'a str, OptionsError> {
    let known = |word: &str| KEYS.split(", ").any(|k| k == word);
    match value
        .split(',')
        .skip(1)
        .find(|part| part.split_once('=').is_some_and(|(k, _)| known(k)))
    {
        Some(pair) => Err(OptionsError(format!(
            "`{key}={value}` holds `{pair}` after a comma ({SEPARATORS})"
        ))),
        None => Ok(value),
    }
}

/// Whether `path`'s file name says which symbolizer it is: the runtime
/// speaks addr2line's protocol to a name containing `addr2line`, and
/// llvm-symbolizer's to one containing `symbolizer` (`llvm-symbolizer-17`,
/// a wrapper script named so). Any other program would be spoken to in a
/// protocol it does not know, and every report would quietly fall back.
fn names_a_symbolizer(path: &std::path::Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.contains("addr2line") || n.contains("symbolizer"))
}

/// The file `program` names: a path (with a `/`) as it is, a bare name
/// looked up on `PATH` as a shell would (skipping files that are not
/// executable).
pub fn find_program(program: &str) -> Option<PathBuf> {
    if program.is_empty() {
        return None;
    }
    if program.contains('/') {
        let path = PathBuf::from(program);
        return path.is_file().then_some(path);
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|path| path.is_file() && is_executable(path))
}

/// Whether `path` has an execute bit set.
#[cfg(unix)]
fn is_executable(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

/// Elsewhere there are no execute bits: running it tells.
#[cfg(not(unix))]
fn is_executable(_path: &std::path::Path) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_options_are_the_defaults() {
        assert_eq!(Options::parse("").unwrap(), Options::default());
        assert_eq!(Options::default().exitcode, 66);
    }

    #[test]
    fn every_key_is_parsed() {
        let o = Options::parse(
            "log_path=/tmp/r exitcode=3 halt_on_error=1 history=full strip_path_prefix=/src/ \
             suppressions=s.txt map_policy=bucket report_format=json max_reports=7 \
             symbolizer=inprocess",
        )
        .unwrap();
        assert_eq!(o.log_path.as_deref(), Some(std::path::Path::new("/tmp/r")));
        assert_eq!(o.exitcode, 3);
        assert!(o.halt_on_error);
        assert_eq!(o.history, History::Full);
        assert_eq!(o.strip_path_prefix.as_deref(), Some("/src/"));
        assert_eq!(o.map_policy, MapPolicy::Bucket);
        assert_eq!(o.report_format, ReportFormat::Json);
        assert_eq!(o.max_reports, 7);
        assert_eq!(o.symbolizer, Symbolizer::InProcess);
    }

    #[test]
    fn symbolizer_is_auto_inprocess_or_an_existing_program() {
        assert_eq!(
            Options::parse("symbolizer=auto").unwrap().symbolizer,
            Symbolizer::Auto
        );
        let dir = scratch("options");
        for (name, accepted) in [
            ("llvm-symbolizer-17", true),
            ("wrapped-symbolizer", true),
            ("x86_64-linux-gnu-addr2line", true),
            // Exists, but its name says no protocol: every report would
            // fall back without saying why.
            ("true", false),
        ] {
            let path = dir.join(name);
            std::fs::write(&path, "").unwrap();
            set_mode(&path, 0o755);
            let parsed = Options::parse(&format!("symbolizer={}", path.display()));
            match parsed {
                Ok(o) => {
                    assert!(accepted, "{name} accepted");
                    assert_eq!(o.symbolizer, Symbolizer::Program(path));
                }
                Err(e) => {
                    assert!(!accepted, "{name} refused: {e}");
                    assert!(e
                        .to_string()
                        .contains("contains `symbolizer` or `addr2line`"));
                }
            }
        }
        // Named right but not executable: every report would fall back.
        let plain = dir.join("plain-llvm-symbolizer");
        std::fs::write(&plain, "").unwrap();
        set_mode(&plain, 0o644);
        let e = Options::parse(&format!("symbolizer={}", plain.display()))
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with(&format!(
                "{} is not executable; make it executable (chmod +x) or use \
                 `symbolizer=auto` or `inprocess`",
                plain.display()
            )),
            "{e}"
        );
        let e = Options::parse("symbolizer=/nonexistent/llvm-symbolizer")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`symbolizer`") && e.contains("`inprocess`"),
            "{e}"
        );
        assert!(Options::parse("symbolizer=no-such-symbolizer-on-path").is_err());
        assert!(Options::parse("symbolizer=").is_err());
    }

    /// A scratch directory of one test, removed when dropped (also when
    /// the test fails).
    struct Scratch(PathBuf);

    impl std::ops::Deref for Scratch {
        type Target = std::path::Path;
        fn deref(&self) -> &std::path::Path {
            &self.0
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn scratch(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("racedet-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn set_mode(path: &std::path::Path, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn log_path_must_be_a_file_prefix_in_an_existing_directory() {
        let dir = scratch("logpath");
        std::fs::create_dir_all(dir.join("lp")).unwrap();
        std::fs::write(dir.join("file"), "").unwrap();
        let d = dir.display();
        let check = |value: &str| {
            Options::parse(&format!("log_path={value}"))
                .unwrap()
                .check_log_path()
                .map_err(|e| e.to_string())
        };
        assert_eq!(check(&format!("{d}/lp/report")), Ok(()));
        assert_eq!(check("relative-prefix"), Ok(()));
        assert_eq!(Options::default().check_log_path(), Ok(()));
        for value in [format!("{d}/lp/"), format!("{d}/lp"), format!("{d}/lp/.")] {
            let e = check(&value).unwrap_err();
            assert!(
                e.ends_with(&format!(
                    "`log_path={value}` names a directory; log_path is a file prefix \
                     (log_path={0}/report writes {0}/report.PID)",
                    value.trim_end_matches('/')
                )),
                "{e}"
            );
        }
        let e = check(&format!("{d}/missing/r")).unwrap_err();
        assert!(
            e.contains(&format!("directory {d}/missing: No such file or directory"))
                && e.ends_with("create it, or point log_path elsewhere"),
            "{e}"
        );
        let e = check(&format!("{d}/file/r")).unwrap_err();
        assert!(e.contains(&format!("{d}/file is not a directory")), "{e}");
        let made: Vec<_> = std::fs::read_dir(dir.join("lp")).unwrap().collect();
        assert!(made.is_empty(), "no file is made: {made:?}");
    }

    #[test]
    fn colon_separates_pairs_like_tsan_options() {
        let o = Options::parse("exitcode=1:halt_on_error=1").unwrap();
        assert_eq!(o.exitcode, 1);
        assert!(o.halt_on_error);
    }

    #[test]
    fn unknown_key_is_an_error_naming_it_and_the_accepted_keys() {
        let e = Options::parse("exticode=1").unwrap_err().to_string();
        assert!(e.contains("unknown key `exticode`"), "{e}");
        assert!(e.contains("exitcode"), "{e}");
    }

    #[test]
    fn bad_value_names_key_value_and_accepted_values() {
        let e = Options::parse("history=some").unwrap_err().to_string();
        assert!(
            e.contains("`some`") && e.contains("`history`") && e.contains("`full`"),
            "{e}"
        );
        assert!(Options::parse("exitcode=300").is_err());
        assert!(Options::parse("halt_on_error=yes").is_err());
        assert!(Options::parse("max_reports=-1").is_err());
        assert!(Options::parse("log_path=").is_err());
        assert!(Options::parse("justaword").is_err());
    }

    #[test]
    fn a_carriage_return_is_named_not_quoted_invisibly() {
        // The last line of a `.env` file saved with CRLF endings.
        let e = Options::parse("exitcode=3 history=full\r")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`history=full\\r` contains a carriage return"),
            "{e}"
        );
        assert!(!e.contains('\r'), "{e:?}");
    }

    #[test]
    fn a_value_emptied_by_a_blank_or_holding_the_next_pair_says_how_pairs_are_separated() {
        for (options, found) in [
            (
                "exitcode= 5",
                "no value for `exitcode`; expected an integer",
            ),
            (
                "exitcode=5,halt_on_error=1",
                "bad value `5,halt_on_error=1` for `exitcode`",
            ),
            ("history=full,exitcode=3", "bad value `full,exitcode=3`"),
            ("max_reports=", "no value for `max_reports`"),
            (
                "suppressions= s.txt",
                "`suppressions` needs a path, found nothing",
            ),
            // A path may hold a comma: only a known key after one is refused.
            (
                "log_path=/tmp/r,exitcode=3",
                "`log_path=/tmp/r,exitcode=3` holds `exitcode=3` after a comma",
            ),
            (
                "strip_path_prefix=/src/,history=full",
                "holds `history=full` after a comma",
            ),
        ] {
            let e = Options::parse(options).unwrap_err().to_string();
            assert!(e.contains(found), "{options}: {e}");
            assert!(
                e.contains("pairs are separated by spaces or colons, not commas"),
                "{options}: {e}"
            );
        }
        let o = Options::parse("log_path=/tmp/a,b=c/r strip_path_prefix=/x,y/").unwrap();
        assert_eq!(
            o.log_path.as_deref(),
            Some(std::path::Path::new("/tmp/a,b=c/r"))
        );
        assert_eq!(o.strip_path_prefix.as_deref(), Some("/x,y/"));
        // A plainly wrong value is not blamed on separators.
        let e = Options::parse("history=some").unwrap_err().to_string();
        assert!(!e.contains("separated"), "{e}");
    }
}
