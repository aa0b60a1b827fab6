//! Epochs: one thread's logical time, `clock@tid`, packed into a word.

use std::fmt;

/// A thread slot. Slots are reused once that is safe (see [`crate::Detector`]),
/// so the number of slots follows the number of *live* threads.
#[derive(Copy, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Tid(u16);

impl Tid {
    /// The largest number of slots that can exist at once.
    pub const MAX_SLOTS: usize = 1 << Epoch::TID_BITS;

    /// Builds a slot id from its index.
    ///
    /// # Panics
    /// If `index` does not fit in [`Epoch::TID_BITS`] bits.
    pub fn new(index: usize) -> Tid {
        assert!(index < Self::MAX_SLOTS, "thread slot {index} out of range");
        Tid(index as u16)
    }

    /// The slot's index into a vector clock.
    #[inline]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for Tid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A logical timestamp `clock@tid` in one word, so shadow cells stay small and
/// the FastTrack fast paths compare a single integer.
///
/// ```text
///  63            48 47                                            0
/// +----------------+-----------------------------------------------+
/// |   tid (16)     |                  clock (48)                   |
/// +----------------+-----------------------------------------------+
/// ```
///
/// 48 bits of clock is ~2.8e14 release operations for one slot. A thread
/// that exhausts its slot's clock is moved to a fresh slot by
/// [`crate::Detector::migrate`] rather than wrapping around.
#[derive(Copy, Clone, PartialEq, Eq, Hash)]
pub struct Epoch(u64);

impl Epoch {
    /// Bits of the slot id.
    pub const TID_BITS: u32 = 16;
    /// Bits of the clock.
    pub const CLOCK_BITS: u32 = 48;
    /// The largest clock an epoch can hold.
    pub const MAX_CLOCK: u64 = (1 << Self::CLOCK_BITS) - 1;

    /// Packs `clock@tid`.
    #[inline]
    pub fn new(tid: Tid, clock: u64) -> Epoch {
        debug_assert!(clock <= Self::MAX_CLOCK);
        Epoch(((tid.0 as u64) << Self::CLOCK_BITS) | clock)
    }

    /// The slot that made the access.
    #[inline]
    pub fn tid(self) -> Tid {
        Tid((self.0 >> Self::CLOCK_BITS) as u16)
    }

    /// The slot's clock at the access.
    #[inline]
    pub fn clock(self) -> u64 {
        self.0 & Self::MAX_CLOCK
    }

    /// The packed word (for compact storage by callers).
    #[inline]
    pub fn to_bits(self) -> u64 {
        self.0
    }

    /// Unpacks a word made by [`Epoch::to_bits`].
    #[inline]
    pub fn from_bits(bits: u64) -> Epoch {
        Epoch(bits)
    }
}

impl fmt::Debug for Epoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.clock(), self.tid())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_round_trips_tid_and_clock_at_the_extremes() {
        for (tid, clock) in [(0, 0), (1, 1), (65535, Epoch::MAX_CLOCK), (77, 123_456_789)] {
            let e = Epoch::new(Tid::new(tid), clock);
            assert_eq!(e.tid().index(), tid);
            assert_eq!(e.clock(), clock);
            assert_eq!(Epoch::from_bits(e.to_bits()), e);
        }
    }

    #[test]
    #[should_panic(expected = "out of range")]
    fn tid_beyond_sixteen_bits_is_refused() {
        Tid::new(1 << 16);
    }
}
