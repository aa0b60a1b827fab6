//! Counts the race / no-race scenario corpus and holds it to its size.
//!
//! The corpus is every `#[test]` of `maps.rs`, `cells_threads_locks.rs`,
//! `sync_primitives.rs` and `corpus_*.rs`. A test is classified by what
//! its body asserts:
//!
//! - **race**: it calls `expect_race(` or `expect_race_by(` (exactly one
//!   report between two named sites, whose kind it then checks);
//! - **no-race**: otherwise, it calls `assert_silent(` over its body;
//! - neither: an API or behaviour test (std compatibility, poisoning...),
//!   not a scenario, and not counted.
//!
//! An `#[ignore]`d scenario (a known racedet bug, kept with its exact
//! verdict) still counts as a case, and is listed.

use std::fs;
use std::path::Path;

#[derive(Debug, PartialEq)]
enum Verdict {
    Race,
    NoRace,
    Other,
}

struct Case {
    file: String,
    name: String,
    verdict: Verdict,
    ignored: bool,
}

/// The `#[test]` functions of one source file, with their verdicts.
fn cases(file: &str, src: &str) -> Vec<Case> {
    let code = code_only(src);
    let mut out = Vec::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("#[test]") {
        rest = &rest[at + "#[test]".len()..];
        let fn_at = rest.find("fn ").expect("a #[test] attribute precedes a fn");
        let attrs = &rest[..fn_at];
        let after = &rest[fn_at + 3..];
        let name: String = after
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let open = after.find('{').expect("a test fn has a body");
        let body = matching(&after[open..]);
        let verdict = if body.contains("expect_race(") || body.contains("expect_race_by(") {
            Verdict::Race
        } else if body.contains("assert_silent(") {
            Verdict::NoRace
        } else {
            Verdict::Other
        };
        out.push(Case {
            file: file.to_string(),
            name,
            verdict,
            ignored: attrs.contains("#[ignore"),
        });
        rest = &after[open + body.len()..];
    }
    out
}

/// `src` with the contents of comments, string and character literals
/// blanked out (same length), so only code is searched.
fn code_only(src: &str) -> String {
    let b = src.as_bytes();
    let mut out: Vec<u8> = b
        .iter()
        .map(|&c| if c.is_ascii() { c } else { b' ' })
        .collect();
    let blank = |from: usize, to: usize, out: &mut Vec<u8>| {
        for c in &mut out[from..to.min(b.len())] {
            if *c != b'\n' {
                *c = b' ';
            }
        }
    };
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                let start = i;
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                blank(start, i, &mut out);
                continue;
            }
            b'r' if matches!(b.get(i + 1), Some(b'#') | Some(b'"'))
                && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')) =>
            {
                let hashes = b[i + 1..].iter().take_while(|&&c| c == b'#').count();
                if b.get(i + 1 + hashes) != Some(&b'"') {
                    i += 1;
                    continue;
                }
                let start = i + 2 + hashes;
                let mut end = start;
                while end < b.len()
                    && !(b[end] == b'"' && b[end + 1..].iter().take(hashes).all(|&c| c == b'#'))
                {
                    end += 1;
                }
                blank(start, end, &mut out);
                i = end + 1 + hashes;
                continue;
            }
            b'"' => {
                let start = i + 1;
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                blank(start, i, &mut out);
            }
            // A character literal ('x', '\n'), not a lifetime ('a).
            b'\'' if b.get(i + 1) == Some(&b'\\') => {
                let start = i + 1;
                i += 2;
                while i < b.len() && b[i] != b'\'' {
                    i += 1;
                }
                blank(start, i, &mut out);
            }
            b'\'' if b.get(i + 2) == Some(&b'\'') => {
                blank(i + 1, i + 2, &mut out);
                i += 2;
            }
            _ => {}
        }
        i += 1;
    }
    String::from_utf8(out).expect("ASCII")
}

/// The text from an opening brace to its matching closing brace.
fn matching(s: &str) -> &str {
    let mut depth = 0usize;
    for (i, c) in s.bytes().enumerate() {
        match c {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return &s[..=i];
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced braces in a test body");
}

fn corpus_files(dir: &Path) -> Vec<String> {
    let mut files: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| {
            n.ends_with(".rs")
                && (n.starts_with("corpus_")
                    || ["maps.rs", "cells_threads_locks.rs", "sync_primitives.rs"]
                        .contains(&n.as_str()))
        })
        .collect();
    files.sort();
    files
}

#[test]
fn the_scenario_corpus_has_150_cases_at_least_half_of_them_no_race() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let files = corpus_files(&dir);
    assert!(files.len() >= 4, "corpus files: {files:?}");
    let mut all = Vec::new();
    for f in &files {
        let src = fs::read_to_string(dir.join(f)).unwrap();
        all.extend(cases(f, &src));
    }
    // The counter does not count itself.
    all.retain(|c| c.file != "corpus_count.rs");

    println!(
        "{:<26} {:>5} {:>8} {:>6} {:>6}",
        "file", "race", "no-race", "total", "other"
    );
    for f in &files {
        let of = |v: Verdict| {
            all.iter()
                .filter(|c| &c.file == f && c.verdict == v)
                .count()
        };
        let (r, n, o) = (of(Verdict::Race), of(Verdict::NoRace), of(Verdict::Other));
        if r + n + o > 0 {
            println!("{f:<26} {r:>5} {n:>8} {:>6} {o:>6}", r + n);
        }
    }
    let race = all.iter().filter(|c| c.verdict == Verdict::Race).count();
    let no_race = all.iter().filter(|c| c.verdict == Verdict::NoRace).count();
    let total = race + no_race;
    let other = all.iter().filter(|c| c.verdict == Verdict::Other).count();
    println!("{:<26} {race:>5} {no_race:>8} {total:>6} {other:>6}", "all");
    let ignored: Vec<_> = all
        .iter()
        .filter(|c| c.ignored && c.verdict != Verdict::Other)
        .collect();
    for c in &ignored {
        println!("ignored (known racedet bug): {}::{}", c.file, c.name);
    }

    assert!(total >= 150, "{total} scenario cases, want at least 150");
    assert!(
        total - ignored.len() >= 150,
        "{} running scenario cases, want at least 150",
        total - ignored.len()
    );
    assert!(
        2 * no_race >= total,
        "{no_race} no-race cases of {total}: want at least half"
    );
    let mut names: Vec<_> = all.iter().map(|c| (&c.file, &c.name)).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), all.len(), "test names are unique per file");
}

#[test]
fn the_classifier_reads_bodies_not_neighbours() {
    let src = r##"
#[test]
fn a_race() {
    let s = "}"; // a brace in a string: }
    let c = '{';
    let r = expect_race(file!(), 1, 2);
}

#[test]
fn a_race_with_its_threads() {
    let r = expect_race_by(file!(), [(1, None), (2, Some("t"))]);
    assert_silent(file!(), 1, 2);
}

#[test]
#[ignore = "known bug"]
fn a_silence() {
    let _ = r#"expect_race("#;
    assert_silent(file!(), 1, 2);
}

#[test]
fn an_api_test<'a>() {
    assert_eq!(1, 1);
}
"##;
    let cs = cases("x.rs", src);
    let got: Vec<_> = cs
        .iter()
        .map(|c| (c.name.as_str(), &c.verdict, c.ignored))
        .collect();
    assert_eq!(
        got,
        [
            ("a_race", &Verdict::Race, false),
            ("a_race_with_its_threads", &Verdict::Race, false),
            ("a_silence", &Verdict::NoRace, true),
            ("an_api_test", &Verdict::Other, false),
        ]
    );
}
