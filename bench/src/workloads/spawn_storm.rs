//! W5 `spawn-storm`: many short-lived threads, in waves of 64, each doing
//! one map operation under a Mutex. The cost per thread must not grow with
//! the number of threads ever created.

use super::KEYS;
use std::collections::HashMap;

const WAVE: usize = 64;

pub fn plain(threads: usize) -> usize {
    use std::sync::{Arc, Mutex};
    let m = Arc::new(Mutex::new(HashMap::<u64, u64>::new()));
    let mut done = 0;
    while done < threads {
        let n = WAVE.min(threads - done);
        let wave: Vec<_> = (0..n)
            .map(|i| {
                let m = m.clone();
                let k = (done + i) as u64;
                std::thread::spawn(move || {
                    m.lock().unwrap().insert(k % KEYS, k);
                })
            })
            .collect();
        for t in wave {
            t.join().unwrap();
        }
        done += n;
    }
    threads
}

pub fn detected(threads: usize) -> usize {
    use racedet::collections::RaceMap;
    use racedet::sync::{Arc, Mutex};
    let m = Arc::new(Mutex::new(RaceMap::<u64, u64>::new()));
    let mut done = 0;
    while done < threads {
        let n = WAVE.min(threads - done);
        let wave: Vec<_> = (0..n)
            .map(|i| {
                let m = m.clone();
                let k = (done + i) as u64;
                racedet::thread::spawn(move || {
                    m.lock().unwrap().insert(k % KEYS, k);
                })
            })
            .collect();
        for t in wave {
            t.join().unwrap();
        }
        done += n;
    }
    threads
}
