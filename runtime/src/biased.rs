//! A lock biased to a thread that uses it alone: that thread enters and
//! leaves with plain stores, every other thread with a spin lock once the
//! bias is revoked.
//!
//! A cell's lock (its value and shadow) is taken on every checked access,
//! and most cells are used by one thread (locals, per-thread state): the
//! spin lock's swap is a locked instruction, which on some hosts costs
//! more than the whole shadow check (W7 `cells`: about 5 of 6.6 ns per
//! operation). The biased thread instead announces itself with a plain
//! store to `inside` and checks the bias again; the first other thread
//! revokes the bias and, before it takes the spin lock, makes every CPU
//! running this process execute a full barrier (Linux's `membarrier`), so
//! either the biased thread saw the revocation and left, or its
//! announcement is visible and the revoker waits for it to leave (the
//! asymmetric form of Dekker's handshake: the rare side pays for both).
//! After that the lock is an ordinary spin lock for every thread.
//!
//! A revocation costs a system call (0.1 to a few microseconds on the
//! machines measured), so biasing must be rare where revoking is likely: a
//! lock starts as a spin lock and is biased only once one thread has taken
//! it `BIAS_AFTER` times in a row (a cell written by one thread and then
//! read once by another never is), and after `MAX_REVOCATIONS`
//! revocations a process biases no more locks (those biased already may
//! still be revoked, once each). Where the barrier is not available (not
//! Linux, or refused), no lock is biased. The process registers for the
//! barrier once (see `prepare_biased_locks`).

use crate::spin::{reentered, Backoff, SpinGuard, SpinLock};
use std::cell::UnsafeCell;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{compiler_fence, AtomicBool, AtomicUsize, Ordering};

/// Not biased yet: threads take the spin lock and count their streaks.
const NOBODY: usize = 0;
/// Unbiased: every thread takes the spin lock.
const SHARED: usize = 2;
/// Tag of a bias being revoked: the biased thread's id plus this (ids are
/// 8-aligned addresses), so that thread can tell it is the one (see
/// `lock_slow`).
const REVOKING: usize = 1;

/// Entries in a row by one thread after which the lock is biased to it.
const BIAS_AFTER: u32 = 8;

/// Revocations after which a process biases no more locks.
const MAX_REVOCATIONS: usize = 1024;

/// Revocations made so far.
static REVOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Its address identifies the calling thread among the live ones
    /// (constant initializer, no destructor: one address computation, and
    /// valid during thread-local teardown). A thread that has exited no
    /// longer uses its bias, so one that gets its address may.
    static ID: u64 = const { 0 };
}

#[inline(always)]
fn thread_id() -> usize {
    ID.with(|id| id as *const u64 as usize)
}

/// A value behind a biased lock.
pub struct BiasedLock<T> {
    /// `NOBODY`, the biased thread's id, that id + `REVOKING`, or `SHARED`.
    bias: AtomicUsize,
    /// Whether the biased thread is inside; written by that thread only.
    inside: AtomicBool,
    /// Taken by every thread while the lock is not biased.
    spin: SpinLock<()>,
    /// While `NOBODY`: the last thread in and how many times in a row it
    /// came. Under `spin` only.
    streak: UnsafeCell<(usize, u32)>,
    value: UnsafeCell<T>,
}

// SAFETY: the biased thread reaches the value only while `inside` and
// biased; other threads only under `spin`, while the lock is `NOBODY`
// (a thread biases it only while holding `spin`, and a thread that gets
// `spin` checks the bias again) or `SHARED`, which it becomes only after
// the biased thread has left (see `revoke`). `streak` is under `spin`.
unsafe impl<T: Send> Sync for BiasedLock<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Send for BiasedLock<T> {}

/// Exclusive access to a `BiasedLock`'s value.
pub struct BiasedGuard<'a, T> {
    lock: &'a BiasedLock<T>,
    /// `None` for the biased thread.
    spin: Option<SpinGuard<'a, ()>>,
    /// The thread to bias the lock to when this spin-locked entry ends (the
    /// end of its streak). Not before: a closure run under this entry that
    /// took the lock again would come in biased, beside this entry, instead
    /// of meeting the spin lock's re-entry panic.
    bias_to: usize,
    // As `SpinGuard`: `&mut T` is handed out.
    _exclusive: PhantomData<&'a mut T>,
    // Not `Send` (as std's `MutexGuard`): the biased thread's guard must
    // clear `inside` on that thread, whose next entry reads it relaxed.
    _here: PhantomData<*const ()>,
}

impl<T> BiasedLock<T> {
    /// An unlocked, unbiased lock (biased once a thread has taken it
    /// `BIAS_AFTER` times in a row).
    pub const fn new(value: T) -> BiasedLock<T> {
        BiasedLock {
            bias: AtomicUsize::new(NOBODY),
            inside: AtomicBool::new(false),
            spin: SpinLock::new(()),
            streak: UnsafeCell::new((0, 0)),
            value: UnsafeCell::new(value),
        }
    }

    /// Locks. Panics if the calling thread holds it already.
    #[inline(always)]
    pub fn lock(&self) -> BiasedGuard<'_, T> {
        let me = thread_id();
        if self.bias.load(Ordering::Relaxed) == me && self.enter_biased(me) {
            return BiasedGuard {
                lock: self,
                spin: None,
                bias_to: NOBODY,
                _exclusive: PhantomData,
                _here: PhantomData,
            };
        }
        self.lock_slow(me)
    }

    /// The biased thread's entry: announce, then check the bias again.
    #[inline(always)]
    fn enter_biased(&self, me: usize) -> bool {
        if self.inside.load(Ordering::Relaxed) {
            reentered();
        }
        self.inside.store(true, Ordering::Relaxed);
        // Keeps the compiler from moving the load above the store; the
        // CPU may still, and `revoke`'s barrier covers that.
        compiler_fence(Ordering::SeqCst);
        // Acquire: the value's accesses stay after this check (a plain
        // load on x86).
        if self.bias.load(Ordering::Acquire) == me {
            return true;
        }
        self.inside.store(false, Ordering::Release);
        false
    }

    #[cold]
    #[inline(never)]
    fn lock_slow(&self, me: usize) -> BiasedGuard<'_, T> {
        let mut backoff = Backoff::default();
        loop {
            match self.bias.load(Ordering::Acquire) {
                SHARED => return self.spin_guard(self.spin.lock()),
                NOBODY => {
                    let spin = self.spin.lock();
                    // Biased meanwhile by the spin lock's last holder,
                    // which now enters without it: revoke first.
                    if self.bias.load(Ordering::Acquire) != NOBODY {
                        continue;
                    }
                    // SAFETY: under `spin`.
                    let streak = unsafe { &mut *self.streak.get() };
                    if streak.0 == me {
                        streak.1 += 1;
                    } else {
                        *streak = (me, 1);
                    }
                    let mut guard = self.spin_guard(spin);
                    if streak.1 >= BIAS_AFTER {
                        // From its next entry on, this thread comes in
                        // without the spin lock; without the barrier,
                        // nobody will, and counting stops.
                        guard.bias_to = if may_bias() { me } else { SHARED };
                    }
                    return guard;
                }
                revoking if revoking & REVOKING != 0 => {
                    // This thread's own bias, revoked while it is inside:
                    // the revoker waits for it, and it would wait for the
                    // revoker.
                    if revoking == me + REVOKING && self.inside.load(Ordering::Relaxed) {
                        reentered();
                    }
                    backoff.snooze();
                }
                owner => self.revoke(owner),
            }
        }
    }

    fn spin_guard<'a>(&'a self, spin: SpinGuard<'a, ()>) -> BiasedGuard<'a, T> {
        BiasedGuard {
            lock: self,
            spin: Some(spin),
            bias_to: NOBODY,
            _exclusive: PhantomData,
            _here: PhantomData,
        }
    }

    /// Takes the bias from `owner` (another thread, or this one's stale
    /// bias seen before it changed) and leaves the lock `SHARED` once the
    /// biased thread is out.
    #[cold]
    fn revoke(&self, owner: usize) {
        if self
            .bias
            .compare_exchange(owner, owner + REVOKING, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            return;
        }
        REVOCATIONS.fetch_add(1, Ordering::Relaxed);
        // After this, the biased thread either saw the revocation (its
        // second load of `bias` follows the barrier) or its `inside` store
        // is visible here (it preceded the barrier).
        barrier::everywhere();
        let mut backoff = Backoff::default();
        // Acquire: its accesses happen before the spin lock's holders'.
        while self.inside.load(Ordering::Acquire) {
            backoff.snooze();
        }
        self.bias.store(SHARED, Ordering::Release);
    }

    /// Exclusive access through `&mut` (no locking needed).
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }

    /// The value.
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }

    /// Whether the lock is biased to a thread now.
    #[cfg(test)]
    fn is_biased(&self) -> bool {
        let bias = self.bias.load(Ordering::Relaxed);
        bias != NOBODY && bias != SHARED && bias & REVOKING == 0
    }
}

/// Registers the process for the revocations' barrier now. Registering
/// takes microseconds while the process has one thread, and milliseconds
/// once it has several (the kernel then waits for a grace period), so
/// `racedet` calls this before `main` (a start-up constructor) where it
/// can; otherwise the first biasing registers.
pub fn prepare_biased_locks() {
    barrier::available();
}

/// Whether a lock may be biased now.
fn may_bias() -> bool {
    REVOCATIONS.load(Ordering::Relaxed) < MAX_REVOCATIONS && barrier::available()
}

impl<T> Deref for BiasedGuard<'_, T> {
    type Target = T;
    #[inline(always)]
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for BiasedGuard<'_, T> {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for BiasedGuard<'_, T> {
    #[inline(always)]
    fn drop(&mut self) {
        if self.spin.is_none() {
            self.lock.inside.store(false, Ordering::Release);
        } else if self.bias_to != NOBODY {
            // Still under the spin lock (the field drops after this), so
            // whoever takes it next sees the bias.
            self.lock.bias.store(self.bias_to, Ordering::Release);
        }
    }
}

impl<T: Default> Default for BiasedLock<T> {
    fn default() -> Self {
        BiasedLock::new(T::default())
    }
}

/// The process-wide barrier a revocation needs.
mod barrier {
    #[cfg(target_os = "linux")]
    mod imp {
        use std::sync::OnceLock;

        // From <linux/membarrier.h>.
        const CMD_QUERY: libc::c_long = 0;
        const CMD_PRIVATE_EXPEDITED: libc::c_long = 1 << 3;
        const CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_long = 1 << 4;

        fn membarrier(cmd: libc::c_long) -> libc::c_long {
            // SAFETY: membarrier takes a command and two zero arguments
            // and touches no memory of ours.
            unsafe {
                libc::syscall(
                    libc::SYS_membarrier,
                    cmd,
                    0 as libc::c_long,
                    0 as libc::c_long,
                )
            }
        }

        /// Registers once (the kernel wants it before the first expedited
        /// barrier); false if the kernel lacks the command or refuses.
        pub(crate) fn available() -> bool {
            static REGISTERED: OnceLock<bool> = OnceLock::new();
            *REGISTERED.get_or_init(|| {
                let supported = membarrier(CMD_QUERY);
                supported >= 0
                    && supported & CMD_PRIVATE_EXPEDITED != 0
                    && membarrier(CMD_REGISTER_PRIVATE_EXPEDITED) == 0
            })
        }

        /// Every CPU running a thread of this process executes a full
        /// barrier before this returns.
        pub(crate) fn everywhere() {
            // Only reached for a lock that was biased, which `available`
            // allowed after registering, so the kernel accepts it — unless
            // this is a child of `fork` whose kernel did not carry the
            // registration over: then register again.
            if membarrier(CMD_PRIVATE_EXPEDITED) != 0
                && (membarrier(CMD_REGISTER_PRIVATE_EXPEDITED) != 0
                    || membarrier(CMD_PRIVATE_EXPEDITED) != 0)
            {
                crate::global::fatal(&format!(
                    "racedet: membarrier failed after registration ({}); \
                     run without seccomp filters that block it",
                    std::io::Error::last_os_error()
                ));
            }
        }
    }

    #[cfg(not(target_os = "linux"))]
    mod imp {
        pub(crate) fn available() -> bool {
            false
        }

        pub(crate) fn everywhere() {
            unreachable!("no lock is biased without a process-wide barrier")
        }
    }

    pub(super) use imp::{available, everywhere};
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    fn panic_message(r: std::thread::Result<()>) -> String {
        let p = r.unwrap_err();
        p.downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap()
    }

    /// Takes `lock` enough times in a row to bias it to this thread (where
    /// the barrier is available: tests of biased states return early
    /// otherwise).
    fn bias_here<T>(lock: &BiasedLock<T>) -> bool {
        for _ in 0..BIAS_AFTER {
            drop(lock.lock());
        }
        assert_eq!(lock.is_biased(), barrier::available());
        lock.is_biased()
    }

    #[test]
    fn a_thread_that_takes_it_alone_gets_the_bias_until_another_takes_it() {
        let lock = BiasedLock::new(0u64);
        for _ in 1..BIAS_AFTER {
            *lock.lock() += 1;
        }
        assert!(!lock.is_biased(), "not yet");
        *lock.lock() += 1;
        assert_eq!(lock.is_biased(), barrier::available());
        std::thread::scope(|s| {
            s.spawn(|| *lock.lock() += 1);
        });
        assert!(!lock.is_biased(), "revoked by the second thread");
        assert_eq!(lock.bias.load(Ordering::Relaxed), SHARED);
        *lock.lock() += 1;
        assert_eq!(*lock.lock(), u64::from(BIAS_AFTER) + 2);
    }

    #[test]
    fn taking_it_again_inside_the_entry_that_ends_a_streak_panics() {
        let lock = BiasedLock::new(0);
        for _ in 1..BIAS_AFTER {
            drop(lock.lock());
        }
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _held = lock.lock();
            drop(lock.lock());
        }));
        assert!(panic_message(r).contains("under its own lock"));
        assert_eq!(lock.is_biased(), barrier::available(), "biased as it ended");
    }

    #[test]
    fn threads_taking_turns_or_handing_over_never_bias_it() {
        let lock = BiasedLock::new(0u64);
        // Written by one thread, then read by another: no bias to revoke.
        *lock.lock() += 1;
        std::thread::scope(|s| {
            s.spawn(|| *lock.lock() += 1);
        });
        // Turns, each shorter than a streak.
        for _ in 0..4 {
            for _ in 1..BIAS_AFTER {
                *lock.lock() += 1;
            }
            std::thread::scope(|s| {
                s.spawn(|| *lock.lock() += 1);
            });
        }
        assert_eq!(lock.bias.load(Ordering::Relaxed), NOBODY);
        assert_eq!(*lock.lock(), 2 + 4 * u64::from(BIAS_AFTER));
    }

    #[test]
    fn the_biased_thread_leaves_the_spin_lock_alone() {
        let lock = BiasedLock::new(0);
        if !bias_here(&lock) {
            return;
        }
        let held = lock.lock();
        assert!(!lock.spin.is_locked(), "entered by plain stores");
        assert!(lock.inside.load(Ordering::Relaxed));
        drop(held);
        assert!(!lock.inside.load(Ordering::Relaxed));
    }

    /// Waits for `done` (polling: the other thread's progress), failing
    /// instead of hanging if it never comes.
    fn eventually(what: &str, done: impl Fn() -> bool) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !done() {
            assert!(std::time::Instant::now() < deadline, "gave up: {what}");
            std::thread::yield_now();
        }
    }

    #[test]
    fn the_biased_thread_asking_again_while_revoked_panics_instead_of_waiting() {
        let lock = BiasedLock::new(0);
        if !bias_here(&lock) {
            return;
        }
        std::thread::scope(|s| {
            let held = lock.lock();
            let revoker = s.spawn(|| *lock.lock() += 1);
            // The revoker has taken the bias and waits for this thread.
            eventually("revoking", || {
                lock.bias.load(Ordering::Relaxed) & REVOKING != 0
            });
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                drop(lock.lock());
            }));
            assert!(panic_message(r).contains("under its own lock"));
            drop(held);
            revoker.join().unwrap();
        });
        assert!(!lock.is_biased());
        assert_eq!(*lock.lock(), 1);
    }

    #[test]
    fn a_revoker_waits_for_the_biased_thread_to_leave() {
        let lock = BiasedLock::new(Vec::new());
        bias_here(&lock);
        lock.lock().push(0);
        let (tx, rx) = mpsc::channel();
        std::thread::scope(|s| {
            let mut held = lock.lock();
            s.spawn(|| {
                tx.send(()).unwrap();
                // Gets in only after the biased holder left.
                lock.lock().push(2);
            });
            rx.recv().unwrap();
            // However long this takes, the other thread is outside.
            for _ in 0..1000 {
                std::thread::yield_now();
            }
            held.push(1);
            drop(held);
        });
        assert_eq!(*lock.lock(), [0, 1, 2]);
    }

    #[test]
    fn taking_it_again_inside_panics_biased_or_not() {
        let lock = BiasedLock::new(0);
        bias_here(&lock);
        for _ in 0..2 {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let _held = lock.lock();
                drop(lock.lock());
            }));
            assert!(panic_message(r).contains("under its own lock"));
            // Unwinding let it go.
            *lock.lock() += 1;
            // The second round: unbiased.
            std::thread::scope(|s| {
                s.spawn(|| *lock.lock() += 1);
            });
        }
        assert_eq!(*lock.lock(), 4);
    }

    #[test]
    fn revocations_in_the_middle_of_the_biased_thread_s_run_lose_no_update() {
        // Each round's second thread revokes while the first is counting
        // with plain stores, wherever its run has got to (the handshake's
        // window); a lost update would show in the total.
        for _ in 0..200 {
            let lock = BiasedLock::new(0u64);
            let started = AtomicBool::new(false);
            std::thread::scope(|s| {
                s.spawn(|| {
                    for i in 0..2_000 {
                        *lock.lock() += 1;
                        if i == 10 {
                            started.store(true, Ordering::Release);
                        }
                    }
                });
                s.spawn(|| {
                    while !started.load(Ordering::Acquire) {
                        std::hint::spin_loop();
                    }
                    for _ in 0..2_000 {
                        *lock.lock() += 1;
                    }
                });
            });
            assert_eq!(*lock.lock(), 4_000);
        }
    }

    #[test]
    fn many_threads_counting_lose_no_update() {
        let lock = BiasedLock::new(0u64);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..20_000 {
                        *lock.lock() += 1;
                    }
                });
            }
        });
        assert_eq!(*lock.lock(), 80_000);
    }
}
