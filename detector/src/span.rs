//! Spans: accesses that last for a while, as an access through loom's
//! `UnsafeCell::with` lasts for its closure.
//!
//! A span is checked when it opens, but it still goes on afterwards: a
//! release the thread makes while it is open must not cover it (the
//! closure may write after publishing), while every release after it ends
//! must. loom checks the cell again when the closure returns; racedet's
//! record of a cell lives inside the cell, which the closure may have
//! freed (the last owner of a hand-written `Arc` dropping the node), so
//! nothing may touch it then. Instead the access is stamped, when the span
//! opens, with an epoch of the thread's *future*: past every clock value
//! the thread publishes while the span is open, and reached when it ends.
//!
//! An outermost span reserves [`SPAN_RELEASES`] clock values: that many
//! releases inside it stay unordered with it. A span opened inside another
//! reserves one (it must end below its outer span's epoch, so that the
//! outer one keeps its reserve for the releases that follow), and uses it
//! up when it ends: a second release (or a span) inside a nested span
//! covers it, and releases and nested spans inside one span beyond its
//! reserve cover that span — a missed race, never an invented one. (Every
//! clock value counts here: a spawn and a bounded channel's receive
//! release too.)

use crate::epoch::Epoch;
use crate::thread::ThreadState;

/// Releases (and spans nested in it) an outermost span stays unordered
/// with. Each span costs its slot this much clock at most: the slot's 48
/// bits last 2.7e11 spans (over 20 minutes of nothing but closures at 5 ns
/// each), after which the thread moves to a fresh slot.
pub const SPAN_RELEASES: u64 = 1024;

impl ThreadState {
    /// Opens a span: returns the epoch to stamp its access with (see the
    /// module docs). Every call must be matched by [`ThreadState::end_span`]
    /// with the returned epoch, innermost first.
    #[inline]
    pub fn open_span(&mut self) -> Epoch {
        let reserve = if self.open_spans == 0 {
            SPAN_RELEASES
        } else {
            1
        };
        self.open_spans += 1;
        let clock = self.epoch.clock();
        if self.clock_limit - clock >= reserve {
            // Below the limit, so no carry into the slot bits.
            Epoch::from_bits(self.epoch.to_bits() + reserve)
        } else {
            // No room left in the slot: a plain access (it will migrate
            // at the next release anyway).
            self.epoch
        }
    }

    /// Ends the span stamped `span`: from here on this thread's clock has
    /// reached it, so every later release covers the access.
    #[inline]
    pub fn end_span(&mut self, span: Epoch) {
        debug_assert!(self.open_spans > 0, "end_span without open_span");
        self.open_spans = self.open_spans.saturating_sub(1);
        // A thread that migrated meanwhile has its old slot retired at the
        // limit, which covers the span already.
        if span.tid() == self.tid && self.epoch.clock() < span.clock() {
            self.clock.set(self.tid, span.clock());
            self.epoch = span;
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{Detector, Shadow, SyncClock, ThreadState};

    type Site = u32;

    /// A root thread and a thread it forked, and an unused location.
    fn two_threads_and_a_cell() -> (ThreadState, ThreadState, Shadow<Site>) {
        let mut d = Detector::new();
        let mut main = d.root_thread().unwrap();
        let t = d.fork(&mut main).unwrap();
        (main, t, Shadow::new())
    }

    /// `t` after acquiring `sync`.
    fn acquiring(t: &ThreadState, sync: &SyncClock) -> ThreadState {
        let mut t = t.clone();
        sync.acquire(&mut t);
        t
    }

    #[test]
    fn a_release_inside_a_span_does_not_cover_it_and_one_after_it_does() {
        let (mut main, t, mut cell) = two_threads_and_a_cell();
        let (mut inside, mut after) = (SyncClock::new(), SyncClock::new());

        let span = main.open_span();
        assert!(cell.write_at(&main, span, || 1).is_none());
        inside.release_store(&mut main);
        main.end_span(span);
        after.release_store(&mut main);

        // What the release inside published does not order the span...
        let early = acquiring(&t, &inside);
        let race = cell
            .clone()
            .read(&early, 2)
            .expect("the span outlives the release");
        assert_eq!((race.previous.site, race.current.site), (1, 2));
        // ...what the release after it published does.
        assert!(cell.read(&acquiring(&t, &after), 3).is_none());
    }

    #[test]
    fn a_span_holds_through_as_many_releases_as_it_reserved() {
        let (mut main, t, mut cell) = two_threads_and_a_cell();
        let mut sync = SyncClock::new();
        let span = main.open_span();
        assert!(cell.write_at(&main, span, || 1).is_none());
        for _ in 0..super::SPAN_RELEASES {
            sync.release_store(&mut main);
        }
        let last_inside = acquiring(&t, &sync);
        assert!(cell.clone().read(&last_inside, 2).is_some());
        // One more release: the reserve is used up (a miss, documented).
        sync.release_store(&mut main);
        let past = acquiring(&t, &sync);
        assert!(cell.read(&past, 3).is_none());
        main.end_span(span);
    }

    #[test]
    fn a_nested_span_ends_below_its_outer_one() {
        let (mut main, t, mut outer_cell) = two_threads_and_a_cell();
        let mut inner_cell: Shadow<Site> = Shadow::new();
        let mut sync = SyncClock::new();

        let outer = main.open_span();
        assert!(outer_cell.write_at(&main, outer, || 1).is_none());
        let inner = main.open_span();
        assert!(inner_cell.write_at(&main, inner, || 2).is_none());
        main.end_span(inner);
        sync.release_store(&mut main);
        main.end_span(outer);

        let acquirer = acquiring(&t, &sync);
        // The inner span ended before the release: ordered.
        assert!(inner_cell.read(&acquirer, 3).is_none());
        // The outer one was still open: not ordered.
        assert!(outer_cell.read(&acquirer, 4).is_some());
    }

    #[test]
    fn a_release_inside_a_nested_span_does_not_cover_it() {
        let (mut main, t, mut cell) = two_threads_and_a_cell();
        let mut sync = SyncClock::new();
        let outer = main.open_span();
        let inner = main.open_span();
        assert!(cell.write_at(&main, inner, || 1).is_none());
        sync.release_store(&mut main);
        main.end_span(inner);
        main.end_span(outer);
        let acquirer = acquiring(&t, &sync);
        assert!(cell.read(&acquirer, 2).is_some());
    }

    #[test]
    fn a_read_shared_cell_keeps_the_outer_span_of_a_thread_over_its_nested_one() {
        let mut d = Detector::new();
        let mut main = d.root_thread().unwrap();
        let (mut t, mut u, mut v) = (
            d.fork(&mut main).unwrap(),
            d.fork(&mut main).unwrap(),
            d.fork(&mut main).unwrap(),
        );
        let mut cell: Shadow<Site> = Shadow::new();
        let outer = main.open_span();
        assert!(cell.read_at(&main, outer, || 1).is_none());
        // Read-shared, and a write nobody has seen: main's nested read
        // takes the general path, which must keep main's later stamp.
        assert!(cell.read(&t, 2).is_none());
        assert!(cell.write(&u, 3).is_some());
        let inner = main.open_span();
        assert!(cell.read_at(&main, inner, || 4).is_some());
        main.end_span(inner);
        let mut published = SyncClock::new();
        published.release_store(&mut main);
        main.end_span(outer);
        // `v` has seen everything but main's outer read.
        let (mut from_t, mut from_u) = (SyncClock::new(), SyncClock::new());
        from_t.release_store(&mut t);
        from_u.release_store(&mut u);
        for s in [&published, &from_t, &from_u] {
            s.acquire(&mut v);
        }
        let race = cell.write(&v, 5).expect("the outer read span still holds");
        assert_eq!(race.previous.site, 1);
    }

    #[test]
    fn a_read_shared_cell_keeps_the_outer_span_on_the_fast_path_too() {
        let mut d = Detector::new();
        let mut main = d.root_thread().unwrap();
        let (mut t, v) = (d.fork(&mut main).unwrap(), d.fork(&mut main).unwrap());
        let mut cell: Shadow<Site> = Shadow::new();
        assert!(cell.read(&t, 1).is_none());
        let outer = main.open_span();
        // Read-shared now, every write seen: the fast path.
        assert!(cell.read_at(&main, outer, || 2).is_none());
        let inner = main.open_span();
        assert!(cell.read_at(&main, inner, || 3).is_none());
        main.end_span(inner);
        let mut published = SyncClock::new();
        published.release_store(&mut main);
        main.end_span(outer);
        let mut from_t = SyncClock::new();
        from_t.release_store(&mut t);
        let mut v = acquiring(&v, &published);
        from_t.acquire(&mut v);
        let race = cell.write(&v, 4).expect("the outer read span still holds");
        assert_eq!(race.previous.site, 2);
    }

    #[test]
    fn a_thread_moved_to_a_fresh_slot_inside_a_span_keeps_its_new_epoch() {
        let mut d = Detector::with_clock_limit(3 * super::SPAN_RELEASES);
        let mut main = d.root_thread().unwrap();
        let t = d.fork(&mut main).unwrap();
        let mut cell: Shadow<Site> = Shadow::new();
        let mut sync = SyncClock::new();
        let span = main.open_span();
        let old_slot = span.tid();
        assert!(cell.write_at(&main, span, || 1).is_none());
        while main.tid() == old_slot {
            sync.release_store(&mut main);
            if main.exhausted() {
                d.migrate(&mut main).unwrap();
            }
        }
        main.end_span(span);
        assert_eq!(
            main.epoch().tid(),
            main.tid(),
            "the epoch names the new slot"
        );
        // The retired slot's last clock covers the span, for the thread
        // itself and for a thread that acquires its later release.
        assert!(cell.write(&main, 2).is_none());
        sync.release_store(&mut main);
        let acquirer = acquiring(&t, &sync);
        assert!(cell.read(&acquirer, 3).is_none());
    }

    #[test]
    fn a_span_of_the_same_thread_inside_another_on_one_cell_is_no_race() {
        let (mut main, t, mut cell) = two_threads_and_a_cell();
        let mut sync = SyncClock::new();

        let outer = main.open_span();
        assert!(cell.read_at(&main, outer, || 1).is_none());
        let inner = main.open_span();
        // The cell remembers the outer span, stamped past the thread's
        // clock: the later of the two stamps is kept.
        assert!(cell.read_at(&main, inner, || 2).is_none());
        main.end_span(inner);
        sync.release_store(&mut main);
        main.end_span(outer);

        let acquirer = acquiring(&t, &sync);
        assert!(
            cell.write(&acquirer, 3).is_some(),
            "the outer read span still holds"
        );
    }

    #[test]
    fn a_thread_never_races_with_its_own_open_span() {
        // Nesting `with_mut` in `with_mut` of one cell is loom's error
        // ("currently writing"), but not a race with another thread: a
        // report naming one thread twice would only confuse.
        let (mut main, _, mut cell) = two_threads_and_a_cell();
        let outer = main.open_span();
        assert!(cell.write_at(&main, outer, || 1).is_none());
        let inner = main.open_span();
        assert!(cell.write_at(&main, inner, || 2).is_none());
        assert!(cell.read_at(&main, inner, || 3).is_none());
        main.end_span(inner);
        main.end_span(outer);
    }

    #[test]
    fn a_slot_without_room_for_the_reserve_stamps_a_plain_access() {
        let mut d = Detector::with_clock_limit(10);
        let mut main = d.root_thread().unwrap();
        let now = main.epoch();
        let span = main.open_span();
        assert_eq!(span, now);
        main.end_span(span);
        assert_eq!(main.epoch(), now);
    }
}
