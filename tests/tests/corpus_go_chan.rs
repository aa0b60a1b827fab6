//! Scenario corpus: channels, after Go's race detector tests
//! (`runtime/race/testdata/chan_test.go`), ported to racedet's mpsc.
//!
//! Go's unbuffered channel is `sync_channel(0)`, a buffered one
//! `sync_channel(C)`; Go's `close(c)` is dropping every sender (racedet:
//! the drop happens before the receive that observes the disconnection).
//! Go channels have several receivers; where a Go test receives from more
//! than one goroutine, the receiver is shared through a *std* mutex, which
//! racedet does not see, so it adds no edge.
//!
//! Conventions (counted by `corpus_count.rs`): a race case calls
//! `expect_race` and then checks nothing else in its body was reported; a
//! no-race case calls `assert_silent` over its whole body.

use racedet::cell::RaceCell;
use racedet::reports::ReportKind;
use racedet::sync::mpsc::{channel, sync_channel, Receiver, SyncSender, TryRecvError};
use racedet::sync::Arc;
use racedet::thread;
use racedet_tests::{
    assert_silent, assert_threads, at, cell, expect_race, expect_race_by, site, spawn_named, Signal,
};
use std::hint::black_box;

/// A receiver several threads can receive from, as a Go channel; the std
/// mutex around it is invisible to racedet.
type SharedRx<T> = Arc<std::sync::Mutex<Receiver<T>>>;

fn shared<T>(rx: Receiver<T>) -> SharedRx<T> {
    Arc::new(std::sync::Mutex::new(rx))
}

// ----------------------------------------------------- unbuffered channels

#[test]
fn write_before_an_unbuffered_send_is_ordered_before_the_receiver() {
    // Go: TestNoRaceChanSync (chan_test.go)
    let first = line!();
    let v = cell(0);
    let (tx, rx) = sync_channel(0);
    let v1 = v.clone();
    let t = thread::spawn(move || {
        v1.set(1);
        tx.send(0).unwrap();
    });
    rx.recv().unwrap();
    v.set(2);
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn unbuffered_receive_happens_before_the_send_returns() {
    // Go: TestNoRaceChanSyncRev (chan_test.go)
    let first = line!();
    let v = cell(0);
    let (tx, rx) = sync_channel(0);
    let v1 = v.clone();
    let t = thread::spawn(move || {
        tx.send(0).unwrap();
        v1.set(2);
    });
    v.set(1);
    rx.recv().unwrap();
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn value_read_into_an_unbuffered_send_races_with_a_write_from_another_channel() {
    // Go: TestRaceChanReadWriteSync (chan_test.go)
    let first = line!();
    let x = cell(0);
    let (tx1, rx1) = sync_channel::<i64>(0);
    let (tx2, rx2) = sync_channel::<i64>(0);
    let h1 = thread::spawn(move || rx1.recv().unwrap());
    let h2 = thread::spawn(move || tx2.send(10).unwrap());
    let x1 = x.clone();
    let reader = spawn_named("chan-rw-sync-reader", move || {
        let (l, v) = at!(x1.get());
        tx1.send(v).unwrap();
        l
    });
    let lw = site!(x.set(rx2.recv().unwrap()));
    let lr = reader.join().unwrap();
    h1.join().unwrap();
    h2.join().unwrap();
    let sides = [(lr, Some("chan-rw-sync-reader")), (lw, None)];
    assert_eq!(expect_race_by(file!(), sides).kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
}

#[test]
fn task_run_by_an_unbuffered_worker_is_ordered_before_its_done_message() {
    // Go: TestNoRaceProducerConsumerUnbuffered (chan_test.go)
    type Task = (Box<dyn FnOnce() + Send>, SyncSender<bool>);
    let first = line!();
    let (queue, tasks) = sync_channel::<Task>(0);
    let worker = thread::spawn(move || {
        let (f, done) = tasks.recv().unwrap();
        f();
        done.send(true).unwrap();
    });
    let doit = |f: Box<dyn FnOnce() + Send>| {
        let (done_tx, done_rx) = sync_channel(1);
        queue.send((f, done_tx)).unwrap();
        done_rx.recv().unwrap();
    };
    let x = cell(0);
    let x1 = x.clone();
    doit(Box::new(move || x1.set(1)));
    assert_eq!(x.get(), 1);
    worker.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn object_made_by_the_sender_is_owned_by_the_receiver_after_an_unbuffered_send() {
    // Go: TestNoRaceChanPtr (chan_test.go)
    let first = line!();
    let (tx, rx) = sync_channel(0);
    let t = thread::spawn(move || {
        let m = cell(0);
        m.set(1);
        tx.send(m).unwrap();
    });
    let m = rx.recv().unwrap();
    m.set(2);
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn blocking_unbuffered_send_that_fails_sees_the_receivers_drop() {
    // racedet: the receiver's drop happens before the send that observes it.
    let first = line!();
    let v = cell(0);
    let (tx, rx) = sync_channel::<u8>(0);
    let v1 = v.clone();
    let t = thread::spawn(move || {
        v1.set(1);
        drop(rx);
    });
    assert!(tx.send(1).is_err());
    v.set(2);
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

// ------------------------------------------------------- buffered channels

#[test]
fn write_before_a_buffered_send_is_ordered_before_the_receiver() {
    // Go: TestNoRaceChanAsync (chan_test.go)
    let first = line!();
    let v = cell(0);
    let (tx, rx) = sync_channel(10);
    let v1 = v.clone();
    let t = thread::spawn(move || {
        v1.set(1);
        tx.send(0).unwrap();
    });
    rx.recv().unwrap();
    v.set(2);
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn buffered_send_does_not_wait_for_the_receive() {
    // Go: TestRaceChanAsyncRev (chan_test.go)
    let first = line!();
    let v = cell(0);
    let (tx, rx) = sync_channel(10);
    let v1 = v.clone();
    let t = spawn_named("buffered-send-does", move || {
        tx.send(0).unwrap();
        site!(v1.set(1))
    });
    let lm = site!(v.set(2));
    rx.recv().unwrap();
    let lt = t.join().unwrap();
    let r = expect_race(file!(), lm, lt);
    assert_eq!(r.kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
    assert_threads(&r, [(lm, None), (lt, Some("buffered-send-does"))]);
}

#[test]
fn value_read_into_a_buffered_send_races_with_a_write_from_another_channel() {
    // Go: TestRaceChanReadWriteAsync (chan_test.go)
    let first = line!();
    let x = cell(0);
    let (tx1, rx1) = sync_channel::<i64>(10);
    let (tx2, rx2) = sync_channel::<i64>(10);
    tx2.send(10).unwrap();
    let x1 = x.clone();
    let t = spawn_named("value-read-into", move || {
        let (l, v) = at!(x1.get());
        tx1.send(v).unwrap();
        l
    });
    let lw = site!(x.set(rx2.recv().unwrap()));
    let lr = t.join().unwrap();
    drop(rx1);
    let r = expect_race(file!(), lr, lw);
    assert_eq!(r.kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
    assert_threads(&r, [(lw, None), (lr, Some("value-read-into"))]);
}

#[test]
fn value_read_into_a_send_is_ordered_before_the_write_of_what_is_received() {
    // Go: TestNoRaceChanReadWriteAsync (chan_test.go)
    let first = line!();
    let x = cell(0);
    let (tx1, rx1) = sync_channel::<i64>(10);
    let x1 = x.clone();
    let t = thread::spawn(move || tx1.send(x1.get()).unwrap());
    x.set(rx1.recv().unwrap());
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn capacity_one_channel_used_as_a_mutex_orders_the_critical_sections() {
    // Go: TestNoRaceChanMutex (chan_test.go): send locks, receive unlocks.
    let first = line!();
    let data = cell(0);
    let (mtx_tx, mtx_rx) = sync_channel::<()>(1);
    let mtx_rx = shared(mtx_rx);
    let (data1, tx1, rx1) = (data.clone(), mtx_tx.clone(), mtx_rx.clone());
    let t = thread::spawn(move || {
        tx1.send(()).unwrap();
        data1.set(42);
        rx1.lock().unwrap().recv().unwrap();
    });
    mtx_tx.send(()).unwrap();
    data.set(43);
    mtx_rx.lock().unwrap().recv().unwrap();
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn capacity_two_channel_used_as_a_mutex_lets_both_in() {
    // Go: TestRaceChanSem (chan_test.go)
    let first = line!();
    let data = cell(0);
    let (mtx_tx, mtx_rx) = sync_channel::<bool>(2);
    let mtx_rx = shared(mtx_rx);
    let (data1, tx1, rx1) = (data.clone(), mtx_tx.clone(), mtx_rx.clone());
    let t = spawn_named("capacity-two-channel", move || {
        tx1.send(true).unwrap();
        let l = site!(data1.set(42));
        rx1.lock().unwrap().recv().unwrap();
        l
    });
    mtx_tx.send(true).unwrap();
    let lm = site!(data.set(43));
    mtx_rx.lock().unwrap().recv().unwrap();
    let lt = t.join().unwrap();
    let r = expect_race(file!(), lm, lt);
    assert_eq!(r.kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
    assert_threads(&r, [(lm, None), (lt, Some("capacity-two-channel"))]);
}

#[test]
fn filling_a_semaphore_channel_waits_for_every_release() {
    // Go: TestNoRaceChanWaitGroup (chan_test.go): receive k happens before
    // send k + C completes, so the last C sends wait for every worker.
    const N: usize = 10;
    let first = line!();
    let (wg_tx, wg_rx) = sync_channel::<bool>(N / 2);
    let wg_rx = shared(wg_rx);
    let data: Arc<Vec<RaceCell<i64>>> = Arc::new((0..N).map(|_| RaceCell::new(0)).collect());
    let mut workers = Vec::new();
    for i in 0..N {
        wg_tx.send(true).unwrap();
        let (data, wg_rx) = (data.clone(), wg_rx.clone());
        workers.push(thread::spawn(move || {
            data[i].set(42);
            wg_rx.lock().unwrap().recv().unwrap();
        }));
    }
    for _ in 0..N / 2 {
        wg_tx.send(true).unwrap();
    }
    for d in data.iter() {
        assert_eq!(d.get(), 42);
    }
    for w in workers {
        w.join().unwrap();
    }
    assert_silent(file!(), first, line!());
}

#[test]
fn blocked_buffered_sender_is_ordered_before_the_receive_of_its_message() {
    // Go: TestNoRaceBlockedSendSync (chan_test.go)
    let first = line!();
    let (tx, rx) = sync_channel::<Arc<RaceCell<i64>>>(1);
    tx.send(cell(0)).unwrap();
    let t = thread::spawn(move || {
        let i = cell(0);
        i.set(42);
        tx.send(i).unwrap();
    });
    let _ = rx.recv().unwrap();
    let p = rx.recv().unwrap();
    assert_eq!(p.get(), 42);
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn capacity_one_second_send_completes_after_the_first_receive() {
    // racedet: receive k happens before send k + C completes (C = 1).
    let first = line!();
    let v = cell(0);
    let (tx, rx) = sync_channel::<u8>(1);
    let v1 = v.clone();
    let t = thread::spawn(move || {
        v1.set(1);
        assert_eq!(rx.recv(), Ok(1));
        assert_eq!(rx.recv(), Ok(2));
    });
    tx.send(1).unwrap();
    tx.send(2).unwrap();
    v.set(2);
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn write_after_the_freeing_receive_is_not_ordered_before_the_blocked_send() {
    // racedet: send 2 (C = 1) waits for receive 1, not for what follows it.
    let first = line!();
    let v = cell(0);
    let (tx, rx) = sync_channel::<u8>(1);
    let v1 = v.clone();
    let t = spawn_named("write-after-the", move || {
        assert_eq!(rx.recv(), Ok(1));
        let l = site!(v1.set(1));
        assert_eq!(rx.recv(), Ok(2));
        l
    });
    tx.send(1).unwrap();
    tx.send(2).unwrap();
    let lm = site!(black_box(v.get()));
    let lt = t.join().unwrap();
    let r = expect_race(file!(), lm, lt);
    assert_eq!(r.kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
    assert_threads(&r, [(lm, None), (lt, Some("write-after-the"))]);
}

#[test]
fn bounded_try_recv_that_gets_a_message_is_ordered_after_its_send() {
    let first = line!();
    let v = cell(0);
    let (tx, rx) = sync_channel::<u8>(3);
    let v1 = v.clone();
    let t = thread::spawn(move || {
        v1.set(1);
        tx.send(7).unwrap();
    });
    let got = loop {
        match rx.try_recv() {
            Ok(m) => break m,
            Err(TryRecvError::Empty) => thread::yield_now(),
            Err(e) => panic!("{e:?}"),
        }
    };
    assert_eq!(got, 7);
    v.set(2);
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

// -------------------------------------------------------- many senders

#[test]
fn receive_orders_only_the_sender_of_the_received_message() {
    // Go: TestRaceChanWrongSend (chan_test.go)
    let first = line!();
    let (v1, v2) = (cell(0), cell(0));
    let (tx, rx) = sync_channel::<i64>(2);
    let sent = Arc::new(Signal::default());
    let (a_v1, a_tx, a_sent) = (v1.clone(), tx.clone(), sent.clone());
    let a = thread::spawn(move || {
        a_v1.set(1);
        a_tx.send(1).unwrap();
        a_sent.raise();
    });
    let (b_v2, b_sent) = (v2.clone(), sent.clone());
    let b = spawn_named("wrong-send-b", move || {
        b_sent.wait();
        let l = site!(b_v2.set(2));
        tx.send(2).unwrap();
        l
    });
    assert_eq!(rx.recv(), Ok(1));
    let lm = site!(v2.set(3));
    assert_eq!(rx.recv(), Ok(2));
    a.join().unwrap();
    let lb = b.join().unwrap();
    let sides = [(lm, None), (lb, Some("wrong-send-b"))];
    assert_eq!(expect_race_by(file!(), sides).kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
}

#[test]
fn dropping_one_of_two_senders_publishes_nothing_to_a_receive_of_a_message() {
    // Go: TestRaceChanSyncCloseSend (chan_test.go), adapted: a hang-up that
    // no receive observes orders nothing.
    let first = line!();
    let v = cell(0);
    let (tx, rx) = channel::<u8>();
    let (tx2, v1) = (tx.clone(), v.clone());
    let dropped = Arc::new(Signal::default());
    let d1 = dropped.clone();
    let t = spawn_named("dropping-one-of", move || {
        let l = site!(v1.set(1));
        drop(tx2);
        d1.raise();
        l
    });
    dropped.wait();
    tx.send(5).unwrap();
    assert_eq!(rx.recv(), Ok(5));
    let lm = site!(v.set(2));
    let lt = t.join().unwrap();
    let r = expect_race(file!(), lm, lt);
    assert_eq!(r.kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
    assert_threads(&r, [(lm, None), (lt, Some("dropping-one-of"))]);
}

#[test]
fn receive_of_the_last_message_does_not_see_what_its_sender_did_after_sending() {
    // Go: TestRaceChanAsyncRev (chan_test.go), on an unbounded channel that
    // is then closed: only a receive that observes the hang-up sees it.
    let first = line!();
    let v = cell(0);
    let (tx, rx) = channel::<u8>();
    let v1 = v.clone();
    let t = spawn_named("receive-of-the", move || {
        tx.send(1).unwrap();
        let l = site!(v1.set(1));
        drop(tx);
        l
    });
    assert_eq!(rx.recv(), Ok(1));
    let lm = site!(v.set(2));
    let lt = t.join().unwrap();
    let r = expect_race(file!(), lm, lt);
    assert_eq!(r.kind, ReportKind::DataRace);
    assert_silent(file!(), first, line!());
    assert_threads(&r, [(lm, None), (lt, Some("receive-of-the"))]);
}

#[test]
fn unbounded_try_recv_that_gets_a_message_is_ordered_after_its_send() {
    let first = line!();
    let v = cell(0);
    let (tx, rx) = channel::<u8>();
    let v1 = v.clone();
    let t = thread::spawn(move || {
        v1.set(1);
        tx.send(7).unwrap();
    });
    let got = loop {
        match rx.try_recv() {
            Ok(m) => break m,
            Err(TryRecvError::Empty) => thread::yield_now(),
            Err(e) => panic!("{e:?}"),
        }
    };
    assert_eq!(got, 7);
    v.set(2);
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

// ----------------------------------------------------------- close

#[test]
fn ranging_over_a_closed_buffered_channel_sees_the_closer() {
    // Go: TestNoRaceChanAsyncCloseRecv3 (chan_test.go)
    let first = line!();
    let v = cell(0);
    let (tx, rx) = sync_channel::<i64>(10);
    let v1 = v.clone();
    let t = thread::spawn(move || {
        v1.set(1);
        drop(tx);
    });
    for m in rx.iter() {
        black_box(m);
    }
    v.set(2);
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn ranging_over_a_closed_unbuffered_channel_sees_the_closer() {
    // Go: TestNoRaceChanSyncCloseRecv3 (chan_test.go)
    let first = line!();
    let v = cell(0);
    let (tx, rx) = sync_channel::<i64>(0);
    let v1 = v.clone();
    let t = thread::spawn(move || {
        v1.set(1);
        drop(tx);
    });
    for m in rx {
        black_box(m);
    }
    v.set(2);
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn try_recv_that_observes_the_hang_up_sees_the_closer() {
    // Go: TestNoRaceChanAsyncCloseRecv2 (chan_test.go): `_, _ = <-c` on a
    // closed channel, here an unbounded one polled with try_recv.
    let first = line!();
    let v = cell(0);
    let (tx, rx) = channel::<i64>();
    let v1 = v.clone();
    let t = thread::spawn(move || {
        v1.set(1);
        drop(tx);
    });
    loop {
        match rx.try_recv() {
            Err(TryRecvError::Disconnected) => break,
            Err(TryRecvError::Empty) => thread::yield_now(),
            Ok(m) => panic!("unexpected message {m}"),
        }
    }
    v.set(2);
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}

#[test]
fn messages_then_close_publish_everything_to_the_receive_that_sees_the_close() {
    // Go: TestNoRaceChanAsyncCloseRecv (chan_test.go), with messages first.
    let first = line!();
    let v = cell(0);
    let (tx, rx) = channel::<i64>();
    let v1 = v.clone();
    let t = thread::spawn(move || {
        for k in 0..3 {
            tx.send(k).unwrap();
        }
        v1.set(1);
    });
    assert_eq!(rx.iter().collect::<Vec<_>>(), [0, 1, 2]);
    v.set(2);
    t.join().unwrap();
    assert_silent(file!(), first, line!());
}
