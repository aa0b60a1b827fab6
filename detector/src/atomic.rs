//! The synchronization half of an atomic location: C++11 release sequences.

use crate::clock::VectorClock;
use crate::thread::ThreadState;
use std::sync::atomic::Ordering;

/// What an atomic location carries to the loads that read from it.
///
/// `release` is the join of the clocks of every release head whose release
/// sequence the location's current value belongs to (C++20 rules): a
/// release store starts a new sequence; an RMW, of any ordering, continues
/// the sequence of the value it read; a relaxed store ends it. A relaxed
/// store or RMW after a `fence(Release)` carries that fence's clock instead.
///
/// The caller serializes operations on one location (the order of calls is
/// the modification order), and performs the real atomic operation under the
/// same serialization, so "reads from" is "the latest call before".
#[derive(Debug, Clone, Default)]
pub struct AtomicSync {
    release: VectorClock,
}

/// Whether `order` has acquire semantics on a load.
#[inline]
pub fn is_acquire(order: Ordering) -> bool {
    matches!(
        order,
        Ordering::Acquire | Ordering::AcqRel | Ordering::SeqCst
    )
}

/// Whether `order` has release semantics on a store.
#[inline]
pub fn is_release(order: Ordering) -> bool {
    matches!(
        order,
        Ordering::Release | Ordering::AcqRel | Ordering::SeqCst
    )
}

impl AtomicSync {
    /// A location whose initial value publishes nothing.
    pub const fn new() -> AtomicSync {
        AtomicSync {
            release: VectorClock::new(),
        }
    }

    /// The clock an acquire load would take now.
    pub fn release_clock(&self) -> &VectorClock {
        &self.release
    }

    /// A load (or the failure path of a compare-exchange) with `order`.
    #[inline]
    pub fn load(&self, thread: &mut ThreadState, order: Ordering) {
        if is_acquire(order) {
            thread.acquire(&self.release);
        } else {
            // Relaxed: nothing now, but a later fence(Acquire) takes it.
            thread.acquire_pending.join(&self.release);
        }
    }

    /// A plain store with `order`.
    #[inline]
    pub fn store(&mut self, thread: &mut ThreadState, order: Ordering) {
        if is_release(order) {
            self.release.assign(&thread.clock);
            thread.tick();
        } else {
            // A relaxed store ends any release sequence; only an earlier
            // release fence of this thread is published.
            self.release.assign(&thread.release_fence);
        }
    }

    /// A store by a thread the detector does not follow (one whose state
    /// has ended, storing from a late thread-local destructor): it ends the
    /// release sequence like any store, and what it publishes is unknown,
    /// so a load that reads it acquires nothing — not the previous
    /// writer's release, which would hide that writer's races.
    pub fn store_unseen(&mut self) {
        self.release = VectorClock::new();
    }

    /// The write half of a read-modify-write (swap, fetch_*, successful
    /// compare-exchange); its read half is [`AtomicSync::load`], called
    /// first. The halves are separate because a caller checks the access
    /// between them: after the acquire (what it acquired orders earlier
    /// accesses), before the release (so the release covers the access).
    #[inline]
    pub fn rmw_write(&mut self, thread: &mut ThreadState, order: Ordering) {
        if is_release(order) {
            self.release.join(&thread.clock);
            thread.tick();
        } else {
            // Continues the release sequence it read from.
            self.release.join(&thread.release_fence);
        }
    }
}
