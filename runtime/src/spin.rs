//! A minimal spin lock for tiny critical sections (a cell's value and
//! shadow): one atomic swap to lock, one release store to unlock, which is
//! cheaper than a parking mutex when the section is a few nanoseconds.

use std::cell::UnsafeCell;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};

/// Protects a `T` with a spin lock.
// `repr(C)`: the flag first, so the start of the value (a map's header
// shadow, a cell's shadow), which every locked operation writes anyway,
// shares its cache line.
#[repr(C)]
pub struct SpinLock<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the lock gives exclusive access to the value.
unsafe impl<T: Send> Sync for SpinLock<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Send for SpinLock<T> {}

/// Exclusive access to a `SpinLock`'s value.
pub struct SpinGuard<'a, T> {
    lock: &'a SpinLock<T>,
    // Hands out `&mut T`: as std's `MutexGuard`, the guard may be shared
    // between threads only if `T: Sync` (without this, `&SpinGuard<Cell<_>>`
    // would be `Sync` and race in safe code).
    _exclusive: PhantomData<&'a mut T>,
}

impl<T> SpinLock<T> {
    /// An unlocked lock around `value`.
    pub const fn new(value: T) -> SpinLock<T> {
        SpinLock {
            locked: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// Locks, spinning (and yielding when contended).
    #[inline]
    pub fn lock(&self) -> SpinGuard<'_, T> {
        // SeqCst (the same instruction as Acquire on x86): the map lock's
        // handshake with its shared readers orders this before its loads.
        if self.locked.swap(true, Ordering::SeqCst) {
            self.lock_contended();
        }
        SpinGuard {
            lock: self,
            _exclusive: PhantomData,
        }
    }

    /// Locks if free.
    #[inline]
    pub fn try_lock(&self) -> Option<SpinGuard<'_, T>> {
        // A guard is made only on success: one made and dropped on failure
        // would unlock the holder's lock.
        if self.locked.swap(true, Ordering::SeqCst) {
            return None;
        }
        Some(SpinGuard {
            lock: self,
            _exclusive: PhantomData,
        })
    }

    #[cold]
    fn lock_contended(&self) {
        let mut spins = 0u32;
        loop {
            while self.locked.load(Ordering::Relaxed) {
                spins += 1;
                if spins < 64 {
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
            if !self.locked.swap(true, Ordering::SeqCst) {
                return;
            }
        }
    }

    /// Whether someone holds the lock now (SeqCst: for handshakes such as
    /// the map lock's with its shared readers).
    #[inline]
    pub fn is_locked(&self) -> bool {
        self.locked.load(Ordering::SeqCst)
    }

    /// Exclusive access through `&mut` (no locking needed).
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }

    /// The value.
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

impl<T> Deref for SpinGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for SpinGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for SpinGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.locked.store(false, Ordering::Release);
    }
}

impl<T: Default> Default for SpinLock<T> {
    fn default() -> Self {
        SpinLock::new(T::default())
    }
}

#[cfg(test)]
mod tests {
    use super::SpinLock;

    #[test]
    fn a_failed_try_lock_leaves_the_holder_s_lock_held() {
        let lock = SpinLock::new(0);
        let held = lock.lock();
        assert!(lock.try_lock().is_none());
        assert!(lock.try_lock().is_none(), "still held after a failed try");
        assert!(lock.is_locked());
        drop(held);
        assert!(lock.try_lock().is_some());
        assert!(!lock.is_locked(), "the successful try's guard unlocked");
    }
}
