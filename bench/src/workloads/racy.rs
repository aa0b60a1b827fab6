//! W6 `racy`: 4 threads writing one map with no lock, 1 000 000 operations
//! in all: a report storm that must stay deduplicated and bounded in memory.
//! The plain side needs a lock to be memory-safe, so it is the same map
//! behind a Mutex.

use super::{KEYS, THREADS};
use crate::rng::XorShift;

const TOTAL: usize = 1_000_000;

pub fn plain() -> usize {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    let m = Arc::new(Mutex::new(HashMap::<u64, u64>::new()));
    let ts: Vec<_> = (0..THREADS)
        .map(|t| {
            let m = m.clone();
            std::thread::spawn(move || {
                let mut r = XorShift::new(t as u64 + 1);
                for _ in 0..TOTAL / THREADS {
                    let x = r.next();
                    m.lock().unwrap().insert(x % KEYS, x);
                }
            })
        })
        .collect();
    for t in ts {
        t.join().unwrap();
    }
    TOTAL
}

pub fn detected() -> usize {
    use racedet::collections::RaceMap;
    use racedet::sync::Arc;
    let m = Arc::new(RaceMap::<u64, u64>::new());
    let ts: Vec<_> = (0..THREADS)
        .map(|t| {
            let m = m.clone();
            racedet::thread::spawn(move || {
                let mut r = XorShift::new(t as u64 + 1);
                for _ in 0..TOTAL / THREADS {
                    let x = r.next();
                    m.insert(x % KEYS, x);
                }
            })
        })
        .collect();
    for t in ts {
        t.join().unwrap();
    }
    TOTAL
}
