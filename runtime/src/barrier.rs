//! Barriers: every arrival of a generation happens before every departure
//! of that generation.

use crate::sync::{acquire, release_merge};
use parking_lot::{Condvar, Mutex};
use racedet_detector::SyncClock;
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::sync::Arc;

/// A barrier for `n` threads, with std's behaviour (the n-th arrival is the
/// leader and wakes the others; `n <= 1` never blocks).
///
/// It is a barrier of its own rather than std's plus bookkeeping, because
/// the edge needs to know which generation each thread arrived in, and only
/// the code that counts arrivals knows that. Each generation has its own
/// clock, made by its first arrival: every arrival merges into it before
/// it counts, and every departure — the leader and each woken waiter —
/// acquires it afterwards, when it is complete. A waiter keeps its
/// generation's clock (an `Arc`), so a slow waiter never mixes in a later
/// generation, even when more than `n` threads share the barrier.
pub struct BarrierSync {
    n: usize,
    state: Mutex<State>,
    wake: Condvar,
}

struct State {
    /// Arrivals in the current generation.
    count: usize,
    /// Number of the current generation.
    generation: u64,
    /// The current generation's clock (`None` until its first arrival).
    clock: Option<Arc<Mutex<SyncClock>>>,
}

// Only bookkeeping behind locks that unwinding releases: std's `Barrier`
// is `RefUnwindSafe`, and so is ours.
impl RefUnwindSafe for BarrierSync {}
impl UnwindSafe for BarrierSync {}

impl BarrierSync {
    /// A barrier for `n` threads (`const`, as std's).
    pub const fn new(n: usize) -> BarrierSync {
        BarrierSync {
            n,
            state: parking_lot::const_mutex(State {
                count: 0,
                generation: 0,
                clock: None,
            }),
            wake: Condvar::new(),
        }
    }

    /// Waits for the generation to fill up. Returns whether the caller is
    /// the leader (the last arrival), as std's `is_leader`.
    pub fn wait(&self) -> bool {
        let mut st = self.state.lock();
        let clock = st.clock.get_or_insert_with(Default::default).clone();
        release_merge(&mut clock.lock());
        st.count += 1;
        let leader = st.count >= self.n;
        if leader {
            st.count = 0;
            st.generation += 1;
            st.clock = None;
            self.wake.notify_all();
        } else {
            let generation = st.generation;
            // Spurious wake-ups: wait until this generation is over.
            while st.generation == generation {
                self.wake.wait(&mut st);
            }
        }
        drop(st);
        // Complete: the leader merged last, under the state lock, before it
        // advanced the generation.
        acquire(&clock.lock());
        leader
    }
}
