//! The shadow of a `RaceMap`: a header location plus one location per
//! bucket, with Go's bucket count (`2^B`, load factor 6.5).

use crate::access::{check, check_as, plain_access, site, ObjectInfo, ShadowCell, Stamp};
use crate::global::runtime;
use crate::map_lock::ReadRecord;
use crate::options::MapPolicy;
use crate::site::{Detail, Op, Part};
use crate::stack::StackId;
use crate::threads::local;
use racedet_detector::AccessKind;
use std::panic::Location;

/// Buckets stop doubling here (65 536 buckets): beyond it reports still name
/// a bucket, and shadow memory stays bounded for huge maps.
const MAX_LOG2: u8 = 16;

/// Entries of one Go bucket: a map grows only past them.
const BUCKET_ENTRIES: usize = 8;

/// Whether `len` entries overload `2^b` buckets: Go's `overLoadFactor`,
/// more than a bucket's worth and more than 6.5 per bucket.
fn over_load_factor(len: usize, b: u8) -> bool {
    len > BUCKET_ENTRIES && len * 2 > 13usize << b
}

/// Smallest `B` that `len` entries do not overload, as Go sizes a map.
fn log2_for(len: usize) -> u8 {
    let mut b = 0u8;
    while b < MAX_LOG2 && over_load_factor(len, b) {
        b += 1;
    }
    b
}

/// The shadow of one map. The map's own lock serializes every call but
/// [`MapShadow::key_read_shared`], which shared readers make at once (it
/// only reads the shadow; each writes its own record).
///
/// Policy `go`: only the header is checked; every operation reads it and
/// every mutation writes it, so any write conflicts with any unordered
/// access (Go's contract); sites still record the bucket touched.
/// Policy `bucket`: only buckets are checked; key operations touch their
/// bucket, whole-map operations (iteration, len, clear, growth) every bucket.
#[repr(C)]
pub struct MapShadow {
    // First, so it sits next to the map's lock flag (see `MapLock`).
    header: ShadowCell,
    buckets: Vec<ShadowCell>,
    log2: u8,
    policy: MapPolicy,
    created_at: &'static Location<'static>,
    created_stack: StackId,
}

impl MapShadow {
    /// A map created at `caller` with room for `capacity` entries.
    /// `policy` overrides the `map_policy` option for this map.
    pub fn new(
        capacity: usize,
        policy: Option<MapPolicy>,
        caller: &'static Location<'static>,
    ) -> MapShadow {
        let rt = runtime();
        let policy = policy.unwrap_or(rt.options().map_policy);
        let log2 = log2_for(capacity);
        let buckets = match policy {
            MapPolicy::Go => Vec::new(),
            MapPolicy::Bucket => (0..1usize << log2).map(|_| ShadowCell::new()).collect(),
        };
        MapShadow {
            header: ShadowCell::new(),
            buckets,
            log2,
            policy,
            created_at: caller,
            created_stack: rt.stacks.capture(),
        }
    }

    /// The policy in force for this map.
    pub fn policy(&self) -> MapPolicy {
        self.policy
    }

    /// The bucket of a key hash (low bits, as Go).
    #[inline]
    fn bucket_of(&self, hash: u64) -> u32 {
        (hash & ((1u64 << self.log2) - 1)) as u32
    }

    /// An operation on one key, stamped `stamp`. Hot path.
    #[inline(always)]
    pub fn key(
        &mut self,
        write: bool,
        stamp: Stamp,
        hash: u64,
        op: Op,
        caller: &'static Location<'static>,
        address: usize,
    ) {
        let bucket = self.bucket_of(hash);
        let detail = Detail::map(op, self.log2, Part::Bucket(bucket));
        let describe = self.describer(address);
        let cell = match self.policy {
            MapPolicy::Go => &mut self.header,
            MapPolicy::Bucket => &mut self.buckets[bucket as usize],
        };
        check_as(cell, plain_access(write), stamp, detail, caller, &describe);
    }

    /// A key read on the shared path (see `MapLock`): checks it against
    /// the map's writes and leaves its record in `record` for the next
    /// exclusive holder to fold. False when the read must go through
    /// [`MapShadow::key`] instead: a write the reader has not seen (a race,
    /// which `key` reports). Hot path.
    #[inline(always)]
    pub fn key_read_shared(
        &self,
        record: &mut Option<ReadRecord>,
        stamp: Stamp,
        hash: u64,
        op: Op,
        caller: &'static Location<'static>,
    ) -> bool {
        // Only maps of policy `go` make their lock shareable.
        debug_assert_eq!(self.policy, MapPolicy::Go);
        let Some(l) = local() else { return false };
        if !self.header.read_needs_only_record(&l.state) {
            return false;
        }
        let epoch = stamp.epoch(&l.state);
        // A read of this epoch is on record already: it stands for this one,
        // as in the shadow's own same-epoch rule.
        if !matches!(record, Some(r) if r.epoch == epoch) {
            let detail = Detail::map(op, self.log2, Part::Bucket(self.bucket_of(hash)));
            *record = Some(ReadRecord {
                epoch,
                site: site(l, caller, detail),
            });
        }
        true
    }

    /// Adds a read left by a shared reader (see [`MapShadow::key_read_shared`]).
    pub fn fold_read(&mut self, read: ReadRecord) {
        self.header.add_checked_read(read.epoch, read.site);
    }

    /// An operation on the whole map (iteration, clone, clear), stamped
    /// `stamp`.
    pub fn whole(
        &mut self,
        write: bool,
        stamp: Stamp,
        op: Op,
        caller: &'static Location<'static>,
        address: usize,
    ) {
        let detail = Detail::map(op, self.log2, Part::All);
        let kind = plain_access(write);
        let describe = self.describer(address);
        match self.policy {
            MapPolicy::Go => check_as(&mut self.header, kind, stamp, detail, caller, &describe),
            MapPolicy::Bucket => {
                for cell in &mut self.buckets {
                    check_as(cell, kind, stamp, detail, caller, &describe);
                }
            }
        }
    }

    /// `len` / `is_empty`: the header under `go`; every bucket under
    /// `bucket` (a count changes with any bucket's insert or remove).
    pub fn len(&mut self, op: Op, caller: &'static Location<'static>, address: usize) {
        match self.policy {
            MapPolicy::Go => {
                let detail = Detail::map(op, self.log2, Part::Header);
                let describe = self.describer(address);
                check(
                    &mut self.header,
                    AccessKind::Read,
                    detail,
                    caller,
                    &describe,
                );
            }
            MapPolicy::Bucket => self.whole(false, Stamp::Now, op, caller, address),
        }
    }

    /// After `op` (an insert, extend, or a clone's copy) left `len`
    /// entries: grows the bucket array as Go would. Growth rewrites every
    /// bucket, so it is a write of each, named `extend (growth)` for an
    /// extend and `insert (growth)` otherwise.
    #[inline]
    pub fn resized(
        &mut self,
        len: usize,
        op: Op,
        caller: &'static Location<'static>,
        address: usize,
    ) {
        // Every insert asks; only a length past the load factor grows.
        if !over_load_factor(len, self.log2) || self.log2 == MAX_LOG2 {
            return;
        }
        let grow = if op == Op::Extend {
            Op::ExtendGrow
        } else {
            Op::Grow
        };
        self.grow(len, grow, caller, address);
    }

    #[cold]
    fn grow(&mut self, len: usize, op: Op, caller: &'static Location<'static>, address: usize) {
        let want = log2_for(len);
        if want <= self.log2 {
            return;
        }
        if self.policy == MapPolicy::Go {
            // Only the bucket count changes: reports name buckets of the
            // grown map; the header is the only location checked.
            self.log2 = want;
            return;
        }
        let old_mask = (1usize << self.log2) - 1;
        // Each new bucket inherits the history of the bucket its keys came
        // from, so races with accesses before growth still show.
        let grown: Vec<ShadowCell> = (0..1usize << want)
            .map(|i| self.buckets[i & old_mask].clone())
            .collect();
        self.buckets = grown;
        self.log2 = want;
        self.whole(true, Stamp::Now, op, caller, address);
    }

    /// What reports say about this map, built only if a race is reported.
    /// Captures copies, not `self`, so a cell of `self` can be borrowed
    /// mutably next to it.
    #[inline(always)]
    fn describer(&self, address: usize) -> impl Fn() -> ObjectInfo {
        let (created_at, created_stack) = (self.created_at, self.created_stack);
        move || ObjectInfo {
            kind: "map",
            address,
            created_at: Some(created_at),
            created_stack,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_comes_first_with_a_24_byte_site() {
        // See `MapLock`: with these, the lock word and the header's read
        // set share a cache line.
        assert_eq!(std::mem::offset_of!(MapShadow, header), 0);
        assert_eq!(std::mem::size_of::<crate::site::Site>(), 24);
        // The shadow's layout test stands in a 24-byte array for the site.
        assert_eq!(
            std::mem::size_of::<crate::ShadowCell>(),
            std::mem::size_of::<racedet_detector::Shadow<[u64; 3]>>()
        );
    }

    #[test]
    fn bucket_count_follows_go_load_factor() {
        // Go grows on the 9th entry (a bucket holds 8), then past 6.5 per
        // bucket.
        assert_eq!(log2_for(0), 0);
        assert_eq!(log2_for(8), 0);
        assert_eq!(log2_for(9), 1);
        assert_eq!(log2_for(13), 1);
        assert_eq!(log2_for(14), 2);
        assert_eq!(log2_for(1024), 8);
        assert_eq!(log2_for(usize::MAX / 64), MAX_LOG2);
    }
}
