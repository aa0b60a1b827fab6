//! A leader-election cache: candidates delete, load and store the current
//! lease from several threads.

use racedet::collections::RaceMap;
use racedet::sync::{Arc, Mutex};
use racedet::thread;

/// The bug: Delete / Load / Store on a shared map with no lock.
pub fn racy_leader_cache() -> Option<String> {
    let leases: Arc<RaceMap<&'static str, String>> = Arc::new(RaceMap::new());
    let candidates: Vec<_> = (0..3)
        .map(|i| {
            let leases = leases.clone();
            thread::Builder::new()
                .name(format!("candidate-{i}"))
                .spawn(move || {
                    // Expired? Delete it, then try to take it.
                    leases.remove("leader");
                    if leases.get("leader").is_none() {
                        leases.insert("leader", format!("candidate-{i}"));
                    }
                })
                .unwrap()
        })
        .collect();
    for c in candidates {
        c.join().unwrap();
    }
    leases.get("leader")
}

/// The fix: the delete-load-store sequence is one critical section.
pub fn fixed_leader_cache() -> Option<String> {
    let leases: Arc<Mutex<RaceMap<&'static str, String>>> = Arc::new(Mutex::new(RaceMap::new()));
    let candidates: Vec<_> = (0..3)
        .map(|i| {
            let leases = leases.clone();
            thread::Builder::new()
                .name(format!("candidate-{i}"))
                .spawn(move || {
                    let leases = leases.lock().unwrap();
                    leases.remove("leader");
                    if leases.get("leader").is_none() {
                        leases.insert("leader", format!("candidate-{i}"));
                    }
                })
                .unwrap()
        })
        .collect();
    for c in candidates {
        c.join().unwrap();
    }
    let leader = leases.lock().unwrap().get("leader");
    leader
}
