//! Nanoseconds per operation of the engine's fast paths. Not a timed test:
//! it prints a table, to compare before and after a change on one machine.
//!
//! `cargo bench -p racedet-detector --bench fast_paths`

use racedet_detector::{Detector, Shadow, SyncClock, ThreadState};
use std::hint::black_box;
use std::time::Instant;

/// Best of this many timed runs: the minimum is the least noisy estimate of
/// what the code costs on an otherwise idle core.
const RUNS: usize = 7;

/// Runs `op` `iters` times per run and returns the best ns per call.
fn measure(iters: u64, mut op: impl FnMut(u64)) -> f64 {
    for i in 0..iters / 10 {
        op(i);
    }
    let mut best = f64::MAX;
    for _ in 0..RUNS {
        let start = Instant::now();
        for i in 0..iters {
            op(i);
        }
        best = best.min(start.elapsed().as_nanos() as f64 / iters as f64);
    }
    best
}

fn row(name: &str, ns: f64) {
    println!("| {name:<52} | {ns:>8.2} |");
}

/// A root and `n - 1` concurrent children, each of whose clocks has seen
/// all `n` slots (the children released into one object the root then
/// acquired), so a join or copy touches `n` entries. Returns two threads.
fn threads_with_clock_len(n: usize) -> (ThreadState, ThreadState) {
    let mut detector = Detector::new();
    let mut root = detector.root_thread().unwrap();
    let mut children: Vec<ThreadState> =
        (1..n).map(|_| detector.fork(&mut root).unwrap()).collect();
    let mut gather = SyncClock::new();
    for child in &mut children {
        gather.release_merge(child);
    }
    gather.acquire(&mut root);
    let other = detector.fork(&mut root).unwrap();
    assert!(root.clock().len() >= n, "{:?}", root.clock());
    (root, other)
}

fn main() {
    const N: u64 = 20_000_000;
    println!("| operation                                            |    ns/op |");
    println!("|------------------------------------------------------|----------|");

    // What the loop and `black_box` of a verdict cost by themselves:
    // included in every row below.
    row(
        "harness overhead (loop + black_box of a verdict)",
        measure(N, |i| {
            black_box(black_box(i) == u64::MAX);
        }),
    );

    let mut detector = Detector::new();
    let mut t = detector.root_thread().unwrap();

    let mut x: Shadow<u64> = Shadow::new();
    x.read(&t, 0);
    row(
        "same-epoch read",
        measure(N, |i| {
            black_box(x.read(black_box(&t), i).is_some());
        }),
    );

    let mut x: Shadow<u64> = Shadow::new();
    x.write(&t, 0);
    row(
        "same-epoch write",
        measure(N, |i| {
            black_box(x.write(black_box(&t), i).is_some());
        }),
    );

    // Exclusive accesses need a new epoch each time; a tick is how a thread
    // gets one (any release does it), so it is timed alone too.
    let tick = measure(N, |_| {
        black_box(&mut t).tick();
    });
    row("tick alone (baseline for the two rows below)", tick);

    let mut x: Shadow<u64> = Shadow::new();
    let write = measure(N, |i| {
        t.tick();
        black_box(x.write(black_box(&t), i).is_some());
    });
    row("exclusive write (tick + write)", write);
    row("exclusive write (net of tick)", write - tick);

    let mut x: Shadow<u64> = Shadow::new();
    x.write(&t, 0);
    let read = measure(N, |i| {
        t.tick();
        black_box(x.read(black_box(&t), i).is_some());
    });
    row("exclusive read (tick + read)", read);
    row("exclusive read (net of tick)", read - tick);

    for readers in [2, 8] {
        let mut detector = Detector::new();
        let mut root = detector.root_thread().unwrap();
        let mut x: Shadow<u64> = Shadow::new();
        x.write(&root, 0);
        let threads: Vec<ThreadState> = (0..readers)
            .map(|_| detector.fork(&mut root).unwrap())
            .collect();
        for (i, r) in threads.iter().enumerate() {
            assert!(x.read(r, i as u64).is_none());
        }
        assert_eq!(x.remembered(), 1 + readers);
        row(
            &format!("read-shared read, {readers} concurrent readers"),
            measure(N / 4, |i| {
                let r = &threads[i as usize % readers];
                black_box(x.read(black_box(r), i).is_some());
            }),
        );
    }

    for n in [2, 8, 64] {
        let (mut a, mut b) = threads_with_clock_len(n);
        let mut lock = SyncClock::new();
        // Two threads take turns, so every acquire really has news to join.
        let ns = measure(N / 8, |i| {
            let t = if i % 2 == 0 { &mut a } else { &mut b };
            lock.acquire(black_box(t));
            lock.release_store(t);
        });
        row(&format!("lock+unlock on a SyncClock, {n}-slot clocks"), ns);
    }

    for n in [8, 64] {
        let (mut a, _) = threads_with_clock_len(n);
        let mut lock = SyncClock::new();
        // One thread cycling a lock: the acquire is a name hit and the
        // release one store, whatever the clock's length.
        let ns = measure(N / 8, |_| {
            lock.acquire(black_box(&mut a));
            lock.release_store(&mut a);
        });
        row(&format!("lock+unlock by one thread, {n}-slot clocks"), ns);
    }
}
