//! RaceMap's shared read path (see `runtime/src/map_lock.rs`), in a test
//! binary of its own with one test. A key read goes shared only for a
//! thread in a detector slot below 8, and in a binary whose tests run at
//! once every test thread and the threads it spawns hold slots: there the
//! readers got slots 10 to 13 and checked the exclusive path instead. Here
//! one test thread runs the scenarios in turn and joins every thread it
//! spawns, so their slots are free again for the next. Keep it that way:
//! another test in this file would push the readers' slots up again.

use racedet::collections::RaceMap;
use racedet::reports::ReportKind;
use racedet::sync::atomic::{AtomicBool, Ordering::Acquire, Ordering::Release};
use racedet::sync::{Arc, RwLock};
use racedet::thread;
use racedet_tests::{assert_silent, expect_race_by, panic_of, site, spawn_named, wait_set};

#[test]
fn shared_map_reads() {
    a_shared_read_races_with_a_later_unordered_write_under_the_read_lock();
    a_shared_read_after_an_unordered_write_is_reported();
    a_closure_under_a_shared_read_that_writes_the_map_panics_instead_of_deadlocking();
    a_read_after_the_read_guard_ended_races_with_the_lock_s_writer();
    a_read_under_another_lock_s_read_guard_races_with_the_lock_s_writer();
    a_shared_get_with_that_publishes_inside_races_with_the_write_it_orders();
    an_unlocked_writer_waits_for_shared_readers_in_the_middle_of_their_reads();
    // Every line of this file: the helpers' accesses too.
    assert_silent(file!(), 1, u32::MAX);
}

/// Readers under a read lock, all reading one map, until they have met at
/// the map's own lock, after which its key reads take the shared path
/// (each reader records its read on a line of its own; the next writer
/// folds it in). Which path a read takes never changes a verdict; this
/// makes sure the map is in shared mode for the scenarios below. (A read
/// goes shared only for a thread in a detector slot below 8: this file's
/// single test keeps its threads there; see the top.)
fn contend_readers(m: &Arc<RwLock<RaceMap<u64, u64>>>) {
    let map = m.clone();
    contend(
        move |round| {
            if round % 10 == 0 {
                map.write().unwrap().insert(1, 1);
            } else {
                let _ = map.read().unwrap().get(&1);
            }
        },
        || m.read().unwrap().reads_go_shared(),
    );
}

/// [`contend_readers`] for a map outside `lock`, read under its read
/// guards, so that a scenario can also read it without them.
fn contend_readers_under(lock: &Arc<RwLock<()>>, m: &Arc<RaceMap<u64, u64>>) {
    let (lock, map) = (lock.clone(), m.clone());
    contend(
        move |round| {
            if round % 10 == 0 {
                let _w = lock.write().unwrap();
                map.insert(1, 1);
            } else {
                let _g = lock.read().unwrap();
                let _ = map.get(&1);
            }
        },
        || m.reads_go_shared(),
    );
}

/// Four threads run `round` 20 000 times each (numbered) until `shared`
/// says the map's reads go shared. A round reads under the read guard,
/// or, one in ten, writes under the write guard, as in the `rwmap`
/// workload: so writers fold the reads left on the shared path, and the
/// file's silence pins that what they fold is ordered before them.
fn contend(round: impl Fn(u32) + Clone + Send + 'static, shared: impl Fn() -> bool) {
    for _ in 0..100 {
        let ts: Vec<_> = (0..4)
            .map(|_| {
                let round = round.clone();
                thread::spawn(move || {
                    for i in 0..20_000 {
                        round(i);
                    }
                })
            })
            .collect();
        for t in ts {
            t.join().unwrap();
        }
        if shared() {
            return;
        }
    }
    panic!("4 threads x 20 000 reads and writes, 100 times, never met at the map's lock");
}

/// A map whose key reads go shared (see `contend_readers`), then two
/// threads under its read lock — so nothing orders them — one running
/// `read`, the other `write`, the first of them before the second (pinned
/// by a std barrier racedet cannot see). The accesses come in as closures
/// so that each test's racing lines are its own (reports are deduplicated
/// by their pair of sites). Returns the lines `read` and `write` report.
fn shared_read_meets_write(
    read_first: bool,
    [reader_name, writer_name]: [&str; 2],
    read: impl FnOnce(&RaceMap<u64, u64>) -> u32 + Send + 'static,
    write: impl FnOnce(&RaceMap<u64, u64>) -> u32 + Send + 'static,
) -> (u32, u32) {
    let m = Arc::new(RwLock::new(RaceMap::new()));
    m.write().unwrap().insert(1, 1);
    contend_readers(&m);
    let gate = std::sync::Arc::new(std::sync::Barrier::new(2));
    let writer = spawn_named(writer_name, in_turn(&m, &gate, !read_first, write));
    let reader = spawn_named(reader_name, in_turn(&m, &gate, read_first, read));
    (reader.join().unwrap(), writer.join().unwrap())
}

/// `access` under a read guard of `m`, before the other side's
/// (`first`) or after it, as `gate` (a std barrier) pins them.
fn in_turn(
    m: &Arc<RwLock<RaceMap<u64, u64>>>,
    gate: &std::sync::Arc<std::sync::Barrier>,
    first: bool,
    access: impl FnOnce(&RaceMap<u64, u64>) -> u32 + Send + 'static,
) -> impl FnOnce() -> u32 + Send + 'static {
    let (m, gate) = (m.clone(), gate.clone());
    move || {
        if !first {
            gate.wait();
        }
        let line = access(&m.read().unwrap());
        if first {
            gate.wait();
        }
        line
    }
}

/// The one report of a scenario's read and write, on lines `lr` and `lw`
/// by the threads `names`: a concurrent map read and map write, found at
/// the write if `write_second`; and nothing else reported from `first` to
/// `last`.
fn expect_read_write(
    (lr, lw): (u32, u32),
    names: [&str; 2],
    write_second: bool,
    first: u32,
    last: u32,
) {
    let report = expect_race_by(file!(), [(lr, Some(names[0])), (lw, Some(names[1]))]);
    assert_eq!(report.kind, ReportKind::MapReadWrite);
    assert_eq!(
        report.current.write, write_second,
        "which access came second"
    );
    assert_silent(file!(), first, last);
}

fn a_shared_read_races_with_a_later_unordered_write_under_the_read_lock() {
    let first = line!();
    let names = ["shared-reader", "shared-writer"];
    let lines = shared_read_meets_write(
        true,
        names,
        // The read and the write on lines of their own.
        |m| site!(m.get(&1)),
        |m| site!(m.insert(2, 2)),
    );
    expect_read_write(lines, names, true, first, line!());
}

fn a_shared_read_after_an_unordered_write_is_reported() {
    let first = line!();
    let names = ["shared-reader-2", "shared-writer-2"];
    let lines = shared_read_meets_write(
        false,
        names,
        |m| site!(m.get(&1)),
        |m| site!(m.insert(2, 2)),
    );
    expect_read_write(lines, names, false, first, line!());
}

fn a_closure_under_a_shared_read_that_writes_the_map_panics_instead_of_deadlocking() {
    let m = Arc::new(RwLock::new(RaceMap::new()));
    m.write().unwrap().insert(1, 1);
    // Once its key reads go shared, the inner insert finds this thread's
    // own shared read in progress (were they not, its own exclusive lock).
    contend_readers(&m);
    let g = m.read().unwrap();
    let message = panic_of(|| {
        g.get_with(&1, |_| g.insert(2, 2));
    });
    assert!(message.contains("under its own lock"), "{message}");
    assert_eq!(g.get(&1), Some(1));
    assert_eq!(g.get(&2), None);
}

/// A map whose shared reads ran under `lock`'s read guards, then a reader
/// whose `racing_read` is not under a read guard of `lock` and a writer
/// holding `lock`'s write guard, unordered (a std barrier makes the read
/// come first): the writer must find that read, though every other
/// shared read of the map was ordered before it by `lock`. (Pins that a
/// writer cannot skip the shared reads of the lock it holds on the
/// strength of the lock: those may be of other threads, or of this
/// thread once its guard has ended.)
fn read_outside_the_guard_meets_the_writer(
    names: [&str; 2],
    racing_read: fn(&RaceMap<u64, u64>) -> u32,
    write: fn(&RaceMap<u64, u64>) -> u32,
) -> (u32, u32) {
    let lock = Arc::new(RwLock::new(()));
    let m = Arc::new(RaceMap::new());
    m.insert(1, 1);
    contend_readers_under(&lock, &m);
    // What the scenario is about: reads that go shared, left on a line
    // for a writer to fold.
    assert!(m.reads_go_shared());
    let gate = std::sync::Arc::new(std::sync::Barrier::new(2));
    let reader = {
        let (lock, m, gate) = (lock.clone(), m.clone(), gate.clone());
        spawn_named(names[0], move || {
            // A read under the guard first: ordered before the writer
            // (its read-unlock is), and the thread's guard then ends.
            {
                let _g = lock.read().unwrap();
                let _ = m.get(&1);
            }
            let line = racing_read(&m);
            gate.wait();
            line
        })
    };
    let writer = spawn_named(names[1], move || {
        gate.wait();
        let _w = lock.write().unwrap();
        write(&m)
    });
    (reader.join().unwrap(), writer.join().unwrap())
}

fn a_read_after_the_read_guard_ended_races_with_the_lock_s_writer() {
    let first = line!();
    let names = ["unguarded-reader", "guarded-writer"];
    let lines = read_outside_the_guard_meets_the_writer(
        names,
        |m| site!(m.get(&1)),
        |m| site!(m.insert(2, 2)),
    );
    expect_read_write(lines, names, true, first, line!());
}

fn a_read_under_another_lock_s_read_guard_races_with_the_lock_s_writer() {
    let first = line!();
    let names = ["other-lock-reader", "guarded-writer-2"];
    let lines = read_outside_the_guard_meets_the_writer(
        names,
        |m| {
            let other = RwLock::new(());
            let _g = other.read().unwrap();
            site!(m.get(&1))
        },
        |m| site!(m.insert(3, 3)),
    );
    expect_read_write(lines, names, true, first, line!());
}

/// A read on the shared path lasts while `get_with`'s closure runs (its
/// record left for the writer is stamped past the closure's release), so
/// a writer ordered only by that release races with it. Both hold read
/// guards, which order nothing between them.
fn a_shared_get_with_that_publishes_inside_races_with_the_write_it_orders() {
    let first = line!();
    let names = ["publishing-shared-reader", "published-writer"];
    let flag = Arc::new(AtomicBool::new(false));
    let seen = flag.clone();
    let lines = shared_read_meets_write(
        true,
        names,
        move |m| {
            site!(m.get_with(&1, |v| {
                flag.store(true, Release);
                *v
            }))
        },
        move |m| {
            wait_set(&seen, Acquire);
            site!(m.insert(2, 2))
        },
    );
    expect_read_write(lines, names, true, first, line!());
}

/// A writer with no lock at all replaces the value that two readers,
/// reading shared under a read guard, keep looking at for a while inside
/// `get_with`, round after round on fresh maps: the map's exclusive holder
/// must wait for readers in the middle of their reads before it changes
/// anything (the busy-flag handshake of `runtime/src/map_lock.rs`); one
/// that did not would change the value under them. The reads and the
/// writes race, of course: the one report names them.
fn an_unlocked_writer_waits_for_shared_readers_in_the_middle_of_their_reads() {
    use std::sync::atomic::{
        AtomicBool as StdBool, AtomicU64 as StdU64,
        Ordering::{Relaxed, SeqCst},
    };
    let first = line!();
    let mut lines = (0, 0);
    for round in 0..20 {
        let lock = Arc::new(RwLock::new(()));
        let m = Arc::new(RaceMap::new());
        m.insert(1, 1);
        contend_readers_under(&lock, &m);
        assert!(m.reads_go_shared());
        // What the readers did and whether to stop: std atomics, which
        // racedet does not see, so they order nothing.
        let reads = std::sync::Arc::new(StdU64::new(0));
        let inside = std::sync::Arc::new(StdU64::new(0));
        let stop = std::sync::Arc::new(StdBool::new(false));
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let (lock, m) = (lock.clone(), m.clone());
                let (reads, inside, stop) = (reads.clone(), inside.clone(), stop.clone());
                spawn_named("shared-reader-3", move || {
                    let mut line = 0;
                    while !stop.load(Relaxed) {
                        let _g = lock.read().unwrap();
                        line = site!(m.get_with(&1, |v| {
                            // Volatile: the compiler may not assume that
                            // the value behind `&` stays put.
                            // SAFETY: `v` is a valid reference.
                            let before = unsafe { std::ptr::read_volatile(v) };
                            inside.fetch_add(1, SeqCst);
                            for _ in 0..500 {
                                std::hint::spin_loop();
                            }
                            inside.fetch_sub(1, SeqCst);
                            // SAFETY: as above.
                            let after = unsafe { std::ptr::read_volatile(v) };
                            assert_eq!(before, after, "the value changed under a read");
                        }));
                        reads.fetch_add(1, Relaxed);
                    }
                    line
                })
            })
            .collect();
        // Enough reads, and the write asked for while a reader is in the
        // middle of one.
        while reads.load(Relaxed) < 1_000 || inside.load(SeqCst) == 0 {
            assert!(
                !readers.iter().any(|r| r.is_finished()),
                "a reader ended early (it panicked: see above)"
            );
            std::thread::yield_now();
        }
        let write = site!(m.insert(1, 2 + round));
        stop.store(true, Relaxed);
        // The read's line from a reader that read (one may not have: the
        // other can make the 1 000 reads alone).
        let read = readers.into_iter().map(|r| r.join().unwrap()).max();
        lines = (read.unwrap(), write);
    }
    let report = expect_race_by(
        file!(),
        [(lines.0, Some("shared-reader-3")), (lines.1, None)],
    );
    assert_eq!(report.kind, ReportKind::MapReadWrite);
    assert_silent(file!(), first, line!());
}
