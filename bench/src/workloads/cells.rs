//! W7 `cells`: 4 threads × 1 000 000 reads/writes of variables that are
//! mostly thread-local (the FastTrack same-epoch fast path), with a shared
//! counter under a Mutex every 1024 operations. Judged per checked access.

use super::THREADS;

const OPS: usize = 1_000_000;
const SHARE_EVERY: usize = 1024;

pub fn plain() -> usize {
    use std::sync::{Arc, Mutex};
    let shared = Arc::new(Mutex::new(0u64));
    let ts: Vec<_> = (0..THREADS)
        .map(|_| {
            let shared = shared.clone();
            std::thread::spawn(move || {
                let mut x = 0u64;
                for i in 0..OPS {
                    if i % 2 == 0 {
                        x = std::hint::black_box(x) + 1;
                    } else {
                        std::hint::black_box(x);
                    }
                    if i % SHARE_EVERY == 0 {
                        *shared.lock().unwrap() += 1;
                    }
                }
                x
            })
        })
        .collect();
    for t in ts {
        std::hint::black_box(t.join().unwrap());
    }
    THREADS * OPS
}

pub fn detected() -> usize {
    use racedet::cell::RaceCell;
    use racedet::sync::{Arc, Mutex};
    let shared = Arc::new(Mutex::new(RaceCell::new(0u64)));
    let ts: Vec<_> = (0..THREADS)
        .map(|_| {
            let shared = shared.clone();
            racedet::thread::spawn(move || {
                let x = RaceCell::new(0u64);
                for i in 0..OPS {
                    if i % 2 == 0 {
                        x.set(x.get() + 1);
                    } else {
                        std::hint::black_box(x.get());
                    }
                    if i % SHARE_EVERY == 0 {
                        let s = shared.lock().unwrap();
                        s.set(s.get() + 1);
                    }
                }
                x.get()
            })
        })
        .collect();
    for t in ts {
        std::hint::black_box(t.join().unwrap());
    }
    THREADS * OPS
}
