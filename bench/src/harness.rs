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
fn run_child(name: &str, mode: Mode, spawn_threads: usize) -> (f64, u64, usize) {
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
    // A detected run that found races exits with the runtime's status 66;
    // anything else but success is a failed run, even after its result.
    let exited_well =
        out.status.success() || (mode == Mode::Detected && out.status.code() == Some(66));
    let result = text
        .lines()
        .find(|l| l.starts_with("result "))
        .filter(|_| exited_well);
    let Some(line) = result else {
        // One line: which run failed, how, and the child's last words.
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last = stderr.lines().rev().find(|l| !l.trim().is_empty());
        eprintln!(
            "racedet-bench: the {name} {} run failed ({}): {}",
            mode.as_str(),
            out.status,
            last.unwrap_or("no output")
        );
        std::process::exit(1)
    };
    let f: Vec<&str> = line.split_whitespace().collect();
    (
        f[1].parse().expect("ns/op"),
        f[2].parse().expect("rss"),
        f[3].parse().expect("reports"),
    )
}

/// The middle sample (the upper one of an even count).
fn median<T: PartialOrd + Copy>(v: &mut [T]) -> T {
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
    let spawn_threads: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100_000);
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
