//! `Condvar`: a wait releases the mutex like an unlock and re-acquires it
//! like a lock, so the hand-off between the notifier and the woken waiter
//! goes through the mutex, as in TSan and Go.
//!
//! There is deliberately no notify → wake edge: a wait may return
//! spuriously or on timeout, so being woken proves nothing; code that
//! relies on a notify without the mutex has a race, and it is reported.

use super::map_result;
use super::mutex::MutexGuard;
use std::fmt;
use std::sync::LockResult;
use std::time::{Duration, Instant};

/// std's `Condvar`, used with racedet's `MutexGuard`.
#[derive(Default)]
pub struct Condvar {
    inner: std::sync::Condvar,
}

/// Whether a timed wait timed out (std's `WaitTimeoutResult`).
#[derive(Debug, PartialEq, Eq, Copy, Clone)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// Whether the wait ended because the time ran out.
    pub fn timed_out(&self) -> bool {
        self.0
    }
}

impl Condvar {
    /// A condition variable nobody waits on.
    pub const fn new() -> Condvar {
        Condvar {
            inner: std::sync::Condvar::new(),
        }
    }

    /// Unlocks, waits for a notification (or a spurious wake-up), re-locks.
    pub fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> LockResult<MutexGuard<'a, T>> {
        let (inner, mutex) = guard.unlock_for_wait();
        map_result(self.inner.wait(inner), |g| mutex.guard(g))
    }

    /// Waits while `condition` holds (std's loop, so every re-lock is an
    /// acquire before the condition is checked again).
    pub fn wait_while<'a, T, F>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut condition: F,
    ) -> LockResult<MutexGuard<'a, T>>
    where
        F: FnMut(&mut T) -> bool,
    {
        while condition(&mut *guard) {
            guard = self.wait(guard)?;
        }
        Ok(guard)
    }

    /// As [`Condvar::wait`], for at most `dur`.
    pub fn wait_timeout<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        dur: Duration,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)> {
        let (inner, mutex) = guard.unlock_for_wait();
        map_result(self.inner.wait_timeout(inner, dur), |(g, r)| {
            (mutex.guard(g), WaitTimeoutResult(r.timed_out()))
        })
    }

    /// std's deprecated [`Condvar::wait_timeout`] in milliseconds.
    #[deprecated(since = "1.6.0", note = "replaced by `Condvar::wait_timeout`")]
    pub fn wait_timeout_ms<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        ms: u32,
    ) -> LockResult<(MutexGuard<'a, T>, bool)> {
        map_result(
            self.wait_timeout(guard, Duration::from_millis(ms.into())),
            |(g, r)| (g, !r.timed_out()),
        )
    }

    /// As [`Condvar::wait_while`], for at most `dur` in all (std's loop).
    pub fn wait_timeout_while<'a, T, F>(
        &self,
        mut guard: MutexGuard<'a, T>,
        dur: Duration,
        mut condition: F,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)>
    where
        F: FnMut(&mut T) -> bool,
    {
        let start = Instant::now();
        loop {
            if !condition(&mut *guard) {
                return Ok((guard, WaitTimeoutResult(false)));
            }
            let timeout = match dur.checked_sub(start.elapsed()) {
                Some(timeout) => timeout,
                None => return Ok((guard, WaitTimeoutResult(true))),
            };
            guard = self.wait_timeout(guard, timeout)?.0;
        }
    }

    /// Wakes one waiter.
    pub fn notify_one(&self) {
        self.inner.notify_one()
    }

    /// Wakes every waiter.
    pub fn notify_all(&self) {
        self.inner.notify_all()
    }
}

impl fmt::Debug for Condvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condvar").finish_non_exhaustive()
    }
}
