//! Runs a workload in a child process per run and collects medians.

use std::process::Command;
use std::time::Instant;

/// Which side of the comparison.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// std types only.
    Plain,
    /// racedet types with detection on.
    Detected,
}

impl Mode {
    fn as_str(self) -> &'static str {
        match self {
            Mode::Plain => "plain",
            Mode::Detected => "detected",
        }
    }
}

/// The medians of one workload in one mode.
#[derive(Clone, Debug)]
pub struct Measured {
    pub ns_per_op: f64,
    pub rss_kb: u64,
    pub reports: usize,
}

/// Runs `runs` child processes of each mode, alternating plain and
/// detected (so a drift in machine speed hits both sides alike), and takes
/// each side's medians.
pub fn measure_pair(name: &str, runs: usize, spawn_threads: usize) -> (Measured, Measured) {
    let mut plain = Samples::default();
    let mut detected = Samples::default();
    for _ in 0..runs {
        plain.add(run_child(name, Mode::Plain, spawn_threads));
        detected.add(run_child(name, Mode::Detected, spawn_threads));
    }
    (plain.medians(), detected.medians())
}

#[derive(Default)]
struct Samples {
    ns: Vec<f64>,
    rss: Vec<u64>,
    reports: usize,
}

impl Samples {
    fn add(&mut self, (ns, rss, reports): (f64, u64, usize)) {
        self.ns.push(ns);
        self.rss.push(rss);
        self.reports = self.reports.max(reports);
    }

    fn medians(mut self) -> Measured {
        Measured {
            ns_per_op: median(&mut self.ns),
            rss_kb: median(&mut self.rss),
            reports: self.reports,
        }
    }
}

/// One child run: (ns/op, peak RSS in KB, distinct reports).
pub fn run_child(name: &str, mode: Mode, spawn_threads: usize) -> (f64, u64, usize) {
    let exe = std::env::current_exe().expect("own path");
    let out = Command::new(&exe)
        .args(["--child", name, mode.as_str(), &spawn_threads.to_string()])
        // Default options whatever the caller's environment says; a racy
        // workload's reports go to the captured stderr and are not part of
        // the measurement. (`log_path` is a prefix, not a file: pointing it
        // at /dev/null made /dev/null.PID files, or failed without root.)
        .env_remove("RACEDET_OPTIONS")
        .output()
        .expect("child runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let result = text.lines().find_map(|l| l.strip_prefix("result "));
    let fields: Option<(f64, u64, usize)> = result.and_then(|r| {
        let f: Vec<&str> = r.split_whitespace().collect();
        Some((
            f.first()?.parse().ok()?,
            f.get(1)?.parse().ok()?,
            f.get(2)?.parse().ok()?,
        ))
    });
    // Only `racy` races: its detected run must report and exit with the
    // runtime's status 66; every other run must exit 0 and report nothing
    // (a report there is a false alarm or a broken workload, and its time
    // would include writing reports).
    let racy = name == "racy" && mode == Mode::Detected;
    let problem = match fields {
        None => Some(format!("{}, no result line", out.status)),
        Some((_, _, reports)) if racy && (out.status.code() != Some(66) || reports == 0) => {
            Some(format!(
                "{}, {reports} report(s); expected exit status 66 and a report",
                out.status
            ))
        }
        Some((_, _, reports)) if !racy && (!out.status.success() || reports > 0) => Some(format!(
            "{}, {reports} report(s); expected success and no report",
            out.status
        )),
        Some(_) => None,
    };
    if let Some(problem) = problem {
        eprintln!(
            "racedet-bench: the {name} {} run failed ({problem}): {}",
            mode.as_str(),
            last_words(&stderr)
        );
        std::process::exit(1)
    }
    fields.expect("checked above")
}

/// What a failed child said: the message of a panic (the line after
/// `panicked at`), else its last line that is not a `note:`.
fn last_words(stderr: &str) -> &str {
    let lines: Vec<&str> = stderr.lines().map(str::trim).collect();
    if let Some(i) = lines.iter().position(|l| l.contains("panicked at")) {
        if let Some(message) = lines.get(i + 1).filter(|l| !l.is_empty()) {
            return message;
        }
    }
    lines
        .iter()
        .rev()
        .find(|l| !l.is_empty() && !l.starts_with("note:"))
        .copied()
        .unwrap_or("no output")
}

/// The middle sample (the upper one of an even count).
pub fn median<T: PartialOrd + Copy>(v: &mut [T]) -> T {
    v.sort_unstable_by(|a, b| a.partial_cmp(b).expect("no NaN timings"));
    v[v.len() / 2]
}

/// In the child: runs one workload once and prints
/// `result NS_PER_OP PEAK_RSS_KB REPORTS`.
pub fn child(args: &[String]) {
    let name = args.first().map(String::as_str).unwrap_or("");
    let mode = match args.get(1).map(String::as_str) {
        Some("plain") => Mode::Plain,
        Some("detected") => Mode::Detected,
        _ => panic!("child needs a mode"),
    };
    // The parent always passes it: a child is never run by hand.
    let spawn_threads: usize = args
        .get(2)
        .and_then(|s| s.parse().ok())
        .expect("child needs a thread count");
    let start = Instant::now();
    let ops = crate::workloads::run(name, mode, spawn_threads);
    let elapsed = start.elapsed();
    let ns = elapsed.as_nanos() as f64 / ops as f64;
    println!(
        "result {ns:.3} {} {}",
        peak_rss_kb(),
        racedet::reports::count()
    );
}

/// VmHWM: the process's peak resident set. Without it there is no RSS
/// figure to report, so the run fails rather than print a ratio of zeros.
fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or_else(|| {
            eprintln!("racedet-bench: cannot read VmHWM from /proc/self/status (Linux only)");
            std::process::exit(1)
        })
}
