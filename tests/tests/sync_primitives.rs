//! Condvar, Barrier, Once/OnceLock/LazyLock, channels, atomics, park/unpark,
//! annotations and UnsafeCell: race and no-race pairs.
//!
//! Where a test needs one thread to run after another *without* a
//! happens-before edge (so a race is still a race), it uses a [`Signal`]:
//! a std atomic, which racedet does not see.

use racedet::annotate::{happens_after, happens_before};
use racedet::cell::{RaceCell, UnsafeCell};
use racedet::collections::RaceMap;
use racedet::reports::{Report, ReportKind};
use racedet::sync::atomic::{
    fence, AtomicBool, AtomicI32, AtomicPtr, AtomicU8, AtomicUsize, Ordering::*,
};
use racedet::sync::mpsc::{
    channel, sync_channel, RecvTimeoutError, SendError, TryRecvError, TrySendError,
};
use racedet::sync::{Arc, Barrier, Condvar, LazyLock, Mutex, Once, OnceLock};
use racedet::thread;
use racedet_tests::{
    assert_ops, assert_silent, assert_threads, expect_race, panic_of, site, spawn_named, wait_set,
    BumpOnDrop, Signal,
};
use std::time::Duration;

/// Asserts a plain data race on an object of kind `object`, each side
/// (`(line, thread name)`) made by the named thread.
#[track_caller]
fn assert_data_race(r: &Report, object: &str, sides: [(u32, &str); 2]) {
    assert_eq!(r.kind, ReportKind::DataRace, "{}", r.to_text());
    assert_eq!(r.object.kind, object, "{}", r.to_text());
    assert_threads(r, sides.map(|(line, name)| (line, Some(name))));
}

// ---------------------------------------------------------------- Condvar

#[test]
fn condvar_handoff_through_the_mutex_is_silent() {
    let first = line!();
    let x = Arc::new(RaceCell::new(0u32));
    let pair = Arc::new((Mutex::new(false), Condvar::new()));
    let (x2, pair2) = (x.clone(), pair.clone());
    let t = thread::spawn(move || {
        x2.set(1);
        let (lock, cv) = &*pair2;
        *lock.lock().unwrap() = true;
        cv.notify_one();
    });
    let (lock, cv) = &*pair;
    let ready = cv
        .wait_while(lock.lock().unwrap(), |ready| !*ready)
        .unwrap();
    drop(ready);
    assert_eq!(x.get(), 1);
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn condvar_write_after_the_notifier_unlocks_races_with_the_woken_waiter() {
    let first = line!();
    let x = Arc::new(RaceCell::new(0u32));
    let pair = Arc::new((Mutex::new(false), Condvar::new()));
    let (x2, pair2) = (x.clone(), pair.clone());
    let notifier = spawn_named("cv-notifier", move || {
        let (lock, cv) = &*pair2;
        *lock.lock().unwrap() = true;
        cv.notify_all();
        site!(x2.set(1))
    });
    let waiter = spawn_named("cv-waiter", move || {
        let (lock, cv) = &*pair;
        let mut ready = lock.lock().unwrap();
        while !*ready {
            ready = cv.wait(ready).unwrap();
        }
        drop(ready);
        site!(x.get())
    });
    let (lw, lr) = (notifier.join().unwrap(), waiter.join().unwrap());
    let r = expect_race(file!(), lw, lr);
    assert_data_race(&r, "cell", [(lw, "cv-notifier"), (lr, "cv-waiter")]);
    assert_silent(file!(), first, line!());
}

#[test]
fn condvar_wait_releases_the_mutex_to_the_next_locker_is_silent() {
    let first = line!();
    let x = Arc::new(RaceCell::new(0u32));
    let pair = Arc::new((Mutex::new(false), Condvar::new()));
    let waiting = Arc::new(Signal::default());
    let (x2, pair2, waiting2) = (x.clone(), pair.clone(), waiting.clone());
    let waiter = thread::spawn(move || {
        let (lock, cv) = &*pair2;
        let g = lock.lock().unwrap();
        x2.set(1);
        waiting2.raise();
        // The wait unlocks: the other thread's lock must see `x2.set(1)`.
        let g = cv.wait_while(g, |done| !*done).unwrap();
        // The re-lock must see what it did before notifying.
        assert_eq!(x2.get(), 2);
        drop(g);
    });
    waiting.wait();
    let (lock, cv) = &*pair;
    let mut g = lock.lock().unwrap();
    assert_eq!(x.get(), 1);
    x.set(2);
    *g = true;
    cv.notify_one();
    drop(g);
    waiter.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn condvar_timed_wait_reacquires_the_mutex_is_silent() {
    let first = line!();
    let x = Arc::new(RaceCell::new(0u32));
    let pair = Arc::new((Mutex::new(0u32), Condvar::new()));
    let waiting = Arc::new(Signal::default());
    let (x2, pair2, waiting2) = (x.clone(), pair.clone(), waiting.clone());
    let t = thread::spawn(move || {
        waiting2.wait();
        // Gets the lock only once the timed wait has released it.
        let mut g = pair2.0.lock().unwrap();
        x2.set(7);
        *g += 1;
        pair2.1.notify_one();
    });
    let (lock, cv) = &*pair;
    let g = lock.lock().unwrap();
    waiting.raise();
    let (g, r) = cv
        .wait_timeout_while(g, Duration::from_secs(60), |n| *n == 0)
        .unwrap();
    assert!(!r.timed_out());
    // Ordered by the re-lock.
    assert_eq!(x.get(), 7);
    drop(g);
    t.join().unwrap();
    let (g, _) = cv
        .wait_timeout(lock.lock().unwrap(), Duration::from_millis(1))
        .unwrap();
    let (g, r) = cv
        .wait_timeout_while(g, Duration::from_millis(5), |_| true)
        .unwrap();
    assert!(r.timed_out());
    assert_eq!(*g, 1);
    drop(g);
    assert_silent(file!(), first, line!());
}

#[test]
fn condvar_wait_keeps_std_poisoning() {
    let pair = Arc::new((Mutex::new(false), Condvar::new()));
    let pair2 = pair.clone();
    let t = thread::spawn(move || {
        let (lock, cv) = &*pair2;
        let _g = lock.lock().unwrap();
        cv.notify_all();
        panic!("poison the mutex while holding it");
    });
    let (lock, cv) = &*pair;
    let g = lock.lock().unwrap_or_else(|p| p.into_inner());
    // Either the panic already happened (the lock is poisoned) or the wait
    // returns poisoned after it: std's behaviour either way.
    let _ = cv.wait_timeout(g, Duration::from_millis(50));
    assert!(t.join().is_err());
    assert!(lock.is_poisoned());
    assert!(cv
        .wait_timeout(lock.lock().unwrap_err().into_inner(), Duration::ZERO)
        .is_err());
}

// ---------------------------------------------------------------- Barrier

#[test]
fn barrier_orders_all_arrivals_before_all_departures_over_rounds_is_silent() {
    let first = line!();
    const N: usize = 3;
    const ROUNDS: u32 = 4;
    let cells: Arc<Vec<RaceCell<u32>>> = Arc::new((0..N).map(|_| RaceCell::new(0)).collect());
    let barrier = Arc::new(Barrier::new(N));
    let ts: Vec<_> = (0..N)
        .map(|i| {
            let (cells, barrier) = (cells.clone(), barrier.clone());
            thread::spawn(move || {
                let mut leaders = 0;
                for round in 1..=ROUNDS {
                    cells[i].set(round);
                    leaders += barrier.wait().is_leader() as u32;
                    for c in cells.iter() {
                        assert_eq!(c.get(), round);
                    }
                    leaders += barrier.wait().is_leader() as u32;
                }
                leaders
            })
        })
        .collect();
    let leaders: u32 = ts.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(leaders, 2 * ROUNDS, "one leader per generation");
    assert_silent(file!(), first, line!());
}

#[test]
fn barrier_does_not_order_a_read_after_one_round_with_the_next_rounds_write() {
    let first = line!();
    let x = Arc::new(RaceCell::new(0u32));
    let barrier = Arc::new(Barrier::new(2));
    let (x2, b2) = (x.clone(), barrier.clone());
    let writer = spawn_named("barrier-writer", move || {
        let mut line = 0;
        for round in 1..=3 {
            line = site!(x2.set(round));
            b2.wait();
        }
        line
    });
    let reader = spawn_named("barrier-reader", move || {
        let mut line = 0;
        for _ in 1..=3 {
            barrier.wait();
            // Ordered after this round's write, not with the next one's.
            line = site!(x.get());
        }
        line
    });
    let (lw, lr) = (writer.join().unwrap(), reader.join().unwrap());
    let r = expect_race(file!(), lw, lr);
    assert_data_race(&r, "cell", [(lw, "barrier-writer"), (lr, "barrier-reader")]);
    assert_silent(file!(), first, line!());
}

#[test]
fn barrier_of_one_never_blocks_and_always_leads() {
    let b = Barrier::new(1);
    assert!(b.wait().is_leader());
    assert!(b.wait().is_leader());
    assert!(format!("{:?}", b.wait()).contains("is_leader: true"));
}

// ------------------------------------------------------- Once / OnceLock

#[test]
fn once_initialization_happens_before_every_call_once_return_is_silent() {
    let first = line!();
    let x = Arc::new(RaceCell::new(0u32));
    let once = Arc::new(Once::new());
    let ts: Vec<_> = (0..4)
        .map(|i| {
            let (x, once) = (x.clone(), once.clone());
            thread::spawn(move || {
                once.call_once(|| x.set(i + 1));
                assert_ne!(x.get(), 0);
            })
        })
        .collect();
    for t in ts {
        t.join().unwrap();
    }
    assert!(once.is_completed());
    assert_silent(file!(), first, line!());
}

#[test]
fn once_is_completed_publishes_the_initialization_is_silent() {
    let first = line!();
    static ONCE: Once = Once::new();
    let x = Arc::new(RaceCell::new(0u32));
    let x2 = x.clone();
    let t = thread::spawn(move || ONCE.call_once(|| x2.set(5)));
    while !ONCE.is_completed() {
        thread::yield_now();
    }
    assert_eq!(x.get(), 5);
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn write_after_call_once_races_with_another_observer() {
    let first = line!();
    let x = Arc::new(RaceCell::new(0u32));
    let once = Arc::new(Once::new());
    let (x2, once2) = (x.clone(), once.clone());
    let init = spawn_named("once-init", move || {
        once2.call_once(|| {});
        site!(x2.set(1))
    });
    let observer = spawn_named("once-observer", move || {
        once.wait();
        site!(x.get())
    });
    let (lw, lr) = (init.join().unwrap(), observer.join().unwrap());
    let r = expect_race(file!(), lw, lr);
    assert_data_race(&r, "cell", [(lw, "once-init"), (lr, "once-observer")]);
    assert_silent(file!(), first, line!());
}

#[test]
fn once_call_once_force_runs_again_after_a_panicking_initializer() {
    let first = line!();
    let once = Arc::new(Once::new());
    let x = Arc::new(RaceCell::new(0u32));
    let once2 = once.clone();
    let r = thread::spawn(move || once2.call_once(|| panic!("initializer fails"))).join();
    assert!(r.is_err());
    let x2 = x.clone();
    let once3 = once.clone();
    let t = thread::spawn(move || {
        once3.call_once_force(|state| {
            assert!(state.is_poisoned());
            x2.set(9);
        })
    });
    // Joined only after the read: the forced initialization and
    // `wait_force` alone order the write before it.
    once.wait_force();
    assert_eq!(x.get(), 9);
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn a_panicking_initializer_s_writes_are_seen_by_the_next_forced_attempt() {
    let first = line!();
    let once = Arc::new(Once::new());
    let x = Arc::new(RaceCell::new(0u32));
    // A std signal: real-time order only, so std's once (poisoned by the
    // failed attempt, then run again by the forced one) is all that
    // orders the two writes.
    let failed = Arc::new(Signal::default());
    let (once2, x2, failed2) = (once.clone(), x.clone(), failed.clone());
    let t = thread::spawn(move || {
        let message = panic_of(|| {
            once2.call_once(|| {
                x2.set(1);
                panic!("expected panic in test");
            })
        });
        assert_eq!(message, "expected panic in test");
        failed2.raise();
    });
    failed.wait();
    once.call_once_force(|state| {
        assert!(state.is_poisoned());
        x.set(x.get() + 1);
    });
    assert_eq!(x.get(), 2);
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn a_retried_oncelock_initializer_sees_the_failed_attempt_s_writes() {
    let first = line!();
    let cell: Arc<OnceLock<u32>> = Arc::new(OnceLock::new());
    let x = Arc::new(RaceCell::new(0u32));
    let failed = Arc::new(Signal::default());
    let (cell2, x2, failed2) = (cell.clone(), x.clone(), failed.clone());
    let t = thread::spawn(move || {
        let message = panic_of(|| {
            cell2.get_or_init(|| {
                x2.set(1);
                panic!("expected panic in test");
            });
        });
        assert_eq!(message, "expected panic in test");
        failed2.raise();
    });
    failed.wait();
    let v = *cell.get_or_init(|| {
        x.set(x.get() + 1);
        7
    });
    assert_eq!((v, x.get()), (7, 2));
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
#[allow(deprecated)]
fn std_s_deprecated_spellings_and_join_handle_ext_work_as_in_std() {
    // Code written against std's older API compiles against racedet's.
    let first = line!();
    thread::sleep_ms(1);
    thread::current().unpark();
    // The token is there: returns at once.
    thread::park_timeout_ms(60_000);
    let pair = (Mutex::new(()), Condvar::new());
    let (guard, notified) = pair.1.wait_timeout_ms(pair.0.lock().unwrap(), 1).unwrap();
    assert!(!notified, "nobody notifies: the timeout elapses");
    drop(guard);
    use std::os::unix::thread::JoinHandleExt;
    let h = thread::spawn(|| 7);
    assert_ne!(h.as_pthread_t(), 0);
    assert_eq!(h.join().unwrap(), 7);
    static ONCE: Once = racedet::sync::ONCE_INIT;
    let mut ran = 0;
    ONCE.call_once(|| ran += 1);
    ONCE.call_once(|| ran += 1);
    assert_eq!(ran, 1);
    use racedet::sync::atomic::{ATOMIC_BOOL_INIT, ATOMIC_ISIZE_INIT, ATOMIC_USIZE_INIT};
    let (b, i, u) = (ATOMIC_BOOL_INIT, ATOMIC_ISIZE_INIT, ATOMIC_USIZE_INIT);
    assert!(!b.load(SeqCst) && i.load(SeqCst) == 0 && u.load(SeqCst) == 0);
    racedet::sync::atomic::spin_loop_hint();
    // compare_and_swap: the previous value, exchanged only on a match.
    assert_eq!(u.compare_and_swap(0, 5, SeqCst), 0);
    assert_eq!(u.compare_and_swap(0, 6, Relaxed), 5);
    assert_eq!(u.load(SeqCst), 5);
    assert!(!b.compare_and_swap(false, true, AcqRel));
    let mut x = 1u8;
    let p = AtomicPtr::new(std::ptr::null_mut());
    assert!(p
        .compare_and_swap(std::ptr::null_mut(), &mut x, Release)
        .is_null());
    assert_silent(file!(), first, line!());
}

#[test]
#[allow(deprecated)]
fn compare_and_swap_with_release_orders_like_compare_exchange() {
    let first = line!();
    let x = Arc::new(RaceCell::new(0u32));
    let flag = Arc::new(AtomicUsize::new(0));
    let (y, f2) = (x.clone(), flag.clone());
    let t = thread::spawn(move || {
        y.set(1);
        f2.compare_and_swap(0, 1, Release);
    });
    while flag.load(Acquire) != 1 {
        thread::yield_now();
    }
    x.set(2);
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn oncelock_get_or_init_publishes_the_value_is_silent() {
    let first = line!();
    let x = Arc::new(RaceCell::new(0u32));
    let cell: Arc<OnceLock<u32>> = Arc::new(OnceLock::new());
    let ts: Vec<_> = (0..4)
        .map(|i| {
            let (x, cell) = (x.clone(), cell.clone());
            thread::spawn(move || {
                let v = *cell.get_or_init(|| {
                    x.set(i + 10);
                    i + 10
                });
                assert_eq!(x.get(), v);
            })
        })
        .collect();
    for t in ts {
        t.join().unwrap();
    }
    assert_silent(file!(), first, line!());
}

#[test]
fn oncelock_get_that_finds_the_value_sees_its_initialization_is_silent() {
    let first = line!();
    let x = Arc::new(RaceCell::new(0u32));
    let cell: Arc<OnceLock<u32>> = Arc::new(OnceLock::new());
    let (x2, cell2) = (x.clone(), cell.clone());
    let t = thread::spawn(move || {
        x2.set(3);
        cell2.set(4).unwrap();
    });
    while cell.get().is_none() {
        thread::yield_now();
    }
    assert_eq!(x.get(), 3);
    assert_eq!(cell.wait(), &4);
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn write_after_oncelock_set_races_with_the_reader_of_the_value() {
    let first = line!();
    let x = Arc::new(RaceCell::new(0u32));
    let cell: Arc<OnceLock<u32>> = Arc::new(OnceLock::new());
    let (x2, cell2) = (x.clone(), cell.clone());
    let setter = spawn_named("oncelock-setter", move || {
        cell2.set(1).unwrap();
        site!(x2.set(1))
    });
    let getter = spawn_named("oncelock-getter", move || {
        while cell.get().is_none() {
            thread::yield_now();
        }
        site!(x.get())
    });
    let (lw, lr) = (setter.join().unwrap(), getter.join().unwrap());
    let r = expect_race(file!(), lw, lr);
    assert_data_race(
        &r,
        "cell",
        [(lw, "oncelock-setter"), (lr, "oncelock-getter")],
    );
    assert_silent(file!(), first, line!());
}

#[test]
fn oncelock_keeps_std_api_and_behaviour() {
    let mut cell: OnceLock<String> = OnceLock::new();
    assert_eq!(format!("{cell:?}"), "OnceLock(<uninit>)");
    assert_eq!(cell.get(), None);
    assert_eq!(cell.set("a".into()), Ok(()));
    assert_eq!(cell.set("b".into()), Err("b".to_string()));
    assert_eq!(cell.get_or_init(|| unreachable!()), "a");
    assert_eq!(format!("{cell:?}"), "OnceLock(\"a\")");
    let copy = cell.clone();
    assert_eq!(copy, cell);
    cell.get_mut().unwrap().push('!');
    assert_eq!(cell.take().as_deref(), Some("a!"));
    assert_eq!(cell.get(), None);
    assert_eq!(cell.get_or_init(|| "c".into()), "c");
    assert_eq!(cell.into_inner().as_deref(), Some("c"));
    assert_eq!(OnceLock::from(3).into_inner(), Some(3));
    assert_eq!(OnceLock::<u8>::default().into_inner(), None);
    assert_eq!(copy.into_inner().as_deref(), Some("a"));
}

// --------------------------------------------------------------- LazyLock

/// Filled in its initializer, then read by every thread without a lock.
static LAZY_MAP: LazyLock<RaceMap<u64, u64>> = LazyLock::new(|| {
    let m = RaceMap::new();
    m.insert(1, 10);
    m.insert(2, 20);
    m
});

#[test]
fn lazylock_initialization_happens_before_every_use_is_silent() {
    // With std's `LazyLock` these reads were reported as racing with the
    // initializer's inserts: racedet did not see the initialization.
    let first = line!();
    let ts: Vec<_> = (0..4)
        .map(|_| {
            thread::spawn(|| {
                assert_eq!(LAZY_MAP.get(&1), Some(10));
                assert_eq!(LAZY_MAP.len(), 2);
            })
        })
        .collect();
    for t in ts {
        t.join().unwrap();
    }
    assert_eq!(LazyLock::get(&LAZY_MAP).and_then(|m| m.get(&2)), Some(20));
    assert_silent(file!(), first, line!());
}

#[test]
fn write_after_lazylock_force_races_with_another_user_of_the_value() {
    // The initialization orders only itself: a write its thread makes
    // afterwards races with a read by another thread that forced later.
    let first = line!();
    let lazy: Arc<LazyLock<RaceCell<u32>>> = Arc::new(LazyLock::new(|| RaceCell::new(0)));
    let written = Arc::new(Signal::default());
    let (lazy2, written2) = (lazy.clone(), written.clone());
    let writer = spawn_named("lazylock-writer", move || {
        let line = site!(LazyLock::force(&lazy2).set(1));
        written2.raise();
        line
    });
    let reader = spawn_named("lazylock-reader", move || {
        written.wait();
        site!(lazy.get())
    });
    let (lw, lr) = (writer.join().unwrap(), reader.join().unwrap());
    let r = expect_race(file!(), lw, lr);
    assert_data_race(
        &r,
        "cell",
        [(lw, "lazylock-writer"), (lr, "lazylock-reader")],
    );
    assert_silent(file!(), first, line!());
}

/// Generic over the initializer, as code written against std's can be.
fn peek<T, F>(lazy: &LazyLock<T, F>) -> Option<&T> {
    LazyLock::get(lazy)
}

#[test]
fn lazylock_keeps_std_api_and_behaviour() {
    let mut lazy: LazyLock<String> = LazyLock::new(|| "a".to_string());
    assert_eq!(format!("{lazy:?}"), "LazyLock(<uninit>)");
    assert_eq!(LazyLock::get(&lazy), None);
    assert_eq!(peek(&lazy), None);
    assert_eq!(LazyLock::get_mut(&mut lazy), None);
    assert_eq!(&*lazy, "a");
    assert_eq!(format!("{lazy:?}"), "LazyLock(\"a\")");
    lazy.push('!');
    assert_eq!(LazyLock::get(&lazy).map(String::as_str), Some("a!"));
    let mut fresh: LazyLock<Vec<u8>> = LazyLock::default();
    LazyLock::force_mut(&mut fresh).push(1);
    assert_eq!(LazyLock::get_mut(&mut fresh), Some(&mut vec![1]));
    // A panicking initializer poisons the lock, as std's.
    let broken: LazyLock<u8> = LazyLock::new(|| panic!("no value"));
    assert_eq!(
        panic_of(|| {
            let _ = *broken;
        }),
        "no value"
    );
    assert_eq!(
        panic_of(|| {
            LazyLock::force(&broken);
        }),
        "LazyLock instance has previously been poisoned"
    );
}

// ------------------------------------------------------- std's API shape

/// Compiles only if `T` is unwind-safe both ways, as std's type is.
fn unwind_safe<T: std::panic::UnwindSafe + std::panic::RefUnwindSafe>() {}

#[test]
fn types_keep_std_s_auto_traits_and_debug() {
    unwind_safe::<racedet::sync::RwLock<u32>>();
    unwind_safe::<racedet::sync::RwLockReadGuard<'static, u32>>();
    unwind_safe::<racedet::sync::RwLockWriteGuard<'static, u32>>();
    unwind_safe::<racedet::sync::MutexGuard<'static, u32>>();
    unwind_safe::<LazyLock<u32>>();
    thread::scope(|s| {
        let h = s.spawn(|| 1);
        assert_eq!(format!("{h:?}"), "ScopedJoinHandle { .. }");
        assert!(format!("{s:?}").starts_with("Scope {"), "{s:?}");
        assert_eq!(h.join().unwrap(), 1);
    });
    // Re-exported from std, so `use racedet::thread` keeps them in reach.
    assert!(thread::available_parallelism().is_ok());
    let _: Option<&thread::LocalKey<u8>> = None;
    let _: Option<thread::AccessError> = None;
}

// --------------------------------------------------------------- Channels

#[test]
fn unbounded_send_happens_before_its_receive_is_silent() {
    let first = line!();
    let (tx, rx) = channel();
    let ts: Vec<_> = (0..3)
        .map(|i| {
            let tx = tx.clone();
            thread::spawn(move || {
                for k in 0..20 {
                    let c = Arc::new(RaceCell::new(0u32));
                    c.set(i * 100 + k);
                    tx.send(c).unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    let mut n = 0;
    for c in rx.iter() {
        c.set(c.get() + 1);
        n += 1;
    }
    assert_eq!(n, 60);
    for t in ts {
        t.join().unwrap();
    }
    assert_silent(file!(), first, line!());
}

#[test]
fn unbounded_receive_does_not_order_the_sender() {
    let first = line!();
    let x = Arc::new(RaceCell::new(0u32));
    let (tx, rx) = channel::<()>();
    let x2 = x.clone();
    let receiver = spawn_named("unbounded-receiver", move || {
        let line = site!(x2.set(1));
        rx.recv().unwrap();
        line
    });
    let sender = spawn_named("unbounded-sender", move || {
        tx.send(()).unwrap();
        site!(x.get())
    });
    let (lw, lr) = (receiver.join().unwrap(), sender.join().unwrap());
    let r = expect_race(file!(), lw, lr);
    assert_data_race(
        &r,
        "cell",
        [(lw, "unbounded-receiver"), (lr, "unbounded-sender")],
    );
    assert_silent(file!(), first, line!());
}

/// Sends one message on some channel.
type SendOne = Box<dyn FnOnce(BumpOnDrop) + Send>;

#[test]
fn a_message_dropped_unreceived_with_the_receiver_is_after_its_send_silent() {
    // The message's drop touches `x`: dropped unreceived with its
    // channel's receiver, on the receiver's thread, after its send as a
    // receive is.
    let first = line!();
    for capacity in [None, Some(1), Some(4)] {
        let x = Arc::new(RaceCell::new(0u64));
        let sent = Arc::new(Signal::default());
        let (x2, sent2) = (x.clone(), sent.clone());
        let (send, receiver): (SendOne, Box<dyn Send>) = match capacity {
            None => {
                let (tx, rx) = channel();
                (Box::new(move |m| tx.send(m).unwrap()), Box::new(rx))
            }
            Some(c) => {
                let (tx, rx) = sync_channel(c);
                (Box::new(move |m| tx.send(m).unwrap()), Box::new(rx))
            }
        };
        let t = thread::spawn(move || {
            x2.set(1);
            send(BumpOnDrop(x2.clone()));
            sent2.raise();
        });
        sent.wait();
        // std drops the buffered message here.
        drop(receiver);
        assert_eq!(x.get(), 2);
        t.join().unwrap();
    }
    assert_silent(file!(), first, line!());
}

#[test]
fn unbounded_disconnect_happens_before_the_receive_that_observes_it_is_silent() {
    let first = line!();
    let (a, b) = (Arc::new(RaceCell::new(0u8)), Arc::new(RaceCell::new(0u8)));
    let (tx, rx) = channel::<u8>();
    let tx2 = tx.clone();
    let (a2, b2) = (a.clone(), b.clone());
    let ta = thread::spawn(move || {
        a2.set(1);
        drop(tx);
    });
    let tb = thread::spawn(move || {
        b2.set(2);
        drop(tx2);
    });
    assert_eq!(rx.recv(), Err(racedet::sync::mpsc::RecvError));
    assert_eq!((a.get(), b.get()), (1, 2));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    ta.join().unwrap();
    tb.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn unbounded_disconnect_seen_by_recv_timeout_happens_before_it_is_silent() {
    let first = line!();
    let x = Arc::new(RaceCell::new(0u8));
    let (tx, rx) = channel::<u8>();
    let x2 = x.clone();
    let t = thread::spawn(move || {
        x2.set(1);
        drop(tx);
    });
    // Joined only after the read: the disconnect is the only edge.
    let got = rx.recv_timeout(Duration::from_secs(600));
    assert_eq!(got, Err(RecvTimeoutError::Disconnected));
    assert_eq!(x.get(), 1);
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn write_after_dropping_the_sender_races_with_the_disconnected_receiver() {
    let first = line!();
    let x = Arc::new(RaceCell::new(0u32));
    let (tx, rx) = channel::<()>();
    let x2 = x.clone();
    let sender = spawn_named("hangup-sender", move || {
        drop(tx);
        site!(x2.set(1))
    });
    let receiver = spawn_named("hangup-receiver", move || {
        assert!(rx.recv().is_err());
        site!(x.get())
    });
    let (lw, lr) = (sender.join().unwrap(), receiver.join().unwrap());
    let r = expect_race(file!(), lw, lr);
    assert_data_race(&r, "cell", [(lw, "hangup-sender"), (lr, "hangup-receiver")]);
    assert_silent(file!(), first, line!());
}

/// A send that gives the value back when it fails.
type SendFn = Box<dyn Fn(u32) -> Result<(), u32> + Send>;

#[test]
fn receiver_drop_happens_before_the_send_that_fails_is_silent() {
    let first = line!();
    for bound in [None, Some(0), Some(2)] {
        let x = Arc::new(RaceCell::new(0u32));
        let x2 = x.clone();
        let (send, rx): (SendFn, _) = match bound {
            None => {
                let (tx, rx) = channel();
                (Box::new(move |v| tx.send(v).map_err(|e| e.0)), rx)
            }
            Some(c) => {
                let (tx, rx) = sync_channel(c);
                (
                    Box::new(move |v| {
                        tx.try_send(v).map_err(|e| match e {
                            TrySendError::Full(v) | TrySendError::Disconnected(v) => v,
                        })
                    }),
                    rx,
                )
            }
        };
        let t = thread::spawn(move || {
            x2.set(1);
            drop(rx);
        });
        // Sends succeed (or find the buffer full) until the receiver is gone.
        while send(5).is_ok() || !t.is_finished() {
            thread::yield_now();
        }
        assert_eq!(send(6), Err(6));
        assert_eq!(x.get(), 1);
        t.join().unwrap();
    }
    assert_silent(file!(), first, line!());
}

#[test]
fn bounded_send_happens_before_its_receive_is_silent() {
    let first = line!();
    for cap in [0, 1, 3] {
        let (tx, rx) = sync_channel(cap);
        let ts: Vec<_> = (0..3)
            .map(|i| {
                let tx = tx.clone();
                thread::spawn(move || {
                    for k in 0..20 {
                        let c = Arc::new(RaceCell::new(0u32));
                        c.set(i * 100 + k);
                        tx.send(c).unwrap();
                    }
                })
            })
            .collect();
        drop(tx);
        let mut n = 0;
        for c in rx {
            c.set(c.get() + 1);
            n += 1;
        }
        assert_eq!(n, 60);
        for t in ts {
            t.join().unwrap();
        }
    }
    assert_silent(file!(), first, line!());
}

#[test]
fn bounded_kth_receive_happens_before_the_send_k_plus_capacity_is_silent() {
    let first = line!();
    // Capacity 2: receive #2 happens before send #4 completes.
    let x = Arc::new(RaceCell::new(0u32));
    let (tx, rx) = sync_channel::<u32>(2);
    let x2 = x.clone();
    let receiver = thread::spawn(move || {
        assert_eq!(rx.recv(), Ok(1));
        x2.set(1);
        assert_eq!(rx.recv(), Ok(2));
        rx
    });
    for k in 1..=4 {
        tx.send(k).unwrap();
    }
    assert_eq!(x.get(), 1);
    let rx = receiver.join().unwrap();
    assert_eq!(rx.try_iter().collect::<Vec<_>>(), [3, 4]);
    assert_silent(file!(), first, line!());
}

#[test]
fn bounded_kth_receive_does_not_order_the_send_k_plus_capacity_minus_one() {
    let first = line!();
    // Capacity 2: send #3 needs only receive #1, so the write between
    // receives #1 and #2 is not ordered before what follows send #3.
    let x = Arc::new(RaceCell::new(0u32));
    let (tx, rx) = sync_channel::<u32>(2);
    let x2 = x.clone();
    let receiver = spawn_named("bounded-receiver", move || {
        assert_eq!(rx.recv(), Ok(1));
        let line = site!(x2.set(1));
        assert_eq!(rx.recv(), Ok(2));
        // Kept alive until the sender is done: send #3 must not fail.
        (line, rx)
    });
    let sender = spawn_named("bounded-sender", move || {
        for k in 1..=3 {
            tx.send(k).unwrap();
        }
        site!(x.get())
    });
    let ((lw, rx), lr) = (receiver.join().unwrap(), sender.join().unwrap());
    assert_eq!(rx.try_recv(), Ok(3));
    let r = expect_race(file!(), lw, lr);
    assert_data_race(
        &r,
        "cell",
        [(lw, "bounded-receiver"), (lr, "bounded-sender")],
    );
    assert_silent(file!(), first, line!());
}

#[test]
fn rendezvous_receive_happens_before_the_send_returns_is_silent() {
    let first = line!();
    let x = Arc::new(RaceCell::new(0u32));
    let (tx, rx) = sync_channel::<()>(0);
    let x2 = x.clone();
    let receiver = thread::spawn(move || {
        x2.set(1);
        rx.recv().unwrap();
    });
    tx.send(()).unwrap();
    assert_eq!(x.get(), 1);
    receiver.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn rendezvous_write_after_the_receive_races_with_the_sender() {
    let first = line!();
    let x = Arc::new(RaceCell::new(0u32));
    let (tx, rx) = sync_channel::<()>(0);
    let x2 = x.clone();
    let receiver = spawn_named("rendezvous-receiver", move || {
        rx.recv().unwrap();
        site!(x2.set(1))
    });
    let sender = spawn_named("rendezvous-sender", move || {
        tx.send(()).unwrap();
        site!(x.get())
    });
    let (lw, lr) = (receiver.join().unwrap(), sender.join().unwrap());
    let r = expect_race(file!(), lw, lr);
    assert_data_race(
        &r,
        "cell",
        [(lw, "rendezvous-receiver"), (lr, "rendezvous-sender")],
    );
    assert_silent(file!(), first, line!());
}

#[test]
fn rendezvous_try_send_into_a_waiting_receiver_is_ordered_after_its_receive_is_silent() {
    let first = line!();
    let x = Arc::new(RaceCell::new(0u32));
    let (tx, rx) = sync_channel::<u32>(0);
    let x2 = x.clone();
    let receiver = thread::spawn(move || {
        x2.set(1);
        rx.recv_timeout(Duration::from_secs(60)).unwrap()
    });
    // Full until the receiver waits.
    loop {
        match tx.try_send(7) {
            Ok(()) => break,
            Err(TrySendError::Full(_)) => thread::yield_now(),
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(x.get(), 1);
    assert_eq!(receiver.join().unwrap(), 7);
    assert_silent(file!(), first, line!());
}

#[test]
fn bounded_disconnect_happens_before_the_receive_that_observes_it_is_silent() {
    let first = line!();
    for cap in [0, 1] {
        let x = Arc::new(RaceCell::new(0u32));
        let (tx, rx) = sync_channel::<u32>(cap);
        let x2 = x.clone();
        let t = thread::spawn(move || {
            x2.set(1);
            drop(tx);
        });
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(60)),
            Err(RecvTimeoutError::Disconnected)
        );
        assert_eq!(x.get(), 1);
        t.join().unwrap();
    }
    assert_silent(file!(), first, line!());
}

#[test]
fn sync_channel_keeps_std_behaviour() {
    let (tx, rx) = sync_channel::<u32>(1);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(
        rx.recv_timeout(Duration::from_millis(5)),
        Err(RecvTimeoutError::Timeout)
    );
    tx.try_send(1).unwrap();
    assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
    let tx2 = tx.clone();
    assert_eq!(rx.recv(), Ok(1));
    tx2.send(3).unwrap();
    drop((tx, tx2));
    // Buffered messages are still delivered after the senders are gone.
    assert_eq!(rx.recv(), Ok(3));
    assert_eq!(rx.recv(), Err(racedet::sync::mpsc::RecvError));

    let (tx, rx) = sync_channel::<u32>(0);
    assert_eq!(tx.try_send(1), Err(TrySendError::Full(1)));
    drop(rx);
    assert_eq!(tx.send(2), Err(SendError(2)));
    assert_eq!(tx.try_send(3), Err(TrySendError::Disconnected(3)));

    // A rendezvous sender gets its message back when the receiver goes
    // away, whether it was already blocked or had not yet sent (the sleep
    // only makes the blocked case likely; both end the same way, so the
    // test does not depend on which happened).
    let (tx, rx) = sync_channel::<String>(0);
    let t = thread::spawn(move || tx.send("back".into()));
    thread::sleep(Duration::from_millis(10));
    drop(rx);
    assert_eq!(t.join().unwrap(), Err(SendError("back".to_string())));

    let (tx, rx) = channel::<u32>();
    for k in 0..3 {
        tx.send(k).unwrap();
    }
    drop(tx);
    assert_eq!(rx.into_iter().collect::<Vec<_>>(), [0, 1, 2]);
}

#[test]
fn rendezvous_with_mixed_senders_and_receives_delivers_everything_is_silent() {
    let first = line!();
    let (tx, rx) = sync_channel::<Arc<RaceCell<u32>>>(0);
    let ts: Vec<_> = (0..4)
        .map(|i| {
            let tx = tx.clone();
            thread::spawn(move || {
                for k in 0..25 {
                    let c = Arc::new(RaceCell::new(0));
                    c.set(i * 100 + k);
                    if i % 2 == 0 {
                        tx.send(c).unwrap();
                        continue;
                    }
                    let mut c = c;
                    loop {
                        match tx.try_send(c) {
                            Ok(()) => break,
                            Err(TrySendError::Full(back)) => {
                                c = back;
                                thread::yield_now();
                            }
                            Err(TrySendError::Disconnected(_)) => panic!("receiver gone"),
                        }
                    }
                }
            })
        })
        .collect();
    drop(tx);
    // Alternates try_recv and timed receives by attempt (try_senders only
    // succeed while the receiver waits).
    let (mut n, mut attempt) = (0, 0u32);
    loop {
        attempt += 1;
        let got = if attempt % 3 == 0 {
            match rx.try_recv() {
                Ok(c) => Some(c),
                Err(TryRecvError::Empty) => continue,
                Err(TryRecvError::Disconnected) => None,
            }
        } else {
            match rx.recv_timeout(Duration::from_millis(1)) {
                Ok(c) => Some(c),
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => None,
            }
        };
        let Some(c) = got else { break };
        c.set(c.get() + 1);
        n += 1;
    }
    assert_eq!(n, 100);
    for t in ts {
        t.join().unwrap();
    }
    assert_silent(file!(), first, line!());
}

#[test]
fn sync_types_keep_std_auto_traits() {
    use std::panic::{RefUnwindSafe, UnwindSafe};
    fn shared<T: Send + Sync + RefUnwindSafe + UnwindSafe>() {}
    fn owned<T: Send + RefUnwindSafe + UnwindSafe>() {}
    shared::<Barrier>();
    shared::<Condvar>();
    shared::<Once>();
    shared::<OnceLock<String>>();
    shared::<AtomicUsize>();
    shared::<AtomicBool>();
    shared::<AtomicPtr<String>>();
    shared::<racedet::sync::mpsc::Sender<String>>();
    shared::<racedet::sync::mpsc::SyncSender<String>>();
    owned::<racedet::sync::mpsc::Receiver<String>>();
    shared::<racedet::thread::Thread>();
    shared::<racedet::sync::Mutex<String>>();
    shared::<racedet::sync::RwLock<String>>();
}

// ---------------------------------------------------------------- Atomics

#[test]
fn release_store_acquire_load_message_passing_is_silent() {
    let first = line!();
    for (store, load) in [(Release, Acquire), (SeqCst, SeqCst), (AcqRel, Acquire)] {
        let data = Arc::new(RaceCell::new(0u32));
        let flag = Arc::new(AtomicBool::new(false));
        let (d2, f2) = (data.clone(), flag.clone());
        let t = thread::spawn(move || {
            d2.set(1);
            if store == AcqRel {
                f2.swap(true, store);
            } else {
                f2.store(true, store);
            }
        });
        while !flag.load(load) {
            std::hint::spin_loop();
        }
        assert_eq!(data.get(), 1);
        t.join().unwrap();
    }
    assert_silent(file!(), first, line!());
}

#[test]
fn relaxed_message_passing_races() {
    let first = line!();
    let data = Arc::new(RaceCell::new(0u32));
    let flag = Arc::new(AtomicBool::new(false));
    let (d2, f2) = (data.clone(), flag.clone());
    let writer = spawn_named("relaxed-writer", move || {
        let line = site!(d2.set(1));
        f2.store(true, Relaxed);
        line
    });
    let reader = spawn_named("relaxed-reader", move || {
        while !flag.load(Relaxed) {
            std::hint::spin_loop();
        }
        site!(data.get())
    });
    let (lw, lr) = (writer.join().unwrap(), reader.join().unwrap());
    let r = expect_race(file!(), lw, lr);
    assert_data_race(&r, "cell", [(lw, "relaxed-writer"), (lr, "relaxed-reader")]);
    assert_silent(file!(), first, line!());
}

#[test]
fn release_store_read_by_a_relaxed_load_races() {
    let first = line!();
    let data = Arc::new(RaceCell::new(0u32));
    let flag = Arc::new(AtomicUsize::new(0));
    let (d2, f2) = (data.clone(), flag.clone());
    let writer = spawn_named("rel-writer", move || {
        let line = site!(d2.set(1));
        f2.store(1, Release);
        line
    });
    let reader = spawn_named("rlx-reader", move || {
        while flag.load(Relaxed) == 0 {
            std::hint::spin_loop();
        }
        site!(data.get())
    });
    let (lw, lr) = (writer.join().unwrap(), reader.join().unwrap());
    let r = expect_race(file!(), lw, lr);
    assert_data_race(&r, "cell", [(lw, "rel-writer"), (lr, "rlx-reader")]);
    assert_silent(file!(), first, line!());
}

#[test]
fn release_sequence_continues_through_a_relaxed_fetch_add_is_silent() {
    let first = line!();
    let data = Arc::new(RaceCell::new(0u32));
    let a = Arc::new(AtomicUsize::new(0));
    let (d1, a1, a2) = (data.clone(), a.clone(), a.clone());
    let head = thread::spawn(move || {
        d1.set(1);
        a1.store(1, Release);
    });
    let middle = thread::spawn(move || {
        while a2.load(Relaxed) != 1 {
            std::hint::spin_loop();
        }
        // An RMW continues the release sequence headed by the store.
        a2.fetch_add(1, Relaxed);
    });
    // Reads the RMW's value: synchronizes with the head's release store.
    while a.load(Acquire) != 2 {
        std::hint::spin_loop();
    }
    assert_eq!(data.get(), 1);
    head.join().unwrap();
    middle.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn relaxed_store_of_another_thread_ends_the_release_sequence() {
    let first = line!();
    let data = Arc::new(RaceCell::new(0u32));
    let a = Arc::new(AtomicUsize::new(0));
    let (d1, a1, a2) = (data.clone(), a.clone(), a.clone());
    let head = spawn_named("seq-head", move || {
        let line = site!(d1.set(1));
        a1.store(1, Release);
        line
    });
    let stored = Arc::new(Signal::default());
    let stored2 = stored.clone();
    let middle = thread::spawn(move || {
        while a2.load(Relaxed) != 1 {
            std::hint::spin_loop();
        }
        a2.store(2, Relaxed);
        stored2.raise();
    });
    let tail = spawn_named("seq-tail", move || {
        // Only the relaxed store's value is read with Acquire (reading the
        // head's 1 with Acquire would synchronize with the head directly).
        stored.wait();
        assert_eq!(a.load(Acquire), 2);
        site!(data.get())
    });
    let lw = head.join().unwrap();
    middle.join().unwrap();
    let lr = tail.join().unwrap();
    let r = expect_race(file!(), lw, lr);
    assert_data_race(&r, "cell", [(lw, "seq-head"), (lr, "seq-tail")]);
    assert_silent(file!(), first, line!());
}

#[test]
fn release_fence_and_acquire_fence_pair_through_relaxed_atomics_is_silent() {
    let first = line!();
    for (rel, acq) in [(Release, Acquire), (AcqRel, AcqRel), (SeqCst, SeqCst)] {
        let data = Arc::new(RaceCell::new(0u32));
        let flag = Arc::new(AtomicI32::new(0));
        let (d2, f2) = (data.clone(), flag.clone());
        let t = thread::spawn(move || {
            d2.set(1);
            fence(rel);
            f2.store(1, Relaxed);
        });
        while flag.load(Relaxed) != 1 {
            std::hint::spin_loop();
        }
        fence(acq);
        assert_eq!(data.get(), 1);
        t.join().unwrap();
    }
    assert_silent(file!(), first, line!());
}

#[test]
fn release_fence_pairs_with_an_acquire_load_is_silent() {
    let first = line!();
    let data = Arc::new(RaceCell::new(0u32));
    let flag = Arc::new(AtomicU8::new(0));
    let (d2, f2) = (data.clone(), flag.clone());
    let t = thread::spawn(move || {
        d2.set(1);
        fence(Release);
        f2.fetch_add(1, Relaxed);
    });
    while flag.load(Acquire) != 1 {
        std::hint::spin_loop();
    }
    assert_eq!(data.get(), 1);
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn acquire_fence_before_the_relaxed_load_does_not_pair() {
    let first = line!();
    let data = Arc::new(RaceCell::new(0u32));
    let flag = Arc::new(AtomicBool::new(false));
    let (d2, f2) = (data.clone(), flag.clone());
    let writer = spawn_named("fence-writer", move || {
        let line = site!(d2.set(1));
        fence(Release);
        f2.store(true, Relaxed);
        line
    });
    let reader = spawn_named("early-fence-reader", move || {
        fence(Acquire);
        while !flag.load(Relaxed) {
            std::hint::spin_loop();
        }
        site!(data.get())
    });
    let (lw, lr) = (writer.join().unwrap(), reader.join().unwrap());
    let r = expect_race(file!(), lw, lr);
    assert_data_race(
        &r,
        "cell",
        [(lw, "fence-writer"), (lr, "early-fence-reader")],
    );
    assert_silent(file!(), first, line!());
}

#[test]
fn release_fence_after_the_relaxed_store_does_not_pair() {
    let first = line!();
    let data = Arc::new(RaceCell::new(0u32));
    let flag = Arc::new(AtomicBool::new(false));
    let (d2, f2) = (data.clone(), flag.clone());
    let writer = spawn_named("late-fence-writer", move || {
        let line = site!(d2.set(1));
        f2.store(true, Relaxed);
        fence(Release);
        line
    });
    let reader = spawn_named("fence-reader", move || {
        while !flag.load(Relaxed) {
            std::hint::spin_loop();
        }
        fence(Acquire);
        site!(data.get())
    });
    let (lw, lr) = (writer.join().unwrap(), reader.join().unwrap());
    let r = expect_race(file!(), lw, lr);
    assert_data_race(
        &r,
        "cell",
        [(lw, "late-fence-writer"), (lr, "fence-reader")],
    );
    assert_silent(file!(), first, line!());
}

#[test]
fn compare_exchange_success_with_acquire_synchronizes_is_silent() {
    let first = line!();
    for weak in [false, true] {
        let data = Arc::new(RaceCell::new(0u32));
        let a = Arc::new(AtomicUsize::new(0));
        let (d2, a2) = (data.clone(), a.clone());
        let t = thread::spawn(move || {
            d2.set(1);
            a2.store(1, Release);
        });
        loop {
            let r = if weak {
                a.compare_exchange_weak(1, 2, Acquire, Relaxed)
            } else {
                a.compare_exchange(1, 2, AcqRel, Relaxed)
            };
            if r.is_ok() {
                break;
            }
            std::hint::spin_loop();
        }
        assert_eq!(data.get(), 1);
        t.join().unwrap();
    }
    assert_silent(file!(), first, line!());
}

#[test]
fn compare_exchange_success_with_relaxed_races() {
    let first = line!();
    let data = Arc::new(RaceCell::new(0u32));
    let a = Arc::new(AtomicUsize::new(0));
    let (d2, a2) = (data.clone(), a.clone());
    let writer = spawn_named("cas-publisher", move || {
        let line = site!(d2.set(1));
        a2.store(1, Release);
        line
    });
    let reader = spawn_named("cas-relaxed", move || {
        while a.compare_exchange(1, 2, Relaxed, Relaxed).is_err() {
            std::hint::spin_loop();
        }
        site!(data.get())
    });
    let (lw, lr) = (writer.join().unwrap(), reader.join().unwrap());
    let r = expect_race(file!(), lw, lr);
    assert_data_race(&r, "cell", [(lw, "cas-publisher"), (lr, "cas-relaxed")]);
    assert_silent(file!(), first, line!());
}

#[test]
fn compare_exchange_failure_with_acquire_is_an_acquire_load_is_silent() {
    let first = line!();
    let data = Arc::new(RaceCell::new(0u32));
    let a = Arc::new(AtomicUsize::new(0));
    let (d2, a2) = (data.clone(), a.clone());
    let t = thread::spawn(move || {
        d2.set(1);
        a2.store(1, Release);
    });
    // Never succeeds: the failure reads 1 with the failure ordering.
    while a.compare_exchange(7, 8, Relaxed, Acquire) != Err(1) {
        std::hint::spin_loop();
    }
    assert_eq!(data.get(), 1);
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn compare_exchange_failure_with_relaxed_races() {
    let first = line!();
    let data = Arc::new(RaceCell::new(0u32));
    let a = Arc::new(AtomicUsize::new(0));
    let (d2, a2) = (data.clone(), a.clone());
    let writer = spawn_named("cas-fail-publisher", move || {
        let line = site!(d2.set(1));
        a2.store(1, Release);
        line
    });
    let reader = spawn_named("cas-fail-relaxed", move || {
        while a.compare_exchange(7, 8, Acquire, Relaxed) != Err(1) {
            std::hint::spin_loop();
        }
        site!(data.get())
    });
    let (lw, lr) = (writer.join().unwrap(), reader.join().unwrap());
    let r = expect_race(file!(), lw, lr);
    assert_data_race(
        &r,
        "cell",
        [(lw, "cas-fail-publisher"), (lr, "cas-fail-relaxed")],
    );
    assert_silent(file!(), first, line!());
}

#[test]
fn atomic_accesses_never_race_with_each_other() {
    let first = line!();
    let a = Arc::new(AtomicUsize::new(0));
    let ts: Vec<_> = (0..4)
        .map(|i| {
            let a = a.clone();
            thread::spawn(move || {
                for _ in 0..200 {
                    a.fetch_add(1, Relaxed);
                    a.store(i, Relaxed);
                    let _ = a.load(Relaxed);
                    let _ = a.swap(i, Relaxed);
                    let _ = a.compare_exchange(i, i + 1, Relaxed, Relaxed);
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
fn plain_read_of_an_atomic_races_with_an_unordered_atomic_store() {
    let first = line!();
    let a = Arc::new(AtomicUsize::new(0));
    let a2 = a.clone();
    let writer = spawn_named("atomic-store", move || site!(a2.store(1, Relaxed)));
    let reader = spawn_named("plain-read", move || {
        // SAFETY: the point of the test is the race; racedet reads the value
        // atomically, so this is memory-safe.
        site!(unsafe { a.unsync_load() })
    });
    let (lw, lr) = (writer.join().unwrap(), reader.join().unwrap());
    let r = expect_race(file!(), lw, lr);
    assert_data_race(&r, "atomic", [(lw, "atomic-store"), (lr, "plain-read")]);
    let atomic_sides = [r.current.atomic, r.previous.atomic];
    assert!(atomic_sides.contains(&true) && atomic_sides.contains(&false));
    assert!(r.to_text().contains("Previous") && r.to_text().contains("atomic"));
    assert_silent(file!(), first, line!());
}

#[test]
fn plain_read_of_an_atomic_after_an_acquire_load_is_silent() {
    let first = line!();
    let a = Arc::new(AtomicUsize::new(0));
    let a2 = a.clone();
    let t = thread::spawn(move || a2.store(1, Release));
    while a.load(Acquire) != 1 {
        std::hint::spin_loop();
    }
    // SAFETY: ordered after the only write.
    assert_eq!(unsafe { a.unsync_load() }, 1);
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn atomics_keep_std_api_and_behaviour() {
    static COUNTER: AtomicUsize = AtomicUsize::new(5);
    assert_eq!(COUNTER.fetch_add(1, SeqCst), 5);
    let mut a = AtomicI32::new(10);
    assert_eq!(a.fetch_sub(3, SeqCst), 10);
    assert_eq!(a.fetch_max(20, SeqCst), 7);
    assert_eq!(a.fetch_min(-1, SeqCst), 20);
    assert_eq!(a.fetch_and(0b110, SeqCst), -1);
    assert_eq!(a.fetch_or(1, SeqCst), 0b110);
    assert_eq!(a.fetch_xor(0b111, SeqCst), 0b111);
    assert_eq!(a.fetch_nand(0, SeqCst), 0);
    assert_eq!(a.fetch_update(SeqCst, SeqCst, |v| Some(v * 2)), Ok(-1));
    assert_eq!(a.try_update(SeqCst, SeqCst, |_| None), Err(-2));
    assert_eq!(a.update(SeqCst, SeqCst, |v| v + 2), -2);
    assert_eq!(a.swap(4, SeqCst), 0);
    assert_eq!(a.compare_exchange(3, 9, SeqCst, SeqCst), Err(4));
    *a.get_mut() += 1;
    assert_eq!(a.with_mut(|v| *v), 5);
    assert_eq!(format!("{a:?}"), "5");
    assert_eq!(a.into_inner(), 5);
    assert_eq!(AtomicI32::default().load(Relaxed), 0);
    assert_eq!(AtomicU8::from(3).load(Relaxed), 3);

    let b = AtomicBool::new(true);
    assert!(b.fetch_not(SeqCst));
    assert!(!b.fetch_or(true, SeqCst));
    assert!(b.fetch_xor(true, SeqCst));
    assert!(!b.fetch_nand(true, SeqCst));
    assert!(b.fetch_and(false, SeqCst));
    assert!(!b.into_inner());

    let mut xs = [1u64, 2, 3];
    let p = AtomicPtr::new(xs.as_mut_ptr());
    let base = p.load(SeqCst);
    assert_eq!(p.fetch_ptr_add(2, SeqCst), base);
    // SAFETY: in bounds of `xs`.
    assert_eq!(unsafe { *p.load(SeqCst) }, 3);
    assert_eq!(p.fetch_byte_sub(8, SeqCst), base.wrapping_add(2));
    assert_eq!(p.swap(base, SeqCst), base.wrapping_add(1));
    assert!(AtomicPtr::<u8>::default().load(SeqCst).is_null());
    assert_eq!(format!("{p:p}"), format!("{base:p}"));
}

#[test]
#[should_panic(expected = "there is no such thing as a relaxed fence")]
fn a_relaxed_fence_panics_as_in_std() {
    fence(Relaxed);
}

// ------------------------------------------------------------ park/unpark

#[test]
fn unpark_happens_before_the_park_it_releases_is_silent() {
    let first = line!();
    let x = Arc::new(RaceCell::new(0u32));
    let unparked = Arc::new(Signal::default());
    let me = thread::current();
    let (x2, unparked2) = (x.clone(), unparked.clone());
    let t = thread::spawn(move || {
        x2.set(1);
        me.unpark();
        unparked2.raise();
    });
    unparked.wait();
    // The token is there: returns at once, having seen the unparker.
    thread::park();
    assert_eq!(x.get(), 1);
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn unpark_through_a_join_handle_orders_the_childs_park_is_silent() {
    let first = line!();
    let x = Arc::new(RaceCell::new(0u32));
    let unparked = Arc::new(Signal::default());
    let (x2, unparked2) = (x.clone(), unparked.clone());
    let t = thread::spawn(move || {
        unparked2.wait();
        thread::park_timeout(Duration::from_secs(60));
        x2.get()
    });
    x.set(1);
    racedet::thread::unpark(t.thread());
    unparked.raise();
    assert_eq!(t.join().unwrap(), 1);
    assert_silent(file!(), first, line!());
}

#[test]
fn write_after_unpark_races_with_the_released_thread() {
    let first = line!();
    let x = Arc::new(RaceCell::new(0u32));
    let unparked = Arc::new(Signal::default());
    let (x2, unparked2) = (x.clone(), unparked.clone());
    let parker = spawn_named("parker", move || {
        unparked2.wait();
        thread::park();
        site!(x2.get())
    });
    let unparker = {
        let target = parker.thread().clone();
        spawn_named("unparker", move || {
            target.unpark();
            let line = site!(x.set(1));
            unparked.raise();
            line
        })
    };
    let (lw, lr) = (unparker.join().unwrap(), parker.join().unwrap());
    let r = expect_race(file!(), lw, lr);
    assert_data_race(&r, "cell", [(lw, "unparker"), (lr, "parker")]);
    assert_silent(file!(), first, line!());
}

#[test]
fn thread_handles_keep_std_api() {
    let t = spawn_named("handle-api", || {
        thread::current().name().map(str::to_string)
    });
    let id = t.thread().id();
    assert_eq!(t.thread().name(), Some("handle-api"));
    assert!(format!("{:?}", t.thread()).contains("handle-api"));
    assert_eq!(t.join().unwrap().as_deref(), Some("handle-api"));
    assert_ne!(id, thread::current().id());
    let scoped_name = thread::scope(|s| {
        let h = s.spawn(|| ());
        let name = h.thread().id();
        h.join().unwrap();
        name
    });
    assert_ne!(scoped_name, id);
}

// ------------------------------------------------------------ Annotations

#[test]
fn annotations_order_synchronization_racedet_cannot_see_is_silent() {
    let first = line!();
    let x = Arc::new(RaceCell::new(0u32));
    let published = Arc::new(Signal::default());
    let (x2, published2) = (x.clone(), published.clone());
    let t = thread::spawn(move || {
        x2.set(1);
        happens_before(&*published2);
        published2.raise();
    });
    published.wait();
    happens_after(&*published);
    assert_eq!(x.get(), 1);
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn synchronization_racedet_cannot_see_races_without_annotations() {
    let first = line!();
    let x = Arc::new(RaceCell::new(0u32));
    let published = Arc::new(Signal::default());
    let (x2, published2) = (x.clone(), published.clone());
    let writer = spawn_named("unannotated-writer", move || {
        let line = site!(x2.set(1));
        published2.raise();
        line
    });
    let reader = spawn_named("unannotated-reader", move || {
        published.wait();
        site!(x.get())
    });
    let (lw, lr) = (writer.join().unwrap(), reader.join().unwrap());
    let r = expect_race(file!(), lw, lr);
    assert_data_race(
        &r,
        "cell",
        [(lw, "unannotated-writer"), (lr, "unannotated-reader")],
    );
    assert_silent(file!(), first, line!());
}

// ------------------------------------------------------------- UnsafeCell

/// A one-slot mailbox as unsafe code writes it: an `UnsafeCell` published
/// by an atomic flag.
struct Mailbox {
    value: UnsafeCell<u64>,
    full: AtomicBool,
}

// SAFETY: the value is written before `full` is set and read after it is
// seen; racedet checks exactly that.
unsafe impl Sync for Mailbox {}

impl Mailbox {
    fn new(value: u64, full: bool) -> Arc<Mailbox> {
        Arc::new(Mailbox {
            value: UnsafeCell::new(value),
            full: AtomicBool::new(full),
        })
    }
}

#[test]
fn unsafe_cell_published_by_release_acquire_is_silent() {
    let first = line!();
    let m = Mailbox::new(0, false);
    let m2 = m.clone();
    let t = thread::spawn(move || {
        m2.value.with_mut(|p| unsafe { *p = 42 });
        m2.full.store(true, Release);
    });
    wait_set(&m.full, Acquire);
    assert_eq!(m.value.with(|p| unsafe { *p }), 42);
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

/// Runs `write` and `read` on threads named `names` sharing a fresh
/// mailbox; returns the lines they return (their access's site).
fn on_mailbox(
    names: [&str; 2],
    write: fn(&Mailbox) -> u32,
    read: fn(&Mailbox) -> u32,
) -> (u32, u32) {
    let m = Mailbox::new(0, false);
    let m2 = m.clone();
    let writer = spawn_named(names[0], move || write(&m2));
    let reader = spawn_named(names[1], move || read(&m));
    (writer.join().unwrap(), reader.join().unwrap())
}

#[test]
fn unsafe_cell_published_by_a_relaxed_flag_races() {
    let first = line!();
    let names = ["mailbox-writer", "mailbox-reader"];
    let (lw, lr) = on_mailbox(
        names,
        |m| {
            let line = site!(m.value.with_mut(|p| unsafe { *p = 42 }));
            m.full.store(true, Relaxed);
            line
        },
        |m| {
            wait_set(&m.full, Relaxed);
            site!(m.value.with(|p| unsafe { *p }))
        },
    );
    let r = expect_race(file!(), lw, lr);
    assert_data_race(&r, "unsafe cell", [(lw, names[0]), (lr, names[1])]);
    assert_ops(&r, [(lw, "with_mut"), (lr, "with")]);
    assert_silent(file!(), first, line!());
}

#[test]
fn unsafe_cell_written_after_a_release_inside_its_closure_races() {
    // The bug loom's closures exist to catch: the flag is published before
    // the value is written. The access lasts for the closure, so the
    // release inside it does not order it, however the threads interleave.
    let first = line!();
    let names = ["early-publisher", "early-reader"];
    let (lw, lr) = on_mailbox(
        names,
        |m| {
            site!(m.value.with_mut(|p| {
                m.full.store(true, Release);
                unsafe { *p = 42 }
            }))
        },
        |m| {
            wait_set(&m.full, Acquire);
            site!(m.value.with(|p| unsafe { *p }))
        },
    );
    let r = expect_race(file!(), lw, lr);
    assert_data_race(&r, "unsafe cell", [(lw, names[0]), (lr, names[1])]);
    assert_ops(&r, [(lw, "with_mut"), (lr, "with")]);
    assert_silent(file!(), first, line!());
}

#[test]
fn unsafe_cell_read_published_from_inside_its_closure_races_with_the_next_write() {
    // As loom: a `with` closure that publishes before it returns is still
    // reading, so a writer ordered only by that publication races with it.
    let first = line!();
    let names = ["reading-publisher", "late-writer"];
    let (lr, lw) = on_mailbox(
        names,
        |m| {
            site!(m.value.with(|p| {
                let v = unsafe { *p };
                m.full.store(true, Release);
                v
            }))
        },
        |m| {
            wait_set(&m.full, Acquire);
            site!(m.value.with_mut(|p| unsafe { *p = 1 }))
        },
    );
    let r = expect_race(file!(), lr, lw);
    assert_data_race(&r, "unsafe cell", [(lr, names[0]), (lw, names[1])]);
    assert_ops(&r, [(lr, "with"), (lw, "with_mut")]);
    assert_silent(file!(), first, line!());
}

#[test]
fn unsafe_cell_closed_inside_another_closure_is_ordered_by_a_release_after_it() {
    // The inner closure has returned when the flag is published, the outer
    // one has not: only the outer cell's access is left unordered.
    let first = line!();
    struct Two {
        outer: UnsafeCell<u64>,
        inner: UnsafeCell<u64>,
        full: AtomicBool,
    }
    // SAFETY: test type; racedet checks every access.
    unsafe impl Sync for Two {}
    let two = Arc::new(Two {
        outer: UnsafeCell::new(0),
        inner: UnsafeCell::new(0),
        full: AtomicBool::new(false),
    });
    let two2 = two.clone();
    let writer = spawn_named("nested-writer", move || {
        site!(two2.outer.with_mut(|po| {
            two2.inner.with_mut(|pi| unsafe { *pi = 1 });
            two2.full.store(true, Release);
            unsafe { *po = 1 }
        }))
    });
    let reader = spawn_named("nested-reader", move || {
        wait_set(&two.full, Acquire);
        assert_eq!(two.inner.with(|p| unsafe { *p }), 1);
        site!(two.outer.with(|p| unsafe { *p }))
    });
    let (lw, lo) = (writer.join().unwrap(), reader.join().unwrap());
    let r = expect_race(file!(), lw, lo);
    assert_data_race(
        &r,
        "unsafe cell",
        [(lw, "nested-writer"), (lo, "nested-reader")],
    );
    assert_silent(file!(), first, line!());
}

#[test]
fn unsafe_cell_written_after_a_release_that_follows_many_nested_closures_races() {
    // Each nested closure uses one clock value of the outer one's reserve
    // when it returns; 200 of them still leave the release below it.
    let first = line!();
    struct Many {
        value: UnsafeCell<u64>,
        others: Vec<UnsafeCell<u64>>,
        full: AtomicBool,
    }
    // SAFETY: test type; racedet checks every access.
    unsafe impl Sync for Many {}
    let many = Arc::new(Many {
        value: UnsafeCell::new(0),
        others: (0..200).map(|_| UnsafeCell::new(1)).collect(),
        full: AtomicBool::new(false),
    });
    let m2 = many.clone();
    let writer = spawn_named("after-nested-writer", move || {
        site!(m2.value.with_mut(|p| {
            let sum: u64 = m2.others.iter().map(|c| c.with(|q| unsafe { *q })).sum();
            m2.full.store(true, Release);
            unsafe { *p = sum }
        }))
    });
    let reader = spawn_named("after-nested-reader", move || {
        wait_set(&many.full, Acquire);
        site!(many.value.with(|p| unsafe { *p }))
    });
    let (lw, lr) = (writer.join().unwrap(), reader.join().unwrap());
    let r = expect_race(file!(), lw, lr);
    assert_data_race(
        &r,
        "unsafe cell",
        [(lw, "after-nested-writer"), (lr, "after-nested-reader")],
    );
    assert_silent(file!(), first, line!());
}

#[test]
fn unsafe_cell_closure_that_panics_is_over_when_it_unwinds() {
    let first = line!();
    let m = Mailbox::new(0, false);
    let m2 = m.clone();
    let t = thread::spawn(move || {
        let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            m2.value.with_mut(|p| {
                unsafe { *p = 5 };
                // Unwinds without the panic hook's message.
                std::panic::resume_unwind(Box::new("inside with_mut"));
            })
        }));
        assert!(unwound.is_err());
        m2.full.store(true, Release);
    });
    wait_set(&m.full, Acquire);
    assert_eq!(m.value.with(|p| unsafe { *p }), 5);
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn unsafe_cell_freed_by_its_own_closure_is_silent() {
    // A hand-written `Arc`: whichever thread drops the last reference
    // frees the node, cells and all, inside a cell's closure: no report
    // (that racedet leaves the freed cell alone is pinned by the next
    // test; valgrind shows it here too). Each owner reads `other` before
    // its decrement and the last one writes it before the free, so the
    // silence also rests on the AcqRel decrement ordering the owners.
    let first = line!();
    struct Node {
        refs: AtomicUsize,
        value: UnsafeCell<u64>,
        other: UnsafeCell<u64>,
    }
    struct NodeRef(*mut Node);
    // SAFETY: the node is freed once, by the last owner, after an AcqRel
    // decrement has ordered every owner's accesses before it.
    unsafe impl Send for NodeRef {}
    impl NodeRef {
        fn read_and_release(self) -> u64 {
            let node = self.0;
            // SAFETY: this reference keeps the node alive until the
            // decrement; the closure does not use it after.
            unsafe {
                (*node).value.with(|p| {
                    let v = *p + (*node).other.with(|q| *q);
                    if (*node).refs.fetch_sub(1, AcqRel) == 1 {
                        (*node).other.with_mut(|q| *q = 0);
                        drop(Box::from_raw(node));
                    }
                    v
                })
            }
        }
    }
    for _ in 0..50 {
        let node = Box::into_raw(Box::new(Node {
            refs: AtomicUsize::new(2),
            value: UnsafeCell::new(9),
            other: UnsafeCell::new(0),
        }));
        let (a, b) = (NodeRef(node), NodeRef(node));
        let t = thread::spawn(move || a.read_and_release());
        assert_eq!(b.read_and_release(), 9);
        assert_eq!(t.join().unwrap(), 9);
    }
    assert_silent(file!(), first, line!());
}

#[test]
fn unsafe_cell_closure_that_frees_its_cell_leaves_the_memory_as_it_left_it() {
    // The deterministic form of the test above: the closure drops the
    // node and zeroes its memory (as a freeing allocator might); nothing
    // of racedet's may write there after the closure returns.
    struct Node {
        value: UnsafeCell<u64>,
    }
    const SIZE: usize = std::mem::size_of::<Node>();
    for _ in 0..20 {
        let node = Box::into_raw(Box::new(Node {
            value: UnsafeCell::new(9),
        }));
        // SAFETY: the node is ours; after the closure drops it and zeroes
        // its bytes only those bytes are read, and then it is deallocated.
        let v = unsafe {
            (*node).value.with(|p| {
                let v = *p;
                std::ptr::drop_in_place(node);
                std::ptr::write_bytes(node as *mut u8, 0, SIZE);
                v
            })
        };
        assert_eq!(v, 9);
        let after = unsafe { std::ptr::read(node as *const [u8; SIZE]) };
        assert_eq!(
            after, [0; SIZE],
            "racedet touched the cell after its closure"
        );
        unsafe { std::alloc::dealloc(node as *mut u8, std::alloc::Layout::new::<Node>()) };
    }
}

#[test]
fn unsafe_cell_concurrent_reads_are_silent() {
    let first = line!();
    let m = Mailbox::new(7, true);
    let ts: Vec<_> = (0..3)
        .map(|_| {
            let m = m.clone();
            thread::spawn(move || m.value.with(|p| unsafe { *p }))
        })
        .collect();
    for t in ts {
        assert_eq!(t.join().unwrap(), 7);
    }
    let mut m = Arc::try_unwrap(m).ok().unwrap();
    *m.value.get_mut() += 1;
    assert_eq!(m.value.into_inner(), 8);
    assert_silent(file!(), first, line!());
}

#[test]
fn lock_guards_have_std_s_auto_trait_bounds() {
    // std: a guard is Sync when T is Sync (no Send needed), and shows T
    // with Display. A std guard is such a T: Sync, not Send.
    fn sync<T: Sync>() {}
    sync::<racedet::sync::MutexGuard<'static, std::sync::MutexGuard<'static, ()>>>();
    sync::<racedet::sync::RwLockReadGuard<'static, std::sync::MutexGuard<'static, ()>>>();
    sync::<racedet::sync::RwLockWriteGuard<'static, std::sync::MutexGuard<'static, ()>>>();
    let (m, rw) = (Mutex::new(7), racedet::sync::RwLock::new(8));
    assert_eq!(m.lock().unwrap().to_string(), "7");
    assert_eq!(rw.read().unwrap().to_string(), "8");
    assert_eq!(rw.write().unwrap().to_string(), "8");
}

#[test]
fn rwlock_shows_and_hands_back_its_value_as_std_s_does_poisoned_or_not() {
    // The value sits in a cache-line padded cell beside std's lock, which
    // guards the readers' epochs; none of that may show through Debug,
    // get_mut or into_inner.
    let mut rw = racedet::sync::RwLock::new(vec![1, 2]);
    assert_eq!(
        format!("{rw:?}"),
        format!("{:?}", std::sync::RwLock::new(vec![1, 2]))
    );
    rw.get_mut().unwrap().push(3);
    let rw = std::sync::Arc::new(rw);
    let poisoner = rw.clone();
    let _ = std::thread::spawn(move || {
        let _guard = poisoner.write().unwrap();
        panic!("poison the lock");
    })
    .join();
    let mut rw = std::sync::Arc::into_inner(rw).unwrap();
    assert!(rw.is_poisoned());
    let std_rw = std::sync::RwLock::new(vec![1, 2, 3]);
    let _ = std::panic::catch_unwind(|| {
        let _guard = std_rw.write().unwrap();
        panic!("poison the lock");
    });
    assert_eq!(format!("{rw:?}"), format!("{std_rw:?}"));
    assert_eq!(*rw.get_mut().unwrap_err().into_inner(), vec![1, 2, 3]);
    assert_eq!(rw.into_inner().unwrap_err().into_inner(), vec![1, 2, 3]);
    let clean = racedet::sync::RwLock::new(4);
    assert_eq!(clean.into_inner().unwrap(), 4);
}
