//! racedet's benchmark: each workload of SPEC section 6 run plain (std
//! types) and detected (racedet types, detection on), each run in its own
//! child process so peak RSS is measured separately, the median of several
//! runs reported as ns/op and as a detected/plain ratio.
//!
//! ```text
//! cargo run --release -p racedet-bench                 # table
//! cargo run --release -p racedet-bench -- --json       # one JSON object
//! cargo run --release -p racedet-bench -- --runs 7 rwmap cells
//! ```

mod harness;
mod placement;
mod rng;
mod workloads;

use harness::Measured;

const USAGE: &str = "usage: racedet-bench [--json] [--runs N] [--spawn-threads N] [WORKLOAD...]";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        harness::child(&args[1..]);
        return;
    }
    let mut json = false;
    let mut runs = 5usize;
    let mut spawn_threads = 100_000usize;
    let mut names = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--json" => json = true,
            "--runs" => runs = number(it.next(), "--runs", 5),
            "--spawn-threads" => spawn_threads = number(it.next(), "--spawn-threads", 1),
            "-h" | "--help" => {
                println!("{USAGE}\nworkloads: {}", workloads::ALL.join(" "));
                return;
            }
            name if workloads::ALL.contains(&name) => names.push(name.to_string()),
            other => fail(&format!(
                "unknown argument `{other}`: expected --json, --runs N, --spawn-threads N \
                 or workloads among {}",
                workloads::ALL.join(", ")
            )),
        }
    }
    if names.is_empty() {
        names = workloads::ALL.iter().map(|s| s.to_string()).collect();
    }
    let before = placement::round_trip_ns();
    let mut rows = Vec::new();
    for name in &names {
        let (plain, detected) = harness::measure_pair(name, runs, spawn_threads);
        if !json {
            eprintln!("{name}: done");
        }
        rows.push((name.clone(), plain, detected));
    }
    let round_trip = [before, placement::round_trip_ns()];
    if json {
        print_json(&rows, runs, spawn_threads, round_trip);
    } else {
        print_table(&rows, runs, round_trip);
    }
}

/// The value of `flag`: a whole number of at least `min` (`--runs`: each
/// figure is a median of at least 5 runs).
fn number(v: Option<&String>, flag: &str, min: usize) -> usize {
    match v.and_then(|s| s.parse().ok()) {
        Some(n) if n >= min => n,
        _ => fail(&format!("{flag} needs a whole number of at least {min}")),
    }
}

/// One line naming the problem and what is accepted; exit status 2.
fn fail(message: &str) -> ! {
    eprintln!("racedet-bench: {message} (see --help)");
    std::process::exit(2)
}

fn print_table(rows: &[(String, Measured, Measured)], runs: usize, round_trip: [Option<f64>; 2]) {
    println!(
        "median of {runs} runs per mode, plain and detected alternating, each run its own process"
    );
    let [before, after] = round_trip.map(|ns| match ns {
        Some(ns) => format!("{ns:.0} ns"),
        None => "n/a (one CPU)".to_string(),
    });
    println!("core-to-core round trip of a cache line: {before} before the runs, {after} after");
    // The placement can change at any time; two readings far apart say it
    // changed during these runs (which rows ran under which is unknown).
    if let [Some(a), Some(b)] = round_trip {
        if a.max(b) > 1.5 * a.min(b) {
            println!("(the placement changed during the runs: rows may mix both)");
        }
    }
    println!(
        "{:<14} {:>12} {:>14} {:>7} {:>11} {:>14} {:>9}",
        "workload",
        "plain ns/op",
        "detected ns/op",
        "ratio",
        "plain RSS",
        "detected RSS",
        "RSS ratio"
    );
    for (name, p, d) in rows {
        println!(
            "{:<14} {:>12.1} {:>14.1} {:>6.2}x {:>8} KB {:>11} KB {:>8.2}x",
            name,
            p.ns_per_op,
            d.ns_per_op,
            d.ns_per_op / p.ns_per_op,
            p.rss_kb,
            d.rss_kb,
            d.rss_kb as f64 / p.rss_kb as f64
        );
        if d.reports > 0 {
            println!(
                "{:<14} detected mode: {} distinct race report(s)",
                "", d.reports
            );
        }
    }
}

fn print_json(
    rows: &[(String, Measured, Measured)],
    runs: usize,
    spawn_threads: usize,
    round_trip: [Option<f64>; 2],
) {
    let workloads: Vec<serde_json::Value> = rows
        .iter()
        .map(|(name, p, d)| {
            serde_json::json!({
                "name": name,
                "plain_ns_per_op": p.ns_per_op,
                "detected_ns_per_op": d.ns_per_op,
                "ratio": d.ns_per_op / p.ns_per_op,
                "plain_rss_kb": p.rss_kb,
                "detected_rss_kb": d.rss_kb,
                "detected_reports": d.reports,
            })
        })
        .collect();
    println!(
        "{}",
        serde_json::json!({
            "workloads": workloads,
            "runs": runs,
            "spawn_threads": spawn_threads,
            "core_round_trip_ns": { "before": round_trip[0], "after": round_trip[1] },
        })
    );
}
