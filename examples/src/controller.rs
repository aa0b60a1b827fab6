//! A Kubernetes-style controller: an informer thread refreshes a cache of
//! objects that the reconcile loop reads.

use racedet::collections::RaceMap;
use racedet::sync::{Arc, RwLock};
use racedet::thread;

/// An object as the informer caches it.
#[derive(Clone, Debug, PartialEq)]
pub struct Pod {
    /// Desired replicas.
    pub replicas: u32,
}

/// The bug: the informer writes the cache with no lock while the reconcile
/// loop reads it. `concurrent map read and map write`.
pub fn racy_controller() -> u32 {
    let cache: Arc<RaceMap<String, Pod>> = Arc::new(RaceMap::new());
    let informer = {
        let cache = cache.clone();
        thread::Builder::new()
            .name("informer".into())
            .spawn(move || {
                for i in 0..3 {
                    cache.insert(format!("pod-{i}"), Pod { replicas: i });
                }
            })
            .unwrap()
    };
    let mut total = 0;
    for i in 0..3 {
        // reconcile: read the desired state
        if let Some(p) = cache.get(&format!("pod-{i}")) {
            total += p.replicas;
        }
    }
    informer.join().unwrap();
    total
}

/// The fix: the informer and the reconcile loop share the cache through a
/// reader-writer lock (the loop may see a partial refresh, never a torn one).
pub fn fixed_controller() -> u32 {
    let cache: Arc<RwLock<RaceMap<String, Pod>>> = Arc::new(RwLock::new(RaceMap::new()));
    let informer = {
        let cache = cache.clone();
        thread::Builder::new()
            .name("informer".into())
            .spawn(move || {
                for i in 0..3 {
                    cache
                        .write()
                        .unwrap()
                        .insert(format!("pod-{i}"), Pod { replicas: i });
                }
            })
            .unwrap()
    };
    let mut total = 0;
    for i in 0..3 {
        if let Some(p) = cache.read().unwrap().get(&format!("pod-{i}")) {
            total += p.replicas;
        }
    }
    informer.join().unwrap();
    total
}
