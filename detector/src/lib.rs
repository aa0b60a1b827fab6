//! racedet's happens-before engine.
//!
//! Pure: no globals, no threads, no I/O. A caller (the racedet runtime, or a
//! trace replay) owns a [`Detector`] for thread start and end, one
//! [`ThreadState`] per thread, one [`Shadow`] per instrumented location and a
//! [`SyncClock`] or [`AtomicSync`] per synchronization object, and feeds them
//! events. An access returns the [`Race`] it completes, if any.
//!
//! The hot path — [`Shadow::read`] / [`Shadow::write`] against the calling
//! thread's [`ThreadState`] — allocates nothing and is O(1) in the common
//! cases (same epoch, exclusive reads, ordered writes).

mod atomic;
mod clock;
mod epoch;
mod race;
mod shadow;
mod slots;
mod span;
mod sync;
mod thread;
pub mod trace;

pub use atomic::{is_acquire, is_release, AtomicSync};
pub use clock::VectorClock;
pub use epoch::{Epoch, Tid};
pub use race::{Access, AccessKind, Race, RaceKind};
pub use shadow::Shadow;
pub use slots::{Detector, TooManyThreads, CLAIM_AFTER_SLOTS};
pub use span::SPAN_RELEASES;
pub use std::sync::atomic::Ordering;
pub use sync::SyncClock;
pub use thread::ThreadState;

/// This crate's manifest directory and a file of it (named as its debug
/// info names it, `--remap-path-prefix` included): reports drop the
/// engine's frames by file where names say too little.
pub const SOURCE_DIR: &str = env!("CARGO_MANIFEST_DIR");
/// See [`SOURCE_DIR`].
pub const SOURCE_FILE: &str = file!();
