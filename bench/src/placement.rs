//! How far apart the cores the workloads run on are: the round trip of
//! one cache line between two threads. On a shared virtual machine it
//! changes with where the host puts the virtual CPUs (on the 2-core
//! machine of the README's figures: about 50-90 ns, or 300-370 ns; other
//! readings came while the host had stopped one of them, see `rounds`),
//! and the ratios of the lock-bound map workloads move with it, so every
//! table says what it was measured under. The two threads are pinned to the
//! first two CPUs the process may use: unpinned, the scheduler sometimes
//! runs both on one CPU, and the figure is then a context switch, which
//! looks like a far placement.

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
/// Tries between the rounds of `--by-placement`, which measure often.
pub const QUICK_TRIES: usize = 3;
/// Tells the echo thread to end.
const STOP: u64 = u64::MAX;

/// Nanoseconds for a cache line to go to another thread and back, or
/// `None` with one CPU to run on (two threads then take turns, and the
/// figure would be a scheduler time slice). The fastest of a few tries: a
/// try during which the host ran something else on one of the CPUs
/// measures that instead.
pub fn round_trip_ns() -> Option<f64> {
    round_trip_ns_of(TRIES)
}

/// [`round_trip_ns`] with `tries` tries.
pub fn round_trip_ns_of(tries: usize) -> Option<f64> {
    let cpus = two_cpus()?;
    Some(
        (0..tries)
            .map(|_| one_try(cpus))
            .fold(f64::INFINITY, f64::min),
    )
}

/// The first two CPUs this process may run on, if it may run on two.
fn two_cpus() -> Option<[usize; 2]> {
    // SAFETY: a zeroed `cpu_set_t` is an empty set, which the call fills.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: `set` is a valid set of `size` bytes.
    if unsafe { libc::sched_getaffinity(0, size, &mut set) } != 0 {
        return None;
    }
    // SAFETY: `c` is below the set's size.
    let mut cpus = (0..libc::CPU_SETSIZE as usize).filter(|&c| unsafe { libc::CPU_ISSET(c, &set) });
    Some([cpus.next()?, cpus.next()?])
}

/// Keeps the calling thread on `cpu` (the measuring threads only: the
/// main thread, whose mask the workload children inherit, is never
/// pinned). A failure leaves it unpinned, which the fastest-of-tries
/// mostly makes up for.
fn pin(cpu: usize) {
    // SAFETY: as in `two_cpus`; the set names one CPU the process may use.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// One thread writes odd values, the other answers each with the next even
/// one; the line holding the value moves twice per round. Both threads
/// are spawned from the (unpinned) caller, so one whose pin fails keeps
/// the process's mask rather than its partner's CPU.
fn one_try([mine, echo_cpu]: [usize; 2]) -> f64 {
    let line = Arc::new(AtomicU64::new(0));
    let theirs = line.clone();
    let echo = std::thread::spawn(move || {
        pin(echo_cpu);
        for i in 0.. {
            if !wait_for(&theirs, 2 * i + 1) {
                return;
            }
            theirs.store(2 * i + 2, Ordering::Release);
        }
    });
    let ns = std::thread::spawn(move || {
        pin(mine);
        measure(&line)
    })
    .join()
    .expect("measuring thread");
    echo.join().expect("echo thread");
    ns
}

/// The measuring side of [`one_try`]; tells the echo thread to end.
fn measure(line: &AtomicU64) -> f64 {
    // Round 0 waits for the echo thread to start; the timing begins after.
    line.store(1, Ordering::Release);
    wait_for(line, 2);
    let start = Instant::now();
    let mut rounds = 0;
    for i in 1..=ROUNDS {
        line.store(2 * i + 1, Ordering::Release);
        wait_for(line, 2 * i + 2);
        rounds = i;
        if i % 16 == 0 && start.elapsed() > TRY_TIME {
            break;
        }
    }
    let ns = start.elapsed().as_nanos() as f64 / rounds as f64;
    line.store(STOP, Ordering::Release);
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
