//! Vector clocks.

use crate::epoch::{Epoch, Tid};
use std::fmt;

/// Slots held in place: clocks of up to this many slots never allocate.
/// Five, so a sync clock and its name (56 bytes) leave room in their cache
/// line for the lock word of the mutex they belong to.
const INLINE: usize = 5;

/// A vector clock: entry `i` is the latest clock of slot `i` that this clock
/// has seen.
///
/// The first `INLINE` (5) entries are a fixed array, always all present (a
/// missing slot is 0), so the hot operations — reading one entry in an
/// access check, a thread's tick, a join or copy at a lock hand-off — index
/// it with one compare against a constant and no length or storage-kind
/// lookup. Entries of later slots live in `spill`, allocated on the first
/// non-zero one.
///
/// Invariant: `spill` has **no trailing zeros**, so two clocks are equal
/// exactly when their arrays and spilled entries are; every mutator
/// restores it before it returns. (An empty `spill` may keep its
/// allocation for reuse.)
#[derive(Clone, Default)]
pub struct VectorClock {
    inline: [u64; INLINE],
    /// Entries of slots `INLINE..`. A `Vec` behind a thin pointer: a clock
    /// stays 48 bytes, where a `Vec` or boxed slice would add 8-16 and push
    /// a mutex's lock word off its clock's cache line.
    #[allow(clippy::box_collection)]
    spill: Option<Box<Vec<u64>>>,
}

impl VectorClock {
    /// The zero clock (sees nothing).
    pub const fn new() -> VectorClock {
        VectorClock {
            inline: [0; INLINE],
            spill: None,
        }
    }

    /// Entry of `tid`, 0 when absent.
    #[inline(always)]
    pub fn get(&self, tid: Tid) -> u64 {
        let i = tid.index();
        if i < INLINE {
            self.inline[i]
        } else {
            self.get_spilled(i - INLINE)
        }
    }

    #[inline(never)]
    fn get_spilled(&self, i: usize) -> u64 {
        self.spilled().get(i).copied().unwrap_or(0)
    }

    /// Sets the entry of `tid`.
    #[inline(always)]
    pub fn set(&mut self, tid: Tid, clock: u64) {
        let i = tid.index();
        if i < INLINE {
            self.inline[i] = clock;
        } else {
            self.set_spilled(i - INLINE, clock);
        }
    }

    #[inline(never)]
    fn set_spilled(&mut self, i: usize, clock: u64) {
        if clock == 0 && i >= self.spilled().len() {
            return;
        }
        let spill = self.spill.get_or_insert_with(Default::default);
        if i >= spill.len() {
            spill.resize(i + 1, 0);
        }
        spill[i] = clock;
        trim(spill);
    }

    /// The entries of slots `INLINE..`.
    #[inline]
    fn spilled(&self) -> &[u64] {
        self.spill.as_deref().map_or(&[], |v| v.as_slice())
    }

    /// Whether the access at `epoch` happened before (or is) a point whose
    /// clock is `self`.
    #[inline(always)]
    pub fn covers(&self, epoch: Epoch) -> bool {
        epoch.clock() <= self.get(epoch.tid())
    }

    /// Pointwise maximum: afterwards `self` has seen everything `other` has.
    /// Returns whether any entry grew.
    #[inline(always)]
    pub fn join(&mut self, other: &VectorClock) -> bool {
        // Branch-free (a compare and a conditional move per entry): which
        // entries grow is different at each hand-off of a lock between
        // threads, so a branch per entry mispredicts.
        let mut grew = false;
        for (mine, &theirs) in self.inline.iter_mut().zip(&other.inline) {
            grew |= theirs > *mine;
            *mine = (*mine).max(theirs);
        }
        // A cleared clock keeps its (empty) spill for reuse: only entries
        // call for the out-of-line part.
        if !other.spilled().is_empty() {
            grew |= self.join_spilled(other.spilled());
        }
        grew
    }

    #[inline(never)]
    fn join_spilled(&mut self, theirs: &[u64]) -> bool {
        let spill = self.spill.get_or_insert_with(Default::default);
        if theirs.len() > spill.len() {
            spill.resize(theirs.len(), 0);
        }
        let mut grew = false;
        for (mine, &theirs) in spill.iter_mut().zip(theirs) {
            grew |= theirs > *mine;
            *mine = (*mine).max(theirs);
        }
        // Both inputs had no trailing zeros and max never lowers an entry,
        // so the result has none either.
        grew
    }

    /// Replaces `self` with a copy of `other`, reusing `self`'s storage.
    #[inline(always)]
    pub fn assign(&mut self, other: &VectorClock) {
        self.inline = other.inline;
        if self.spill.is_some() || other.spill.is_some() {
            self.assign_spilled(other.spilled());
        }
    }

    #[inline(never)]
    fn assign_spilled(&mut self, theirs: &[u64]) {
        if theirs.is_empty() {
            if let Some(spill) = &mut self.spill {
                spill.clear();
            }
            return;
        }
        let spill = self.spill.get_or_insert_with(Default::default);
        spill.clear();
        spill.extend_from_slice(theirs);
    }

    /// `self ⊑ other`: everything `self` has seen, `other` has seen.
    pub fn le(&self, other: &VectorClock) -> bool {
        let theirs = other.spilled();
        // Entries beyond `other`'s spill are 0 there, so only `self`'s
        // zeros may sit there.
        self.inline.iter().zip(&other.inline).all(|(a, b)| a <= b)
            && self
                .spilled()
                .iter()
                .enumerate()
                .all(|(i, &c)| c <= theirs.get(i).copied().unwrap_or(0))
    }

    /// Forgets everything.
    #[inline]
    pub fn clear(&mut self) {
        self.inline = [0; INLINE];
        if let Some(spill) = &mut self.spill {
            spill.clear();
        }
    }

    /// Whether every entry is 0.
    #[inline]
    pub fn is_zero(&self) -> bool {
        // One OR chain, no early exit: the array is one or two cache-line
        // reads either way.
        self.inline.iter().fold(0, |acc, &c| acc | c) == 0 && self.spilled().is_empty()
    }

    /// The highest slot with a non-zero entry, plus one.
    pub fn len(&self) -> usize {
        let spilled = self.spilled().len();
        if spilled > 0 {
            return INLINE + spilled;
        }
        self.inline
            .iter()
            .rposition(|&c| c != 0)
            .map_or(0, |i| i + 1)
    }

    /// Whether every entry is 0 (same as [`VectorClock::is_zero`]).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.is_zero()
    }

    /// `(slot, clock)` for each non-zero entry.
    pub fn iter(&self) -> impl Iterator<Item = (Tid, u64)> + '_ {
        self.inline
            .iter()
            .chain(self.spilled())
            .enumerate()
            .filter(|(_, &c)| c != 0)
            .map(|(i, &c)| (Tid::new(i), c))
    }
}

/// Drops trailing zeros (the invariant above).
fn trim(entries: &mut Vec<u64>) {
    while entries.last() == Some(&0) {
        entries.pop();
    }
}

impl PartialEq for VectorClock {
    fn eq(&self, other: &VectorClock) -> bool {
        self.inline == other.inline && self.spilled() == other.spilled()
    }
}

impl Eq for VectorClock {}

impl fmt::Debug for VectorClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let entries = self.inline.iter().chain(self.spilled());
        f.debug_list().entries(entries.take(self.len())).finish()
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
    fn setting_zero_leaves_an_equal_clock_in_place_and_in_the_spill() {
        let mut a = vc(&[1, 2, 3]);
        a.set(Tid::new(2), 0);
        assert_eq!(a, vc(&[1, 2]));
        assert_eq!(a.len(), 2);
        a.set(Tid::new(9), 0);
        assert_eq!(a.len(), 2);
        a.set(Tid::new(9), 4);
        a.set(Tid::new(7), 5);
        a.set(Tid::new(9), 0);
        assert_eq!(a, vc(&[1, 2, 0, 0, 0, 0, 0, 5]));
        assert_eq!(a.len(), 8);
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
    fn slots_past_the_array_spill_and_behave_the_same() {
        let mut a = vc(&[1, 0, 0, 0, 0, 0, 7]);
        assert_eq!(a.len(), 7);
        assert_eq!(a.get(Tid::new(6)), 7);
        assert_eq!(a.get(Tid::new(40)), 0);
        assert!(a.covers(Epoch::new(Tid::new(6), 7)));
        assert!(!a.covers(Epoch::new(Tid::new(6), 8)));
        assert!(a.join(&vc(&[0, 0, 0, 0, 0, 3, 2, 9])));
        assert_eq!(a, vc(&[1, 0, 0, 0, 0, 3, 7, 9]));
        assert!(!a.join(&vc(&[1, 0, 0, 0, 0, 3])), "nothing new");
        assert!(vc(&[1, 0, 0, 0, 0, 3]).le(&a));
        assert!(!a.le(&vc(&[1, 0, 0, 0, 0, 3, 7])));
        assert_eq!(
            a.iter().map(|(t, c)| (t.index(), c)).collect::<Vec<_>>(),
            [(0, 1), (5, 3), (6, 7), (7, 9)]
        );
        // Zeroing the spilled entries trims them: equal to a clock that
        // never spilled, though `a` keeps its allocation.
        for i in 5..8 {
            a.set(Tid::new(i), 0);
        }
        assert_eq!(a, vc(&[1]));
        assert_eq!(a.len(), 1);
        assert_eq!(format!("{a:?}"), "[1]");
        a.set(Tid::new(9), 2);
        a.clear();
        assert!(a.is_zero());
        assert_eq!(a, VectorClock::new());
    }

    #[test]
    fn joining_or_copying_a_clock_whose_spill_was_emptied_allocates_none() {
        let mut emptied = vc(&[0, 0, 0, 0, 0, 0, 3]);
        emptied.clear();
        let mut a = vc(&[1]);
        assert!(!a.join(&emptied));
        assert!(a.spill.is_none());
        a.assign(&emptied);
        assert!(a.spill.is_none());
        assert_eq!(a, VectorClock::new());
        // A spill of its own is kept when the other has none.
        let mut b = vc(&[0, 0, 0, 0, 0, 0, 2]);
        assert!(b.join(&vc(&[0, 1])));
        assert_eq!(b, vc(&[0, 1, 0, 0, 0, 0, 2]));
    }

    #[test]
    fn assign_copies_the_spill_both_ways() {
        let mut a = vc(&[1]);
        a.assign(&vc(&[0, 0, 0, 0, 0, 0, 5]));
        assert_eq!(a, vc(&[0, 0, 0, 0, 0, 0, 5]));
        a.assign(&vc(&[2]));
        assert_eq!(a, vc(&[2]));
        assert_eq!(a.len(), 1);
    }

    #[test]
    fn assign_copies_exactly() {
        let mut a = vc(&[9, 9, 9, 9]);
        a.assign(&vc(&[1]));
        assert_eq!(a, vc(&[1]));
    }
}
