//! How far apart the cores the workloads run on are: the round trip of
//! one cache line between two threads. On a shared virtual machine it
//! changes with where the host puts the virtual CPUs (on the 2-core
//! machine of the README's figures: about 55 ns, or 140 to 350 ns), and the
//! ratios of the lock-bound map workloads move with it, so every table
//! says what it was measured under.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Round trips per try, at most.
const ROUNDS: u64 = 10_000;
/// A try stops after about this long (the clock is read every 16 round
/// trips: its cost, averaged over them, is a small part of the figure).
const TRY_TIME: Duration = Duration::from_millis(20);
/// Tries; the fastest is reported.
const TRIES: usize = 7;
/// Tells the echo thread to end.
const STOP: u64 = u64::MAX;

/// Nanoseconds for a cache line to go to another thread and back, or
/// `None` with one CPU to run on (two threads then take turns, and the
/// figure would be a scheduler time slice). The fastest of a few tries: a
/// try whose two threads the scheduler has not yet put on different cores
/// measures context switches instead.
pub fn round_trip_ns() -> Option<f64> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cpus > 1).then(|| (0..TRIES).map(|_| one_try()).fold(f64::INFINITY, f64::min))
}

/// One thread writes odd values, the other answers each with the next even
/// one; the line holding the value moves twice per round.
fn one_try() -> f64 {
    let line = Arc::new(AtomicU64::new(0));
    let theirs = line.clone();
    let echo = std::thread::spawn(move || {
        for i in 0.. {
            if !wait_for(&theirs, 2 * i + 1) {
                return;
            }
            theirs.store(2 * i + 2, Ordering::Release);
        }
    });
    // Round 0 waits for the echo thread to start; the timing begins after.
    line.store(1, Ordering::Release);
    wait_for(&line, 2);
    let start = Instant::now();
    let mut rounds = 0;
    for i in 1..=ROUNDS {
        line.store(2 * i + 1, Ordering::Release);
        wait_for(&line, 2 * i + 2);
        rounds = i;
        if i % 16 == 0 && start.elapsed() > TRY_TIME {
            break;
        }
    }
    let ns = start.elapsed().as_nanos() as f64 / rounds as f64;
    line.store(STOP, Ordering::Release);
    echo.join().expect("echo thread");
    ns
}

/// Spins until `line` holds `value` (true) or `STOP` (false). It yields
/// only after a long spin, which two threads on different cores never
/// reach: a thread that yields often is not moved to an idle core.
fn wait_for(line: &AtomicU64, value: u64) -> bool {
    let mut spins = 0u32;
    loop {
        match line.load(Ordering::Acquire) {
            v if v == value => return true,
            STOP => return false,
            _ => {}
        }
        spins += 1;
        if spins.is_multiple_of(1 << 16) {
            std::thread::yield_now();
        } else {
            std::hint::spin_loop();
        }
    }
}
