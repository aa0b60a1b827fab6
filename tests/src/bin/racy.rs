//! A small program with known races, run as a subprocess by the report and
//! exit-status tests: `racy MODE` where MODE is `race`, `clean`, `two`,
//! `cell`, `taken-here` or `taken-elsewhere`.

use racedet::cell::RaceCell;
use racedet::collections::RaceMap;
use racedet::sync::{Arc, Mutex};
use racedet::thread;

fn apply_update(cache: &RaceMap<String, u64>, key: &str, value: u64) {
    cache.insert(key.to_string(), value);
}

fn two_writers() {
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
}

fn cell_race() {
    let hits = Arc::new(RaceCell::new(0u64));
    let h = hits.clone();
    let t = thread::spawn(move || h.set(1));
    hits.set(2);
    t.join().unwrap();
}

fn clean() {
    let cache = Arc::new(Mutex::new(RaceMap::new()));
    let workers: Vec<_> = (0..4u64)
        .map(|i| {
            let cache = cache.clone();
            thread::spawn(move || {
                cache.lock().unwrap().insert(i, i);
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    assert_eq!(cache.lock().unwrap().len(), 4);
}

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    match mode.as_str() {
        "race" => two_writers(),
        "cell" => cell_race(),
        "two" => {
            two_writers();
            cell_race();
        }
        "clean" => clean(),
        "taken-here" => tests_taking(true),
        "taken-elsewhere" => tests_taking(false),
        other => {
            eprintln!(
                "racy: unknown mode `{other}`; expected race, cell, two, clean, taken-here \
                 or taken-elsewhere"
            );
            std::process::exit(2);
        }
    }
    println!("racy: {mode} done");
}

/// What a test harness does: each test on a thread of its own, not
/// spawned by racedet. Test A makes a race (between threads it spawned);
/// then test B, or A itself when `a_takes`, takes the reports.
fn tests_taking(a_takes: bool) {
    std::thread::spawn(move || {
        two_writers();
        if a_takes {
            assert_eq!(racedet::reports::take().len(), 1);
        }
    })
    .join()
    .unwrap();
    std::thread::spawn(move || {
        // Returned either way (every report made so far).
        assert_eq!(racedet::reports::take().len(), usize::from(!a_takes));
    })
    .join()
    .unwrap();
}
