//! racedet's benchmark: each workload of SPEC section 6 run plain (std
//! types) and detected (racedet types, detection on), each run in its own
//! child process so peak RSS is measured separately, the median of several
//! runs reported as ns/op and as a detected/plain ratio.
//!
//! ```text
//! cargo run --release -p racedet-bench                 # table
//! cargo run --release -p racedet-bench -- --json       # one JSON object
//! cargo run --release -p racedet-bench -- --runs 7 rwmap cells
//! cargo run --release -p racedet-bench -- --by-placement 12  # per placement
//! ```

mod harness;
mod placement;
mod rng;
mod rounds;
mod workloads;

use harness::Measured;
use rounds::{Group, Split};

const USAGE: &str =
    "usage: racedet-bench [--json] [--runs N | --by-placement MINUTES [--near-ns N] \
                     [--far-ns N] [--far-max-ns N]] [--spawn-threads N] [WORKLOAD...]";

/// The workloads `--by-placement` runs unless told: those with the 1.5x
/// target, whose lock hand-offs make them depend on the placement.
const BY_PLACEMENT: [&str; 4] = ["rwmap", "mutexmap", "channel-owner", "sharded"];

/// One row of a table run: its medians and the round trip before and
/// after its runs.
struct Row {
    name: String,
    plain: Measured,
    detected: Measured,
    round_trip: [Option<f64>; 2],
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        harness::child(&args[1..]);
        return;
    }
    let mut json = None;
    let mut runs = None;
    let mut by_placement = None;
    let mut near_ns = None;
    let mut far_ns = None;
    let mut far_max_ns = None;
    let mut spawn_threads = None;
    let mut names = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--json" => once(&mut json, a, ()),
            "--runs" => value(&mut runs, it.next(), a, 5, MAX),
            "--by-placement" => value(&mut by_placement, it.next(), a, 1, MAX_MINUTES),
            "--near-ns" => value(&mut near_ns, it.next(), a, 1, MAX),
            "--far-ns" => value(&mut far_ns, it.next(), a, 1, MAX),
            "--far-max-ns" => value(&mut far_max_ns, it.next(), a, 1, MAX),
            "--spawn-threads" => value(&mut spawn_threads, it.next(), a, 1, MAX),
            "-h" | "--help" => {
                println!("{USAGE}\nworkloads: {}", workloads::ALL.join(" "));
                return;
            }
            name if workloads::ALL.contains(&name) => {
                if names.iter().any(|n| n == name) {
                    fail(&format!(
                        "workload `{name}` named twice: name each workload once"
                    ));
                }
                names.push(name.to_string())
            }
            other => fail(&format!(
                "unknown argument `{other}`: expected --json, --runs N, --by-placement MINUTES, \
                 --near-ns N, --far-ns N, --far-max-ns N, --spawn-threads N or workloads \
                 among {}",
                workloads::ALL.join(", ")
            )),
        }
    }
    let json = json.is_some();
    let spawn_threads = spawn_threads.unwrap_or(100_000);
    if let Some(minutes) = by_placement {
        if runs.is_some() {
            fail("--runs and --by-placement exclude each other: a round is one run per mode");
        }
        if names.is_empty() {
            names = BY_PLACEMENT.iter().map(|s| s.to_string()).collect();
        }
        // This machine's bands (README): near 50-90 ns, far 300-370 ns;
        // 250 and 450 leave room around the far readings, and nothing
        // came between 370 and 580 ns.
        let split = Split {
            near_ns: near_ns.unwrap_or(90) as f64,
            far_ns: far_ns.unwrap_or(250) as f64,
            far_max_ns: far_max_ns.unwrap_or(450) as f64,
        };
        let given = |v: Option<usize>, n: f64| match v {
            Some(_) => format!("{n}"),
            None => format!("{n}, the default"),
        };
        if split.near_ns > split.far_ns {
            fail(&format!(
                "--near-ns ({}) must not be above --far-ns ({}): the near band would run into the \
                 far one; lower --near-ns or raise --far-ns",
                given(near_ns, split.near_ns),
                given(far_ns, split.far_ns)
            ));
        }
        if split.far_max_ns <= split.far_ns {
            fail(&format!(
                "--far-max-ns ({}) must be above --far-ns ({}): the far band would be empty; \
                 raise --far-max-ns or lower --far-ns",
                given(far_max_ns, split.far_max_ns),
                given(far_ns, split.far_ns)
            ));
        }
        let Some(groups) = rounds::run(&names, minutes, split, spawn_threads) else {
            fail(
                "--by-placement needs 2 CPUs or more (with one there is no round trip to group \
                 by): allow the process a second CPU (taskset, cpuset) or use --runs N",
            )
        };
        if json {
            print_groups_json(&groups, minutes, split);
        } else {
            print_groups(&groups, minutes, split);
        }
        return;
    }
    if near_ns.is_some() || far_ns.is_some() || far_max_ns.is_some() {
        fail("--near-ns, --far-ns and --far-max-ns only go with --by-placement");
    }
    let runs = runs.unwrap_or(5);
    if names.is_empty() {
        names = workloads::ALL.iter().map(|s| s.to_string()).collect();
    }
    // Measured between rows, so each row says what it ran under.
    let mut round_trip = placement::round_trip_ns();
    let mut rows = Vec::new();
    for name in &names {
        let (plain, detected) = harness::measure_pair(name, runs, spawn_threads);
        let after = placement::round_trip_ns();
        if !json {
            eprintln!("{name}: done");
        }
        rows.push(Row {
            name: name.clone(),
            plain,
            detected,
            round_trip: [round_trip, after],
        });
        round_trip = after;
    }
    if json {
        print_json(&rows, runs, spawn_threads);
    } else {
        print_table(&rows, runs);
    }
}

impl Row {
    /// Detected over plain ns/op.
    fn ratio(&self) -> f64 {
        self.detected.ns_per_op / self.plain.ns_per_op
    }

    /// Detected over plain peak RSS.
    fn rss_ratio(&self) -> f64 {
        self.detected.rss_kb as f64 / self.plain.rss_kb as f64
    }
}

/// Whether two round trips say the placement changed between them.
fn moved([before, after]: [Option<f64>; 2]) -> bool {
    matches!((before, after), (Some(a), Some(b)) if a.max(b) > 1.5 * a.min(b))
}

/// A figure for a table cell with `digits` decimals, or `none`.
fn cell(v: Option<f64>, digits: usize, none: &str) -> String {
    v.map_or(none.to_string(), |v| format!("{v:.digits$}"))
}

/// Largest value of a count flag.
const MAX: usize = 1_000_000_000;
/// Largest `--by-placement`: a week.
const MAX_MINUTES: usize = 7 * 24 * 60;

/// The value of `flag`: a whole number from `min` to `max` (`--runs`: each
/// figure is a median of at least 5 runs).
fn number(v: Option<&String>, flag: &str, min: usize, max: usize) -> usize {
    match v.and_then(|s| s.parse().ok()) {
        Some(n) if (min..=max).contains(&n) => n,
        _ => fail(&format!("{flag} needs a whole number from {min} to {max}")),
    }
}

/// Sets `flag`'s value from `v` (see [`number`]), once.
fn value(slot: &mut Option<usize>, v: Option<&String>, flag: &str, min: usize, max: usize) {
    once(slot, flag, number(v, flag, min, max));
}

/// Sets a flag's value, which must not have been given before: a second
/// value would silently replace the first.
fn once<T>(slot: &mut Option<T>, flag: &str, value: T) {
    if slot.is_some() {
        fail(&format!("{flag} given twice: give it once"));
    }
    *slot = Some(value);
}

/// One line naming the problem and what is accepted; exit status 2.
fn fail(message: &str) -> ! {
    eprintln!("racedet-bench: {message} (see --help)");
    std::process::exit(2)
}

fn print_table(rows: &[Row], runs: usize) {
    println!(
        "median of {runs} runs per mode, plain and detected alternating, each run its own process"
    );
    // The placement can change at any time: each row says the round trip
    // before and after its runs, and is marked when they differ.
    println!(
        "round trip: of a cache line between two cores (ns), before -> after the row's runs{}",
        if rows.iter().any(|r| moved(r.round_trip)) {
            "; * the placement changed during the row's runs"
        } else {
            ""
        }
    );
    println!(
        "{:<14} {:>12} {:>14} {:>7} {:>11} {:>14} {:>9} {:>12}",
        "workload",
        "plain ns/op",
        "detected ns/op",
        "ratio",
        "plain RSS",
        "detected RSS",
        "RSS ratio",
        "round trip"
    );
    for r in rows {
        let (p, d) = (&r.plain, &r.detected);
        let trip = format!(
            "{}{} -> {}",
            if moved(r.round_trip) { "*" } else { "" },
            cell(r.round_trip[0], 0, "n/a"),
            cell(r.round_trip[1], 0, "n/a")
        );
        println!(
            "{:<14} {:>12.1} {:>14.1} {:>6.2}x {:>8} KB {:>11} KB {:>8.2}x {:>12}",
            r.name,
            p.ns_per_op,
            d.ns_per_op,
            r.ratio(),
            p.rss_kb,
            d.rss_kb,
            r.rss_ratio(),
            trip
        );
        if d.reports > 0 {
            println!(
                "{:<14} detected mode: {} distinct race report(s)",
                "", d.reports
            );
        }
    }
}

fn print_json(rows: &[Row], runs: usize, spawn_threads: usize) {
    let workloads: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            let (p, d) = (&r.plain, &r.detected);
            serde_json::json!({
                "name": r.name,
                "plain_ns_per_op": p.ns_per_op,
                "detected_ns_per_op": d.ns_per_op,
                "ratio": r.ratio(),
                "plain_rss_kb": p.rss_kb,
                "detected_rss_kb": d.rss_kb,
                "rss_ratio": r.rss_ratio(),
                "detected_reports": d.reports,
                "core_round_trip_ns": { "before": r.round_trip[0], "after": r.round_trip[1] },
                "placement_changed": moved(r.round_trip),
            })
        })
        .collect();
    let first = rows.first().and_then(|r| r.round_trip[0]);
    let last = rows.last().and_then(|r| r.round_trip[1]);
    println!(
        "{}",
        serde_json::json!({
            "workloads": workloads,
            "runs": runs,
            "spawn_threads": spawn_threads,
            "core_round_trip_ns": { "before": first, "after": last },
        })
    );
}

fn print_groups(groups: &[Group], minutes: usize, split: Split) {
    let Split {
        near_ns,
        far_ns,
        far_max_ns,
    } = split;
    let rounds = groups.iter().map(|g| g.rounds).sum::<usize>();
    println!(
        "{rounds} rounds in {minutes} min, each: the round trip of a cache line between two \
         cores, then one plain and one detected run of a workload, which first alternating"
    );
    println!(
        "near: round trip below {near_ns:.0} ns (--near-ns), far: {far_ns:.0} to below \
         {far_max_ns:.0} ns (--far-ns, --far-max-ns), unsteady: any other (a virtual CPU \
         stopped by the host); medians of the group's rounds, ratio the median of their ratios"
    );
    println!(
        "{:<14} {:<9} {:>6} {:>13} {:>12} {:>14} {:>7}",
        "workload", "placement", "rounds", "round trip", "plain ns/op", "detected ns/op", "ratio"
    );
    for g in groups {
        println!(
            "{:<14} {:<9} {:>6} {:>13} {:>12} {:>14} {:>6}{}",
            g.name,
            g.placement.as_str(),
            g.rounds,
            g.round_trip_ns
                .map_or("-".to_string(), |t| format!("{t:.0} ns")),
            cell(g.plain_ns_per_op, 1, "-"),
            cell(g.detected_ns_per_op, 1, "-"),
            cell(g.ratio, 2, "-"),
            if g.ratio.is_some() { "x" } else { " " }
        );
    }
}

fn print_groups_json(groups: &[Group], minutes: usize, split: Split) {
    println!("{}", rounds::to_json(groups, minutes, split));
}
