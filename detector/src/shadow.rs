//! Shadow cells: the access history of one location, FastTrack-style.
//!
//! A cell keeps, per kind of access, the set of accesses that a future access
//! could still race with (the "frontier"): an access is dropped as soon as a
//! newer access happens after it *and* conflicts with everything it
//! conflicts with. In race-free code every set holds at most one epoch
//! except the plain reads (and the atomic sets, whose accesses never race
//! with each other), which inflate to one entry per concurrent accessor
//! and deflate on the next ordered write — exactly FastTrack's
//! write-epoch / read-epoch / read-vector states (Flanagan & Freund,
//! PLDI 2009). Unlike plain FastTrack, a set also keeps accesses that raced
//! with a newer one (at most one per slot), so the verdict for *every*
//! access equals that of a full-history check, not just up to the first
//! race; and atomic accesses are kept apart so atomic-vs-atomic never races
//! while atomic-vs-plain does.

use crate::epoch::Epoch;
use crate::race::{Access, AccessKind, Race};
use crate::thread::ThreadState;
use smallvec::SmallVec;

/// One remembered access of a known kind.
#[derive(Copy, Clone, Debug)]
struct Entry<S> {
    epoch: Epoch,
    site: S,
}

impl<S> Entry<S> {
    /// Whether this access of `old`'s slot came after it (of two reads of
    /// one slot, the newer stands for both).
    #[inline]
    fn newer_than(&self, old: &Entry<S>) -> bool {
        old.epoch.clock() < self.epoch.clock()
    }
}

/// Accesses of one kind that later accesses may still race with.
///
/// Invariant: at most one entry per slot (a thread's newer access always
/// happens after its older one, so it replaces it; so does a later thread
/// reusing the slot, which has seen the old one's end), and `Many` holds at
/// least two entries. `Many` is indexed by slot, like FastTrack's read
/// vector clock, so recording a read in read-shared state is O(1); entries
/// of other slots are only dropped by `prune` (a write), never by a read —
/// keeping an access that a newer one subsumes changes no verdict.
#[derive(Clone, Debug)]
enum AccessSet<S> {
    Empty,
    One(Entry<S>),
    Many(Box<Dense<S>>),
}

/// Entries by slot index.
#[derive(Clone, Debug)]
struct Dense<S> {
    slots: SmallVec<[Option<Entry<S>>; 4]>,
    count: usize,
}

impl<S: Copy> Dense<S> {
    #[inline]
    fn put(&mut self, entry: Entry<S>) {
        let i = entry.epoch.tid().index();
        if i >= self.slots.len() {
            self.slots.resize(i + 1, None);
        }
        if self.slots[i].is_none() {
            self.count += 1;
        }
        self.slots[i] = Some(entry);
    }

    /// Whether `epoch`'s slot holds no entry stamped `epoch` or later (an
    /// access stamped `epoch` would change it).
    #[inline(always)]
    fn older_than(&self, epoch: Epoch) -> bool {
        match self.slots.get(epoch.tid().index()) {
            Some(Some(old)) => old.epoch.clock() < epoch.clock(),
            _ => true,
        }
    }

    /// [`Dense::put`] unless the slot already holds a newer entry.
    #[inline]
    fn put_newer(&mut self, entry: Entry<S>) {
        if self.older_than(entry.epoch) {
            self.put(entry);
        }
    }

    fn iter(&self) -> impl Iterator<Item = &Entry<S>> {
        self.slots.iter().flatten()
    }
}

impl<S: Copy> AccessSet<S> {
    /// Whether `thread` has seen every entry, answered only for the
    /// single-entry states (a `Many` set says no, for the general path).
    #[inline(always)]
    fn all_seen(&self, thread: &ThreadState) -> bool {
        match self {
            AccessSet::Empty => true,
            AccessSet::One(e) => thread.saw(e.epoch),
            AccessSet::Many(_) => false,
        }
    }

    /// The first remembered access that `thread` has not seen, if any.
    /// The thread's own accesses come before it in program order, even a
    /// span stamped past its clock (see `span.rs`) that it is inside.
    #[inline]
    fn unordered(&self, thread: &ThreadState) -> Option<Entry<S>> {
        let unseen = |e: &Entry<S>| !thread.saw(e.epoch) && e.epoch.tid() != thread.tid;
        match self {
            AccessSet::Empty => None,
            AccessSet::One(e) => unseen(e).then_some(*e),
            AccessSet::Many(d) => d.iter().find(|e| unseen(e)).copied(),
        }
    }

    /// Forgets the accesses that `thread` has seen.
    #[inline]
    fn prune(&mut self, thread: &ThreadState) {
        match self {
            AccessSet::Empty => {}
            AccessSet::One(e) => {
                if thread.saw(e.epoch) {
                    *self = AccessSet::Empty;
                }
            }
            AccessSet::Many(d) => {
                for slot in d.slots.iter_mut() {
                    if slot.is_some_and(|e| thread.saw(e.epoch)) {
                        *slot = None;
                        d.count -= 1;
                    }
                }
                self.normalize();
            }
        }
    }

    /// Records an access of `thread`. In the single-entry states an entry
    /// the thread has seen is replaced (FastTrack's exclusive states); a
    /// concurrent one inflates the set.
    #[inline]
    fn insert(&mut self, thread: &ThreadState, entry: Entry<S>) {
        match self {
            AccessSet::Empty => *self = AccessSet::One(entry),
            AccessSet::One(e) => {
                if e.epoch.tid() == entry.epoch.tid() {
                    // Of two accesses of one slot the later-stamped stands
                    // for both: an enclosing span outlasts what it encloses.
                    if !e.newer_than(&entry) {
                        *e = entry;
                    }
                } else if thread.saw(e.epoch) {
                    *e = entry;
                } else {
                    // Inflate: a concurrent access of another slot.
                    *self = AccessSet::pair(*e, entry);
                }
            }
            AccessSet::Many(d) => d.put_newer(entry),
        }
    }

    /// The set of two entries of different slots.
    fn pair(a: Entry<S>, b: Entry<S>) -> AccessSet<S> {
        debug_assert_ne!(a.epoch.tid(), b.epoch.tid(), "one entry per slot");
        let mut d = Box::new(Dense {
            slots: SmallVec::new(),
            count: 0,
        });
        d.put(a);
        d.put(b);
        AccessSet::Many(d)
    }

    fn normalize(&mut self) {
        if let AccessSet::Many(d) = self {
            match d.count {
                0 => *self = AccessSet::Empty,
                1 => {
                    let only = *d.iter().next().expect("count is 1");
                    *self = AccessSet::One(only);
                }
                _ => {}
            }
        }
    }

    fn is_empty(&self) -> bool {
        matches!(self, AccessSet::Empty)
    }

    fn len(&self) -> usize {
        match self {
            AccessSet::Empty => 0,
            AccessSet::One(_) => 1,
            AccessSet::Many(d) => d.count,
        }
    }
}

/// Atomic accesses, kept only for locations that have had one.
#[derive(Clone, Debug)]
struct AtomicAccesses<S> {
    writes: AccessSet<S>,
    reads: AccessSet<S>,
}

/// The shadow of one location.
///
/// Which remembered accesses an access is checked against, and which it
/// makes redundant (only those it happens after):
///
/// | access       | checked against                  | forgets                    |
/// |--------------|----------------------------------|----------------------------|
/// | read         | writes, atomic writes            | reads, atomic reads        |
/// | write        | everything                       | everything                 |
/// | atomic read  | writes                           | atomic reads               |
/// | atomic write | writes, reads                    | atomic writes, atomic reads|
///
/// An access may forget an older one only if every later access that would
/// race with the older one would also race with it: a plain read cannot
/// stand in for an atomic write, for instance.
// `repr(C)`, reads first: a read writes only the read set and reads the
// rest, so with the read set and `atomics` in the cache line that a map's
// lock word starts (see `MapLock`), a read-mostly map handed between cores
// moves one dirty line per read.
#[derive(Clone, Debug)]
#[repr(C)]
pub struct Shadow<S> {
    reads: AccessSet<S>,
    atomics: Option<Box<AtomicAccesses<S>>>,
    writes: AccessSet<S>,
}

impl<S: Copy> Default for Shadow<S> {
    fn default() -> Self {
        Shadow::new()
    }
}

impl<S: Copy> Shadow<S> {
    /// A location nobody has accessed.
    pub const fn new() -> Shadow<S> {
        Shadow {
            writes: AccessSet::Empty,
            reads: AccessSet::Empty,
            atomics: None,
        }
    }

    /// Checks and records a plain read. Hot path: O(1) without touching
    /// the general path when the location is exclusive to this thread or
    /// every write was seen.
    #[inline]
    pub fn read(&mut self, thread: &ThreadState, site: S) -> Option<Race<S>> {
        self.read_with(thread, || site)
    }

    /// [`Shadow::read`] with the site built only where it is stored. A site
    /// built up front is spilled to the stack field by field and copied into
    /// the cell with wider loads, which stall: they cannot be forwarded from
    /// the narrower stores.
    #[inline(always)]
    pub fn read_with(&mut self, thread: &ThreadState, site: impl FnOnce() -> S) -> Option<Race<S>> {
        self.read_at(thread, thread.epoch(), site)
    }

    /// [`Shadow::read_with`] for a read stamped `e`: the thread's epoch,
    /// or a span's (see [`ThreadState::open_span`]), which is past it.
    #[inline(always)]
    pub fn read_at(
        &mut self,
        thread: &ThreadState,
        e: Epoch,
        site: impl FnOnce() -> S,
    ) -> Option<Race<S>> {
        if self.atomics.is_none() {
            match (&self.writes, &mut self.reads) {
                // Own write this epoch: it conflicts with everything this
                // read would, at the same point, so it stands for the read.
                (AccessSet::One(w), _) if w.epoch == e => return None,
                // Same-epoch read already recorded.
                (AccessSet::Empty, AccessSet::One(r)) if r.epoch == e => return None,
                (AccessSet::One(w), AccessSet::One(r)) if r.epoch == e && thread.saw(w.epoch) => {
                    return None
                }
                // Exclusive read (FastTrack's read-exclusive): every write and
                // the previous read were seen, so this read replaces it.
                (AccessSet::Empty, AccessSet::One(r)) if thread.saw(r.epoch) => {
                    *r = Entry {
                        epoch: e,
                        site: site(),
                    };
                    return None;
                }
                (AccessSet::One(w), AccessSet::One(r))
                    if thread.saw(w.epoch) && thread.saw(r.epoch) =>
                {
                    *r = Entry {
                        epoch: e,
                        site: site(),
                    };
                    return None;
                }
                (AccessSet::One(w), reads @ AccessSet::Empty) if thread.saw(w.epoch) => {
                    *reads = AccessSet::One(Entry {
                        epoch: e,
                        site: site(),
                    });
                    return None;
                }
                // Read-shared (FastTrack's read vector clock): every write
                // seen, so only this slot's entry changes — unless it holds
                // this epoch already (a same-epoch read) or a later one (a
                // span this read is nested in, which outlasts it).
                (AccessSet::Empty, AccessSet::Many(d)) => {
                    if d.older_than(e) {
                        d.put(Entry {
                            epoch: e,
                            site: site(),
                        });
                    }
                    return None;
                }
                (AccessSet::One(w), AccessSet::Many(d)) if thread.saw(w.epoch) => {
                    if d.older_than(e) {
                        d.put(Entry {
                            epoch: e,
                            site: site(),
                        });
                    }
                    return None;
                }
                _ => {}
            }
        }
        self.access_at(thread, AccessKind::Read, e, site())
    }

    /// Whether a plain read by `thread` made now would race with nothing
    /// remembered (every write seen, no atomic access), so that all it
    /// leaves behind is its own record, which can be kept elsewhere and
    /// handed to [`Shadow::add_checked_read`] later. Does not change the
    /// cell, so concurrent readers may ask at once.
    #[inline(always)]
    pub fn read_needs_only_record(&self, thread: &ThreadState) -> bool {
        self.atomics.is_none() && self.writes.all_seen(thread)
    }

    /// Remembers a plain read that [`Shadow::read_needs_only_record`]
    /// cleared when it was made, without its thread's clock at hand: it
    /// replaces an older read of its own slot and otherwise joins the
    /// reads. Remembering a read that a newer one subsumes changes no
    /// verdict, so the result checks later accesses exactly as if the read
    /// had been recorded when it was made — provided it is added before
    /// any other access is checked against this cell (a write checked in
    /// between would miss it).
    pub fn add_checked_read(&mut self, epoch: Epoch, site: S) {
        let entry = Entry { epoch, site };
        match &mut self.reads {
            AccessSet::Empty => self.reads = AccessSet::One(entry),
            AccessSet::One(r) if r.epoch.tid() == epoch.tid() => {
                if entry.newer_than(r) {
                    *r = entry;
                }
            }
            AccessSet::One(r) => self.reads = AccessSet::pair(*r, entry),
            AccessSet::Many(d) => d.put_newer(entry),
        }
    }

    /// Checks and records a plain write. Hot path: O(1) when the location
    /// remembers at most one read and one write, both seen (FastTrack's
    /// write-exclusive case); a read-shared location takes the general
    /// path, which checks every reader.
    #[inline]
    pub fn write(&mut self, thread: &ThreadState, site: S) -> Option<Race<S>> {
        self.write_with(thread, || site)
    }

    /// [`Shadow::write`] with the site built only where it is stored (see
    /// [`Shadow::read_with`]).
    #[inline(always)]
    pub fn write_with(
        &mut self,
        thread: &ThreadState,
        site: impl FnOnce() -> S,
    ) -> Option<Race<S>> {
        self.write_at(thread, thread.epoch(), site)
    }

    /// [`Shadow::write_with`] for a write stamped `e` (see
    /// [`Shadow::read_at`]).
    #[inline(always)]
    pub fn write_at(
        &mut self,
        thread: &ThreadState,
        e: Epoch,
        site: impl FnOnce() -> S,
    ) -> Option<Race<S>> {
        if self.atomics.is_none() && self.writes.all_seen(thread) && self.reads.all_seen(thread) {
            self.reads = AccessSet::Empty;
            match &mut self.writes {
                // Same epoch: the remembered write already stands for it.
                AccessSet::One(w) if w.epoch == e => {}
                writes => {
                    *writes = AccessSet::One(Entry {
                        epoch: e,
                        site: site(),
                    })
                }
            }
            return None;
        }
        self.access_at(thread, AccessKind::Write, e, site())
    }

    /// Checks and records an atomic load.
    pub fn atomic_read(&mut self, thread: &ThreadState, site: S) -> Option<Race<S>> {
        self.access(thread, AccessKind::AtomicRead, site)
    }

    /// Checks and records an atomic store or read-modify-write.
    pub fn atomic_write(&mut self, thread: &ThreadState, site: S) -> Option<Race<S>> {
        self.access(thread, AccessKind::AtomicWrite, site)
    }

    /// Checks and records an access of any kind. Returns the first race
    /// found, preferring an earlier write as the reported side.
    pub fn access(&mut self, thread: &ThreadState, kind: AccessKind, site: S) -> Option<Race<S>> {
        self.access_at(thread, kind, thread.epoch(), site)
    }

    /// [`Shadow::access`] stamped `epoch` (see [`Shadow::read_at`]).
    fn access_at(
        &mut self,
        thread: &ThreadState,
        kind: AccessKind,
        epoch: Epoch,
        site: S,
    ) -> Option<Race<S>> {
        let race = self.check(thread, kind);
        let entry = Entry { epoch, site };
        self.record(thread, kind, entry);
        race.map(|(previous_kind, previous)| Race {
            current: Access {
                kind,
                epoch: entry.epoch,
                site,
            },
            previous: Access {
                kind: previous_kind,
                epoch: previous.epoch,
                site: previous.site,
            },
        })
    }

    fn check(&self, thread: &ThreadState, kind: AccessKind) -> Option<(AccessKind, Entry<S>)> {
        let found = |set: &AccessSet<S>, k: AccessKind| set.unordered(thread).map(|e| (k, e));
        // Writes first: a write is the more useful "previous" side.
        if let Some(r) = found(&self.writes, AccessKind::Write) {
            return Some(r);
        }
        let atomics = self.atomics.as_deref();
        if !kind.is_atomic() {
            if let Some(r) = atomics.and_then(|a| found(&a.writes, AccessKind::AtomicWrite)) {
                return Some(r);
            }
        }
        if kind.is_write() {
            if let Some(r) = found(&self.reads, AccessKind::Read) {
                return Some(r);
            }
            if !kind.is_atomic() {
                if let Some(r) = atomics.and_then(|a| found(&a.reads, AccessKind::AtomicRead)) {
                    return Some(r);
                }
            }
        }
        None
    }

    fn record(&mut self, thread: &ThreadState, kind: AccessKind, entry: Entry<S>) {
        match kind {
            AccessKind::Read => {
                self.reads.insert(thread, entry);
                if let Some(a) = &mut self.atomics {
                    a.reads.prune(thread);
                }
            }
            AccessKind::Write => {
                // Pruned first: a set that inflated when writes raced
                // deflates once a write is ordered after them all.
                self.writes.prune(thread);
                self.writes.insert(thread, entry);
                self.reads.prune(thread);
                if let Some(a) = &mut self.atomics {
                    a.writes.prune(thread);
                    a.reads.prune(thread);
                }
            }
            AccessKind::AtomicRead => self.atomics_mut().reads.insert(thread, entry),
            AccessKind::AtomicWrite => {
                let a = self.atomics_mut();
                a.writes.prune(thread);
                a.writes.insert(thread, entry);
                a.reads.prune(thread);
            }
        }
        if let Some(a) = &self.atomics {
            if a.writes.is_empty() && a.reads.is_empty() {
                self.atomics = None;
            }
        }
    }

    fn atomics_mut(&mut self) -> &mut AtomicAccesses<S> {
        self.atomics.get_or_insert_with(|| {
            Box::new(AtomicAccesses {
                writes: AccessSet::Empty,
                reads: AccessSet::Empty,
            })
        })
    }

    /// Forgets the whole history (the location was freed or reinitialized
    /// by its owner with exclusive access, e.g. through `&mut`).
    pub fn reset(&mut self) {
        *self = Shadow::new();
    }

    /// How many accesses are remembered (for tests and the benchmarks).
    pub fn remembered(&self) -> usize {
        self.writes.len()
            + self.reads.len()
            + self
                .atomics
                .as_ref()
                .map_or(0, |a| a.writes.len() + a.reads.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_read_set_and_atomics_come_first_in_48_bytes() {
        // A site of 24 bytes, as the runtime's: the read set and `atomics`
        // come first, so a map's lock word 16 bytes before them shares
        // their cache line (see `MapLock`).
        type Site = [u64; 3];
        assert_eq!(std::mem::offset_of!(Shadow<Site>, reads), 0);
        assert_eq!(std::mem::offset_of!(Shadow<Site>, writes), 48);
    }
}
