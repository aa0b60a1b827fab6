//! The workloads of SPEC section 6. Each has a plain version (std types)
//! and a detected one (racedet types); both do the same operations and
//! return how many they did.

mod cells;
mod channel_owner;
mod maps;
mod racy;
mod sharded;
mod spawn_storm;

use crate::harness::Mode;

/// Names, in table order.
pub const ALL: [&str; 7] = [
    "rwmap",
    "mutexmap",
    "channel-owner",
    "sharded",
    "spawn-storm",
    "racy",
    "cells",
];

/// Threads of the map workloads.
pub const THREADS: usize = 4;
/// Operations per thread of the map workloads.
pub const OPS: usize = 250_000;
/// Keys are `x % KEYS`.
pub const KEYS: u64 = 1024;

/// Whether op `x` writes, for `reads` reads per write (the same draw on
/// both sides of every map workload).
#[inline]
pub fn writes(x: u64, reads: u64) -> bool {
    (x >> 32).is_multiple_of(reads + 1)
}

/// Runs one workload; returns the number of operations done.
pub fn run(name: &str, mode: Mode, spawn_threads: usize) -> usize {
    let detected = mode == Mode::Detected;
    match (name, detected) {
        ("rwmap", false) => maps::rwmap_plain(),
        ("rwmap", true) => maps::rwmap_detected(),
        ("mutexmap", false) => maps::mutexmap_plain(),
        ("mutexmap", true) => maps::mutexmap_detected(),
        ("channel-owner", false) => channel_owner::plain(),
        ("channel-owner", true) => channel_owner::detected(),
        ("sharded", false) => sharded::plain(),
        ("sharded", true) => sharded::detected(),
        ("spawn-storm", false) => spawn_storm::plain(spawn_threads),
        ("spawn-storm", true) => spawn_storm::detected(spawn_threads),
        ("racy", false) => racy::plain(),
        ("racy", true) => racy::detected(),
        ("cells", false) => cells::plain(),
        ("cells", true) => cells::detected(),
        _ => panic!("unknown workload {name}"),
    }
}
