//! Clocks of synchronization objects: locks, channels, barriers, annotations.

use crate::clock::VectorClock;
use crate::thread::ThreadState;

/// The clock a synchronization object carries from releasers to acquirers.
///
/// Two release forms exist because locks need both: a mutex unlock or a
/// write-unlock *stores* (the next owner saw everything the previous owner
/// saw, and owners are totally ordered), while read-unlocks *merge* (several
/// readers release concurrently, and the next writer must see all of them).
#[derive(Debug, Clone, Default)]
pub struct SyncClock {
    clock: VectorClock,
}

impl SyncClock {
    /// A clock that orders nothing yet.
    pub const fn new() -> SyncClock {
        SyncClock {
            clock: VectorClock::new(),
        }
    }

    /// The carried clock.
    pub fn clock(&self) -> &VectorClock {
        &self.clock
    }

    /// Lock / receive / wake: `thread` sees everything released here.
    #[inline]
    pub fn acquire(&self, thread: &mut ThreadState) {
        thread.acquire(&self.clock);
    }

    /// Unlock (store form): the object now carries exactly `thread`'s clock.
    #[inline]
    pub fn release_store(&mut self, thread: &mut ThreadState) {
        self.clock.assign(&thread.clock);
        thread.tick();
    }

    /// Read-unlock / send / annotation (merge form): the object carries
    /// `thread`'s clock in addition to what it carried.
    #[inline]
    pub fn release_merge(&mut self, thread: &mut ThreadState) {
        self.clock.join(&thread.clock);
        thread.tick();
    }

    /// Adds what another object carries (e.g. a write-lock acquire also
    /// acquires the readers' merged clock: callers acquire both).
    pub fn merge(&mut self, other: &SyncClock) {
        self.clock.join(&other.clock);
    }

    /// Adds a bare clock (e.g. a thread's final clock into its scope's).
    pub fn merge_clock(&mut self, clock: &VectorClock) {
        self.clock.join(clock);
    }

    /// Forgets everything (e.g. a reader clock once a writer has absorbed it).
    pub fn clear(&mut self) {
        self.clock.clear();
    }
}
