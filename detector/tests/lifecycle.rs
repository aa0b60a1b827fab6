//! Thread lifecycles and clock exhaustion: slot reuse must keep vector
//! clocks short over millions of threads, and migrating a thread whose slot
//! clock ran out must not change a single verdict.

mod support;

use racedet_detector::trace::{Event, Op, Replay, Trace};
use racedet_detector::{Detector, Shadow, SyncClock};
use support::{engine, generate, generate_disciplined, reference, report, to_text, Rng};

#[test]
fn a_million_sequential_spawn_join_lifecycles_keep_slots_and_root_clock_bounded() {
    let mut detector = Detector::new();
    let mut root = detector.root_thread().unwrap();
    let mut x: Shadow<u32> = Shadow::new();
    for i in 0..1_000_000u32 {
        let child = detector.fork(&mut root).unwrap();
        // Every child reuses the previous child's slot; its write must still
        // be ordered after the previous child's (through join and fork).
        assert!(x.write(&child, i).is_none(), "lifecycle {i} races");
        let end = detector.finish(child);
        root.acquire(&end);
    }
    assert!(
        x.write(&root, u32::MAX).is_none(),
        "the root joined every child"
    );
    // One slot for the root, one shared by all the children.
    assert_eq!(detector.slot_count(), 2);
    assert!(root.clock().len() <= 2, "root clock {:?}", root.clock());
    assert_eq!(detector.live_threads(), 1);
}

#[test]
fn spawn_join_lifecycles_replayed_from_a_trace_reuse_one_slot() {
    let mut replay = Replay::new();
    let mut events = Vec::new();
    for child in 1..=10_000 {
        events.push(Event {
            thread: 0,
            op: Op::Fork(child),
        });
        events.push(Event {
            thread: child,
            op: Op::Write(0),
        });
        events.push(Event {
            thread: 0,
            op: Op::Join(child),
        });
    }
    events.push(Event {
        thread: 0,
        op: Op::Read(0),
    });
    for (i, e) in events.iter().enumerate() {
        assert!(replay.step(i, *e).unwrap().is_none(), "event {i} races");
    }
    assert_eq!(replay.detector().slot_count(), 2);
}

#[test]
fn unjoined_children_get_fresh_slots_and_race_with_each_other() {
    // The root never sees a child end, so no slot may be reused: reusing one
    // would order the children's writes and hide their races.
    let mut detector = Detector::new();
    let mut root = detector.root_thread().unwrap();
    let mut x: Shadow<u32> = Shadow::new();
    for i in 0..100u32 {
        let child = detector.fork(&mut root).unwrap();
        let race = x.write(&child, i);
        assert_eq!(race.is_some(), i > 0, "child {i}");
        detector.finish(child);
    }
    assert_eq!(detector.slot_count(), 101);
}

#[test]
fn migrated_thread_keeps_its_old_accesses_ordered_for_those_who_synchronized() {
    // With a clock limit of 2, every second release moves t1 to a new slot.
    let synchronized = "
        main fork t1
        t1 write x
        t1 release a
        t1 release a
        t1 write x
        t1 release a
        t1 release a
        t1 release a
        t1 read x
        t1 release s
        main acquire s
        main write x
    ";
    let unsynchronized = synchronized.replace("main acquire s", "main acquire a");
    for (text, races) in [(synchronized, false), (unsynchronized.as_str(), true)] {
        let trace = Trace::parse(text).unwrap();
        let (verdicts, replay) = engine(&trace.events, Detector::with_clock_limit(2)).unwrap();
        assert!(
            replay.detector().slot_count() > 2,
            "t1 should have migrated"
        );
        let last = trace.events.len() - 1;
        assert_eq!(verdicts[last].is_some(), races, "{text}");
        assert_eq!(reference(&trace.events).races(last), races, "{text}");
    }
}

#[test]
fn small_clock_limit_gives_reference_verdicts_across_migrations() {
    const TRACES: usize = 30_000;
    let mut rng = Rng::new(0xc10c_1141);
    let mut migrated = 0;
    for n in 0..TRACES {
        let limit = 2 + (n as u64 % 4);
        let events = if n % 3 == 0 {
            generate_disciplined(&mut rng)
        } else {
            generate(&mut rng)
        };
        let detector = move || Detector::with_clock_limit(limit);
        let (verdicts, replay) = engine(&events, detector()).unwrap_or_else(|e| {
            panic!(
                "trace {n} is invalid with clock limit {limit}: {e}\n{}",
                to_text(&events)
            )
        });
        if support::compare(&events, &reference(&events), &verdicts).is_some() {
            panic!(
                "{}",
                report(
                    &events,
                    &detector,
                    &format!("trace {n}, clock limit {limit}")
                )
            );
        }
        // More slots than threads means some thread moved (reuse can only
        // make the count smaller).
        migrated += (replay.detector().slot_count() > support::thread_count(&events)) as usize;
    }
    assert!(
        migrated > TRACES / 2,
        "only {migrated} of {TRACES} traces migrated a thread"
    );
}

#[test]
fn epochs_never_exceed_the_clock_limit_and_used_up_slots_are_never_reused() {
    // A slot whose clock reached the limit must be retired, whether its
    // thread migrated away or ended there: handing it out again would start
    // the next thread above the limit.
    const LIMIT: u64 = 3;
    let mut detector = Detector::with_clock_limit(LIMIT);
    let mut root = detector.root_thread().unwrap();
    let mut annotation = SyncClock::new();
    let mut migrations = 0;
    for round in 0..200 {
        let mut child = detector.fork(&mut root).unwrap();
        assert!(root.epoch().clock() <= LIMIT, "root {:?}", root.epoch());
        assert!(child.epoch().clock() <= LIMIT, "child {:?}", child.epoch());
        // 0 to 4 releases: some children end below the limit, some exactly
        // at it, some after migrating.
        for _ in 0..round % 5 {
            annotation.release_merge(&mut child);
            if child.exhausted() {
                detector.migrate(&mut child).unwrap();
                migrations += 1;
            }
            assert!(child.epoch().clock() <= LIMIT, "child {:?}", child.epoch());
        }
        let end = detector.finish(child);
        root.acquire(&end);
    }
    assert!(migrations > 0);
}

#[test]
fn waves_of_threads_that_end_before_their_join_keep_reusing_slots() {
    // A parent spawning a wave sees the wave's first threads end before it
    // joins any of them (the spawn-storm workload). Slots freed by those
    // unjoined threads must not hide the older, joined ones.
    let mut d = racedet_detector::Detector::new();
    let mut root = d.root_thread().unwrap();
    for _wave in 0..2_000 {
        let mut finals = Vec::new();
        for _ in 0..64 {
            let child = d.fork(&mut root).unwrap();
            finals.push(d.finish(child));
        }
        for f in &finals {
            root.acquire(f);
        }
    }
    // One wave's 64 slots plus the root's: every later wave reuses them,
    // and a vector clock is never longer than the slots ever opened.
    assert_eq!(d.slot_count(), 64 + 1, "slots grew past one wave");
    assert_eq!(root.clock().len(), d.slot_count());
}

#[test]
fn past_the_claim_threshold_unjoined_slots_are_claimed_and_hide_only_races_with_their_old_owners() {
    // Four slots open (the root and three children that end unjoined); the
    // fourth child claims the slot freed first.
    let mut d = Detector::new().claiming_after(4);
    let mut root = d.root_thread().unwrap();
    let mut x: Shadow<u32> = Shadow::new();
    let mut y: Shadow<u32> = Shadow::new();
    let first = d.fork(&mut root).unwrap();
    let (old_slot, old_last) = (first.tid(), first.epoch().clock());
    assert!(x.write(&first, 0).is_none());
    d.finish(first);
    let second = d.fork(&mut root).unwrap();
    let third = d.fork(&mut root).unwrap();
    assert_eq!(d.slot_count(), 4);
    d.finish(second);

    let claimant = d.fork(&mut root).unwrap();
    assert_eq!(claimant.tid(), old_slot, "the slot freed first");
    assert!(claimant.epoch().clock() > old_last, "starts above its past");
    assert_eq!(d.slot_count(), 4, "no slot opened");
    // The claim: the old owner's write counts as ordered before (a race
    // it may hide), never the other way round.
    assert!(x.write(&claimant, 1).is_none());
    // The claimant's own accesses still race with a live thread that
    // never synchronized with it.
    assert!(y.write(&claimant, 2).is_none());
    let race = y.read(&third, 3).expect("third never saw the claimant");
    assert_eq!(race.previous.tid(), claimant.tid());
}

#[test]
fn unjoined_threads_open_slots_up_to_the_claim_threshold_and_no_further() {
    // The default threshold: up to it the exact rule holds (see
    // `unjoined_children_get_fresh_slots_and_race_with_each_other`); past
    // it only threads alive at once are limited.
    let mut d = Detector::new();
    let mut root = d.root_thread().unwrap();
    for _ in 1..racedet_detector::CLAIM_AFTER_SLOTS {
        let child = d.fork(&mut root).unwrap();
        d.finish(child);
    }
    assert_eq!(d.slot_count(), racedet_detector::CLAIM_AFTER_SLOTS);
    for _ in 0..200_000 {
        let child = d.fork(&mut root).unwrap();
        d.finish(child);
    }
    assert_eq!(
        d.slot_count(),
        racedet_detector::CLAIM_AFTER_SLOTS,
        "200 000 unjoined threads later, no slot was opened (the limit is 65 536)"
    );
}

#[test]
fn a_thread_s_change_count_moves_with_what_it_learns_not_with_its_ticks() {
    // What `ThreadState::changes` promises: equal counts, equal clocks but
    // for the thread's own entry (an RwLock's epoch-only read-unlock rests
    // on it).
    let mut d = Detector::with_clock_limit(6);
    let mut a = d.root_thread().unwrap();
    let mut b = d.fork(&mut a).unwrap();
    let mut lock = SyncClock::new();
    lock.release_store(&mut a);
    let start = b.changes();
    b.tick();
    assert_eq!(b.changes(), start, "a tick");
    lock.acquire(&mut b);
    let learned = b.changes();
    assert_eq!(learned, start + 1, "an acquire that teaches");
    // The same clock under no name: joined, and teaching nothing.
    let mut again = SyncClock::new();
    again.merge_clock(lock.clock());
    again.acquire(&mut b);
    assert_eq!(b.changes(), learned, "an acquire that teaches nothing");
    b.acquire_epoch(a.epoch());
    assert_eq!(b.changes(), learned + 1, "an epoch past the one seen");
    b.acquire_epoch(a.epoch());
    assert_eq!(b.changes(), learned + 1, "the same epoch again");
    let before = b.changes();
    while !b.exhausted() {
        b.tick();
    }
    d.migrate(&mut b).unwrap();
    assert!(b.changes() > before, "a move to a fresh slot");
}
