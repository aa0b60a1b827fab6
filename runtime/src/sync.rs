//! Happens-before edges of locks and other synchronization objects. The
//! instrumented types call these around the real operation: acquire after
//! it succeeds, release before it lets go.

use crate::spin::SpinLock;
use crate::threads::{after_release, with_local};
use racedet_detector::SyncClock;
use std::cell::UnsafeCell;

/// The calling thread sees everything released into `clock`.
#[inline]
pub fn acquire(clock: &SyncClock) {
    with_local(|l| clock.acquire(&mut l.state));
}

/// Store-form release: `clock` becomes the calling thread's clock.
#[inline]
pub fn release_store(clock: &mut SyncClock) {
    with_local(|l| {
        clock.release_store(&mut l.state);
        after_release(l);
    });
}

/// Merge-form release: `clock` also carries the calling thread's clock.
#[inline]
pub fn release_merge(clock: &mut SyncClock) {
    with_local(|l| {
        clock.release_merge(&mut l.state);
        after_release(l);
    });
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
    #[inline]
    pub unsafe fn locked(&self) {
        acquire(&*self.clock.get());
    }

    /// Before the real unlock.
    ///
    /// # Safety
    /// The caller holds the real mutex.
    #[inline]
    pub unsafe fn unlocking(&self) {
        release_store(&mut *self.clock.get());
    }
}

/// The clocks of a reader-writer lock: writers store into `write`; readers
/// merge into `read`, which the next writer acquires (read-unlocks release
/// to the next writer, never to the next reader).
#[derive(Default)]
pub struct RwLockClock {
    write: UnsafeCell<SyncClock>,
    /// A spin lock: read-unlocks hold it for one clock join.
    read: SpinLock<SyncClock>,
}

// SAFETY: `write` is written only by the write-lock holder and read only by
// holders of the lock (readers or the writer), which the real lock keeps
// apart; `read` has its own mutex.
unsafe impl Sync for RwLockClock {}

impl RwLockClock {
    /// A lock nobody has unlocked yet.
    pub const fn new() -> RwLockClock {
        RwLockClock {
            write: UnsafeCell::new(SyncClock::new()),
            read: SpinLock::new(SyncClock::new()),
        }
    }

    /// After a read lock succeeded.
    ///
    /// # Safety
    /// The caller holds a read lock.
    #[inline]
    pub unsafe fn read_locked(&self) {
        acquire(&*self.write.get());
    }

    /// Before a read unlock.
    ///
    /// # Safety
    /// The caller holds a read lock.
    #[inline]
    pub unsafe fn read_unlocking(&self) {
        release_merge(&mut self.read.lock());
    }

    /// After a write lock succeeded.
    ///
    /// # Safety
    /// The caller holds the write lock.
    #[inline]
    pub unsafe fn write_locked(&self) {
        acquire(&*self.write.get());
        let mut read = self.read.lock();
        acquire(&read);
        // Absorbed: this writer's unlock will store a clock covering it.
        read.clear();
    }

    /// Before a write unlock.
    ///
    /// # Safety
    /// The caller holds the write lock.
    #[inline]
    pub unsafe fn write_unlocking(&self) {
        release_store(&mut *self.write.get());
    }
}
