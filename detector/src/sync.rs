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
    /// Names the carried clock: the epoch of the release that produced it
    /// (unique: every release ticks its thread), or 0 when it came from
    /// elsewhere (`merge_clock`, `clear`). A thread that has acquired a
    /// clock with this name already has everything in it, so it can skip
    /// the join; so can, at a lock (`acquire_lock`), the thread that made a
    /// store-form release of that name.
    ///
    /// The name also says who released last: if that was the releasing
    /// thread itself, by a store (see `release_store`), and its clock has
    /// changed only by ticks since, only its own entry differs, and its
    /// release is one store, not a copy.
    /// No separate owner field is needed, so a clock of up to 5 slots and
    /// its name take 56 bytes, and a mutex's lock word fits beside them in
    /// one cache line.
    name: u64,
}

impl SyncClock {
    /// A clock that orders nothing yet.
    pub const fn new() -> SyncClock {
        SyncClock {
            clock: VectorClock::new(),
            name: 0,
        }
    }

    /// The carried clock.
    #[inline]
    pub fn clock(&self) -> &VectorClock {
        &self.clock
    }

    /// Lock / receive / wake: `thread` sees everything released here.
    #[inline(always)]
    pub fn acquire(&self, thread: &mut ThreadState) {
        if self.name != 0 && thread.has_acquired(self.name) {
            return;
        }
        self.join_into(thread);
    }

    /// Lock of a lock whose clock takes store-form releases only (see
    /// [`SyncClock::release_lock`]): [`SyncClock::acquire`], which also
    /// skips the join when this thread made the last release itself. A
    /// store-form release left exactly the releaser's clock of the time,
    /// which the releaser's clock has only grown past since, so the join
    /// would teach it nothing; and this way unlocks need not note their
    /// own names in the acquired cache (a lock cycling in one thread, or
    /// a thread coming back to a shard it left, costs two compares). The
    /// caller guarantees what `release_lock`'s does: after a merge by this
    /// thread the name is its own but the clock also carries other
    /// threads' parts, and skipping the join would miss them (false
    /// races).
    #[inline(always)]
    pub fn acquire_lock(&self, thread: &mut ThreadState) {
        if thread.released(self.name) {
            return;
        }
        self.acquire(thread);
    }

    // Out of line: what stays inline at every lock is the name checks
    // above (own release, acquired cache).
    #[inline(never)]
    fn join_into(&self, thread: &mut ThreadState) {
        thread.acquire(&self.clock);
        if self.name != 0 {
            thread.remember_acquired(self.name);
        }
    }

    /// Unlock (store form): the object now carries exactly `thread`'s clock.
    #[inline(always)]
    pub fn release_store(&mut self, thread: &mut ThreadState) {
        // The one-store path needs this thread's own last release to have
        // been a store (`release_store` remembers its name; a merge does
        // not, nor does `release_lock`, so a clock that mixes forms takes
        // the copy then): after a merge the clock also carries other
        // threads' parts, which a store must drop.
        let one_store = self.owned_by(thread) && thread.has_acquired(self.name);
        self.store(thread, one_store);
        // The releaser has all of it: re-acquiring it (a lock taken again by
        // the same thread) costs nothing.
        thread.remember_acquired(self.name);
        thread.tick();
    }

    /// Unlock of a lock whose clock takes store-form releases only (a
    /// mutex, a write lock): [`SyncClock::release_store`] without asking
    /// whether this thread's own last release here was a merge, which
    /// such a clock never takes. The caller guarantees that: after a merge
    /// by this thread, the one-store path would keep the other threads'
    /// parts the merge brought, ordering later acquirers after them (missed
    /// races). Every unlock of a racedet `Mutex` or write lock runs it.
    ///
    /// Unlike `release_store` it does not note the name in the thread's
    /// acquired cache: the next lock's [`SyncClock::acquire_lock`] knows
    /// the thread's own releases by their name.
    #[inline(always)]
    pub fn release_lock(&mut self, thread: &mut ThreadState) {
        self.store(thread, self.owned_by(thread));
        thread.tick();
    }

    #[inline(always)]
    fn store(&mut self, thread: &mut ThreadState, one_store: bool) {
        if one_store {
            self.clock.set(thread.tid, thread.epoch().clock());
        } else {
            self.store_from(thread);
        }
        self.name = thread.epoch().to_bits();
    }

    /// Read-unlock / send / annotation (merge form): the object carries
    /// `thread`'s clock in addition to what it carried.
    #[inline(always)]
    pub fn release_merge(&mut self, thread: &mut ThreadState) {
        if self.owned_by(thread) {
            self.clock.set(thread.tid, thread.epoch().clock());
        } else {
            self.merge_from(thread);
        }
        // A new name: the merged clock is new, though the releaser may not
        // have all of it.
        self.name = thread.epoch().to_bits();
        thread.tick();
    }

    /// Whether `thread` released here last and its clock has changed only
    /// in its own entry since (a name of 0 never passes: it has clock 0).
    #[inline(always)]
    fn owned_by(&self, thread: &ThreadState) -> bool {
        thread.released_unchanged(self.name)
    }

    // The two slow paths stay out of line: the one-store path above is
    // what a lock cycling in one thread runs, and it inlines small.
    #[inline(never)]
    fn store_from(&mut self, thread: &ThreadState) {
        self.clock.assign(&thread.clock);
    }

    #[inline(never)]
    fn merge_from(&mut self, thread: &ThreadState) {
        self.clock.join(&thread.clock);
    }

    /// Adds a bare clock (e.g. a thread's final clock into its scope's).
    pub fn merge_clock(&mut self, clock: &VectorClock) {
        self.name = 0;
        self.clock.join(clock);
    }

    /// Forgets everything (e.g. a reader clock once a writer has absorbed it).
    #[inline]
    pub fn clear(&mut self) {
        self.name = 0;
        self.clock.clear();
    }
}

#[cfg(test)]
mod tests {
    use crate::{Detector, SyncClock};

    #[test]
    fn releases_one_per_closure_keep_their_acquired_names_apart() {
        // A thread releasing once per closure names its releases a span's
        // reserve apart (the release inside the closure) or one more (after
        // it): every one must stay in the cache.
        for inside in [true, false] {
            let mut d = Detector::new();
            let mut t = d.root_thread().unwrap();
            let mut v = d.fork(&mut t).unwrap();
            let mut locks: Vec<SyncClock> = (0..8).map(|_| SyncClock::new()).collect();
            for lock in &mut locks {
                let span = t.open_span();
                if inside {
                    lock.release_store(&mut t);
                }
                t.end_span(span);
                if !inside {
                    lock.release_store(&mut t);
                }
            }
            for lock in &locks {
                lock.acquire(&mut v);
            }
            let kept = locks.iter().filter(|l| v.has_acquired(l.name)).count();
            assert_eq!(kept, locks.len(), "released inside the closure: {inside}");
        }
    }
}
