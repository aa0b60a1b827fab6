//! Cells, spawn/join, scoped threads, Mutex and RwLock: race and no-race pairs.

use racedet::cell::{RaceCell, UnsafeCell};
use racedet::reports::ReportKind;
use racedet::sync::{Arc, Mutex, RwLock, RwLockWriteGuard};
use racedet::thread;
use racedet_tests::{
    assert_made_at, assert_ops, assert_silent, assert_threads, expect_race, expect_race_by,
    panic_of, readers_then_a_writer, site, spawn_named, wait_set, BumpOnDrop, Signal,
};

#[test]
fn unsynchronized_cell_write_and_read_race() {
    let first = line!();
    let x = Arc::new(RaceCell::new(0u64));
    let y = x.clone();
    // A stack size set after the name keeps the name (reports use it).
    let t = thread::Builder::new()
        .name("cell-writer".into())
        .stack_size(1 << 20)
        .spawn(move || site!(y.set(1)))
        .unwrap();
    let lr = site!(x.get());
    let lw = t.join().unwrap();
    let r = expect_race(file!(), lr, lw);
    assert_eq!(r.kind, ReportKind::DataRace);
    assert_eq!(r.object.kind, "cell");
    assert!(
        r.current.thread.label().contains("cell-writer")
            || r.previous.thread.label().contains("cell-writer")
    );
    assert_ops(&r, [(lr, "get"), (lw, "set")]);
    assert_threads(&r, [(lr, None), (lw, Some("cell-writer"))]);
    assert_silent(file!(), first, line!());
}

#[test]
fn cell_write_write_race_names_both_writes() {
    let first = line!();
    let x = Arc::new(RaceCell::new(0u8));
    let y = x.clone();
    let t = spawn_named("cell-updater", move || site!(y.update(|v| v + 1)));
    let l = site!(x.replace(5));
    let lt = t.join().unwrap();
    let r = expect_race_by(file!(), [(l, None), (lt, Some("cell-updater"))]);
    assert_eq!(r.kind, ReportKind::DataRace, "{}", r.to_text());
    assert!(r.current.write && r.previous.write);
    assert_ops(&r, [(l, "replace"), (lt, "update")]);
    assert_silent(file!(), first, line!());
}

/// Go's package-level variable: a `static` cell, made at compile time.
static COUNTER: RaceCell<u32> = RaceCell::new(0);
const COUNTER_LINE: u32 = line!() - 1;

#[test]
fn static_cell_written_by_two_threads_races_and_names_its_static() {
    let first = line!();
    let a = spawn_named("static-writer-a", || COUNTER.set(1));
    a.join().unwrap();
    // After the join: ordered (the silence check below covers it).
    COUNTER.set(2);
    let b = spawn_named("static-writer-b", || site!(COUNTER.update(|v| v + 1)));
    let lc = site!(COUNTER.set(3));
    let lb = b.join().unwrap();
    let r = expect_race_by(file!(), [(lb, Some("static-writer-b")), (lc, None)]);
    assert_eq!(r.kind, ReportKind::DataRace, "{}", r.to_text());
    assert_eq!(r.object.kind, "cell");
    assert_made_at(&r, COUNTER_LINE);
    assert_silent(file!(), first, line!());
}

#[test]
fn spawn_unchecked_borrows_and_its_join_orders_like_spawn() {
    let first = line!();
    // A cell on this stack, borrowed by the thread (no `Arc`, no scope).
    let x = RaceCell::new(0u32);
    let builder = thread::Builder::new().name("unchecked-writer".into());
    // SAFETY: joined below, before `x` goes.
    let t = unsafe { builder.spawn_unchecked(|| site!(x.set(1))) }.unwrap();
    let lr = site!(x.get());
    let lw = t.join().unwrap();
    let r = expect_race_by(file!(), [(lr, None), (lw, Some("unchecked-writer"))]);
    assert_eq!(r.kind, ReportKind::DataRace, "{}", r.to_text());
    // After the join: ordered.
    x.set(2);
    assert_silent(file!(), first, line!());
}

#[test]
fn cell_handed_over_by_join_is_silent() {
    let first = line!();
    let x = Arc::new(RaceCell::new(0u64));
    let y = x.clone();
    thread::spawn(move || y.set(y.get() + 1)).join().unwrap();
    x.set(x.get() + 1);
    assert_eq!(x.get(), 2);
    assert_silent(file!(), first, line!());
}

#[test]
fn cell_under_mutex_is_silent() {
    let first = line!();
    let x = Arc::new(RaceCell::new(0u64));
    let lock = Arc::new(Mutex::new(()));
    let ts: Vec<_> = (0..4)
        .map(|_| {
            let (x, lock) = (x.clone(), lock.clone());
            thread::spawn(move || {
                for _ in 0..1000 {
                    let _g = lock.lock().unwrap();
                    x.set(x.get() + 1);
                }
            })
        })
        .collect();
    for t in ts {
        t.join().unwrap();
    }
    assert_eq!(x.get(), 4000);
    assert_silent(file!(), first, line!());
}

#[test]
fn write_outside_the_mutex_races_with_write_inside() {
    let first = line!();
    let x = Arc::new(RaceCell::new(0u64));
    let lock = Arc::new(Mutex::new(()));
    let (y, l2) = (x.clone(), lock.clone());
    let t = spawn_named("locked-writer", move || {
        let _g = l2.lock().unwrap();
        site!(y.set(1))
    });
    let lo = site!(x.set(2));
    let li = t.join().unwrap();
    let r = expect_race(file!(), lo, li);
    assert_eq!(r.kind, ReportKind::DataRace);
    assert_threads(&r, [(lo, None), (li, Some("locked-writer"))]);
    drop(lock);
    assert_silent(file!(), first, line!());
}

#[test]
fn cell_update_that_publishes_before_it_returns_races_with_the_read_it_orders() {
    // `update` writes the closure's result when the closure returns: a
    // release inside the closure does not order that write.
    let first = line!();
    let x = Arc::new(RaceCell::new(0u32));
    let flag = Arc::new(racedet::sync::atomic::AtomicBool::new(false));
    let (x2, f2) = (x.clone(), flag.clone());
    let reader = spawn_named("update-reader", move || {
        wait_set(&f2, racedet::sync::atomic::Ordering::Acquire);
        site!(x2.get())
    });
    let lu = site!(x.update(|v| {
        flag.store(true, racedet::sync::atomic::Ordering::Release);
        v + 1
    }));
    let lr = reader.join().unwrap();
    let r = expect_race_by(file!(), [(lu, None), (lr, Some("update-reader"))]);
    assert_eq!(r.kind, ReportKind::DataRace);
    assert_ops(&r, [(lu, "update"), (lr, "get")]);
    assert_silent(file!(), first, line!());
}

#[test]
fn unsafe_cell_with_mut_races_with_with() {
    let first = line!();
    struct Shared(UnsafeCell<u32>);
    // SAFETY: test type; racedet checks every access.
    unsafe impl Sync for Shared {}
    let c = Arc::new(Shared(UnsafeCell::new(0)));
    let d = c.clone();
    let t = spawn_named("with-mut", move || {
        site!(d.0.with_mut(|p| unsafe { *p = 1 }))
    });
    let l = site!(c.0.with(|p| unsafe { *p }));
    let lt = t.join().unwrap();
    let r = expect_race_by(file!(), [(l, None), (lt, Some("with-mut"))]);
    assert_eq!(r.kind, ReportKind::DataRace);
    assert_eq!(r.object.kind, "unsafe cell");
    assert_silent(file!(), first, line!());
}

/// A `static` behind a type with its own `Sync`, as unsafe concurrent code
/// keeps its state (`UnsafeCell::new` is `const`, as std's).
struct StaticShared(UnsafeCell<u32>);
// SAFETY: test type; racedet checks every access.
unsafe impl Sync for StaticShared {}
static STATIC_SHARED: StaticShared = StaticShared(UnsafeCell::new(0));
const STATIC_SHARED_LINE: u32 = line!() - 1;

#[test]
fn static_unsafe_cell_writes_from_two_threads_race() {
    let first = line!();
    let t = spawn_named("static-with-mut", || {
        site!(STATIC_SHARED.0.with_mut(|p| unsafe { *p = 1 }))
    });
    let l = site!(STATIC_SHARED.0.with_mut(|p| unsafe { *p = 2 }));
    let lt = t.join().unwrap();
    let r = expect_race_by(file!(), [(l, None), (lt, Some("static-with-mut"))]);
    assert_eq!(r.kind, ReportKind::DataRace);
    assert_eq!(r.object.kind, "unsafe cell");
    assert_made_at(&r, STATIC_SHARED_LINE);
    assert_silent(file!(), first, line!());
}

#[test]
fn unsafe_cell_guarded_by_mutex_is_silent() {
    let first = line!();
    struct Shared(UnsafeCell<u32>, Mutex<()>);
    // SAFETY: every access to the cell holds the mutex.
    unsafe impl Sync for Shared {}
    let c = Arc::new(Shared(UnsafeCell::new(0), Mutex::new(())));
    let ts: Vec<_> = (0..3)
        .map(|_| {
            let c = c.clone();
            thread::spawn(move || {
                let _g = c.1.lock().unwrap();
                c.0.with_mut(|p| unsafe { *p += 1 });
            })
        })
        .collect();
    for t in ts {
        t.join().unwrap();
    }
    let mut c = Arc::try_unwrap(c).ok().unwrap();
    assert_eq!(*c.0.get_mut(), 3);
    assert_eq!(c.0.into_inner(), 3);
    assert_silent(file!(), first, line!());
}

#[test]
fn grandchild_write_is_ordered_before_parent_read_by_nested_joins() {
    let first = line!();
    let x = Arc::new(RaceCell::new(0u8));
    let y = x.clone();
    thread::spawn(move || {
        let z = y.clone();
        thread::spawn(move || z.set(7)).join().unwrap();
        assert_eq!(y.get(), 7);
    })
    .join()
    .unwrap();
    assert_eq!(x.get(), 7);
    assert_silent(file!(), first, line!());
}

#[test]
fn sibling_threads_are_not_ordered_by_their_parent() {
    let first = line!();
    let x = Arc::new(RaceCell::new(0u8));
    let (a, b) = (x.clone(), x.clone());
    let t1 = spawn_named("sibling-1", move || site!(a.set(1)));
    let t2 = spawn_named("sibling-2", move || site!(b.set(2)));
    let (l1, l2) = (t1.join().unwrap(), t2.join().unwrap());
    let r = expect_race(file!(), l1, l2);
    assert_eq!(r.kind, ReportKind::DataRace);
    assert_threads(&r, [(l1, Some("sibling-1")), (l2, Some("sibling-2"))]);
    assert_silent(file!(), first, line!());
}

#[test]
fn join_of_a_panicked_thread_still_orders_its_accesses() {
    let first = line!();
    let x = Arc::new(RaceCell::new(0u8));
    let y = x.clone();
    let r = thread::spawn(move || {
        y.set(1);
        panic!("expected panic in test");
    })
    .join();
    assert!(r.is_err());
    x.set(2);
    assert_silent(file!(), first, line!());
}

#[test]
fn scoped_threads_race_with_each_other_but_not_with_the_scope_owner_after() {
    let x = RaceCell::new(0u32);
    let mut lines = (0, 0);
    thread::scope(|s| {
        let h1 = thread::Builder::new()
            .name("scoped-1".into())
            .spawn_scoped(s, || site!(x.set(1)))
            .unwrap();
        let h2 = thread::Builder::new()
            .name("scoped-2".into())
            .spawn_scoped(s, || site!(x.set(2)))
            .unwrap();
        lines = (h1.join().unwrap(), h2.join().unwrap());
    });
    let first = line!();
    x.set(3);
    assert_eq!(x.get(), 3);
    let r = expect_race(file!(), lines.0, lines.1);
    assert_eq!(r.kind, ReportKind::DataRace);
    assert_threads(
        &r,
        [(lines.0, Some("scoped-1")), (lines.1, Some("scoped-2"))],
    );
    assert_silent(file!(), first, line!());
}

#[test]
fn scope_end_orders_unjoined_scoped_threads() {
    let first = line!();
    let x = RaceCell::new(0u32);
    thread::scope(|s| {
        s.spawn(|| x.set(1));
    });
    x.set(2);
    assert_silent(file!(), first, line!());
}

#[test]
fn scope_end_orders_scoped_threads_when_one_of_them_panicked() {
    let first = line!();
    let x = RaceCell::new(0u32);
    // std panics out of the scope after joining its threads; the caller
    // that catches that panic has seen what they did.
    let message = panic_of(|| {
        thread::scope(|s| {
            s.spawn(|| {
                x.set(1);
                panic!("expected panic in test");
            });
        })
    });
    assert_eq!(message, "a scoped thread panicked");
    assert_eq!(x.get(), 1);
    assert_silent(file!(), first, line!());
}

/// Raises its signal when dropped: marks how far an unwinding got.
struct RaiseOnDrop<'a>(&'a Signal);

impl Drop for RaiseOnDrop<'_> {
    fn drop(&mut self) {
        self.0.raise();
    }
}

#[test]
fn scope_end_orders_scoped_threads_when_the_body_panicked_even_ones_spawned_after() {
    let first = line!();
    let (x, y) = (RaceCell::new(0u32), RaceCell::new(0u32));
    let body_unwound = Signal::default();
    let message = panic_of(|| {
        thread::scope(|s| {
            s.spawn(|| {
                x.set(1);
                // Spawns into the scope after the body's panic has left
                // the body, while std waits for this thread.
                body_unwound.wait();
                s.spawn(|| y.set(2));
            });
            let _raise = RaiseOnDrop(&body_unwound);
            panic!("expected panic in test");
        })
    });
    assert_eq!(message, "expected panic in test");
    assert_eq!((x.get(), y.get()), (1, 2));
    assert_silent(file!(), first, line!());
}

#[test]
fn seventy_thousand_threads_never_joined_do_not_run_out_of_slots() {
    // Detached threads (their handles dropped), one alive at a time: more
    // than the 65 536 vector-clock slots over the run. Past the claim
    // threshold their slots are claimed, and a claim never invents a race:
    // the count, kept under a mutex, is read silently.
    let first = line!();
    let count = Arc::new(Mutex::new(RaceCell::new(0u32)));
    for _ in 0..70_000 {
        let count = count.clone();
        let h = thread::spawn(move || {
            let c = count.lock().unwrap();
            c.set(c.get() + 1);
        });
        while !h.is_finished() {
            std::thread::yield_now();
        }
        drop(h);
    }
    // The last thread may still be dropping its clone of `count`.
    let c = count.lock().unwrap();
    assert_eq!(c.get(), 70_000);
    assert_silent(file!(), first, line!());
}

/// A thread-local whose destructor runs `on_exit` once its thread ends
/// (after the thread's closure has returned).
struct AtExit(std::cell::Cell<Option<Box<dyn FnOnce()>>>);

impl Drop for AtExit {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            f();
        }
    }
}

thread_local! {
    static AT_EXIT: AtExit = const { AtExit(std::cell::Cell::new(None)) };
}

fn at_exit(f: impl FnOnce() + 'static) {
    AT_EXIT.with(|a| a.0.set(Some(Box::new(f))));
}

#[test]
fn a_send_from_a_thread_local_destructor_orders_the_thread_s_writes() {
    // Detached: only the channel, used in the destructor after the
    // closure returned, orders the write before the read.
    let first = line!();
    let x = Arc::new(RaceCell::new(0u64));
    let (tx, rx) = racedet::sync::mpsc::channel();
    let x2 = x.clone();
    drop(thread::spawn(move || {
        at_exit(move || tx.send(()).unwrap());
        x2.set(42);
    }));
    rx.recv().unwrap();
    assert_eq!(x.get(), 42);
    assert_silent(file!(), first, line!());
}

#[test]
fn a_scoped_thread_s_destructor_send_orders_it_and_its_later_writes_race_with_the_scope_owner() {
    let first = line!();
    let x = Arc::new(RaceCell::new(0u64));
    let (tx, rx) = racedet::sync::mpsc::channel();
    let (owner_wrote, dtor_wrote) = (Arc::new(Signal::default()), Arc::new(Signal::default()));
    let (lines, wrote_at) = std::sync::mpsc::channel::<u32>();
    thread::scope(|s| {
        let (xs, owner_wrote, dtor_wrote) = (x.clone(), owner_wrote.clone(), dtor_wrote.clone());
        s.spawn(move || {
            xs.set(1);
            at_exit(move || {
                // Seen by the scope body: the send is still the thread's.
                tx.send(()).unwrap();
                // std's scope has returned by now (it waits for closures,
                // not for destructors): this write is the owner's race.
                owner_wrote.wait();
                lines.send(site!(xs.set(3))).unwrap();
                dtor_wrote.raise();
            });
        });
        rx.recv().unwrap();
        assert_eq!(x.get(), 1);
    });
    let lo = site!(x.set(2));
    owner_wrote.raise();
    dtor_wrote.wait();
    let ld = wrote_at.recv().unwrap();
    let r = expect_race(file!(), ld, lo);
    assert_eq!(r.kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
}

#[test]
fn a_scoped_thread_s_closure_is_ordered_before_the_scope_s_end_while_its_destructors_still_run() {
    // The thread is still alive for the detector (its destructor waits for
    // the owner), yet its closure's write is ordered before the owner's
    // after the scope: std's scope waited for the closure.
    let first = line!();
    let y = Arc::new(RaceCell::new(0u64));
    let (owner_wrote, dtor_done) = (Arc::new(Signal::default()), Arc::new(Signal::default()));
    thread::scope(|s| {
        let (ys, owner_wrote, dtor_done) = (y.clone(), owner_wrote.clone(), dtor_done.clone());
        s.spawn(move || {
            ys.set(1);
            at_exit(move || {
                owner_wrote.wait();
                dtor_done.raise();
            });
        });
    });
    y.set(2);
    owner_wrote.raise();
    dtor_done.wait();
    assert_silent(file!(), first, line!());
}

#[test]
fn a_scoped_thread_s_unjoined_result_is_dropped_before_the_scope_ends() {
    // The handle is dropped while the thread still runs, so std drops the
    // thread's result on that thread, after its closure (and racedet's
    // release into the scope) but before std's scope returns.
    let first = line!();
    let x = Arc::new(RaceCell::new(0u64));
    let handle_dropped = Signal::default();
    // The thread stays alive for the detector (its thread-local destructor
    // waits) until the owner has written: only the scope orders the two.
    let owner_wrote = Arc::new(Signal::default());
    thread::scope(|s| {
        let h = s.spawn(|| {
            let owner_wrote = owner_wrote.clone();
            at_exit(move || owner_wrote.wait());
            handle_dropped.wait();
            BumpOnDrop(x.clone())
        });
        drop(h);
        handle_dropped.raise();
    });
    x.set(x.get() + 10);
    owner_wrote.raise();
    assert_eq!(x.get(), 11);
    assert_silent(file!(), first, line!());
}

#[test]
fn a_scoped_thread_s_unjoined_panic_payload_is_dropped_before_the_scope_ends() {
    // As the result above, for a thread that panicked: std drops the
    // payload on the thread, then the scope panics in its owner.
    let first = line!();
    let x = Arc::new(RaceCell::new(0u64));
    let handle_dropped = Signal::default();
    let owner_wrote = Arc::new(Signal::default());
    let scope_panic = panic_of(|| {
        thread::scope(|s| {
            let h = s.spawn(|| {
                let owner_wrote = owner_wrote.clone();
                at_exit(move || owner_wrote.wait());
                handle_dropped.wait();
                std::panic::panic_any(BumpOnDrop(x.clone()));
            });
            drop(h);
            handle_dropped.raise();
        })
    });
    assert!(scope_panic.contains("panicked"), "{scope_panic}");
    x.set(x.get() + 10);
    owner_wrote.raise();
    assert_eq!(x.get(), 11);
    assert_silent(file!(), first, line!());
}

#[test]
fn an_unjoined_result_or_payload_dropped_with_its_handle_after_the_thread_ended_is_silent() {
    // The thread has ended (std's `is_finished`), so dropping its handle
    // drops its result, or panic payload, on this thread: after the
    // thread's writes, which std's reference count orders.
    let first = line!();
    for panics in [false, true] {
        let body = move |x: Arc<RaceCell<u64>>| {
            x.set(1);
            let value = BumpOnDrop(x.clone());
            if panics {
                std::panic::panic_any(value);
            }
            value
        };
        let x = Arc::new(RaceCell::new(0u64));
        let x2 = x.clone();
        let h = thread::spawn(move || body(x2));
        while !h.is_finished() {
            thread::yield_now();
        }
        drop(h);
        assert_eq!(x.get(), 2, "dropped here, after the thread's write");
        // A scoped thread; the scope passes its panic on.
        let x = Arc::new(RaceCell::new(0u64));
        let scoped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            thread::scope(|s| {
                let x2 = x.clone();
                let h = s.spawn(move || body(x2));
                while !h.is_finished() {
                    thread::yield_now();
                }
                drop(h);
            })
        }));
        assert_eq!(scoped.is_err(), panics);
        assert_eq!(x.get(), 2);
    }
    assert_silent(file!(), first, line!());
}

#[test]
fn a_joined_scoped_thread_s_panic_payload_is_the_user_s() {
    let payload = thread::scope(|s| s.spawn(|| std::panic::panic_any(7u32)).join().unwrap_err());
    assert_eq!(payload.downcast_ref::<u32>(), Some(&7));
}

#[test]
fn join_returns_a_scoped_thread_s_result_ordered_after_the_thread() {
    let first = line!();
    let x = RaceCell::new(0u64);
    let v = thread::scope(|s| {
        let h = s.spawn(|| {
            x.set(1);
            vec![x.get()]
        });
        let v = h.join().unwrap();
        x.set(2);
        v
    });
    assert_eq!(v, [1]);
    assert_silent(file!(), first, line!());
}

#[test]
fn accesses_in_thread_local_destructors_are_checked_and_ordered_by_join() {
    let first = line!();
    let x = Arc::new(RaceCell::new(0u64));
    // Two threads' destructors write the cell, nothing ordering them: a
    // race. A's writes first, B's second (std signals and a std channel
    // for the lines: order in time only).
    let a_wrote = Arc::new(Signal::default());
    let (lines, wrote_at) = std::sync::mpsc::channel::<u32>();
    let (xa, raised, line_a) = (x.clone(), a_wrote.clone(), lines.clone());
    let a = spawn_named("tls-writer-a", move || {
        at_exit(move || {
            line_a.send(site!(xa.set(1))).unwrap();
            raised.raise();
        })
    });
    let (xb, awaited) = (x.clone(), a_wrote.clone());
    let b = spawn_named("tls-writer-b", move || {
        at_exit(move || {
            awaited.wait();
            lines.send(site!(xb.set(2))).unwrap();
        })
    });
    a.join().unwrap();
    b.join().unwrap();
    let (la, lb) = (wrote_at.recv().unwrap(), wrote_at.recv().unwrap());
    let r = expect_race_by(
        file!(),
        [(lb, Some("tls-writer-b")), (la, Some("tls-writer-a"))],
    );
    assert_eq!(r.kind, ReportKind::DataRace);
    // The joins order both destructors' writes before this one.
    x.set(3);
    assert_silent(file!(), first, line!());
}

#[test]
fn spawns_that_fail_give_their_slots_back() {
    // A stack larger than any address space (whatever the overcommit
    // policy): std cannot create the thread, after
    // racedet forked a slot for it. More failures than there are slots.
    let first = line!();
    for _ in 0..70_000 {
        let failed = thread::Builder::new().stack_size(1 << 60).spawn(|| ());
        assert!(failed.is_err(), "an exabyte stack was mapped");
    }
    // Spawning still works, and orders as before.
    let x = Arc::new(RaceCell::new(0u8));
    let y = x.clone();
    thread::spawn(move || y.set(1)).join().unwrap();
    x.set(2);
    assert_silent(file!(), first, line!());
}

#[test]
fn two_threads_named_main_get_distinct_ids_in_reports() {
    let first = line!();
    // std names the process's main thread "main", but any thread may be
    // called that; two such threads racing are still two threads. Both are
    // std threads (invisible to racedet), alive together, and ordered in
    // time by signals only.
    let x = Arc::new(RaceCell::new(0u8));
    let first_wrote = Arc::new(Signal::default());
    let second_wrote = Arc::new(Signal::default());
    let main_named = std::thread::Builder::new().name("main".into());
    let a = {
        let (x, mine, theirs) = (x.clone(), first_wrote.clone(), second_wrote.clone());
        main_named.spawn(move || {
            let l = site!(x.set(1));
            mine.raise();
            theirs.wait();
            l
        })
    }
    .unwrap();
    let b = std::thread::Builder::new()
        .name("main".into())
        .spawn(move || {
            first_wrote.wait();
            let l = site!(x.set(2));
            second_wrote.raise();
            l
        })
        .unwrap();
    let (la, lb) = (a.join().unwrap(), b.join().unwrap());
    // expect_race also fails when both sides name one thread id.
    let r = expect_race_by(file!(), [(la, Some("main")), (lb, Some("main"))]);
    assert_eq!(r.kind, ReportKind::DataRace);
    // Where the process's main thread can be told apart (Linux: its thread
    // id is the process id), neither is reported as the main thread.
    #[cfg(target_os = "linux")]
    assert_silent(file!(), first, line!());
}

#[test]
fn rwlock_readers_do_not_race_with_each_other() {
    let first = line!();
    let x = Arc::new(RaceCell::new(5u8));
    let lock = Arc::new(RwLock::new(()));
    let ts: Vec<_> = (0..4)
        .map(|_| {
            let (x, lock) = (x.clone(), lock.clone());
            thread::spawn(move || {
                let _r = lock.read().unwrap();
                x.get()
            })
        })
        .collect();
    for t in ts {
        assert_eq!(t.join().unwrap(), 5);
    }
    assert_silent(file!(), first, line!());
}

#[test]
fn write_under_read_lock_races_with_read_under_read_lock() {
    let first = line!();
    let x = Arc::new(RaceCell::new(0u8));
    let lock = Arc::new(RwLock::new(()));
    let (y, l2) = (x.clone(), lock.clone());
    let t = spawn_named("read-locked-writer", move || {
        let _r = l2.read().unwrap();
        site!(y.set(1))
    });
    let lr = {
        let _r = lock.read().unwrap();
        let l = site!(x.get());
        l
    };
    let lw = t.join().unwrap();
    let r = expect_race_by(file!(), [(lr, None), (lw, Some("read-locked-writer"))]);
    assert_eq!(r.kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
}

#[test]
fn read_unlock_happens_before_the_next_write_lock() {
    let first = line!();
    let x = Arc::new(RaceCell::new(0u8));
    let lock = Arc::new(RwLock::new(false));
    let (y, l2) = (x.clone(), lock.clone());
    // The reader reads the cell under a read lock; the writer then takes the
    // write lock and writes it. std's channel only orders them in time.
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = thread::spawn(move || {
        {
            let _r = l2.read().unwrap();
            let _ = y.get();
        }
        tx.send(()).unwrap();
    });
    rx.recv().unwrap();
    {
        let mut w = lock.write().unwrap();
        *w = true;
        x.set(1);
    }
    reader.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn downgrade_publishes_the_write_to_readers_that_get_in_after_it_is_silent() {
    let first = line!();
    let x = Arc::new(RaceCell::new(0u8));
    let lock = Arc::new(RwLock::new(()));
    let downgraded = Arc::new(Signal::default());
    let (y, l2, d2) = (x.clone(), lock.clone(), downgraded.clone());
    // Spawned first, so only the lock orders its read after the write.
    let reader = thread::spawn(move || {
        d2.wait();
        let _r = l2.read().unwrap();
        y.get()
    });
    let w = lock.write().unwrap();
    x.set(1);
    let _r = RwLockWriteGuard::downgrade(w);
    downgraded.raise();
    assert_eq!(reader.join().unwrap(), 1);
    assert_silent(file!(), first, line!());
}

#[test]
fn downgraded_guard_s_unlock_happens_before_the_next_write_lock() {
    let first = line!();
    let x = Arc::new(RaceCell::new(0u8));
    let lock = Arc::new(RwLock::new(()));
    let w = lock.write().unwrap();
    let (y, l2) = (x.clone(), lock.clone());
    // Spawned while the write lock is held: only the lock orders its write
    // after the read below.
    let writer = thread::spawn(move || {
        let _w = l2.write().unwrap();
        y.set(2);
    });
    let r = RwLockWriteGuard::downgrade(w);
    let _ = x.get();
    drop(r);
    writer.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn write_after_downgrade_races_with_another_reader() {
    // Downgrading orders what came before it, nothing after: a write under
    // the downgraded (read) guard races with a reader's read.
    let first = line!();
    let x = Arc::new(RaceCell::new(0u8));
    let lock = Arc::new(RwLock::new(()));
    let written = Arc::new(Signal::default());
    let r = RwLockWriteGuard::downgrade(lock.write().unwrap());
    let (y, l2, w2) = (x.clone(), lock.clone(), written.clone());
    let reader = spawn_named("after-downgrade-reader", move || {
        w2.wait();
        let _r = l2.read().unwrap();
        site!(y.get())
    });
    let lw = site!(x.set(1));
    written.raise();
    let lr = reader.join().unwrap();
    drop(r);
    let report = expect_race_by(file!(), [(lw, None), (lr, Some("after-downgrade-reader"))]);
    assert_eq!(report.kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
}

#[test]
fn read_unlocks_of_more_readers_than_reader_slots_all_happen_before_the_next_write_lock() {
    // Twelve readers: some run in detector slots past the RwLock's
    // per-slot reader clocks and merge into its shared overflow clock
    // instead; the writer must acquire both.
    readers_then_a_writer(12, false);
}

#[test]
fn read_unlock_does_not_order_a_later_reader_after_an_earlier_reader() {
    let first = line!();
    // Reader A writes the cell (wrongly) under a read lock; reader B reads
    // it under a read lock later: read-unlock releases only to writers.
    let x = Arc::new(RaceCell::new(0u8));
    let lock = Arc::new(RwLock::new(()));
    let (y, l2) = (x.clone(), lock.clone());
    let (tx, rx) = std::sync::mpsc::channel();
    let a = spawn_named("earlier-reader", move || {
        let l = {
            let _r = l2.read().unwrap();
            let l = site!(y.set(1));
            l
        };
        tx.send(()).unwrap();
        l
    });
    rx.recv().unwrap();
    let lb = {
        let _r = lock.read().unwrap();
        let l = site!(x.get());
        l
    };
    let la = a.join().unwrap();
    let r = expect_race_by(file!(), [(la, Some("earlier-reader")), (lb, None)]);
    assert_eq!(r.kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
}

#[test]
fn write_unlock_happens_before_later_readers() {
    let first = line!();
    let x = Arc::new(RaceCell::new(0u8));
    let lock = Arc::new(RwLock::new(0u8));
    let (y, l2) = (x.clone(), lock.clone());
    let (tx, rx) = std::sync::mpsc::channel();
    let w = thread::spawn(move || {
        let mut g = l2.write().unwrap();
        y.set(9);
        *g = 1;
        drop(g);
        tx.send(()).unwrap();
    });
    rx.recv().unwrap();
    {
        let g = lock.read().unwrap();
        assert_eq!(*g, 1);
        assert_eq!(x.get(), 9);
    }
    w.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn mutex_poisoning_is_std_s_and_still_orders_accesses() {
    let first = line!();
    let x = Arc::new(RaceCell::new(0u8));
    let lock = Arc::new(Mutex::new(0u8));
    let (y, l2) = (x.clone(), lock.clone());
    let (tx, rx) = std::sync::mpsc::channel();
    let t = thread::spawn(move || {
        let _g = l2.lock().unwrap();
        y.set(1);
        tx.send(()).unwrap();
        panic!("expected panic while holding the lock");
    });
    rx.recv().unwrap();
    // No join before the lock: the only edge is the panicking holder's
    // unlock (its guard drops while unwinding) to this lock, which waits
    // for it.
    let g = lock.lock().unwrap_err().into_inner();
    assert!(lock.is_poisoned());
    assert_eq!(*g, 0);
    x.set(2);
    drop(g);
    lock.clear_poison();
    assert!(!lock.is_poisoned());
    let _ = t.join();
    assert_silent(file!(), first, line!());
}

#[test]
fn try_lock_success_orders_and_would_block_does_not_panic() {
    let first = line!();
    let x = Arc::new(RaceCell::new(0u8));
    let lock = Arc::new(Mutex::new(()));
    let (y, l2) = (x.clone(), lock.clone());
    // The thread is joined only at the end: the try_lock is the only edge.
    // A std signal (invisible to racedet) says the lock is free again.
    let released = Arc::new(Signal::default());
    let r2 = released.clone();
    let t = thread::spawn(move || {
        {
            let _g = l2.lock().unwrap();
            y.set(1);
        }
        r2.raise();
    });
    released.wait();
    let g = lock.try_lock().unwrap();
    assert!(matches!(
        lock.try_lock(),
        Err(racedet::sync::TryLockError::WouldBlock)
    ));
    x.set(2);
    drop(g);
    let mut m = Mutex::new(5);
    *m.get_mut().unwrap() += 1;
    assert_eq!(m.into_inner().unwrap(), 6);
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn a_cell_used_inside_its_own_update_panics_instead_of_deadlocking() {
    let c = RaceCell::new(1u64);
    let message = panic_of(|| {
        c.update(|v| v + c.get());
    });
    assert!(message.contains("under its own lock"), "{message}");
    // The lock was let go and the value kept.
    assert_eq!(c.update(|v| v + 1), 2);
}

#[test]
fn a_cell_s_clone_is_a_read_of_it_and_a_new_cell_made_at_the_caller() {
    let first = line!();
    let x = RaceCell::new(1u32);
    // This thread's first access registers it now: registered after the
    // scoped thread ended, it could take that thread's slot (and so be
    // ordered after it: see `threads::adopt_current`).
    assert_eq!(x.get(), 1);
    let cloned = Signal::default();
    std::thread::scope(|s| {
        // std's scope: racedet sees neither its spawn nor its join, so the
        // clone stays unordered with the set (the signal only pins which
        // comes first, without an edge).
        let t = s.spawn(|| {
            let (lc, copy) = racedet_tests::at!(x.clone());
            cloned.raise();
            (lc, copy)
        });
        cloned.wait();
        let lw = site!(x.set(2));
        let (lc, copy) = t.join().unwrap();
        assert_eq!(copy.get(), 1);
        let r = expect_race(file!(), lc, lw);
        assert_eq!(r.kind, ReportKind::DataRace, "{}", r.to_text());
        assert_ops(&r, [(lc, "get"), (lw, "set")]);
    });
    // `vec![cell; n]` clones too, as with std's `Cell`.
    let cells = vec![RaceCell::new(7u8); 3];
    assert_eq!(cells.iter().map(RaceCell::get).sum::<u8>(), 21);
    assert_silent(file!(), first, line!());
}

#[test]
fn a_race_is_reported_while_another_thread_holds_std_s_stderr_lock() {
    // A thread formatting a value for `eprint!` holds std's stderr lock, and
    // the value may read a cell whose lock the reporting thread holds: a
    // report written through that lock could deadlock. Here a thread holds
    // the stderr lock until the race has been reported (or a minute).
    let first = line!();
    let (locked, (release, held)) = (Arc::new(Signal::default()), std::sync::mpsc::channel());
    let l2 = locked.clone();
    let holder = std::thread::spawn(move || {
        let _stderr = std::io::stderr().lock();
        l2.raise();
        // True when the report never came: it waited for this lock.
        held.recv_timeout(std::time::Duration::from_secs(60))
            .is_err()
    });
    locked.wait();
    let x = Arc::new(RaceCell::new(0u32));
    let wrote = Arc::new(Signal::default());
    let (y, w) = (x.clone(), wrote.clone());
    let a = spawn_named("first-writer", move || {
        let l = site!(y.set(1));
        w.raise();
        l
    });
    let b = spawn_named("reporting-writer", move || {
        wrote.wait();
        site!(x.set(2))
    });
    let lb = b.join().unwrap();
    let _ = release.send(());
    assert!(
        !holder.join().unwrap(),
        "the report waited for std's stderr lock"
    );
    let la = a.join().unwrap();
    expect_race_by(
        file!(),
        [(lb, Some("reporting-writer")), (la, Some("first-writer"))],
    );
    assert_silent(file!(), first, line!());
}

#[test]
fn debug_of_a_mutex_and_an_rwlock_locks_through_racedet_is_silent() {
    // std's `Debug` for its locks locks them (try_lock / try_read) and
    // prints the value: racedet's must do it through its own lock, or the
    // print reads the cell unordered with the writer's update.
    let first = line!();
    let m = Arc::new(Mutex::new(RaceCell::new(0u8)));
    let l = Arc::new(RwLock::new(RaceCell::new(0u8)));
    let (m2, l2) = (m.clone(), l.clone());
    let t = thread::spawn(move || {
        m2.lock().unwrap().set(1);
        l2.write().unwrap().set(1);
    });
    // The thread is joined only at the end: the locks in `Debug` are the
    // only edges. (Each print either finds the writer's value, after its
    // unlock, or the old one, before its lock.)
    while !format!("{m:?}").contains("RaceCell(1)") {
        thread::yield_now();
    }
    while !format!("{l:?}").contains("RaceCell(1)") {
        thread::yield_now();
    }
    // The printing side's reads are ordered before the next write, too.
    l.write().unwrap().set(2);
    m.lock().unwrap().set(2);
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn debug_of_the_locks_and_the_builder_is_std_s_text() {
    let first = line!();
    // Unlocked, locked and poisoned, against std's own locks.
    let m = Mutex::new(5);
    let sm = std::sync::Mutex::new(5);
    assert_eq!(format!("{m:?}"), format!("{sm:?}"));
    let (_g, _sg) = (m.lock().unwrap(), sm.lock().unwrap());
    assert_eq!(format!("{m:?}"), format!("{sm:?}"));
    assert!(format!("{m:?}").contains("<locked>"));
    let l = RwLock::new(vec![1]);
    let sl = std::sync::RwLock::new(vec![1]);
    assert_eq!(format!("{l:?}"), format!("{sl:?}"));
    {
        let (_g, _sg) = (l.write().unwrap(), sl.write().unwrap());
        assert_eq!(format!("{l:?}"), format!("{sl:?}"));
    }
    let poisoned = Arc::new(Mutex::new(7));
    let p2 = poisoned.clone();
    let _ = thread::spawn(move || {
        let _g = p2.lock().unwrap();
        panic!("expected panic: poisons the mutex");
    })
    .join();
    let std_poisoned = std::sync::Mutex::new(7);
    let _ = std::panic::catch_unwind(|| {
        let _g = std_poisoned.lock().unwrap();
        panic!("expected panic: poisons std's mutex");
    });
    assert_eq!(format!("{poisoned:?}"), format!("{std_poisoned:?}"));
    assert!(format!("{poisoned:?}").contains("poisoned: true"));
    let b = thread::Builder::new().name("x".into()).stack_size(1 << 16);
    let sb = std::thread::Builder::new()
        .name("x".into())
        .stack_size(1 << 16);
    assert_eq!(format!("{b:?}"), format!("{sb:?}"));
    assert_silent(file!(), first, line!());
}
