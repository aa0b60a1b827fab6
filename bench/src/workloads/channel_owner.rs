//! W3 `channel-owner`: one owner thread holds the map; 4 clients send it
//! requests over a channel and wait for each reply (channel-serialized
//! access, the seed's alternative to a lock).

use super::{writes, KEYS, THREADS};
use crate::rng::XorShift;
use std::collections::HashMap;

/// Requests per client (round trips are far slower than lock operations).
const OPS: usize = 50_000;

pub fn plain() -> usize {
    use std::sync::mpsc;
    let (tx, rx) = mpsc::channel::<(u64, bool, mpsc::SyncSender<Option<u64>>)>();
    let owner = std::thread::spawn(move || {
        let mut m = HashMap::<u64, u64>::new();
        for (x, write, reply) in rx {
            let k = x % KEYS;
            let r = if write {
                m.insert(k, x)
            } else {
                m.get(&k).copied()
            };
            let _ = reply.send(r);
        }
    });
    let ts: Vec<_> = (0..THREADS)
        .map(|t| {
            let tx = tx.clone();
            std::thread::spawn(move || {
                let (rtx, rrx) = mpsc::sync_channel(1);
                let mut r = XorShift::new(t as u64 + 1);
                for _ in 0..OPS {
                    let x = r.next();
                    tx.send((x, writes(x, 9), rtx.clone())).unwrap();
                    std::hint::black_box(rrx.recv().unwrap());
                }
            })
        })
        .collect();
    drop(tx);
    for t in ts {
        t.join().unwrap();
    }
    owner.join().unwrap();
    THREADS * OPS
}

pub fn detected() -> usize {
    use racedet::collections::RaceMap;
    use racedet::sync::mpsc;
    let (tx, rx) = mpsc::channel::<(u64, bool, mpsc::SyncSender<Option<u64>>)>();
    let owner = racedet::thread::spawn(move || {
        let m = RaceMap::<u64, u64>::new();
        for (x, write, reply) in rx {
            let k = x % KEYS;
            let r = if write { m.insert(k, x) } else { m.get(&k) };
            let _ = reply.send(r);
        }
    });
    let ts: Vec<_> = (0..THREADS)
        .map(|t| {
            let tx = tx.clone();
            racedet::thread::spawn(move || {
                let (rtx, rrx) = mpsc::sync_channel(1);
                let mut r = XorShift::new(t as u64 + 1);
                for _ in 0..OPS {
                    let x = r.next();
                    tx.send((x, writes(x, 9), rtx.clone())).unwrap();
                    std::hint::black_box(rrx.recv().unwrap());
                }
            })
        })
        .collect();
    drop(tx);
    for t in ts {
        t.join().unwrap();
    }
    owner.join().unwrap();
    THREADS * OPS
}
