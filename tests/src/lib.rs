//! Helpers for racedet's scenario tests.
//!
//! Tests of one binary run in parallel threads of one process, and
//! `racedet::reports::take()` drains the whole process's reports. So every
//! test goes through [`reports_where`]: it moves whatever `take()` returns
//! into one shared store and hands each test only the reports it asks for
//! (by its own source lines), leaving the others for their tests.

use racedet::reports::{Access, Report};
use std::sync::Mutex;

static STORE: Mutex<Vec<Report>> = Mutex::new(Vec::new());

/// Removes and returns the stored reports matching `pred`.
pub fn reports_where(pred: impl Fn(&Report) -> bool) -> Vec<Report> {
    let mut store = STORE.lock().unwrap_or_else(|p| p.into_inner());
    store.extend(racedet::reports::take());
    let (mine, others): (Vec<Report>, Vec<Report>) = store.drain(..).partition(|r| pred(r));
    *store = others;
    mine
}

/// Whether either side of `r` is in `file` between lines `first..=last`.
pub fn touches(r: &Report, file: &str, first: u32, last: u32) -> bool {
    [&r.current.site, &r.previous.site]
        .iter()
        .any(|s| s.file.ends_with(file_name(file)) && (first..=last).contains(&s.line))
}

fn file_name(file: &str) -> &str {
    file.rsplit('/').next().unwrap_or(file)
}

/// The reports with a side in `file` between `first..=last`.
pub fn reports_between(file: &str, first: u32, last: u32) -> Vec<Report> {
    reports_where(|r| touches(r, file, first, last))
}

/// Asserts that no report has a side in `file` between `first..=last`.
#[track_caller]
pub fn assert_silent(file: &str, first: u32, last: u32) {
    let found = reports_between(file, first, last);
    assert!(
        found.is_empty(),
        "expected no race in {file}:{first}..={last}, got:\n{}",
        found.iter().map(|r| r.to_text()).collect::<String>()
    );
}

/// Asserts exactly one report whose two sites are `file:a` and `file:b` (in
/// either order) and returns it.
#[track_caller]
pub fn expect_race(file: &str, a: u32, b: u32) -> Report {
    let (lo, hi) = (a.min(b), a.max(b));
    let found = reports_where(|r| {
        let lines = {
            let (x, y) = (r.current.site.line, r.previous.site.line);
            (x.min(y), x.max(y))
        };
        r.current.site.file.ends_with(file_name(file))
            && r.previous.site.file.ends_with(file_name(file))
            && lines == (lo, hi)
    });
    assert_eq!(
        found.len(),
        1,
        "expected one race between {file}:{a} and {file}:{b}, got {}:\n{}",
        found.len(),
        found.iter().map(|r| r.to_text()).collect::<String>()
    );
    let r = found.into_iter().next().unwrap();
    // A race is between two threads: a report naming one thread twice is
    // a detector bug whatever its sites are.
    assert_ne!(
        r.current.thread.id,
        r.previous.thread.id,
        "a race report names one thread twice:\n{}",
        r.to_text()
    );
    r
}

/// Evaluates an access and returns the line it is on, so a test can name
/// the sites it expects in a report. `line!()` in a macro is the line of the
/// invocation, which is where the access's `#[track_caller]` site is, and
/// rustfmt keeps a short invocation on one line.
#[macro_export]
macro_rules! site {
    ($access:expr) => {{
        let line = line!();
        let _ = $access;
        line
    }};
}

/// `site!` that also returns the value: `(line, value)`. `line!()` in a
/// macro is the invocation's line, where the access's site is.
#[macro_export]
macro_rules! at {
    ($access:expr) => {{
        (line!(), $access)
    }};
}

/// Real-time ordering racedet cannot see (a std atomic): pins an
/// interleaving without adding a happens-before edge.
#[derive(Default)]
pub struct Signal(std::sync::atomic::AtomicBool);

impl Signal {
    /// Raises the signal.
    pub fn raise(&self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Whether the signal was raised.
    pub fn is_raised(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Waits (yielding) until the signal is raised.
    pub fn wait(&self) {
        while !self.is_raised() {
            std::thread::yield_now();
        }
    }
}

/// Spins until `flag`, a racedet atomic, reads true with `order`: with
/// `Acquire` the waiter is then ordered after the store it read (unlike
/// [`Signal`], which orders nothing).
pub fn wait_set(flag: &racedet::sync::atomic::AtomicBool, order: std::sync::atomic::Ordering) {
    while !flag.load(order) {
        std::hint::spin_loop();
    }
}

/// Spawns `n` racedet threads that run `body` once all have started, and
/// returns their handles once every one has finished it. None ends before
/// all are spawned, so they hold distinct detector slots; std's barrier
/// and channel order them in time only, invisibly to racedet. A thread
/// that panics in `body` fails the call instead of hanging it.
pub fn spawn_together(
    n: usize,
    body: impl Fn() + Send + Sync + 'static,
) -> Vec<racedet::thread::JoinHandle<()>> {
    let body = std::sync::Arc::new(body);
    let together = std::sync::Arc::new(std::sync::Barrier::new(n));
    let (tx, rx) = std::sync::mpsc::channel();
    let handles = (0..n)
        .map(|_| {
            let (body, together, tx) = (body.clone(), together.clone(), tx.clone());
            racedet::thread::spawn(move || {
                together.wait();
                body();
                tx.send(()).unwrap();
            })
        })
        .collect();
    drop(tx);
    assert_eq!(rx.iter().take(n).count(), n, "a thread panicked");
    handles
}

/// `n` readers spawned together (so that they hold distinct detector
/// slots, past any per-slot path of an `RwLock`) each read a cell under a
/// read lock -- after a write lock and unlock of their own if
/// `write_first`, which bounds each reader's clock by the lock's write
/// clock --, then this thread writes the cell under the write lock. Every
/// read-unlock happens before that write lock, whichever way it was
/// released: asserts silence.
#[track_caller]
pub fn readers_then_a_writer(n: usize, write_first: bool) {
    use racedet::sync::{Arc, RwLock};
    let first = line!();
    let x = Arc::new(racedet::cell::RaceCell::new(0u8));
    let lock = Arc::new(RwLock::new(()));
    let readers = {
        let (x, lock) = (x.clone(), lock.clone());
        spawn_together(n, move || {
            if write_first {
                drop(lock.write().unwrap());
            }
            let _r = lock.read().unwrap();
            let _ = x.get();
        })
    };
    {
        let _w = lock.write().unwrap();
        x.set(1);
    }
    for r in readers {
        r.join().unwrap();
    }
    assert_silent(file!(), first, line!());
}

/// Spawns a racedet thread named `name` (reports call it `Tn 'name'`).
pub fn spawn_named<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> racedet::thread::JoinHandle<T> {
    racedet::thread::Builder::new()
        .name(name.to_string())
        .spawn(f)
        .unwrap()
}

/// Asserts which thread made each side of `r`: `sides` pairs a site's line
/// with the name of the thread that made it, `None` for the calling test's
/// own thread (`main thread`, or named after the test by libtest).
#[track_caller]
pub fn assert_threads(r: &Report, sides: [(u32, Option<&str>); 2]) {
    let own = std::thread::current().name().map(str::to_string);
    for (line, who) in sides {
        let label = side_at(r, line).thread.label();
        let ok = match who {
            Some(name) => label.ends_with(&format!(" '{name}'")),
            None => {
                label == "main thread"
                    || own
                        .as_deref()
                        .is_some_and(|n| label.ends_with(&format!(" '{n}'")))
            }
        };
        assert!(
            ok,
            "line {line} was made by {label}, expected {}:\n{}",
            who.unwrap_or("the test's own thread"),
            r.to_text()
        );
    }
}

/// The side of `r` whose site is at `line`.
#[track_caller]
pub fn side_at(r: &Report, line: u32) -> &Access {
    [&r.current, &r.previous]
        .into_iter()
        .find(|s| s.site.line == line)
        .unwrap_or_else(|| panic!("no side at line {line}:\n{}", r.to_text()))
}

/// Asserts which operation made each side of `r`: `sides` pairs a site's
/// line with the operation's name in reports (`insert`, `get`, ...).
#[track_caller]
pub fn assert_ops(r: &Report, sides: [(u32, &str); 2]) {
    for (line, op) in sides {
        let made = &side_at(r, line).op;
        assert_eq!(made, op, "the operation at line {line}:\n{}", r.to_text());
    }
}

/// Asserts that `r`'s object was made at `line` (of the racing file).
#[track_caller]
pub fn assert_made_at(r: &Report, line: u32) {
    let made = r.object.created_at.as_ref();
    assert_eq!(
        made.map(|s| s.line),
        Some(line),
        "where the object was made:\n{}",
        r.to_text()
    );
}

/// [`expect_race`] between `file:sides[0].0` and `file:sides[1].0`, then
/// [`assert_threads`] with `sides`: which thread made each side (`None` for
/// the calling test's own thread). Returns the report.
#[track_caller]
pub fn expect_race_by(file: &str, sides: [(u32, Option<&str>); 2]) -> Report {
    let r = expect_race(file, sides[0].0, sides[1].0);
    assert_threads(&r, sides);
    r
}

/// Adds 1 to a shared cell when dropped: a value whose drop reads and
/// writes, for scenarios where std drops it (a thread's result or panic
/// payload, a message nobody received).
pub struct BumpOnDrop(pub racedet::sync::Arc<racedet::cell::RaceCell<u64>>);

impl Drop for BumpOnDrop {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

/// A shared plain variable (Go's `x`), the corpus's usual racing location.
pub fn cell<T: Copy>(v: T) -> racedet::sync::Arc<racedet::cell::RaceCell<T>> {
    racedet::sync::Arc::new(racedet::cell::RaceCell::new(v))
}

/// Hashes a u64 key to itself, so a test knows each key's bucket.
#[derive(Default)]
pub struct Identity(u64);

impl std::hash::Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | b as u64;
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A map whose buckets the test can name (see [`Identity`]).
pub type IdMap = racedet::collections::RaceMap<u64, u64, std::hash::BuildHasherDefault<Identity>>;

/// The message of the panic `f` makes (panics if it returns). The panics
/// these tests expect are mostly the runtime's answer to a closure that
/// uses its own map or cell, where the alternative is a deadlock: should
/// that check break, a watchdog ends the process after a minute, saying
/// so, instead of leaving the suite to hang until CI's limit.
pub fn panic_of(f: impl FnOnce()) -> String {
    let watchdog = Watchdog::start(
        "panic_of: the closure neither panicked nor returned within 60 s \
         (a deadlock where the runtime should have panicked?)",
    );
    let payload = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    drop(watchdog);
    let payload = payload.expect_err("expected a panic");
    match payload.downcast::<&str>() {
        Ok(s) => s.to_string(),
        Err(p) => *p.downcast::<String>().expect("a string panic message"),
    }
}

/// Ends the process with `message` unless dropped within a minute. A plain
/// std thread: it touches nothing racedet checks. For tests whose failure
/// would be a deadlock.
pub struct Watchdog {
    /// Dropping it (with the watchdog) wakes the thread, which then ends.
    done: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Watchdog {
    /// Starts the minute.
    pub fn start(message: &'static str) -> Watchdog {
        let (done, wait) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let limit = std::time::Duration::from_secs(60);
            if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = wait.recv_timeout(limit) {
                // Past the test harness's capture, which would be lost.
                use std::io::Write;
                let _ = writeln!(std::io::stderr(), "{message}");
                std::process::exit(101);
            }
        });
        Watchdog {
            done: Some(done),
            thread: Some(thread),
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        drop(self.done.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
