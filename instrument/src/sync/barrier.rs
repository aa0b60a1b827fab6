//! `Barrier`: every arrival of a generation happens before every departure
//! of that generation.

use racedet_runtime::BarrierSync;
use std::fmt;

/// std's `Barrier`; see `racedet_runtime::BarrierSync` for the edges.
pub struct Barrier {
    inner: BarrierSync,
}

/// What [`Barrier::wait`] returns (std's `BarrierWaitResult`).
pub struct BarrierWaitResult(bool);

impl BarrierWaitResult {
    /// Whether this thread was the last to arrive (exactly one per
    /// generation is).
    pub fn is_leader(&self) -> bool {
        self.0
    }
}

impl fmt::Debug for BarrierWaitResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BarrierWaitResult")
            .field("is_leader", &self.is_leader())
            .finish()
    }
}

impl Barrier {
    /// A barrier for `n` threads.
    pub const fn new(n: usize) -> Barrier {
        Barrier {
            inner: BarrierSync::new(n),
        }
    }

    /// Blocks until `n` threads have called `wait`; everything each of them
    /// did before calling happens before any of them returns.
    pub fn wait(&self) -> BarrierWaitResult {
        BarrierWaitResult(self.inner.wait())
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier").finish_non_exhaustive()
    }
}
