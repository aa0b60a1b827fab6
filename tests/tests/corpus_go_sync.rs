//! Scenario corpus: locks, condition variables and wait groups, after Go's
//! race detector tests (`runtime/race/testdata/mutex_test.go`,
//! `rwmutex_test.go`, `sync_test.go`, `waitgroup_test.go`) and TSan's
//! mutex-set tests (`compiler-rt/test/tsan/mutexset*.cpp`).
//!
//! Go's `sync.WaitGroup` has no racedet type; [`WaitGroup`] below is built
//! from racedet atomics with exactly the edges Go's race annotations give
//! it: `Done` releases (a release RMW, so every `Done` stays in the release
//! sequence), `Wait` acquires, `Add` orders nothing.
//!
//! Conventions (counted by `corpus_count.rs`): a race case calls
//! `expect_race` and then checks nothing else in its body was reported; a
//! no-race case calls `assert_silent` over its whole body.

use racedet::cell::RaceCell;
use racedet::reports::ReportKind;
use racedet::sync::atomic::{AtomicUsize, Ordering};
use racedet::sync::{Arc, Condvar, Mutex, RwLock, TryLockError};
use racedet::thread;
use racedet_tests::{
    assert_silent, assert_threads, cell, expect_race, expect_race_by, site, spawn_named, Signal,
};
use std::hint::black_box;
use std::time::Duration;

/// Go's `sync.WaitGroup` as the race detector sees it.
#[derive(Default)]
struct WaitGroup(AtomicUsize);

impl WaitGroup {
    fn add(&self, n: usize) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    fn done(&self) {
        self.0.fetch_sub(1, Ordering::Release);
    }

    fn wait(&self) {
        while self.0.load(Ordering::Acquire) != 0 {
            thread::yield_now();
        }
    }
}

// ------------------------------------------------------------------ Mutex

#[test]
fn writes_under_one_mutex_are_not_a_race() {
    // Go: TestNoRaceMutex (mutex_test.go)
    let first = line!();
    let x = cell(0);
    let mu = Arc::new(Mutex::new(()));
    let (x1, mu1, x2, mu2) = (x.clone(), mu.clone(), x.clone(), mu.clone());
    let a = thread::spawn(move || {
        let _g = mu1.lock().unwrap();
        x1.set(1);
    });
    let b = thread::spawn(move || {
        let g = mu2.lock().unwrap();
        x2.set(2);
        drop(g);
    });
    a.join().unwrap();
    b.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn writes_before_taking_the_mutex_race() {
    // Go: TestRaceMutex (mutex_test.go)
    let first = line!();
    let x = cell(0);
    let mu = Arc::new(Mutex::new(()));
    let (x1, mu1, x2, mu2) = (x.clone(), mu.clone(), x.clone(), mu.clone());
    let a = spawn_named("mutex-race-a", move || {
        let l = site!(x1.set(1));
        let _g = mu1.lock().unwrap();
        l
    });
    let b = spawn_named("mutex-race-b", move || {
        let l = site!(x2.set(2));
        drop(mu2.lock().unwrap());
        l
    });
    let (la, lb) = (a.join().unwrap(), b.join().unwrap());
    let sides = [(la, Some("mutex-race-a")), (lb, Some("mutex-race-b"))];
    assert_eq!(expect_race_by(file!(), sides).kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
}

#[test]
fn writes_under_different_mutexes_race() {
    // Go: TestRaceMutex2 (mutex_test.go); TSan: mutexset1.cpp
    let first = line!();
    let x = cell(0);
    let (mu1, mu2) = (Arc::new(Mutex::new(())), Arc::new(Mutex::new(())));
    let (xa, xb) = (x.clone(), x.clone());
    let a = spawn_named("two-mutexes-a", move || {
        let _g = mu1.lock().unwrap();
        site!(xa.set(1))
    });
    let b = spawn_named("two-mutexes-b", move || {
        let _g = mu2.lock().unwrap();
        site!(xb.set(2))
    });
    let (la, lb) = (a.join().unwrap(), b.join().unwrap());
    let sides = [(la, Some("two-mutexes-a")), (lb, Some("two-mutexes-b"))];
    assert_eq!(expect_race_by(file!(), sides).kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
}

#[test]
fn empty_critical_sections_order_by_lock_order() {
    // Go: TestNoRaceMutexPureHappensBefore (mutex_test.go): the second
    // thread locks after the first unlocked (Go waits with a timer; here a
    // std signal that racedet does not see).
    let first = line!();
    let x = cell(0);
    let mu = Arc::new(Mutex::new(()));
    let unlocked = Arc::new(Signal::default());
    let (x1, mu1, s1) = (x.clone(), mu.clone(), unlocked.clone());
    let a = thread::spawn(move || {
        x1.set(1);
        drop(mu1.lock().unwrap());
        s1.raise();
    });
    let (x2, mu2) = (x.clone(), mu.clone());
    let b = thread::spawn(move || {
        unlocked.wait();
        drop(mu2.lock().unwrap());
        x2.set(1);
    });
    a.join().unwrap();
    b.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn failed_try_lock_does_not_synchronize() {
    let first = line!();
    let x = cell(0);
    let mu = Arc::new(Mutex::new(()));
    let (locked, tried) = (Arc::new(Signal::default()), Arc::new(Signal::default()));
    let (x1, mu1, l1, t1) = (x.clone(), mu.clone(), locked.clone(), tried.clone());
    let holder = spawn_named("failed-try-lock", move || {
        let g = mu1.lock().unwrap();
        let l = site!(x1.set(1));
        l1.raise();
        t1.wait();
        drop(g);
        l
    });
    locked.wait();
    assert!(matches!(mu.try_lock(), Err(TryLockError::WouldBlock)));
    let lr = site!(black_box(x.get()));
    tried.raise();
    let lw = holder.join().unwrap();
    let r = expect_race(file!(), lr, lw);
    assert_eq!(r.kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
    assert_threads(&r, [(lr, None), (lw, Some("failed-try-lock"))]);
}

#[test]
fn lock_hand_offs_are_transitive_across_mutexes() {
    let first = line!();
    let x = cell(0);
    let (m1, m2) = (Arc::new(Mutex::new(0)), Arc::new(Mutex::new(0)));
    let (s1, s2) = (Arc::new(Signal::default()), Arc::new(Signal::default()));
    let (xa, m1a, s1a) = (x.clone(), m1.clone(), s1.clone());
    let a = thread::spawn(move || {
        xa.set(1);
        *m1a.lock().unwrap() += 1;
        s1a.raise();
    });
    let (m1b, m2b, s2b) = (m1.clone(), m2.clone(), s2.clone());
    let b = thread::spawn(move || {
        s1.wait();
        *m1b.lock().unwrap() += 1;
        *m2b.lock().unwrap() += 1;
        s2b.raise();
    });
    let (xc, m2c) = (x.clone(), m2.clone());
    let c = thread::spawn(move || {
        s2.wait();
        *m2c.lock().unwrap() += 1;
        xc.set(2);
    });
    a.join().unwrap();
    b.join().unwrap();
    c.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn write_after_releasing_the_shared_lock_races_under_other_locks() {
    // TSan: mutexset6.cpp: the second writer took and released the shared
    // mutex, then wrote under a mutex and a read lock of its own.
    let first = line!();
    let x = cell(0);
    let mtx1 = Arc::new(Mutex::new(()));
    let (mtx2, mtx3) = (Arc::new(Mutex::new(())), Arc::new(RwLock::new(())));
    let done = Arc::new(Signal::default());
    let (x2, m1b, d2) = (x.clone(), mtx1.clone(), done.clone());
    let b = spawn_named("mutexset6-b", move || {
        drop(m1b.lock().unwrap());
        let g2 = mtx2.lock().unwrap();
        let g3 = mtx3.read().unwrap();
        let l = site!(x2.update(|v| v - 1));
        drop(g2);
        drop(g3);
        d2.raise();
        l
    });
    let (x1, m1a) = (x.clone(), mtx1.clone());
    let a = spawn_named("mutexset6-a", move || {
        done.wait();
        let _g = m1a.lock().unwrap();
        site!(x1.update(|v| v + 1))
    });
    let (la, lb) = (a.join().unwrap(), b.join().unwrap());
    let r = expect_race_by(
        file!(),
        [(la, Some("mutexset6-a")), (lb, Some("mutexset6-b"))],
    );
    assert_eq!(r.kind, ReportKind::DataRace);
    assert!(r.current.write && r.previous.write);
    assert_silent(file!(), first, line!());
}

// ----------------------------------------------------------------- RwLock

#[test]
fn writes_under_a_mutex_and_an_rwlock_race() {
    // Go: TestRaceMutexRWMutex (rwmutex_test.go)
    let first = line!();
    let x = cell(0);
    let (mu1, mu2) = (Arc::new(Mutex::new(())), Arc::new(RwLock::new(())));
    let (xa, xb) = (x.clone(), x.clone());
    let a = spawn_named("mutex-rwmutex-a", move || {
        let _g = mu1.lock().unwrap();
        site!(xa.set(1))
    });
    let b = spawn_named("mutex-rwmutex-b", move || {
        let _g = mu2.write().unwrap();
        site!(xb.set(2))
    });
    let (la, lb) = (a.join().unwrap(), b.join().unwrap());
    let sides = [(la, Some("mutex-rwmutex-a")), (lb, Some("mutex-rwmutex-b"))];
    assert_eq!(expect_race_by(file!(), sides).kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
}

#[test]
fn write_locked_writer_and_read_locked_reader_are_not_a_race() {
    // Go: TestNoRaceRWMutex (rwmutex_test.go)
    let first = line!();
    let (x, y) = (cell(0), cell(1));
    let mu = Arc::new(RwLock::new(()));
    let (xa, mua) = (x.clone(), mu.clone());
    let a = thread::spawn(move || {
        let _g = mua.write().unwrap();
        xa.set(2);
    });
    let (xb, yb, mub) = (x.clone(), y.clone(), mu.clone());
    let b = thread::spawn(move || {
        let g = mub.read().unwrap();
        yb.set(xb.get());
        drop(g);
    });
    a.join().unwrap();
    b.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn two_readers_writing_under_read_locks_race() {
    // Go: TestRaceRWMutexMultipleReaders (rwmutex_test.go), with the two
    // readers on the same side of the writer.
    let first = line!();
    let (x, y) = (cell(0), cell(1));
    let mu = Arc::new(RwLock::new(()));
    let (xa, ya, mua) = (x.clone(), y.clone(), mu.clone());
    let a = spawn_named("rw-readers-a", move || {
        let _g = mua.read().unwrap();
        site!(ya.set(xa.get() + 1))
    });
    let (xb, yb, mub) = (x.clone(), y.clone(), mu.clone());
    let b = spawn_named("rw-readers-b", move || {
        let _g = mub.read().unwrap();
        site!(yb.set(xb.get() + 2))
    });
    let (la, lb) = (a.join().unwrap(), b.join().unwrap());
    let sides = [(la, Some("rw-readers-a")), (lb, Some("rw-readers-b"))];
    assert_eq!(expect_race_by(file!(), sides).kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
}

#[test]
fn readers_and_a_writer_of_one_rwlock_are_not_a_race() {
    // Go: TestNoRaceRWMutexMultipleReaders (rwmutex_test.go)
    let first = line!();
    let x = cell(0);
    let mu = Arc::new(RwLock::new(()));
    let (xw, muw) = (x.clone(), mu.clone());
    let mut ts = vec![thread::spawn(move || {
        let _g = muw.write().unwrap();
        xw.set(2);
    })];
    for k in 1..=3 {
        let (xr, mur) = (x.clone(), mu.clone());
        ts.push(thread::spawn(move || {
            let _g = mur.read().unwrap();
            black_box(xr.get() + k);
        }));
    }
    for t in ts {
        t.join().unwrap();
    }
    assert_silent(file!(), first, line!());
}

#[test]
fn read_unlocks_of_every_reader_happen_before_the_writer() {
    // Go: TestNoRaceRWMutexTransitive (rwmutex_test.go): whichever order
    // the lock is taken in, the accesses are ordered.
    let first = line!();
    let x = cell(0);
    let mu = Arc::new(RwLock::new(()));
    let mut ts = Vec::new();
    for _ in 0..2 {
        let (xr, mur) = (x.clone(), mu.clone());
        ts.push(thread::spawn(move || {
            let _g = mur.read().unwrap();
            black_box(xr.get());
        }));
    }
    {
        let _g = mu.write().unwrap();
        x.set(42);
    }
    for t in ts {
        t.join().unwrap();
    }
    assert_silent(file!(), first, line!());
}

#[test]
fn readers_separated_by_a_writer_are_ordered() {
    // Go: TestRaceRWMutexMultipleReaders's remark: readers on two sides of
    // the write lock are ordered through it (read unlock -> write lock ->
    // write unlock -> read lock).
    let first = line!();
    let y = cell(0);
    let mu = Arc::new(RwLock::new(()));
    let (s1, s2) = (Arc::new(Signal::default()), Arc::new(Signal::default()));
    let (ya, mua, s1a) = (y.clone(), mu.clone(), s1.clone());
    let a = thread::spawn(move || {
        drop({
            let g = mua.read().unwrap();
            ya.set(1);
            g
        });
        s1a.raise();
    });
    let (muw, s2w) = (mu.clone(), s2.clone());
    let w = thread::spawn(move || {
        s1.wait();
        drop(muw.write().unwrap());
        s2w.raise();
    });
    let (yb, mub) = (y.clone(), mu.clone());
    let b = thread::spawn(move || {
        s2.wait();
        let _g = mub.read().unwrap();
        yb.set(2);
    });
    a.join().unwrap();
    w.join().unwrap();
    b.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn write_under_a_read_lock_is_still_released_to_the_next_writer() {
    let first = line!();
    let x = cell(0);
    let mu = Arc::new(RwLock::new(()));
    let released = Arc::new(Signal::default());
    let (xa, mua, ra) = (x.clone(), mu.clone(), released.clone());
    let a = thread::spawn(move || {
        {
            let _g = mua.read().unwrap();
            xa.set(1);
        }
        ra.raise();
    });
    released.wait();
    {
        let _g = mu.write().unwrap();
        x.set(2);
    }
    a.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn successful_try_write_sees_the_earlier_readers() {
    let first = line!();
    let x = cell(0);
    let mu = Arc::new(RwLock::new(()));
    let (xa, mua) = (x.clone(), mu.clone());
    let a = thread::spawn(move || {
        let _g = mua.read().unwrap();
        black_box(xa.get());
    });
    let g = loop {
        match mu.try_write() {
            Ok(g) if a.is_finished() => break g,
            Ok(g) => drop(g),
            Err(TryLockError::WouldBlock) => {}
            Err(e) => panic!("{e:?}"),
        }
        thread::yield_now();
    };
    x.set(1);
    drop(g);
    a.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn successful_try_read_sees_the_earlier_writer() {
    let first = line!();
    let x = cell(0);
    let mu = Arc::new(RwLock::new(false));
    let (xa, mua) = (x.clone(), mu.clone());
    let a = thread::spawn(move || {
        let mut g = mua.write().unwrap();
        xa.set(1);
        *g = true;
    });
    loop {
        match mu.try_read() {
            Ok(g) if *g => break,
            Ok(_) | Err(TryLockError::WouldBlock) => thread::yield_now(),
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(x.get(), 1);
    a.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn failed_try_read_does_not_synchronize() {
    let first = line!();
    let x = cell(0);
    let mu = Arc::new(RwLock::new(()));
    let (locked, tried) = (Arc::new(Signal::default()), Arc::new(Signal::default()));
    let (xa, mua, la, ta) = (x.clone(), mu.clone(), locked.clone(), tried.clone());
    let writer = spawn_named("failed-try-read", move || {
        let g = mua.write().unwrap();
        let l = site!(xa.set(1));
        la.raise();
        ta.wait();
        drop(g);
        l
    });
    locked.wait();
    assert!(matches!(mu.try_read(), Err(TryLockError::WouldBlock)));
    let lr = site!(black_box(x.get()));
    tried.raise();
    let lw = writer.join().unwrap();
    let r = expect_race(file!(), lr, lw);
    assert_eq!(r.kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
    assert_threads(&r, [(lr, None), (lw, Some("failed-try-read"))]);
}

#[test]
fn write_under_the_write_lock_races_with_an_unlocked_read() {
    let first = line!();
    let x = cell(0);
    let mu = Arc::new(RwLock::new(()));
    let (xa, mua) = (x.clone(), mu.clone());
    let a = spawn_named("write-under-the", move || {
        let _g = mua.write().unwrap();
        site!(xa.set(1))
    });
    let lr = site!(black_box(x.get()));
    let lw = a.join().unwrap();
    let r = expect_race(file!(), lr, lw);
    assert_eq!(r.kind, ReportKind::DataRace);
    drop(mu);
    assert_silent(file!(), first, line!());
    assert_threads(&r, [(lr, None), (lw, Some("write-under-the"))]);
}

#[test]
fn writers_under_one_write_lock_are_not_a_race() {
    let first = line!();
    let x = cell(0);
    let mu = Arc::new(RwLock::new(()));
    let ts: Vec<_> = (0..3)
        .map(|_| {
            let (x, mu) = (x.clone(), mu.clone());
            thread::spawn(move || {
                for _ in 0..100 {
                    let _g = mu.write().unwrap();
                    x.set(x.get() + 1);
                }
            })
        })
        .collect();
    for t in ts {
        t.join().unwrap();
    }
    assert_eq!(x.get(), 300);
    assert_silent(file!(), first, line!());
}

// ---------------------------------------------------------------- Condvar

#[test]
fn signal_after_unlock_still_hands_over_through_the_mutex() {
    // Go: TestNoRaceCond (sync_test.go); TSan: cond_race.cpp's hand-over
    // (the signal comes after the unlock).
    let first = line!();
    let x = cell(0);
    let pair = Arc::new((Mutex::new(0), Condvar::new()));
    let (x1, p1) = (x.clone(), pair.clone());
    let t = thread::spawn(move || {
        x1.set(1);
        let (mu, cond) = &*p1;
        *mu.lock().unwrap() = 1;
        cond.notify_one();
    });
    let (mu, cond) = &*pair;
    let mut g = mu.lock().unwrap();
    while *g != 1 {
        g = cond.wait(g).unwrap();
    }
    drop(g);
    x.set(2);
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn write_after_the_wait_loop_races_with_the_signallers_later_locked_write() {
    // Go: TestRaceCond (sync_test.go): the waiter writes after unlocking;
    // the signaller's second locked write is not ordered with it.
    let first = line!();
    let x = cell(0);
    let pair = Arc::new((Mutex::new(0), Condvar::new()));
    let written = Arc::new(Signal::default());
    let (x1, p1, w1) = (x.clone(), pair.clone(), written.clone());
    let t = spawn_named("write-after-the", move || {
        let (mu, cond) = &*p1;
        x1.set(1);
        *mu.lock().unwrap() = 1;
        cond.notify_one();
        w1.wait();
        let _g = mu.lock().unwrap();
        site!(x1.set(3))
    });
    let (mu, cond) = &*pair;
    let g = cond.wait_while(mu.lock().unwrap(), |c| *c != 1).unwrap();
    drop(g);
    let lm = site!(x.set(2));
    written.raise();
    let lt = t.join().unwrap();
    let r = expect_race(file!(), lm, lt);
    assert_eq!(r.kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
    assert_threads(&r, [(lm, None), (lt, Some("write-after-the"))]);
}

#[test]
fn notify_all_hands_the_data_to_every_waiter() {
    let first = line!();
    let data = cell(0);
    let pair = Arc::new((Mutex::new(false), Condvar::new()));
    let waiters: Vec<_> = (0..3)
        .map(|_| {
            let (data, pair) = (data.clone(), pair.clone());
            thread::spawn(move || {
                let (mu, cond) = &*pair;
                let g = cond
                    .wait_while(mu.lock().unwrap(), |ready| !*ready)
                    .unwrap();
                drop(g);
                assert_eq!(data.get(), 7);
            })
        })
        .collect();
    data.set(7);
    {
        let (mu, cond) = &*pair;
        *mu.lock().unwrap() = true;
        cond.notify_all();
    }
    for w in waiters {
        w.join().unwrap();
    }
    assert_silent(file!(), first, line!());
}

#[test]
fn timed_out_wait_reacquires_the_mutex_and_sees_its_last_holder() {
    let first = line!();
    let x = cell(0);
    let pair = Arc::new((Mutex::new(false), Condvar::new()));
    let (x1, p1) = (x.clone(), pair.clone());
    // Never notifies: the waiter only ever wakes by timing out.
    let t = thread::spawn(move || {
        x1.set(1);
        *p1.0.lock().unwrap() = true;
    });
    let (mu, cond) = &*pair;
    let mut g = mu.lock().unwrap();
    while !*g {
        g = cond.wait_timeout(g, Duration::from_millis(1)).unwrap().0;
    }
    drop(g);
    x.set(2);
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

// -------------------------------------------------------------- WaitGroup

#[test]
fn write_before_done_is_ordered_before_wait() {
    // Go: TestNoRaceWaitGroup / TestNoRaceWaitGroup2 (waitgroup_test.go)
    let first = line!();
    let x = cell(0);
    let wg = Arc::new(WaitGroup::default());
    wg.add(1);
    let (x1, wg1) = (x.clone(), wg.clone());
    let t = thread::spawn(move || {
        x1.set(1);
        wg1.done();
    });
    wg.wait();
    x.set(2);
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn two_workers_writing_one_variable_race_despite_the_wait() {
    // Go: TestRaceWaitGroup / TestRaceWaitGroup2 (waitgroup_test.go)
    let first = line!();
    let x = cell(0);
    let wg = Arc::new(WaitGroup::default());
    wg.add(2);
    let (x1, wg1, x2, wg2) = (x.clone(), wg.clone(), x.clone(), wg.clone());
    let a = spawn_named("wg-worker-a", move || {
        let l = site!(x1.set(1));
        wg1.done();
        l
    });
    let b = spawn_named("wg-worker-b", move || {
        let l = site!(x2.set(2));
        wg2.done();
        l
    });
    wg.wait();
    let (la, lb) = (a.join().unwrap(), b.join().unwrap());
    let sides = [(la, Some("wg-worker-a")), (lb, Some("wg-worker-b"))];
    assert_eq!(expect_race_by(file!(), sides).kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
}

#[test]
fn every_waiter_sees_every_worker() {
    // Go: TestNoRaceWaitGroupMultipleWait3 (waitgroup_test.go)
    const P: usize = 3;
    let first = line!();
    let data: Arc<Vec<RaceCell<i64>>> = Arc::new((0..P).map(|_| RaceCell::new(0)).collect());
    let wg = Arc::new(WaitGroup::default());
    wg.add(P);
    let mut ts = Vec::new();
    for p in 0..P {
        let (data, wg) = (data.clone(), wg.clone());
        ts.push(thread::spawn(move || {
            data[p].set(42);
            wg.done();
        }));
    }
    for _ in 0..P {
        let (data, wg) = (data.clone(), wg.clone());
        ts.push(thread::spawn(move || {
            wg.wait();
            for d in data.iter() {
                assert_eq!(d.get(), 42);
            }
        }));
    }
    for t in ts {
        t.join().unwrap();
    }
    assert_silent(file!(), first, line!());
}

#[test]
fn wait_is_ordered_after_every_done_whatever_their_order() {
    // Go: TestNoRaceWaitGroupTransitive (waitgroup_test.go)
    let first = line!();
    let (x, y) = (cell(0), cell(0));
    let wg = Arc::new(WaitGroup::default());
    wg.add(2);
    let (x1, wg1) = (x.clone(), wg.clone());
    let first_done = Arc::new(Signal::default());
    let f1 = first_done.clone();
    let a = thread::spawn(move || {
        x1.set(42);
        wg1.done();
        f1.raise();
    });
    let (y2, wg2) = (y.clone(), wg.clone());
    let b = thread::spawn(move || {
        first_done.wait();
        y2.set(42);
        wg2.done();
    });
    wg.wait();
    assert_eq!((x.get(), y.get()), (42, 42));
    a.join().unwrap();
    b.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn reused_wait_group_orders_each_round() {
    // Go: TestNoRaceWaitGroupReuse (waitgroup_test.go)
    const P: usize = 3;
    let first = line!();
    let data: Arc<Vec<RaceCell<i64>>> = Arc::new((0..P).map(|_| RaceCell::new(0)).collect());
    let wg = Arc::new(WaitGroup::default());
    for _ in 0..3 {
        wg.add(P);
        let ts: Vec<_> = (0..P)
            .map(|p| {
                let (data, wg) = (data.clone(), wg.clone());
                thread::spawn(move || {
                    data[p].update(|v| v + 1);
                    wg.done();
                })
            })
            .collect();
        wg.wait();
        for d in data.iter() {
            d.update(|v| v + 1);
        }
        for t in ts {
            t.join().unwrap();
        }
    }
    assert!(data.iter().all(|d| d.get() == 6));
    assert_silent(file!(), first, line!());
}

#[test]
fn reused_wait_group_with_a_second_waiter_orders_each_round() {
    // Go: TestNoRaceWaitGroupReuse2 (waitgroup_test.go)
    const P: usize = 3;
    let first = line!();
    let data: Arc<Vec<RaceCell<i64>>> = Arc::new((0..P).map(|_| RaceCell::new(0)).collect());
    let wg = Arc::new(WaitGroup::default());
    for _ in 0..3 {
        wg.add(P);
        let mut ts: Vec<_> = (0..P)
            .map(|p| {
                let (data, wg) = (data.clone(), wg.clone());
                thread::spawn(move || {
                    data[p].update(|v| v + 1);
                    wg.done();
                })
            })
            .collect();
        let (done_tx, done_rx) = racedet::sync::mpsc::sync_channel(0);
        let (d2, wg2) = (data.clone(), wg.clone());
        ts.push(thread::spawn(move || {
            wg2.wait();
            for d in d2.iter() {
                d.update(|v| v + 1);
            }
            done_tx.send(true).unwrap();
        }));
        wg.wait();
        done_rx.recv().unwrap();
        for d in data.iter() {
            d.update(|v| v + 1);
        }
        for t in ts {
            t.join().unwrap();
        }
    }
    assert!(data.iter().all(|d| d.get() == 9));
    assert_silent(file!(), first, line!());
}

#[test]
fn adding_to_a_wait_group_does_not_order_the_adders() {
    // Go: TestRaceWaitGroupAsMutex (waitgroup_test.go): both pass Wait,
    // then Add(+1) / write / Add(-1); Add orders nothing.
    let first = line!();
    let x = cell(0);
    let wg = Arc::new(WaitGroup::default());
    let both_waited = Arc::new(std::sync::Barrier::new(2));
    let (xa, wga, ba) = (x.clone(), wg.clone(), both_waited.clone());
    let a = spawn_named("wg-adder-a", move || {
        wga.wait();
        ba.wait();
        wga.add(1);
        let l = site!(xa.set(1));
        wga.done();
        l
    });
    let (xb, wgb, bb) = (x.clone(), wg.clone(), both_waited.clone());
    let b = spawn_named("wg-adder-b", move || {
        wgb.wait();
        bb.wait();
        wgb.add(1);
        let l = site!(xb.set(2));
        wgb.done();
        l
    });
    let (la, lb) = (a.join().unwrap(), b.join().unwrap());
    let sides = [(la, Some("wg-adder-a")), (lb, Some("wg-adder-b"))];
    assert_eq!(expect_race_by(file!(), sides).kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
}

#[test]
fn wait_that_returns_before_the_add_does_not_order_the_worker() {
    // Go: TestRaceWaitGroupWrongWait (waitgroup_test.go): Add is too late.
    let first = line!();
    let x = cell(0);
    let wg = Arc::new(WaitGroup::default());
    let waited = Arc::new(Signal::default());
    let (x1, wg1, w1) = (x.clone(), wg.clone(), waited.clone());
    let t = spawn_named("wait-that-returns", move || {
        w1.wait();
        wg1.add(1);
        let l = site!(x1.set(1));
        wg1.done();
        l
    });
    wg.wait();
    waited.raise();
    let lr = site!(black_box(x.get()));
    let lw = t.join().unwrap();
    let r = expect_race(file!(), lr, lw);
    assert_eq!(r.kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
    assert_threads(&r, [(lr, None), (lw, Some("wait-that-returns"))]);
}
