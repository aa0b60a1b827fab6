//! Traces: the engine driven by a recorded sequence of events instead of a
//! live program. Used by the differential tests and by tools that replay a
//! trace file.
//!
//! The text form has one event per line, `THREAD OP [ARGS]`, `#` comments:
//!
//! ```text
//! main fork t1          # t1 starts; main's past happens before it
//! t1 write x            # plain access to location x
//! t1 read x
//! t1 load flag acquire  # atomic load/store/rmw with an ordering
//! t1 store flag release
//! t1 rmw flag acqrel
//! t1 fence seqcst
//! t1 lock m             # mutex / write lock of sync object m
//! t1 unlock m
//! t1 rlock m            # read lock of m
//! t1 runlock m
//! t1 release s          # merge-form release / acquire (annotations)
//! t1 acquire s
//! t1 with x             # a read of x that lasts until the matching `done`
//! t1 with_mut x         # the same for a write (UnsafeCell::with_mut)
//! t1 done               # ends t1's innermost `with`/`with_mut`
//! t1 end                # optional: a thread ends at its join anyway
//! main join t1
//! ```
//!
//! The first event's thread is the root thread.

use crate::atomic::AtomicSync;
use crate::clock::VectorClock;
use crate::epoch::Epoch;
use crate::race::Race;
use crate::shadow::Shadow;
use crate::slots::Detector;
use crate::sync::SyncClock;
use crate::thread::ThreadState;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::Ordering;

/// One operation of a trace. Threads, locations and sync objects are dense
/// ids (indices into the trace's name tables).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Start thread `child`.
    Fork(usize),
    /// Wait for thread `child` to end (ending it if it has not).
    Join(usize),
    /// End the acting thread.
    End,
    /// Plain read of a location.
    Read(usize),
    /// Plain write of a location.
    Write(usize),
    /// Atomic load of a location.
    Load(usize, Ordering),
    /// Atomic store to a location.
    Store(usize, Ordering),
    /// Atomic read-modify-write of a location.
    Rmw(usize, Ordering),
    /// Standalone fence.
    Fence(Ordering),
    /// Mutex lock / RwLock write lock.
    Lock(usize),
    /// Mutex unlock / RwLock write unlock.
    Unlock(usize),
    /// RwLock read lock.
    RLock(usize),
    /// RwLock read unlock.
    RUnlock(usize),
    /// Merge-form release on a sync object (happens_before annotation).
    Release(usize),
    /// Acquire of a sync object (happens_after annotation).
    Acquire(usize),
    /// A plain read of a location that lasts until the thread's matching
    /// [`Op::Done`] (a span: `UnsafeCell::with`'s closure). Spans of one
    /// thread nest.
    With(usize),
    /// A plain write that lasts until the matching [`Op::Done`]
    /// (`UnsafeCell::with_mut`).
    WithMut(usize),
    /// Ends the acting thread's innermost open span.
    Done,
}

/// One event: which thread did what.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// The acting thread's id.
    pub thread: usize,
    /// What it did.
    pub op: Op,
}

/// A parsed trace with the names behind its ids.
#[derive(Clone, Debug, Default)]
pub struct Trace {
    /// The events in execution order.
    pub events: Vec<Event>,
    /// The 1-based text line of each event (empty for built traces, whose
    /// errors then name the event index + 1).
    pub lines: Vec<usize>,
    /// Thread names by id.
    pub threads: Vec<String>,
    /// Location names by id.
    pub locations: Vec<String>,
    /// Sync object names by id.
    pub syncs: Vec<String>,
}

/// A malformed or impossible trace, with the 1-based line (or event index + 1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceError {
    /// 1-based line of the text form (event index + 1 for built traces).
    pub line: usize,
    /// What is wrong, and what was expected.
    pub message: String,
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for TraceError {}

fn parse_ordering(word: &str) -> Option<Ordering> {
    Some(match word {
        "relaxed" => Ordering::Relaxed,
        "acquire" => Ordering::Acquire,
        "release" => Ordering::Release,
        "acqrel" => Ordering::AcqRel,
        "seqcst" => Ordering::SeqCst,
        _ => return None,
    })
}

fn intern(names: &mut Vec<String>, index: &mut HashMap<String, usize>, name: &str) -> usize {
    *index.entry(name.to_string()).or_insert_with(|| {
        names.push(name.to_string());
        names.len() - 1
    })
}

impl Trace {
    /// Parses the text form.
    pub fn parse(text: &str) -> Result<Trace, TraceError> {
        let mut trace = Trace::default();
        let (mut ti, mut li, mut si) = (HashMap::new(), HashMap::new(), HashMap::new());
        for (n, raw) in text.lines().enumerate() {
            let line = n + 1;
            let content = raw.split('#').next().unwrap_or("").trim();
            if content.is_empty() {
                continue;
            }
            let err = |message: String| TraceError { line, message };
            let words: Vec<&str> = content.split_whitespace().collect();
            if words.len() < 2 {
                return Err(err(format!(
                    "expected `THREAD OP [ARGS]`, found `{content}`"
                )));
            }
            let thread = intern(&mut trace.threads, &mut ti, words[0]);
            let args = &words[2..];
            let want = |count: usize| -> Result<(), TraceError> {
                if args.len() == count {
                    Ok(())
                } else {
                    Err(err(format!(
                        "`{}` takes {count} argument(s), found {}",
                        words[1],
                        args.len()
                    )))
                }
            };
            let ordering = |word: &str| {
                parse_ordering(word).ok_or_else(|| {
                    err(format!(
                        "unknown ordering `{word}`; expected relaxed, acquire, release, acqrel or seqcst"
                    ))
                })
            };
            let op = match words[1] {
                "fork" | "join" => {
                    want(1)?;
                    let child = intern(&mut trace.threads, &mut ti, args[0]);
                    if words[1] == "fork" {
                        Op::Fork(child)
                    } else {
                        Op::Join(child)
                    }
                }
                "end" => {
                    want(0)?;
                    Op::End
                }
                "done" => {
                    want(0)?;
                    Op::Done
                }
                "read" | "write" | "with" | "with_mut" => {
                    want(1)?;
                    let loc = intern(&mut trace.locations, &mut li, args[0]);
                    match words[1] {
                        "read" => Op::Read(loc),
                        "write" => Op::Write(loc),
                        "with" => Op::With(loc),
                        _ => Op::WithMut(loc),
                    }
                }
                "load" | "store" | "rmw" => {
                    want(2)?;
                    let loc = intern(&mut trace.locations, &mut li, args[0]);
                    let ord = ordering(args[1])?;
                    match words[1] {
                        "load" => Op::Load(loc, ord),
                        "store" => Op::Store(loc, ord),
                        _ => Op::Rmw(loc, ord),
                    }
                }
                "fence" => {
                    want(1)?;
                    Op::Fence(ordering(args[0])?)
                }
                "lock" | "unlock" | "rlock" | "runlock" | "release" | "acquire" => {
                    want(1)?;
                    let s = intern(&mut trace.syncs, &mut si, args[0]);
                    match words[1] {
                        "lock" => Op::Lock(s),
                        "unlock" => Op::Unlock(s),
                        "rlock" => Op::RLock(s),
                        "runlock" => Op::RUnlock(s),
                        "release" => Op::Release(s),
                        _ => Op::Acquire(s),
                    }
                }
                other => {
                    return Err(err(format!(
                        "unknown operation `{other}`; expected fork, join, end, read, write, load, store, rmw, fence, lock, unlock, rlock, runlock, release, acquire, with, with_mut or done"
                    )))
                }
            };
            trace.events.push(Event { thread, op });
            trace.lines.push(line);
        }
        Ok(trace)
    }

    /// Replays the whole trace; returns `(event index, race)` for every racing access.
    pub fn races(&self) -> Result<Vec<(usize, Race<usize>)>, TraceError> {
        let mut replay = Replay::new();
        let mut out = Vec::new();
        for (i, e) in self.events.iter().enumerate() {
            match replay.step(i, *e) {
                Ok(Some(r)) => out.push((i, r)),
                Ok(None) => {}
                Err(mut err) => {
                    // Name the text line, not the event index.
                    if let Some(&line) = self.lines.get(i) {
                        err.line = line;
                    }
                    return Err(err);
                }
            }
        }
        Ok(out)
    }
}

#[derive(Debug)]
enum ThreadRun {
    NotStarted,
    /// The thread's state and the stamps of its open spans, innermost last.
    Running(Box<ThreadState>, Vec<Epoch>),
    Ended(VectorClock),
}

#[derive(Default)]
struct LockState {
    /// Released by unlocks (store form) and annotations (merge form).
    write: SyncClock,
    /// Released by read-unlocks; acquired by the next write lock.
    read: SyncClock,
    writer: Option<usize>,
    readers: Vec<usize>,
    /// Whether `write` ever took a merge: until then its unlocks and locks
    /// are those of a plain lock (`release_lock`, `acquire_lock`), as
    /// every runtime lock's are.
    merged: bool,
}

impl LockState {
    /// Acquires `write` as the runtime's locks do while it can.
    fn acquire_write(&self, thread: &mut ThreadState) {
        if self.merged {
            self.write.acquire(thread);
        } else {
            self.write.acquire_lock(thread);
        }
    }
}

/// Drives the engine one event at a time. Sites are event indices.
pub struct Replay {
    detector: Detector,
    threads: Vec<ThreadRun>,
    locations: Vec<(Shadow<usize>, AtomicSync)>,
    syncs: Vec<LockState>,
}

impl Default for Replay {
    fn default() -> Self {
        Replay::new()
    }
}

impl Replay {
    /// A replay with a fresh engine.
    pub fn new() -> Replay {
        Replay::with_detector(Detector::new())
    }

    /// A replay on a given engine (e.g. one with a low clock limit).
    pub fn with_detector(detector: Detector) -> Replay {
        Replay {
            detector,
            threads: Vec::new(),
            locations: Vec::new(),
            syncs: Vec::new(),
        }
    }

    /// The engine (for slot and clock statistics).
    pub fn detector(&self) -> &Detector {
        &self.detector
    }

    /// Applies event number `index`; returns the race it completes, if any.
    pub fn step(&mut self, index: usize, event: Event) -> Result<Option<Race<usize>>, TraceError> {
        let err = |message: String| TraceError {
            line: index + 1,
            message,
        };
        grow(&mut self.threads, event.thread + 1, || {
            ThreadRun::NotStarted
        });
        if self.detector.live_threads() == 0
            && self
                .threads
                .iter()
                .all(|t| matches!(t, ThreadRun::NotStarted))
        {
            let root = self
                .detector
                .root_thread()
                .map_err(|e| err(e.to_string()))?;
            self.threads[event.thread] = ThreadRun::Running(Box::new(root), Vec::new());
        }
        let t = event.thread;
        let ThreadRun::Running(..) = &self.threads[t] else {
            return Err(err(format!(
                "thread #{t} acts but is not running (fork it first; it must not act after it ends)"
            )));
        };
        let mut race = None;
        match event.op {
            Op::Fork(child) => {
                grow(&mut self.threads, child + 1, || ThreadRun::NotStarted);
                if !matches!(self.threads[child], ThreadRun::NotStarted) {
                    return Err(err(format!("thread #{child} is forked twice")));
                }
                let ThreadRun::Running(parent, _) = &mut self.threads[t] else {
                    unreachable!()
                };
                let state = self.detector.fork(parent).map_err(|e| err(e.to_string()))?;
                self.threads[child] = ThreadRun::Running(Box::new(state), Vec::new());
            }
            Op::Join(child) => {
                if child == t || child >= self.threads.len() {
                    return Err(err(format!("cannot join thread #{child}")));
                }
                self.end(child).map_err(err)?;
                let ThreadRun::Ended(clock) = std::mem::replace(
                    &mut self.threads[child],
                    ThreadRun::Ended(VectorClock::new()),
                ) else {
                    unreachable!()
                };
                self.running(t).acquire(&clock);
                self.threads[child] = ThreadRun::Ended(clock);
            }
            Op::End => self.end(t).map_err(err)?,
            Op::With(l) | Op::WithMut(l) => {
                grow(&mut self.locations, l + 1, Default::default);
                let ThreadRun::Running(thread, spans) = &mut self.threads[t] else {
                    unreachable!()
                };
                // As the runtime's closures do: the span opens, then its
                // access is checked and recorded with the span's stamp.
                let stamp = thread.open_span();
                spans.push(stamp);
                let shadow = &mut self.locations[l].0;
                race = if let Op::With(_) = event.op {
                    shadow.read_at(thread, stamp, || index)
                } else {
                    shadow.write_at(thread, stamp, || index)
                };
            }
            Op::Done => {
                let ThreadRun::Running(thread, spans) = &mut self.threads[t] else {
                    unreachable!()
                };
                let Some(stamp) = spans.pop() else {
                    return Err(err(format!(
                        "thread #{t} has no open `with`/`with_mut` for `done` to end"
                    )));
                };
                // Moves the clock up to the stamp, never past the slot's
                // limit (`open_span` reserved within it): no migration.
                thread.end_span(stamp);
            }
            Op::Read(l) | Op::Write(l) | Op::Load(l, _) | Op::Store(l, _) | Op::Rmw(l, _) => {
                grow(&mut self.locations, l + 1, Default::default);
                let ThreadRun::Running(thread, _) = &mut self.threads[t] else {
                    unreachable!()
                };
                let (shadow, sync) = &mut self.locations[l];
                race = match event.op {
                    Op::Read(_) => shadow.read(thread, index),
                    Op::Write(_) => shadow.write(thread, index),
                    Op::Load(_, ord) => {
                        if matches!(ord, Ordering::Release | Ordering::AcqRel) {
                            return Err(err("a load cannot have release ordering".into()));
                        }
                        // Acquire *before* the check: the load synchronizes
                        // with the store it reads from, so whatever happened
                        // before that store (e.g. a plain write of this very
                        // location) happens before this access too.
                        sync.load(thread, ord);
                        shadow.atomic_read(thread, index)
                    }
                    Op::Store(_, ord) => {
                        if matches!(ord, Ordering::Acquire | Ordering::AcqRel) {
                            return Err(err("a store cannot have acquire ordering".into()));
                        }
                        let r = shadow.atomic_write(thread, index);
                        sync.store(thread, ord);
                        r
                    }
                    Op::Rmw(_, ord) => {
                        // Read half before the check, as for a load; the write
                        // half after it, so the release covers this access.
                        sync.load(thread, ord);
                        let r = shadow.atomic_write(thread, index);
                        sync.rmw_write(thread, ord);
                        r
                    }
                    _ => unreachable!("matched as an access above"),
                };
                self.migrate_if_exhausted(t).map_err(err)?;
            }
            Op::Fence(ord) => {
                let ThreadRun::Running(thread, _) = &mut self.threads[t] else {
                    unreachable!()
                };
                match ord {
                    Ordering::Acquire => thread.fence_acquire(),
                    Ordering::Release => thread.fence_release(),
                    Ordering::AcqRel => thread.fence_acq_rel(),
                    Ordering::SeqCst => thread.fence_seqcst(),
                    _ => return Err(err("a fence cannot be relaxed".into())),
                }
                self.migrate_if_exhausted(t).map_err(err)?;
            }
            Op::Lock(s)
            | Op::Unlock(s)
            | Op::RLock(s)
            | Op::RUnlock(s)
            | Op::Release(s)
            | Op::Acquire(s) => {
                grow(&mut self.syncs, s + 1, Default::default);
                let ThreadRun::Running(thread, _) = &mut self.threads[t] else {
                    unreachable!()
                };
                let lock = &mut self.syncs[s];
                match event.op {
                    Op::Lock(_) => {
                        if lock.writer.is_some() || !lock.readers.is_empty() {
                            return Err(err(format!("lock #{s} is held; cannot lock it")));
                        }
                        lock.writer = Some(t);
                        lock.acquire_write(thread);
                        lock.read.acquire(thread);
                        // The readers' clock is now part of this owner's
                        // clock and will be stored at unlock.
                        lock.read.clear();
                    }
                    Op::Unlock(_) => {
                        if lock.writer != Some(t) {
                            return Err(err(format!(
                                "thread #{t} unlocks #{s} without holding it"
                            )));
                        }
                        lock.writer = None;
                        if lock.merged {
                            lock.write.release_store(thread);
                        } else {
                            lock.write.release_lock(thread);
                        }
                    }
                    Op::RLock(_) => {
                        if lock.writer.is_some() {
                            return Err(err(format!(
                                "lock #{s} is write-locked; cannot read-lock it"
                            )));
                        }
                        lock.readers.push(t);
                        lock.acquire_write(thread);
                    }
                    Op::RUnlock(_) => {
                        let Some(i) = lock.readers.iter().position(|&r| r == t) else {
                            return Err(err(format!(
                                "thread #{t} read-unlocks #{s} without holding it"
                            )));
                        };
                        lock.readers.swap_remove(i);
                        lock.read.release_merge(thread);
                    }
                    Op::Release(_) => {
                        lock.merged = true;
                        lock.write.release_merge(thread);
                    }
                    _ => lock.acquire_write(thread),
                }
                self.migrate_if_exhausted(t).map_err(err)?;
            }
        }
        Ok(race)
    }

    fn running(&mut self, t: usize) -> &mut ThreadState {
        match &mut self.threads[t] {
            ThreadRun::Running(s, _) => s,
            _ => unreachable!("checked by the caller"),
        }
    }

    fn end(&mut self, t: usize) -> Result<(), String> {
        if let ThreadRun::Running(_, spans) = &self.threads[t] {
            if !spans.is_empty() {
                return Err(format!(
                    "thread #{t} ends inside {} open `with`/`with_mut` (end each with `done` first)",
                    spans.len()
                ));
            }
        }
        match std::mem::replace(&mut self.threads[t], ThreadRun::NotStarted) {
            ThreadRun::Running(state, _) => {
                let clock = self.detector.finish(*state);
                self.threads[t] = ThreadRun::Ended(clock);
                Ok(())
            }
            ended @ ThreadRun::Ended(_) => {
                self.threads[t] = ended;
                Ok(())
            }
            ThreadRun::NotStarted => Err(format!("thread #{t} never started")),
        }
    }

    fn migrate_if_exhausted(&mut self, t: usize) -> Result<(), String> {
        if let ThreadRun::Running(thread, _) = &mut self.threads[t] {
            if thread.exhausted() {
                self.detector.migrate(thread).map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    }
}

fn grow<T>(v: &mut Vec<T>, len: usize, make: impl Fn() -> T) {
    while v.len() < len {
        v.push(make());
    }
}
