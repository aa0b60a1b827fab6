//! Per-reader cache lines for objects that several threads read at once
//! (an `RwLock`'s clocks, a map's lock): a reader writes only its own line,
//! so concurrent readers share no written cache line.

/// Threads in detector slots below this get a line of their own in such an
/// object; others take a slower path (an `RwLock`'s shared overflow clock,
/// a map's exclusive lock). Eight: a map's `u8` bit set names the lines
/// used (an `RwLock`'s `u16` has one more bit, for its overflow clock).
pub(crate) const READER_SLOTS: usize = 8;

/// A value on a cache line of its own.
#[repr(align(64))]
#[derive(Default)]
pub(crate) struct CacheLine<T>(pub(crate) T);
