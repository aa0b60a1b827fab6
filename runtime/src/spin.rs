//! A minimal spin lock for tiny critical sections (a cell's value and
//! shadow): one atomic swap to lock (SeqCst, for the map lock's handshake
//! with its shared readers; then a load of the same line, for a waiter
//! starving for the lock, which gets it first) and one release store to
//! unlock, which is cheaper than a parking mutex when the section is a
//! few nanoseconds. The
//! lock also notes its holder (a thread-local read and a store after the
//! swap, a store before the unlock), so a thread that asks again for a
//! lock it holds (a closure run under a map's or a cell's lock that uses
//! the same object) gets a panic naming the mistake, not a deadlock.

use std::cell::{Cell, UnsafeCell};
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU32, Ordering};

/// Protects a `T` with a spin lock.
// `repr(C)`: the lock word first, so the start of the value (a map's
// header shadow, a cell's shadow), which every locked operation writes
// anyway, shares its cache line.
#[repr(C)]
pub struct SpinLock<T> {
    locked: AtomicBool,
    /// Waiters that have waited long (see `lock_contended`): while there
    /// are any, only they take the lock. Without it, threads that lock over
    /// and over (spinning on an atomic's load) take it back the moment they
    /// free it, and a thread waiting to store could wait for seconds. In
    /// the bytes between `locked` and `owner`, so the lock stays 8 bytes.
    starving: AtomicU16,
    /// The holder's [`token`] while it holds the lock, else 0. Written
    /// after the swap that takes the lock and cleared before the store
    /// that frees it, so the swap does not wait for the token's load, and
    /// a thread can find its own token here only while it holds the lock
    /// (it sees its own writes in order).
    owner: AtomicU32,
    value: UnsafeCell<T>,
}

// SAFETY: the lock gives exclusive access to the value.
unsafe impl<T: Send> Sync for SpinLock<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Send for SpinLock<T> {}

thread_local! {
    /// The calling thread's token, 0 until its first lock. Constant
    /// initializer and no destructor: reading it is one thread-local load,
    /// and it works during thread-local teardown too.
    static TOKEN: Cell<u32> = const { Cell::new(0) };
}

/// Tokens handed out so far.
static TOKENS: AtomicU32 = AtomicU32::new(0);

/// The calling thread's number, never 0. Numbers are handed out in
/// order and wrap after 2^32 threads; a thread then shares its number
/// with the 2^32nd thread before it, which matters only if both are alive
/// and contend for one lock (a spurious re-entry panic).
#[inline(always)]
pub(crate) fn token() -> u32 {
    TOKEN.with(|t| match t.get() {
        0 => new_token(t),
        mine => mine,
    })
}

#[cold]
fn new_token(t: &Cell<u32>) -> u32 {
    let mut mine = 0;
    while mine == 0 {
        mine = TOKENS.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
    }
    t.set(mine);
    mine
}

/// A thread asked for a lock it holds.
#[cold]
#[inline(never)]
pub(crate) fn reentered() -> ! {
    panic!(
        "racedet: a map or cell was used from inside a closure that runs under its own lock \
         (get_with, update, range, retain, or the key's or value's Hash/Eq/Clone/Debug, or \
         the Drop of a value clear or retain removes); \
         that would deadlock: use it after the closure returns"
    )
}

/// How a thread waits for another that holds something briefly: it spins
/// a while, then yields its core, so a holder that was descheduled (on a
/// machine with fewer cores than threads) gets to run.
#[derive(Default)]
pub(crate) struct Backoff {
    spins: u32,
}

impl Backoff {
    /// Whether the waits have gone on long enough to yield the core.
    pub(crate) fn is_yielding(&self) -> bool {
        self.spins >= 64
    }

    /// One wait.
    pub(crate) fn snooze(&mut self) {
        self.spins += 1;
        if self.is_yielding() {
            std::thread::yield_now();
        } else {
            std::hint::spin_loop();
        }
    }
}

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
            starving: AtomicU16::new(0),
            owner: AtomicU32::new(0),
            value: UnsafeCell::new(value),
        }
    }

    /// Locks, spinning (and yielding when contended). Panics if the calling
    /// thread holds it already.
    #[inline]
    pub fn lock(&self) -> SpinGuard<'_, T> {
        if !(self.take() && self.not_reserved()) {
            self.lock_contended();
        }
        self.owner.store(token(), Ordering::Relaxed);
        SpinGuard {
            lock: self,
            _exclusive: PhantomData,
        }
    }

    /// Locks if free and not reserved for a waiter starving for it (a free
    /// lock so reserved is left free: `None`). Panics if the calling thread
    /// holds it already.
    #[inline(always)]
    pub fn try_lock(&self) -> Option<SpinGuard<'_, T>> {
        // A guard is made only on success: one made and dropped on failure
        // would unlock the holder's lock.
        if !self.take() {
            self.check_not_mine();
            return None;
        }
        if !self.not_reserved() {
            return None;
        }
        self.owner.store(token(), Ordering::Relaxed);
        Some(SpinGuard {
            lock: self,
            _exclusive: PhantomData,
        })
    }

    /// One attempt. SeqCst (on x86 the same locked instruction as Acquire):
    /// the map lock's handshake with its shared readers orders this before
    /// its loads.
    #[inline(always)]
    fn take(&self) -> bool {
        !self.locked.swap(true, Ordering::SeqCst)
    }

    /// After a `take` by a thread that has not waited long: whether it may
    /// keep the lock, that is, no waiter is starving for it; if one is,
    /// the lock is freed again for it. (A load of the line the take just
    /// wrote: next to nothing on the fast path.)
    #[inline(always)]
    fn not_reserved(&self) -> bool {
        if self.starving.load(Ordering::Relaxed) == 0 {
            return true;
        }
        self.locked.store(false, Ordering::Release);
        false
    }

    /// Panics if the calling thread holds the lock (see `owner`).
    #[cold]
    fn check_not_mine(&self) {
        if self.owner.load(Ordering::Relaxed) == token() {
            reentered();
        }
    }

    #[cold]
    fn lock_contended(&self) {
        self.check_not_mine();
        let mut backoff = Backoff::default();
        // Once this thread has waited long enough to yield its core, it
        // counts as starving: from then on, threads that have not waited
        // long leave the lock to it and those like it.
        let mut starving = false;
        loop {
            while self.locked.load(Ordering::Relaxed)
                || (!starving && self.starving.load(Ordering::Relaxed) != 0)
            {
                backoff.snooze();
                if !starving && backoff.is_yielding() {
                    starving = true;
                    self.starving.fetch_add(1, Ordering::Relaxed);
                }
            }
            if self.take() {
                if starving {
                    self.starving.fetch_sub(1, Ordering::Relaxed);
                    return;
                }
                if self.not_reserved() {
                    return;
                }
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
        self.lock.owner.store(0, Ordering::Relaxed);
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
    use std::panic::{catch_unwind, AssertUnwindSafe};
    use std::sync::atomic::Ordering;

    fn panic_message(r: std::thread::Result<()>) -> &'static str {
        *r.unwrap_err().downcast::<&'static str>().unwrap()
    }

    #[test]
    fn a_lock_asked_for_again_by_its_holder_panics_and_is_let_go() {
        let lock = SpinLock::new(0);
        let lock_again = || drop(lock.lock());
        let try_again = || drop(lock.try_lock());
        for again in [&lock_again as &dyn Fn(), &try_again] {
            let r = catch_unwind(AssertUnwindSafe(|| {
                let _held = lock.lock();
                again();
            }));
            assert!(panic_message(r).contains("under its own lock"));
            assert!(!lock.is_locked(), "unwinding dropped the holder's guard");
        }
    }

    #[test]
    fn a_lock_held_by_another_thread_is_refused_not_taken_for_reentry() {
        let lock = SpinLock::new(0);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::scope(|s| {
            let held = lock.lock();
            s.spawn(|| {
                // Certainly while held: refused, not a re-entry panic.
                assert!(lock.try_lock().is_none());
                tx.send(()).unwrap();
                // Whether this waits depends on timing.
                *lock.lock() += 1;
            });
            rx.recv().unwrap();
            drop(held);
        });
        assert_eq!(*lock.lock(), 1);
    }

    #[test]
    fn a_waiter_that_waited_long_is_let_in_before_threads_that_did_not() {
        let lock = SpinLock::new(0);
        let held = lock.lock();
        std::thread::scope(|s| {
            let waiter = s.spawn(|| *lock.lock() += 1);
            // It waits until it yields its core, then counts as starving.
            while lock.starving.load(Ordering::Relaxed) == 0 {
                std::thread::yield_now();
            }
            drop(held);
            // Free, but left to the starving waiter: a newcomer backs off.
            // (Until the waiter has it: then it is held, refused anyway.)
            assert!(lock.try_lock().is_none() || lock.starving.load(Ordering::Relaxed) == 0);
            waiter.join().unwrap();
        });
        assert_eq!(
            lock.starving.load(Ordering::Relaxed),
            0,
            "the waiter left the count"
        );
        assert_eq!(*lock.lock(), 1);
    }

    #[test]
    fn a_free_lock_reserved_for_a_starving_waiter_is_refused_and_left_free() {
        let lock = SpinLock::new(0);
        lock.starving.store(1, Ordering::Relaxed);
        assert!(lock.try_lock().is_none());
        assert!(!lock.is_locked(), "the newcomer freed it again");
        lock.starving.store(0, Ordering::Relaxed);
        assert!(lock.try_lock().is_some());
    }

    #[test]
    fn a_failed_try_lock_leaves_the_holder_s_lock_held() {
        let lock = SpinLock::new(0);
        let held = lock.lock();
        std::thread::scope(|s| {
            s.spawn(|| {
                assert!(lock.try_lock().is_none());
                assert!(lock.try_lock().is_none(), "still held after a failed try");
            });
        });
        assert!(lock.is_locked());
        drop(held);
        assert!(lock.try_lock().is_some());
        assert!(!lock.is_locked(), "the successful try's guard unlocked");
    }
}
