//! Vector clocks.

use crate::epoch::{Epoch, Tid};
use smallvec::SmallVec;
use std::fmt;

/// Inline capacity: clocks of up to this many slots never allocate. Five,
/// so a sync clock and its name (56 bytes) leave room in their cache line
/// for the lock word of the mutex they belong to.
const INLINE: usize = 5;

/// A vector clock: entry `i` is the latest clock of slot `i` that this clock
/// has seen.
///
/// Invariant: **no trailing zeros** — the last stored entry is non-zero, so
/// two clocks are equal exactly when their stored entries are equal, and a
/// missing entry reads as 0. Every mutator restores the invariant before it
/// returns; comparisons lean on it (`le` only walks `self`'s entries).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct VectorClock {
    entries: SmallVec<[u64; INLINE]>,
}

impl VectorClock {
    /// The zero clock (sees nothing).
    pub const fn new() -> VectorClock {
        VectorClock {
            entries: SmallVec::new_const(),
        }
    }

    /// Entry of `tid`, 0 when absent.
    #[inline(always)]
    pub fn get(&self, tid: Tid) -> u64 {
        self.entries
            .as_slice()
            .get(tid.index())
            .copied()
            .unwrap_or(0)
    }

    /// Sets the entry of `tid`.
    #[inline(always)]
    pub fn set(&mut self, tid: Tid, clock: u64) {
        let i = tid.index();
        // Fast path (every tick): the entry exists and stays non-zero, so
        // no resize and no trailing zero can appear.
        if clock != 0 {
            if let Some(e) = self.entries.as_mut_slice().get_mut(i) {
                *e = clock;
                return;
            }
        }
        if i >= self.entries.len() {
            if clock == 0 {
                return;
            }
            self.entries.resize(i + 1, 0);
        }
        self.entries[i] = clock;
        self.trim();
    }

    /// Whether the access at `epoch` happened before (or is) a point whose
    /// clock is `self`.
    #[inline]
    pub fn covers(&self, epoch: Epoch) -> bool {
        epoch.clock() <= self.get(epoch.tid())
    }

    /// Pointwise maximum: afterwards `self` has seen everything `other` has.
    /// Returns whether any entry grew.
    #[inline(always)]
    pub fn join(&mut self, other: &VectorClock) -> bool {
        let theirs = other.entries.as_slice();
        if theirs.len() > self.entries.len() {
            self.entries.resize(theirs.len(), 0);
        }
        // Branch-free (a compare and a conditional move per entry): which
        // entries grow is different at each hand-off of a lock between
        // threads, so a branch per entry mispredicts.
        let mut grew = false;
        for (mine, &theirs) in self.entries.as_mut_slice().iter_mut().zip(theirs) {
            grew |= theirs > *mine;
            *mine = (*mine).max(theirs);
        }
        // Both inputs had no trailing zeros and max never lowers an entry,
        // so the result has none either.
        grew
    }

    /// Replaces `self` with a copy of `other`, reusing `self`'s storage.
    #[inline]
    pub fn assign(&mut self, other: &VectorClock) {
        // An element loop, not `extend_from_slice`: clocks are a handful of
        // words, and a `memcpy` call costs more than copying them (every
        // unlock does this).
        let theirs = other.entries.as_slice();
        if self.entries.len() != theirs.len() {
            self.entries.resize(theirs.len(), 0);
        }
        for (mine, theirs) in self.entries.as_mut_slice().iter_mut().zip(theirs) {
            *mine = *theirs;
        }
    }

    /// `self ⊑ other`: everything `self` has seen, `other` has seen.
    pub fn le(&self, other: &VectorClock) -> bool {
        // Entries beyond `self`'s length are 0 in `self` and so always ≤.
        self.entries
            .iter()
            .enumerate()
            .all(|(i, &c)| c <= other.entries.get(i).copied().unwrap_or(0))
    }

    /// Forgets everything.
    #[inline]
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// Whether every entry is 0.
    #[inline]
    pub fn is_zero(&self) -> bool {
        self.entries.is_empty()
    }

    /// Number of stored entries (the highest slot seen plus one).
    #[inline]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no entry is stored (same as [`VectorClock::is_zero`]).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// `(slot, clock)` for each non-zero entry.
    pub fn iter(&self) -> impl Iterator<Item = (Tid, u64)> + '_ {
        self.entries
            .iter()
            .enumerate()
            .filter(|(_, &c)| c != 0)
            .map(|(i, &c)| (Tid::new(i), c))
    }

    fn trim(&mut self) {
        while self.entries.last() == Some(&0) {
            self.entries.pop();
        }
    }
}

impl fmt::Debug for VectorClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.entries.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vc(entries: &[u64]) -> VectorClock {
        let mut c = VectorClock::new();
        for (i, &e) in entries.iter().enumerate() {
            c.set(Tid::new(i), e);
        }
        c
    }

    #[test]
    fn setting_zero_keeps_no_trailing_zeros_so_equality_is_structural() {
        let mut a = vc(&[1, 2, 3]);
        a.set(Tid::new(2), 0);
        assert_eq!(a, vc(&[1, 2]));
        assert_eq!(a.len(), 2);
        a.set(Tid::new(9), 0);
        assert_eq!(a.len(), 2);
    }

    #[test]
    fn join_is_pointwise_max_and_grows_to_the_longer_clock() {
        let mut a = vc(&[5, 0, 1]);
        a.join(&vc(&[1, 7, 0, 4]));
        assert_eq!(a, vc(&[5, 7, 1, 4]));
    }

    #[test]
    fn le_is_the_happens_before_partial_order() {
        assert!(vc(&[1, 2]).le(&vc(&[1, 2, 3])));
        assert!(!vc(&[1, 2, 3]).le(&vc(&[1, 2])));
        assert!(!vc(&[2, 1]).le(&vc(&[1, 2])));
        assert!(VectorClock::new().le(&vc(&[])));
    }

    #[test]
    fn covers_compares_one_epoch_against_its_slot() {
        let c = vc(&[3, 4]);
        assert!(c.covers(Epoch::new(Tid::new(1), 4)));
        assert!(!c.covers(Epoch::new(Tid::new(1), 5)));
        assert!(!c.covers(Epoch::new(Tid::new(7), 1)));
    }

    #[test]
    fn assign_copies_exactly() {
        let mut a = vc(&[9, 9, 9, 9]);
        a.assign(&vc(&[1]));
        assert_eq!(a, vc(&[1]));
    }
}
