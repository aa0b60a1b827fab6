//! Happens-before edges of locks and other synchronization objects. The
//! instrumented types call these around the real operation: acquire after
//! it succeeds, release before it lets go.

use crate::reader_slots::{CacheLine, READER_SLOTS};
use crate::spin::SpinLock;
use crate::threads::{after_release, local};
use racedet_detector::SyncClock;
use std::cell::UnsafeCell;
use std::panic::RefUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

/// The calling thread sees everything released into `clock`.
#[inline(always)]
pub fn acquire(clock: &SyncClock) {
    if let Some(l) = local() {
        clock.acquire(&mut l.state);
    }
}

/// Lock of a lock (see [`SyncClock::acquire_lock`]).
#[inline(always)]
fn acquire_lock(clock: &SyncClock) {
    if let Some(l) = local() {
        clock.acquire_lock(&mut l.state);
    }
}

/// Store-form release: `clock` becomes the calling thread's clock.
#[inline(always)]
pub fn release_store(clock: &mut SyncClock) {
    if let Some(l) = local() {
        clock.release_store(&mut l.state);
        after_release(l);
    }
}

/// Unlock of a lock (see [`SyncClock::release_lock`]).
#[inline(always)]
fn release_lock(clock: &mut SyncClock) {
    if let Some(l) = local() {
        clock.release_lock(&mut l.state);
        after_release(l);
    }
}

/// Merge-form release: `clock` also carries the calling thread's clock.
#[inline]
pub fn release_merge(clock: &mut SyncClock) {
    if let Some(l) = local() {
        clock.release_merge(&mut l.state);
        after_release(l);
    }
}

/// The clock of a mutex, guarded by the mutex itself.
#[derive(Default)]
pub struct MutexClock {
    clock: UnsafeCell<SyncClock>,
}

// SAFETY: the clock is only touched through `locked`/`unlocking`, whose
// callers hold the real mutex, so accesses are serialized.
unsafe impl Sync for MutexClock {}

impl MutexClock {
    /// A mutex nobody has unlocked yet.
    pub const fn new() -> MutexClock {
        MutexClock {
            clock: UnsafeCell::new(SyncClock::new()),
        }
    }

    /// After the real lock succeeded.
    ///
    /// # Safety
    /// The caller holds the real mutex.
    // Inlined into the guard: only the checks of the clock's name (own
    // release, acquired cache) stay inline (the join is out of line), and
    // the racedet `Mutex::lock` it lands in is itself always inlined (see
    // there).
    #[inline(always)]
    pub unsafe fn locked(&self) {
        acquire_lock(&*self.clock.get());
    }

    /// Before the real unlock.
    ///
    /// # Safety
    /// The caller holds the real mutex.
    #[inline(always)]
    pub unsafe fn unlocking(&self) {
        release_lock(&mut *self.clock.get());
    }
}

/// A reader's merged read-unlock clocks, on a cache line of its own (see
/// `reader_slots`). Only its reader releases into it, so after its first
/// merge since the last write lock (which clears it) each read-unlock is one
/// store (see [`SyncClock::release_merge`]).
type ReaderClock = CacheLine<UnsafeCell<SyncClock>>;

/// The clocks of a reader-writer lock: writers store into `write`; each
/// read-unlock merges into the reader's own slot (or, past
/// `READER_SLOTS`, into `overflow`), and the next writer acquires and clears
/// them all (read-unlocks release to the next writer, never to the next
/// reader).
#[derive(Default)]
pub struct RwLockClock {
    write: UnsafeCell<SyncClock>,
    readers: OnceLock<Box<[ReaderClock; READER_SLOTS]>>,
    overflow: SpinLock<SyncClock>,
    /// Whether `overflow` holds anything: written by overflow readers and
    /// the writer that clears it, read by every writer, so a lock whose
    /// readers all have slots never touches `overflow`'s line. Relaxed: the
    /// real lock orders a reader's store before the next writer's load.
    overflow_used: AtomicBool,
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
            write: UnsafeCell::new(SyncClock::new()),
            readers: OnceLock::new(),
            overflow: SpinLock::new(SyncClock::new()),
            overflow_used: AtomicBool::new(false),
        }
    }

    /// After a read lock succeeded.
    ///
    /// # Safety
    /// The caller holds a read lock.
    #[inline(always)]
    pub unsafe fn read_locked(&self) {
        acquire_lock(&*self.write.get());
    }

    /// Before a read unlock.
    ///
    /// # Safety
    /// The caller holds a read lock.
    #[inline(always)]
    pub unsafe fn read_unlocking(&self) {
        let Some(l) = local() else { return };
        let tid = l.state.tid().index();
        if tid < READER_SLOTS {
            // Made by the first reader in a slot, not by unchecked threads
            // or overflow readers, which never use it.
            let readers = self.readers.get_or_init(Default::default);
            (*readers[tid].0.get()).release_merge(&mut l.state);
        } else {
            self.overflow.lock().release_merge(&mut l.state);
            self.overflow_used.store(true, Ordering::Relaxed);
        }
        after_release(l);
    }

    /// After a write lock succeeded.
    ///
    /// # Safety
    /// The caller holds the write lock.
    #[inline]
    pub unsafe fn write_locked(&self) {
        let readers = self.readers.get();
        let Some(l) = local() else { return };
        (*self.write.get()).acquire_lock(&mut l.state);
        if let Some(readers) = readers {
            for slot in readers.iter() {
                let slot = &mut *slot.0.get();
                if !slot.clock().is_zero() {
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
        if self.overflow_used.load(Ordering::Relaxed) {
            let mut overflow = self.overflow.lock();
            overflow.acquire(&mut l.state);
            overflow.clear();
            self.overflow_used.store(false, Ordering::Relaxed);
        }
    }

    /// Before a write unlock.
    ///
    /// # Safety
    /// The caller holds the write lock.
    #[inline(always)]
    pub unsafe fn write_unlocking(&self) {
        release_lock(&mut *self.write.get());
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_mutex_clock_leaves_room_for_std_s_lock_word_in_its_cache_line() {
        // racedet's Mutex puts this clock first in a 64-byte aligned struct
        // and std's mutex (lock word, poison flag) right after it.
        assert_eq!(std::mem::size_of::<super::MutexClock>(), 56);
    }
}
