//! Happens-before edges of locks and other synchronization objects. The
//! instrumented types call these around the real operation: acquire after
//! it succeeds, release before it lets go.

use crate::threads::{after_release, local};
use racedet_detector::SyncClock;
use std::cell::UnsafeCell;

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

#[cfg(test)]
mod tests {
    #[test]
    fn a_mutex_clock_leaves_room_for_std_s_lock_word_in_its_cache_line() {
        // racedet's Mutex puts this clock first in a 64-byte aligned struct
        // and std's mutex (lock word, poison flag) right after it.
        assert_eq!(std::mem::size_of::<super::MutexClock>(), 56);
    }
}
