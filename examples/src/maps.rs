//! Maps shared between threads: the basic cases.

use racedet::collections::RaceMap;
use racedet::sync::{Arc, RwLock};
use racedet::thread;

/// Two writers on one map with no lock: `concurrent map writes`.
pub fn two_writers() -> usize {
    let cache = Arc::new(RaceMap::new());
    let writers: Vec<_> = (0..2u64)
        .map(|i| {
            let cache = cache.clone();
            thread::Builder::new()
                .name(format!("writer-{i}"))
                .spawn(move || {
                    cache.insert("config", i);
                })
                .unwrap()
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    cache.len()
}

/// Go's `SafeMap`: a map behind a reader-writer lock. No race.
pub struct SafeMap {
    inner: RwLock<RaceMap<String, u64>>,
}

impl Default for SafeMap {
    fn default() -> Self {
        SafeMap {
            inner: RwLock::new(RaceMap::new()),
        }
    }
}

impl SafeMap {
    /// Stores under the write lock.
    pub fn store(&self, key: &str, value: u64) {
        self.inner.write().unwrap().insert(key.to_string(), value);
    }

    /// Loads under the read lock.
    pub fn load(&self, key: &str) -> Option<u64> {
        self.inner.read().unwrap().get(key)
    }
}

/// Four threads reading and writing a `SafeMap`. No race.
pub fn safe_map() -> u64 {
    let m = Arc::new(SafeMap::default());
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let m = m.clone();
            thread::spawn(move || {
                let mut sum = 0;
                for i in 0..1000u64 {
                    let key = format!("k{}", i % 16);
                    if i % 10 == 0 {
                        m.store(&key, t);
                    } else {
                        sum += m.load(&key).unwrap_or(0);
                    }
                }
                sum
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).sum()
}

/// A map filled before the threads start, then only read. No race.
pub fn readers_only() -> u64 {
    let m: Arc<RaceMap<u64, u64>> = Arc::new((0..64).map(|i| (i, i * i)).collect());
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let m = m.clone();
            thread::spawn(move || (0..64).filter_map(|i| m.get(&i)).sum::<u64>())
        })
        .collect();
    readers.into_iter().map(|r| r.join().unwrap()).sum()
}

/// One thread iterates while another writes: `concurrent map iteration and
/// map write`.
pub fn iterate_while_writing() -> usize {
    let m: Arc<RaceMap<u64, u64>> = Arc::new((0..8).map(|i| (i, i)).collect());
    let writer = {
        let m = m.clone();
        thread::Builder::new()
            .name("writer".into())
            .spawn(move || {
                m.insert(100, 100);
            })
            .unwrap()
    };
    let mut seen = 0;
    m.range(|_, _| {
        seen += 1;
        true
    });
    writer.join().unwrap();
    seen
}
