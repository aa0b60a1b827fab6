//! racedet's runtime: the one process-wide instance behind the instrumented
//! types. It owns the thread registry and thread-local detector state,
//! sync-object clocks, options, stack capture, report rendering, dedup,
//! suppressions, log files and the exit status.
//!
//! Shadow memory lives with the object it shadows (a map's buckets inside
//! the map, a cell's inside the cell) under that object's own lock, so the
//! access path takes no global lock (except `history=full`, which interns a
//! stack per access). Sync objects known only by address (annotations)
//! keep their clocks in a sharded table.

mod access;
mod annotations;
mod atomic;
mod barrier;
mod biased;
mod channel;
mod exit;
mod global;
mod json;
mod map;
mod map_lock;
pub mod marker;
mod once;
pub mod options;
mod park;
mod reader_slots;
pub mod report;
mod reporter;
mod rwlock_clock;
mod site;
mod span;
mod spin;
pub mod stack;
pub mod suppressions;
mod symbolize;
mod sync;
mod threads;

pub use access::{
    check, check_object, detail, plain_access, report_count, take_reports, ObjectInfo, ShadowCell,
    Stamp,
};
pub use annotations::{annotate_acquire, annotate_release};
pub use atomic::{fence, AtomicShadow};
pub use barrier::BarrierSync;
pub use biased::{prepare_biased_locks, BiasedGuard, BiasedLock};
pub use channel::{Bounded, Hangup, MessageClock};
pub use global::{runtime, Runtime};
pub use map::MapShadow;
pub use map_lock::{current_slot, ExclusiveGuard, FoldReads, MapLock, ReadRecord, SharedGuard};
pub use once::OnceClock;
pub use options::{MapPolicy, Options};
pub use park::{current_park_clock, install_park_clock, parked, ParkClock};
pub use racedet_detector::{AccessKind, SyncClock};
pub use rwlock_clock::{ReaderEpochs, RwLockClock};
pub use site::{Detail, Op, Part};
pub use span::Span;
pub use spin::{SpinGuard, SpinLock};
pub use sync::MutexClock;
pub use threads::{enter, fork, Child, Completion, OpenScope, Running, ScopeSync};
