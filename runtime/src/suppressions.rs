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
        let text = std::fs::read_to_string(path).map_err(|e| {
            SuppressionError(format!(
                "racedet: cannot read suppressions file {}: {e} (fix the `suppressions=` path in RACEDET_OPTIONS)",
                path.display()
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

    /// Parses `race:PATTERN` lines; `#` starts a comment, blank lines are
    /// skipped. `*` matches any run of characters; a pattern matches
    /// anywhere in a name unless anchored with `^` or `$`.
    pub fn parse(text: &str) -> Result<Suppressions, SuppressionError> {
        let mut patterns = Vec::new();
        for (n, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            match line.split_once(':') {
                Some(("race", pattern)) if !pattern.trim().is_empty() => {
                    patterns.push(pattern.trim().to_string())
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
        let s = Suppressions::parse("# header\n\nrace:foo # trailing\n  race:bar*\n").unwrap();
        assert_eq!(s.patterns, ["foo", "bar*"]);
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
