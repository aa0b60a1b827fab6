//! Happens-before edges of a reader-writer lock: a write-unlock happens
//! before every later lock, a read-unlock before the next write lock only.
//!
//! A read-unlock usually publishes one word, the reader's epoch, into the
//! lock's own cache line ([`ReaderEpochs`]), which the unlock writes
//! anyway and the next writer's lock reads anyway: the release costs no
//! cache line of its own. That is enough when the reader's clock is the
//! write clock it acquired plus its own entry ([`RwCover`]), as it is for
//! threads that only read and write under one lock. Other readers merge
//! their whole clock into a slot on a line of their own (past
//! `READER_SLOTS`, into one clock they share).

use crate::reader_slots::{CacheLine, READER_SLOTS};
use crate::spin::SpinLock;
use crate::threads::{after_release, local, Local};
use racedet_detector::{Epoch, SyncClock};
use std::cell::UnsafeCell;
use std::panic::RefUnwindSafe;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::OnceLock;

/// Readers in detector slots below this publish an epoch in the lock's
/// line: six words fit beside std's lock word and poison flag in 64 bytes
/// (a test of racedet's `RwLock` checks it).
pub const EPOCH_SLOTS: usize = 6;

/// The read-unlock epochs of one lock, kept with the real lock word (racedet's
/// `RwLock` keeps them as the value of std's lock, which it puts on one
/// cache line). Word `i` holds the epoch of the last read-unlock of the
/// thread in detector slot `i` since the last write lock, or 0. Written by
/// readers under a read lock, each its own word; read and cleared by the
/// writer under the write lock: the real lock orders them, so Relaxed.
#[derive(Default)]
pub struct ReaderEpochs {
    epochs: [AtomicU64; EPOCH_SLOTS],
}

impl ReaderEpochs {
    /// No read-unlock yet.
    pub const fn new() -> ReaderEpochs {
        ReaderEpochs {
            epochs: [const { AtomicU64::new(0) }; EPOCH_SLOTS],
        }
    }
}

/// Which lock's write clock bounds the thread's clock: at `changes` (see
/// [`racedet_detector::ThreadState::changes`]) the thread's clock was at
/// most that lock's write clock plus the thread's own entry. The write
/// clocks of one lock only grow (each writer acquired the one before its
/// own), so acquiring a later one keeps the bound; any other change of the
/// clock ends it. Locks are named by a number of their own, not their
/// address: a lock made where a dropped one was must not pass for it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct RwCover {
    lock: u64,
    changes: u64,
}

impl RwCover {
    /// Bounded by no lock: no lock is numbered 0 at a count a thread has
    /// (counts start at 0 and go up by one), and a lock not numbered yet
    /// (0) was never write-unlocked, so bounds no one.
    pub(crate) const NONE: RwCover = RwCover {
        lock: 0,
        changes: u64::MAX,
    };

    /// Whether this is the bound of `lock` at count `changes`.
    #[inline(always)]
    fn holds(self, lock: u64, changes: u64) -> bool {
        self == RwCover { lock, changes }
    }
}

/// Numbers locks for [`RwCover`] (0: not numbered yet).
static LOCK_NUMBERS: AtomicU64 = AtomicU64::new(1);

/// The write clock and the lock's number, written only by write-lock
/// holders.
#[derive(Default)]
struct WriteClock {
    clock: SyncClock,
    number: u64,
}

/// A reader's merged read-unlock clocks, on a cache line of its own (see
/// `reader_slots`): the path of readers whose clock the write clock does
/// not bound. Only its reader releases into it, so after its first merge
/// since the last write lock (which clears it) each read-unlock is one
/// store (see [`SyncClock::release_merge`]).
type ReaderClock = CacheLine<UnsafeCell<SyncClock>>;

/// Bit of `merged` for the shared `overflow` clock.
const OVERFLOW: u16 = 1 << READER_SLOTS;

/// The clocks of a reader-writer lock: writers store into `write`; each
/// read-unlock publishes the reader's epoch ([`ReaderEpochs`]) or merges
/// into the reader's own slot (or, past `READER_SLOTS`, into
/// `overflow`), and the next writer acquires and clears them all
/// (read-unlocks release to the next writer, never to the next reader).
#[derive(Default)]
pub struct RwLockClock {
    write: UnsafeCell<WriteClock>,
    readers: OnceLock<Box<[ReaderClock; READER_SLOTS]>>,
    overflow: SpinLock<SyncClock>,
    /// Bit `i`: reader slot `i` holds a merge; `OVERFLOW`: `overflow`
    /// does. Set by merging readers, read by every writer, so a writer
    /// reads no slot line that holds nothing. Relaxed: the real lock
    /// orders a reader's store before the next writer's load.
    merged: AtomicU16,
}

// SAFETY: `write` is written only by the write-lock holder and read only by
// holders of the lock (readers or the writer), which the real lock keeps
// apart. Reader slot `i` is written only by the live thread in detector slot
// `i` (one at a time) while it holds a read lock, and read or cleared only
// by the write-lock holder, when no reader holds the lock. `overflow` has
// its own lock.
unsafe impl Sync for RwLockClock {}

// No user code runs while a clock is updated, and user code cannot see the
// clocks, so a panic caught across a guard cannot observe one half-changed.
// std's lock guards are unwind-safe, and so are racedet's, which refer to
// this.
impl RefUnwindSafe for RwLockClock {}

impl RwLockClock {
    /// A lock nobody has unlocked yet.
    pub const fn new() -> RwLockClock {
        RwLockClock {
            write: UnsafeCell::new(WriteClock {
                clock: SyncClock::new(),
                number: 0,
            }),
            readers: OnceLock::new(),
            overflow: SpinLock::new(SyncClock::new()),
            merged: AtomicU16::new(0),
        }
    }

    /// After a read lock succeeded.
    ///
    /// # Safety
    /// The caller holds a read lock.
    #[inline(always)]
    pub unsafe fn read_locked(&self) {
        let Some(l) = local() else { return };
        let write = &*self.write.get();
        let before = l.state.changes();
        write.clock.acquire_lock(&mut l.state);
        // A later write clock of the bounding lock keeps the bound.
        if l.rw_cover.holds(write.number, before) {
            l.rw_cover.changes = l.state.changes();
        }
    }

    /// Before a read unlock.
    ///
    /// # Safety
    /// The caller holds a read lock, and `epochs` are this lock's.
    #[inline(always)]
    pub unsafe fn read_unlocking(&self, epochs: &ReaderEpochs) {
        let Some(l) = local() else { return };
        let tid = l.state.tid().index();
        let number = (*self.write.get()).number;
        if tid < EPOCH_SLOTS && l.rw_cover.holds(number, l.state.changes()) {
            // The next writer acquires the write clock this thread's clock
            // is bounded by (no writer came in between), so the epoch is
            // all it lacks.
            epochs.epochs[tid].store(l.state.epoch().to_bits(), Ordering::Relaxed);
            l.state.tick();
        } else {
            self.merge(l, tid);
        }
        after_release(l);
    }

    #[inline(never)]
    fn merge(&self, l: &mut Local, tid: usize) {
        let bit = if tid < READER_SLOTS {
            // Made by the first merging reader in a slot, not by unchecked
            // threads or readers the write clock bounds, which never use
            // it.
            let readers = self.readers.get_or_init(Default::default);
            // SAFETY: slot `tid` is this thread's (see `Sync` above).
            unsafe { (*readers[tid].0.get()).release_merge(&mut l.state) };
            1 << tid
        } else {
            self.overflow.lock().release_merge(&mut l.state);
            OVERFLOW
        };
        if self.merged.load(Ordering::Relaxed) & bit == 0 {
            self.merged.fetch_or(bit, Ordering::Relaxed);
        }
    }

    /// After a write lock succeeded.
    ///
    /// # Safety
    /// The caller holds the write lock, and `epochs` are this lock's.
    #[inline]
    pub unsafe fn write_locked(&self, epochs: &ReaderEpochs) {
        let Some(l) = local() else { return };
        (*self.write.get()).clock.acquire_lock(&mut l.state);
        for word in &epochs.epochs {
            let bits = word.load(Ordering::Relaxed);
            if bits != 0 {
                l.state.acquire_epoch(Epoch::from_bits(bits));
                word.store(0, Ordering::Relaxed);
            }
        }
        if self.merged.load(Ordering::Relaxed) != 0 {
            self.absorb_merged(l);
        }
    }

    #[inline(never)]
    fn absorb_merged(&self, l: &mut Local) {
        let merged = self.merged.swap(0, Ordering::Relaxed);
        if let Some(readers) = self.readers.get() {
            for (i, slot) in readers.iter().enumerate() {
                if merged & (1 << i) != 0 {
                    // SAFETY: the caller holds the write lock, so no
                    // reader writes its slot.
                    let slot = unsafe { &mut *slot.0.get() };
                    // Joined without remembering the name: each is used
                    // once, and would push the write clock's name out of
                    // the thread's small cache.
                    l.state.acquire(slot.clock());
                    // Absorbed: this writer's unlock will store a clock
                    // covering it.
                    slot.clear();
                }
            }
        }
        if merged & OVERFLOW != 0 {
            let mut overflow = self.overflow.lock();
            overflow.acquire(&mut l.state);
            overflow.clear();
        }
    }

    /// Before a write unlock.
    ///
    /// # Safety
    /// The caller holds the write lock.
    #[inline(always)]
    pub unsafe fn write_unlocking(&self) {
        let Some(l) = local() else { return };
        let write = &mut *self.write.get();
        if write.number == 0 {
            write.number = LOCK_NUMBERS.fetch_add(1, Ordering::Relaxed);
        }
        write.clock.release_lock(&mut l.state);
        // The write clock is now this thread's clock but for the tick.
        l.rw_cover = RwCover {
            lock: write.number,
            changes: l.state.changes(),
        };
        after_release(l);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering::Relaxed;

    fn read(clock: &RwLockClock, epochs: &ReaderEpochs) {
        // SAFETY: no real lock, but one thread: nothing runs concurrently.
        unsafe {
            clock.read_locked();
            clock.read_unlocking(epochs);
        }
    }

    fn write(clock: &RwLockClock, epochs: &ReaderEpochs) {
        // SAFETY: as in `read`.
        unsafe {
            clock.write_locked(epochs);
            clock.write_unlocking();
        }
    }

    #[test]
    fn the_clocks_move_with_their_lock() {
        // The `Sync` impl is written by hand; `Send` must still hold, as
        // racedet's `RwLock` is `Send` for `Send` values.
        fn send<T: Send>() {}
        send::<RwLockClock>();
    }

    #[test]
    fn a_reader_the_write_clock_bounds_publishes_its_epoch_and_others_merge() {
        let (clock, epochs) = (RwLockClock::new(), ReaderEpochs::new());
        let tid = local().unwrap().state.tid().index();
        // Where this thread's read-unlocks land: its epoch word, or its
        // merge slot's bit (the test binary's threads may hold slots past
        // the epochs').
        let published = |expect_epoch: bool| {
            let merged = clock.merged.load(Relaxed);
            let word = epochs.epochs.get(tid).map_or(0, |w| w.load(Relaxed));
            if expect_epoch && tid < EPOCH_SLOTS {
                assert_ne!(word, 0, "the epoch is published");
                assert_eq!(merged, 0, "nothing merged");
            } else {
                assert_eq!(word, 0, "no epoch");
                assert_ne!(merged, 0, "merged");
            }
        };
        // A thread no write clock bounds yet (the lock has none).
        read(&clock, &epochs);
        published(false);
        // Its write-unlock bounds it: the write clock is its clock.
        write(&clock, &epochs);
        assert_eq!(
            clock.merged.load(Relaxed),
            0,
            "the writer absorbed the merge"
        );
        read(&clock, &epochs);
        published(true);
        // The next writer absorbs the epoch and clears its word.
        write(&clock, &epochs);
        assert!(epochs.epochs.iter().all(|w| w.load(Relaxed) == 0));
        // Learning from another thread ends the bound.
        let mut other = SyncClock::new();
        std::thread::scope(|s| {
            s.spawn(|| crate::sync::release_store(&mut other));
        });
        crate::sync::acquire(&other);
        read(&clock, &epochs);
        published(false);
        // A later write clock of the same lock keeps it: another thread
        // writes, then this thread's read acquires that thread's clock.
        write(&clock, &epochs);
        std::thread::scope(|s| {
            s.spawn(|| write(&clock, &epochs));
        });
        read(&clock, &epochs);
        published(true);
    }
}
