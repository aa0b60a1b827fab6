//! One-time initialization (`Once`, `OnceLock`): the initialization
//! happens before every observer of its completion.

use crate::sync::{acquire, release_store};
use racedet_detector::SyncClock;
use std::cell::UnsafeCell;
use std::panic::RefUnwindSafe;

/// The clock of one `Once`, next to the real (std) once that guards it.
///
/// Written at the end of each initialization attempt — a panicking one
/// too, which std's once then marks poisoned — by the initializing closure
/// while std's once is running it (exclusively); read by the next attempt
/// (std runs one after a poisoned once, in `call_once_force` or a retried
/// `OnceLock::get_or_init`, having ordered it after the failed one) and by
/// threads that have observed completion, which std orders after the
/// closure returned. So std's once itself serializes every access, and
/// nobody reads or writes the clock under a lock.
pub struct OnceClock {
    clock: UnsafeCell<SyncClock>,
}

// SAFETY: see the type's doc: std's once runs one attempt at a time and
// orders each attempt's write before the next attempt and every observer.
unsafe impl Sync for OnceClock {}

// The clock is written only after the user's initializer has returned or
// unwound (no user code runs during the write), so a caught panic cannot
// expose a half-written clock.
impl RefUnwindSafe for OnceClock {}

impl Default for OnceClock {
    fn default() -> Self {
        OnceClock::new()
    }
}

impl OnceClock {
    /// No initialization yet (`const`, for statics).
    pub const fn new() -> OnceClock {
        OnceClock {
            clock: UnsafeCell::new(SyncClock::new()),
        }
    }

    /// In the initializing closure, before the user's initializer runs:
    /// sees what an earlier, failed attempt did (nothing if none failed).
    ///
    /// # Safety
    /// Called only from inside the std once's initialization closure.
    #[inline]
    pub unsafe fn attempting(&self) {
        acquire(&*self.clock.get());
    }

    /// In the initializing closure, after the user's initializer returned
    /// or while it unwinds: publishes everything the initializing thread
    /// did (with what an earlier failed attempt did, which it has seen).
    ///
    /// # Safety
    /// Called only from inside the std once's initialization closure.
    #[inline]
    pub unsafe fn initialized(&self) {
        release_store(&mut *self.clock.get());
    }

    /// After observing completion (a call that returned after the
    /// initialization, a `get` that found the value...).
    ///
    /// # Safety
    /// The caller has observed, through std's once, that the
    /// initialization completed.
    #[inline]
    pub unsafe fn observed(&self) {
        acquire(&*self.clock.get());
    }

    /// Forgets the initialization (`OnceLock::take`: exclusive access).
    pub fn reset(&mut self) {
        *self.clock.get_mut() = SyncClock::new();
    }
}
