//! The per-thread half of the engine: a thread's vector clock and fence state.

use crate::clock::VectorClock;
use crate::epoch::{Epoch, Tid};

/// Entries of a thread's cache of acquired sync clocks: direct-mapped, so
/// a lookup is one load and compare however many locks a thread cycles
/// through (a 16-way sharded map fits).
const ACQUIRED_CACHE: usize = 64;

/// Where `name` (a releasing epoch: slot in the top 16 bits, clock below)
/// lives in the acquired cache: Fibonacci hashing (the top bits of the
/// product), so that every bit of the name counts. Consecutive releases of
/// one thread, the same clock in different slots, and a thread releasing
/// once per closure (clocks about `SPAN_RELEASES` apart, alike in their low
/// bits) all land apart; shifts of the name could not spread both 1024 and
/// 1025 apart.
#[inline(always)]
fn acquired_index(name: u64) -> usize {
    const BITS: u32 = ACQUIRED_CACHE.trailing_zeros();
    (name.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - BITS)) as usize
}

/// The detector state of one running thread.
///
/// Invariant: `clock.get(tid) == epoch.clock()` and `epoch.tid() == tid`;
/// the epoch is cached so the access fast path reads one word.
#[derive(Debug, Clone)]
pub struct ThreadState {
    pub(crate) tid: Tid,
    pub(crate) epoch: Epoch,
    pub(crate) clock: VectorClock,
    /// This thread's own clock value when `clock` last changed other than
    /// by a tick (its start, a join that taught it something — an acquire
    /// or a `fence(Acquire)` —, a slot move):
    /// a release it made at a later own clock captured a clock that differs
    /// from its current one only in its own entry (see `SyncClock`).
    pub(crate) changed_at: u64,
    /// How many times `clock` has changed other than by a tick (the
    /// events `changed_at` notes): a caller that knows what bounded the
    /// clock at one count knows it still does at the same count (see
    /// [`ThreadState::changes`]).
    pub(crate) changes: u64,
    /// This thread's own clock value when it started in its slot: a name
    /// (see `SyncClock`) of this slot at this clock or later is a release
    /// this thread made, not one of an earlier occupant of the slot (they
    /// all released below it).
    pub(crate) started_at: u64,
    /// Snapshot of `clock` at the latest `fence(Release)`: what a later
    /// relaxed store or RMW of this thread publishes. Zero when no fence yet.
    pub(crate) release_fence: VectorClock,
    /// Clocks read by relaxed loads since start: what a later
    /// `fence(Acquire)` of this thread acquires.
    pub(crate) acquire_pending: VectorClock,
    /// The largest clock this slot may reach (see `Detector::with_clock_limit`).
    pub(crate) clock_limit: u64,
    /// Names of sync clocks (see `SyncClock`) this thread has fully
    /// acquired, each at the index its name hashes to: turns a re-acquire
    /// of an unchanged lock into one compare. 0 = empty (no name is 0).
    pub(crate) acquired: [u64; ACQUIRED_CACHE],
    /// Set when a tick hit `clock_limit`: the thread must be moved to a fresh
    /// slot (`Detector::migrate`) before its next access.
    pub(crate) exhausted: bool,
    /// Spans (see `span.rs`) opened and not yet ended.
    pub(crate) open_spans: u32,
}

impl ThreadState {
    pub(crate) fn new(tid: Tid, clock: VectorClock, clock_limit: u64) -> ThreadState {
        let epoch = Epoch::new(tid, clock.get(tid));
        ThreadState {
            tid,
            epoch,
            clock,
            changed_at: epoch.clock(),
            changes: 0,
            started_at: epoch.clock(),
            release_fence: VectorClock::new(),
            acquire_pending: VectorClock::new(),
            clock_limit,
            acquired: [0; ACQUIRED_CACHE],
            exhausted: false,
            open_spans: 0,
        }
    }

    /// The slot this thread runs in.
    #[inline]
    pub fn tid(&self) -> Tid {
        self.tid
    }

    /// The thread's current epoch: what an access made now is stamped with.
    #[inline(always)]
    pub fn epoch(&self) -> Epoch {
        self.epoch
    }

    /// The thread's vector clock.
    #[inline]
    pub fn clock(&self) -> &VectorClock {
        &self.clock
    }

    /// Whether the access stamped `epoch` happened before this thread's
    /// current point. Hot path: one load and one compare.
    #[inline(always)]
    pub fn saw(&self, epoch: Epoch) -> bool {
        self.clock.covers(epoch)
    }

    /// Whether the release named `name` (see `SyncClock`) was made by
    /// this thread after its clock last changed other than by a tick: then
    /// the clock it released differs from the current one only in this
    /// thread's own entry. The name's slot is this thread's and its clock
    /// is past the thread's start in the slot, so no earlier occupant of
    /// the slot made it.
    #[inline(always)]
    pub(crate) fn released_unchanged(&self, name: u64) -> bool {
        self.own_release(name).is_some_and(|c| c > self.changed_at)
    }

    /// Whether the release named `name` was made by this thread (since it
    /// started in its slot: earlier occupants released at clocks below its
    /// start; a release ticks after it is named, so one at the start clock
    /// is this thread's first).
    #[inline(always)]
    pub(crate) fn released(&self, name: u64) -> bool {
        self.own_release(name).is_some_and(|c| c >= self.started_at)
    }

    /// The clock of the release named `name` if it is of this thread's slot.
    #[inline(always)]
    fn own_release(&self, name: u64) -> Option<u64> {
        let e = Epoch::from_bits(name);
        (e.tid() == self.tid).then_some(e.clock())
    }

    /// Whether the thread's clock is used up and it must be migrated to a
    /// fresh slot with [`crate::Detector::migrate`] before its next access.
    #[inline(always)]
    pub fn exhausted(&self) -> bool {
        self.exhausted
    }

    /// Acquires `other`: afterwards this thread has seen everything `other` has.
    #[inline(always)]
    pub fn acquire(&mut self, other: &VectorClock) {
        // Noted only when it taught something: a lock taken again and
        // again keeps its owner's releases on the one-store path.
        if self.clock.join(other) {
            self.note_change();
        }
    }

    /// Acquires a single epoch: what a release that published only its
    /// releaser's own entry carries (see [`ThreadState::changes`]).
    #[inline(always)]
    pub fn acquire_epoch(&mut self, epoch: Epoch) {
        if self.clock.get(epoch.tid()) < epoch.clock() {
            self.clock.set(epoch.tid(), epoch.clock());
            self.note_change();
        }
    }

    /// Counts changes of the clock other than ticks. A caller that saw
    /// this thread's clock bounded by some clock plus the thread's own
    /// entry (e.g. right after storing it into a lock) knows the bound
    /// still holds while this count stays the same: ticks change only the
    /// own entry. A release then need publish only the thread's epoch.
    #[inline(always)]
    pub fn changes(&self) -> u64 {
        self.changes
    }

    #[inline(always)]
    fn note_change(&mut self) {
        self.changed_at = self.epoch.clock();
        self.changes += 1;
    }

    /// Whether the sync clock named `name` was already fully acquired.
    #[inline(always)]
    pub(crate) fn has_acquired(&self, name: u64) -> bool {
        self.acquired[acquired_index(name)] == name
    }

    /// Notes that the sync clock named `name` is fully acquired.
    #[inline(always)]
    pub(crate) fn remember_acquired(&mut self, name: u64) {
        self.acquired[acquired_index(name)] = name;
    }

    /// Advances this thread's own entry after a release, so accesses made
    /// after the release are not mistaken for ones made before it.
    #[inline(always)]
    pub fn tick(&mut self) {
        let c = self.epoch.clock();
        if c >= self.clock_limit {
            self.exhausted = true;
            return;
        }
        self.clock.set(self.tid, c + 1);
        // The clock is below the limit, so adding 1 to the packed word
        // cannot carry into the slot bits.
        self.epoch = Epoch::from_bits(self.epoch.to_bits() + 1);
    }

    /// `fence(Acquire)`: acquires every clock read by earlier relaxed loads.
    pub fn fence_acquire(&mut self) {
        // `acquire_pending` only grows; joining it again later is harmless.
        if self.clock.join(&self.acquire_pending) {
            self.note_change();
        }
    }

    /// `fence(Release)`: later relaxed stores and RMWs publish this point.
    pub fn fence_release(&mut self) {
        self.release_fence.assign(&self.clock);
        self.tick();
    }

    /// `fence(AcqRel)`: both halves, acquire first so what it acquires is
    /// also published.
    pub fn fence_acq_rel(&mut self) {
        self.fence_acquire();
        self.fence_release();
    }

    /// `fence(SeqCst)`: as far as happens-before goes, an AcqRel fence.
    /// The single total order of SeqCst fences constrains which values
    /// loads may return, but by C++11 rules two SeqCst fences synchronize
    /// only through an atomic one side writes and the other reads (which
    /// the acquire and release halves already model). Treating the order as
    /// edges (one global clock, as Miri does) would hide real races.
    pub fn fence_seqcst(&mut self) {
        self.fence_acq_rel();
    }
}
