//! `Mutex`: unlock happens before the next lock.

use super::{map_result, map_try};
use racedet_runtime::MutexClock;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::{LockResult, TryLockError, TryLockResult};

/// std's `Mutex`, reporting lock and unlock to the detector. Poisoning is
/// std's own.
// The clock (a clock of up to 5 slots and its name: 56 bytes) and std's
// lock word share the first cache line: every unlock writes both and the
// next locker reads both, so a hand-off moves one line, not two.
#[repr(C, align(64))]
pub struct Mutex<T: ?Sized> {
    clock: MutexClock,
    inner: std::sync::Mutex<T>,
}

/// std's `MutexGuard`; dropping it releases to the next locker.
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct MutexGuard<'a, T: ?Sized + 'a> {
    // Fields drop after `Drop::drop`: the release happens before the real
    // unlock.
    inner: std::sync::MutexGuard<'a, T>,
    lock: &'a Mutex<T>,
}

impl<T> Mutex<T> {
    /// An unlocked mutex.
    pub const fn new(value: T) -> Mutex<T> {
        Mutex {
            clock: MutexClock::new(),
            inner: std::sync::Mutex::new(value),
        }
    }

    /// The value (exclusive ownership: no synchronization needed).
    pub fn into_inner(self) -> LockResult<T> {
        self.inner.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Locks, blocking; acquires what the previous holder released.
    // Always inlined, as `guard` below: with the clock hooks inlined too it
    // grew past the compiler's threshold, and a `lock` out of line returns
    // its guard through memory (one thread doing W4's lock + map op +
    // unlock: 35 ns instead of 24.5).
    #[inline(always)]
    pub fn lock(&self) -> LockResult<MutexGuard<'_, T>> {
        map_result(self.inner.lock(), |g| self.guard(g))
    }

    /// Locks if free.
    pub fn try_lock(&self) -> TryLockResult<MutexGuard<'_, T>> {
        map_try(self.inner.try_lock(), |g| self.guard(g))
    }

    /// Whether a holder panicked.
    pub fn is_poisoned(&self) -> bool {
        self.inner.is_poisoned()
    }

    /// Clears the poison flag.
    pub fn clear_poison(&self) {
        self.inner.clear_poison()
    }

    /// `&mut` access: exclusive by the borrow rules.
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        self.inner.get_mut()
    }

    // Inlined into `lock` (itself always inlined, see there): a guard built out of
    // line is returned through memory and copied again with wider loads
    // than the stores that wrote it, which stall on store forwarding (one
    // thread doing W2's lock + map op + unlock: 36 ns out of line, 26 ns
    // inlined).
    #[inline(always)]
    pub(crate) fn guard<'a>(&'a self, inner: std::sync::MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        // SAFETY: `inner` holds the real lock.
        unsafe { self.clock.locked() };
        MutexGuard { inner, lock: self }
    }
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// For `Condvar`: releases to the next locker exactly as an unlock
    /// does, and hands back the real guard (still locked, for std's wait to
    /// unlock atomically) and its mutex (to re-acquire through
    /// `Mutex::guard` once the wait has re-locked).
    pub(crate) fn unlock_for_wait(self) -> (std::sync::MutexGuard<'a, T>, &'a Mutex<T>) {
        let this = std::mem::ManuallyDrop::new(self);
        // SAFETY: the real lock is held (by `inner`).
        unsafe { this.lock.clock.unlocking() };
        // SAFETY: `this` is never dropped, so `inner` is moved out exactly
        // once.
        let inner = unsafe { std::ptr::read(&this.inner) };
        (inner, this.lock)
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: the real lock is still held (`inner` drops after this).
        unsafe { self.lock.clock.unlocking() };
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.inner
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.inner, f)
    }
}

// As std's: sharing a guard shares only `&T` (the mutex reference inside
// is used by this module alone, through an owned guard), so `T: Sync` is
// enough; the derived bound would also ask for `T: Send`.
unsafe impl<T: ?Sized + Sync> Sync for MutexGuard<'_, T> {}

impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.inner, f)
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(value: T) -> Self {
        Mutex::new(value)
    }
}

// std's text, through racedet's `try_lock`: std's own `Debug` locks the
// real mutex behind the detector's back, and the value it reads would be
// reported as racing with the last holder's writes.
impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Ok(guard) => d.field("data", &&*guard),
            Err(TryLockError::Poisoned(err)) => d.field("data", &&**err.get_ref()),
            // A quoted string here, unlike std's `RwLock`: std's texts differ.
            Err(TryLockError::WouldBlock) => d.field("data", &"<locked>"),
        };
        d.field("poisoned", &self.is_poisoned());
        d.finish_non_exhaustive()
    }
}

// As std's: a poisoned mutex is how a panic's half-done update is observed,
// so sharing one across `catch_unwind` is fine.
impl<T: ?Sized> std::panic::UnwindSafe for Mutex<T> {}
impl<T: ?Sized> std::panic::RefUnwindSafe for Mutex<T> {}
