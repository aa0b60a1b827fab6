//! Scenario corpus: `RaceMap`, after Go's race detector map tests
//! (`runtime/race/testdata/map_test.go`) and the map model of SPEC §3: under
//! the default `go` policy any write conflicts with any unordered access
//! of the map; under `bucket` only same-bucket accesses and whole-map
//! operations (iteration, len, clear, growth) do. A race on a key or value
//! read out of (or copied into) a map is a race on that variable, not on
//! the map.
//!
//! Conventions (counted by `corpus_count.rs`): a race case calls
//! `expect_race`, checks the kind, and then checks nothing else in its body
//! was reported; a no-race case calls `assert_silent` over its whole body.

use racedet::cell::RaceCell;
use racedet::collections::{MapPolicy, RaceMap};
use racedet::reports::{Report, ReportKind};
use racedet::sync::mpsc::sync_channel;
use racedet::sync::{Arc, Barrier, Mutex, OnceLock, RwLock};
use racedet::thread;
use racedet_tests::{
    assert_silent, assert_threads, at, expect_race, expect_race_by, site, spawn_named, IdMap,
};
use std::hint::black_box;

/// A bucket-policy map with 16 buckets (capacity 64, Go's 2^4): key k is
/// in bucket k % 16 until the map grows past 104 entries.
fn striped() -> Arc<IdMap> {
    Arc::new(RaceMap::with_capacity_hasher_and_policy(
        64,
        Default::default(),
        Some(MapPolicy::Bucket),
    ))
}

fn map() -> Arc<RaceMap<u64, u64>> {
    Arc::new(RaceMap::new())
}

#[track_caller]
fn assert_kind(r: &Report, kind: ReportKind) {
    assert_eq!(r.kind, kind, "{}", r.to_text());
    assert_eq!(r.object.kind, "map", "{}", r.to_text());
}

// ------------------------------------------------ Go: map_test.go

#[test]
fn lookup_races_with_insert_of_the_same_key() {
    // Go: TestRaceMapRW (map_test.go)
    let first = line!();
    let m = map();
    let m1 = m.clone();
    let t = spawn_named("lookup-races-with", move || site!(m1.get(&1)));
    let lw = site!(m.insert(1, 1));
    let lr = t.join().unwrap();
    let race = expect_race(file!(), lr, lw);
    assert_kind(&race, ReportKind::MapReadWrite);
    assert_silent(file!(), first, line!());
    assert_threads(&race, [(lw, None), (lr, Some("lookup-races-with"))]);
}

#[test]
fn membership_test_races_with_insert() {
    // Go: TestRaceMapRW2 (map_test.go): `_, _ = m[1]`.
    let first = line!();
    let m = map();
    let m1 = m.clone();
    let t = spawn_named("membership-test-races", move || site!(m1.contains_key(&1)));
    let lw = site!(m.insert(1, 1));
    let lr = t.join().unwrap();
    let race = expect_race(file!(), lr, lw);
    assert_kind(&race, ReportKind::MapReadWrite);
    assert_silent(file!(), first, line!());
    assert_threads(&race, [(lw, None), (lr, Some("membership-test-races"))]);
}

#[test]
fn lookup_of_one_key_races_with_insert_of_another() {
    // Go: TestRaceMapRWArray (map_test.go): `_ = m[1][1]` against `m[2] = ...`.
    let first = line!();
    let m: Arc<RaceMap<u64, [u64; 2]>> = Arc::new(RaceMap::new());
    m.insert(1, [1, 2]);
    let m1 = m.clone();
    let t = spawn_named("lookup-of-one", move || site!(m1.get_with(&1, |v| v[1])));
    let lw = site!(m.insert(2, [1, 2]));
    let lr = t.join().unwrap();
    let race = expect_race(file!(), lr, lw);
    assert_kind(&race, ReportKind::MapReadWrite);
    assert_silent(file!(), first, line!());
    assert_threads(&race, [(lw, None), (lr, Some("lookup-of-one"))]);
}

#[test]
fn concurrent_lookups_are_not_a_race() {
    // Go: TestNoRaceMapRR (map_test.go)
    let first = line!();
    let m = map();
    m.insert(1, 10);
    let m1 = m.clone();
    let t = thread::spawn(move || (m1.contains_key(&1), m1.get(&2)));
    assert_eq!(m.get(&1), Some(10));
    assert_eq!(m.get_with(&1, |v| v + 1), Some(11));
    assert_eq!(t.join().unwrap(), (true, None));
    assert_silent(file!(), first, line!());
}

#[test]
fn values_snapshot_races_with_insert() {
    // Go: TestRaceMapRange (map_test.go)
    let first = line!();
    let m = map();
    m.insert(0, 0);
    let m1 = m.clone();
    let t = spawn_named("values-snapshot-races", move || site!(m1.values()));
    let lw = site!(m.insert(1, 1));
    let li = t.join().unwrap();
    let race = expect_race(file!(), li, lw);
    assert_kind(&race, ReportKind::MapIterationWrite);
    assert_silent(file!(), first, line!());
    assert_threads(&race, [(lw, None), (li, Some("values-snapshot-races"))]);
}

#[test]
fn range_over_an_empty_map_races_with_insert() {
    // Go: TestRaceMapRange2 (map_test.go): ranging an empty map still reads it.
    let first = line!();
    let m = map();
    let m1 = m.clone();
    let t = spawn_named("range-over-an", move || site!(m1.range(|_, _| true)));
    let lw = site!(m.insert(1, 1));
    let li = t.join().unwrap();
    let race = expect_race(file!(), li, lw);
    assert_kind(&race, ReportKind::MapIterationWrite);
    assert_silent(file!(), first, line!());
    assert_threads(&race, [(lw, None), (li, Some("range-over-an"))]);
}

#[test]
fn concurrent_ranges_are_not_a_race() {
    // Go: TestNoRaceMapRangeRange (map_test.go)
    let first = line!();
    let m = map();
    m.insert(0, 0);
    let m1 = m.clone();
    let t = thread::spawn(move || {
        let mut n = 0;
        m1.range(|_, _| {
            n += 1;
            true
        });
        n
    });
    let mut n = 0;
    m.range(|_, _| {
        n += 1;
        true
    });
    assert_eq!(t.join().unwrap(), n);
    assert_silent(file!(), first, line!());
}

#[test]
fn is_empty_races_with_insert() {
    // Go: TestRaceMapLen (map_test.go)
    let first = line!();
    let m: Arc<RaceMap<String, bool>> = Arc::new(RaceMap::new());
    let m1 = m.clone();
    let t = spawn_named("is-empty-races", move || site!(m1.is_empty()));
    let lw = site!(m.insert(String::new(), true));
    let lr = t.join().unwrap();
    let r = expect_race(file!(), lr, lw);
    assert_kind(&r, ReportKind::MapReadWrite);
    assert_silent(file!(), first, line!());
    assert_threads(&r, [(lw, None), (lr, Some("is-empty-races"))]);
}

#[test]
fn remove_races_with_insert() {
    // Go: TestRaceMapDelete (map_test.go)
    let first = line!();
    let m: Arc<RaceMap<String, bool>> = Arc::new(RaceMap::new());
    let m1 = m.clone();
    let t = spawn_named("remove-races-with", move || site!(m1.remove("")));
    let lw = site!(m.insert(String::new(), true));
    let lr = t.join().unwrap();
    let r = expect_race(file!(), lr, lw);
    assert_kind(&r, ReportKind::MapWrites);
    assert!(r.current.write && r.previous.write);
    assert_silent(file!(), first, line!());
    assert_threads(&r, [(lw, None), (lr, Some("remove-races-with"))]);
}

#[test]
fn remove_of_an_absent_key_is_still_a_write_that_races_with_len() {
    // Go: TestRaceMapLenDelete (map_test.go)
    let first = line!();
    let m: Arc<RaceMap<String, bool>> = Arc::new(RaceMap::new());
    let m1 = m.clone();
    let t = spawn_named("remove-of-an", move || site!(m1.remove("a")));
    let lr = site!(m.len());
    let lw = t.join().unwrap();
    let race = expect_race(file!(), lr, lw);
    assert_kind(&race, ReportKind::MapReadWrite);
    assert_silent(file!(), first, line!());
    assert_threads(&race, [(lr, None), (lw, Some("remove-of-an"))]);
}

#[test]
fn reading_the_key_of_a_lookup_races_but_the_map_does_not() {
    // Go: TestRaceMapLookupPartKey (map_test.go): the race is on the key.
    let first = line!();
    let k = Arc::new(RaceCell::new([0u8; 17]));
    let m: Arc<RaceMap<[u8; 17], bool>> = Arc::new(RaceMap::new());
    let k1 = k.clone();
    let t = spawn_named("reading-the-key", move || {
        let mut key = [0u8; 17];
        key[8] = 1;
        site!(k1.set(key))
    });
    let (lr, key) = at!(k.get());
    assert!(m.get(&key).is_none());
    let lw = t.join().unwrap();
    let r = expect_race(file!(), lr, lw);
    assert_eq!(r.kind, ReportKind::DataRace);
    assert_eq!(r.object.kind, "cell");
    assert_silent(file!(), first, line!());
    assert_threads(&r, [(lr, None), (lw, Some("reading-the-key"))]);
}

#[test]
fn value_copied_into_a_map_races_but_the_map_does_not() {
    // Go: TestRaceMapInsertPartVal (map_test.go): the race is on the value.
    let first = line!();
    let v = Arc::new(RaceCell::new([0i32; 17]));
    let m: Arc<RaceMap<u64, [i32; 17]>> = Arc::new(RaceMap::new());
    let v1 = v.clone();
    let t = spawn_named("value-copied-into", move || {
        let mut big = [0i32; 17];
        big[8] = 1;
        site!(v1.set(big))
    });
    let (lr, copy) = at!(v.get());
    m.insert(1, copy);
    let lw = t.join().unwrap();
    let r = expect_race(file!(), lr, lw);
    assert_eq!(r.kind, ReportKind::DataRace);
    assert_eq!(r.object.kind, "cell");
    assert_silent(file!(), first, line!());
    assert_threads(&r, [(lr, None), (lw, Some("value-copied-into"))]);
}

#[test]
fn element_of_a_map_value_races_while_the_map_is_only_read() {
    // Go: TestRaceMapAssignMultipleReturn (map_test.go):
    // `conns[1][0], err = connect()` against `x := conns[1][0]`.
    let first = line!();
    let conns: Arc<RaceMap<u64, Arc<RaceCell<i64>>>> = Arc::new(RaceMap::new());
    conns.insert(1, Arc::new(RaceCell::new(0)));
    let c1 = conns.clone();
    let t = spawn_named("element-of-a", move || site!(c1.get(&1).unwrap().set(42)));
    let lr = site!(conns.get(&1).unwrap().get());
    let lw = t.join().unwrap();
    let r = expect_race(file!(), lr, lw);
    assert_eq!(r.kind, ReportKind::DataRace);
    assert_eq!(r.object.kind, "cell");
    assert_silent(file!(), first, line!());
    assert_threads(&r, [(lr, None), (lw, Some("element-of-a"))]);
}

#[test]
fn nested_map_write_races_with_a_nested_map_read_only() {
    // Go: TestRaceCaseIssue6418 (mop_test.go): `m["a"]["x"] = "y"` against
    // `switch m["a"]["b"]`: the outer map is only read.
    type Inner = RaceMap<&'static str, &'static str>;
    let first = line!();
    let m: Arc<RaceMap<&'static str, Arc<Inner>>> = Arc::new(RaceMap::new());
    let inner: Inner = [("b", "c")].into_iter().collect();
    m.insert("a", Arc::new(inner));
    let m1 = m.clone();
    let t = spawn_named("nested-map-write", move || {
        site!(m1.get("a").unwrap().insert("x", "y"))
    });
    let lr = site!(m.get("a").unwrap().get("b"));
    let lw = t.join().unwrap();
    let race = expect_race(file!(), lr, lw);
    assert_kind(&race, ReportKind::MapReadWrite);
    assert_silent(file!(), first, line!());
    assert_threads(&race, [(lr, None), (lw, Some("nested-map-write"))]);
}

// ------------------------------------------- the rest of the Go map API

#[test]
fn clear_races_with_range() {
    let first = line!();
    let m = map();
    m.insert(1, 1);
    let m1 = m.clone();
    let t = spawn_named("clear-races-with", move || site!(m1.clear()));
    let li = site!(m.range(|_, _| true));
    let lw = t.join().unwrap();
    let race = expect_race(file!(), li, lw);
    assert_kind(&race, ReportKind::MapIterationWrite);
    assert_silent(file!(), first, line!());
    assert_threads(&race, [(li, None), (lw, Some("clear-races-with"))]);
}

#[test]
fn two_clears_race() {
    let first = line!();
    let m = map();
    let m1 = m.clone();
    let t = spawn_named("two-clears-race", move || site!(m1.clear()));
    let lw = site!(m.clear());
    let lt = t.join().unwrap();
    let race = expect_race(file!(), lw, lt);
    assert_kind(&race, ReportKind::MapWrites);
    assert_silent(file!(), first, line!());
    assert_threads(&race, [(lw, None), (lt, Some("two-clears-race"))]);
}

#[test]
fn extend_races_with_a_lookup() {
    let first = line!();
    let m = map();
    let m1 = m.clone();
    let t = spawn_named("extend-races-with", move || {
        site!(m1.extend([(1, 1), (2, 2)]))
    });
    let lr = site!(m.get(&3));
    let lw = t.join().unwrap();
    let race = expect_race(file!(), lr, lw);
    assert_kind(&race, ReportKind::MapReadWrite);
    assert_silent(file!(), first, line!());
    assert_threads(&race, [(lr, None), (lw, Some("extend-races-with"))]);
}

#[test]
fn updates_of_different_keys_race_under_the_go_policy() {
    let first = line!();
    let m = map();
    m.insert(1, 0);
    m.insert(2, 0);
    let m1 = m.clone();
    let t = spawn_named("updates-of-different", move || {
        site!(m1.update(&1, |v| *v += 1))
    });
    let lw = site!(m.update(&2, |v| *v += 1));
    let lt = t.join().unwrap();
    let race = expect_race(file!(), lw, lt);
    assert_kind(&race, ReportKind::MapWrites);
    assert_silent(file!(), first, line!());
    assert_threads(&race, [(lw, None), (lt, Some("updates-of-different"))]);
}

#[test]
fn inserts_of_different_keys_race_under_an_explicit_go_policy() {
    let first = line!();
    let m: Arc<RaceMap<u64, u64>> = Arc::new(RaceMap::with_policy(MapPolicy::Go));
    let (m1, m2) = (m.clone(), m.clone());
    let a = spawn_named("go-policy-insert-a", move || site!(m1.insert(1, 1)));
    let b = spawn_named("go-policy-insert-b", move || site!(m2.insert(2, 2)));
    let (la, lb) = (a.join().unwrap(), b.join().unwrap());
    let sides = [
        (la, Some("go-policy-insert-a")),
        (lb, Some("go-policy-insert-b")),
    ];
    assert_kind(&expect_race_by(file!(), sides), ReportKind::MapWrites);
    assert_silent(file!(), first, line!());
}

#[test]
fn debug_formatting_is_an_iteration_that_races_with_insert() {
    // `format!` calls `Debug::fmt` through a function pointer, so
    // `#[track_caller]` cannot see past it: the site is the direct call.
    static FMT_LINE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    struct Shown<'a>(&'a RaceMap<u64, u64>);
    impl std::fmt::Display for Shown<'_> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            let (l, r) = at!(std::fmt::Debug::fmt(self.0, f));
            FMT_LINE.store(l, std::sync::atomic::Ordering::Relaxed);
            r
        }
    }
    let first = line!();
    let m = map();
    let m1 = m.clone();
    let t = spawn_named("debug-formatting-is", move || site!(m1.insert(1, 1)));
    black_box(format!("{}", Shown(&m)));
    let li = FMT_LINE.load(std::sync::atomic::Ordering::Relaxed);
    let lw = t.join().unwrap();
    let race = expect_race(file!(), li, lw);
    assert_kind(&race, ReportKind::MapIterationWrite);
    assert_silent(file!(), first - 10, line!());
    assert_threads(&race, [(li, None), (lw, Some("debug-formatting-is"))]);
}

#[test]
fn clone_races_with_remove() {
    let first = line!();
    let m = map();
    m.insert(1, 1);
    let m1 = m.clone();
    let t = spawn_named("clone-races-with", move || site!(m1.remove(&1)));
    let li = site!(RaceMap::clone(&m));
    let lw = t.join().unwrap();
    let race = expect_race(file!(), li, lw);
    assert_kind(&race, ReportKind::MapIterationWrite);
    assert_silent(file!(), first, line!());
    assert_threads(&race, [(li, None), (lw, Some("clone-races-with"))]);
}

#[test]
fn update_under_a_read_lock_races_with_a_lookup_under_a_read_lock() {
    let first = line!();
    let m = Arc::new(RwLock::new(RaceMap::<u64, u64>::new()));
    m.write().unwrap().insert(1, 1);
    let m1 = m.clone();
    let t = spawn_named("update-under-a", move || {
        let g = m1.read().unwrap();
        site!(g.update(&1, |v| *v += 1))
    });
    let lr = {
        let g = m.read().unwrap();
        let l = site!(g.get(&1));
        l
    };
    let lw = t.join().unwrap();
    let race = expect_race(file!(), lr, lw);
    assert_kind(&race, ReportKind::MapReadWrite);
    assert_silent(file!(), first, line!());
    assert_threads(&race, [(lr, None), (lw, Some("update-under-a"))]);
}

#[test]
fn only_reads_of_every_kind_are_not_a_race() {
    let first = line!();
    let m: Arc<RaceMap<u64, u64>> = Arc::new((0..20).map(|k| (k, k)).collect());
    let ts: Vec<_> = (0..3)
        .map(|_| {
            let m = m.clone();
            thread::spawn(move || {
                let mut sum = 0;
                m.range(|_, v| {
                    sum += v;
                    true
                });
                assert_eq!(m.keys().len(), m.len());
                assert_eq!(m.values().iter().sum::<u64>(), sum);
                assert!(!m.is_empty() && m.contains_key(&3));
                black_box(RaceMap::clone(&m));
                m.get_with(&4, |v| *v)
            })
        })
        .collect();
    for t in ts {
        assert_eq!(t.join().unwrap(), Some(4));
    }
    assert_silent(file!(), first, line!());
}

// ------------------------------------------- maps handed between threads

#[test]
fn map_handed_over_through_a_channel_is_not_a_race() {
    let first = line!();
    let (tx, rx) = sync_channel(0);
    let producer = thread::spawn(move || {
        let m = map();
        for k in 0..10 {
            m.insert(k, k);
        }
        tx.send(m).unwrap();
    });
    let m = rx.recv().unwrap();
    m.update(&3, |v| *v = 30);
    m.remove(&4);
    assert_eq!(m.len(), 9);
    producer.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn map_published_by_a_oncelock_is_read_without_a_race() {
    let first = line!();
    let cell: Arc<OnceLock<RaceMap<u64, u64>>> = Arc::new(OnceLock::new());
    let ts: Vec<_> = (0..3)
        .map(|_| {
            let cell = cell.clone();
            thread::spawn(move || {
                let m = cell.get_or_init(|| {
                    let m = RaceMap::new();
                    m.insert(1, 100);
                    m.insert(2, 200);
                    m
                });
                m.get(&2)
            })
        })
        .collect();
    for t in ts {
        assert_eq!(t.join().unwrap(), Some(200));
    }
    assert_silent(file!(), first, line!());
}

#[test]
fn sharded_maps_each_under_its_own_mutex_are_not_a_race() {
    let first = line!();
    let shards: Arc<Vec<Mutex<RaceMap<u64, u64>>>> =
        Arc::new((0..4).map(|_| Mutex::new(RaceMap::new())).collect());
    let ts: Vec<_> = (0..3u64)
        .map(|t| {
            let shards = shards.clone();
            thread::spawn(move || {
                for k in 0..64u64 {
                    let shard = shards[(k % 4) as usize].lock().unwrap();
                    if (k + t) % 3 == 0 {
                        shard.insert(k, t);
                    } else {
                        let _ = shard.get(&k);
                    }
                }
            })
        })
        .collect();
    for t in ts {
        t.join().unwrap();
    }
    let total: usize = shards.iter().map(|s| s.lock().unwrap().len()).sum();
    assert!(total > 0);
    assert_silent(file!(), first, line!());
}

#[test]
fn per_thread_maps_in_scoped_threads_are_not_a_race() {
    let first = line!();
    let maps: Vec<RaceMap<u64, u64>> = (0..3).map(|_| RaceMap::new()).collect();
    thread::scope(|s| {
        for (i, m) in maps.iter().enumerate() {
            s.spawn(move || {
                for k in 0..10 {
                    m.insert(k, i as u64);
                }
            });
        }
    });
    for m in &maps {
        m.clear();
    }
    assert_silent(file!(), first, line!());
}

#[test]
fn insert_before_a_barrier_and_lookups_after_it_are_not_a_race() {
    let first = line!();
    let m = map();
    let barrier = Arc::new(Barrier::new(3));
    let ts: Vec<_> = (0..3u64)
        .map(|i| {
            let (m, barrier) = (m.clone(), barrier.clone());
            thread::spawn(move || {
                if i == 0 {
                    m.insert(7, 7);
                }
                barrier.wait();
                m.get(&7)
            })
        })
        .collect();
    for t in ts {
        assert_eq!(t.join().unwrap(), Some(7));
    }
    assert_silent(file!(), first, line!());
}

#[test]
fn writes_ordered_by_join_then_spawn_are_not_a_race() {
    let first = line!();
    let m = map();
    for k in 0..3 {
        let m = m.clone();
        thread::spawn(move || {
            m.insert(k, k);
            m.remove(&(k + 100));
        })
        .join()
        .unwrap();
    }
    assert_eq!(m.len(), 3);
    assert_silent(file!(), first, line!());
}

// --------------------------------------------------------- bucket policy

#[test]
fn bucket_policy_range_races_with_an_insert_in_any_bucket() {
    let first = line!();
    let m = striped();
    m.insert(1, 1);
    let m1 = m.clone();
    let t = spawn_named("bucket-policy-range", move || site!(m1.insert(2, 2)));
    let li = site!(m.range(|_, _| true));
    let lw = t.join().unwrap();
    let race = expect_race(file!(), li, lw);
    assert_kind(&race, ReportKind::MapIterationWrite);
    assert_silent(file!(), first, line!());
    assert_threads(&race, [(li, None), (lw, Some("bucket-policy-range"))]);
}

#[test]
fn bucket_policy_clear_races_with_a_lookup_in_any_bucket() {
    let first = line!();
    let m = striped();
    let m1 = m.clone();
    let t = spawn_named("bucket-policy-clear", move || site!(m1.clear()));
    let lr = site!(m.get(&5));
    let lw = t.join().unwrap();
    let race = expect_race(file!(), lr, lw);
    assert_kind(&race, ReportKind::MapReadWrite);
    assert_silent(file!(), first, line!());
    assert_threads(&race, [(lr, None), (lw, Some("bucket-policy-clear"))]);
}

#[test]
fn bucket_policy_clone_races_with_an_insert_in_any_bucket() {
    let first = line!();
    let m = striped();
    let m1 = m.clone();
    let t = spawn_named("bucket-policy-clone", move || site!(m1.insert(9, 9)));
    let li = site!(RaceMap::clone(&*m));
    let lw = t.join().unwrap();
    let race = expect_race(file!(), li, lw);
    assert_kind(&race, ReportKind::MapIterationWrite);
    assert_silent(file!(), first, line!());
    assert_threads(&race, [(li, None), (lw, Some("bucket-policy-clone"))]);
}

#[test]
fn bucket_policy_update_races_with_a_lookup_in_the_same_bucket() {
    let first = line!();
    let m = striped();
    m.insert(3, 0);
    let m1 = m.clone();
    let t = spawn_named("bucket-policy-update", move || {
        site!(m1.update(&3, |v| *v += 1))
    });
    let lr = site!(m.contains_key(&(3 + 16)));
    let lw = t.join().unwrap();
    let r = expect_race(file!(), lr, lw);
    assert_kind(&r, ReportKind::MapReadWrite);
    assert_silent(file!(), first, line!());
    assert_threads(&r, [(lr, None), (lw, Some("bucket-policy-update"))]);
}

#[test]
fn bucket_policy_remove_in_another_bucket_is_not_a_race() {
    let first = line!();
    let m = striped();
    m.insert(1, 1);
    m.insert(2, 2);
    let m1 = m.clone();
    let t = thread::spawn(move || m1.remove(&1));
    assert_eq!(m.get(&2), Some(2));
    m.update(&2, |v| *v += 1);
    assert_eq!(t.join().unwrap(), Some(1));
    assert_silent(file!(), first, line!());
}

#[test]
fn bucket_policy_readers_of_one_bucket_are_not_a_race() {
    let first = line!();
    let m = striped();
    m.insert(4, 4);
    let ts: Vec<_> = (0..3)
        .map(|_| {
            let m = m.clone();
            thread::spawn(move || (m.get(&4), m.contains_key(&20)))
        })
        .collect();
    for t in ts {
        assert_eq!(t.join().unwrap(), (Some(4), false));
    }
    assert_silent(file!(), first, line!());
}

#[test]
fn bucket_policy_lock_striping_by_bucket_is_not_a_race() {
    // Four stripes of a 16-bucket map, stripe = bucket % 4: each key
    // operation holds its stripe's lock; `len` runs after every join.
    let first = line!();
    let m = striped();
    let stripes: Arc<Vec<Mutex<()>>> = Arc::new((0..4).map(|_| Mutex::new(())).collect());
    let ts: Vec<_> = (0..3u64)
        .map(|t| {
            let (m, stripes) = (m.clone(), stripes.clone());
            thread::spawn(move || {
                for k in 0..48u64 {
                    let _g = stripes[(k % 16 % 4) as usize].lock().unwrap();
                    if (k + t) % 2 == 0 {
                        m.insert(k, t);
                    } else {
                        let _ = m.get(&k);
                    }
                }
            })
        })
        .collect();
    for t in ts {
        t.join().unwrap();
    }
    assert!(m.len() <= 48);
    assert_silent(file!(), first, line!());
}

#[test]
fn bucket_policy_writers_of_disjoint_buckets_then_len_after_join_are_not_a_race() {
    let first = line!();
    let m = striped();
    let ts: Vec<_> = (0..2u64)
        .map(|t| {
            let m = m.clone();
            thread::spawn(move || {
                // Thread 0 uses buckets 0..8, thread 1 buckets 8..16.
                for k in 0..8u64 {
                    m.insert(t * 8 + k, k);
                    m.update(&(t * 8 + k), |v| *v += 1);
                }
            })
        })
        .collect();
    for t in ts {
        t.join().unwrap();
    }
    assert_eq!(m.len(), 16);
    assert_silent(file!(), first, line!());
}
