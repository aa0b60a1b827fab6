//! Thread parking: an unpark happens before the park it releases.
//!
//! Each thread has a park clock that unparkers merge into and the thread
//! acquires when `park` returns. std's token is one bit, so several unparks
//! may release one park: the park acquires them all, which is exact (every
//! unpark merged so far was either consumed by an earlier park of this
//! thread, already acquired, or is released by this one). A park that
//! returns spuriously or on timeout while an unpark is in flight may take
//! that unpark a little early; the next park would have taken it anyway.
//!
//! The clock is reached from `racedet::thread::Thread` handles (which carry
//! it) and from the thread itself (a thread-local), so no global table is
//! needed and it is freed with the last handle.

use crate::sync::{acquire, release_merge};
use parking_lot::Mutex;
use racedet_detector::SyncClock;
use std::cell::RefCell;
use std::panic::RefUnwindSafe;
use std::sync::Arc;

/// The park clock of one thread.
#[derive(Default)]
pub struct ParkClock {
    clock: Mutex<SyncClock>,
}

// A clock behind a lock that unwinding releases: std's `Thread` is
// `RefUnwindSafe`, and so is ours, which carries this.
impl RefUnwindSafe for ParkClock {}

impl ParkClock {
    /// A clock no unpark has released into.
    pub fn new() -> Arc<ParkClock> {
        Arc::new(ParkClock::default())
    }

    /// Before the real unpark: the released park sees everything the
    /// unparking thread did.
    pub fn unparking(&self) {
        release_merge(&mut self.clock.lock());
    }

    fn parked(&self) {
        acquire(&self.clock.lock());
    }
}

thread_local! {
    static MINE: RefCell<Option<Arc<ParkClock>>> = const { RefCell::new(None) };
}

/// The calling thread's park clock, made on first use.
pub fn current_park_clock() -> Arc<ParkClock> {
    MINE.try_with(|m| m.borrow_mut().get_or_insert_with(ParkClock::new).clone())
        // Thread-locals being torn down: a fresh clock orders nothing,
        // which can only miss an edge in a dying thread.
        .unwrap_or_else(|_| ParkClock::new())
}

/// First thing in a racedet-spawned thread: the park clock its handles
/// (made by the parent at spawn) already carry.
pub fn install_park_clock(clock: Arc<ParkClock>) {
    let _ = MINE.try_with(|m| *m.borrow_mut() = Some(clock));
}

/// After the real `park` / `park_timeout` returned.
pub fn parked() {
    let _ = MINE.try_with(|m| {
        if let Some(clock) = m.borrow().as_ref() {
            clock.parked();
        }
    });
}
