//! Sync objects known only by address (annotations): a sharded table, so
//! unrelated addresses never contend on one lock.

use parking_lot::Mutex;
use racedet_detector::SyncClock;
use std::collections::HashMap;
use std::sync::OnceLock;

const SHARDS: usize = 64;

type Shard = Mutex<HashMap<usize, SyncClock>>;

fn shards() -> &'static [Shard; SHARDS] {
    static TABLE: OnceLock<[Shard; SHARDS]> = OnceLock::new();
    TABLE.get_or_init(|| std::array::from_fn(|_| Mutex::new(HashMap::new())))
}

fn shard(addr: usize) -> &'static Shard {
    // Addresses are aligned; mix the bits so neighbours spread out.
    let h = (addr as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58;
    &shards()[h as usize % SHARDS]
}

/// `happens_before(addr)`: merge-form release into the address's clock.
pub fn annotate_release(addr: usize) {
    let mut table = shard(addr).lock();
    crate::sync::release_merge(table.entry(addr).or_default());
}

/// `happens_after(addr)`: acquire the address's clock.
pub fn annotate_acquire(addr: usize) {
    let table = shard(addr).lock();
    if let Some(clock) = table.get(&addr) {
        crate::sync::acquire(clock);
    }
}
