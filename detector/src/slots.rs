//! The slot registry: which thread runs in which vector-clock slot, and
//! when a slot may be handed to a new thread.

use crate::clock::VectorClock;
use crate::epoch::{Epoch, Tid};
use crate::thread::ThreadState;
use std::collections::VecDeque;
use std::fmt;

/// How many free slots `fork` inspects before opening a new one: keeps fork
/// O(1). Free slots are tried oldest first and rotated when not yet usable,
/// because a slot freed long ago is the one most likely joined by now (a
/// parent spawning a wave sees the wave's first threads end before it joins
/// any of them).
const REUSE_CANDIDATES: usize = 8;

/// Slots open before `fork` may *claim* the slot of an ended thread its
/// parent has not seen end (see [`Detector`]). Below it `fork` hands an
/// ended thread's slot only to a child of a thread that has seen the end,
/// which is exact (threads racedet did not spawn claim from the start:
/// [`Detector::adopt_thread`]). Past it a program that leaves threads
/// unjoined (a thread per connection whose handle is dropped) would
/// otherwise open a slot per thread, every vector clock growing with the
/// threads ever created, until no slot is left.
pub const CLAIM_AFTER_SLOTS: usize = 1024;

#[derive(Copy, Clone, Debug)]
enum Slot {
    Live,
    /// The thread ended at clock `last`.
    Free {
        last: u64,
    },
    /// The slot's clock is used up; it is never handed out again.
    Retired,
}

/// The engine's only shared state: slot allocation. Everything an access
/// needs lives in the [`ThreadState`] and the [`crate::Shadow`], so the
/// caller only locks this on thread start and end (and to adopt or move a
/// thread).
///
/// **Slot reuse.** A slot of an ended thread is given to a new thread only
/// if the forking parent has seen the ended thread's last epoch (for example
/// because it joined it). The child inherits the parent's clock and starts
/// its slot's clock above that last epoch, so every old epoch of the slot is
/// below the child's entry: anyone who sees the child's later epochs has, by
/// transitivity, also seen the old thread's end, and old epochs compare
/// correctly against every clock. Vector clocks therefore grow with the
/// number of threads alive at once, not with the number ever created.
///
/// Once [`CLAIM_AFTER_SLOTS`] slots are open and no freed slot passes that
/// test, `fork` takes the freed slot first in line anyway (freed slots wait
/// in a queue, and those tried and not usable go to its back), *claiming*
/// to have seen its last epoch, as [`Detector::adopt_thread`] does: the
/// ended thread's accesses then count as ordered before the child's (and
/// before anyone's who later synchronizes with the child), which can hide
/// a race with them but never invents one. So only threads alive at once
/// are limited.
#[derive(Debug)]
pub struct Detector {
    slots: Vec<Slot>,
    free: VecDeque<Tid>,
    clock_limit: u64,
    claim_after: usize,
    live: usize,
}

/// Why a thread could not be given a slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooManyThreads;

impl fmt::Display for TooManyThreads {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "more than {} threads alive at once: no vector-clock slot is free",
            Tid::MAX_SLOTS
        )
    }
}

impl std::error::Error for TooManyThreads {}

impl Default for Detector {
    fn default() -> Self {
        Detector::new()
    }
}

impl Detector {
    /// An engine with no threads.
    pub fn new() -> Detector {
        Detector::with_clock_limit(Epoch::MAX_CLOCK)
    }

    /// An engine whose slot clocks stop at `limit` (at most
    /// [`Epoch::MAX_CLOCK`]): lets tests exercise clock exhaustion.
    pub fn with_clock_limit(limit: u64) -> Detector {
        assert!(
            (2..=Epoch::MAX_CLOCK).contains(&limit),
            "clock limit must be in 2..=2^48-1"
        );
        Detector {
            slots: Vec::new(),
            free: VecDeque::new(),
            clock_limit: limit,
            claim_after: CLAIM_AFTER_SLOTS,
            live: 0,
        }
    }

    /// The same engine, claiming unseen freed slots once `slots` are open
    /// instead of [`CLAIM_AFTER_SLOTS`]: lets tests reach the claim.
    pub fn claiming_after(mut self, slots: usize) -> Detector {
        self.claim_after = slots;
        self
    }

    /// Starts a thread that has no parent (the main thread).
    pub fn root_thread(&mut self) -> Result<ThreadState, TooManyThreads> {
        self.start_unparented(&VectorClock::new())
    }

    /// Starts a thread whose creator the caller cannot see (a thread not
    /// spawned through racedet). It takes the freed slot first in line, if
    /// any, *claiming* to have seen that slot's last epoch: the ended
    /// thread's accesses are then ordered before this thread's, which can
    /// hide a race between the two but never invents one, and keeps clocks
    /// short when a harness runs thousands of such threads.
    pub fn adopt_thread(&mut self) -> Result<ThreadState, TooManyThreads> {
        let mut seen = VectorClock::new();
        if let Some(&tid) = self.free.front() {
            if let Slot::Free { last } = self.slots[tid.index()] {
                seen.set(tid, last);
            }
        }
        self.start_unparented(&seen)
    }

    /// A thread with no parent clock, in a slot picked as if it had seen
    /// `seen`.
    fn start_unparented(&mut self, seen: &VectorClock) -> Result<ThreadState, TooManyThreads> {
        let (tid, start) = self.take_slot(seen)?;
        let mut clock = VectorClock::new();
        clock.set(tid, start);
        Ok(ThreadState::new(tid, clock, self.clock_limit))
    }

    /// Spawn: everything `parent` did so far happens before the child starts.
    pub fn fork(&mut self, parent: &mut ThreadState) -> Result<ThreadState, TooManyThreads> {
        let (tid, start) = self.take_slot(&parent.clock)?;
        let mut clock = parent.clock.clone();
        clock.set(tid, start);
        parent.tick();
        if parent.exhausted {
            self.migrate(parent)?;
        }
        Ok(ThreadState::new(tid, clock, self.clock_limit))
    }

    /// Thread end: frees the slot and returns the final clock, which every
    /// joiner acquires ([`ThreadState::acquire`]).
    pub fn finish(&mut self, thread: ThreadState) -> VectorClock {
        let tid = thread.tid;
        let last = thread.epoch.clock();
        self.slots[tid.index()] = if last >= self.clock_limit {
            Slot::Retired
        } else {
            self.free.push_back(tid);
            Slot::Free { last }
        };
        self.live -= 1;
        thread.clock
    }

    /// Moves a thread whose slot clock is exhausted to a fresh slot. The old
    /// slot is retired: its entry stays at the limit in every clock, which
    /// correctly says "all of the old slot's accesses happened before".
    pub fn migrate(&mut self, thread: &mut ThreadState) -> Result<(), TooManyThreads> {
        let old = thread.tid;
        let (tid, start) = self.take_slot(&thread.clock)?;
        self.slots[old.index()] = Slot::Retired;
        self.live -= 1;
        thread.tid = tid;
        thread.clock.set(tid, start);
        thread.changed_at = start;
        // The old slot's entry stays in the clock beside the new one.
        thread.changes += 1;
        // Names of the slot's earlier occupants are no longer this
        // thread's (though `take_slot` only hands over a slot whose end
        // this clock has seen or claims to, so skipping their joins would
        // teach nothing).
        thread.started_at = start;
        thread.epoch = Epoch::new(tid, start);
        thread.exhausted = false;
        Ok(())
    }

    /// Threads currently alive.
    pub fn live_threads(&self) -> usize {
        self.live
    }

    /// Slots ever opened (live, free and retired): the longest a vector clock
    /// can be.
    pub fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// Picks a slot for a thread whose initial clock is `seen`, and the
    /// clock the slot starts at.
    fn take_slot(&mut self, seen: &VectorClock) -> Result<(Tid, u64), TooManyThreads> {
        for _ in 0..REUSE_CANDIDATES.min(self.free.len()) {
            let tid = self.free.pop_front().expect("counted");
            if seen.get(tid) >= self.last_of(tid) {
                return Ok(self.hand_out(tid));
            }
            self.free.push_back(tid);
        }
        if self.slots.len() >= self.claim_after {
            if let Some(tid) = self.free.pop_front() {
                return Ok(self.hand_out(tid));
            }
        }
        if self.slots.len() >= Tid::MAX_SLOTS {
            return Err(TooManyThreads);
        }
        let tid = Tid::new(self.slots.len());
        self.slots.push(Slot::Live);
        self.live += 1;
        Ok((tid, 1))
    }

    /// The last epoch of the freed slot `tid`.
    fn last_of(&self, tid: Tid) -> u64 {
        let Slot::Free { last } = self.slots[tid.index()] else {
            unreachable!("free list holds only free slots")
        };
        last
    }

    /// Gives the freed slot `tid`, taken off the free list, to a new
    /// thread, which starts above its last epoch.
    fn hand_out(&mut self, tid: Tid) -> (Tid, u64) {
        let last = self.last_of(tid);
        self.slots[tid.index()] = Slot::Live;
        self.live += 1;
        (tid, last + 1)
    }
}
