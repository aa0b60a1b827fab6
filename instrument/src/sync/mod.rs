//! `std::sync`, instrumented: every lock, unlock, wait and publication is a
//! happens-before edge for the detector. Without the `detect` feature these
//! are std's own types.

pub use std::sync::{Arc, LockResult, OnceState, PoisonError, TryLockError, TryLockResult, Weak};

pub mod atomic;
pub mod mpsc;

#[cfg(any(feature = "detect", racedet_detect))]
mod barrier;
#[cfg(any(feature = "detect", racedet_detect))]
mod condvar;
#[cfg(any(feature = "detect", racedet_detect))]
mod lazy_lock;
#[cfg(any(feature = "detect", racedet_detect))]
mod mutex;
#[cfg(any(feature = "detect", racedet_detect))]
mod once;
#[cfg(any(feature = "detect", racedet_detect))]
mod rwlock;

#[cfg(any(feature = "detect", racedet_detect))]
pub use barrier::{Barrier, BarrierWaitResult};
#[cfg(any(feature = "detect", racedet_detect))]
pub use condvar::{Condvar, WaitTimeoutResult};
#[cfg(any(feature = "detect", racedet_detect))]
pub use lazy_lock::LazyLock;
#[cfg(any(feature = "detect", racedet_detect))]
pub use mutex::{Mutex, MutexGuard};
#[cfg(any(feature = "detect", racedet_detect))]
pub use once::{Once, OnceLock};
#[cfg(any(feature = "detect", racedet_detect))]
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// std's guard of a lock result, wrapped by `f` in ours, poisoned or not
/// (for `Mutex`, `RwLock` and `Condvar`).
#[cfg(any(feature = "detect", racedet_detect))]
#[inline(always)]
fn map_result<G, H>(r: LockResult<G>, f: impl FnOnce(G) -> H) -> LockResult<H> {
    match r {
        Ok(g) => Ok(f(g)),
        Err(p) => Err(PoisonError::new(f(p.into_inner()))),
    }
}

/// As [`map_result`], for `try_lock`, `try_read` and `try_write`.
#[cfg(any(feature = "detect", racedet_detect))]
#[inline(always)]
fn map_try<G, H>(r: TryLockResult<G>, f: impl FnOnce(G) -> H) -> TryLockResult<H> {
    match r {
        Ok(g) => Ok(f(g)),
        Err(TryLockError::Poisoned(p)) => {
            Err(TryLockError::Poisoned(PoisonError::new(f(p.into_inner()))))
        }
        Err(TryLockError::WouldBlock) => Err(TryLockError::WouldBlock),
    }
}

/// std's deprecated `ONCE_INIT`.
#[cfg(any(feature = "detect", racedet_detect))]
#[deprecated(since = "1.38.0", note = "the `Once::new()` function is now preferred")]
#[allow(clippy::declare_interior_mutable_const)]
pub const ONCE_INIT: Once = Once::new();
#[cfg(not(any(feature = "detect", racedet_detect)))]
#[allow(deprecated)]
pub use std::sync::ONCE_INIT;

#[cfg(not(any(feature = "detect", racedet_detect)))]
pub use std::sync::{
    Barrier, BarrierWaitResult, Condvar, LazyLock, Mutex, MutexGuard, Once, OnceLock, RwLock,
    RwLockReadGuard, RwLockWriteGuard, WaitTimeoutResult,
};
