//! W4 `sharded`: 16 mutex-guarded shards chosen by key hash, 9 : 1.

use super::{writes, KEYS, OPS, THREADS};
use crate::rng::XorShift;
use std::collections::HashMap;

const SHARDS: u64 = 16;

#[inline]
fn shard(key: u64) -> usize {
    (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 60) as usize % SHARDS as usize
}

pub fn plain() -> usize {
    use std::sync::{Arc, Mutex};
    let shards: Arc<Vec<Mutex<HashMap<u64, u64>>>> =
        Arc::new((0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect());
    let ts: Vec<_> = (0..THREADS)
        .map(|t| {
            let shards = shards.clone();
            std::thread::spawn(move || {
                let mut r = XorShift::new(t as u64 + 1);
                let mut sum = 0u64;
                for _ in 0..OPS {
                    let x = r.next();
                    let k = x % KEYS;
                    let mut g = shards[shard(k)].lock().unwrap();
                    if writes(x, 9) {
                        g.insert(k, x);
                    } else if let Some(v) = g.get(&k) {
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

pub fn detected() -> usize {
    use racedet::collections::RaceMap;
    use racedet::sync::{Arc, Mutex};
    let shards: Arc<Vec<Mutex<RaceMap<u64, u64>>>> =
        Arc::new((0..SHARDS).map(|_| Mutex::new(RaceMap::new())).collect());
    let ts: Vec<_> = (0..THREADS)
        .map(|t| {
            let shards = shards.clone();
            racedet::thread::spawn(move || {
                let mut r = XorShift::new(t as u64 + 1);
                let mut sum = 0u64;
                for _ in 0..OPS {
                    let x = r.next();
                    let k = x % KEYS;
                    let g = shards[shard(k)].lock().unwrap();
                    if writes(x, 9) {
                        g.insert(k, x);
                    } else if let Some(v) = g.get(&k) {
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
