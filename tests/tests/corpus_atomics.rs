//! Scenario corpus: atomics and fences, after Go's race detector tests
//! (`runtime/race/testdata/atomic_test.go`: Go's atomics are sequentially
//! consistent), ThreadSanitizer's lit tests (`compiler-rt/test/tsan/
//! atomic_norace*.cpp`, `atomic_race.cpp`, `atomic_relaxed.cpp`,
//! `compare_exchange_acquire_fence.cpp`) and the C++11 rules racedet
//! implements: Release/Acquire pairs, release sequences through RMWs,
//! standalone fences, compare-exchange failure orderings; Relaxed alone
//! orders nothing; atomic vs atomic never races, atomic vs plain
//! (`unsync_load`) does.
//!
//! Conventions (counted by `corpus_count.rs`): a race case calls
//! `expect_race` and then checks nothing else in its body was reported; a
//! no-race case calls `assert_silent` over its whole body.

use racedet::cell::RaceCell;
use racedet::reports::{Report, ReportKind};
use racedet::sync::atomic::{
    fence, AtomicBool, AtomicI32, AtomicI64, AtomicI8, AtomicPtr, AtomicU16, AtomicU64,
    AtomicUsize, Ordering::*,
};
use racedet::sync::Arc;
use racedet::thread;
use racedet_tests::{
    assert_ops, assert_silent, assert_threads, cell, expect_race, expect_race_by, site,
    spawn_named, Signal,
};
use std::hint::black_box;

/// A report between a plain access and an atomic one.
#[track_caller]
fn assert_mixed(r: &Report) {
    assert_eq!(r.kind, ReportKind::DataRace, "{}", r.to_text());
    assert_eq!(r.object.kind, "atomic", "{}", r.to_text());
    assert!(r.current.atomic != r.previous.atomic, "{}", r.to_text());
}

// ------------------------------------------- Go: atomic_test.go (SeqCst)

#[test]
fn second_adder_sees_the_first_adders_write() {
    // Go: TestNoRaceAtomicAddInt64 (atomic_test.go)
    let first = line!();
    let (x1, x2) = (cell(0), cell(0));
    let s = Arc::new(AtomicI64::new(0));
    let (a1, a2, sa) = (x1.clone(), x2.clone(), s.clone());
    let a = thread::spawn(move || {
        a1.set(1);
        if sa.fetch_add(1, SeqCst) + 1 == 2 {
            a2.set(1);
        }
    });
    let (b1, b2, sb) = (x1.clone(), x2.clone(), s.clone());
    let b = thread::spawn(move || {
        b2.set(1);
        if sb.fetch_add(1, SeqCst) + 1 == 2 {
            b1.set(1);
        }
    });
    a.join().unwrap();
    b.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn second_adder_sees_the_first_with_acq_rel_adds() {
    // Go: TestNoRaceAtomicAddInt32 (atomic_test.go), with AcqRel RMWs.
    let first = line!();
    let (x1, x2) = (cell(0), cell(0));
    let s = Arc::new(AtomicI32::new(0));
    let (a1, a2, sa) = (x1.clone(), x2.clone(), s.clone());
    let a = thread::spawn(move || {
        a1.set(1);
        if sa.fetch_add(1, AcqRel) == 1 {
            a2.set(1);
        }
    });
    let (b1, b2, sb) = (x1.clone(), x2.clone(), s.clone());
    let b = thread::spawn(move || {
        b2.set(1);
        if sb.fetch_add(1, AcqRel) == 1 {
            b1.set(1);
        }
    });
    a.join().unwrap();
    b.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn first_adder_does_not_see_the_later_adder() {
    // Go: TestRaceAtomicAddInt64 (atomic_test.go): the adder that gets 1
    // writes the other's variable (here the first one is pinned).
    let first = line!();
    let (x1, x2) = (cell(0), cell(0));
    let s = Arc::new(AtomicI64::new(0));
    let added = Arc::new(Signal::default());
    let (a1, a2, sa, da) = (x1.clone(), x2.clone(), s.clone(), added.clone());
    let a = spawn_named("first-adder-a", move || {
        a1.set(1);
        let mut l = 0;
        if sa.fetch_add(1, SeqCst) + 1 == 1 {
            l = site!(a2.set(1));
        }
        da.raise();
        l
    });
    let (b1, b2, sb) = (x1.clone(), x2.clone(), s.clone());
    let b = spawn_named("first-adder-b", move || {
        added.wait();
        let l = site!(b2.set(1));
        if sb.fetch_add(1, SeqCst) + 1 == 1 {
            b1.set(1);
        }
        l
    });
    let (la, lb) = (a.join().unwrap(), b.join().unwrap());
    let sides = [(la, Some("first-adder-a")), (lb, Some("first-adder-b"))];
    assert_eq!(expect_race_by(file!(), sides).kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
}

#[test]
fn load_that_sees_an_add_is_ordered_after_it() {
    // Go: TestNoRaceAtomicLoadAddInt32 (atomic_test.go)
    let first = line!();
    let x = cell(0);
    let s = Arc::new(AtomicI32::new(0));
    let (x1, s1) = (x.clone(), s.clone());
    let t = thread::spawn(move || {
        x1.set(2);
        s1.fetch_add(1, SeqCst);
    });
    while s.load(SeqCst) != 1 {
        thread::yield_now();
    }
    x.set(1);
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn load_that_sees_a_store_is_ordered_after_it() {
    // Go: TestNoRaceAtomicLoadStoreInt32 (atomic_test.go)
    let first = line!();
    let x = cell(0);
    let s = Arc::new(AtomicI32::new(0));
    let (x1, s1) = (x.clone(), s.clone());
    let t = thread::spawn(move || {
        x1.set(2);
        s1.store(1, SeqCst);
    });
    while s.load(SeqCst) != 1 {
        thread::yield_now();
    }
    x.set(1);
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn compare_exchange_that_sees_a_store_is_ordered_after_it() {
    // Go: TestNoRaceAtomicStoreCASInt32 (atomic_test.go)
    let first = line!();
    let x = cell(0);
    let s = Arc::new(AtomicI32::new(0));
    let (x1, s1) = (x.clone(), s.clone());
    let t = thread::spawn(move || {
        x1.set(2);
        s1.store(1, SeqCst);
    });
    while s.compare_exchange(1, 0, SeqCst, SeqCst).is_err() {
        thread::yield_now();
    }
    x.set(1);
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn load_that_sees_a_compare_exchange_is_ordered_after_it() {
    // Go: TestNoRaceAtomicCASLoadInt32 (atomic_test.go)
    let first = line!();
    let x = cell(0);
    let s = Arc::new(AtomicI32::new(0));
    let (x1, s1) = (x.clone(), s.clone());
    let t = thread::spawn(move || {
        x1.set(2);
        s1.compare_exchange(0, 1, SeqCst, SeqCst).unwrap();
    });
    while s.load(SeqCst) != 1 {
        thread::yield_now();
    }
    x.set(1);
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn compare_exchange_that_sees_a_compare_exchange_is_ordered_after_it() {
    // Go: TestNoRaceAtomicCASCASInt32 (atomic_test.go)
    let first = line!();
    let x = cell(0);
    let s = Arc::new(AtomicI32::new(0));
    let (x1, s1) = (x.clone(), s.clone());
    let t = thread::spawn(move || {
        x1.set(2);
        s1.compare_exchange(0, 1, SeqCst, SeqCst).unwrap();
    });
    while s.compare_exchange(1, 0, SeqCst, SeqCst).is_err() {
        thread::yield_now();
    }
    x.set(1);
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn compare_exchange_loser_sees_the_winner() {
    // Go: TestNoRaceAtomicCASCASInt32_2 (atomic_test.go): the failed
    // exchange is a SeqCst load of the winner's value.
    let first = line!();
    let (x1, x2) = (cell(0), cell(0));
    let s = Arc::new(AtomicI32::new(0));
    let (a1, a2, sa) = (x1.clone(), x2.clone(), s.clone());
    let a = thread::spawn(move || {
        a1.set(1);
        if sa.compare_exchange(0, 1, SeqCst, SeqCst).is_err() {
            a2.set(1);
        }
    });
    let (b1, b2, sb) = (x1.clone(), x2.clone(), s.clone());
    let b = thread::spawn(move || {
        b2.set(1);
        if sb.compare_exchange(0, 1, SeqCst, SeqCst).is_err() {
            b1.set(1);
        }
    });
    a.join().unwrap();
    b.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn sixty_four_bit_add_and_load_synchronize() {
    // Go: TestNoRaceAtomicLoadInt64 (atomic_test.go)
    let first = line!();
    let x = cell(0);
    let s = Arc::new(AtomicI64::new(0));
    let (x1, s1) = (x.clone(), s.clone());
    let t = thread::spawn(move || {
        x1.set(2);
        s1.fetch_add(1, SeqCst);
    });
    while s.load(SeqCst) != 1 {
        thread::yield_now();
    }
    x.set(1);
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn unsigned_compare_exchanges_synchronize() {
    // Go: TestNoRaceAtomicCASCASUInt64 / TestNoRaceAtomicStoreCASUint64
    let first = line!();
    for store_first in [false, true] {
        let x = cell(0);
        let s = Arc::new(AtomicU64::new(0));
        let (x1, s1) = (x.clone(), s.clone());
        let t = thread::spawn(move || {
            x1.set(2);
            if store_first {
                s1.store(1, SeqCst);
            } else {
                s1.compare_exchange(0, 1, SeqCst, SeqCst).unwrap();
            }
        });
        while s.compare_exchange(1, 0, SeqCst, SeqCst).is_err() {
            thread::yield_now();
        }
        x.set(1);
        t.join().unwrap();
    }
    assert_silent(file!(), first, line!());
}

#[test]
fn pointer_load_that_sees_a_pointer_store_is_ordered_after_it() {
    // Go: TestNoRaceAtomicLoadStorePointer (atomic_test.go)
    let first = line!();
    let x = cell(0);
    // Typed: the pointer casts below name the cell's type.
    let y = cell(2i64);
    let p = Arc::as_ptr(&y) as *mut RaceCell<i64>;
    let s = Arc::new(AtomicPtr::new(std::ptr::null_mut()));
    let (x1, s1, y1) = (x.clone(), s.clone(), y.clone());
    let t = thread::spawn(move || {
        x1.set(2);
        y1.set(3);
        s1.store(Arc::as_ptr(&y1) as *mut RaceCell<i64>, SeqCst);
    });
    let got = loop {
        let q = s.load(SeqCst);
        if q == p {
            break q;
        }
        thread::yield_now();
    };
    // SAFETY: `got` points into `y`, alive for the whole test.
    assert_eq!(unsafe { &*got }.get(), 3);
    x.set(1);
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn atomic_store_races_with_a_plain_read() {
    // Go: TestRaceAtomicStoreLoad (atomic_test.go); TSan: atomic_race.cpp
    let first = line!();
    let a = Arc::new(AtomicU64::new(0));
    let a1 = a.clone();
    let t = spawn_named("atomic-store-races", move || site!(a1.store(1, SeqCst)));
    // SAFETY: racedet reads the value atomically; the race is the point.
    let lr = site!(black_box(unsafe { a.unsync_load() }));
    let lw = t.join().unwrap();
    let race = expect_race(file!(), lr, lw);
    assert_mixed(&race);
    assert_silent(file!(), first, line!());
    assert_threads(&race, [(lr, None), (lw, Some("atomic-store-races"))]);
    assert_ops(&race, [(lr, "unsync_load"), (lw, "store")]);
}

#[test]
fn atomic_add_races_with_a_plain_read() {
    // Go: TestRaceAtomicAddLoad (atomic_test.go); TSan: atomic_race.cpp
    let first = line!();
    let a = Arc::new(AtomicU64::new(0));
    let a1 = a.clone();
    let t = spawn_named("atomic-add-races", move || site!(a1.fetch_add(1, Relaxed)));
    // SAFETY: racedet reads the value atomically; the race is the point.
    let lr = site!(black_box(unsafe { a.unsync_load() }));
    let lw = t.join().unwrap();
    let race = expect_race(file!(), lr, lw);
    assert_mixed(&race);
    assert_silent(file!(), first, line!());
    assert_threads(&race, [(lr, None), (lw, Some("atomic-add-races"))]);
}

// ------------------------------------- TSan: atomic_norace / atomic_race

#[test]
fn atomic_exchanges_from_two_threads_are_not_a_race() {
    // TSan: atomic_norace.cpp (exchange / exchange, fetch_add / fetch_add)
    let first = line!();
    let a = Arc::new(AtomicI64::new(0));
    let b = Arc::new(AtomicI64::new(0));
    let (a1, b1) = (a.clone(), b.clone());
    let t = thread::spawn(move || {
        a1.swap(1, AcqRel);
        b1.fetch_add(1, Relaxed);
    });
    a.swap(2, AcqRel);
    b.fetch_add(1, Relaxed);
    t.join().unwrap();
    assert_eq!(b.load(Relaxed), 2);
    assert_silent(file!(), first, line!());
}

#[test]
fn atomic_load_and_plain_read_are_not_a_race() {
    // TSan: atomic_norace.cpp (atomic load / plain read: two reads)
    let first = line!();
    let a = Arc::new(AtomicI64::new(5));
    let a1 = a.clone();
    let t = thread::spawn(move || a1.load(SeqCst));
    // SAFETY: no write races with it.
    let v = unsafe { a.unsync_load() };
    assert_eq!(t.join().unwrap(), v);
    assert_silent(file!(), first, line!());
}

#[test]
fn atomic_store_after_an_unordered_plain_read_races() {
    // TSan: atomic_race.cpp, "reverse" order: the plain access comes first.
    let first = line!();
    let a = Arc::new(AtomicI64::new(0));
    let read = Arc::new(Signal::default());
    let (a1, r1) = (a.clone(), read.clone());
    let t = spawn_named("atomic-store-after", move || {
        r1.wait();
        site!(a1.store(1, SeqCst))
    });
    // SAFETY: racedet reads the value atomically; the race is the point.
    let lr = site!(black_box(unsafe { a.unsync_load() }));
    read.raise();
    let lw = t.join().unwrap();
    let r = expect_race(file!(), lr, lw);
    assert_mixed(&r);
    assert!(r.current.atomic && r.current.write, "the store came second");
    assert_silent(file!(), first, line!());
    assert_threads(&r, [(lr, None), (lw, Some("atomic-store-after"))]);
}

#[test]
fn relaxed_add_after_an_unordered_plain_read_races() {
    // TSan: atomic_race.cpp (fetch_add relaxed / plain read), reversed.
    let first = line!();
    let a = Arc::new(AtomicI64::new(0));
    let read = Arc::new(Signal::default());
    let (a1, r1) = (a.clone(), read.clone());
    let t = spawn_named("relaxed-add-after", move || {
        r1.wait();
        site!(a1.fetch_add(1, Relaxed))
    });
    // SAFETY: racedet reads the value atomically; the race is the point.
    let lr = site!(black_box(unsafe { a.unsync_load() }));
    read.raise();
    let lw = t.join().unwrap();
    let race = expect_race(file!(), lr, lw);
    assert_mixed(&race);
    assert_silent(file!(), first, line!());
    assert_threads(&race, [(lr, None), (lw, Some("relaxed-add-after"))]);
}

#[test]
fn failed_compare_exchange_is_a_read_and_does_not_race_with_a_plain_read() {
    // C++11: a failed compare-exchange is a load.
    let first = line!();
    let a = Arc::new(AtomicI64::new(5));
    let a1 = a.clone();
    let t = thread::spawn(move || a1.compare_exchange(0, 1, AcqRel, Acquire));
    // SAFETY: no write races with it.
    let v = unsafe { a.unsync_load() };
    assert_eq!(t.join().unwrap(), Err(v));
    assert_silent(file!(), first, line!());
}

#[test]
fn successful_compare_exchange_races_with_a_plain_read() {
    let first = line!();
    let a = Arc::new(AtomicI64::new(0));
    let a1 = a.clone();
    let t = spawn_named("successful-compare-exchange", move || {
        site!(a1.compare_exchange(0, 1, AcqRel, Acquire))
    });
    // SAFETY: racedet reads the value atomically; the race is the point.
    let lr = site!(black_box(unsafe { a.unsync_load() }));
    let lw = t.join().unwrap();
    let race = expect_race(file!(), lr, lw);
    assert_mixed(&race);
    assert_silent(file!(), first, line!());
    assert_threads(
        &race,
        [(lr, None), (lw, Some("successful-compare-exchange"))],
    );
}

#[test]
fn plain_read_after_join_is_not_a_race_with_the_atomic_writes() {
    let first = line!();
    let a = Arc::new(AtomicUsize::new(0));
    let ts: Vec<_> = (0..2)
        .map(|_| {
            let a = a.clone();
            thread::spawn(move || {
                a.fetch_add(1, Relaxed);
                a.swap(7, Relaxed);
            })
        })
        .collect();
    for t in ts {
        t.join().unwrap();
    }
    // SAFETY: every writer was joined.
    assert_eq!(unsafe { a.unsync_load() }, 7);
    let mut a = Arc::try_unwrap(a).unwrap();
    assert_eq!(a.with_mut(|v| *v), 7);
    assert_silent(file!(), first, line!());
}

// --------------------------------------------- TSan: atomic_norace2.cpp

#[test]
fn release_fetch_add_publishes_to_an_acquire_load() {
    // TSan: atomic_norace2.cpp (case 1: __atomic_fetch_add release)
    let first = line!();
    let data = cell(0);
    let a = Arc::new(AtomicI64::new(0));
    let (d1, a1) = (data.clone(), a.clone());
    let t = thread::spawn(move || {
        d1.set(1);
        a1.fetch_add(1, Release);
    });
    while a.load(Acquire) == 0 {
        thread::yield_now();
    }
    data.update(|v| v + 1);
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn release_weak_compare_exchange_publishes_to_an_acquire_load() {
    // TSan: atomic_norace2.cpp (case 2: weak CAS, release / relaxed)
    let first = line!();
    let data = cell(0);
    let a = Arc::new(AtomicI64::new(0));
    let (d1, a1) = (data.clone(), a.clone());
    let t = thread::spawn(move || {
        d1.set(1);
        while a1.compare_exchange_weak(0, 1, Release, Relaxed).is_err() {}
    });
    while a.load(Acquire) == 0 {
        thread::yield_now();
    }
    data.update(|v| v + 1);
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

// --------------------------------------------- TSan: atomic_relaxed.cpp

#[test]
fn release_store_read_relaxed_then_acquire_fence_synchronizes() {
    // TSan: atomic_relaxed.cpp (writer 2, reader 1)
    let first = line!();
    let data = cell(0);
    let a = Arc::new(AtomicI64::new(0));
    let (d1, a1) = (data.clone(), a.clone());
    let t = thread::spawn(move || {
        d1.set(1);
        a1.store(1, Release);
    });
    while a.load(Relaxed) == 0 {
        thread::yield_now();
    }
    fence(Acquire);
    black_box(data.get());
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn release_store_read_relaxed_then_seqcst_fence_synchronizes() {
    // TSan: atomic_relaxed.cpp (writer 2, reader 0)
    let first = line!();
    let data = cell(0);
    let a = Arc::new(AtomicI64::new(0));
    let (d1, a1) = (data.clone(), a.clone());
    let t = thread::spawn(move || {
        d1.set(1);
        a1.store(1, Release);
    });
    while a.load(Relaxed) == 0 {
        thread::yield_now();
    }
    fence(SeqCst);
    black_box(data.get());
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn seqcst_fence_then_relaxed_store_synchronizes_with_an_acquire_load() {
    // TSan: atomic_relaxed.cpp (writer 0, reader 2)
    let first = line!();
    let data = cell(0);
    let a = Arc::new(AtomicI64::new(0));
    let (d1, a1) = (data.clone(), a.clone());
    let t = thread::spawn(move || {
        d1.set(1);
        fence(SeqCst);
        a1.store(1, Relaxed);
    });
    while a.load(Acquire) == 0 {
        thread::yield_now();
    }
    black_box(data.get());
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn release_fence_and_seqcst_fence_pair_through_relaxed_accesses() {
    // TSan: atomic_relaxed.cpp (writer 1, reader 0)
    let first = line!();
    let data = cell(0);
    let a = Arc::new(AtomicI64::new(0));
    let (d1, a1) = (data.clone(), a.clone());
    let t = thread::spawn(move || {
        d1.set(1);
        fence(Release);
        a1.store(1, Relaxed);
    });
    while a.load(Relaxed) == 0 {
        thread::yield_now();
    }
    fence(SeqCst);
    black_box(data.get());
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn seqcst_fences_alone_do_not_synchronize() {
    // C++11: without an atomic read-from between them, two SeqCst fences
    // order nothing (TSan, which ignores fences, reports this too).
    let first = line!();
    let data = cell(0);
    let fenced = Arc::new(Signal::default());
    let (d1, f1) = (data.clone(), fenced.clone());
    let t = spawn_named("seqcst-fences-alone", move || {
        let l = site!(d1.set(1));
        fence(SeqCst);
        f1.raise();
        l
    });
    fenced.wait();
    fence(SeqCst);
    let lr = site!(black_box(data.get()));
    let lw = t.join().unwrap();
    let r = expect_race(file!(), lr, lw);
    assert_eq!(r.kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
    assert_threads(&r, [(lr, None), (lw, Some("seqcst-fences-alone"))]);
}

// ---------------------------- TSan: compare_exchange_acquire_fence.cpp

#[test]
fn acq_rel_compare_exchange_pairs_with_a_relaxed_load_and_acquire_fence() {
    // TSan: compare_exchange_acquire_fence.cpp (fewer rounds)
    let first = line!();
    let a = Arc::new(AtomicBool::new(false));
    let b = Arc::new(RaceCell::new(0u32));
    let (a1, b1) = (a.clone(), b.clone());
    let t = thread::spawn(move || {
        for i in 0..100 {
            while a1.load(Acquire) {
                thread::yield_now();
            }
            b1.set(i);
            a1.compare_exchange(false, true, AcqRel, Relaxed).unwrap();
        }
    });
    let mut sum = 0u32;
    for _ in 0..100 {
        while !a.load(Relaxed) {
            thread::yield_now();
        }
        fence(Acquire);
        sum += b.get();
        a.store(false, Release);
    }
    t.join().unwrap();
    assert_eq!(sum, (0..100).sum::<u32>());
    assert_silent(file!(), first, line!());
}

// ------------------------------------------------------ C++11 orderings

#[test]
fn acquire_load_of_the_value_before_the_release_store_does_not_synchronize() {
    let first = line!();
    let data = cell(0);
    let flag = Arc::new(AtomicI32::new(0));
    let (loaded, stored) = (Arc::new(Signal::default()), Arc::new(Signal::default()));
    let (d1, f1, l1, s1) = (data.clone(), flag.clone(), loaded.clone(), stored.clone());
    let t = spawn_named("acquire-load-of", move || {
        l1.wait();
        let l = site!(d1.set(1));
        f1.store(1, Release);
        s1.raise();
        l
    });
    assert_eq!(flag.load(Acquire), 0);
    loaded.raise();
    stored.wait();
    let lr = site!(black_box(data.get()));
    let lw = t.join().unwrap();
    let r = expect_race(file!(), lr, lw);
    assert_eq!(r.kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
    assert_threads(&r, [(lr, None), (lw, Some("acquire-load-of"))]);
}

#[test]
fn relaxed_store_read_by_a_seqcst_load_races() {
    let first = line!();
    let data = cell(0);
    let flag = Arc::new(AtomicI32::new(0));
    let (d1, f1) = (data.clone(), flag.clone());
    let t = spawn_named("relaxed-store-read", move || {
        let l = site!(d1.set(1));
        f1.store(1, Relaxed);
        l
    });
    while flag.load(SeqCst) == 0 {
        thread::yield_now();
    }
    let lr = site!(black_box(data.get()));
    let lw = t.join().unwrap();
    let r = expect_race(file!(), lr, lw);
    assert_eq!(r.kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
    assert_threads(&r, [(lr, None), (lw, Some("relaxed-store-read"))]);
}

#[test]
fn seqcst_store_read_by_a_relaxed_load_races() {
    let first = line!();
    let data = cell(0);
    let flag = Arc::new(AtomicI32::new(0));
    let (d1, f1) = (data.clone(), flag.clone());
    let t = spawn_named("seqcst-store-read", move || {
        let l = site!(d1.set(1));
        f1.store(1, SeqCst);
        l
    });
    while flag.load(Relaxed) == 0 {
        thread::yield_now();
    }
    let lr = site!(black_box(data.get()));
    let lw = t.join().unwrap();
    let r = expect_race(file!(), lr, lw);
    assert_eq!(r.kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
    assert_threads(&r, [(lr, None), (lw, Some("seqcst-store-read"))]);
}

#[test]
fn release_sequence_continues_through_a_relaxed_swap_of_another_thread() {
    let first = line!();
    let data = cell(0);
    let a = Arc::new(AtomicUsize::new(0));
    let (d1, a1, a2) = (data.clone(), a.clone(), a.clone());
    let head = thread::spawn(move || {
        d1.set(1);
        a1.store(1, Release);
    });
    let middle = thread::spawn(move || {
        while a2.load(Relaxed) != 1 {
            thread::yield_now();
        }
        assert_eq!(a2.swap(2, Relaxed), 1);
    });
    while a.load(Acquire) != 2 {
        thread::yield_now();
    }
    black_box(data.get());
    head.join().unwrap();
    middle.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn release_rmw_publishes_its_own_thread_and_the_sequence_it_continues() {
    let first = line!();
    let (data_a, data_b) = (cell(0), cell(0));
    let a = Arc::new(AtomicUsize::new(0));
    let (da, aa) = (data_a.clone(), a.clone());
    let head = thread::spawn(move || {
        da.set(1);
        aa.store(1, Release);
    });
    let (db, ab) = (data_b.clone(), a.clone());
    let middle = thread::spawn(move || {
        db.set(1);
        while ab.compare_exchange(1, 2, Release, Relaxed).is_err() {
            thread::yield_now();
        }
    });
    while a.load(Acquire) != 2 {
        thread::yield_now();
    }
    black_box((data_a.get(), data_b.get()));
    head.join().unwrap();
    middle.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn later_release_store_of_another_thread_ends_the_first_release_sequence() {
    let first = line!();
    let (data_a, data_b) = (cell(0), cell(0));
    let flag = Arc::new(AtomicI32::new(0));
    let stored = Arc::new(Signal::default());
    let (da, fa, sa) = (data_a.clone(), flag.clone(), stored.clone());
    let a = spawn_named("later-release-a", move || {
        let l = site!(da.set(1));
        fa.store(1, Release);
        sa.raise();
        l
    });
    let stored_b = Arc::new(Signal::default());
    let (db, fb, sb) = (data_b.clone(), flag.clone(), stored_b.clone());
    let b = thread::spawn(move || {
        stored.wait();
        db.set(1);
        fb.store(2, Release);
        sb.raise();
    });
    // Only B's value is read with Acquire (reading A's 1 would synchronize
    // with A directly).
    stored_b.wait();
    assert_eq!(flag.load(Acquire), 2);
    black_box(data_b.get());
    let lr = site!(black_box(data_a.get()));
    let lw = a.join().unwrap();
    b.join().unwrap();
    let sides = [(lr, None), (lw, Some("later-release-a"))];
    assert_eq!(expect_race_by(file!(), sides).kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
}

#[test]
fn release_fence_reaches_an_acquire_load_through_another_threads_rmw() {
    // C++11: the relaxed store after fence(Release) heads a hypothetical
    // release sequence that RMWs continue.
    let first = line!();
    let data = cell(0);
    let a = Arc::new(AtomicUsize::new(0));
    let (d1, a1, a2) = (data.clone(), a.clone(), a.clone());
    let head = thread::spawn(move || {
        d1.set(1);
        fence(Release);
        a1.store(1, Relaxed);
    });
    let middle = thread::spawn(move || {
        while a2.compare_exchange_weak(1, 2, Relaxed, Relaxed).is_err() {
            thread::yield_now();
        }
    });
    while a.load(Acquire) != 2 {
        thread::yield_now();
    }
    black_box(data.get());
    head.join().unwrap();
    middle.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn last_reference_drop_with_an_acquire_fence_sees_every_owner() {
    // std's Arc: fetch_sub(Release), and fence(Acquire) by the last one.
    let first = line!();
    let data = cell(0);
    let refs = Arc::new(AtomicUsize::new(2));
    let released = Arc::new(Signal::default());
    let (d1, r1, s1) = (data.clone(), refs.clone(), released.clone());
    let a = thread::spawn(move || {
        d1.set(1);
        assert_eq!(r1.fetch_sub(1, Release), 2);
        s1.raise();
    });
    let (d2, r2) = (data.clone(), refs.clone());
    let b = thread::spawn(move || {
        released.wait();
        if r2.fetch_sub(1, Release) == 1 {
            fence(Acquire);
            d2.set(0);
        }
    });
    a.join().unwrap();
    b.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn last_reference_drop_without_the_acquire_fence_races() {
    let first = line!();
    let data = cell(0);
    let refs = Arc::new(AtomicUsize::new(2));
    let released = Arc::new(Signal::default());
    let (d1, r1, s1) = (data.clone(), refs.clone(), released.clone());
    let a = spawn_named("last-ref-drop-a", move || {
        let l = site!(d1.set(1));
        assert_eq!(r1.fetch_sub(1, Release), 2);
        s1.raise();
        l
    });
    let (d2, r2) = (data.clone(), refs.clone());
    let b = spawn_named("last-ref-drop-b", move || {
        released.wait();
        let mut l = 0;
        if r2.fetch_sub(1, Release) == 1 {
            l = site!(d2.set(0));
        }
        l
    });
    let (la, lb) = (a.join().unwrap(), b.join().unwrap());
    let sides = [(la, Some("last-ref-drop-a")), (lb, Some("last-ref-drop-b"))];
    assert_eq!(expect_race_by(file!(), sides).kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
}

#[test]
fn last_reference_drop_with_an_acq_rel_decrement_sees_every_owner() {
    let first = line!();
    let data: Arc<Vec<RaceCell<i64>>> = Arc::new((0..3).map(|_| RaceCell::new(0)).collect());
    let refs = Arc::new(AtomicUsize::new(3));
    let ts: Vec<_> = (0..3)
        .map(|i| {
            let (data, refs) = (data.clone(), refs.clone());
            thread::spawn(move || {
                data[i].set(i as i64 + 1);
                if refs.fetch_sub(1, AcqRel) == 1 {
                    let sum: i64 = data.iter().map(|d| d.get()).sum();
                    assert_eq!(sum, 6);
                }
            })
        })
        .collect();
    for t in ts {
        t.join().unwrap();
    }
    assert_silent(file!(), first, line!());
}

#[test]
fn fetch_update_with_release_publishes_to_an_acquire_load() {
    let first = line!();
    let data = cell(0);
    let a = Arc::new(AtomicU16::new(0));
    let (d1, a1) = (data.clone(), a.clone());
    let t = thread::spawn(move || {
        d1.set(1);
        a1.fetch_update(Release, Relaxed, |v| Some(v + 1)).unwrap();
    });
    while a.load(Acquire) == 0 {
        thread::yield_now();
    }
    black_box(data.get());
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn fetch_update_with_relaxed_set_order_races() {
    let first = line!();
    let data = cell(0);
    let a = Arc::new(AtomicU16::new(0));
    let (d1, a1) = (data.clone(), a.clone());
    let t = spawn_named("fetch-update-with", move || {
        let l = site!(d1.set(1));
        a1.fetch_update(Relaxed, Relaxed, |v| Some(v + 1)).unwrap();
        l
    });
    while a.load(Acquire) == 0 {
        thread::yield_now();
    }
    let lr = site!(black_box(data.get()));
    let lw = t.join().unwrap();
    let r = expect_race(file!(), lr, lw);
    assert_eq!(r.kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
    assert_threads(&r, [(lr, None), (lw, Some("fetch-update-with"))]);
}

#[test]
fn update_with_release_publishes_to_an_acquire_load() {
    let first = line!();
    let data = cell(0);
    let a = Arc::new(AtomicU16::new(0));
    let (d1, a1) = (data.clone(), a.clone());
    let t = thread::spawn(move || {
        d1.set(1);
        a1.update(Release, Relaxed, |v| v + 1);
    });
    while a.load(Acquire) == 0 {
        thread::yield_now();
    }
    black_box(data.get());
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn update_with_relaxed_set_order_races() {
    let first = line!();
    let data = cell(0);
    let a = Arc::new(AtomicU16::new(0));
    let (d1, a1) = (data.clone(), a.clone());
    let t = spawn_named("update-relaxed", move || {
        let l = site!(d1.set(1));
        a1.update(Relaxed, Relaxed, |v| v + 1);
        l
    });
    while a.load(Acquire) == 0 {
        thread::yield_now();
    }
    let lr = site!(black_box(data.get()));
    let lw = t.join().unwrap();
    let r = expect_race_by(file!(), [(lr, None), (lw, Some("update-relaxed"))]);
    assert_eq!(r.kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
}

#[test]
fn declined_fetch_update_is_a_load_with_the_fetch_ordering() {
    let first = line!();
    let data = cell(0);
    let a = Arc::new(AtomicU16::new(0));
    let (d1, a1) = (data.clone(), a.clone());
    let t = thread::spawn(move || {
        d1.set(1);
        a1.store(1, Release);
    });
    while a.fetch_update(Relaxed, Acquire, |_| None) != Err(1) {
        thread::yield_now();
    }
    black_box(data.get());
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

/// `fetch_update(Relaxed, fetch_order, ..)` loads 0; its closure lets the
/// thread `name` run `write` and store 2 (Release) — pinned by signals
/// racedet cannot see —, so the compare-exchange fails reading 2, and the
/// closure declines 2: the failed exchange is the load that reads the
/// release, with the fetch ordering. Then this thread runs `read`. The
/// accesses come in as closures so that each test's racing lines are its
/// own (reports are deduplicated by their pair of sites). Returns the
/// lines `read` and `write` report.
fn declined_after_a_failed_exchange(
    fetch_order: racedet::sync::atomic::Ordering,
    name: &str,
    write: impl FnOnce() -> u32 + Send + 'static,
    read: impl FnOnce() -> u32,
) -> (u32, u32) {
    let a = Arc::new(AtomicU16::new(0));
    let (go, stored) = (Arc::new(Signal::default()), Arc::new(Signal::default()));
    let (a1, go1, stored1) = (a.clone(), go.clone(), stored.clone());
    let t = spawn_named(name, move || {
        go1.wait();
        let lw = write();
        a1.store(2, Release);
        stored1.raise();
        lw
    });
    let got = a.fetch_update(Relaxed, fetch_order, |v| match v {
        0 => {
            go.raise();
            stored.wait();
            Some(1)
        }
        _ => None,
    });
    assert_eq!(got, Err(2));
    let lr = read();
    (lr, t.join().unwrap())
}

#[test]
fn fetch_update_declining_after_a_failed_exchange_acquires_with_the_fetch_ordering() {
    let first = line!();
    let data = cell(0);
    let d1 = data.clone();
    declined_after_a_failed_exchange(
        Acquire,
        "declining-update-acquire",
        move || site!(d1.set(1)),
        || site!(data.get()),
    );
    assert_silent(file!(), first, line!());
}

#[test]
fn fetch_update_declining_after_a_failed_exchange_with_relaxed_fetch_ordering_races() {
    let first = line!();
    let data = cell(0);
    let d1 = data.clone();
    let (lr, lw) = declined_after_a_failed_exchange(
        Relaxed,
        "declining-update-relaxed",
        move || site!(d1.set(1)),
        || site!(data.get()),
    );
    let r = expect_race_by(
        file!(),
        [(lr, None), (lw, Some("declining-update-relaxed"))],
    );
    assert_eq!(r.kind, ReportKind::DataRace, "{}", r.to_text());
    assert_eq!(r.object.kind, "cell", "{}", r.to_text());
    assert_silent(file!(), first, line!());
}

#[test]
fn weak_compare_exchange_failure_with_acquire_synchronizes() {
    let first = line!();
    let data = cell(0);
    let a = Arc::new(AtomicI8::new(0));
    let (d1, a1) = (data.clone(), a.clone());
    let t = thread::spawn(move || {
        d1.set(1);
        a1.store(1, Release);
    });
    while a.compare_exchange_weak(7, 8, Relaxed, Acquire) != Err(1) {
        thread::yield_now();
    }
    black_box(data.get());
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn release_bitwise_and_max_rmws_publish_to_acquire_loads() {
    let first = line!();
    let data = cell(0);
    let (b, m, x) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU16::new(0)),
        Arc::new(AtomicI8::new(0)),
    );
    let (d1, b1, m1, x1) = (data.clone(), b.clone(), m.clone(), x.clone());
    let t = thread::spawn(move || {
        d1.set(1);
        b1.fetch_or(true, Release);
        m1.fetch_max(9, Release);
        x1.fetch_xor(3, AcqRel);
    });
    while x.load(Acquire) != 3 {
        thread::yield_now();
    }
    assert!(b.load(Acquire));
    assert_eq!(m.load(Acquire), 9);
    black_box(data.get());
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

// ------------------------------------------- locks built from atomics

#[test]
fn spin_lock_with_acquire_swap_and_release_store_is_not_a_race() {
    let first = line!();
    let x = cell(0);
    let locked = Arc::new(AtomicBool::new(false));
    let ts: Vec<_> = (0..3)
        .map(|_| {
            let (x, locked) = (x.clone(), locked.clone());
            thread::spawn(move || {
                for _ in 0..50 {
                    while locked.swap(true, Acquire) {
                        thread::yield_now();
                    }
                    x.set(x.get() + 1);
                    locked.store(false, Release);
                }
            })
        })
        .collect();
    for t in ts {
        t.join().unwrap();
    }
    assert_eq!(x.get(), 150);
    assert_silent(file!(), first, line!());
}

#[test]
fn spin_lock_with_relaxed_orderings_races() {
    let first = line!();
    let x = cell(0);
    let locked = Arc::new(AtomicBool::new(false));
    let unlocked = Arc::new(Signal::default());
    let (xa, la, ua) = (x.clone(), locked.clone(), unlocked.clone());
    let a = spawn_named("relaxed-spin-a", move || {
        while la.swap(true, Relaxed) {
            thread::yield_now();
        }
        let l = site!(xa.set(1));
        la.store(false, Relaxed);
        ua.raise();
        l
    });
    let (xb, lb) = (x.clone(), locked.clone());
    let b = spawn_named("relaxed-spin-b", move || {
        unlocked.wait();
        while lb.swap(true, Relaxed) {
            thread::yield_now();
        }
        let l = site!(xb.set(2));
        lb.store(false, Relaxed);
        l
    });
    let (la, lb) = (a.join().unwrap(), b.join().unwrap());
    let sides = [(la, Some("relaxed-spin-a")), (lb, Some("relaxed-spin-b"))];
    assert_eq!(expect_race_by(file!(), sides).kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
}

#[test]
fn a_relaxed_load_by_debug_formatting_pairs_with_a_later_acquire_fence() {
    // std's `{:?}` of an atomic is a Relaxed load; with `fence(Acquire)`
    // after it, it synchronizes with the release store it read.
    let first = line!();
    let x = cell(0);
    let flag = Arc::new(AtomicUsize::new(0));
    let (xw, fw) = (x.clone(), flag.clone());
    let w = thread::spawn(move || {
        xw.set(1);
        fw.store(1, Release);
    });
    while format!("{flag:?}") != "1" {
        thread::yield_now();
    }
    fence(Acquire);
    assert_eq!(x.get(), 1);
    w.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn a_store_from_a_thread_racedet_no_longer_follows_ends_the_release_sequence() {
    // A std thread touches a thread-local before its first racedet access,
    // so that thread-local's destructor runs after racedet has ended the
    // thread, and its release store is not seen. A load that reads it must
    // not synchronize with the earlier release of another thread, whose
    // write then races with the reader's (C++20: the store starts a new
    // release sequence).
    use std::sync::atomic::{AtomicUsize as StdUsize, Ordering::SeqCst};
    static FLAG: AtomicUsize = AtomicUsize::new(0);
    static STEP: StdUsize = StdUsize::new(0);
    struct StoreOnExit;
    impl Drop for StoreOnExit {
        fn drop(&mut self) {
            FLAG.store(2, Release);
            STEP.store(2, SeqCst);
        }
    }
    thread_local!(static ON_EXIT: StoreOnExit = const { StoreOnExit });
    let wait_for = |n| {
        while STEP.load(SeqCst) < n {
            thread::yield_now();
        }
    };
    let first = line!();
    let x = cell(0);
    let xp = x.clone();
    let publisher = spawn_named("publisher", move || {
        let l = site!(xp.set(1));
        FLAG.store(1, Release);
        STEP.store(1, SeqCst);
        l
    });
    let unseen = std::thread::spawn(move || {
        ON_EXIT.with(|_| {});
        wait_for(1);
        // Its first racedet access: racedet's end-of-thread destructor is
        // registered after ON_EXIT's, so it runs before it.
        FLAG.load(Relaxed);
    });
    let xr = x.clone();
    let reader = spawn_named("reader", move || {
        wait_for(2);
        assert_eq!(FLAG.load(Acquire), 2);
        site!(xr.get())
    });
    let (lr, lp) = (reader.join().unwrap(), publisher.join().unwrap());
    unseen.join().unwrap();
    let sides = [(lp, Some("publisher")), (lr, Some("reader"))];
    assert_eq!(expect_race_by(file!(), sides).kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
}
