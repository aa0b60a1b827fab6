//! Scenario corpus: threads (spawn, join, scopes), Barrier, Once/OnceLock,
//! park/unpark, annotations and UnsafeCell, after ThreadSanitizer's lit
//! tests (`compiler-rt/test/tsan/simple_race.cpp`,
//! `race_with_finished_thread.cpp`, `barrier.cpp`, `static_init*.cpp`,
//! `annotate_happens_before.cpp`, `custom_mutex*.cpp`) and Go's race tests
//! where they have an equivalent.
//!
//! Conventions (counted by `corpus_count.rs`): a race case calls
//! `expect_race`, checks the kind, and then checks nothing else in its body
//! was reported; a no-race case calls `assert_silent` over its whole body.

use racedet::annotate::{happens_after, happens_before};
use racedet::cell::{RaceCell, UnsafeCell};
use racedet::reports::ReportKind;
use racedet::sync::atomic::{AtomicUsize, Ordering};
use racedet::sync::mpsc::{channel, sync_channel};
use racedet::sync::{Arc, Barrier, Mutex, Once, OnceLock, RwLock};
use racedet::thread::{self, JoinHandle};
use racedet_tests::{
    assert_silent, assert_threads, cell, expect_race, expect_race_by, site, spawn_named, Signal,
};
use std::hint::black_box;
use std::time::Duration;

/// An `UnsafeCell` shared between threads by unsafe code; racedet checks
/// every `with` / `with_mut`.
struct Shared<T>(UnsafeCell<T>);

// SAFETY: test type; every scenario either orders its accesses or is a
// race case about exactly that (racedet checks each access).
unsafe impl<T: Send> Sync for Shared<T> {}

fn shared<T>(v: T) -> Arc<Shared<T>> {
    Arc::new(Shared(UnsafeCell::new(v)))
}

// ---------------------------------------------------------- spawn / join

#[test]
fn two_threads_writing_a_global_in_loops_race_once() {
    // TSan: simple_race.cpp
    let first = line!();
    let global = cell(0);
    let (g1, g2) = (global.clone(), global.clone());
    let a = spawn_named("simple-race-a", move || {
        let mut l = 0;
        for _ in 0..10 {
            l = site!(g1.set(42));
        }
        l
    });
    let b = spawn_named("simple-race-b", move || {
        let mut l = 0;
        for _ in 0..10 {
            l = site!(g2.set(43));
        }
        l
    });
    let (la, lb) = (a.join().unwrap(), b.join().unwrap());
    let r = expect_race_by(
        file!(),
        [(la, Some("simple-race-a")), (lb, Some("simple-race-b"))],
    );
    assert_eq!(r.kind, ReportKind::DataRace);
    assert!(r.current.write && r.previous.write);
    assert_silent(file!(), first, line!());
}

#[test]
fn a_finished_but_unjoined_thread_is_not_ordered_before_a_later_writer() {
    // TSan: race_with_finished_thread.cpp
    let first = line!();
    let g = cell(0);
    let finished = Arc::new(Signal::default());
    let (g1, f1) = (g.clone(), finished.clone());
    let a = spawn_named("unjoined-a", move || {
        let l = site!(g1.set(42));
        f1.raise();
        l
    });
    let g2 = g.clone();
    let b = spawn_named("unjoined-b", move || {
        finished.wait();
        while !a.is_finished() {
            std::thread::yield_now();
        }
        let l = site!(g2.set(43));
        (l, a)
    });
    let (lb, a) = b.join().unwrap();
    let la = a.join().unwrap();
    let r = expect_race_by(
        file!(),
        [(la, Some("unjoined-a")), (lb, Some("unjoined-b"))],
    );
    assert_eq!(r.kind, ReportKind::DataRace);
    assert!(r.to_text().contains("finished"), "{}", r.to_text());
    assert_silent(file!(), first, line!());
}

#[test]
fn is_finished_does_not_synchronize() {
    let first = line!();
    let x = cell(0);
    let x1 = x.clone();
    let t = spawn_named("is-finished-does", move || site!(x1.set(1)));
    while !t.is_finished() {
        std::thread::yield_now();
    }
    let lr = site!(black_box(x.get()));
    let lw = t.join().unwrap();
    let r = expect_race(file!(), lr, lw);
    assert_eq!(r.kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
    assert_threads(&r, [(lr, None), (lw, Some("is-finished-does"))]);
}

#[test]
fn joining_one_thread_then_spawning_another_orders_them() {
    let first = line!();
    let x = cell(0);
    let x1 = x.clone();
    thread::spawn(move || x1.set(1)).join().unwrap();
    let x2 = x.clone();
    thread::spawn(move || x2.set(2)).join().unwrap();
    assert_eq!(x.get(), 2);
    assert_silent(file!(), first, line!());
}

#[test]
fn child_write_after_spawning_a_grandchild_races_with_it() {
    let first = line!();
    let x = cell(0);
    let x1 = x.clone();
    let child = spawn_named("spawning-child", move || {
        let x2 = x1.clone();
        let grandchild = spawn_named("spawned-grandchild", move || site!(black_box(x2.get())));
        let lw = site!(x1.set(1));
        (lw, grandchild.join().unwrap())
    });
    let (lw, lr) = child.join().unwrap();
    let sides = [
        (lw, Some("spawning-child")),
        (lr, Some("spawned-grandchild")),
    ];
    assert_eq!(expect_race_by(file!(), sides).kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
}

#[test]
fn value_returned_through_join_is_owned_by_the_joiner() {
    let first = line!();
    let t = thread::spawn(|| {
        let c = cell(0);
        c.set(5);
        c
    });
    let c = t.join().unwrap();
    c.set(c.get() + 1);
    assert_eq!(c.get(), 6);
    assert_silent(file!(), first, line!());
}

#[test]
fn builder_spawned_thread_is_ordered_like_spawn() {
    let first = line!();
    let x = cell(0);
    x.set(1);
    let x1 = x.clone();
    let t = thread::Builder::new()
        .name("corpus-builder".into())
        .stack_size(256 * 1024)
        .spawn(move || {
            assert_eq!(x1.get(), 1);
            x1.set(2);
        })
        .unwrap();
    t.join().unwrap();
    assert_eq!(x.get(), 2);
    assert_silent(file!(), first, line!());
}

#[test]
fn thread_joined_by_a_sibling_is_ordered_before_the_sibling() {
    let first = line!();
    let x = cell(0);
    let (tx, rx) = channel::<JoinHandle<()>>();
    let x1 = x.clone();
    let joiner = thread::spawn(move || {
        let h = rx.recv().unwrap();
        h.join().unwrap();
        x1.set(2);
    });
    let x2 = x.clone();
    tx.send(thread::spawn(move || x2.set(1))).unwrap();
    joiner.join().unwrap();
    assert_eq!(x.get(), 2);
    assert_silent(file!(), first, line!());
}

// --------------------------------------------------------- scoped threads

#[test]
fn scoped_threads_writing_disjoint_cells_are_not_a_race() {
    let first = line!();
    let cells: Vec<RaceCell<i64>> = (0..3).map(|_| RaceCell::new(0)).collect();
    thread::scope(|s| {
        for (i, c) in cells.iter().enumerate() {
            s.spawn(move || c.set(i as i64 + 1));
        }
    });
    assert_eq!(cells.iter().map(|c| c.get()).sum::<i64>(), 6);
    assert_silent(file!(), first, line!());
}

#[test]
fn owner_write_during_the_scope_races_with_a_scoped_reader() {
    let first = line!();
    let x = RaceCell::new(0i64);
    let (lw, lr) = thread::scope(|s| {
        let h = thread::Builder::new()
            .name("scoped-reader".to_string())
            .spawn_scoped(s, || site!(black_box(x.get())))
            .unwrap();
        let lw = site!(x.set(1));
        (lw, h.join().unwrap())
    });
    let sides = [(lw, None), (lr, Some("scoped-reader"))];
    assert_eq!(expect_race_by(file!(), sides).kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
}

#[test]
fn owner_write_before_the_scoped_spawn_is_visible_to_it() {
    let first = line!();
    let x = RaceCell::new(0i64);
    thread::scope(|s| {
        x.set(1);
        s.spawn(|| {
            assert_eq!(x.get(), 1);
            x.set(2);
        });
    });
    assert_eq!(x.get(), 2);
    assert_silent(file!(), first, line!());
}

#[test]
fn scoped_join_orders_the_thread_before_the_rest_of_the_scope() {
    let first = line!();
    let x = RaceCell::new(0i64);
    thread::scope(|s| {
        let h = s.spawn(|| x.set(1));
        h.join().unwrap();
        x.set(2);
        s.spawn(|| assert_eq!(x.get(), 2));
    });
    assert_silent(file!(), first, line!());
}

#[test]
fn nested_scopes_order_inner_threads_before_the_outer_thread_continues() {
    let first = line!();
    let (x, y) = (RaceCell::new(0i64), RaceCell::new(0i64));
    thread::scope(|outer| {
        outer.spawn(|| {
            thread::scope(|inner| {
                inner.spawn(|| x.set(1));
                inner.spawn(|| y.set(1));
            });
            x.set(x.get() + y.get());
        });
    });
    assert_eq!(x.get(), 2);
    assert_silent(file!(), first, line!());
}

#[test]
fn builder_spawn_scoped_and_threads_spawned_by_scoped_threads_end_with_the_scope() {
    let first = line!();
    let (x, y) = (RaceCell::new(0i64), RaceCell::new(0i64));
    thread::scope(|s| {
        thread::Builder::new()
            .name("corpus-scoped".into())
            .spawn_scoped(s, || {
                x.set(1);
                s.spawn(|| {
                    assert_eq!(x.get(), 1);
                    y.set(1);
                });
            })
            .unwrap();
    });
    assert_eq!(x.get() + y.get(), 2);
    assert_silent(file!(), first, line!());
}

// ---------------------------------------------------------------- Barrier

#[test]
fn stencil_with_a_barrier_between_steps_is_not_a_race() {
    // TSan: barrier.cpp (double-buffered stencil, one barrier per step)
    const SIZE: usize = 4;
    const ITER: usize = 10;
    let first = line!();
    let data: Arc<[Vec<RaceCell<i64>>; 2]> = Arc::new([
        (0..SIZE).map(|i| RaceCell::new(i as i64)).collect(),
        (0..SIZE).map(|_| RaceCell::new(0)).collect(),
    ]);
    let barrier = Arc::new(Barrier::new(SIZE));
    let ts: Vec<_> = (0..SIZE)
        .map(|idx| {
            let (data, barrier) = (data.clone(), barrier.clone());
            thread::spawn(move || {
                for i in 0..ITER {
                    let (prev, curr) = (&data[i % 2], &data[(i + 1) % 2]);
                    let left = if idx > 0 { prev[idx - 1].get() } else { 0 };
                    let right = if idx + 1 < SIZE {
                        prev[idx + 1].get()
                    } else {
                        0
                    };
                    curr[idx].set((left + right) / 2);
                    barrier.wait();
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
fn writes_after_the_same_barrier_generation_race() {
    let first = line!();
    let x = cell(0);
    let barrier = Arc::new(Barrier::new(2));
    let (x1, b1, x2, b2) = (x.clone(), barrier.clone(), x.clone(), barrier.clone());
    let a = spawn_named("same-generation-a", move || {
        b1.wait();
        site!(x1.set(1))
    });
    let b = spawn_named("same-generation-b", move || {
        b2.wait();
        site!(x2.set(2))
    });
    let (la, lb) = (a.join().unwrap(), b.join().unwrap());
    let sides = [
        (la, Some("same-generation-a")),
        (lb, Some("same-generation-b")),
    ];
    assert_eq!(expect_race_by(file!(), sides).kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
}

#[test]
fn barrier_generations_do_not_order_each_other() {
    // Four threads on a barrier of two: A and B fill generation 1, C and D
    // generation 2. A's write before generation 1 is not ordered before
    // C's read after generation 2.
    let first = line!();
    let x = cell(0);
    let barrier = Arc::new(Barrier::new(2));
    let gen1_done = Arc::new(Signal::default());
    let (xa, ba, ga) = (x.clone(), barrier.clone(), gen1_done.clone());
    let a = spawn_named("barrier-gen1-a", move || {
        let l = site!(xa.set(1));
        ba.wait();
        ga.raise();
        l
    });
    let bb = barrier.clone();
    let b = thread::spawn(move || {
        bb.wait();
    });
    let (xc, bc, gc) = (x.clone(), barrier.clone(), gen1_done.clone());
    let c = spawn_named("barrier-gen2-c", move || {
        gc.wait();
        bc.wait();
        site!(black_box(xc.get()))
    });
    let (bd, gd) = (barrier.clone(), gen1_done.clone());
    let d = thread::spawn(move || {
        gd.wait();
        bd.wait();
    });
    let la = a.join().unwrap();
    b.join().unwrap();
    let lc = c.join().unwrap();
    d.join().unwrap();
    let sides = [(la, Some("barrier-gen1-a")), (lc, Some("barrier-gen2-c"))];
    assert_eq!(expect_race_by(file!(), sides).kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
}

// ------------------------------------------------------ Once / OnceLock

#[test]
fn once_initialized_value_published_by_a_relaxed_store_races() {
    // TSan: static_init3.cpp: the reader never goes through the once.
    let first = line!();
    let cache = cell(0);
    let once: Arc<OnceLock<usize>> = Arc::new(OnceLock::new());
    let queue = Arc::new(AtomicUsize::new(0));
    let (c1, o1, q1) = (cache.clone(), once.clone(), queue.clone());
    let a = spawn_named("static-init-a", move || {
        let mut l = 0;
        let v = *o1.get_or_init(|| {
            l = site!(c1.set(12345));
            1
        });
        q1.store(v, Ordering::Relaxed);
        l
    });
    let (c2, q2) = (cache.clone(), queue.clone());
    let b = spawn_named("static-init-b", move || {
        while q2.load(Ordering::Relaxed) == 0 {
            std::thread::yield_now();
        }
        site!(black_box(c2.get()))
    });
    let (la, lb) = (a.join().unwrap(), b.join().unwrap());
    let sides = [(la, Some("static-init-a")), (lb, Some("static-init-b"))];
    assert_eq!(expect_race_by(file!(), sides).kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
}

#[test]
fn once_initialized_value_published_by_a_release_store_is_not_a_race() {
    // TSan: static_init3.cpp with the publication fixed.
    let first = line!();
    let cache = cell(0);
    let once: Arc<OnceLock<usize>> = Arc::new(OnceLock::new());
    let queue = Arc::new(AtomicUsize::new(0));
    let (c1, o1, q1) = (cache.clone(), once.clone(), queue.clone());
    let a = thread::spawn(move || {
        let v = *o1.get_or_init(|| {
            c1.set(12345);
            1
        });
        q1.store(v, Ordering::Release);
    });
    let (c2, q2) = (cache.clone(), queue.clone());
    let b = thread::spawn(move || {
        while q2.load(Ordering::Acquire) == 0 {
            std::thread::yield_now();
        }
        assert_eq!(c2.get(), 12345);
    });
    a.join().unwrap();
    b.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn call_once_that_did_not_run_the_initializer_publishes_nothing_to_it() {
    let first = line!();
    let x = cell(0);
    let once = Arc::new(Once::new());
    let initialized = Arc::new(Signal::default());
    let (xb, ob, ib) = (x.clone(), once.clone(), initialized.clone());
    let b = spawn_named("call-once-runner-b", move || {
        let mut l = 0;
        ob.call_once(|| l = site!(black_box(xb.get())));
        ib.raise();
        l
    });
    let (xa, oa) = (x.clone(), once.clone());
    let a = spawn_named("call-once-late-a", move || {
        initialized.wait();
        let l = site!(xa.set(1));
        oa.call_once(|| unreachable!("already initialized"));
        l
    });
    let (lb, la) = (b.join().unwrap(), a.join().unwrap());
    let sides = [
        (la, Some("call-once-late-a")),
        (lb, Some("call-once-runner-b")),
    ];
    assert_eq!(expect_race_by(file!(), sides).kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
}

#[test]
fn failed_oncelock_set_still_observes_the_initialization() {
    let first = line!();
    let x = cell(0);
    let lock: Arc<OnceLock<u8>> = Arc::new(OnceLock::new());
    let set = Arc::new(Signal::default());
    let (x1, l1, s1) = (x.clone(), lock.clone(), set.clone());
    let t = thread::spawn(move || {
        x1.set(1);
        l1.set(5).unwrap();
        s1.raise();
    });
    set.wait();
    assert_eq!(lock.set(6), Err(6));
    assert_eq!(x.get(), 1);
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn oncelock_wait_sees_the_initialization() {
    let first = line!();
    let x = cell(0);
    let lock: Arc<OnceLock<u8>> = Arc::new(OnceLock::new());
    let (x1, l1) = (x.clone(), lock.clone());
    let t = thread::spawn(move || {
        x1.set(1);
        let _ = l1.set(5);
    });
    assert_eq!(*lock.wait(), 5);
    assert_eq!(x.get(), 1);
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn oncelock_get_that_finds_nothing_orders_nothing() {
    let first = line!();
    let x = cell(0);
    let lock: Arc<OnceLock<u8>> = Arc::new(OnceLock::new());
    let (written, looked) = (Arc::new(Signal::default()), Arc::new(Signal::default()));
    let (x1, l1, w1, k1) = (x.clone(), lock.clone(), written.clone(), looked.clone());
    let t = spawn_named("oncelock-get-that", move || {
        let l = site!(x1.set(1));
        w1.raise();
        k1.wait();
        l1.set(5).unwrap();
        l
    });
    written.wait();
    assert!(lock.get().is_none());
    let lr = site!(black_box(x.get()));
    looked.raise();
    let lw = t.join().unwrap();
    let r = expect_race(file!(), lr, lw);
    assert_eq!(r.kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
    assert_threads(&r, [(lr, None), (lw, Some("oncelock-get-that"))]);
}

#[test]
fn once_initializer_in_one_thread_and_every_caller_after_it_are_not_a_race() {
    // TSan: static_init1.cpp / static_init2.cpp (a function-local static).
    let first = line!();
    static INIT: Once = Once::new();
    static VALUE: std::sync::LazyLock<RaceCell<i64>> =
        std::sync::LazyLock::new(|| RaceCell::new(0));
    let ts: Vec<_> = (0..3)
        .map(|_| {
            thread::spawn(|| {
                INIT.call_once(|| VALUE.set(rand_like()));
                VALUE.get()
            })
        })
        .collect();
    let vals: Vec<_> = ts.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(vals.iter().all(|v| *v == vals[0]));
    assert_silent(file!(), first, line!());
}

fn rand_like() -> i64 {
    black_box(4)
}

// ------------------------------------------------------------ park/unpark

#[test]
fn unpark_through_a_std_handle_orders_nothing() {
    let first = line!();
    let x = cell(0);
    let unparked = Arc::new(Signal::default());
    let (x1, u1) = (x.clone(), unparked.clone());
    let parker = spawn_named("unpark-through-a", move || {
        u1.wait();
        thread::park();
        site!(black_box(x1.get()))
    });
    let std_handle: std::thread::Thread = parker.thread().clone().into();
    let lw = site!(x.set(1));
    std_handle.unpark();
    unparked.raise();
    let lr = parker.join().unwrap();
    let r = expect_race(file!(), lw, lr);
    assert_eq!(r.kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
    assert_threads(&r, [(lw, None), (lr, Some("unpark-through-a"))]);
}

#[test]
fn park_timeout_that_times_out_orders_nothing() {
    let first = line!();
    let x = cell(0);
    let written = Arc::new(Signal::default());
    let (x1, w1) = (x.clone(), written.clone());
    let parker = spawn_named("park-timeout-that", move || {
        while !w1.is_raised() {
            thread::park_timeout(Duration::from_millis(1));
        }
        site!(black_box(x1.get()))
    });
    let lw = site!(x.set(1));
    written.raise();
    let lr = parker.join().unwrap();
    let r = expect_race(file!(), lw, lr);
    assert_eq!(r.kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
    assert_threads(&r, [(lw, None), (lr, Some("park-timeout-that"))]);
}

#[test]
fn ping_pong_by_park_and_unpark_is_not_a_race() {
    // Whose turn it is lives in a std atomic (no edge): only each unpark,
    // made before the turn is handed over, orders the two threads.
    let first = line!();
    let x = cell(0);
    let turn = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (tx, rx) = sync_channel(1);
    let (x1, turn1) = (x.clone(), turn.clone());
    let other = thread::spawn(move || {
        let main_thread: thread::Thread = rx.recv().unwrap();
        for round in 0..5 {
            while turn1.load(std::sync::atomic::Ordering::SeqCst) != 2 * round + 1 {
                std::thread::yield_now();
            }
            thread::park();
            x1.set(x1.get() + 1);
            main_thread.unpark();
            turn1.store(2 * round + 2, std::sync::atomic::Ordering::SeqCst);
        }
    });
    tx.send(thread::current()).unwrap();
    for round in 0..5 {
        if round > 0 {
            while turn.load(std::sync::atomic::Ordering::SeqCst) != 2 * round {
                std::thread::yield_now();
            }
            thread::park();
        }
        x.set(x.get() + 1);
        other.thread().unpark();
        turn.store(2 * round + 1, std::sync::atomic::Ordering::SeqCst);
    }
    other.join().unwrap();
    assert_eq!(x.get(), 10);
    assert_silent(file!(), first, line!());
}

// ------------------------------------------------------------ Annotations

static ANNOTATED_BARRIER: u64 = 1;
static TOKEN_PUBLISHED: u64 = 2;
static TOKEN_ELSEWHERE: u64 = 3;
static TOKEN_EARLY: u64 = 4;
static TOKEN_MANY: u64 = 5;

#[test]
fn annotations_around_a_barrier_racedet_cannot_see_are_not_a_race() {
    // TSan: annotate_happens_before.cpp
    let first = line!();
    let global = cell(0);
    let barrier = Arc::new(std::sync::Barrier::new(2));
    let (g1, b1) = (global.clone(), barrier.clone());
    let t1 = thread::spawn(move || {
        b1.wait();
        happens_after(&ANNOTATED_BARRIER);
        g1.update(|v| v + 1);
    });
    let (g2, b2) = (global.clone(), barrier.clone());
    let t2 = thread::spawn(move || {
        g2.update(|v| v - 1);
        happens_before(&ANNOTATED_BARRIER);
        b2.wait();
    });
    t1.join().unwrap();
    t2.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn arc_clones_dropped_without_a_join_order_their_accesses_once_annotated() {
    // racedet's `Arc` is std's (a wrapper could not coerce to `Arc<dyn
    // Trait>` on stable Rust), so its counts order nothing for racedet:
    // the README's remedy for code that relies on them is an annotation
    // on the shared value before a clone is dropped and before the last
    // owner uses it alone.
    let first = line!();
    let mut x = cell(0);
    let x2 = x.clone();
    drop(thread::spawn(move || {
        x2.set(1);
        happens_before(&*x2);
    }));
    while Arc::strong_count(&x) > 1 {
        std::thread::yield_now();
    }
    happens_after(&*x);
    Arc::get_mut(&mut x).expect("the last owner").set(2);
    assert_silent(file!(), first, line!());
}

#[test]
fn happens_after_on_another_address_orders_nothing() {
    let first = line!();
    let x = cell(0);
    let published = Arc::new(Signal::default());
    let (x1, p1) = (x.clone(), published.clone());
    let t = spawn_named("happens-after-on", move || {
        let l = site!(x1.set(1));
        happens_before(&TOKEN_PUBLISHED);
        p1.raise();
        l
    });
    published.wait();
    happens_after(&TOKEN_ELSEWHERE);
    let lr = site!(black_box(x.get()));
    let lw = t.join().unwrap();
    let r = expect_race(file!(), lr, lw);
    assert_eq!(r.kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
    assert_threads(&r, [(lr, None), (lw, Some("happens-after-on"))]);
}

#[test]
fn happens_after_made_before_the_happens_before_orders_nothing() {
    let first = line!();
    let x = cell(0);
    let (acquired, published) = (Arc::new(Signal::default()), Arc::new(Signal::default()));
    let (x1, a1, p1) = (x.clone(), acquired.clone(), published.clone());
    let t = spawn_named("happens-after-made", move || {
        a1.wait();
        let l = site!(x1.set(1));
        happens_before(&TOKEN_EARLY);
        p1.raise();
        l
    });
    happens_after(&TOKEN_EARLY);
    acquired.raise();
    published.wait();
    let lr = site!(black_box(x.get()));
    let lw = t.join().unwrap();
    let r = expect_race(file!(), lr, lw);
    assert_eq!(r.kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
    assert_threads(&r, [(lr, None), (lw, Some("happens-after-made"))]);
}

#[test]
fn happens_after_sees_every_earlier_happens_before_on_the_address() {
    let first = line!();
    let (x, y) = (cell(0), cell(0));
    let (px, py) = (Arc::new(Signal::default()), Arc::new(Signal::default()));
    let (x1, px1) = (x.clone(), px.clone());
    let a = thread::spawn(move || {
        x1.set(1);
        happens_before(&TOKEN_MANY);
        px1.raise();
    });
    let (y1, py1) = (y.clone(), py.clone());
    let b = thread::spawn(move || {
        y1.set(1);
        happens_before(&TOKEN_MANY);
        py1.raise();
    });
    px.wait();
    py.wait();
    happens_after(&TOKEN_MANY);
    assert_eq!(x.get() + y.get(), 2);
    a.join().unwrap();
    b.join().unwrap();
    assert_silent(file!(), first, line!());
}

/// A hand-written spin lock on std atomics (invisible to racedet),
/// optionally annotated as TSan's custom-mutex tests annotate theirs.
struct SpinLock {
    locked: std::sync::atomic::AtomicBool,
    annotated: bool,
}

impl SpinLock {
    fn new(annotated: bool) -> SpinLock {
        SpinLock {
            locked: std::sync::atomic::AtomicBool::new(false),
            annotated,
        }
    }

    fn lock(&self) {
        while self.locked.swap(true, std::sync::atomic::Ordering::Acquire) {
            std::thread::yield_now();
        }
        if self.annotated {
            happens_after(self);
        }
    }

    fn unlock(&self) {
        if self.annotated {
            happens_before(self);
        }
        self.locked
            .store(false, std::sync::atomic::Ordering::Release);
    }
}

#[test]
fn annotated_custom_spin_lock_orders_its_critical_sections() {
    // TSan: custom_mutex0.cpp (a user mutex annotated for the detector)
    let first = line!();
    let x = cell(0);
    let lock = Arc::new(SpinLock::new(true));
    let ts: Vec<_> = (0..3)
        .map(|_| {
            let (x, lock) = (x.clone(), lock.clone());
            thread::spawn(move || {
                for _ in 0..50 {
                    lock.lock();
                    x.set(x.get() + 1);
                    lock.unlock();
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
fn unannotated_custom_spin_lock_is_invisible_and_races() {
    let first = line!();
    let x = cell(0);
    let lock = Arc::new(SpinLock::new(false));
    let released = Arc::new(Signal::default());
    let (xa, la, ra) = (x.clone(), lock.clone(), released.clone());
    let a = spawn_named("custom-spin-a", move || {
        la.lock();
        let l = site!(xa.set(1));
        la.unlock();
        ra.raise();
        l
    });
    let (xb, lb) = (x.clone(), lock.clone());
    let b = spawn_named("custom-spin-b", move || {
        released.wait();
        lb.lock();
        let l = site!(xb.set(2));
        lb.unlock();
        l
    });
    let (la, lb) = (a.join().unwrap(), b.join().unwrap());
    let sides = [(la, Some("custom-spin-a")), (lb, Some("custom-spin-b"))];
    assert_eq!(expect_race_by(file!(), sides).kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
}

// ------------------------------------------------------------- UnsafeCell

#[test]
fn unsafe_cell_writes_from_two_threads_race() {
    let first = line!();
    let c = shared(0u64);
    let (c1, c2) = (c.clone(), c.clone());
    let a = spawn_named("unsafe-cell-pair-a", move || {
        site!(c1.0.with_mut(|p| unsafe { *p = 1 }))
    });
    let b = spawn_named("unsafe-cell-pair-b", move || {
        site!(c2.0.with_mut(|p| unsafe { *p = 2 }))
    });
    let (la, lb) = (a.join().unwrap(), b.join().unwrap());
    let r = expect_race_by(
        file!(),
        [
            (la, Some("unsafe-cell-pair-a")),
            (lb, Some("unsafe-cell-pair-b")),
        ],
    );
    assert_eq!(r.kind, ReportKind::DataRace);
    assert_eq!(r.object.kind, "unsafe cell");
    assert!(r.current.write && r.previous.write);
    assert_silent(file!(), first, line!());
}

#[test]
fn unsafe_cell_read_under_read_locks_and_written_under_the_write_lock_is_not_a_race() {
    let first = line!();
    let c = shared(vec![0u64; 4]);
    let lock = Arc::new(RwLock::new(()));
    let mut ts = Vec::new();
    for i in 0..3usize {
        let (c, lock) = (c.clone(), lock.clone());
        ts.push(thread::spawn(move || {
            for _ in 0..20 {
                if i == 0 {
                    let _g = lock.write().unwrap();
                    // SAFETY: the write lock excludes every reader.
                    c.0.with_mut(|p| unsafe { (&mut *p)[0] += 1 });
                } else {
                    let _g = lock.read().unwrap();
                    // SAFETY: readers only read.
                    black_box(c.0.with(|p| unsafe { (&*p)[0] }));
                }
            }
        }));
    }
    for t in ts {
        t.join().unwrap();
    }
    // SAFETY: every thread was joined.
    assert_eq!(c.0.with(|p| unsafe { (&*p)[0] }), 20);
    assert_silent(file!(), first, line!());
}

#[test]
fn unsafe_cell_handed_over_through_a_channel_is_not_a_race() {
    let first = line!();
    let (tx, rx) = sync_channel(0);
    let t = thread::spawn(move || {
        let c = shared(String::from("a"));
        // SAFETY: not shared yet.
        c.0.with_mut(|p| unsafe { (*p).push('b') });
        tx.send(c).unwrap();
    });
    let c = rx.recv().unwrap();
    // SAFETY: the sender no longer touches it.
    c.0.with_mut(|p| unsafe { (*p).push('c') });
    assert_eq!(c.0.with(|p| unsafe { (*p).clone() }), "abc");
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn unsafe_cell_written_under_a_mutex_and_read_outside_it_races() {
    let first = line!();
    let c = shared(vec![0u64; 4]);
    let lock = Arc::new(Mutex::new(()));
    let (c1, l1) = (c.clone(), lock.clone());
    let t = spawn_named("unsafe-cell-written", move || {
        let _g = l1.lock().unwrap();
        // SAFETY: racedet checks it; the race is the point.
        site!(c1.0.with_mut(|p| unsafe { (&mut *p)[1] = 7 }))
    });
    // SAFETY: racedet checks it; the race is the point.
    let lr = site!(black_box(c.0.with(|p| unsafe { (&*p)[1] })));
    let lw = t.join().unwrap();
    let r = expect_race(file!(), lr, lw);
    assert_eq!(r.kind, ReportKind::DataRace);
    assert_eq!(r.object.kind, "unsafe cell");
    drop(lock);
    assert_silent(file!(), first, line!());
    assert_threads(&r, [(lr, None), (lw, Some("unsafe-cell-written"))]);
}
