//! Scenario corpus: the memory-operation cases of Go's race detector
//! (`runtime/race/testdata/mop_test.go`), ported to racedet. A Go variable
//! is a `RaceCell` (a struct of variables, a struct of cells), a goroutine
//! a racedet thread, a Go channel a racedet mpsc channel (unbuffered:
//! `sync_channel(0)`).
//!
//! Conventions (counted by `corpus_count.rs`): a race case calls
//! `expect_race` on its two sites, checks the kind, and then checks that
//! nothing else in its body was reported; a no-race case calls
//! `assert_silent` over its whole body. Every racing access is written
//! inline, named with `site!` (or `at!`, which also keeps the value).

use racedet::cell::RaceCell;
use racedet::collections::RaceMap;
use racedet::reports::ReportKind;
use racedet::sync::mpsc::{channel, sync_channel};
use racedet::sync::{Arc, Mutex};
use racedet::thread;
use racedet_tests::{
    assert_silent, assert_threads, at, cell, expect_race, expect_race_by, site, spawn_named, Signal,
};
use std::hint::black_box;
use std::sync::LazyLock;

// ------------------------------------------------------ plain variables

#[test]
fn read_and_write_in_sibling_threads_race() {
    // Go: TestRaceIntRWClosures (mop_test.go)
    let first = line!();
    let (x, y) = (cell(0i64), cell(0i64));
    let (x1, y1, x2) = (x.clone(), y.clone(), x.clone());
    let reader = spawn_named("sibling-rw-reader", move || site!(y1.set(x1.get())));
    let writer = spawn_named("sibling-rw-writer", move || site!(x2.set(1)));
    let (lr, lw) = (reader.join().unwrap(), writer.join().unwrap());
    let sides = [
        (lr, Some("sibling-rw-reader")),
        (lw, Some("sibling-rw-writer")),
    ];
    assert_eq!(expect_race_by(file!(), sides).kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
}

#[test]
fn write_in_a_thread_spawned_after_a_receive_is_not_a_race() {
    // Go: TestNoRaceIntRWClosures (mop_test.go)
    let first = line!();
    let (x, y) = (cell(0i64), cell(0i64));
    let (tx, rx) = sync_channel(1);
    let (x1, y1, tx1) = (x.clone(), y.clone(), tx.clone());
    let a = thread::spawn(move || {
        y1.set(x1.get());
        tx1.send(()).unwrap();
    });
    rx.recv().unwrap();
    let x2 = x.clone();
    let b = thread::spawn(move || {
        x2.set(1);
        tx.send(()).unwrap();
    });
    rx.recv().unwrap();
    a.join().unwrap();
    b.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn read_in_a_condition_races_even_when_the_branch_is_not_taken() {
    // Go: TestRaceCaseCondition (mop_test.go): `switch x < 2` reads x.
    let first = line!();
    let x = cell(0i64);
    let written = Arc::new(Signal::default());
    let (x1, x2, w1, w2) = (x.clone(), x.clone(), written.clone(), written.clone());
    let writer = spawn_named("case-cond-writer", move || {
        let l = site!(x1.set(2));
        w1.raise();
        l
    });
    let reader = spawn_named("case-cond-reader", move || {
        w2.wait();
        let (l, v) = at!(x2.get());
        if v < 2 {
            x2.set(1);
        }
        l
    });
    let (lw, lr) = (writer.join().unwrap(), reader.join().unwrap());
    let sides = [
        (lw, Some("case-cond-writer")),
        (lr, Some("case-cond-reader")),
    ];
    assert_eq!(expect_race_by(file!(), sides).kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
}

#[test]
fn a_write_in_a_branch_never_taken_is_not_a_race() {
    // Go: TestNoRaceCaseFallthrough (mop_test.go)
    let first = line!();
    let (x, y, z) = (cell(0i64), cell(0i64), cell(1i64));
    let (x1, y1) = (x.clone(), y.clone());
    let (x2, z2) = (x.clone(), z.clone());
    let a = thread::spawn(move || y1.set(x1.get()));
    let b = thread::spawn(move || {
        let v = z2.get();
        if v == 2 {
            x2.set(2);
        }
    });
    a.join().unwrap();
    b.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn a_write_in_a_branch_taken_races() {
    // Go: TestRaceCaseFallthrough (mop_test.go)
    let first = line!();
    let (x, y, z) = (cell(0i64), cell(0i64), cell(1i64));
    let (x1, y1) = (x.clone(), y.clone());
    let (x2, z2) = (x.clone(), z.clone());
    let a = spawn_named("fallthrough-a", move || site!(y1.set(x1.get())));
    let b = spawn_named("fallthrough-b", move || {
        let v = z2.get();
        let mut l = 0;
        if v == 1 || v == 2 {
            l = site!(x2.set(2));
        }
        l
    });
    let (la, lb) = (a.join().unwrap(), b.join().unwrap());
    let sides = [(la, Some("fallthrough-a")), (lb, Some("fallthrough-b"))];
    assert_eq!(expect_race_by(file!(), sides).kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
}

#[test]
fn concurrent_reads_of_shared_inputs_are_not_a_race() {
    // Go: TestNoRacePlus (mop_test.go)
    let first = line!();
    let (x, y, z, f) = (cell(1i64), cell(0i64), cell(2i64), cell(0i64));
    let (x1, y1, z1) = (x.clone(), y.clone(), z.clone());
    let (x2, z2, f2) = (x.clone(), z.clone(), f.clone());
    let a = thread::spawn(move || y1.set(x1.get() + z1.get()));
    let b = thread::spawn(move || f2.set(z2.get() + x2.get()));
    a.join().unwrap();
    b.join().unwrap();
    assert_eq!((y.get(), f.get()), (3, 3));
    assert_silent(file!(), first, line!());
}

#[test]
fn two_threads_writing_one_result_race() {
    // Go: TestRacePlus (mop_test.go)
    let first = line!();
    let (x, y, z) = (cell(1i64), cell(0i64), cell(2i64));
    let (x1, y1, z1) = (x.clone(), y.clone(), z.clone());
    let (x2, y2, z2) = (x.clone(), y.clone(), z.clone());
    let a = spawn_named("plus-a", move || site!(y1.set(x1.get() + z1.get())));
    let b = spawn_named("plus-b", move || {
        site!(y2.set(x2.get() + z2.get() + z2.get()))
    });
    let (la, lb) = (a.join().unwrap(), b.join().unwrap());
    let r = expect_race_by(file!(), [(la, Some("plus-a")), (lb, Some("plus-b"))]);
    assert_eq!(r.kind, ReportKind::DataRace);
    assert!(r.current.write && r.previous.write);
    assert_silent(file!(), first, line!());
}

#[test]
fn operand_read_races_with_its_write_in_another_thread() {
    // Go: TestRaceComplement (mop_test.go): `x = ^y` against `y = ^z`.
    let first = line!();
    let (x, y, z) = (cell(0i64), cell(0i64), cell(5i64));
    let (x1, y1) = (x.clone(), y.clone());
    let (y2, z2) = (y.clone(), z.clone());
    let a = spawn_named("complement-a", move || site!(x1.set(!y1.get())));
    let b = spawn_named("complement-b", move || site!(y2.set(!z2.get())));
    let (la, lb) = (a.join().unwrap(), b.join().unwrap());
    let r = expect_race_by(
        file!(),
        [(la, Some("complement-a")), (lb, Some("complement-b"))],
    );
    assert_eq!(r.kind, ReportKind::DataRace);
    assert!(r.current.write != r.previous.write, "a read and a write");
    assert_silent(file!(), first, line!());
}

#[test]
fn argument_read_in_a_thread_races_with_the_parents_write() {
    // Go: TestRaceFuncArgument (mop_test.go)
    let first = line!();
    let x = cell(0i64);
    let x1 = x.clone();
    let t = spawn_named("argument-read-in", move || site!(black_box(x1.get())));
    let lw = site!(x.set(1));
    let lr = t.join().unwrap();
    let r = expect_race(file!(), lw, lr);
    assert_eq!(r.kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
    assert_threads(&r, [(lw, None), (lr, Some("argument-read-in"))]);
}

#[test]
fn argument_evaluated_before_spawn_is_not_a_race_with_a_later_write() {
    // Go: TestNoRaceFuncArgsRW (mop_test.go): `go f(x)` reads x in the parent.
    let first = line!();
    let x = cell(0u8);
    let (tx, rx) = sync_channel(1);
    let arg = x.get();
    let t = thread::spawn(move || {
        black_box(arg);
        tx.send(0u8).unwrap();
    });
    x.set(1);
    rx.recv().unwrap();
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn pointer_argument_read_in_a_thread_races_with_a_write() {
    // Go: TestRaceFuncArgsRW (mop_test.go): `go f(&x)`.
    let first = line!();
    let x = cell(0u8);
    let p = x.clone();
    let t = spawn_named("pointer-argument-read", move || site!(black_box(p.get())));
    let lw = site!(x.set(1));
    let lr = t.join().unwrap();
    let r = expect_race(file!(), lw, lr);
    assert_eq!(r.kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
    assert_threads(&r, [(lw, None), (lr, Some("pointer-argument-read"))]);
}

#[test]
fn argument_read_by_the_parent_races_with_an_earlier_siblings_write() {
    // Go: TestRaceFuncArgument2 (mop_test.go)
    let first = line!();
    let x = cell(0i64);
    let x1 = x.clone();
    let writer = spawn_named("func-arg2-writer", move || site!(x1.set(42)));
    let (lr, arg) = at!(x.get());
    let other = thread::spawn(move || black_box(arg));
    other.join().unwrap();
    let lw = writer.join().unwrap();
    let sides = [(lw, Some("func-arg2-writer")), (lr, None)];
    assert_eq!(expect_race_by(file!(), sides).kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct Point {
    x: i64,
    y: i64,
}

#[test]
fn whole_struct_copy_races_with_a_whole_struct_write() {
    // Go: TestRaceStructRW (mop_test.go)
    let first = line!();
    let p = cell(Point { x: 0, y: 0 });
    let p1 = p.clone();
    let t = spawn_named("whole-struct-copy", move || {
        site!(p1.set(Point { x: 1, y: 1 }))
    });
    let (lr, q) = at!(p.get());
    let lw = t.join().unwrap();
    p.set(q);
    let r = expect_race(file!(), lr, lw);
    assert_eq!(r.kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
    assert_threads(&r, [(lr, None), (lw, Some("whole-struct-copy"))]);
}

/// A struct whose fields are separate locations, as Go's.
struct Fields {
    x: RaceCell<i64>,
    y: RaceCell<i64>,
}

#[test]
fn writes_to_different_fields_are_not_a_race() {
    // Go: TestNoRaceStructFieldRW1 (mop_test.go)
    let first = line!();
    let p = Arc::new(Fields {
        x: RaceCell::new(0),
        y: RaceCell::new(0),
    });
    let p1 = p.clone();
    let (tx, rx) = sync_channel(1);
    let t = thread::spawn(move || {
        p1.x.set(1);
        tx.send(true).unwrap();
    });
    p.y.set(1);
    rx.recv().unwrap();
    assert_eq!((p.x.get(), p.y.get()), (1, 1));
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn write_and_read_of_the_same_field_race() {
    // Go: TestRaceStructFieldRW1 (mop_test.go)
    let first = line!();
    let p = Arc::new(Fields {
        x: RaceCell::new(0),
        y: RaceCell::new(0),
    });
    let p1 = p.clone();
    let t = spawn_named("write-and-read", move || site!(p1.x.set(1)));
    let lr = site!(black_box(p.x.get()));
    let lw = t.join().unwrap();
    let r = expect_race(file!(), lr, lw);
    assert_eq!(r.kind, ReportKind::DataRace);
    assert_eq!(r.object.kind, "cell");
    assert_silent(file!(), first, line!());
    assert_threads(&r, [(lr, None), (lw, Some("write-and-read"))]);
}

struct Inner {
    x: RaceCell<i64>,
    y: RaceCell<i64>,
}

struct Outer {
    x: Inner,
    y: RaceCell<i64>,
}

fn outer() -> Arc<Outer> {
    Arc::new(Outer {
        x: Inner {
            x: RaceCell::new(0),
            y: RaceCell::new(0),
        },
        y: RaceCell::new(0),
    })
}

#[test]
fn copying_one_nested_struct_does_not_race_with_a_write_of_a_sibling_field() {
    // Go: TestNoRaceEmptyStruct (mop_test.go): `x := y.x` against `y.y = 42`.
    let first = line!();
    let y = outer();
    let y1 = y.clone();
    let (tx, rx) = sync_channel(0);
    let t = thread::spawn(move || {
        let copy = (y1.x.x.get(), y1.x.y.get());
        tx.send(copy).unwrap();
    });
    y.y.set(42);
    assert_eq!(rx.recv().unwrap(), (0, 0));
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn copying_a_whole_struct_races_with_a_write_of_a_nested_field() {
    // Go: TestRaceNestedStruct (mop_test.go): `c <- y` against `y.x.y = 42`.
    let first = line!();
    let y = outer();
    let y1 = y.clone();
    let (tx, rx) = sync_channel(0);
    let t = spawn_named("copying-a-whole", move || {
        let (l, v) = at!(y1.x.y.get());
        tx.send((y1.x.x.get(), v, y1.y.get())).unwrap();
        l
    });
    let lw = site!(y.x.y.set(42));
    let _ = rx.recv().unwrap();
    let lr = t.join().unwrap();
    let r = expect_race(file!(), lr, lw);
    assert_eq!(r.kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
    assert_threads(&r, [(lw, None), (lr, Some("copying-a-whole"))]);
}

#[test]
fn reads_of_array_elements_and_a_later_ordered_write_are_not_a_race() {
    // Go: TestNoRaceBlank (mop_test.go)
    let first = line!();
    let a: Arc<Vec<RaceCell<i64>>> = Arc::new((0..5).map(RaceCell::new).collect());
    let a1 = a.clone();
    let (tx, rx) = sync_channel(1);
    let t = thread::spawn(move || {
        black_box((a1[0].get(), a1[1].get()));
        tx.send(true).unwrap();
    });
    black_box((a[2].get(), a[3].get()));
    rx.recv().unwrap();
    a[1].set(a[0].get());
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn copying_a_slice_races_with_a_write_of_one_element() {
    // Go: TestRaceSliceStruct (mop_test.go): `copy(y, x)` against `x[1].y = 42`.
    let first = line!();
    let x: Arc<Vec<RaceCell<i64>>> = Arc::new((0..10).map(|_| RaceCell::new(0)).collect());
    let x1 = x.clone();
    let t = spawn_named("copying-a-slice", move || {
        let mut copy = Vec::with_capacity(10);
        let mut line = 0;
        for (i, c) in x1.iter().enumerate() {
            let (l, v) = at!(c.get());
            if i == 1 {
                line = l;
            }
            copy.push(v);
        }
        black_box(copy);
        line
    });
    let lw = site!(x[1].set(42));
    let lr = t.join().unwrap();
    let r = expect_race(file!(), lr, lw);
    assert_eq!(r.kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
    assert_threads(&r, [(lw, None), (lr, Some("copying-a-slice"))]);
}

#[test]
fn writes_through_a_shared_pointer_race() {
    // Go: TestRaceIndirection (mop_test.go)
    let first = line!();
    let y = cell(0i64);
    let p = y.clone();
    let t = spawn_named("writes-through-a", move || site!(p.set(1)));
    let lw = site!(y.set(2));
    let lt = t.join().unwrap();
    let r = expect_race(file!(), lw, lt);
    assert_eq!(r.kind, ReportKind::DataRace, "{}", r.to_text());
    assert!(r.current.write && r.previous.write);
    assert_eq!(y.get(), y.get());
    assert_silent(file!(), first, line!());
    assert_threads(&r, [(lw, None), (lt, Some("writes-through-a"))]);
}

#[test]
fn taking_a_reference_is_not_an_access() {
    // Go: TestNoRaceAddrExpr (mop_test.go): `_ = &x` does not read x.
    let first = line!();
    let x = cell(0i64);
    let x1 = x.clone();
    let (tx, rx) = sync_channel(1);
    let t = thread::spawn(move || {
        x1.set(42);
        tx.send(true).unwrap();
    });
    let r: &RaceCell<i64> = &x;
    black_box(r as *const RaceCell<i64>);
    rx.recv().unwrap();
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn variable_handed_back_and_forth_races_between_the_handovers() {
    // Go: TestRaceTLS (mop_test.go): after the unbuffered hand-over both
    // sides write before the hand-back.
    let first = line!();
    let (to_b, from_a) = sync_channel::<Arc<RaceCell<i64>>>(0);
    let (to_a, from_b) = sync_channel::<Arc<RaceCell<i64>>>(0);
    let a = spawn_named("tls-handover-a", move || {
        let x = cell(0i64);
        to_b.send(x.clone()).unwrap();
        let l = site!(x.set(1));
        let back = from_b.recv().unwrap();
        x.set(back.get());
        l
    });
    let b = spawn_named("tls-handover-b", move || {
        let p = from_a.recv().unwrap();
        let l = site!(p.set(2));
        to_a.send(p).unwrap();
        l
    });
    let (la, lb) = (a.join().unwrap(), b.join().unwrap());
    let sides = [(la, Some("tls-handover-a")), (lb, Some("tls-handover-b"))];
    assert_eq!(expect_race_by(file!(), sides).kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
}

// ------------------------------------------------- short-circuit operators

#[test]
fn and_that_short_circuits_before_the_read_is_not_a_race() {
    // Go: TestNoRaceAnd (mop_test.go): `y == 1 && x == 1` never reads x.
    let first = line!();
    let (x, y) = (cell(0i64), cell(0i64));
    let x1 = x.clone();
    let (tx, rx) = sync_channel(0);
    let t = thread::spawn(move || {
        x1.set(1);
        tx.send(true).unwrap();
    });
    if y.get() == 1 && x.get() == 1 {
        black_box(());
    }
    rx.recv().unwrap();
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn and_that_reads_first_races() {
    // Go: TestRaceAnd (mop_test.go): `x == 1 && y == 1` reads x.
    let first = line!();
    let (x, y) = (cell(0i64), cell(0i64));
    let x1 = x.clone();
    let (tx, rx) = sync_channel(0);
    let t = spawn_named("and-that-reads", move || {
        let l = site!(x1.set(1));
        tx.send(true).unwrap();
        l
    });
    let (lr, v) = at!(x.get());
    if v == 1 && y.get() == 1 {
        black_box(());
    }
    rx.recv().unwrap();
    let lw = t.join().unwrap();
    let r = expect_race(file!(), lr, lw);
    assert_eq!(r.kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
    assert_threads(&r, [(lr, None), (lw, Some("and-that-reads"))]);
}

#[test]
fn or_that_short_circuits_before_the_read_is_not_a_race() {
    // Go: TestNoRaceOr / TestNoRaceShortCalc (mop_test.go)
    let first = line!();
    let (x, y) = (cell(0i64), cell(0i64));
    let y1 = y.clone();
    let (tx, rx) = sync_channel(0);
    let t = thread::spawn(move || {
        y1.set(1);
        tx.send(true).unwrap();
    });
    if x.get() == 0 || y.get() == 0 {
        black_box(());
    }
    rx.recv().unwrap();
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn or_whose_second_operand_is_evaluated_races() {
    // Go: TestRaceOr2 (mop_test.go): `y == 1 || x == 1` reads x.
    let first = line!();
    let (x, y) = (cell(0i64), cell(0i64));
    let x1 = x.clone();
    let (tx, rx) = sync_channel(0);
    let t = spawn_named("or-whose-second", move || {
        let l = site!(x1.set(1));
        tx.send(true).unwrap();
        l
    });
    let mut lr = 0;
    if y.get() == 1 || {
        let (l, v) = at!(x.get());
        lr = l;
        v == 1
    } {
        black_box(());
    }
    rx.recv().unwrap();
    let lw = t.join().unwrap();
    let r = expect_race(file!(), lr, lw);
    assert_eq!(r.kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
    assert_threads(&r, [(lr, None), (lw, Some("or-whose-second"))]);
}

// ------------------------------------------------- locks around calls

#[test]
fn write_whose_value_is_computed_while_taking_the_lock_is_under_the_lock() {
    // Go: TestNoRaceFuncUnlock / TestNoRaceAsFunc4 (mop_test.go)
    let first = line!();
    let x = cell(0i64);
    let mu = Arc::new(Mutex::new(()));
    let (x1, mu1) = (x.clone(), mu.clone());
    let t = thread::spawn(move || {
        let _g = mu1.lock().unwrap();
        x1.set(42);
    });
    let guard;
    x.set({
        guard = mu.lock().unwrap();
        43
    });
    drop(guard);
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn read_evaluated_before_taking_the_lock_races_with_a_locked_write() {
    // Go: TestRaceAsFunc3 (mop_test.go): the argument is read outside the
    // lock. The main thread locks first, as Go's scheduler has it (if the
    // other thread's whole critical section came first, its unlock would
    // order its earlier read before the write).
    let first = line!();
    let x = cell(0i64);
    let mu = Arc::new(Mutex::new(()));
    let locked = Arc::new(Signal::default());
    let (x1, mu1, locked1) = (x.clone(), mu.clone(), locked.clone());
    let t = spawn_named("read-evaluated-before", move || {
        locked1.wait();
        let (l, arg) = at!(x1.get());
        let g = mu1.lock().unwrap();
        black_box(arg);
        drop(g);
        l
    });
    let g = mu.lock().unwrap();
    locked.raise();
    let lw = site!(x.set(42));
    drop(g);
    let lr = t.join().unwrap();
    let r = expect_race(file!(), lr, lw);
    assert_eq!(r.kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
    assert_threads(&r, [(lw, None), (lr, Some("read-evaluated-before"))]);
}

#[test]
fn writes_after_recovering_from_panics_race() {
    // Go: TestRacePanic (mop_test.go): recovering does not synchronize.
    let first = line!();
    let x = cell(0i64);
    let (x1, x2) = (x.clone(), x.clone());
    let a = spawn_named("panic-recover-a", move || {
        let r = std::panic::catch_unwind(|| panic!("expected panic in test"));
        assert!(r.is_err());
        site!(x1.set(1))
    });
    let b = spawn_named("panic-recover-b", move || {
        let r = std::panic::catch_unwind(|| panic!("expected panic in test"));
        assert!(r.is_err());
        site!(x2.set(2))
    });
    let (la, lb) = (a.join().unwrap(), b.join().unwrap());
    let sides = [(la, Some("panic-recover-a")), (lb, Some("panic-recover-b"))];
    assert_eq!(expect_race_by(file!(), sides).kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
}

// ------------------------------------------------------ globals, loops

static GLOBAL_X: LazyLock<RaceCell<i64>> = LazyLock::new(|| RaceCell::new(0));
static GLOBAL_Y: LazyLock<RaceCell<i64>> = LazyLock::new(|| RaceCell::new(0));

#[test]
fn global_read_and_write_in_two_threads_race() {
    // Go: TestRaceIntRWGlobalFuncs (mop_test.go)
    let first = line!();
    let (tx, rx) = channel();
    let tx2 = tx.clone();
    let a = spawn_named("global-rw-a", move || {
        let l = site!(GLOBAL_Y.set(GLOBAL_X.get()));
        tx.send(1).unwrap();
        l
    });
    let b = spawn_named("global-rw-b", move || {
        let l = site!(GLOBAL_X.set(1));
        tx2.send(1).unwrap();
        l
    });
    rx.recv().unwrap();
    rx.recv().unwrap();
    let (la, lb) = (a.join().unwrap(), b.join().unwrap());
    let sides = [(la, Some("global-rw-a")), (lb, Some("global-rw-b"))];
    assert_eq!(expect_race_by(file!(), sides).kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
}

#[test]
fn write_before_a_send_loop_is_ordered_before_every_receiver_increment() {
    // Go: TestNoRaceForInit (mop_test.go)
    let first = line!();
    let x = cell(0i64);
    let (c_tx, c_rx) = sync_channel::<bool>(0);
    let (done_tx, done_rx) = sync_channel(0);
    let x1 = x.clone();
    let t = thread::spawn(move || {
        while c_rx.recv().is_ok() {
            x1.set(x1.get() + 1);
        }
        done_tx.send(true).unwrap();
    });
    x.set(42);
    for _ in 0..10 {
        c_tx.send(true).unwrap();
    }
    drop(c_tx);
    done_rx.recv().unwrap();
    assert_eq!(x.get(), 52);
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn increment_after_each_unbuffered_send_races_with_the_receivers_increment() {
    // Go: TestRaceForIncr (mop_test.go): `for ...; x++ { c <- true }`.
    let first = line!();
    let x = cell(0i64);
    let (c_tx, c_rx) = sync_channel::<bool>(0);
    let (done_tx, done_rx) = sync_channel(0);
    let x1 = x.clone();
    let t = spawn_named("increment-after-each", move || {
        let mut line = 0;
        while c_rx.recv().is_ok() {
            line = site!(x1.update(|v| v + 1));
        }
        done_tx.send(true).unwrap();
        line
    });
    let mut lw = 0;
    for _ in 0..10 {
        c_tx.send(true).unwrap();
        lw = site!(x.update(|v| v + 1));
    }
    drop(c_tx);
    done_rx.recv().unwrap();
    let lt = t.join().unwrap();
    let r = expect_race(file!(), lw, lt);
    assert_eq!(r.kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
    assert_threads(&r, [(lw, None), (lt, Some("increment-after-each"))]);
}

#[test]
fn loop_condition_read_races_with_a_write_after_the_unbuffered_receive() {
    // Go: TestRaceForTest (mop_test.go): `for !stop { c <- true }`.
    let first = line!();
    let stop = cell(false);
    let (c_tx, c_rx) = sync_channel::<bool>(0);
    let (done_tx, done_rx) = sync_channel(0);
    let stop1 = stop.clone();
    let t = spawn_named("loop-condition-read", move || {
        let mut line = 0;
        while c_rx.recv().is_ok() {
            line = site!(stop1.set(true));
        }
        done_tx.send(true).unwrap();
        line
    });
    let lr = loop {
        let (l, stopped) = at!(stop.get());
        if stopped {
            break l;
        }
        c_tx.send(true).unwrap();
    };
    drop(c_tx);
    done_rx.recv().unwrap();
    let lw = t.join().unwrap();
    let r = expect_race(file!(), lr, lw);
    assert_eq!(r.kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
    assert_threads(&r, [(lr, None), (lw, Some("loop-condition-read"))]);
}

#[test]
fn reading_a_variable_into_a_map_literal_races_with_its_write() {
    // Go: TestRaceMapInit (mop_test.go): the race is on the variable, not the map.
    let first = line!();
    let y = cell(0i64);
    let y1 = y.clone();
    let t = spawn_named("reading-a-variable", move || site!(y1.set(42)));
    let (lr, key) = at!(y.get());
    let m: RaceMap<i64, i64> = [(0, 42), (key, 42)].into_iter().collect();
    let lw = t.join().unwrap();
    let r = expect_race(file!(), lr, lw);
    assert_eq!(r.kind, ReportKind::DataRace);
    assert_eq!(r.object.kind, "cell");
    assert!(!m.is_empty());
    assert_silent(file!(), first, line!());
    assert_threads(&r, [(lr, None), (lw, Some("reading-a-variable"))]);
}
