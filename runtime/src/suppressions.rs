//! Suppression files: `race:PATTERN` lines, TSan style.

use crate::report::Report;
use std::fmt;

/// A parsed suppressions file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Suppressions {
    patterns: Vec<String>,
}

/// A malformed suppressions file: which file, which line, what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SuppressionError(pub String);

impl fmt::Display for SuppressionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SuppressionError {}

impl Suppressions {
    /// Reads and parses a suppressions file.
    pub fn load(path: &std::path::Path) -> Result<Suppressions, SuppressionError> {
        let bytes = std::fs::read(path).map_err(|e| {
            SuppressionError(format!(
                "racedet: cannot read suppressions file {}: {e} (fix the `suppressions=` path in RACEDET_OPTIONS)",
                path.display()
            ))
        })?;
        // Read, then decoded: the path is right, so say where the content
        // is wrong (a Latin-1 or UTF-16 file) rather than blame the path.
        let text = String::from_utf8(bytes).map_err(|e| {
            let at = e.utf8_error().valid_up_to();
            let bytes = e.as_bytes();
            let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1;
            SuppressionError(format!(
                "racedet: suppressions file {} is not UTF-8 text (line {line} has byte {:#04x}); save it as UTF-8",
                path.display(),
                bytes[at]
            ))
        })?;
        Suppressions::parse(&text).map_err(|e| {
            SuppressionError(format!(
                "racedet: suppressions file {}: {}",
                path.display(),
                e.0
            ))
        })
    }

    /// Parses `race:PATTERN` lines; a line whose first non-blank
    /// character is `#` is a comment, blank lines are skipped. `*` matches
    /// any run of characters; a pattern matches anywhere in a name unless
    /// anchored with `^` or `$`.
    pub fn parse(text: &str) -> Result<Suppressions, SuppressionError> {
        // A UTF-8 byte-order mark (Windows editors write one) says only
        // how the file is encoded, and it is invisible in an editor and
        // in an error's quote. TSan rejects it merely because it parses
        // bytes ("failed to parse suppressions", BOM not named); Go's
        // tools and rustc skip one at the start of a source file, which
        // is what users of both expect of a text file: skip it.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut patterns = Vec::new();
        for (n, raw) in text.lines().enumerate() {
            let line = raw.trim();
            // As TSan: only a whole line is a comment; a `#` elsewhere is
            // part of the pattern (`race:foo#bar`), so a pattern is never
            // silently cut to a broader one.
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match line.split_once(':') {
                Some(("race", pattern)) if !pattern.trim().is_empty() => {
                    let pattern = pattern.trim();
                    // `race:foo # why` was a trailing comment before `#`
                    // was kept in patterns; kept, it would match nothing.
                    if pattern
                        .split_whitespace()
                        .skip(1)
                        .any(|w| w.starts_with('#'))
                    {
                        return Err(SuppressionError(format!(
                            "line {}: `{line}` has `#` after a blank: a comment must be a line of \
                             its own (a `#` inside a line is part of the pattern, as in TSan)",
                            n + 1
                        )));
                    }
                    patterns.push(pattern.to_string())
                }
                Some(("race", _)) => {
                    return Err(SuppressionError(format!(
                        "line {}: `race:` needs a pattern, e.g. `race:my_crate::cache::*`",
                        n + 1
                    )))
                }
                _ => {
                    return Err(SuppressionError(format!(
                        "line {}: `{line}` is not a suppression; expected `race:PATTERN`",
                        n + 1
                    )))
                }
            }
        }
        Ok(Suppressions { patterns })
    }

    /// Whether any pattern matches a function or file name of either stack
    /// (or either exact site) of `report`.
    pub fn matches(&self, report: &Report) -> bool {
        if self.patterns.is_empty() {
            return false;
        }
        let mut names: Vec<&str> = Vec::new();
        for access in [&report.current, &report.previous] {
            names.push(&access.site.file);
            for f in &access.stack {
                names.push(&f.function);
                if let Some(s) = &f.site {
                    names.push(&s.file);
                }
            }
        }
        self.patterns
            .iter()
            .any(|p| names.iter().any(|name| pattern_matches(p, name)))
    }
}

/// `*` wildcard matching, unanchored unless the pattern starts with `^` or
/// ends with `$`.
pub fn pattern_matches(pattern: &str, text: &str) -> bool {
    let (pattern, anchored_start) = match pattern.strip_prefix('^') {
        Some(p) => (p, true),
        None => (pattern, false),
    };
    let (pattern, anchored_end) = match pattern.strip_suffix('$') {
        Some(p) => (p, true),
        None => (pattern, false),
    };
    let mut full = String::new();
    if !anchored_start {
        full.push('*');
    }
    full.push_str(pattern);
    if !anchored_end {
        full.push('*');
    }
    glob(full.as_bytes(), text.as_bytes())
}

fn glob(p: &[u8], t: &[u8]) -> bool {
    // Iterative wildcard match with backtracking to the last `*`.
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && p[pi] != b'*' && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_and_anchors() {
        assert!(pattern_matches("cache", "my_crate::cache::get"));
        assert!(pattern_matches("my_crate::*::get", "my_crate::cache::get"));
        assert!(!pattern_matches("^cache", "my_crate::cache::get"));
        assert!(pattern_matches("^my_crate", "my_crate::cache::get"));
        assert!(pattern_matches("get$", "my_crate::cache::get"));
        assert!(!pattern_matches("cache$", "my_crate::cache::get"));
        assert!(pattern_matches("src/*.rs", "src/cache.rs"));
    }

    #[test]
    fn comments_and_blank_lines_are_skipped() {
        let s = Suppressions::parse("# header\n\nrace:foo\n  # indented\n  race:bar*\n").unwrap();
        assert_eq!(s.patterns, ["foo", "bar*"]);
    }

    #[test]
    fn a_hash_inside_a_pattern_is_part_of_it() {
        let s = Suppressions::parse("race:foo#bar\nrace:src/c#/*.rs\n").unwrap();
        assert_eq!(s.patterns, ["foo#bar", "src/c#/*.rs"]);
        let e = Suppressions::parse("race:ok\nrace:foo # known race\n").unwrap_err();
        assert!(
            e.0.starts_with("line 2: `race:foo # known race` has `#` after a blank")
                && e.0.contains("line of its own"),
            "{e}"
        );
    }

    #[test]
    fn a_leading_byte_order_mark_is_skipped() {
        let s = Suppressions::parse("\u{feff}race:foo\r\n# c\r\nrace:bar\r\n").unwrap();
        assert_eq!(s.patterns, ["foo", "bar"]);
        let s = Suppressions::parse("\u{feff}# header\nrace:foo\n").unwrap();
        assert_eq!(s.patterns, ["foo"]);
    }

    #[test]
    fn a_file_that_is_not_utf8_is_named_as_such_not_as_a_bad_path() {
        let dir = std::env::temp_dir().join(format!("racedet-supp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("latin1.txt");
        std::fs::write(&file, b"race:ok\nrace:caf\xe9\n").unwrap();
        let e = Suppressions::load(&file).unwrap_err();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            e.0.ends_with("latin1.txt is not UTF-8 text (line 2 has byte 0xe9); save it as UTF-8"),
            "{e}"
        );
    }

    #[test]
    fn malformed_lines_name_the_line() {
        let e = Suppressions::parse("race:ok\nthread:foo\n").unwrap_err();
        assert!(e.0.starts_with("line 2:"), "{e}");
        let e = Suppressions::parse("race:\n").unwrap_err();
        assert!(
            e.0.contains("line 1") && e.0.contains("needs a pattern"),
            "{e}"
        );
        let e = Suppressions::parse("just words\n").unwrap_err();
        assert!(e.0.contains("expected `race:PATTERN`"), "{e}");
    }
}
