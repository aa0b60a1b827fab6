//! Where reports go: dedup, suppressions, output (text or JSON, stderr or
//! `log_path`), `max_reports`, `halt_on_error` and the exit summary.

use crate::options::{Options, ReportFormat};
use crate::report::{PairKey, Report};
use crate::suppressions::Suppressions;
use parking_lot::Mutex;
use std::cell::Cell;
use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Pairs of source locations remembered per thread, so a report storm on
/// one pair costs no shared lock.
const RECENT: usize = 8;

type LocPair = (usize, usize);

/// The roots (see `ThreadInfo::root`) of a report's two threads, `None`
/// where no longer known.
pub(crate) type Roots = [Option<u64>; 2];

thread_local! {
    static RECENT_PAIRS: Cell<([LocPair; RECENT], usize)> = const { Cell::new(([(0, 0); RECENT], 0)) };
}

pub(crate) struct Reporter {
    /// Location pairs already handled (reported or suppressed).
    quick: Mutex<HashSet<LocPair>>,
    /// Distinct reports by pair of sites.
    seen: Mutex<HashSet<PairKey>>,
    pending: Mutex<Vec<(Report, Roots)>>,
    count: AtomicUsize,
    /// Distinct races that matched a suppression (not reported, not
    /// counted above): said at exit, so a suppressions file that hides
    /// more than meant is noticed.
    suppressed: AtomicUsize,
    /// Reports drained by `take()`: the program handled them (a test
    /// asserting an expected race), so they do not fail the process.
    taken: AtomicUsize,
    /// Of those, the ones taken on a thread of neither racing thread's root
    /// (see `ThreadInfo::root`): in a test binary, another test's `take()`
    /// drained them, which may have hidden an unexpected race, so the exit
    /// summary and the JSON log say so.
    taken_elsewhere: AtomicUsize,
    sink: Mutex<Sink>,
    limit_said: AtomicBool,
    suppressions: Suppressions,
    options: Options,
}

/// The log file of this process: `PREFIX.PID`.
pub(crate) fn log_file(prefix: &std::path::Path) -> String {
    format!("{}.{}", prefix.display(), std::process::id())
}

/// Where output goes.
enum Sink {
    /// stderr: no `log_path`, or the log file failed (said once).
    Stderr,
    /// A `log_path` that nothing was written to yet: the file is made by
    /// the first write, so a process without races leaves none (as TSan).
    Unopened,
    /// The log file, and how many reports it holds whole (said if it
    /// fails, so the reader knows which reports to find on stderr).
    Log {
        file: File,
        path: String,
        reports: usize,
        /// Its length after the last whole write: a failed write is cut
        /// back to it, so the file never ends in half a report (which a
        /// reader such as `cargo racedet report` would refuse).
        whole: u64,
    },
}

/// Where a write went.
#[derive(Copy, Clone, PartialEq, Eq)]
enum Written {
    Log,
    Stderr,
}

/// What a write carries, for the line that says the log failed.
#[derive(Copy, Clone)]
enum Entry {
    Report,
    /// The `max_reports` note.
    LimitNote,
    /// The JSON lines of this many taken reports.
    Taken(usize),
    Summary,
}

impl Entry {
    fn describe(self) -> String {
        match self {
            Entry::Report => "this report".into(),
            Entry::LimitNote => "the max_reports note".into(),
            Entry::Taken(1) => "the record of 1 taken report".into(),
            Entry::Taken(n) => format!("the records of {n} taken reports"),
            Entry::Summary => "the exit summary".into(),
        }
    }
}

impl Reporter {
    pub(crate) fn new(options: &Options, suppressions: Suppressions) -> Reporter {
        Reporter {
            quick: Mutex::new(HashSet::new()),
            seen: Mutex::new(HashSet::new()),
            pending: Mutex::new(Vec::new()),
            count: AtomicUsize::new(0),
            suppressed: AtomicUsize::new(0),
            taken: AtomicUsize::new(0),
            taken_elsewhere: AtomicUsize::new(0),
            sink: Mutex::new(match options.log_path {
                Some(_) => Sink::Unopened,
                None => Sink::Stderr,
            }),
            limit_said: AtomicBool::new(false),
            suppressions,
            options: options.clone(),
        }
    }

    /// Whether the race between these two source locations was already
    /// handled; marks it handled otherwise. Cheap enough for a storm.
    pub(crate) fn already(
        &self,
        a: &'static Location<'static>,
        b: &'static Location<'static>,
    ) -> bool {
        let (a, b) = (a as *const _ as usize, b as *const _ as usize);
        let key = if a <= b { (a, b) } else { (b, a) };
        let hit = RECENT_PAIRS.with(|r| {
            let (pairs, next) = r.get();
            if pairs.contains(&key) {
                return true;
            }
            let mut pairs = pairs;
            pairs[next % RECENT] = key;
            r.set((pairs, next + 1));
            false
        });
        hit || !self.quick.lock().insert(key)
    }

    /// Files a new report: suppressed, deduplicated, counted, printed.
    pub(crate) fn submit(&self, report: Report, roots: Roots) {
        if !self.seen.lock().insert(report.pair_key()) {
            return;
        }
        if self.suppressions.matches(&report) {
            self.suppressed.fetch_add(1, Ordering::SeqCst);
            return;
        }
        let n = self.count.fetch_add(1, Ordering::SeqCst) + 1;
        let max = self.options.max_reports;
        if max == 0 || n <= max {
            let text = match self.options.report_format {
                ReportFormat::Text => report.to_text(),
                ReportFormat::Json => {
                    let mut line = crate::json::to_string(&report);
                    line.push('\n');
                    line
                }
            };
            self.write(&text, Entry::Report);
        } else if !self.limit_said.swap(true, Ordering::SeqCst) {
            self.write(
                &format!(
                    "racedet: max_reports={max} reached; further races are counted but not printed\n"
                ),
                Entry::LimitNote,
            );
        }
        self.pending.lock().push((report, roots));
        if self.options.halt_on_error {
            crate::exit::halt();
        }
    }

    /// Writes `text` to the log file, or to stderr when there is none or
    /// it failed: a report is never lost, and the first failure is said
    /// in one line (the runtime goes on; the exit status stays the
    /// races').
    fn write(&self, text: &str, entry: Entry) -> Written {
        let mut sink = self.sink.lock();
        // The failure, and what the file keeps.
        let mut failure: Option<(String, String)> = None;
        if let (Sink::Unopened, Some(prefix)) = (&*sink, &self.options.log_path) {
            let path = log_file(prefix);
            *sink = match OpenOptions::new().create(true).append(true).open(&path) {
                Ok(file) => Sink::Log {
                    whole: file.metadata().map_or(0, |m| m.len()),
                    file,
                    path,
                    reports: 0,
                },
                Err(e) => {
                    failure = Some((format!("cannot open log file {path}: {e}"), String::new()));
                    Sink::Stderr
                }
            };
        }
        if let Sink::Log {
            file,
            path,
            reports,
            whole,
        } = &mut *sink
        {
            match file.write_all(text.as_bytes()).and_then(|()| file.flush()) {
                Ok(()) => {
                    *reports += usize::from(matches!(entry, Entry::Report));
                    *whole += text.len() as u64;
                    return Written::Log;
                }
                Err(e) => {
                    // Whatever part of `text` got in goes: it is all on
                    // stderr below.
                    let _ = file.set_len(*whole);
                    let kept = match reports {
                        1 => ", the file keeping the 1 whole report written before".to_string(),
                        n => format!(", the file keeping the {n} whole reports written before"),
                    };
                    failure = Some((format!("cannot write log file {path}: {e}"), kept));
                    *sink = Sink::Stderr;
                }
            }
        }
        if let Some((failure, kept)) = failure {
            crate::global::write_stderr(
                format!(
                    "racedet: {failure}; {} and all later output go to stderr instead{kept} \
                     (fix `log_path=` in RACEDET_OPTIONS)\n",
                    entry.describe()
                )
                .as_bytes(),
            );
        }
        // Straight to file descriptor 2, whole, as TSan and Go's race
        // detector write theirs: not `eprint!`, which libtest captures (a
        // race must be seen even in a passing test), nor through std's
        // stderr lock, which a thread may hold while it formats a value
        // that reads the very cell whose lock this thread holds. The price:
        // a report can land between the pieces of another thread's
        // `eprintln!` (std writes each piece under its lock).
        crate::global::write_stderr(text.as_bytes());
        Written::Stderr
    }

    /// Distinct races hidden by suppressions so far.
    pub(crate) fn suppressed(&self) -> usize {
        self.suppressed.load(Ordering::SeqCst)
    }

    /// Distinct reports so far.
    pub(crate) fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    /// Drains the reports made so far. `related` says whether the taking
    /// thread is related to a report's threads.
    pub(crate) fn take(&self, related: impl Fn(&Roots) -> bool) -> Vec<Report> {
        let pending = std::mem::take(&mut *self.pending.lock());
        self.taken.fetch_add(pending.len(), Ordering::SeqCst);
        let mut lines = String::new();
        let mut taken = Vec::with_capacity(pending.len());
        for (report, roots) in pending {
            let elsewhere = !related(&roots);
            if elsewhere {
                self.taken_elsewhere.fetch_add(1, Ordering::SeqCst);
            }
            // JSON logs are read by `cargo racedet`: say which reports the
            // program took, so a race a test expected is not counted as a
            // bug, and which were taken by an unrelated thread.
            if self.options.report_format == ReportFormat::Json {
                let json = crate::json::to_string(&report);
                lines.push_str(&format!(
                    "{{\"taken\":{json},\"by_unrelated_thread\":{elsewhere}}}\n"
                ));
            }
            taken.push(report);
        }
        if !lines.is_empty() {
            self.write(&lines, Entry::Taken(taken.len()));
        }
        taken
    }

    /// Reports nobody took: these set the exit status.
    pub(crate) fn unhandled(&self) -> usize {
        self.count() - self.taken.load(Ordering::SeqCst)
    }

    /// `racedet: found N data race(s)`, to stderr and the log file.
    pub(crate) fn summary(&self) {
        let n = self.count();
        let taken = n - self.unhandled();
        let suppressed = self.suppressed();
        let mut notes = Vec::new();
        if taken > 0 {
            notes.push(format!("{taken} taken by racedet::reports::take"));
        }
        let elsewhere = self.taken_elsewhere.load(Ordering::SeqCst);
        if elsewhere > 0 {
            notes.push(format!(
                "{elsewhere} of them on a thread unrelated to the race: another test's? \
                 take() drains every test's reports"
            ));
        }
        if suppressed > 0 {
            notes.push(format!("{suppressed} suppressed"));
        }
        let line = if notes.is_empty() {
            format!("racedet: found {n} data race(s)\n")
        } else {
            format!("racedet: found {n} data race(s) ({})\n", notes.join(", "))
        };
        // On stderr always, and in a text log too (once only when the log
        // failed and `write` put it on stderr).
        let text_log =
            self.options.log_path.is_some() && self.options.report_format == ReportFormat::Text;
        if !text_log || self.write(&line, Entry::Summary) == Written::Log {
            crate::global::write_stderr(line.as_bytes());
        }
    }
}
