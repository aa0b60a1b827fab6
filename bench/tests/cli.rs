//! The benchmark's command line: bad arguments are one-line errors, and
//! `--json` carries the fields the README promises. Nothing here asserts
//! a timing.

use std::process::{Command, Output};

fn bench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_racedet-bench"))
        .args(args)
        .output()
        .expect("racedet-bench runs")
}

/// Exit status 2 and one line on stderr that says `what`.
fn rejected(args: &[&str], what: &str) {
    let out = bench(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    assert!(stderr.contains(what), "{args:?}: {stderr}");
    assert!(out.stdout.is_empty(), "{args:?}: no table");
}

#[test]
fn bad_arguments_are_one_line_errors() {
    rejected(&["--bogus"], "unknown argument `--bogus`");
    rejected(&["no-such-workload"], "unknown argument `no-such-workload`");
    rejected(&["--runs", "3"], "--runs needs a whole number from 5 to");
    rejected(&["--runs"], "--runs needs a whole number");
    // A second value would silently replace the first.
    rejected(&["--runs", "5", "--runs", "7"], "--runs given twice");
    rejected(&["--json", "--json"], "--json given twice");
    rejected(
        &["--spawn-threads", "10", "--spawn-threads", "20"],
        "--spawn-threads given twice",
    );
    rejected(&["rwmap", "cells", "rwmap"], "workload `rwmap` named twice");
    rejected(
        &["--by-placement", "0"],
        "--by-placement needs a whole number from 1 to 10080",
    );
    // Once overflowed computing the end time (a panic, exit 101).
    rejected(&["--by-placement", "307445734561825861"], "from 1 to 10080");
    rejected(
        &["--runs", "5", "--by-placement", "1"],
        "--runs and --by-placement exclude each other",
    );
    for flag in ["--near-ns", "--far-ns", "--far-max-ns"] {
        rejected(
            &[flag, "90", "cells"],
            "--near-ns, --far-ns and --far-max-ns only go with --by-placement",
        );
    }
    // Checked before any round runs (a minute of rounds otherwise).
    rejected(
        &["--by-placement", "1", "--far-ns", "500", "cells"],
        "--far-max-ns (450, the default) must be above --far-ns (500): the far band would be \
         empty; raise --far-max-ns or lower --far-ns",
    );
    rejected(
        &["--by-placement", "1", "--far-max-ns", "250", "cells"],
        "--far-max-ns (250) must be above --far-ns (250, the default)",
    );
    rejected(
        &["--by-placement", "1", "--near-ns", "300", "cells"],
        "--near-ns (300) must not be above --far-ns (250, the default)",
    );
}

#[test]
fn json_rows_carry_their_figures_and_their_own_round_trips() {
    let out = bench(&["--json", "--runs", "5", "cells", "racy"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(v["runs"], 5);
    let rows = v["workloads"].as_array().expect("workloads");
    assert_eq!(rows.len(), 2);
    for (row, name) in rows.iter().zip(["cells", "racy"]) {
        assert_eq!(row["name"], name);
        let num = |k: &str| row[k].as_f64().unwrap_or_else(|| panic!("{k}: {row}"));
        for k in [
            "plain_ns_per_op",
            "detected_ns_per_op",
            "plain_rss_kb",
            "detected_rss_kb",
        ] {
            assert!(num(k) > 0.0, "{k}: {row}");
        }
        assert!((num("ratio") - num("detected_ns_per_op") / num("plain_ns_per_op")).abs() < 1e-9);
        assert!((num("rss_ratio") - num("detected_rss_kb") / num("plain_rss_kb")).abs() < 1e-9);
        // A number with two CPUs or more, null with one.
        let trip = &row["core_round_trip_ns"];
        for k in ["before", "after"] {
            assert!(trip[k].is_f64() || trip[k].is_null(), "{trip}");
        }
        assert!(row["placement_changed"].is_boolean());
    }
    assert_eq!(rows[0]["detected_reports"], 0);
    assert_eq!(rows[1]["detected_reports"], 1, "racy: one distinct report");
    // Each row measured between its runs: a row starts where the one
    // before ended, and the run's pair spans them all.
    let trip = |i: usize, k: &str| rows[i]["core_round_trip_ns"][k].clone();
    assert_eq!(trip(0, "after"), trip(1, "before"));
    assert_eq!(v["core_round_trip_ns"]["before"], trip(0, "before"));
    assert_eq!(v["core_round_trip_ns"]["after"], trip(1, "after"));
}

#[test]
fn the_table_has_the_issue_s_columns_and_each_row_its_round_trip() {
    let out = bench(&["--runs", "5", "cells"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8_lossy(&out.stdout);
    let header = table
        .lines()
        .find(|l| l.starts_with("workload"))
        .unwrap_or_else(|| panic!("no header: {table}"));
    // Issue 6's columns, written out again rather than read from main.rs:
    // a test of the code's own list could not fail.
    let columns = [
        "plain ns/op",
        "detected ns/op",
        "ratio",
        "plain RSS",
        "detected RSS",
        "RSS ratio",
        "round trip",
    ];
    let mut rest = header;
    for c in columns {
        let at = rest
            .find(c)
            .unwrap_or_else(|| panic!("{c} in order: {header}"));
        rest = &rest[at + c.len()..];
    }
    let row = table
        .lines()
        .find(|l| l.starts_with("cells "))
        .unwrap_or_else(|| panic!("no row: {table}"));
    assert!(row.contains(" -> "), "before -> after: {row}");
}
