//! W1 `rwmap` (9 reads : 1 write under a RwLock) and W2 `mutexmap`
//! (1 : 1 under a Mutex): Go's seed benchmark.

use super::{writes, KEYS, OPS, THREADS};
use crate::rng::XorShift;
use std::collections::HashMap;

pub fn rwmap_plain() -> usize {
    use std::sync::{Arc, RwLock};
    let m = Arc::new(RwLock::new(HashMap::<u64, u64>::new()));
    let ts: Vec<_> = (0..THREADS)
        .map(|t| {
            let m = m.clone();
            std::thread::spawn(move || {
                let mut r = XorShift::new(t as u64 + 1);
                let mut sum = 0u64;
                for _ in 0..OPS {
                    let x = r.next();
                    if writes(x, 9) {
                        m.write().unwrap().insert(x % KEYS, x);
                    } else if let Some(v) = m.read().unwrap().get(&(x % KEYS)) {
                        sum = sum.wrapping_add(*v);
                    }
                }
                sum
            })
        })
        .collect();
    for t in ts {
        std::hint::black_box(t.join().unwrap());
    }
    THREADS * OPS
}

pub fn rwmap_detected() -> usize {
    use racedet::collections::RaceMap;
    use racedet::sync::{Arc, RwLock};
    let m = Arc::new(RwLock::new(RaceMap::<u64, u64>::new()));
    let ts: Vec<_> = (0..THREADS)
        .map(|t| {
            let m = m.clone();
            racedet::thread::spawn(move || {
                let mut r = XorShift::new(t as u64 + 1);
                let mut sum = 0u64;
                for _ in 0..OPS {
                    let x = r.next();
                    if writes(x, 9) {
                        m.write().unwrap().insert(x % KEYS, x);
                    } else if let Some(v) = m.read().unwrap().get(&(x % KEYS)) {
                        sum = sum.wrapping_add(v);
                    }
                }
                sum
            })
        })
        .collect();
    for t in ts {
        std::hint::black_box(t.join().unwrap());
    }
    THREADS * OPS
}

pub fn mutexmap_plain() -> usize {
    use std::sync::{Arc, Mutex};
    let m = Arc::new(Mutex::new(HashMap::<u64, u64>::new()));
    let ts: Vec<_> = (0..THREADS)
        .map(|t| {
            let m = m.clone();
            std::thread::spawn(move || {
                let mut r = XorShift::new(t as u64 + 1);
                let mut sum = 0u64;
                for _ in 0..OPS {
                    let x = r.next();
                    let mut g = m.lock().unwrap();
                    if writes(x, 1) {
                        g.insert(x % KEYS, x);
                    } else if let Some(v) = g.get(&(x % KEYS)) {
                        sum = sum.wrapping_add(*v);
                    }
                }
                sum
            })
        })
        .collect();
    for t in ts {
        std::hint::black_box(t.join().unwrap());
    }
    THREADS * OPS
}

pub fn mutexmap_detected() -> usize {
    use racedet::collections::RaceMap;
    use racedet::sync::{Arc, Mutex};
    let m = Arc::new(Mutex::new(RaceMap::<u64, u64>::new()));
    let ts: Vec<_> = (0..THREADS)
        .map(|t| {
            let m = m.clone();
            racedet::thread::spawn(move || {
                let mut r = XorShift::new(t as u64 + 1);
                let mut sum = 0u64;
                for _ in 0..OPS {
                    let x = r.next();
                    let g = m.lock().unwrap();
                    if writes(x, 1) {
                        g.insert(x % KEYS, x);
                    } else if let Some(v) = g.get(&(x % KEYS)) {
                        sum = sum.wrapping_add(v);
                    }
                }
                sum
            })
        })
        .collect();
    for t in ts {
        std::hint::black_box(t.join().unwrap());
    }
    THREADS * OPS
}
