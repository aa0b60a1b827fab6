//! RaceMap scenarios: Go's map contract, race and no-race pairs.

use racedet::collections::{MapPolicy, RaceMap};
use racedet::reports::{MapPart, ReportKind};
use racedet::sync::atomic::Ordering::{Acquire, Release};
use racedet::sync::{Arc, Mutex, RwLock};
use racedet::thread;
use racedet_tests::{
    assert_made_at, assert_ops, assert_silent, assert_threads, at, expect_race, expect_race_by,
    panic_of, side_at, site, spawn_named, wait_set, IdMap, Signal, Watchdog,
};

fn bucket_map(capacity: usize) -> IdMap {
    RaceMap::with_capacity_hasher_and_policy(capacity, Default::default(), Some(MapPolicy::Bucket))
}

#[test]
fn two_unlocked_writers_are_concurrent_map_writes() {
    let first = line!();
    let m = Arc::new(RaceMap::new());
    let (a, b) = (m.clone(), m.clone());
    let t1 = spawn_named("mw-writer-a", move || site!(a.insert("k", 1)));
    let t2 = spawn_named("mw-writer-b", move || site!(b.insert("k", 2)));
    let (l1, l2) = (t1.join().unwrap(), t2.join().unwrap());
    let r = expect_race_by(
        file!(),
        [(l1, Some("mw-writer-a")), (l2, Some("mw-writer-b"))],
    );
    assert_eq!(r.kind, ReportKind::MapWrites);
    assert!(r.current.write && r.previous.write);
    assert_eq!(r.current.op, "insert");
    assert_eq!(r.object.kind, "map");
    assert!(r
        .object
        .created_at
        .as_ref()
        .unwrap()
        .file
        .ends_with("maps.rs"));
    assert_silent(file!(), first, line!());
}

#[test]
fn read_during_unlocked_write_is_concurrent_map_read_and_map_write() {
    let first = line!();
    let m = Arc::new(RaceMap::new());
    m.insert(1u32, 1u32);
    let w = m.clone();
    let t = spawn_named("rw-writer", move || site!(w.insert(2, 2)));
    let lr = site!(m.get(&1));
    let lw = t.join().unwrap();
    let r = expect_race_by(file!(), [(lr, None), (lw, Some("rw-writer"))]);
    assert_eq!(r.kind, ReportKind::MapReadWrite);
    assert_silent(file!(), first, line!());
}

#[test]
fn iteration_during_unlocked_write_is_concurrent_map_iteration_and_map_write() {
    let first = line!();
    let m = Arc::new(RaceMap::new());
    m.insert(1u32, 1u32);
    let w = m.clone();
    let t = spawn_named("it-writer", move || site!(w.insert(7, 7)));
    let li = site!(m.range(|_, _| true));
    let lw = t.join().unwrap();
    let r = expect_race_by(file!(), [(li, None), (lw, Some("it-writer"))]);
    assert_eq!(r.kind, ReportKind::MapIterationWrite);
    assert_ops(&r, [(li, "range"), (lw, "insert")]);
    assert_silent(file!(), first, line!());
}

#[test]
fn a_key_sent_from_inside_range_and_inserted_by_its_receiver_is_an_iteration_race() {
    // Go's `for k := range m { ch <- k }` with a receiver that writes `m`:
    // the iteration goes on after the send, so the write races with it
    // however the threads interleave (here the receiver's insert even
    // waits for `range` to return, behind the map's internal lock).
    let first = line!();
    let m = Arc::new(RaceMap::new());
    m.insert(1u32, 1u32);
    let (tx, rx) = racedet::sync::mpsc::channel();
    let w = m.clone();
    let t = spawn_named("range-receiver", move || {
        let k: u32 = rx.recv().unwrap();
        site!(w.insert(k + 1, 0))
    });
    #[rustfmt::skip]
    let li = site!(m.range(|k, _| { tx.send(*k).unwrap(); true }));
    let lw = t.join().unwrap();
    let r = expect_race_by(file!(), [(li, None), (lw, Some("range-receiver"))]);
    assert_eq!(r.kind, ReportKind::MapIterationWrite);
    assert_ops(&r, [(li, "range"), (lw, "insert")]);
    assert_silent(file!(), first, line!());
}

#[test]
fn a_key_sent_after_range_returns_orders_the_receiver_s_insert() {
    let first = line!();
    let m = Arc::new(RaceMap::new());
    m.insert(1u32, 1u32);
    let (tx, rx) = racedet::sync::mpsc::channel();
    let w = m.clone();
    let t = thread::spawn(move || {
        let k: u32 = rx.recv().unwrap();
        w.insert(k + 1, 0);
    });
    let mut keys = Vec::new();
    m.range(|k, _| {
        keys.push(*k);
        true
    });
    for k in keys {
        tx.send(k).unwrap();
    }
    t.join().unwrap();
    assert_eq!(m.get(&2), Some(0));
    assert_silent(file!(), first, line!());
}

#[test]
fn update_that_publishes_before_it_writes_races_with_the_read_it_orders() {
    let first = line!();
    let m = Arc::new(RaceMap::new());
    m.insert("k", 0u32);
    let flag = Arc::new(racedet::sync::atomic::AtomicBool::new(false));
    let (r2, f2) = (m.clone(), flag.clone());
    let reader = spawn_named("update-watcher", move || {
        wait_set(&f2, Acquire);
        site!(r2.get(&"k"))
    });
    #[rustfmt::skip]
    let lu = site!(m.update(&"k", |v| { flag.store(true, Release); *v = 1 }));
    let lr = reader.join().unwrap();
    let r = expect_race_by(file!(), [(lu, None), (lr, Some("update-watcher"))]);
    assert_eq!(r.kind, ReportKind::MapReadWrite);
    assert_ops(&r, [(lu, "update"), (lr, "get")]);
    assert_silent(file!(), first, line!());
}

#[test]
fn get_with_that_publishes_before_it_returns_races_with_the_write_it_orders() {
    let first = line!();
    let m = Arc::new(RaceMap::new());
    m.insert("k", 0u32);
    let flag = Arc::new(racedet::sync::atomic::AtomicBool::new(false));
    let (w2, f2) = (m.clone(), flag.clone());
    let writer = spawn_named("get-with-watcher", move || {
        wait_set(&f2, Acquire);
        site!(w2.insert("k", 2))
    });
    #[rustfmt::skip]
    let lg = site!(m.get_with(&"k", |v| { flag.store(true, Release); *v }));
    let lw = writer.join().unwrap();
    let r = expect_race_by(file!(), [(lg, None), (lw, Some("get-with-watcher"))]);
    assert_eq!(r.kind, ReportKind::MapReadWrite);
    assert_ops(&r, [(lg, "get_with"), (lw, "insert")]);
    assert_silent(file!(), first, line!());
}

#[test]
fn retain_that_publishes_before_it_returns_races_with_the_read_it_orders() {
    let first = line!();
    let m = Arc::new(RaceMap::new());
    m.insert(1u32, 0u32);
    let flag = Arc::new(racedet::sync::atomic::AtomicBool::new(false));
    let (r2, f2) = (m.clone(), flag.clone());
    let reader = spawn_named("retain-watcher", move || {
        wait_set(&f2, Acquire);
        site!(r2.contains_key(&1))
    });
    #[rustfmt::skip]
    let lr = site!(m.retain(|_, _| { flag.store(true, Release); false }));
    let lc = reader.join().unwrap();
    let r = expect_race_by(file!(), [(lr, None), (lc, Some("retain-watcher"))]);
    assert_eq!(r.kind, ReportKind::MapReadWrite);
    assert_ops(&r, [(lr, "retain"), (lc, "contains_key")]);
    assert_silent(file!(), first, line!());
}

/// A value whose drop publishes: a release made inside the map's own work.
struct PublishesOnDrop(Arc<racedet::sync::atomic::AtomicBool>);

impl Drop for PublishesOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Release);
    }
}

#[test]
fn clear_whose_values_publish_as_they_drop_races_with_the_read_it_orders() {
    // `clear` is still writing the map while it drops the pairs.
    let first = line!();
    let m = Arc::new(RaceMap::new());
    let flag = Arc::new(racedet::sync::atomic::AtomicBool::new(false));
    m.insert(1u32, PublishesOnDrop(flag.clone()));
    m.insert(2u32, PublishesOnDrop(flag.clone()));
    let (r2, f2) = (m.clone(), flag.clone());
    let reader = spawn_named("clear-watcher", move || {
        wait_set(&f2, Acquire);
        site!(r2.contains_key(&1))
    });
    let lc = site!(m.clear());
    let lr = reader.join().unwrap();
    let r = expect_race_by(file!(), [(lc, None), (lr, Some("clear-watcher"))]);
    assert_eq!(r.kind, ReportKind::MapReadWrite);
    assert_ops(&r, [(lc, "clear"), (lr, "contains_key")]);
    assert_silent(file!(), first, line!());
}

#[test]
fn a_replaced_value_that_publishes_as_it_drops_orders_the_insert() {
    // `insert` hands the replaced value (and the unused key) back to drop
    // after the map's work is done: what the drop publishes follows it.
    let first = line!();
    let m = Arc::new(RaceMap::new());
    let flag = Arc::new(racedet::sync::atomic::AtomicBool::new(false));
    m.insert(1u32, PublishesOnDrop(flag.clone()));
    let (r2, f2) = (m.clone(), flag.clone());
    let reader = thread::spawn(move || {
        wait_set(&f2, Acquire);
        r2.contains_key(&1)
    });
    m.insert(1u32, PublishesOnDrop(flag.clone()));
    assert!(reader.join().unwrap());
    assert_silent(file!(), first, line!());
}

#[test]
fn keys_snapshot_during_remove_is_an_iteration_race() {
    let first = line!();
    let m = Arc::new(RaceMap::new());
    m.insert(1u32, 1u32);
    let w = m.clone();
    let t = spawn_named("keys-snapshot-during", move || site!(w.remove(&1)));
    let lk = site!(m.keys());
    let lw = t.join().unwrap();
    let r = expect_race(file!(), lk, lw);
    assert_eq!(r.kind, ReportKind::MapIterationWrite);
    assert_threads(&r, [(lk, None), (lw, Some("keys-snapshot-during"))]);
    assert_silent(file!(), first, line!());
}

#[test]
fn clone_during_insert_is_an_iteration_race() {
    let first = line!();
    let m = Arc::new(RaceMap::new());
    let w = m.clone();
    let t = spawn_named("clone-during-insert", move || site!(w.insert(3u8, 3u8)));
    let lc = site!((*m).clone());
    let lw = t.join().unwrap();
    let r = expect_race(file!(), lc, lw);
    assert_eq!(r.kind, ReportKind::MapIterationWrite);
    assert_threads(&r, [(lc, None), (lw, Some("clone-during-insert"))]);
    assert_silent(file!(), first, line!());
}

#[test]
fn len_during_insert_races_under_go_policy() {
    let first = line!();
    let m = Arc::new(RaceMap::new());
    let w = m.clone();
    let t = spawn_named("len-during-insert", move || site!(w.insert(1u8, 1u8)));
    let ll = site!(m.len());
    let lw = t.join().unwrap();
    let r = expect_race(file!(), ll, lw);
    assert_eq!(r.kind, ReportKind::MapReadWrite);
    let parts = [r.current.map_part.clone(), r.previous.map_part.clone()];
    assert!(parts.contains(&Some(MapPart::Header)), "{parts:?}");
    assert_threads(&r, [(ll, None), (lw, Some("len-during-insert"))]);
    assert_silent(file!(), first, line!());
}

#[test]
fn clear_during_get_races() {
    let first = line!();
    let m = Arc::new(RaceMap::new());
    m.insert(1u8, 1u8);
    let w = m.clone();
    let t = spawn_named("clear-during-get", move || site!(w.clear()));
    let lg = site!(m.contains_key(&1));
    let lw = t.join().unwrap();
    let r = expect_race_by(file!(), [(lg, None), (lw, Some("clear-during-get"))]);
    assert_eq!(r.kind, ReportKind::MapReadWrite);
    assert_silent(file!(), first, line!());
}

#[test]
fn retain_races_with_an_unordered_insert_as_concurrent_map_writes() {
    let first = line!();
    let m = Arc::new(RaceMap::new());
    m.insert(1u8, 1u8);
    let w = m.clone();
    let t = spawn_named("retain-during-insert", move || {
        site!(w.retain(|_, v| *v > 0))
    });
    let li = site!(m.insert(2, 2));
    let lr = t.join().unwrap();
    let r = expect_race_by(file!(), [(li, None), (lr, Some("retain-during-insert"))]);
    assert_eq!(r.kind, ReportKind::MapWrites, "{}", r.to_text());
    assert_ops(&r, [(li, "insert"), (lr, "retain")]);
    assert_silent(file!(), first, line!());
}

#[test]
fn retain_keeps_what_its_closure_accepts_and_after_a_join_is_silent() {
    let first = line!();
    let m = Arc::new(RaceMap::new());
    let w = m.clone();
    thread::spawn(move || {
        for k in 0..10u32 {
            w.insert(k, k * 10);
        }
    })
    .join()
    .unwrap();
    // The closure may change what it keeps, as std's `retain`.
    m.retain(|k, v| {
        *v += 1;
        k % 2 == 0
    });
    let mut kept = m.keys();
    kept.sort();
    assert_eq!(kept, [0, 2, 4, 6, 8]);
    assert_eq!(m.get(&4), Some(41));
    assert_silent(file!(), first, line!());
}

#[test]
fn get_key_value_during_an_unordered_insert_is_a_read_race() {
    let first = line!();
    let m = Arc::new(RaceMap::new());
    m.insert(1u8, 1u8);
    let w = m.clone();
    let t = spawn_named("insert-during-get-key-value", move || site!(w.insert(2, 2)));
    let lg = site!(m.get_key_value(&1));
    let lw = t.join().unwrap();
    let r = expect_race_by(
        file!(),
        [(lg, None), (lw, Some("insert-during-get-key-value"))],
    );
    assert_eq!(r.kind, ReportKind::MapReadWrite, "{}", r.to_text());
    assert_ops(&r, [(lg, "get_key_value"), (lw, "insert")]);
    assert_silent(file!(), first, line!());
}

#[test]
fn comparing_maps_iterates_both_and_races_with_an_insert_into_either() {
    let first = line!();
    let (a, b) = (Arc::new(RaceMap::new()), Arc::new(RaceMap::new()));
    a.insert(1u8, 1u8);
    b.insert(1u8, 1u8);
    // `==` reads every pair of each operand: an insert into the left one,
    // then (at other lines: a pair of sites is reported once) into the
    // right one.
    let eq_during = |w: Arc<RaceMap<u8, u8>>, left: bool| {
        let t = spawn_named("insert-during-eq", move || {
            if left {
                site!(w.insert(2, 2))
            } else {
                site!(w.insert(3, 3))
            }
        });
        let le = if left {
            site!(*a == *b)
        } else {
            site!(*b != *a)
        };
        let lw = t.join().unwrap();
        let r = expect_race_by(file!(), [(le, None), (lw, Some("insert-during-eq"))]);
        assert_eq!(r.kind, ReportKind::MapIterationWrite, "{}", r.to_text());
        assert_ops(&r, [(le, "eq"), (lw, "insert")]);
    };
    eq_during(a.clone(), true);
    eq_during(b.clone(), false);
    assert_silent(file!(), first, line!());
}

#[test]
fn two_threads_comparing_the_same_maps_either_way_round_neither_deadlock_nor_race() {
    let first = line!();
    let (a, b) = (Arc::new(RaceMap::new()), Arc::new(RaceMap::new()));
    for k in 0..8u32 {
        a.insert(k, k);
        b.insert(k, k);
    }
    // Each `==` holds both maps' locks; taken in the operands' order, one
    // thread would hold `a` waiting for `b` while the other holds `b`.
    let _watchdog = Watchdog::start("two threads comparing two maps deadlocked");
    let (a2, b2) = (a.clone(), b.clone());
    let t = thread::spawn(move || (0..20_000).all(|_| *b2 == *a2));
    assert!((0..20_000).all(|_| *a == *b));
    assert!(t.join().unwrap());
    assert_silent(file!(), first, line!());
}

#[test]
fn comparing_maps_while_a_closure_under_one_reads_the_other_does_not_deadlock() {
    let first = line!();
    let (a, b) = (Arc::new(RaceMap::new()), Arc::new(RaceMap::new()));
    for k in 0..8u32 {
        a.insert(k, k);
        b.insert(k, k);
    }
    // The closures run under the map whose lock `==` takes second (in
    // address order) and read the one it takes first: waiting for the
    // second while holding the first would deadlock.
    let (first_map, second_map) = if Arc::as_ptr(&a) < Arc::as_ptr(&b) {
        (a.clone(), b.clone())
    } else {
        (b.clone(), a.clone())
    };
    let _watchdog = Watchdog::start("`==` deadlocked with a closure under one of its maps");
    let t = thread::spawn(move || {
        for _ in 0..5_000 {
            // Exclusive (an iteration), then a key read (shared once the
            // map's lock has been contended).
            second_map.range(|_, _| first_map.get(&0).is_some());
            second_map.get_with(&1, |_| first_map.get(&1));
        }
    });
    assert!((0..10_000).all(|_| *a == *b));
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn equality_get_key_value_and_into_iter_behave_as_std_s() {
    let first = line!();
    let a: RaceMap<String, u32> = RaceMap::with_capacity(64);
    let b: RaceMap<String, u32> = RaceMap::new();
    for k in 0..20 {
        a.insert(k.to_string(), k);
    }
    for k in (0..20).rev() {
        b.insert(k.to_string(), k);
    }
    assert!(a == b, "the same pairs, whatever the order and capacity");
    b.update("7", |v| *v += 1);
    assert!(a != b, "a value differs");
    b.update("7", |v| *v -= 1);
    b.insert("20".into(), 20);
    assert!(a != b, "one has a pair more");
    assert!(!b.eq(&a), "either way round");
    // std's: a map whose value is not equal to itself is not equal to itself.
    let nan: RaceMap<u8, f64> = RaceMap::from([(1, f64::NAN)]);
    assert!(nan != nan);
    // The stored key, found through a borrowed form.
    assert_eq!(a.get_key_value("3"), Some(("3".to_string(), 3)));
    assert_eq!(a.get_key_value("x"), None);
    let pairs = a.into_iter();
    assert_eq!(pairs.len(), 20);
    let none: racedet::collections::IntoIter<String, u32> = Default::default();
    assert_eq!(none.len(), 0);
    let mut pairs: Vec<(String, u32)> = pairs.collect();
    pairs.sort_by_key(|p| p.1);
    assert_eq!(pairs.len(), 20);
    assert!(pairs.iter().all(|(k, v)| *k == v.to_string()));
    assert_silent(file!(), first, line!());
}

#[test]
fn into_iter_of_a_map_filled_by_joined_threads_is_silent() {
    let first = line!();
    let (m, lock) = (Arc::new(RaceMap::new()), Arc::new(Mutex::new(())));
    let ts: Vec<_> = (0..4u64)
        .map(|i| {
            let (m, lock) = (m.clone(), lock.clone());
            thread::spawn(move || {
                let _g = lock.lock().unwrap();
                m.insert(i, i * i)
            })
        })
        .collect();
    for t in ts {
        t.join().unwrap();
    }
    let owned = Arc::try_unwrap(m).unwrap_or_else(|_| panic!("one owner left"));
    let mut squares: Vec<u64> = owned.into_iter().map(|(_, v)| v).collect();
    squares.sort();
    assert_eq!(squares, [0, 1, 4, 9]);
    assert_silent(file!(), first, line!());
}

/// Generic over what it fills, as code written for std's maps can be;
/// returns the line of its `extend`.
fn fill<E: Extend<(u8, u8)>>(into: &mut E) -> u32 {
    site!(into.extend([(3, 30), (4, 40)]))
}

#[test]
fn from_an_array_and_extend_through_std_s_trait_work_as_for_hashmap() {
    let first = line!();
    let mut m = RaceMap::from([(1u8, 10u8), (2, 20)]);
    fill(&mut m);
    // std's impl for pairs of references to `Copy` keys and values.
    Extend::extend(&mut m, [(&5u8, &50u8)]);
    let mut keys = m.keys();
    keys.sort();
    assert_eq!(keys, [1, 2, 3, 4, 5]);
    assert_eq!(m.get(&4), Some(40));
    assert_eq!(m.get(&5), Some(50));
    assert_silent(file!(), first, line!());
}

#[test]
fn from_and_extend_through_std_s_trait_report_the_caller_s_sites() {
    let first = line!();
    let (lf, mut m) = at!(RaceMap::from([(1u8, 10u8)]));
    let p = &m as *const RaceMap<u8, u8> as usize;
    let (inserted, extended) = (Arc::new(Signal::default()), Arc::new(Signal::default()));
    let (i2, e2) = (inserted.clone(), extended.clone());
    let t = spawn_named("insert-before-extend", move || {
        // SAFETY: the map outlives the thread (joined below), and this
        // reference is not used after `inserted`, before which the main
        // thread does not touch the map.
        let m = unsafe { &*(p as *const RaceMap<u8, u8>) };
        let l = site!(m.insert(2, 20));
        i2.raise();
        e2.wait();
        l
    });
    inserted.wait();
    let le = fill(&mut m);
    extended.raise();
    let li = t.join().unwrap();
    let r = expect_race_by(file!(), [(li, Some("insert-before-extend")), (le, None)]);
    assert_eq!(r.kind, ReportKind::MapWrites, "{}", r.to_text());
    assert_ops(&r, [(li, "insert"), (le, "extend")]);
    assert_made_at(&r, lf);
    assert_silent(file!(), first, line!());
}

#[test]
fn bucket_policy_retain_writes_every_bucket() {
    let first = line!();
    let m = Arc::new(bucket_map(64));
    m.insert(1, 1);
    let r2 = m.clone();
    let t = spawn_named("get-during-retain", move || site!(r2.get(&5)));
    let lr = site!(m.retain(|_, _| true));
    let lg = t.join().unwrap();
    let r = expect_race(file!(), lr, lg);
    assert_eq!(r.kind, ReportKind::MapReadWrite, "{}", r.to_text());
    assert_ops(&r, [(lr, "retain"), (lg, "get")]);
    let retain = side_at(&r, lr);
    assert!(retain.write);
    assert!(
        matches!(retain.map_part, Some(MapPart::All { .. })),
        "{:?}",
        retain.map_part
    );
    assert_threads(&r, [(lr, None), (lg, Some("get-during-retain"))]);
    assert_silent(file!(), first, line!());
}

#[test]
fn update_and_get_with_race_under_go_policy_even_on_different_keys() {
    let first = line!();
    let m = Arc::new(RaceMap::new());
    m.insert(1u8, 1u8);
    m.insert(2u8, 2u8);
    let w = m.clone();
    let t = spawn_named("update-and-get", move || site!(w.update(&1, |v| *v += 1)));
    let lg = site!(m.get_with(&2, |v| *v));
    let lw = t.join().unwrap();
    let r = expect_race_by(file!(), [(lg, None), (lw, Some("update-and-get"))]);
    assert_eq!(r.kind, ReportKind::MapReadWrite);
    assert_silent(file!(), first, line!());
}

#[test]
fn parent_write_after_spawn_races_with_child_read() {
    let first = line!();
    let m = Arc::new(RaceMap::new());
    let r = m.clone();
    let t = spawn_named("parent-write-after", move || site!(r.get(&1u8)));
    let lw = site!(m.insert(1u8, 1u8));
    let lr = t.join().unwrap();
    let r = expect_race(file!(), lw, lr);
    assert_eq!(r.kind, ReportKind::MapReadWrite);
    assert_threads(&r, [(lw, None), (lr, Some("parent-write-after"))]);
    assert_silent(file!(), first, line!());
}

// std's barrier orders the two accesses in time without a happens-before
// edge racedet can see, so each test pins which access comes second.

#[test]
fn race_is_reported_when_the_read_comes_second() {
    let first = line!();
    let m = Arc::new(RaceMap::new());
    let w = m.clone();
    let gate = std::sync::Arc::new(std::sync::Barrier::new(2));
    let g = gate.clone();
    let t = spawn_named("race-is-reported", move || {
        let l = site!(w.insert(1u8, 1u8));
        g.wait();
        l
    });
    gate.wait();
    let lr = site!(m.get(&1));
    let lw = t.join().unwrap();
    let r = expect_race_by(file!(), [(lr, None), (lw, Some("race-is-reported"))]);
    assert_eq!(r.kind, ReportKind::MapReadWrite);
    assert!(!r.current.write && r.previous.write, "the read came second");
    assert_eq!(r.current.site.line, lr);
    assert_silent(file!(), first, line!());
}

#[test]
fn race_is_reported_when_the_write_comes_second() {
    let first = line!();
    let m = Arc::new(RaceMap::new());
    let w = m.clone();
    let gate = std::sync::Arc::new(std::sync::Barrier::new(2));
    let g = gate.clone();
    let t = spawn_named("race-is-reported-2", move || {
        g.wait();
        let l = site!(w.insert(1u8, 1u8));
        l
    });
    let lr = site!(m.get(&1));
    gate.wait();
    let lw = t.join().unwrap();
    let r = expect_race(file!(), lr, lw);
    assert_eq!(r.kind, ReportKind::MapReadWrite);
    assert!(
        r.current.write && !r.previous.write,
        "the write came second"
    );
    assert_eq!(r.current.site.line, lw);
    assert_threads(&r, [(lr, None), (lw, Some("race-is-reported-2"))]);
    assert_silent(file!(), first, line!());
}

#[test]
fn rwlock_protected_safe_map_is_silent() {
    let first = line!();
    let m = Arc::new(RwLock::new(RaceMap::new()));
    let workers: Vec<_> = (0..4u64)
        .map(|t| {
            let m = m.clone();
            thread::spawn(move || {
                for i in 0..2_000u64 {
                    if i % 10 == 0 {
                        m.write().unwrap().insert(i % 64, t);
                    } else {
                        let _ = m.read().unwrap().get(&(i % 64));
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let _ = m.read().unwrap().len();
    assert_silent(file!(), first, line!());
}

#[test]
fn eight_threads_and_a_hundred_thousand_locked_ops_are_silent() {
    let first = line!();
    let m = Arc::new(Mutex::new(RaceMap::new()));
    let workers: Vec<_> = (0..8u64)
        .map(|t| {
            let m = m.clone();
            thread::spawn(move || {
                let mut x = t + 1;
                for _ in 0..12_500 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let map = m.lock().unwrap();
                    match x % 4 {
                        0 => {
                            map.insert(x % 1024, x);
                        }
                        1 => {
                            map.remove(&(x % 1024));
                        }
                        2 => map.range(|_, _| false),
                        _ => {
                            let _ = map.get(&(x % 1024));
                        }
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    assert!(m.lock().unwrap().len() <= 1024);
    assert_silent(file!(), first, line!());
}

#[test]
fn readers_only_without_a_lock_are_silent() {
    let first = line!();
    let m: Arc<RaceMap<u32, u32>> = Arc::new((0..100).map(|i| (i, i)).collect());
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let m = m.clone();
            thread::spawn(move || {
                for i in 0..100 {
                    assert_eq!(m.get(&i), Some(i));
                }
                m.range(|_, _| true);
                m.len()
            })
        })
        .collect();
    for r in readers {
        assert_eq!(r.join().unwrap(), 100);
    }
    assert_silent(file!(), first, line!());
}

#[test]
fn write_before_spawn_and_read_after_join_are_silent() {
    let first = line!();
    let m = Arc::new(RaceMap::new());
    m.insert(1u8, 1u8);
    let c = m.clone();
    thread::spawn(move || {
        assert_eq!(c.get(&1), Some(1));
        c.insert(2, 2);
    })
    .join()
    .unwrap();
    assert_eq!(m.get(&2), Some(2));
    m.clear();
    assert_silent(file!(), first, line!());
}

#[test]
fn scoped_threads_ordered_by_scope_end_are_silent() {
    let first = line!();
    let m = RaceMap::new();
    let lock = Mutex::new(());
    thread::scope(|s| {
        for i in 0..4u8 {
            let (m, lock) = (&m, &lock);
            s.spawn(move || {
                let _g = lock.lock().unwrap();
                m.insert(i, i);
            });
        }
    });
    assert_eq!(m.len(), 4);
    assert_silent(file!(), first, line!());
}

#[test]
fn bucket_policy_same_bucket_writes_race() {
    let first = line!();
    let m = Arc::new(bucket_map(64));
    let w = m.clone();
    let t = spawn_named("bucket-policy-same", move || site!(w.insert(1, 1)));
    let l = site!(m.insert(1 + 16, 2));
    let lt = t.join().unwrap();
    let r = expect_race(file!(), l, lt);
    assert_eq!(r.kind, ReportKind::MapWrites);
    assert_eq!(
        r.current.map_part,
        Some(MapPart::Bucket { bucket: 1, of: 16 })
    );
    assert_eq!(
        r.previous.map_part,
        Some(MapPart::Bucket { bucket: 1, of: 16 })
    );
    assert_threads(&r, [(l, None), (lt, Some("bucket-policy-same"))]);
    assert_silent(file!(), first, line!());
}

#[test]
fn bucket_policy_different_bucket_writes_are_silent() {
    let first = line!();
    let m = Arc::new(bucket_map(64));
    let w = m.clone();
    let t = thread::spawn(move || {
        w.insert(1, 1);
        let _ = w.get(&1);
    });
    m.insert(2, 2);
    let _ = m.get(&2);
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn bucket_policy_len_races_with_an_insert_in_any_bucket() {
    let first = line!();
    let m = Arc::new(bucket_map(64));
    let w = m.clone();
    let t = spawn_named("bucket-policy-len", move || site!(w.insert(5, 5)));
    let l = site!(m.len());
    let lt = t.join().unwrap();
    let r = expect_race_by(file!(), [(l, None), (lt, Some("bucket-policy-len"))]);
    assert_eq!(r.kind, ReportKind::MapReadWrite);
    assert_silent(file!(), first, line!());
}

/// Grows a bucket map past 2 buckets with `grow` (the 14th entry, a key of
/// bucket 0) while another thread reads bucket 1: growth writes every
/// bucket, so they race, and the report names the operation that grew it.
fn growth_races_with_a_read_of_another_bucket(grow: fn(&IdMap) -> u32, op: &str) {
    let first = line!();
    // Go: one bucket up to 8 entries, then 6.5 per bucket: 13 entries fill
    // 2 buckets and the 14th grows to 4.
    let m = Arc::new(bucket_map(0));
    for k in 0..13 {
        m.insert(k * 2, k);
    }
    let r = m.clone();
    let t = spawn_named("bucket-policy-growth", move || site!(r.get(&1)));
    let lg = grow(&m);
    let lt = t.join().unwrap();
    let rep = expect_race(file!(), lg, lt);
    assert_eq!(rep.kind, ReportKind::MapReadWrite);
    assert_ops(&rep, [(lg, op), (lt, "get")]);
    assert_eq!(
        side_at(&rep, lg).map_part,
        Some(MapPart::All { of: 4 }),
        "{}",
        rep.to_text()
    );
    assert_threads(&rep, [(lg, None), (lt, Some("bucket-policy-growth"))]);
    assert_silent(file!(), first, line!());
}

#[test]
fn bucket_policy_growth_writes_every_bucket() {
    growth_races_with_a_read_of_another_bucket(|m| site!(m.insert(100, 100)), "insert (growth)");
}

#[test]
fn growth_by_extend_is_named_extend() {
    growth_races_with_a_read_of_another_bucket(
        |m| site!(m.extend([(100, 100)])),
        "extend (growth)",
    );
}

#[test]
fn up_to_eight_entries_a_map_has_one_bucket_like_go() {
    let first = line!();
    // Go grows on the 9th entry: keys 0 and 1 share the one bucket.
    let m = Arc::new(bucket_map(8));
    for k in 0..8 {
        m.insert(k, k);
    }
    let w = m.clone();
    let t = spawn_named("one-bucket", move || site!(w.insert(1, 10)));
    let l = site!(m.insert(0, 10));
    let lt = t.join().unwrap();
    let r = expect_race_by(file!(), [(l, None), (lt, Some("one-bucket"))]);
    assert_eq!(r.kind, ReportKind::MapWrites);
    assert_eq!(
        r.current.map_part,
        Some(MapPart::Bucket { bucket: 0, of: 1 })
    );
    assert_silent(file!(), first, line!());
}

#[test]
fn extend_drops_the_values_it_replaces_after_letting_the_map_go() {
    // As `insert`: a replaced value's `Drop` may use the map.
    struct UsesMap(Option<Arc<RaceMap<u64, UsesMap>>>);
    impl Drop for UsesMap {
        fn drop(&mut self) {
            if let Some(m) = self.0.take() {
                assert!(m.contains_key(&6));
            }
        }
    }
    let m = Arc::new(RaceMap::new());
    m.insert(6, UsesMap(Some(m.clone())));
    m.extend([(6, UsesMap(None))]);
    m.insert(6, UsesMap(Some(m.clone())));
    drop(m.insert(6, UsesMap(None)));
}

#[test]
fn bucket_count_follows_capacity_like_go() {
    let first = line!();
    // Go sizes 2^B buckets for 6.5 entries each: 64 entries -> 16 buckets.
    let m = Arc::new(bucket_map(64));
    let w = m.clone();
    let t = spawn_named("bucket-count-follows", move || site!(w.insert(3, 3)));
    let l = site!(m.insert(3, 4));
    let lt = t.join().unwrap();
    let r = expect_race(file!(), l, lt);
    assert_eq!(r.kind, ReportKind::MapWrites, "{}", r.to_text());
    assert_eq!(
        r.current.map_part,
        Some(MapPart::Bucket { bucket: 3, of: 16 })
    );
    assert_threads(&r, [(l, None), (lt, Some("bucket-count-follows"))]);
    assert_silent(file!(), first, line!());
}

#[test]
fn map_api_behaves_like_a_map() {
    let m: RaceMap<String, u32> = RaceMap::with_capacity(4);
    assert!(m.is_empty());
    assert_eq!(m.insert("a".into(), 1), None);
    assert_eq!(m.insert("a".into(), 2), Some(1));
    assert_eq!(m.get("a"), Some(2));
    assert_eq!(m.get_with("a", |v| v * 10), Some(20));
    assert!(m.update("a", |v| *v += 1));
    assert!(!m.update("zz", |v| *v += 1));
    assert!(m.contains_key("a"));
    m.extend([("b".to_string(), 5)]);
    let mut keys = m.keys();
    keys.sort();
    assert_eq!(keys, ["a", "b"]);
    let mut values = m.values();
    values.sort();
    assert_eq!(values, [3, 5]);
    let mut seen = 0;
    m.range(|_, _| {
        seen += 1;
        false
    });
    assert_eq!(seen, 1);
    let copy = m.clone();
    assert_eq!(copy.len(), 2);
    assert_eq!(m.remove("a"), Some(3));
    assert_eq!(format!("{m:?}"), r#"{"b": 5}"#);
    m.clear();
    assert_eq!(m.len(), 0);
    let d: RaceMap<u8, u8> = RaceMap::default();
    assert!(d.is_empty());
}

#[test]
fn a_map_is_send_and_sync_as_std_s_rwlock_of_a_hash_map() {
    fn shared<T: Send + Sync>() {}
    shared::<RaceMap<String, Vec<u8>>>();
    shared::<RaceMap<u64, std::sync::Mutex<u64>>>();
    fn sent<T: Send>() {}
    // Not Sync (a Cell value), but still Send.
    sent::<RaceMap<u64, std::cell::Cell<u64>>>();
}

#[test]
fn unlocked_writers_and_readers_never_break_the_map() {
    // The contract makes this a race, and memory safety must hold anyway:
    // every insert lands and every value read is one that was written,
    // while readers and writers keep meeting at the map's lock (shared
    // reads and the exclusive writers' folds among them).
    const PER: u64 = 20_000;
    let first = line!();
    let m: Arc<RaceMap<u64, u64>> = Arc::new(RaceMap::new());
    let ts: Vec<_> = (0..4u64)
        .map(|t| {
            let m = m.clone();
            thread::spawn(move || {
                for i in 0..PER {
                    m.insert(t * PER + i, i);
                    let k = (i * 7919 + t) % (4 * PER);
                    if let Some(v) = m.get(&k) {
                        assert_eq!(v, k % PER, "a value no insert wrote");
                    }
                }
            })
        })
        .collect();
    for t in ts {
        t.join().unwrap();
    }
    let last = line!();
    assert_eq!(m.len(), (4 * PER) as usize);
    for k in 0..4 * PER {
        assert_eq!(m.get(&k), Some(k % PER));
    }
    let races = racedet_tests::reports_between(file!(), first, last);
    assert!(
        races.iter().any(|r| r.kind == ReportKind::MapWrites),
        "the unlocked inserts race"
    );
    assert_silent(file!(), last, line!());
}

#[test]
fn a_closure_under_the_map_s_lock_that_uses_the_map_panics_instead_of_deadlocking() {
    let m: RaceMap<u64, u64> = RaceMap::new();
    m.insert(1, 10);
    m.insert(2, 20);
    let uses: [(&str, &dyn Fn()); 5] = [
        ("update", &|| {
            m.update(&1, |v| *v += m.get(&2).unwrap_or(0));
        }),
        ("retain", &|| {
            m.retain(|k, _| m.contains_key(&(k + 1)));
        }),
        ("get_with", &|| {
            m.get_with(&1, |_| m.insert(3, 30));
        }),
        // Go allows deleting during range; here that is `retain`'s job.
        ("range", &|| {
            m.range(|k, _| {
                m.remove(k);
                true
            })
        }),
        ("a nested read", &|| {
            m.get_with(&1, |_| m.contains_key(&2));
        }),
    ];
    for (what, f) in uses {
        let message = panic_of(f);
        assert!(
            message.contains("used from inside a closure that runs under its own lock"),
            "{what}: {message}"
        );
        // Unwinding let go of the lock, and the map is whole.
        assert_eq!(m.len(), 2, "{what}");
        assert_eq!(m.get(&1), Some(10), "{what}");
    }
}

/// A key that counts how often it is hashed.
#[derive(PartialEq, Eq)]
struct Counted(u32);

static HASHED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl std::hash::Hash for Counted {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        HASHED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.0.hash(state);
    }
}

#[test]
fn replacing_a_key_of_a_full_map_does_not_grow_it() {
    // hashbrown gives 7 entries 8 buckets: full after 7 inserts. A replace
    // hashes its key once; growing would rehash every key.
    let m = RaceMap::with_capacity(7);
    for k in 0..7 {
        m.insert(Counted(k), k);
    }
    let before = HASHED.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(m.insert(Counted(3), 30), Some(3));
    let hashed = HASHED.load(std::sync::atomic::Ordering::Relaxed) - before;
    assert_eq!(hashed, 1, "the replace rehashed the map");
    assert_eq!(m.get(&Counted(3)), Some(30));
    assert_eq!(m.len(), 7);
}

#[test]
fn a_map_built_by_collect_or_from_then_read_by_an_unordered_thread_races_with_its_build() {
    let first = line!();
    // `from_iter` as `collect` calls it (`collect` is not `#[track_caller]`,
    // so through it the site is std's: the report's creation stack names
    // the caller).
    let (lc, collected) = at!(RaceMap::<u8, u8>::from_iter((0..4u8).map(|i| (i, i))));
    let (lf, from) = at!(RaceMap::from([(1u8, 1u8)]));
    // A std thread: racedet sees neither its spawn nor its join, so nothing
    // orders the maps' build before its reads (as a map published through
    // a Relaxed pointer).
    let (rc, rf) = std::thread::scope(|s| {
        s.spawn(|| {
            let rc = site!(collected.get(&1));
            let rf = site!(from.contains_key(&1));
            (rc, rf)
        })
        .join()
        .unwrap()
    });
    for (read, op, built) in [(rc, "get", lc), (rf, "contains_key", lf)] {
        let r = expect_race(file!(), read, built);
        assert_eq!(r.kind, ReportKind::MapReadWrite, "{}", r.to_text());
        assert!(side_at(&r, built).write, "{}", r.to_text());
        assert_ops(&r, [(built, "insert"), (read, op)]);
        assert_made_at(&r, built);
    }
    assert_silent(file!(), first, line!());
}

#[test]
fn a_map_built_by_collect_and_handed_over_by_spawn_is_silent() {
    let first = line!();
    let m: RaceMap<u8, u8> = (0..20u8).map(|i| (i, i)).collect();
    let m = Arc::new(m);
    let m2 = m.clone();
    let read = thread::spawn(move || m2.get(&19)).join().unwrap();
    assert_eq!(read, Some(19));
    m.insert(20, 20);
    assert_silent(file!(), first, line!());
}
