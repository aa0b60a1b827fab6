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
use racedet::sync::{Arc, RwLock};
use racedet::thread;
use racedet_tests::{assert_silent, expect_race_by, panic_of, site, spawn_named};

#[test]
fn shared_map_reads() {
    a_shared_read_races_with_a_later_unordered_write_under_the_read_lock();
    a_shared_read_after_an_unordered_write_is_reported();
    a_closure_under_a_shared_read_that_writes_the_map_panics_instead_of_deadlocking();
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
    for _ in 0..100 {
        let ts: Vec<_> = (0..4)
            .map(|_| {
                let m = m.clone();
                thread::spawn(move || {
                    for _ in 0..20_000 {
                        let _ = m.read().unwrap().get(&1);
                    }
                })
            })
            .collect();
        for t in ts {
            t.join().unwrap();
        }
        if m.read().unwrap().reads_go_shared() {
            return;
        }
    }
    panic!("4 readers x 20 000 reads, 100 times, never met at the map's lock");
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
    read: fn(&RaceMap<u64, u64>) -> u32,
    write: fn(&RaceMap<u64, u64>) -> u32,
) -> (u32, u32) {
    let m = Arc::new(RwLock::new(RaceMap::new()));
    m.write().unwrap().insert(1, 1);
    contend_readers(&m);
    let gate = std::sync::Arc::new(std::sync::Barrier::new(2));
    let in_turn = |first: bool, access: fn(&RaceMap<u64, u64>) -> u32| {
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
    };
    let writer = spawn_named(writer_name, in_turn(!read_first, write));
    let reader = spawn_named(reader_name, in_turn(read_first, read));
    (reader.join().unwrap(), writer.join().unwrap())
}

fn a_shared_read_races_with_a_later_unordered_write_under_the_read_lock() {
    let first = line!();
    let (lr, lw) = shared_read_meets_write(
        true,
        ["shared-reader", "shared-writer"],
        |m| site!(m.get(&1)),
        |m| site!(m.insert(2, 2)),
    );
    let report = expect_race_by(
        file!(),
        [(lr, Some("shared-reader")), (lw, Some("shared-writer"))],
    );
    assert_eq!(report.kind, ReportKind::MapReadWrite);
    assert!(report.current.write, "the write came second");
    assert_silent(file!(), first, line!());
}

fn a_shared_read_after_an_unordered_write_is_reported() {
    let first = line!();
    let (lr, lw) = shared_read_meets_write(
        false,
        ["shared-reader-2", "shared-writer-2"],
        |m| site!(m.get(&1)),
        |m| site!(m.insert(2, 2)),
    );
    let report = expect_race_by(
        file!(),
        [(lr, Some("shared-reader-2")), (lw, Some("shared-writer-2"))],
    );
    assert_eq!(report.kind, ReportKind::MapReadWrite);
    assert!(!report.current.write, "the read came second");
    assert_silent(file!(), first, line!());
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
