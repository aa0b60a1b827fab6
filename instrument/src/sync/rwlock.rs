//! `RwLock`: write-unlock happens before every later lock; read-unlock
//! happens before the next write lock only.

use super::{map_result, map_try};
use racedet_runtime::{ReaderEpochs, RwLockClock};
use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::sync::{LockResult, TryLockError, TryLockResult};

/// std's `RwLock`, reporting locks and unlocks to the detector.
pub struct RwLock<T: ?Sized> {
    clock: RwLockClock,
    lock: LockLine,
    value: Padded<UnsafeCell<T>>,
}

/// std's lock, guarding the readers' release epochs, on one cache line:
/// every read lock and unlock writes std's lock word, and a writer's lock
/// reads it, so the epochs a read-unlock publishes there move with it and
/// cost no line of their own (W1 `rwmap`, 4 threads: 1.346x -> 1.313x of
/// plain near, 1.540x -> 1.521x far, against readers' clocks on lines of
/// their own; medians of three builds each over 2 118 and 145 interleaved
/// rounds, bench/HISTORY.md). Poisoning is std's, on this lock.
#[repr(align(64))]
struct LockLine(std::sync::RwLock<ReaderEpochs>);

/// The protected value, on a cache line apart from std's lock word. Every
/// read lock and unlock writes that word, so a value that readers write
/// too (a cell's shadow, a `RaceMap`'s lock before its reads go shared)
/// would otherwise move between cores with it twice per read (W1 `rwmap`,
/// 4 threads, before `RaceMap`'s shared reads: median 100.6 -> 87.5 ns/op
/// over 21 interleaved runs). With shared reads, whose readers only read
/// the map's lock line, it still pays: without it rwmap went 1.35x ->
/// 1.80x of plain near, 1.70x -> 1.84x far (medians of 2 384 and 451
/// interleaved rounds).
#[repr(align(64))]
struct Padded<T: ?Sized>(T);

// SAFETY: as std's `RwLock`: the value is reached through guards only,
// shared by read guards (hence `Sync` for `Sync` values), exclusively by
// the write guard, and moves between threads with the lock.
unsafe impl<T: ?Sized + Send> Send for RwLock<T> {}
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}

/// std's `RwLockReadGuard`.
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockReadGuard<'a, T: ?Sized + 'a> {
    inner: std::sync::RwLockReadGuard<'a, ReaderEpochs>,
    // Not `&'a T`, as in std's guard: a reference passed along with the
    // guard (`drop(guard)`) would be asserted valid for the whole call,
    // while the unlock inside lets a writer in.
    value: NonNull<T>,
    clock: &'a RwLockClock,
    _value: PhantomData<&'a T>,
}

// SAFETY: as std's read guard: sharing it shares `&T`.
unsafe impl<T: ?Sized + Sync> Sync for RwLockReadGuard<'_, T> {}

/// std's `RwLockWriteGuard`.
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockWriteGuard<'a, T: ?Sized + 'a> {
    inner: std::sync::RwLockWriteGuard<'a, ReaderEpochs>,
    value: NonNull<T>,
    clock: &'a RwLockClock,
    _value: PhantomData<&'a mut T>,
}

// SAFETY: as std's write guard: sharing it shares `&T` (std's guard, which
// the field keeps from being `Send`, is `Sync`).
unsafe impl<T: ?Sized + Sync> Sync for RwLockWriteGuard<'_, T> {}

// As std's write guard, which refers to the whole (unwind-safe) lock:
// poisoning reports a panic's half-done update.
impl<T: ?Sized> std::panic::UnwindSafe for RwLockWriteGuard<'_, T> {}
impl<T: ?Sized> std::panic::RefUnwindSafe for RwLockWriteGuard<'_, T> {}

impl<T> RwLock<T> {
    /// An unlocked lock.
    pub const fn new(value: T) -> RwLock<T> {
        RwLock {
            clock: RwLockClock::new(),
            lock: LockLine(std::sync::RwLock::new(ReaderEpochs::new())),
            value: Padded(UnsafeCell::new(value)),
        }
    }

    /// The value (exclusive ownership).
    pub fn into_inner(self) -> LockResult<T> {
        let value = self.value.0.into_inner();
        // std's lock holds only the epochs: its poison goes to the value.
        map_result(self.lock.0.into_inner(), |_| value)
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Shared lock; acquires what the last writer released.
    #[inline]
    pub fn read(&self) -> LockResult<RwLockReadGuard<'_, T>> {
        map_result(self.lock.0.read(), |g| self.read_guard(g))
    }

    /// Shared lock if available.
    pub fn try_read(&self) -> TryLockResult<RwLockReadGuard<'_, T>> {
        map_try(self.lock.0.try_read(), |g| self.read_guard(g))
    }

    /// Exclusive lock; acquires what the last writer and every reader since
    /// released.
    #[inline]
    pub fn write(&self) -> LockResult<RwLockWriteGuard<'_, T>> {
        map_result(self.lock.0.write(), |g| self.write_guard(g))
    }

    /// Exclusive lock if available.
    pub fn try_write(&self) -> TryLockResult<RwLockWriteGuard<'_, T>> {
        map_try(self.lock.0.try_write(), |g| self.write_guard(g))
    }

    /// Whether a writer panicked.
    pub fn is_poisoned(&self) -> bool {
        self.lock.0.is_poisoned()
    }

    /// Clears the poison flag.
    pub fn clear_poison(&self) {
        self.lock.0.clear_poison()
    }

    /// `&mut` access: exclusive by the borrow rules.
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        let value = self.value.0.get_mut();
        map_result(self.lock.0.get_mut(), |_| value)
    }

    /// The value, for a guard: a pointer, as std's guards keep (see
    /// `RwLockReadGuard`).
    #[inline(always)]
    fn value_ptr(&self) -> NonNull<T> {
        // SAFETY: `UnsafeCell::get` is never null.
        unsafe { NonNull::new_unchecked(self.value.0.get()) }
    }

    // Inlined, as `Mutex::guard` (see there): an out-of-line guard is
    // copied through memory in a way that stalls on store forwarding.
    #[inline(always)]
    fn read_guard<'a>(
        &'a self,
        inner: std::sync::RwLockReadGuard<'a, ReaderEpochs>,
    ) -> RwLockReadGuard<'a, T> {
        // SAFETY: `inner` holds a read lock.
        unsafe { self.clock.read_locked() };
        RwLockReadGuard {
            inner,
            value: self.value_ptr(),
            clock: &self.clock,
            _value: PhantomData,
        }
    }

    #[inline(always)]
    fn write_guard<'a>(
        &'a self,
        inner: std::sync::RwLockWriteGuard<'a, ReaderEpochs>,
    ) -> RwLockWriteGuard<'a, T> {
        // SAFETY: `inner` holds the write lock, and the epochs are this
        // lock's.
        unsafe { self.clock.write_locked(&inner) };
        RwLockWriteGuard {
            inner,
            value: self.value_ptr(),
            clock: &self.clock,
            _value: PhantomData,
        }
    }
}

impl<'a, T: ?Sized> RwLockWriteGuard<'a, T> {
    /// std's `downgrade`: the write lock becomes a read lock without
    /// letting a writer in between. What the writer did happens before
    /// every reader that gets in from here on, as after a write-unlock.
    pub fn downgrade(s: Self) -> RwLockReadGuard<'a, T> {
        let s = std::mem::ManuallyDrop::new(s);
        // SAFETY: `s` is never used or dropped again, so `inner` is moved
        // out exactly once (first, so that std's guard unlocks even if a
        // hook below panicked).
        let inner = unsafe { std::ptr::read(&s.inner) };
        let clock = s.clock;
        // SAFETY: `inner` still holds the write lock.
        unsafe { clock.write_unlocking() };
        let inner = std::sync::RwLockWriteGuard::downgrade(inner);
        // SAFETY: `inner` holds a read lock. (It acquires this thread's own
        // release, which is a no-op, but keeps the read guard's invariant.)
        unsafe { clock.read_locked() };
        RwLockReadGuard {
            inner,
            value: s.value,
            clock,
            _value: PhantomData,
        }
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: the read lock is held until `inner` drops after this,
        // and the epochs are this lock's.
        unsafe { self.clock.read_unlocking(&self.inner) };
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: the write lock is held until `inner` drops after this.
        unsafe { self.clock.write_unlocking() };
    }
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds a read lock, so no `&mut` to the value
        // exists while the returned reference lives.
        unsafe { self.value.as_ref() }
    }
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the write lock.
        unsafe { self.value.as_ref() }
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the write lock, and `&mut self` keeps
        // this the only reference through it.
        unsafe { self.value.as_mut() }
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> Self {
        RwLock::new(T::default())
    }
}

impl<T> From<T> for RwLock<T> {
    fn from(value: T) -> Self {
        RwLock::new(value)
    }
}

// std's text, through racedet's `try_read`: std's own `Debug` read-locks
// behind the detector's back, so its read would be reported as racing
// with the last writer and not ordered before the next one.
impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RwLock");
        match self.try_read() {
            Ok(guard) => d.field("data", &&*guard),
            Err(TryLockError::Poisoned(err)) => d.field("data", &&**err.get_ref()),
            Err(TryLockError::WouldBlock) => d.field("data", &format_args!("<locked>")),
        };
        d.field("poisoned", &self.is_poisoned());
        d.finish_non_exhaustive()
    }
}

// As std's: poisoning reports a panic's half-done update.
impl<T: ?Sized> std::panic::UnwindSafe for RwLock<T> {}
impl<T: ?Sized> std::panic::RefUnwindSafe for RwLock<T> {}

#[cfg(test)]
mod tests {
    #[test]
    fn std_s_lock_and_the_reader_epochs_fit_one_cache_line() {
        // Otherwise a read-unlock's epoch would land on a line of its own
        // again (see `LockLine`).
        assert_eq!(std::mem::size_of::<super::LockLine>(), 64);
    }
}
