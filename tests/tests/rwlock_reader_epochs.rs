//! An `RwLock` read-unlock that publishes only the reader's epoch (see
//! `runtime/src/rwlock_clock.rs`), in a test binary of its own with one
//! test: a reader publishes an epoch only if its detector slot is below 6,
//! which in a binary whose tests run at once it may not get. Keep this
//! file to one test.

use racedet::cell::RaceCell;
use racedet::sync::{mpsc, Arc, RwLock};
use racedet::thread;
use racedet_tests::assert_silent;

#[test]
fn a_read_unlock_carries_what_the_reader_learned_since_its_write_unlock() {
    // After its write-unlock a thread's clock is the lock's write clock
    // plus its own entry, and its read-unlocks need publish no more than
    // its epoch -- until it learns something elsewhere. Here it learns of
    // a write by another thread (a message), once before it takes the
    // read lock and once while it holds it; the next writer must have
    // that write through the read-unlock. std's channels order the steps
    // in time only.
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
