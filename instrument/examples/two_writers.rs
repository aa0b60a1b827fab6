//! Two threads write one map with no lock: `concurrent map writes`.
//!
//! cargo run -p racedet --features detect --example two_writers

use racedet::collections::RaceMap;
use racedet::sync::Arc;
use racedet::thread;

fn apply_update(cache: &RaceMap<String, u64>, key: &str, value: u64) {
    cache.insert(key.to_string(), value);
}

fn main() {
    let cache = Arc::new(RaceMap::new());
    let workers: Vec<_> = (0..2)
        .map(|i| {
            let cache = cache.clone();
            thread::Builder::new()
                .name(format!("worker-{i}"))
                .spawn(move || apply_update(&cache, "config", i))
                .unwrap()
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    println!("cache has {} entries", cache.len());
}
