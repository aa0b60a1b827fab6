//! One test per rule of the happens-before engine.
//!
//! Most tests replay a text trace (`Trace::parse(..)?.races()`) and assert the
//! exact list of racing events: `(current event, previous event, kind)`. Event
//! indices count events only (comments and blank lines are not events); each
//! trace line carries its index as a trailing comment. Where the API says it
//! more directly, tests drive `Detector` / `ThreadState` / `Shadow` /
//! `SyncClock` / `AtomicSync` themselves.

use racedet_detector::trace::{Replay, Trace, TraceError};
use racedet_detector::{
    AccessKind, AtomicSync, Detector, Ordering, Race, RaceKind, Shadow, SyncClock,
};
use RaceKind::{ReadWrite, WriteRead, WriteWrite};

// ---------------------------------------------------------------- helpers

/// Replays `text`; panics on a parse or replay error.
fn replay(text: &str) -> Vec<(usize, Race<usize>)> {
    let trace = Trace::parse(text).unwrap_or_else(|e| panic!("parse: {e}"));
    let races = trace.races().unwrap_or_else(|e| panic!("replay: {e}"));
    for (i, race) in &races {
        assert_eq!(race.current.site, *i, "current site is the event index");
        assert!(
            race.previous.site < *i,
            "previous site {} is an earlier event than {i}",
            race.previous.site
        );
    }
    races
}

/// `(current event, previous event, kind)` of every race in `text`.
fn verdicts(text: &str) -> Vec<(usize, usize, RaceKind)> {
    replay(text)
        .iter()
        .map(|(i, r)| (*i, r.previous.site, r.kind()))
        .collect()
}

fn assert_races(text: &str, expected: &[(usize, usize, RaceKind)]) {
    assert_eq!(verdicts(text), expected, "trace:\n{text}");
}

fn assert_silent(text: &str) {
    assert_races(text, &[]);
}

/// The only race of `text`, which must be exactly one.
fn only_race(text: &str) -> Race<usize> {
    let races = replay(text);
    assert_eq!(races.len(), 1, "expected exactly one race, got {races:#?}");
    races[0].1
}

/// The replay error of `text`, which must parse.
fn replay_error(text: &str) -> TraceError {
    Trace::parse(text)
        .unwrap_or_else(|e| panic!("parse: {e}"))
        .races()
        .expect_err("the replay should fail")
}

/// Replays `trace` on `detector`; returns the verdicts and the slot count.
fn replay_on(detector: Detector, trace: &Trace) -> (Vec<(usize, usize, RaceKind)>, usize) {
    let mut replay = Replay::with_detector(detector);
    let mut out = Vec::new();
    for (i, event) in trace.events.iter().enumerate() {
        if let Some(race) = replay.step(i, *event).expect("replay") {
            out.push((i, race.previous.site, race.kind()));
        }
    }
    (out, replay.detector().slot_count())
}

// ------------------------------------------------------------- fork / join

#[test]
fn write_after_join_is_not_a_race() {
    assert_silent(
        "
        main fork t1    # 0
        t1 write x      # 1
        t1 end          # 2
        main join t1    # 3
        main write x    # 4
        main read x     # 5
        ",
    );
}

#[test]
fn join_ends_a_running_child_and_acquires_its_clock() {
    assert_silent(
        "
        main fork t1    # 0
        t1 write x      # 1
        main join t1    # 2  (no explicit `end`)
        main write x    # 3
        ",
    );
}

#[test]
fn parent_accesses_before_fork_happen_before_the_child() {
    assert_silent(
        "
        main write x    # 0
        main read y     # 1
        main fork t1    # 2
        t1 write x      # 3
        t1 write y      # 4
        ",
    );
}

#[test]
fn parent_write_after_fork_races_with_the_child() {
    assert_races(
        "
        main fork t1    # 0
        main write x    # 1
        t1 read x       # 2
        ",
        &[(2, 1, WriteRead)],
    );
}

#[test]
fn join_is_transitive_through_a_grandchild() {
    assert_silent(
        "
        main fork t1    # 0
        t1 fork t2      # 1
        t2 write x      # 2
        t1 join t2      # 3
        main join t1    # 4
        main write x    # 5
        ",
    );
}

// ----------------------------------------------------- shadow: plain rules

#[test]
fn write_write_race_names_both_sites() {
    let race = only_race(
        "
        main fork t1    # 0
        main fork t2    # 1
        t1 write x      # 2
        t2 write x      # 3
        ",
    );
    assert_eq!(race.kind(), WriteWrite);
    assert_eq!(race.previous.site, 2);
    assert_eq!(race.current.site, 3);
    assert_eq!(race.previous.kind, AccessKind::Write);
    assert_eq!(race.current.kind, AccessKind::Write);
    assert_ne!(race.previous.tid(), race.current.tid());
    assert!(!race.is_mixed_atomic());
}

#[test]
fn unordered_read_after_write_is_a_write_read_race() {
    let race = only_race(
        "
        main fork t1    # 0
        main fork t2    # 1
        t1 write x      # 2
        t2 read x       # 3
        ",
    );
    assert_eq!(race.kind(), WriteRead);
    assert_eq!((race.current.site, race.previous.site), (3, 2));
    assert_eq!(race.previous.kind, AccessKind::Write);
    assert_eq!(race.current.kind, AccessKind::Read);
    assert!(!race.is_mixed_atomic());
}

#[test]
fn unordered_write_after_read_is_a_read_write_race() {
    let race = only_race(
        "
        main fork t1    # 0
        main fork t2    # 1
        t1 read x       # 2
        t2 write x      # 3
        ",
    );
    assert_eq!(race.kind(), ReadWrite);
    assert_eq!((race.current.site, race.previous.site), (3, 2));
    assert_eq!(race.previous.kind, AccessKind::Read);
    assert_eq!(race.current.kind, AccessKind::Write);
}

#[test]
fn concurrent_reads_never_race() {
    assert_silent(
        "
        main write x    # 0
        main fork t1    # 1
        main fork t2    # 2
        t1 read x       # 3
        t2 read x       # 4
        main read x     # 5
        ",
    );
}

#[test]
fn concurrent_reads_inflate_and_ordered_write_deflates() {
    let mut d = Detector::new();
    let mut main = d.root_thread().unwrap();
    let t1 = d.fork(&mut main).unwrap();
    let t2 = d.fork(&mut main).unwrap();
    let mut x: Shadow<u32> = Shadow::new();

    assert!(x.read(&t1, 1).is_none());
    assert_eq!(x.remembered(), 1);
    assert!(x.read(&t2, 2).is_none());
    assert_eq!(x.remembered(), 2, "two unordered reads are both kept");

    let end1 = d.finish(t1);
    let end2 = d.finish(t2);
    main.acquire(&end1);
    main.acquire(&end2);
    assert!(x.write(&main, 3).is_none());
    assert_eq!(
        x.remembered(),
        1,
        "a write ordered after both reads stands for all"
    );
}

#[test]
fn a_read_recorded_later_checks_writes_as_if_recorded_when_made() {
    // The shared read path of a map: a reader asks `read_needs_only_record`,
    // keeps its record on a line of its own, and a later writer hands the
    // record to the cell before its own check.
    let mut d = Detector::new();
    let mut main = d.root_thread().unwrap();
    let mut x: Shadow<u32> = Shadow::new();
    assert!(x.write(&main, 0).is_none());
    let t1 = d.fork(&mut main).unwrap();
    let t2 = d.fork(&mut main).unwrap();
    assert!(x.read_needs_only_record(&t1), "t1 saw the write");
    x.add_checked_read(t1.epoch(), 1);
    assert_eq!(x.remembered(), 2);
    let race = x.write(&t2, 2).expect("t2 did not see t1's read");
    assert_eq!((race.kind(), race.previous.site), (ReadWrite, 1));

    // Ordered after the read: silent, and the write stands for it.
    let mut y: Shadow<u32> = Shadow::new();
    y.add_checked_read(t1.epoch(), 3);
    let end1 = d.finish(t1);
    main.acquire(&end1);
    assert!(y.write(&main, 4).is_none());
    assert_eq!(y.remembered(), 1);
}

#[test]
fn a_read_recorded_later_keeps_the_newest_read_of_its_slot_and_joins_others() {
    let mut d = Detector::new();
    let mut main = d.root_thread().unwrap();
    let mut t1 = d.fork(&mut main).unwrap();
    let t2 = d.fork(&mut main).unwrap();
    let mut x: Shadow<u32> = Shadow::new();
    let older = t1.epoch();
    t1.tick();
    // t1's newer read went through the cell itself; its older record
    // arrives after it and must not replace it.
    assert!(x.read(&t1, 2).is_none());
    x.add_checked_read(older, 1);
    assert_eq!(x.remembered(), 1);
    // Another slot's read joins (the cell cannot tell whether t2 saw t1's).
    x.add_checked_read(t2.epoch(), 3);
    assert_eq!(x.remembered(), 2);
    x.add_checked_read(older, 1);
    assert_eq!(x.remembered(), 2, "one entry per slot");
    let race = x.write(&main, 4).expect("main saw neither read");
    assert_eq!(race.previous.site, 2, "t1's newest read stands");
}

#[test]
fn a_write_not_seen_means_a_read_must_go_through_the_cell() {
    let mut d = Detector::new();
    let mut main = d.root_thread().unwrap();
    let t1 = d.fork(&mut main).unwrap();
    let mut x: Shadow<u32> = Shadow::new();
    assert!(x.write(&main, 0).is_none());
    assert!(!x.read_needs_only_record(&t1), "t1 forked before the write");
    assert!(x.read(&t1, 1).is_some());
}

#[test]
fn same_epoch_read_is_fast_path_and_silent() {
    let mut d = Detector::new();
    let mut main = d.root_thread().unwrap();
    let mut x: Shadow<u32> = Shadow::new();
    assert!(x.write(&main, 0).is_none());
    let t1 = d.fork(&mut main).unwrap(); // t1 saw the write, not what follows
    assert!(x.read(&main, 1).is_none());
    let before = x.remembered();
    for site in 2..10 {
        assert!(x.read(&main, site).is_none());
    }
    assert_eq!(
        x.remembered(),
        before,
        "repeated same-epoch reads add nothing"
    );
    // The remembered read is still the first one of the epoch.
    let race = x.write(&t1, 10).expect("t1 did not see main's reads");
    assert_eq!(race.kind(), ReadWrite);
    assert_eq!(race.previous.site, 1);
}

#[test]
fn same_epoch_read_after_a_foreign_atomic_store_is_still_checked() {
    assert_races(
        "
        main fork t1            # 0
        main fork t2            # 1
        t1 read x               # 2
        t2 store x relaxed      # 3
        t1 read x               # 4  same epoch as 2, but 3 came in between
        ",
        &[(3, 2, ReadWrite), (4, 3, WriteRead)],
    );
}

#[test]
fn same_epoch_write_is_fast_path_and_silent() {
    let mut d = Detector::new();
    let mut main = d.root_thread().unwrap();
    let mut x: Shadow<u32> = Shadow::new();
    assert!(x.write(&main, 0).is_none());
    // The fork ticks main: sites 1..=5 are one new epoch, which t1 has not
    // seen. The first write of the epoch stands for the rest (the fast
    // path leaves it in place), so it is the one t1 races with.
    let t1 = d.fork(&mut main).unwrap();
    for site in 1..=5 {
        assert!(x.write(&main, site).is_none());
    }
    assert_eq!(x.remembered(), 1);
    let race = x.write(&t1, 10).expect("t1 has not seen main's epoch");
    assert_eq!(race.previous.site, 1);
}

#[test]
fn same_epoch_write_after_a_foreign_read_is_still_checked() {
    assert_races(
        "
        main fork t1    # 0
        main fork t2    # 1
        t1 write x      # 2
        t2 read x       # 3
        t1 write x      # 4  same epoch as 2, but 3 came in between
        ",
        &[(3, 2, WriteRead), (4, 3, ReadWrite)],
    );
}

#[test]
fn every_racing_access_is_reported_not_only_the_first() {
    assert_races(
        "
        main fork t1    # 0
        main fork t2    # 1
        t1 write x      # 2
        t2 read x       # 3
        t2 read x       # 4  same epoch, still unordered with 2
        t2 write x      # 5
        ",
        &[(3, 2, WriteRead), (4, 2, WriteRead), (5, 2, WriteWrite)],
    );
}

#[test]
fn race_with_an_older_racing_write_is_still_found_after_a_newer_write() {
    // Plain FastTrack keeps only the last write (4) and would miss 7.
    assert_races(
        "
        main fork t1    # 0
        main fork t2    # 1
        t1 write x      # 2
        main lock m     # 3
        main write x    # 4  races with 2
        main unlock m   # 5
        t2 lock m       # 6
        t2 read x       # 7  ordered after 4, but not after 2
        t2 unlock m     # 8
        ",
        &[(4, 2, WriteWrite), (7, 2, WriteRead)],
    );
}

#[test]
fn write_races_with_an_older_unordered_reader_not_just_the_latest() {
    assert_races(
        "
        main fork t1    # 0
        main fork t2    # 1
        t1 read x       # 2
        t2 read x       # 3
        t2 release s    # 4
        main acquire s  # 5
        main write x    # 6  ordered after 3, not after 2
        ",
        &[(6, 2, ReadWrite)],
    );
}

#[test]
fn shadow_reset_forgets_the_history() {
    let mut d = Detector::new();
    let mut main = d.root_thread().unwrap();
    let t1 = d.fork(&mut main).unwrap();
    let mut x: Shadow<u32> = Shadow::new();
    assert!(x.write(&main, 0).is_none());
    x.reset();
    assert_eq!(x.remembered(), 0);
    assert!(x.write(&t1, 1).is_none());
}

#[test]
fn race_carries_the_epochs_and_slots_of_both_accesses() {
    let mut d = Detector::new();
    let mut main = d.root_thread().unwrap();
    let t1 = d.fork(&mut main).unwrap();
    let mut x: Shadow<&str> = Shadow::new();
    let main_epoch = main.epoch();
    assert!(x.write(&main, "main").is_none());
    let race = x.read(&t1, "t1").expect("unordered");
    assert_eq!(race.previous.epoch, main_epoch);
    assert_eq!(race.previous.tid(), main.tid());
    assert_eq!(race.previous.site, "main");
    assert_eq!(race.current.epoch, t1.epoch());
    assert_eq!(race.current.tid(), t1.tid());
    assert_eq!(race.current.site, "t1");
    assert!(
        !t1.saw(main_epoch),
        "the child did not see the parent's post-fork write"
    );
}

// ---------------------------------------------------- shadow: atomic rules

#[test]
fn atomic_vs_atomic_never_races() {
    assert_silent(
        "
        main fork t1            # 0
        main fork t2            # 1
        t1 store x relaxed      # 2
        t2 store x relaxed      # 3
        t2 load x relaxed       # 4
        t1 rmw x relaxed        # 5
        t2 rmw x relaxed        # 6
        t1 load x relaxed       # 7
        main load x relaxed     # 8
        ",
    );
}

#[test]
fn atomic_store_vs_plain_read_races() {
    let race = only_race(
        "
        main fork t1            # 0
        main fork t2            # 1
        t1 store x relaxed      # 2
        t2 read x               # 3
        ",
    );
    assert_eq!(race.kind(), WriteRead);
    assert_eq!((race.current.site, race.previous.site), (3, 2));
    assert_eq!(race.previous.kind, AccessKind::AtomicWrite);
    assert_eq!(race.current.kind, AccessKind::Read);
    assert!(race.is_mixed_atomic());
}

#[test]
fn plain_write_vs_atomic_load_races() {
    let race = only_race(
        "
        main fork t1            # 0
        main fork t2            # 1
        t1 write x              # 2
        t2 load x acquire       # 3
        ",
    );
    assert_eq!(race.kind(), WriteRead);
    assert_eq!((race.current.site, race.previous.site), (3, 2));
    assert_eq!(race.previous.kind, AccessKind::Write);
    assert_eq!(race.current.kind, AccessKind::AtomicRead);
    assert!(race.is_mixed_atomic());
}

#[test]
fn atomic_load_vs_plain_write_races() {
    let race = only_race(
        "
        main fork t1            # 0
        main fork t2            # 1
        t1 load x relaxed       # 2
        t2 write x              # 3
        ",
    );
    assert_eq!(race.kind(), ReadWrite);
    assert_eq!((race.current.site, race.previous.site), (3, 2));
    assert_eq!(race.previous.kind, AccessKind::AtomicRead);
    assert!(race.is_mixed_atomic());
}

#[test]
fn atomic_load_vs_plain_read_never_races() {
    assert_silent(
        "
        main fork t1            # 0
        main fork t2            # 1
        t1 load x relaxed       # 2
        t2 read x               # 3
        t1 read x               # 4
        t2 load x seqcst        # 5
        ",
    );
}

#[test]
fn plain_read_does_not_hide_an_earlier_atomic_write() {
    // 3 is ordered after 2 but, being a read, cannot stand in for it: 4 is
    // a plain read, which races with the atomic write 2 and not with 3.
    assert_races(
        "
        main fork t1            # 0
        main fork t2            # 1
        t1 store x relaxed      # 2
        t1 read x               # 3
        t2 read x               # 4
        ",
        &[(4, 2, WriteRead)],
    );
}

#[test]
fn atomic_write_does_not_hide_an_earlier_plain_read() {
    // 3 is ordered after 2, but an atomic store (4) races with the plain
    // read 2 and not with the atomic store 3.
    assert_races(
        "
        main fork t1            # 0
        main fork t2            # 1
        t1 read x               # 2
        t1 store x relaxed      # 3
        t2 store x relaxed      # 4
        ",
        &[(4, 2, ReadWrite)],
    );
}

#[test]
fn plain_read_stands_in_for_an_earlier_atomic_read_of_its_thread() {
    let mut d = Detector::new();
    let mut main = d.root_thread().unwrap();
    let t1 = d.fork(&mut main).unwrap();
    let t2 = d.fork(&mut main).unwrap();
    let mut x: Shadow<u32> = Shadow::new();
    assert!(x.atomic_read(&t1, 0).is_none());
    assert!(x.read(&t1, 1).is_none());
    assert_eq!(x.remembered(), 1, "the atomic read is forgotten");
    let race = x.write(&t2, 2).expect("still a race");
    assert_eq!(race.kind(), ReadWrite);
    assert_eq!(race.previous.site, 1);
    assert_eq!(race.previous.kind, AccessKind::Read);
}

#[test]
fn acquire_load_orders_the_store_it_reads_before_plain_accesses() {
    assert_silent(
        "
        main fork t1            # 0
        main fork t2            # 1
        t1 store x release      # 2
        t2 load x acquire       # 3
        t2 write x              # 4
        ",
    );
}

#[test]
fn plain_write_published_by_the_store_an_acquire_load_reads_is_not_a_race() {
    // The load synchronizes with the store it reads from, so the plain write
    // sequenced before that store happens before the load itself.
    assert_silent(
        "
        main fork t1            # 0
        main fork t2            # 1
        t1 write x              # 2
        t1 store x release      # 3
        t2 load x acquire       # 4
        ",
    );
}

#[test]
fn plain_write_published_by_the_store_an_acquire_rmw_reads_is_not_a_race() {
    assert_silent(
        "
        main fork t1            # 0
        main fork t2            # 1
        t1 write x              # 2
        t1 store x release      # 3
        t2 rmw x acqrel         # 4
        ",
    );
}

#[test]
fn relaxed_load_still_races_with_the_plain_write_before_the_store_it_reads() {
    let race = only_race(
        "
        main fork t1            # 0
        main fork t2            # 1
        t1 write x              # 2
        t1 store x release      # 3
        t2 load x relaxed       # 4
        ",
    );
    assert_eq!(race.kind(), WriteRead);
    assert_eq!((race.current.site, race.previous.site), (4, 2));
    assert!(race.is_mixed_atomic());
}

// ------------------------------------------------- atomics: synchronization

#[test]
fn acquire_load_of_release_store_publishes_data() {
    assert_silent(
        "
        main fork t1            # 0
        main fork t2            # 1
        t1 write d              # 2
        t1 store f release      # 3
        t2 load f acquire       # 4
        t2 read d               # 5
        t2 write d              # 6
        ",
    );
}

#[test]
fn relaxed_store_does_not_publish_data() {
    assert_races(
        "
        main fork t1            # 0
        main fork t2            # 1
        t1 write d              # 2
        t1 store f relaxed      # 3
        t2 load f acquire       # 4
        t2 read d               # 5
        ",
        &[(5, 2, WriteRead)],
    );
}

#[test]
fn relaxed_load_does_not_acquire() {
    assert_races(
        "
        main fork t1            # 0
        main fork t2            # 1
        t1 write d              # 2
        t1 store f release      # 3
        t2 load f relaxed       # 4
        t2 read d               # 5
        ",
        &[(5, 2, WriteRead)],
    );
}

#[test]
fn seqcst_store_and_load_act_as_release_and_acquire() {
    assert_silent(
        "
        main fork t1            # 0
        main fork t2            # 1
        t1 write d              # 2
        t1 store f seqcst       # 3
        t2 load f seqcst        # 4
        t2 read d               # 5
        ",
    );
}

#[test]
fn relaxed_load_then_fence_acquire_synchronizes() {
    assert_silent(
        "
        main fork t1            # 0
        main fork t2            # 1
        t1 write d              # 2
        t1 store f release      # 3
        t2 load f relaxed       # 4
        t2 fence acquire        # 5
        t2 read d               # 6
        ",
    );
}

#[test]
fn fence_acquire_does_not_take_loads_made_after_it() {
    assert_races(
        "
        main fork t1            # 0
        main fork t2            # 1
        t1 write d              # 2
        t1 store f release      # 3
        t2 fence acquire        # 4
        t2 load f relaxed       # 5
        t2 read d               # 6
        ",
        &[(6, 2, WriteRead)],
    );
}

#[test]
fn fence_release_then_relaxed_store_publishes_to_acquire_load() {
    assert_silent(
        "
        main fork t1            # 0
        main fork t2            # 1
        t1 write d              # 2
        t1 fence release        # 3
        t1 store f relaxed      # 4
        t2 load f acquire       # 5
        t2 read d               # 6
        ",
    );
}

#[test]
fn fence_release_does_not_publish_accesses_after_it() {
    assert_races(
        "
        main fork t1            # 0
        main fork t2            # 1
        t1 write a              # 2
        t1 fence release        # 3
        t1 write b              # 4
        t1 store f relaxed      # 5
        t2 load f acquire       # 6
        t2 read a               # 7
        t2 read b               # 8
        ",
        &[(8, 4, WriteRead)],
    );
}

#[test]
fn fence_release_and_fence_acquire_synchronize_through_relaxed_accesses() {
    assert_silent(
        "
        main fork t1            # 0
        main fork t2            # 1
        t1 write d              # 2
        t1 fence release        # 3
        t1 store f relaxed      # 4
        t2 load f relaxed       # 5
        t2 fence acquire        # 6
        t2 read d               # 7
        ",
    );
}

#[test]
fn fence_release_then_relaxed_rmw_publishes() {
    assert_silent(
        "
        main fork t1            # 0
        main fork t2            # 1
        t1 write d              # 2
        t1 fence release        # 3
        t1 rmw f relaxed        # 4
        t2 load f acquire       # 5
        t2 read d               # 6
        ",
    );
}

#[test]
fn acqrel_fence_is_both_an_acquire_and_a_release_fence() {
    // t2's AcqRel fence acquires t1's data and publishes it on to t3.
    assert_silent(
        "
        main fork t1            # 0
        main fork t2            # 1
        main fork t3            # 2
        t1 write d              # 3
        t1 store f release      # 4
        t2 load f relaxed       # 5
        t2 fence acqrel         # 6
        t2 store g relaxed      # 7
        t3 load g acquire       # 8
        t3 read d               # 9
        ",
    );
}

#[test]
fn rmw_continues_release_sequence() {
    assert_silent(
        "
        main fork t1            # 0
        main fork t2            # 1
        main fork t3            # 2
        t1 write d              # 3
        t1 store f release      # 4
        t2 rmw f relaxed        # 5
        t3 load f acquire       # 6  reads the RMW: still synchronizes with 4
        t3 read d               # 7
        ",
    );
}

#[test]
fn relaxed_store_breaks_release_sequence() {
    assert_races(
        "
        main fork t1            # 0
        main fork t2            # 1
        main fork t3            # 2
        t1 write d              # 3
        t1 store f release      # 4
        t2 store f relaxed      # 5
        t3 load f acquire       # 6  reads 5: no synchronization with 4
        t3 read d               # 7
        ",
        &[(7, 3, WriteRead)],
    );
}

#[test]
fn same_thread_relaxed_store_breaks_release_sequence_under_cpp20_rules() {
    // C++11 let the head thread's own relaxed stores continue the sequence;
    // C++20 (which the engine follows) does not.
    assert_races(
        "
        main fork t1            # 0
        main fork t2            # 1
        t1 write d              # 2
        t1 store f release      # 3
        t1 store f relaxed      # 4
        t2 load f acquire       # 5
        t2 read d               # 6
        ",
        &[(6, 2, WriteRead)],
    );
}

#[test]
fn release_rmw_extends_rather_than_replaces_release_sequence() {
    assert_silent(
        "
        main fork t1            # 0
        main fork t2            # 1
        main fork t3            # 2
        t1 write a              # 3
        t1 store f release      # 4
        t2 write b              # 5
        t2 rmw f release        # 6  heads a new sequence and continues 4's
        t3 load f acquire       # 7
        t3 read a               # 8
        t3 read b               # 9
        ",
    );
}

#[test]
fn acquire_rmw_synchronizes_with_release_store() {
    assert_silent(
        "
        main fork t1            # 0
        main fork t2            # 1
        t1 write d              # 2
        t1 store f release      # 3
        t2 rmw f acquire        # 4
        t2 read d               # 5
        ",
    );
}

#[test]
fn relaxed_store_without_fence_clears_what_the_location_publishes() {
    let mut d = Detector::new();
    let mut main = d.root_thread().unwrap();
    let mut t1 = d.fork(&mut main).unwrap();
    let mut f = AtomicSync::new();
    assert!(f.release_clock().is_zero());

    let before = t1.clock().clone();
    let epoch = t1.epoch();
    f.store(&mut t1, Ordering::Release);
    assert_eq!(
        f.release_clock(),
        &before,
        "a release store publishes the clock"
    );
    assert!(t1.epoch().clock() > epoch.clock(), "and the releaser ticks");

    f.store(&mut t1, Ordering::Relaxed);
    assert!(
        f.release_clock().is_zero(),
        "a relaxed store ends the sequence"
    );
}

#[test]
fn a_store_by_a_thread_not_followed_publishes_nothing_and_ends_the_sequence() {
    let mut d = Detector::new();
    let mut main = d.root_thread().unwrap();
    let mut t1 = d.fork(&mut main).unwrap();
    let mut f = AtomicSync::new();
    f.store(&mut t1, Ordering::Release);
    assert!(!f.release_clock().is_zero());
    f.store_unseen();
    assert!(
        f.release_clock().is_zero(),
        "a load reading it must not synchronize with t1"
    );
}

#[test]
fn seqcst_fences_alone_do_not_order_each_other() {
    // C++11: SeqCst fences synchronize only through an atomic that one side
    // writes and the other reads; their total order alone adds no edge.
    assert_races(
        "
        main fork t1            # 0
        main fork t2            # 1
        t1 write d              # 2
        t1 fence seqcst         # 3
        t2 fence seqcst         # 4
        t2 read d               # 5
        ",
        &[(5, 2, WriteRead)],
    );
}

#[test]
fn seqcst_fence_does_not_order_accesses_after_it() {
    assert_races(
        "
        main fork t1            # 0
        main fork t2            # 1
        t2 fence seqcst         # 2
        t1 fence seqcst         # 3
        t1 write d              # 4
        t2 read d               # 5
        ",
        &[(5, 4, WriteRead)],
    );
}

#[test]
fn seqcst_fence_is_also_an_acquire_fence() {
    assert_silent(
        "
        main fork t1            # 0
        main fork t2            # 1
        t1 write d              # 2
        t1 store f release      # 3
        t2 load f relaxed       # 4
        t2 fence seqcst         # 5
        t2 read d               # 6
        ",
    );
}

// ------------------------------------------------------ locks / annotations

#[test]
fn mutex_orders_critical_sections() {
    assert_silent(
        "
        main fork t1    # 0
        main fork t2    # 1
        t1 lock m       # 2
        t1 write x      # 3
        t1 unlock m     # 4
        t2 lock m       # 5
        t2 write x      # 6
        t2 unlock m     # 7
        ",
    );
}

#[test]
fn access_after_unlock_is_not_published_by_it() {
    assert_races(
        "
        main fork t1    # 0
        main fork t2    # 1
        t1 lock m       # 2
        t1 unlock m     # 3
        t1 write x      # 4
        t2 lock m       # 5
        t2 read x       # 6
        t2 unlock m     # 7
        ",
        &[(6, 4, WriteRead)],
    );
}

#[test]
fn write_unlock_releases_to_next_reader() {
    assert_silent(
        "
        main fork w     # 0
        main fork r     # 1
        w lock m        # 2
        w write x       # 3
        w unlock m      # 4
        r rlock m       # 5
        r read x        # 6
        r runlock m     # 7
        ",
    );
}

#[test]
fn read_unlock_releases_to_next_writer_not_to_next_reader() {
    assert_races(
        "
        main fork r1    # 0
        main fork r2    # 1
        main fork w     # 2
        r1 write x      # 3
        r1 rlock m      # 4
        r1 runlock m    # 5
        r2 rlock m      # 6
        r2 read x       # 7  no edge from r1's read-unlock
        r2 runlock m    # 8
        w lock m        # 9  acquires both read-unlocks
        w write x       # 10
        w unlock m      # 11
        ",
        &[(7, 3, WriteRead)],
    );
}

#[test]
fn readers_are_passed_on_through_an_intervening_writer() {
    assert_silent(
        "
        main fork r     # 0
        main fork w1    # 1
        main fork w2    # 2
        r rlock m       # 3
        r read x        # 4
        r runlock m     # 5
        w1 lock m       # 6
        w1 unlock m     # 7
        w2 lock m       # 8
        w2 write x      # 9
        w2 unlock m     # 10
        ",
    );
}

#[test]
fn a_lock_released_again_by_its_last_owner_carries_what_it_learned_since() {
    // t1's second unlock of m takes the one-store path only while t1's
    // clock has changed only by ticks since its first: here it acquired n
    // (learning t2's write) in between, so m must also carry t2's write
    // for t3.
    assert_silent(
        "
        main fork t1    # 0
        main fork t2    # 1
        main fork t3    # 2
        t1 lock m       # 3
        t1 unlock m     # 4
        t2 write x      # 5
        t2 lock n       # 6
        t2 unlock n     # 7
        t1 lock n       # 8
        t1 unlock n     # 9
        t1 lock m       # 10
        t1 unlock m     # 11
        t3 lock m       # 12
        t3 write x      # 13
        t3 unlock m     # 14
        ",
    );
}

#[test]
fn a_lock_taken_again_without_learning_anything_still_publishes_new_accesses() {
    // The one-store path: t1 cycles m; the write in its second critical
    // section reaches t2, the write after its last unlock does not. (t1's
    // first release moves its clock past its start, where a release of its
    // own can be recognised: only then is the second unlock one store.)
    assert_races(
        "
        main fork t1    # 0
        main fork t2    # 1
        t1 release z    # 2
        t1 lock m       # 3
        t1 unlock m     # 4
        t1 lock m       # 5
        t1 write x      # 6
        t1 unlock m     # 7
        t1 write y      # 8
        t2 lock m       # 9
        t2 write x      # 10
        t2 write y      # 11
        t2 unlock m     # 12
        ",
        &[(11, 8, WriteWrite)],
    );
}

#[test]
fn a_thread_reusing_a_slot_does_not_take_over_its_predecessors_releases() {
    // t3 runs in t1's old slot; m's clock was last released by t1. t3's
    // unlock must store t3's whole clock (with main's write), not just
    // update the slot's entry as if t3 had released m before.
    assert_silent(
        "
        main fork t1    # 0
        main fork t2    # 1
        t1 lock m       # 2
        t1 unlock m     # 3
        main join t1    # 4
        main write x    # 5
        main fork t3    # 6  takes t1's slot
        t3 lock m       # 7
        t3 unlock m     # 8
        t2 lock m       # 9
        t2 write x      # 10
        t2 unlock m     # 11
        ",
    );
}

#[test]
fn an_unlock_after_the_same_thread_s_merge_release_stores_only_its_own_clock() {
    // t1's last release of m was a merge (carrying t2's part too), so its
    // unlock must not take the one-store path: the unlock stores t1's clock
    // alone, and t3 does not see t2's write. (t1's earlier release of z
    // only moves t1's clock so the one-store condition would hold.)
    assert_races(
        "
        main fork t1    # 0
        main fork t2    # 1
        main fork t3    # 2
        t1 release z    # 3
        t1 lock m       # 4
        t2 write x      # 5
        t2 release m    # 6
        t1 release m    # 7
        t1 unlock m     # 8
        t3 lock m       # 9
        t3 write x      # 10
        ",
        &[(10, 5, WriteWrite)],
    );
}

#[test]
fn merge_release_by_the_last_merger_keeps_other_mergers() {
    // A merge-form clock written by t1, then t2, then t1 again: t1's second
    // merge must keep t2's part (t2's merge took ownership away from t1).
    // The first two releases move t1's and t2's clocks past their starts,
    // so that their later releases could pass for owned ones.
    assert_silent(
        "
        main fork t1    # 0
        main fork t2    # 1
        main fork t3    # 2
        t1 release z    # 3
        t2 release w    # 4
        t1 release s    # 5
        t2 write x      # 6
        t2 release s    # 7
        t1 release s    # 8
        t3 acquire s    # 9
        t3 write x      # 10
        ",
    );
}

#[test]
fn annotation_release_acquire_orders() {
    assert_silent(
        "
        main fork t1    # 0
        main fork t2    # 1
        t1 write x      # 2
        t1 release s    # 3
        t2 acquire s    # 4
        t2 write x      # 5
        ",
    );
}

#[test]
fn annotation_release_merges_every_releaser() {
    assert_silent(
        "
        main fork t1    # 0
        main fork t2    # 1
        main fork t3    # 2
        t1 write a      # 3
        t1 release s    # 4
        t2 write b      # 5
        t2 release s    # 6
        t3 acquire s    # 7
        t3 write a      # 8
        t3 write b      # 9
        ",
    );
}

#[test]
fn acquire_before_release_orders_nothing() {
    assert_races(
        "
        main fork t1    # 0
        main fork t2    # 1
        t2 acquire s    # 2
        t1 write x      # 3
        t1 release s    # 4
        t2 read x       # 5
        ",
        &[(5, 3, WriteRead)],
    );
}

#[test]
fn sync_clock_release_store_replaces_and_release_merge_accumulates() {
    let mut d = Detector::new();
    let mut main = d.root_thread().unwrap();
    let mut t1 = d.fork(&mut main).unwrap();
    let mut t2 = d.fork(&mut main).unwrap();
    let (c1, c2) = (t1.clock().clone(), t2.clock().clone());

    let mut merged = SyncClock::new();
    merged.release_merge(&mut t1);
    merged.release_merge(&mut t2);
    assert!(c1.le(merged.clock()) && c2.le(merged.clock()));

    let mut stored = SyncClock::new();
    let t1_before = t1.clock().clone();
    stored.release_store(&mut t1);
    assert_eq!(
        stored.clock(),
        &t1_before,
        "the store form carries the releaser's clock"
    );
    let t2_before = t2.clock().clone();
    stored.release_store(&mut t2);
    assert_eq!(stored.clock(), &t2_before, "and only the latest releaser's");
    assert!(!t1_before.le(stored.clock()), "the store form forgets t1");
}

// ------------------------------------------------------------------- slots

#[test]
fn an_adopted_thread_in_a_freed_slot_still_acquires_its_predecessor_s_lock_release() {
    // m was last released by t1 and carries t2's part, which t1 acquired.
    // t3 takes t1's freed slot without having seen t1's clock (adopted
    // threads claim only the slot's last epoch): m's name is of t3's slot,
    // but not a release t3 made, so its lock must still join m.
    let mut d = Detector::new();
    let mut main = d.root_thread().unwrap();
    let mut t1 = d.fork(&mut main).unwrap();
    let mut t2 = d.fork(&mut main).unwrap();
    let t2_part = t2.epoch().clock();
    let mut a = SyncClock::new();
    a.release_lock(&mut t2);
    a.acquire_lock(&mut t1);
    let mut m = SyncClock::new();
    m.release_lock(&mut t1);
    let slot = t1.tid();
    let _end = d.finish(t1);
    let mut t3 = d.adopt_thread().unwrap();
    assert_eq!(t3.tid(), slot, "t3 reuses t1's slot");
    assert!(t3.clock().get(t2.tid()) < t2_part);
    m.acquire_lock(&mut t3);
    assert_eq!(t3.clock().get(t2.tid()), t2_part, "t3 sees t2's release");
}

#[test]
fn slot_of_joined_thread_is_reused() {
    let mut d = Detector::new();
    let mut main = d.root_thread().unwrap();
    let t1 = d.fork(&mut main).unwrap();
    let (slot, last) = (t1.tid(), t1.epoch().clock());
    let end = d.finish(t1);
    main.acquire(&end);
    let t2 = d.fork(&mut main).unwrap();
    assert_eq!(t2.tid(), slot);
    assert!(
        t2.epoch().clock() > last,
        "the new owner starts above the old one"
    );
    assert_eq!(d.slot_count(), 2);
    assert_eq!(d.live_threads(), 2);
}

#[test]
fn slot_of_unjoined_ended_thread_is_not_reused_by_unaware_parent() {
    let mut d = Detector::new();
    let mut main = d.root_thread().unwrap();
    let t1 = d.fork(&mut main).unwrap();
    let slot = t1.tid();
    let _end = d.finish(t1); // never acquired by main
    let t2 = d.fork(&mut main).unwrap();
    assert_ne!(t2.tid(), slot);
    assert_eq!(d.slot_count(), 3);
}

#[test]
fn slot_reuse_follows_transitive_knowledge_of_the_end() {
    let mut d = Detector::new();
    let mut main = d.root_thread().unwrap();
    let t1 = d.fork(&mut main).unwrap();
    let mut t2 = d.fork(&mut main).unwrap();
    let slot = t1.tid();
    let end = d.finish(t1);
    t2.acquire(&end); // t2 joins t1
    let t3 = d.fork(&mut t2).unwrap();
    assert_eq!(t3.tid(), slot);
    assert_eq!(d.slot_count(), 3);
}

#[test]
fn reused_slot_still_races_with_threads_that_never_saw_the_old_owner() {
    let text = "
        main fork t1    # 0
        main fork t2    # 1
        t1 write x      # 2
        main join t1    # 3
        main fork t3    # 4  takes t1's slot
        t3 write x      # 5  ordered after 2
        t2 read x       # 6  unordered with 2 and 5
        t2 write y      # 7
        main join t2    # 8
        main join t3    # 9
        main write x    # 10
        main write y    # 11
    ";
    assert_races(text, &[(6, 5, WriteRead)]);
    let (_, slots) = replay_on(Detector::new(), &Trace::parse(text).unwrap());
    assert_eq!(slots, 3, "t3 reused t1's slot");
}

#[test]
fn tick_at_clock_limit_exhausts_and_migrate_moves_to_a_fresh_slot() {
    let mut d = Detector::with_clock_limit(2);
    let mut t = d.root_thread().unwrap();
    let old = t.tid();
    t.tick();
    assert_eq!(t.epoch().clock(), 2);
    assert!(!t.exhausted());
    t.tick();
    assert!(t.exhausted(), "a tick past the limit is refused");
    assert_eq!(t.epoch().clock(), 2, "and does not wrap");

    d.migrate(&mut t).unwrap();
    assert!(!t.exhausted());
    assert_ne!(t.tid(), old);
    assert_eq!(
        t.clock().get(old),
        2,
        "the old slot's entry stays at the limit"
    );
    assert_eq!(t.epoch().tid(), t.tid());
    assert_eq!(t.clock().get(t.tid()), t.epoch().clock());
    assert_eq!(d.live_threads(), 1);
    assert_eq!(d.slot_count(), 2);

    // The retired slot is never handed out again.
    let child = d.fork(&mut t).unwrap();
    assert_ne!(child.tid(), old);
}

#[test]
fn adopted_thread_takes_the_oldest_freed_slot_and_claims_its_past() {
    let mut d = Detector::new();
    let mut main = d.root_thread().unwrap();
    let t1 = d.fork(&mut main).unwrap();
    let t2 = d.fork(&mut main).unwrap();
    let mut x: Shadow<u32> = Shadow::new();
    assert!(x.write(&t1, 0).is_none());
    let (slot, next) = (t1.tid(), t2.tid());
    let _unjoined = d.finish(t1);
    let _unjoined = d.finish(t2);

    let adopted = d.adopt_thread().unwrap();
    assert_eq!(adopted.tid(), slot, "reuses the slot freed first");
    assert!(
        x.write(&adopted, 1).is_none(),
        "the ended owner's accesses are claimed to happen before"
    );
    let fresh = d.adopt_thread().unwrap();
    assert_eq!(fresh.tid(), next, "then the one freed next");
    let _third = d.adopt_thread().unwrap();
    assert_eq!(d.slot_count(), 4, "no free slot left: a new one opens");
    let race = x
        .read(&fresh, 2)
        .expect("an adopted thread sees no live thread");
    assert_eq!(race.previous.site, 1);
}

#[test]
#[should_panic(expected = "clock limit")]
fn clock_limit_below_two_is_refused() {
    Detector::with_clock_limit(1);
}

/// Two threads handing data back and forth through every kind of
/// synchronization, many times over, with two planted races. Returns the
/// text and the expected verdicts.
fn ping_pong(rounds: usize) -> (String, Vec<(usize, usize, RaceKind)>) {
    let mut lines: Vec<&str> = vec!["main fork t1", "main fork t2"];
    let mut expected = Vec::new();
    for round in 0..rounds {
        lines.extend(["t1 lock m", "t1 write x", "t1 unlock m"]);
        if round == rounds / 3 {
            // After the unlock: not published by it.
            lines.push("t1 write w");
            let w = lines.len() - 1;
            lines.extend(["t2 lock m", "t2 read w"]);
            expected.push((lines.len() - 1, w, WriteRead));
            lines.extend(["t2 write x", "t2 unlock m"]);
        } else {
            lines.extend(["t2 lock m", "t2 read x", "t2 write x", "t2 unlock m"]);
        }
        lines.extend([
            "t2 write d",
            "t2 store f release",
            "t1 load f acquire",
            "t1 read d",
        ]);
        lines.extend(["t1 write e", "t1 fence release", "t1 store g relaxed"]);
        lines.extend(["t2 load g relaxed", "t2 fence acquire", "t2 write e"]);
        lines.extend(["t2 write a", "t2 release s", "t1 acquire s", "t1 write a"]);
        lines.extend([
            "t1 write b",
            "t1 fence seqcst",
            "t1 store h relaxed",
            "t2 load h relaxed",
            "t2 fence seqcst",
            "t2 write b",
        ]);
        if round == 2 * rounds / 3 {
            lines.push("t1 write z");
            let z = lines.len() - 1;
            lines.push("t2 read z");
            expected.push((lines.len() - 1, z, WriteRead));
        }
    }
    lines.extend(["main join t1", "main join t2", "main fork t3", "t3 write x"]);
    lines.extend(["t3 write w", "t3 write z", "t3 write a", "t3 write e"]);
    (lines.join("\n"), expected)
}

#[test]
fn clock_exhaustion_migrates_thread_and_keeps_verdicts() {
    let (text, expected) = ping_pong(12);
    let trace = Trace::parse(&text).unwrap();

    let (unlimited, unlimited_slots) = replay_on(Detector::new(), &trace);
    assert_eq!(unlimited, expected);
    assert_eq!(unlimited_slots, 3, "t3 reuses a joined slot");

    for limit in [2, 3, 5] {
        let (limited, slots) = replay_on(Detector::with_clock_limit(limit), &trace);
        assert_eq!(limited, expected, "clock limit {limit}");
        assert!(
            slots > unlimited_slots,
            "limit {limit}: threads must have migrated ({slots} slots)"
        );
    }
}

// ------------------------------------------------------------ trace parsing

#[test]
fn trace_parse_error_names_the_line_of_an_unknown_operation() {
    let err = Trace::parse("main fork t1\n\n# comment\nt1 frobnicate x\n").unwrap_err();
    assert_eq!(err.line, 4, "blank and comment lines count");
    assert!(err.message.contains("`frobnicate`"), "{}", err.message);
    assert!(
        err.message.contains("expected fork, join"),
        "{}",
        err.message
    );
    assert!(err.to_string().starts_with("line 4: "), "{err}");
}

#[test]
fn trace_parse_error_names_the_wrong_argument_count() {
    let err = Trace::parse("main fork t1\nt1 write x y\n").unwrap_err();
    assert_eq!(err.line, 2);
    assert_eq!(err.message, "`write` takes 1 argument(s), found 2");

    let err = Trace::parse("main load flag\n").unwrap_err();
    assert_eq!(err.line, 1);
    assert_eq!(err.message, "`load` takes 2 argument(s), found 1");
}

#[test]
fn trace_parse_error_names_an_unknown_ordering() {
    let err = Trace::parse("main fork t1\nt1 store f consume\n").unwrap_err();
    assert_eq!(err.line, 2);
    assert!(err.message.contains("`consume`"), "{}", err.message);
    assert!(err
        .message
        .contains("relaxed, acquire, release, acqrel or seqcst"));
}

#[test]
fn trace_parse_error_for_a_line_without_an_operation() {
    let err = Trace::parse("main fork t1\nt1   # only a thread\n").unwrap_err();
    assert_eq!(err.line, 2);
    assert!(err.message.contains("THREAD OP"), "{}", err.message);
    assert!(err.message.contains("`t1`"), "{}", err.message);
}

#[test]
fn trace_parse_skips_comments_and_interns_names() {
    let trace = Trace::parse(
        "
        # a comment line
        main fork t1   # trailing comment
        t1 write x
        t1 read x
        main lock m
        ",
    )
    .unwrap();
    assert_eq!(trace.events.len(), 4);
    assert_eq!(trace.threads, ["main", "t1"]);
    assert_eq!(trace.locations, ["x"]);
    assert_eq!(trace.syncs, ["m"]);
    assert_eq!(trace.events[1].thread, trace.events[2].thread);
}

// ------------------------------------------------------------ replay errors

/// Asserts that replaying `text` fails at text line `line` with a message
/// containing `needle`.
#[track_caller]
fn assert_replay_error(text: &str, line: usize, needle: &str) {
    let err = replay_error(text);
    assert_eq!(err.line, line, "{err}");
    assert!(err.message.contains(needle), "{}", err.message);
}

#[test]
fn unlock_without_lock_is_a_replay_error() {
    assert_replay_error("main fork t1\nt1 unlock m\n", 2, "without holding it");
    // Holding is per thread.
    assert_replay_error(
        "main fork t1\nmain lock m\nt1 unlock m\n",
        3,
        "without holding it",
    );
}

#[test]
fn locking_a_held_lock_is_a_replay_error() {
    assert_replay_error("main fork t1\nmain lock m\nt1 lock m\n", 3, "is held");
    // Read-held counts as held.
    assert_replay_error("main fork t1\nmain rlock m\nt1 lock m\n", 3, "is held");
    assert_replay_error("main fork t1\nmain lock m\nt1 rlock m\n", 3, "write-locked");
}

#[test]
fn read_unlock_without_read_lock_is_a_replay_error() {
    assert_replay_error(
        "main fork t1\nmain rlock m\nt1 runlock m\n",
        3,
        "read-unlocks",
    );
}

#[test]
fn acting_before_fork_is_a_replay_error() {
    let text = "main write x\nt1 write x\nmain fork t1\n";
    assert_replay_error(text, 2, "not running");
    assert_replay_error(text, 2, "fork it first");
}

#[test]
fn acting_after_end_or_join_is_a_replay_error() {
    assert_replay_error("main fork t1\nt1 end\nt1 write x\n", 3, "not running");
    assert_replay_error("main fork t1\nmain join t1\nt1 write x\n", 3, "not running");
}

#[test]
fn forking_a_thread_twice_is_a_replay_error() {
    assert_replay_error("main fork t1\nmain fork t1\n", 2, "forked twice");
    // An ended thread cannot be forked again.
    assert_replay_error(
        "main fork t1\nmain join t1\nmain fork t1\n",
        3,
        "forked twice",
    );
}

#[test]
fn joining_itself_or_an_unstarted_thread_is_a_replay_error() {
    assert_replay_error("main fork t1\nt1 join t1\n", 2, "cannot join");
    assert_replay_error("main join t1\n", 1, "cannot join");
    assert_replay_error(
        "main fork t1\nmain fork t2\nt2 join t3\nmain fork t3\n",
        3,
        "cannot join",
    );
}

#[test]
fn impossible_orderings_are_replay_errors() {
    assert_replay_error("main load f release\n", 1, "load cannot have release");
    assert_replay_error("main load f acqrel\n", 1, "load cannot have release");
    assert_replay_error("main store f acquire\n", 1, "store cannot have acquire");
    assert_replay_error("main fence relaxed\n", 1, "fence cannot be relaxed");
}

#[test]
fn replay_error_of_a_parsed_trace_names_its_text_line() {
    // Comments and blank lines before the faulty event must not shift the
    // line an error names.
    assert_replay_error(
        "# header\nmain fork t1\n\n# the bad one:\nt1 unlock m\n",
        5,
        "without holding it",
    );
}

// ------------------------------------------- fast paths' bookkeeping

#[test]
fn an_unseen_atomic_store_sends_a_read_through_the_cell() {
    let mut d = Detector::new();
    let mut main = d.root_thread().unwrap();
    let t1 = d.fork(&mut main).unwrap();
    let mut x: Shadow<u32> = Shadow::new();
    assert!(x.atomic_write(&main, 0).is_none());
    assert!(!x.read_needs_only_record(&t1), "t1 has not seen the store");
}

#[test]
fn merging_a_bare_clock_renames_the_sync_clock_so_it_is_acquired_again() {
    // t2 acquired s under its old name; t3's end merged in afterwards must
    // reach t2's next acquire (a kept name would let t2 skip the join).
    let mut d = Detector::new();
    let mut main = d.root_thread().unwrap();
    let mut t1 = d.fork(&mut main).unwrap();
    let mut t2 = d.fork(&mut main).unwrap();
    let mut t3 = d.fork(&mut main).unwrap();
    let mut x: Shadow<u32> = Shadow::new();
    let mut s = SyncClock::new();
    s.release_store(&mut t1);
    s.acquire(&mut t2);
    assert!(x.write(&t3, 0).is_none());
    t3.tick();
    let end3 = d.finish(t3);
    s.merge_clock(&end3);
    s.acquire(&mut t2);
    assert!(x.write(&t2, 1).is_none(), "t2 acquired t3's end through s");
}

#[test]
fn what_a_fence_acquire_taught_reaches_the_next_unlock() {
    // t1's unlocks of m are one-store releases until its clock learns
    // something other than a tick: the acquire fence must count as that.
    assert_silent(
        "
        main fork t1            # 0
        main fork t2            # 1
        main fork t3            # 2
        t1 release z            # 3
        t1 lock m               # 4
        t1 unlock m             # 5
        t2 write x              # 6
        t2 fence release        # 7
        t2 store f relaxed      # 8
        t1 load f relaxed       # 9
        t1 fence acquire        # 10
        t1 lock m               # 11
        t1 unlock m             # 12
        t3 lock m               # 13
        t3 write x              # 14
        ",
    );
}

#[test]
fn a_thread_migrated_into_a_reused_slot_does_not_take_over_its_releases() {
    // With a clock limit of 10, t1 runs out and migrates into t2's freed
    // slot, whose last release of m was t2's: t1's unlock of m must store
    // its whole clock (with its write of x), not just its own entry.
    let text = "
        main fork t1
        main fork t2
        main fork t9
        t2 release z
        t2 release z
        t2 release z
        t2 lock m
        t2 unlock m
        main join t2
        main release r
        t1 write x
        t1 acquire r
        t1 release y
        t1 release y
        t1 release y
        t1 release y
        t1 release y
        t1 release y
        t1 release y
        t1 release y
        t1 release y
        t1 release y
        t1 lock m
        t1 unlock m
        t9 lock m
        t9 write x
    ";
    let trace = Trace::parse(text).unwrap();
    let mut replay = Replay::with_detector(Detector::with_clock_limit(10));
    for (i, e) in trace.events.iter().enumerate() {
        let race = replay.step(i, *e).unwrap();
        assert!(race.is_none(), "race at event {i}: {race:?}");
    }
    assert_eq!(
        replay.detector().slot_count(),
        4,
        "t1 moved to a reused slot"
    );
}

#[test]
fn writes_that_raced_are_forgotten_once_a_write_is_ordered_after_them() {
    let mut d = Detector::new();
    let mut main = d.root_thread().unwrap();
    let t1 = d.fork(&mut main).unwrap();
    let t2 = d.fork(&mut main).unwrap();
    let mut x: Shadow<u32> = Shadow::new();
    assert!(x.write(&t1, 1).is_none());
    assert!(x.write(&t2, 2).is_some());
    assert_eq!(x.remembered(), 2);
    let (e1, e2) = (d.finish(t1), d.finish(t2));
    main.acquire(&e1);
    main.acquire(&e2);
    assert!(x.write(&main, 3).is_none());
    assert_eq!(x.remembered(), 1, "the ordered write stands for both");

    // Atomic stores likewise: unordered ones never race, and an atomic
    // store ordered after them all stands for them.
    let mut a: Shadow<u32> = Shadow::new();
    let mut ts: Vec<_> = (0..4).map(|_| d.fork(&mut main).unwrap()).collect();
    for (i, t) in ts.iter_mut().enumerate() {
        assert!(a.atomic_write(t, i as u32).is_none());
    }
    assert_eq!(a.remembered(), 4);
    for t in ts {
        let end = d.finish(t);
        main.acquire(&end);
    }
    assert!(a.atomic_write(&main, 9).is_none());
    assert_eq!(a.remembered(), 1);
}
