//! An `RwLock`'s read-unlocks that publish only the reader's epoch, and
//! the ones that must not (see `runtime/src/rwlock_clock.rs`), in a test
//! binary of its own with one test running the scenarios in turn: a
//! reader publishes an epoch only if its detector slot is below 6, which
//! in a binary whose tests run at once it may not get. Keep this file to
//! one test.

use racedet::cell::RaceCell;
use racedet::reports::ReportKind;
use racedet::sync::{mpsc, Arc, RwLock};
use racedet::thread;
use racedet_tests::{assert_silent, expect_race_by, readers_then_a_writer, site};

#[test]
fn read_unlocks_publish_an_epoch_only_when_it_is_all_the_next_writer_lacks() {
    an_epoch_orders_only_what_came_before_the_read_unlock();
    a_writer_that_absorbed_an_epoch_passes_it_on();
    a_read_unlock_carries_what_the_reader_learned_since_its_write_unlock();
    every_reader_past_the_epoch_words_reaches_the_next_writer();
}

fn an_epoch_orders_only_what_came_before_the_read_unlock() {
    // The reader's write-unlock bounds it, so its read-unlock publishes
    // its epoch; its write after the unlock is not ordered before the
    // next writer's (an epoch published after the unlock's tick would
    // order it: a missed race).
    let x = Arc::new(RaceCell::new(0u8));
    let lock = Arc::new(RwLock::new(()));
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let reader = {
        let (x, lock) = (x.clone(), lock.clone());
        thread::Builder::new()
            .name("epoch-reader".into())
            .spawn(move || {
                drop(lock.write().unwrap());
                drop(lock.read().unwrap());
                done_tx.send(site!(x.set(2))).unwrap();
            })
            .unwrap()
    };
    let after_unlock = done_rx.recv().unwrap();
    let written = {
        let _w = lock.write().unwrap();
        site!(x.set(1))
    };
    reader.join().unwrap();
    let r = expect_race_by(
        file!(),
        [(after_unlock, Some("epoch-reader")), (written, None)],
    );
    assert_eq!(r.kind, ReportKind::DataRace);
}

fn a_writer_that_absorbed_an_epoch_passes_it_on() {
    // A writer whose own last release was the write clock, and whose clock
    // changed since only by a reader's epoch, must store its whole clock
    // at its unlock, not just its own entry (which would drop the epoch
    // for the writer after it: a false race). The last writer is spawned
    // first, so that only the lock orders it after the read.
    let first = line!();
    let x = Arc::new(RaceCell::new(0u8));
    let lock = Arc::new(RwLock::new(()));
    let (go_last, last_rx) = std::sync::mpsc::channel::<()>();
    let last = {
        let (x, lock) = (x.clone(), lock.clone());
        thread::spawn(move || {
            last_rx.recv().unwrap();
            let _w = lock.write().unwrap();
            x.set(1);
        })
    };
    let (go_writer, writer_rx) = std::sync::mpsc::channel::<()>();
    let (writer_done, done_rx) = std::sync::mpsc::channel::<()>();
    let writer = {
        let lock = lock.clone();
        thread::spawn(move || {
            writer_rx.recv().unwrap();
            drop(lock.write().unwrap());
            drop(lock.write().unwrap());
            writer_done.send(()).unwrap();
            writer_rx.recv().unwrap();
            drop(lock.write().unwrap());
            writer_done.send(()).unwrap();
        })
    };
    drop(lock.write().unwrap());
    go_writer.send(()).unwrap();
    done_rx.recv().unwrap();
    {
        let _r = lock.read().unwrap();
        let _ = x.get();
    }
    go_writer.send(()).unwrap();
    done_rx.recv().unwrap();
    go_last.send(()).unwrap();
    last.join().unwrap();
    writer.join().unwrap();
    assert_silent(file!(), first, line!());
}

fn every_reader_past_the_epoch_words_reaches_the_next_writer() {
    // Twelve readers, each bounded by the write clock (its own write-unlock
    // first): those in slots below 6 publish epochs, those in slots 6 and
    // 7 merge into their slots, later ones into the overflow clock. The
    // next writer must acquire all three kinds.
    readers_then_a_writer(12, true);
}

fn a_read_unlock_carries_what_the_reader_learned_since_its_write_unlock() {
    // After its write-unlock a thread's clock is the lock's write clock
    // plus its own entry, and its read-unlocks need publish no more than
    // its epoch -- until it learns something elsewhere. Here it learns of
    // a write by another thread (a message), once before it takes the
    // read lock and once while it holds it; the next writer must have
    // that write through the read-unlock, which must merge its clock.
    // std's channels order the steps in time only.
    let first = line!();
    let (x, y) = (Arc::new(RaceCell::new(0u8)), Arc::new(RaceCell::new(0u8)));
    let lock = Arc::new(RwLock::new(()));
    let (news_tx, news_rx) = mpsc::channel::<()>();
    let teller = {
        let (x, y) = (x.clone(), y.clone());
        thread::spawn(move || {
            for cell in [x, y] {
                cell.set(1);
                news_tx.send(()).unwrap();
            }
        })
    };
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let reader = {
        let lock = lock.clone();
        thread::spawn(move || {
            drop(lock.write().unwrap());
            news_rx.recv().unwrap();
            drop(lock.read().unwrap());
            done_tx.send(()).unwrap();
            go_rx.recv().unwrap();
            drop(lock.write().unwrap());
            {
                let _r = lock.read().unwrap();
                news_rx.recv().unwrap();
            }
            done_tx.send(()).unwrap();
        })
    };
    done_rx.recv().unwrap();
    {
        let _w = lock.write().unwrap();
        let _ = x.get();
    }
    go_tx.send(()).unwrap();
    done_rx.recv().unwrap();
    {
        let _w = lock.write().unwrap();
        let _ = y.get();
    }
    reader.join().unwrap();
    teller.join().unwrap();
    assert_silent(file!(), first, line!());
}
