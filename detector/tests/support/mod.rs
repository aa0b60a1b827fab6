//! Shared by the differential and lifecycle tests: a reference race detector
//! built straight from the definition of happens-before, a seeded random
//! trace generator, a shrinker and a printer for the trace text format.
//!
//! The reference knows nothing of vector clocks, epochs, slots or shadow
//! cells: it lists the happens-before edges of a trace as a graph over event
//! indices, takes the transitive closure with one bitset per event, and
//! checks every access against the full history. Slow and obviously right,
//! which is the point.

// Each test binary uses a different subset of this module.
#![allow(dead_code)]

use racedet_detector::trace::{Event, Op, Replay, TraceError};
use racedet_detector::{Detector, Ordering, Race};

/// The reference holds one `u128` bitset per event, so traces are capped.
pub const MAX_EVENTS: usize = 128;

fn bit(i: usize) -> u128 {
    1u128 << i
}

fn releases(order: Ordering) -> bool {
    matches!(
        order,
        Ordering::Release | Ordering::AcqRel | Ordering::SeqCst
    )
}

fn acquires(order: Ordering) -> bool {
    matches!(
        order,
        Ordering::Acquire | Ordering::AcqRel | Ordering::SeqCst
    )
}

fn is_release_fence(op: Op) -> bool {
    matches!(op, Op::Fence(o) if releases(o))
}

fn is_acquire_fence(op: Op) -> bool {
    matches!(op, Op::Fence(o) if acquires(o))
}

/// An access as the reference sees it: location, writes?, atomic?
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct RefAccess {
    pub location: usize,
    pub writes: bool,
    pub atomic: bool,
}

pub fn access_of(op: Op) -> Option<RefAccess> {
    let (location, writes, atomic) = match op {
        Op::Read(l) | Op::With(l) => (l, false, false),
        Op::Write(l) | Op::WithMut(l) => (l, true, false),
        Op::Load(l, _) => (l, false, true),
        Op::Store(l, _) | Op::Rmw(l, _) => (l, true, true),
        _ => return None,
    };
    Some(RefAccess {
        location,
        writes,
        atomic,
    })
}

/// Two unordered accesses race when at least one writes and they are not
/// both atomic.
fn conflict(a: RefAccess, b: RefAccess) -> bool {
    a.location == b.location && (a.writes || b.writes) && !(a.atomic && b.atomic)
}

/// The reference's view of a trace.
pub struct Reference {
    /// `hb[i]` has bit `j` set iff event `j` happens before event `i`.
    pub hb: Vec<u128>,
    /// `partners[i]` has bit `j` set iff `j` is an earlier access of another
    /// thread that conflicts with access `i` and does not happen before it.
    /// Access `i` races iff this is non-zero.
    pub partners: Vec<u128>,
    /// Accesses that conflict with an earlier access of another thread and
    /// race with none of them: the synchronization did its job. Only a
    /// coverage statistic.
    pub ordered_conflicts: usize,
}

impl Reference {
    pub fn races(&self, i: usize) -> bool {
        self.partners[i] != 0
    }
}

/// Builds the happens-before graph of `events` from its definition and
/// checks every access against all earlier ones. A span (`with`/`with_mut`
/// up to its `done`) is one access that lasts: an access of another thread
/// is ordered after it only if its `done` happens before that access, and
/// before it if it happens before the span's start (which is where the
/// span is checked).
///
/// Edges (all point forward in trace order):
/// - program order within each thread;
/// - fork event -> every event of the child;
/// - every event of the child, and the child's fork event (a child with no
///   events still carries its parent's past to the joiner) -> join event;
/// - unlock -> every later lock and rlock of the object; runlock -> every
///   later lock of the object; release annotation -> every later acquire;
/// - atomics, C++20: each atomic write W has release heads H(W): W if it is
///   a release, the latest release fence before W in W's thread, and, for an
///   RMW, H of the write it read from. A load or RMW R reads from the latest
///   earlier atomic write of the location; every head goes to R if R
///   acquires, and to every later acquire fence of R's thread either way
///   (a SeqCst fence is an acquire and a release fence; SeqCst fences add no
///   edges among themselves, as in C++11).
pub fn reference(events: &[Event]) -> Reference {
    let n = events.len();
    assert!(
        n <= MAX_EVENTS,
        "reference supports at most {MAX_EVENTS} events"
    );
    // The engine keeps one clock per sync object for locks *and* annotations
    // (an unlock overwrites what annotations merged in). The generator never
    // mixes the two on one object, and the reference relies on that.
    for (i, e) in events.iter().enumerate() {
        if let Op::Release(s) | Op::Acquire(s) = e.op {
            assert!(
                !events.iter().any(|o| matches!(o.op,
                    Op::Lock(t) | Op::Unlock(t) | Op::RLock(t) | Op::RUnlock(t) if t == s)),
                "event {i}: sync object {s} is used both as a lock and as an annotation"
            );
        }
    }

    // preds[i]: direct predecessors of event i.
    let mut preds = vec![0u128; n];
    let mut edge = |from: usize, to: usize| {
        assert!(from < to, "edges point forward: {from} -> {to}");
        preds[to] |= bit(from);
    };

    let thread_of = |i: usize| events[i].thread;
    let later_of_thread = |i: usize, t: usize| (i + 1..n).filter(move |&k| thread_of(k) == t);
    let later_ops = |i: usize| {
        events
            .iter()
            .enumerate()
            .skip(i + 1)
            .map(|(k, e)| (k, e.op))
    };

    // Program order.
    for i in 0..n {
        if let Some(prev) = (0..i).rev().find(|&k| thread_of(k) == thread_of(i)) {
            edge(prev, i);
        }
    }

    // Release heads of every atomic write, filled in trace order below.
    let mut heads = vec![0u128; n];
    let mut last_write: Vec<Option<usize>> = Vec::new();

    for (i, e) in events.iter().enumerate() {
        match e.op {
            Op::Fork(child) => {
                for k in later_of_thread(i, child) {
                    edge(i, k);
                }
            }
            Op::Join(child) => {
                for k in (0..i).filter(|&k| thread_of(k) == child) {
                    edge(k, i);
                }
                if let Some(fork) = (0..i).find(|&k| events[k].op == Op::Fork(child)) {
                    edge(fork, i);
                }
            }
            Op::Unlock(s) => {
                for (k, op) in later_ops(i) {
                    if matches!(op, Op::Lock(t) | Op::RLock(t) if t == s) {
                        edge(i, k);
                    }
                }
            }
            Op::RUnlock(s) => {
                for (k, op) in later_ops(i) {
                    if op == Op::Lock(s) {
                        edge(i, k);
                    }
                }
            }
            Op::Release(s) => {
                for (k, op) in later_ops(i) {
                    if op == Op::Acquire(s) {
                        edge(i, k);
                    }
                }
            }
            Op::Load(l, order) | Op::Store(l, order) | Op::Rmw(l, order) => {
                if last_write.len() <= l {
                    last_write.resize(l + 1, None);
                }
                let read_from = last_write[l];
                // The read half (loads and RMWs).
                if let (Op::Load(..) | Op::Rmw(..), Some(w)) = (e.op, read_from) {
                    let h = heads[w];
                    for head in (0..n).filter(|&j| h & bit(j) != 0) {
                        if acquires(order) {
                            edge(head, i);
                        }
                        for fence in later_of_thread(i, e.thread) {
                            if is_acquire_fence(events[fence].op) {
                                edge(head, fence);
                            }
                        }
                    }
                }
                // The write half (stores and RMWs).
                if let Op::Store(..) | Op::Rmw(..) = e.op {
                    let mut h = 0;
                    if releases(order) {
                        h |= bit(i);
                    }
                    if let Some(fence) = (0..i)
                        .rev()
                        .find(|&k| thread_of(k) == e.thread && is_release_fence(events[k].op))
                    {
                        h |= bit(fence);
                    }
                    if let (Op::Rmw(..), Some(w)) = (e.op, read_from) {
                        h |= heads[w];
                    }
                    heads[i] = h;
                    last_write[l] = Some(i);
                }
            }
            _ => {}
        }
    }

    // Transitive closure: edges point forward, so one pass in trace order
    // sees every predecessor's ancestors complete.
    let mut hb = vec![0u128; n];
    for i in 0..n {
        let mut reach = 0;
        for j in (0..i).filter(|&j| preds[i] & bit(j) != 0) {
            reach |= hb[j] | bit(j);
        }
        hb[i] = reach;
    }

    // Where each access is over: itself, or a span's `done` (`None` while
    // the span is still open at the end of the trace).
    let mut over: Vec<Option<usize>> = (0..n).map(Some).collect();
    let mut open: Vec<Vec<usize>> = Vec::new();
    for (i, e) in events.iter().enumerate() {
        if open.len() <= e.thread {
            open.resize(e.thread + 1, Vec::new());
        }
        match e.op {
            Op::With(_) | Op::WithMut(_) => {
                over[i] = None;
                open[e.thread].push(i);
            }
            Op::Done => {
                let start = open[e.thread].pop().expect("`done` ends an open span");
                over[start] = Some(i);
            }
            _ => {}
        }
    }

    let mut partners = vec![0u128; n];
    let mut ordered_conflicts = 0;
    for i in 0..n {
        let Some(a) = access_of(events[i].op) else {
            continue;
        };
        let mut conflicting = 0;
        let mut ordered = 0;
        for (j, earlier) in events.iter().enumerate().take(i) {
            if let Some(b) = access_of(earlier.op) {
                if earlier.thread != events[i].thread && conflict(a, b) {
                    conflicting |= bit(j);
                    if over[j].is_some_and(|end| end < i && hb[i] & bit(end) != 0) {
                        ordered |= bit(j);
                    }
                }
            }
        }
        partners[i] = conflicting & !ordered;
        if conflicting != 0 && partners[i] == 0 {
            ordered_conflicts += 1;
        }
    }
    Reference {
        hb,
        partners,
        ordered_conflicts,
    }
}

/// The engine's answer for each event of a trace: the race it reported.
pub type Verdicts = Vec<Option<Race<usize>>>;

/// The engine's answer for every event (`None` for non-races and non-accesses).
pub fn engine(events: &[Event], detector: Detector) -> Result<(Verdicts, Replay), TraceError> {
    let mut replay = Replay::with_detector(detector);
    let mut out = Vec::with_capacity(events.len());
    for (i, e) in events.iter().enumerate() {
        out.push(replay.step(i, *e)?);
    }
    Ok((out, replay))
}

/// Where engine and reference part ways.
#[derive(Clone, Debug)]
pub struct Disagreement {
    pub index: usize,
    pub reference: String,
    pub engine: String,
}

/// The first event where the engine's verdict differs from the reference's:
/// race vs no race, or a reported race whose earlier side is not one the
/// reference considers racing.
pub fn compare(
    events: &[Event],
    reference: &Reference,
    engine: &[Option<Race<usize>>],
) -> Option<Disagreement> {
    for (i, verdict) in engine.iter().enumerate() {
        let partners: Vec<usize> = (0..i)
            .filter(|&j| reference.partners[i] & bit(j) != 0)
            .collect();
        let reference_says = if access_of(events[i].op).is_none() {
            "not an access".to_string()
        } else if partners.is_empty() {
            "no race".to_string()
        } else {
            format!("race with event(s) {partners:?}")
        };
        let disagree = match verdict {
            None => !partners.is_empty(),
            Some(race) => {
                let previous = access_of(events[race.previous.site].op);
                race.current.site != i
                    || !partners.contains(&race.previous.site)
                    || previous.map(|a| (a.writes, a.atomic))
                        != Some((
                            race.previous.kind.is_write(),
                            race.previous.kind.is_atomic(),
                        ))
            }
        };
        if disagree {
            let engine_says = match verdict {
                None => "no race".to_string(),
                Some(r) => format!(
                    "race: current {:?} at event {}, previous {:?} at event {}",
                    r.current.kind, r.current.site, r.previous.kind, r.previous.site
                ),
            };
            return Some(Disagreement {
                index: i,
                reference: reference_says,
                engine: engine_says,
            });
        }
    }
    None
}

/// Runs engine and reference on `events`. `Ok(None)`: they agree; `Err`: the
/// trace is not valid for `Replay`.
pub fn check(
    events: &[Event],
    detector: impl FnOnce() -> Detector,
) -> Result<Option<Disagreement>, TraceError> {
    let (verdicts, _) = engine(events, detector())?;
    Ok(compare(events, &reference(events), &verdicts))
}

/// Greedily deletes whole threads, then single events, while the trace stays
/// valid and engine and reference still disagree somewhere.
pub fn shrink(events: Vec<Event>, detector: &dyn Fn() -> Detector) -> Vec<Event> {
    shrink_by(events, &|candidate| {
        matches!(check(candidate, detector), Ok(Some(_)))
    })
}

/// Greedily deletes whole threads, then single events, while `fails` holds
/// (`fails` must itself reject traces that `Replay` refuses).
pub fn shrink_by(mut events: Vec<Event>, fails: &dyn Fn(&[Event]) -> bool) -> Vec<Event> {
    assert!(fails(&events), "shrink needs a failing trace");
    loop {
        let before = events.len();
        // Whole threads: their events and the forks and joins naming them.
        let mut threads: Vec<usize> = events.iter().map(|e| e.thread).collect();
        threads.sort_unstable();
        threads.dedup();
        for t in threads {
            let candidate: Vec<Event> = events
                .iter()
                .copied()
                .filter(|e| e.thread != t && e.op != Op::Fork(t) && e.op != Op::Join(t))
                .collect();
            if candidate.len() < events.len() && fails(&candidate) {
                events = candidate;
            }
        }
        // Single events, latest first (later events depend on earlier ones
        // more often than the reverse).
        let mut i = events.len();
        while i > 0 {
            i -= 1;
            let mut candidate = events.clone();
            candidate.remove(i);
            if fails(&candidate) {
                events = candidate;
            }
        }
        if events.len() == before {
            return events;
        }
    }
}

fn ordering_name(order: Ordering) -> &'static str {
    match order {
        Ordering::Relaxed => "relaxed",
        Ordering::Acquire => "acquire",
        Ordering::Release => "release",
        Ordering::AcqRel => "acqrel",
        Ordering::SeqCst => "seqcst",
        _ => unreachable!("no other orderings exist"),
    }
}

fn thread_name(t: usize) -> String {
    if t == 0 {
        "main".to_string()
    } else {
        format!("t{t}")
    }
}

/// The trace in the text format of `racedet_detector::trace`, one event per
/// line with its index as a comment, ready to paste into `Trace::parse`.
pub fn to_text(events: &[Event]) -> String {
    let mut out = String::new();
    for (i, e) in events.iter().enumerate() {
        let op = match e.op {
            Op::Fork(c) => format!("fork {}", thread_name(c)),
            Op::Join(c) => format!("join {}", thread_name(c)),
            Op::End => "end".to_string(),
            Op::Read(l) => format!("read x{l}"),
            Op::Write(l) => format!("write x{l}"),
            Op::Load(l, o) => format!("load x{l} {}", ordering_name(o)),
            Op::Store(l, o) => format!("store x{l} {}", ordering_name(o)),
            Op::Rmw(l, o) => format!("rmw x{l} {}", ordering_name(o)),
            Op::Fence(o) => format!("fence {}", ordering_name(o)),
            Op::Lock(s) => format!("lock m{s}"),
            Op::Unlock(s) => format!("unlock m{s}"),
            Op::RLock(s) => format!("rlock m{s}"),
            Op::RUnlock(s) => format!("runlock m{s}"),
            // Lock and annotation ids are disjoint, so the prefix alone keeps
            // names distinct.
            Op::Release(s) => format!("release a{s}"),
            Op::Acquire(s) => format!("acquire a{s}"),
            Op::With(l) => format!("with x{l}"),
            Op::WithMut(l) => format!("with_mut x{l}"),
            Op::Done => "done".to_string(),
        };
        let line = format!("{} {op}", thread_name(e.thread));
        out.push_str(&format!("{line:<28}# {i}\n"));
    }
    out
}

/// splitmix64: tiny, seedable, and good enough to drive a generator.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (the modulo bias is irrelevant here).
    pub fn below(&mut self, n: usize) -> usize {
        assert!(n > 0);
        (self.next_u64() % n as u64) as usize
    }

    /// True with probability `percent`/100.
    pub fn percent(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    /// Index chosen with the given weights (zero weights are never chosen).
    pub fn weighted(&mut self, weights: &[usize]) -> usize {
        let total: usize = weights.iter().sum();
        let mut x = self.below(total);
        for (i, &w) in weights.iter().enumerate() {
            if x < w {
                return i;
            }
            x -= w;
        }
        unreachable!()
    }
}

const LOAD_ORDERS: [Ordering; 3] = [Ordering::Relaxed, Ordering::Acquire, Ordering::SeqCst];
const STORE_ORDERS: [Ordering; 3] = [Ordering::Relaxed, Ordering::Release, Ordering::SeqCst];
const RMW_ORDERS: [Ordering; 5] = [
    Ordering::Relaxed,
    Ordering::Acquire,
    Ordering::Release,
    Ordering::AcqRel,
    Ordering::SeqCst,
];
const FENCE_ORDERS: [Ordering; 4] = [
    Ordering::Acquire,
    Ordering::Release,
    Ordering::AcqRel,
    Ordering::SeqCst,
];

#[derive(Copy, Clone, PartialEq, Eq, Debug)]
enum Status {
    Running,
    /// Ended by an `end` event; not joined yet.
    Ended,
    Joined,
}

#[derive(Clone, Default)]
struct Held {
    writer: Option<usize>,
    readers: Vec<usize>,
}

/// Builds one well-formed random trace. Thread 0 is the root; lock objects
/// are sync ids `0..locks`, annotation objects the ids after them.
struct Generator<'r> {
    rng: &'r mut Rng,
    events: Vec<Event>,
    status: Vec<Status>,
    held: Vec<Held>,
    locations: usize,
    annotations: usize,
    max_threads: usize,
    max_live: usize,
    /// `Some` for a race-free trace (see [`generate_disciplined`]): locations
    /// below this are lock-protected, the others atomic-only, and message
    /// passing uses a fresh data location per message.
    protected: Option<usize>,
    next_fresh: usize,
    /// Whether the trace has spans (`with`/`with_mut` ... `done`).
    spans: bool,
    /// Open spans per thread.
    open: Vec<usize>,
}

impl Generator<'_> {
    fn push(&mut self, thread: usize, op: Op) {
        self.events.push(Event { thread, op });
    }

    /// Opens a span of `t` on `l`, reading or writing.
    fn open_span(&mut self, t: usize, l: usize) {
        let op = if self.rng.percent(50) {
            Op::With(l)
        } else {
            Op::WithMut(l)
        };
        self.open[t] += 1;
        self.push(t, op);
    }

    fn close_span(&mut self, t: usize) {
        self.open[t] -= 1;
        self.push(t, Op::Done);
    }

    fn running(&self) -> Vec<usize> {
        (0..self.status.len())
            .filter(|&t| self.status[t] == Status::Running)
            .collect()
    }

    fn holds_any(&self, t: usize) -> bool {
        self.held
            .iter()
            .any(|h| h.writer == Some(t) || h.readers.contains(&t))
    }

    fn release_all(&mut self, t: usize) {
        for s in 0..self.held.len() {
            if self.held[s].writer == Some(t) {
                self.held[s].writer = None;
                self.push(t, Op::Unlock(s));
            }
            while let Some(i) = self.held[s].readers.iter().position(|&r| r == t) {
                self.held[s].readers.swap_remove(i);
                self.push(t, Op::RUnlock(s));
            }
        }
    }

    fn location(&mut self) -> usize {
        self.rng.below(self.locations)
    }

    fn random_access(&mut self, t: usize) {
        if let Some(protected) = self.protected {
            return self.disciplined_access(t, protected);
        }
        let l = self.location();
        let op = match self.rng.weighted(&[25, 20, 20, 15, 15]) {
            0 => Op::Read(l),
            1 => Op::Write(l),
            2 => Op::Load(l, self.rng.pick(&LOAD_ORDERS)),
            3 => Op::Store(l, self.rng.pick(&STORE_ORDERS)),
            _ => Op::Rmw(l, self.rng.pick(&RMW_ORDERS)),
        };
        self.push(t, op);
    }

    fn atomic_access(&mut self, t: usize, l: usize) {
        let op = match self.rng.weighted(&[40, 30, 30]) {
            0 => Op::Load(l, self.rng.pick(&LOAD_ORDERS)),
            1 => Op::Store(l, self.rng.pick(&STORE_ORDERS)),
            _ => Op::Rmw(l, self.rng.pick(&RMW_ORDERS)),
        };
        self.push(t, op);
    }

    /// An access that cannot race: atomic-only locations take any atomic
    /// access; a protected location `l` is touched only under lock
    /// `l % locks` (reads under a read lock, anything under the write lock).
    fn disciplined_access(&mut self, t: usize, protected: usize) {
        let l = self.location();
        if l >= protected {
            return self.atomic_access(t, l);
        }
        let s = l % self.held.len();
        let read = |g: &mut Self| {
            let op = if g.rng.percent(50) {
                Op::Read(l)
            } else {
                Op::Load(l, g.rng.pick(&LOAD_ORDERS))
            };
            g.push(t, op);
        };
        // A span over a protected location ends inside the critical
        // section, so the unlock after it orders it.
        let write = |g: &mut Self| {
            if g.spans && g.rng.percent(40) {
                g.open_span(t, l);
                if g.rng.percent(50) {
                    g.random_access_to(t, l);
                }
                g.close_span(t);
            } else {
                g.random_access_to(t, l);
            }
        };
        if self.held[s].writer == Some(t) {
            write(self);
        } else if self.held[s].readers.contains(&t) {
            read(self);
        } else if self.held[s].writer.is_none() && self.held[s].readers.is_empty() {
            self.push(t, Op::Lock(s));
            write(self);
            self.push(t, Op::Unlock(s));
        } else if self.held[s].writer.is_none() {
            self.push(t, Op::RLock(s));
            read(self);
            self.push(t, Op::RUnlock(s));
        } else {
            let atomic_only = protected + self.rng.below(self.locations - protected);
            self.atomic_access(t, atomic_only);
        }
    }

    /// Message passing that always synchronizes, through a data location
    /// nobody else ever touches.
    fn disciplined_message_passing(&mut self, sender: usize, receiver: usize, protected: usize) {
        let data = self.next_fresh;
        self.next_fresh += 1;
        let flag = protected + self.rng.below(self.locations - protected);
        self.push(sender, Op::Write(data));
        const RELEASING: [Ordering; 2] = [Ordering::Release, Ordering::SeqCst];
        const RELEASING_RMW: [Ordering; 3] =
            [Ordering::Release, Ordering::AcqRel, Ordering::SeqCst];
        const ACQUIRING: [Ordering; 2] = [Ordering::Acquire, Ordering::SeqCst];
        const ACQUIRING_RMW: [Ordering; 3] =
            [Ordering::Acquire, Ordering::AcqRel, Ordering::SeqCst];
        const RELEASE_FENCES: [Ordering; 3] =
            [Ordering::Release, Ordering::AcqRel, Ordering::SeqCst];
        const ACQUIRE_FENCES: [Ordering; 3] =
            [Ordering::Acquire, Ordering::AcqRel, Ordering::SeqCst];
        let lock = self.rng.below(self.held.len());
        let lock_free = self.held[lock].writer.is_none() && self.held[lock].readers.is_empty();
        match self.rng.weighted(&[50, 15, 15]) {
            1 if self.annotations > 0 => {
                let s = self.held.len() + self.rng.below(self.annotations);
                self.push(sender, Op::Release(s));
                self.push(receiver, Op::Acquire(s));
            }
            2 if lock_free => {
                let last = self.events.pop().unwrap();
                self.push(sender, Op::Lock(lock));
                self.events.push(last);
                self.push(sender, Op::Unlock(lock));
                let shared = self.rng.percent(40);
                self.push(
                    receiver,
                    if shared {
                        Op::RLock(lock)
                    } else {
                        Op::Lock(lock)
                    },
                );
                self.push(receiver, Op::Read(data));
                self.push(
                    receiver,
                    if shared {
                        Op::RUnlock(lock)
                    } else {
                        Op::Unlock(lock)
                    },
                );
                return;
            }
            _ => {
                // Publish: a releasing write, or a release fence then any write.
                let op = if self.rng.percent(30) {
                    let fence = Op::Fence(self.rng.pick(&RELEASE_FENCES));
                    self.push(sender, fence);
                    if self.rng.percent(60) {
                        Op::Store(flag, self.rng.pick(&STORE_ORDERS))
                    } else {
                        Op::Rmw(flag, self.rng.pick(&RMW_ORDERS))
                    }
                } else if self.rng.percent(60) {
                    Op::Store(flag, self.rng.pick(&RELEASING))
                } else {
                    Op::Rmw(flag, self.rng.pick(&RELEASING_RMW))
                };
                self.push(sender, op);
                // An RMW by anyone continues the release sequence.
                if self.rng.percent(25) {
                    let running = self.running();
                    let middle = self.rng.pick(&running);
                    let op = Op::Rmw(flag, self.rng.pick(&RMW_ORDERS));
                    self.push(middle, op);
                }
                // Consume: an acquiring read, or any read then an acquire fence.
                if self.rng.percent(30) {
                    let op = if self.rng.percent(60) {
                        Op::Load(flag, self.rng.pick(&LOAD_ORDERS))
                    } else {
                        Op::Rmw(flag, self.rng.pick(&RMW_ORDERS))
                    };
                    self.push(receiver, op);
                    let fence = Op::Fence(self.rng.pick(&ACQUIRE_FENCES));
                    self.push(receiver, fence);
                } else {
                    let op = if self.rng.percent(60) {
                        Op::Load(flag, self.rng.pick(&ACQUIRING))
                    } else {
                        Op::Rmw(flag, self.rng.pick(&ACQUIRING_RMW))
                    };
                    self.push(receiver, op);
                }
            }
        }
        let op = if self.rng.percent(60) {
            Op::Read(data)
        } else {
            Op::Write(data)
        };
        self.push(receiver, op);
    }

    fn fork(&mut self, parent: usize) {
        let child = self.status.len();
        self.status.push(Status::Running);
        self.open.push(0);
        self.push(parent, Op::Fork(child));
    }

    fn join(&mut self, joiner: usize) -> bool {
        // A second join of a joined thread is legal; allow it rarely.
        let rejoin = self.rng.percent(5);
        let candidates: Vec<usize> = (1..self.status.len())
            .filter(|&c| c != joiner && !self.holds_any(c) && self.open[c] == 0)
            .filter(|&c| self.status[c] != Status::Joined || rejoin)
            .collect();
        if candidates.is_empty() {
            return false;
        }
        let c = self.rng.pick(&candidates);
        self.status[c] = Status::Joined;
        self.push(joiner, Op::Join(c));
        true
    }

    fn lock_op(&mut self, t: usize) -> bool {
        if self.held.is_empty() {
            return false;
        }
        let s = self.rng.below(self.held.len());
        let h = &self.held[s];
        if h.writer == Some(t) {
            self.held[s].writer = None;
            self.push(t, Op::Unlock(s));
        } else if let Some(i) = h.readers.iter().position(|&r| r == t) {
            self.held[s].readers.swap_remove(i);
            self.push(t, Op::RUnlock(s));
        } else if h.writer.is_none() && h.readers.is_empty() && self.rng.percent(65) {
            self.held[s].writer = Some(t);
            self.push(t, Op::Lock(s));
        } else if h.writer.is_none() {
            self.held[s].readers.push(t);
            self.push(t, Op::RLock(s));
        } else {
            return false;
        }
        true
    }

    /// A sender publishes a data write and a receiver consumes it, through
    /// one of several channels, some synchronizing and some not, so both
    /// verdicts are common.
    fn message_passing(&mut self, sender: usize, receiver: usize) {
        if let Some(protected) = self.protected {
            return self.disciplined_message_passing(sender, receiver, protected);
        }
        let start = self.events.len();
        let span = self.spans && self.rng.percent(35);
        self.any_message_passing(sender, receiver, span);
        if span {
            // The sender's access to the data was a span. It ends anywhere
            // after it: before the publication (which then orders it),
            // inside it, or after the receiver's access (then it does not).
            let open = (start..self.events.len())
                .find(|&i| {
                    self.events[i].thread == sender
                        && matches!(self.events[i].op, Op::With(_) | Op::WithMut(_))
                })
                .expect("the sender opened its span");
            let at = open + 1 + self.rng.below(self.events.len() - open);
            self.events.insert(
                at,
                Event {
                    thread: sender,
                    op: Op::Done,
                },
            );
            self.open[sender] -= 1;
        }
    }

    /// [`Generator::message_passing`] without a discipline; the sender's
    /// access to the data is a span it leaves open if `span`.
    fn any_message_passing(&mut self, sender: usize, receiver: usize, span: bool) {
        let data = self.location();
        let flag = if self.locations > 1 {
            (data + 1 + self.rng.below(self.locations - 1)) % self.locations
        } else {
            data
        };
        let lock = (!self.held.is_empty()).then(|| self.rng.below(self.held.len()));
        let lock_free =
            |g: &Self, s: usize| g.held[s].writer.is_none() && g.held[s].readers.is_empty();
        if span {
            self.open_span(sender, data);
        } else if self.rng.percent(50) {
            self.push(sender, Op::Write(data));
        } else {
            self.random_access_to(sender, data);
        }
        match self.rng.weighted(&[30, 15, 15, 10, 10]) {
            // Atomic flag, any ordering, sometimes continued by another RMW
            // (a release sequence) or broken by a relaxed store.
            0 => {
                self.publish(sender, flag);
                let others = self.running();
                if self.rng.percent(25) {
                    let middle = self.rng.pick(&others);
                    let op = if self.rng.percent(70) {
                        Op::Rmw(flag, self.rng.pick(&RMW_ORDERS))
                    } else {
                        Op::Store(flag, self.rng.pick(&STORE_ORDERS))
                    };
                    self.push(middle, op);
                }
                self.consume(receiver, flag);
            }
            // Fence-based publication.
            1 => {
                let fence = Op::Fence(self.rng.pick(&FENCE_ORDERS));
                self.push(sender, fence);
                self.publish(sender, flag);
                self.consume(receiver, flag);
            }
            // Annotation.
            2 if self.annotations > 0 => {
                let s = self.held.len() + self.rng.below(self.annotations);
                self.push(sender, Op::Release(s));
                if self.rng.percent(80) {
                    self.push(receiver, Op::Acquire(s));
                }
            }
            // A critical section on each side.
            3 if lock.is_some_and(|s| lock_free(self, s)) => {
                let s = lock.unwrap();
                let last = self.events.pop().unwrap();
                self.push(sender, Op::Lock(s));
                self.events.push(last);
                self.push(sender, Op::Unlock(s));
                let shared = self.rng.percent(40);
                self.push(receiver, if shared { Op::RLock(s) } else { Op::Lock(s) });
                self.random_access_to(receiver, data);
                self.push(
                    receiver,
                    if shared {
                        Op::RUnlock(s)
                    } else {
                        Op::Unlock(s)
                    },
                );
                return;
            }
            // No synchronization at all.
            _ => {}
        }
        if self.rng.percent(70) {
            self.push(receiver, Op::Read(data));
        } else {
            self.random_access_to(receiver, data);
        }
    }

    fn random_access_to(&mut self, t: usize, l: usize) {
        let op = match self.rng.weighted(&[30, 30, 15, 10, 15]) {
            0 => Op::Read(l),
            1 => Op::Write(l),
            2 => Op::Load(l, self.rng.pick(&LOAD_ORDERS)),
            3 => Op::Store(l, self.rng.pick(&STORE_ORDERS)),
            _ => Op::Rmw(l, self.rng.pick(&RMW_ORDERS)),
        };
        self.push(t, op);
    }

    fn publish(&mut self, t: usize, flag: usize) {
        let op = if self.rng.percent(75) {
            Op::Store(flag, self.rng.pick(&STORE_ORDERS))
        } else {
            Op::Rmw(flag, self.rng.pick(&RMW_ORDERS))
        };
        self.push(t, op);
    }

    fn consume(&mut self, t: usize, flag: usize) {
        let op = if self.rng.percent(75) {
            Op::Load(flag, self.rng.pick(&LOAD_ORDERS))
        } else {
            Op::Rmw(flag, self.rng.pick(&RMW_ORDERS))
        };
        self.push(t, op);
        if self.rng.percent(30) {
            let fence = Op::Fence(self.rng.pick(&FENCE_ORDERS));
            self.push(t, fence);
        }
    }

    fn step(&mut self) {
        let running = self.running();
        let t = self.rng.pick(&running);
        // Keep critical sections short, and spans.
        if self.holds_any(t) && self.rng.percent(40) && self.lock_op(t) {
            return;
        }
        if self.open[t] > 0 && self.rng.percent(30) {
            return self.close_span(t);
        }
        let live = running.len();
        let created = self.status.len();
        let can_fork = live < self.max_live && created < self.max_threads;
        let root = t == 0;
        let weights = [
            // fork: mostly by the root, eagerly while it is alone.
            match (can_fork, root, live) {
                (false, _, _) => 0,
                (true, true, 1) => 200,
                (true, true, _) => 12,
                (true, false, _) => 2,
            },
            // join
            if root { 8 } else { 1 },
            // end
            if !root && !self.holds_any(t) && self.open[t] == 0 {
                2
            } else {
                0
            },
            // plain or atomic access
            40,
            // message passing
            if live > 1 { 14 } else { 0 },
            // lock
            12,
            // annotation
            if self.annotations > 0 { 5 } else { 0 },
            // fence
            6,
            // span (anything may race with it: not in disciplined traces)
            if self.spans && self.protected.is_none() {
                8
            } else {
                0
            },
        ];
        match self.rng.weighted(&weights) {
            0 => self.fork(t),
            1 => {
                if !self.join(t) {
                    self.random_access(t);
                }
            }
            2 => {
                self.status[t] = Status::Ended;
                self.push(t, Op::End);
            }
            3 => self.random_access(t),
            4 => {
                let others: Vec<usize> = running.iter().copied().filter(|&u| u != t).collect();
                let receiver = self.rng.pick(&others);
                self.message_passing(t, receiver);
            }
            5 => {
                if !self.lock_op(t) {
                    self.random_access(t);
                }
            }
            6 => {
                let s = self.held.len() + self.rng.below(self.annotations);
                let op = if self.rng.percent(50) {
                    Op::Release(s)
                } else {
                    Op::Acquire(s)
                };
                self.push(t, op);
            }
            7 => {
                let fence = Op::Fence(self.rng.pick(&FENCE_ORDERS));
                self.push(t, fence);
            }
            _ => {
                if self.open[t] < 3 {
                    let l = self.location();
                    self.open_span(t, l);
                } else {
                    self.close_span(t);
                }
            }
        }
    }
}

/// A well-formed random trace of about 10-60 events: the root forks 1-4
/// threads (and more after joins, so slots get reused), 1-3 lock objects
/// used correctly, 0-3 annotation objects, 2-4 locations touched by plain
/// and atomic accesses of every ordering, and standalone fences. Races are
/// common: a plain access anywhere may meet an unordered one.
pub fn generate(rng: &mut Rng) -> Vec<Event> {
    generate_with(rng, false, false)
}

/// Like [`generate`], but race-free by construction: plain accesses only
/// under each location's lock or to a fresh location handed over by a
/// synchronizing message; atomic-only locations take anything.
pub fn generate_disciplined(rng: &mut Rng) -> Vec<Event> {
    generate_with(rng, true, false)
}

/// Like [`generate`] (or [`generate_disciplined`]), with spans: accesses
/// that last until a later `done`, nested several deep (three by a
/// thread's own steps, more where a message or a critical section opens
/// one inside), left open
/// across other threads' events and across the thread's own releases
/// (publishing inside a span races; in disciplined traces a span ends
/// inside its critical section). Only traces within the engine's
/// documented span limits (see [`within_span_limits`]).
pub fn generate_spans(rng: &mut Rng, disciplined: bool) -> Vec<Event> {
    // About one trace in fourteen is turned away: a thousand in a row means
    // the generator or the limit has drifted.
    for _ in 0..1_000 {
        let events = generate_spans_unchecked(rng, disciplined);
        if within_span_limits(&events) {
            return events;
        }
    }
    panic!("1 000 generated traces in a row beyond the span limits");
}

/// [`generate_spans`] before the limits are checked.
pub fn generate_spans_unchecked(rng: &mut Rng, disciplined: bool) -> Vec<Event> {
    generate_with(rng, disciplined, true)
}

/// Whether `op` may publish its thread's clock (a release) or is a span,
/// which counts as one against an enclosing span's reserve: forks,
/// unlocks, release annotations, atomic stores and RMWs of any ordering
/// (a relaxed one publishes the last release fence), release fences.
pub fn publishes(op: Op) -> bool {
    match op {
        Op::Fence(order) => releases(order),
        Op::Fork(_)
        | Op::Unlock(_)
        | Op::RUnlock(_)
        | Op::Release(_)
        | Op::Store(..)
        | Op::Rmw(..)
        | Op::With(_)
        | Op::WithMut(_) => true,
        Op::Read(_)
        | Op::Write(_)
        | Op::Load(..)
        | Op::Lock(_)
        | Op::RLock(_)
        | Op::Acquire(_)
        | Op::Join(_)
        | Op::End
        | Op::Done => false,
    }
}

/// Whether every nested span (one opened inside another of its thread)
/// holds at most one release or span: the engine reserves one clock value
/// for a nested span, so a second release (or span) inside it orders it
/// early — a documented miss (the README's "Accesses that last for a
/// closure"), which the reference, built from the definition, does not
/// make. Releases here: see [`publishes`]. Outermost spans reserve 1024,
/// more than a trace holds.
pub fn within_span_limits(events: &[Event]) -> bool {
    let mut open: Vec<Vec<usize>> = Vec::new();
    for e in events {
        if open.len() <= e.thread {
            open.resize(e.thread + 1, Vec::new());
        }
        let spans = &mut open[e.thread];
        if e.op == Op::Done {
            spans.pop();
            continue;
        }
        let publishes = publishes(e.op);
        if !publishes {
            continue;
        }
        for inside in spans.iter_mut().skip(1) {
            *inside += 1;
            if *inside > 1 {
                return false;
            }
        }
        if let Op::With(_) | Op::WithMut(_) = e.op {
            spans.push(0);
        }
    }
    true
}

fn generate_with(rng: &mut Rng, disciplined: bool, spans: bool) -> Vec<Event> {
    let target = 10 + rng.below(48);
    let locks = 1 + rng.below(3);
    let locations = 2 + rng.below(3);
    let protected = disciplined.then(|| 1 + rng.below(locations - 1));
    let mut g = Generator {
        locations,
        annotations: rng.below(4),
        held: vec![Held::default(); locks],
        status: vec![Status::Running],
        events: Vec::new(),
        max_threads: 3 + rng.below(5),
        max_live: 2 + rng.below(4),
        protected,
        next_fresh: locations,
        spans,
        open: vec![0],
        rng,
    };
    // Sometimes the root touches memory before anyone is forked.
    if g.rng.percent(30) {
        g.random_access(0);
    }
    while g.events.len() < target {
        g.step();
    }
    // Well-formed ending: every span ended, every lock released, and often
    // everyone joined.
    for t in g.running() {
        while g.open[t] > 0 {
            g.close_span(t);
        }
        g.release_all(t);
    }
    if g.rng.percent(50) && g.status[0] == Status::Running {
        for c in 1..g.status.len() {
            if g.status[c] != Status::Joined {
                g.status[c] = Status::Joined;
                g.push(0, Op::Join(c));
            }
        }
    }
    assert!(g.events.len() <= MAX_EVENTS);
    g.events
}

/// Number of distinct threads a trace names.
pub fn thread_count(events: &[Event]) -> usize {
    let mut threads: Vec<usize> = events
        .iter()
        .flat_map(|e| match e.op {
            Op::Fork(c) | Op::Join(c) => vec![e.thread, c],
            _ => vec![e.thread],
        })
        .collect();
    threads.sort_unstable();
    threads.dedup();
    threads.len()
}

/// A failing check, shrunk and formatted for a panic message.
pub fn report(events: &[Event], detector: &dyn Fn() -> Detector, what: &str) -> String {
    let small = shrink(events.to_vec(), detector);
    let d = check(&small, detector)
        .expect("shrunk trace stays valid")
        .expect("shrunk trace still disagrees");
    format!(
        "{what}: engine and reference disagree at event {}\n  reference: {}\n  engine:    {}\nshrunk trace ({} of {} events):\n{}",
        d.index,
        d.reference,
        d.engine,
        small.len(),
        events.len(),
        to_text(&small)
    )
}
