//! racedet: data-race detection for Rust on stable.
//!
//! Swap a few paths — `std::sync::Mutex` becomes `racedet::sync::Mutex`,
//! `std::thread::spawn` becomes `racedet::thread::spawn` — and share maps
//! through [`collections::RaceMap`], a map with Go's contract: shareable
//! without a lock, not synchronized, every access checked. With the `detect`
//! feature, every access and every synchronization is reported to a
//! happens-before runtime, and two conflicting accesses that are not ordered
//! produce a Go-style report (`WARNING: DATA RACE: concurrent map writes`)
//! and exit status 66. Without it, every type is a plain pass-through.
//!
//! ```
//! use racedet::collections::RaceMap;
//! use racedet::sync::{Arc, Mutex};
//!
//! let map = Arc::new(Mutex::new(RaceMap::new()));
//! let m = map.clone();
//! racedet::thread::spawn(move || {
//!     m.lock().unwrap().insert("k", 1);
//! })
//! .join()
//! .unwrap();
//! assert_eq!(map.lock().unwrap().get("k"), Some(1));
//! assert_eq!(racedet::reports::count(), 0);
//! ```

pub mod annotate;
pub mod cell;
pub mod collections;
pub mod reports;
mod span;
pub mod sync;
pub mod thread;

/// Whether this build checks accesses (the `detect` feature).
pub const DETECT: bool = cfg!(any(feature = "detect", racedet_detect));
