//! `std::sync`, instrumented: every lock, unlock, wait and publication is a
//! happens-before edge for the detector. Without the `detect` feature these
//! are std's own types.

pub use std::sync::{Arc, LockResult, PoisonError, TryLockError, TryLockResult, Weak};

#[cfg(any(feature = "detect", racedet_detect))]
mod mutex;
#[cfg(any(feature = "detect", racedet_detect))]
mod rwlock;

#[cfg(any(feature = "detect", racedet_detect))]
pub use mutex::{Mutex, MutexGuard};
#[cfg(any(feature = "detect", racedet_detect))]
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};

#[cfg(not(any(feature = "detect", racedet_detect)))]
pub use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
