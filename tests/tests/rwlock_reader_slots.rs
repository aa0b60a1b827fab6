//! An `RwLock`'s per-reader release slots (see `runtime/src/rwlock_clock.rs`), in
//! a test binary of its own with one test: a reader uses a slot only if
//! its detector slot is below 8, which in a binary whose tests run at once
//! it may not get (it then merges into the lock's overflow clock, which
//! `cells_threads_locks` covers). Keep this file to one test.

use racedet::cell::RaceCell;
use racedet::sync::{Arc, RwLock};
use racedet::thread;
use racedet_tests::assert_silent;

#[test]
fn each_write_lock_sees_the_reader_s_latest_read_unlock() {
    // The reader reads under a read lock twice, each time followed by a
    // write lock of this thread: the second read-unlock must reach the
    // second writer though a writer has already taken the slot's first.
    // Then a writer that finds the slot as the last writer left it must
    // have the reader's reads through the writers before it (here another
    // thread, which only the lock orders after them). Both hold whatever
    // a writer does with a slot it has joined (clears it now; keeping
    // its clock was tried, see bench/HISTORY.md). std's channels order the steps
    // in time only.
    let first = line!();
    let (x, y) = (Arc::new(RaceCell::new(0u8)), Arc::new(RaceCell::new(0u8)));
    let lock = Arc::new(RwLock::new(()));
    let (to_reader, reader_rx) = std::sync::mpsc::channel::<()>();
    let (reader_tx, from_reader) = std::sync::mpsc::channel::<()>();
    let reader = {
        let (x, y, lock) = (x.clone(), y.clone(), lock.clone());
        thread::spawn(move || {
            for cell in [x, y] {
                reader_rx.recv().unwrap();
                {
                    let _r = lock.read().unwrap();
                    let _ = cell.get();
                }
                reader_tx.send(()).unwrap();
            }
        })
    };
    // Spawned now, so that only the lock orders it after the reads.
    let (to_late, late_rx) = std::sync::mpsc::channel::<()>();
    let late_writer = {
        let (x, lock) = (x.clone(), lock.clone());
        thread::spawn(move || {
            late_rx.recv().unwrap();
            let _w = lock.write().unwrap();
            x.set(2);
        })
    };
    let write_locked = |cell: &Arc<RaceCell<u8>>| {
        let _w = lock.write().unwrap();
        cell.set(1);
    };
    // The reader reads x; this thread's write lock joins its slot.
    to_reader.send(()).unwrap();
    from_reader.recv().unwrap();
    write_locked(&y);
    // The reader reads y: its slot changes after a writer joined it.
    to_reader.send(()).unwrap();
    from_reader.recv().unwrap();
    write_locked(&y);
    // Another thread's write lock finds the slot as this thread joined it,
    // and writes what the reader read first.
    to_late.send(()).unwrap();
    late_writer.join().unwrap();
    reader.join().unwrap();
    assert_silent(file!(), first, line!());
}
