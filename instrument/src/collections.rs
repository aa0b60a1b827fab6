//! `RaceMap`: a map with Go's contract.

use crate::span::{self, Stamp};
use hashbrown::HashTable;
use racedet_runtime::{FoldReads, MapLock, Op, ReadRecord};
use std::borrow::Borrow;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::panic::{Location, RefUnwindSafe, UnwindSafe};

#[cfg(any(feature = "detect", racedet_detect))]
use racedet_runtime::MapShadow;

/// Which accesses of a [`RaceMap`] conflict: `Go` (any write conflicts with
/// any unordered access of the map) or `Bucket` (only accesses to the same
/// bucket, and whole-map operations — iteration, `len`, `clear`, growth —
/// conflict: for lock-striped maps). The runtime's own type, so a policy
/// passes through without conversion.
pub use racedet_runtime::MapPolicy;

/// A hash map with Go's map contract.
///
/// All methods take `&self` and the type is `Send + Sync` (`Sync` when `K`
/// and `V` are `Send + Sync`, as std's `RwLock<HashMap<K, V>>`: key reads
/// may run at once and hand out `&V`): it is memory-safe under any use (an
/// internal lock serializes every operation but concurrent key reads). But
/// its contract is *unsynchronized*: callers must order conflicting
/// accesses with racedet synchronization (a `racedet::sync::Mutex`, a
/// channel, a join...), or,
/// with the `detect` feature, a race is reported, in the Go runtime's words:
/// `concurrent map writes`, `concurrent map read and map write`,
/// `concurrent map iteration and map write`.
///
/// Closures passed to [`get_with`](RaceMap::get_with),
/// [`update`](RaceMap::update), [`range`](RaceMap::range) and
/// [`retain`](RaceMap::retain) run under the internal lock and must not
/// use the same map: one that does so on the same thread panics (naming
/// the mistake) instead of deadlocking, and the map stays usable; one
/// that waits for another thread that uses the map still deadlocks. So do
/// the key's `Eq` (every lookup), `Hash` (when the map grows, and `==`),
/// `Clone` (`keys`, `clone`, `get_key_value`) and `Debug`, the value's
/// `Clone` (`get`, `values`, `clone`, `get_key_value`), `PartialEq` (`==`)
/// and `Debug`, and the drop of pairs that `retain` or `clear` remove.
/// `range` cannot delete as it goes (Go's `delete` inside `range`): use
/// `retain(|k, v| keep)`. The access of `get_with`, `update`, `range` and
/// `retain` lasts while their closure runs (and `clear`'s while it drops
/// the pairs): a release the closure makes (a send, an unlock) does not
/// order it.
// `repr(C)`, the lock first: a map that starts a cache line has its lock
// word and header shadow's read set in that line (see `MapLock`). Inside
// racedet's `RwLock` it does (the value is padded to a line); inside its
// `Mutex` too where std's mutex is a 4-byte futex word and a poison flag
// (Linux), which with the 56-byte clock fill the lock's first line. The
// tests below check both.
#[repr(C)]
pub struct RaceMap<K, V, S = RandomState> {
    // A spin lock: every critical section is one table operation (and one
    // shadow check), far shorter than parking a thread. With detection,
    // under policy `go`, once the lock has been contended, key reads by
    // threads in the first reader slots take it shared and write no line
    // another reader writes (see `MapLock`).
    inner: MapLock<Inner<K, V>>,
    // The key is hashed once, outside the lock, and the hash serves both the
    // table and the bucket of the map model.
    hasher: S,
}

// As std's `HashMap`: a panic in a closure passed to `update` or `retain`
// can leave a value half-changed (and `retain` some pairs removed), which
// is the caller's to observe (no poisoning).
impl<K: UnwindSafe, V: UnwindSafe, S: UnwindSafe> UnwindSafe for RaceMap<K, V, S> {}
impl<K: RefUnwindSafe, V: RefUnwindSafe, S: RefUnwindSafe> RefUnwindSafe for RaceMap<K, V, S> {}

// `repr(C)` and the shadow first: the lock flag and the header shadow that
// every operation writes share the first cache line.
#[repr(C)]
struct Inner<K, V> {
    #[cfg(any(feature = "detect", racedet_detect))]
    shadow: MapShadow,
    table: HashTable<(K, V)>,
}

/// The access hooks (each a no-op without `detect`) and the one table
/// operation written once for `insert`, `extend` and `from_iter`.
impl<K, V> Inner<K, V> {
    /// An access of one key, stamped `_stamp` (see `span.rs`).
    #[inline]
    fn key(
        &mut self,
        _stamp: Stamp,
        _write: bool,
        _hash: u64,
        _op: Op,
        _at: &'static Location<'static>,
        _addr: usize,
    ) {
        #[cfg(any(feature = "detect", racedet_detect))]
        self.shadow.key(_write, _stamp, _hash, _op, _at, _addr);
    }

    /// An access of the whole map, stamped `_stamp`.
    #[inline]
    fn whole(
        &mut self,
        _stamp: Stamp,
        _write: bool,
        _op: Op,
        _at: &'static Location<'static>,
        _addr: usize,
    ) {
        #[cfg(any(feature = "detect", racedet_detect))]
        self.shadow.whole(_write, _stamp, _op, _at, _addr);
    }

    #[inline]
    fn len_hook(&mut self, _op: Op, _at: &'static Location<'static>, _addr: usize) {
        #[cfg(any(feature = "detect", racedet_detect))]
        self.shadow.len(_op, _at, _addr);
    }

    #[inline]
    fn resized(&mut self, _op: Op, _at: &'static Location<'static>, _addr: usize) {
        #[cfg(any(feature = "detect", racedet_detect))]
        self.shadow.resized(self.table.len(), _op, _at, _addr);
    }

    /// Inserts or replaces; if the key was there, the key passed in (std
    /// keeps the stored one) and the previous value, for the caller to drop
    /// after the lock: their `Drop` is user code, which may release, and
    /// the operation's access is over once the lock is let go. Only a new
    /// key can grow the map, so only then are the buckets re-counted.
    #[inline]
    #[allow(clippy::too_many_arguments)]
    fn upsert(
        &mut self,
        op: Op,
        hash: u64,
        key: K,
        value: V,
        rehash: impl Fn(&K) -> u64,
        at: &'static Location<'static>,
        addr: usize,
    ) -> Option<(K, V)>
    where
        K: Eq,
    {
        // A lookup first, not hashbrown's `entry`: that reserves room for
        // one more entry before it looks, so replacing a key of a full
        // table grew it (rehashing every key under the lock). A new key
        // pays a second probe.
        if let Some((_, v)) = self.table.find_mut(hash, |(k, _)| *k == key) {
            return Some((key, std::mem::replace(v, value)));
        }
        self.table
            .insert_unique(hash, (key, value), |(k, _)| rehash(k));
        self.resized(op, at, addr);
        None
    }
}

impl<K, V> Inner<K, V> {
    /// Whether key reads may take the map's lock shared: only with
    /// detection (without it nothing is recorded, so a plain exclusive lock
    /// serves), and only under policy `go`, where a read is checked against
    /// the header alone.
    fn shares_key_reads(&self) -> bool {
        #[cfg(any(feature = "detect", racedet_detect))]
        return self.shadow.policy() == MapPolicy::Go;
        #[cfg(not(any(feature = "detect", racedet_detect)))]
        false
    }
}

impl<K, V> FoldReads for Inner<K, V> {
    fn fold_read(&mut self, _read: ReadRecord) {
        // Without `detect` nothing reads on the shared path, so there is
        // nothing to fold.
        #[cfg(any(feature = "detect", racedet_detect))]
        self.shadow.fold_read(_read);
    }

    // Without `detect`, the default: no slot, so nothing reads shared and
    // the map's lock links nothing of the runtime's thread registry.
    #[cfg(any(feature = "detect", racedet_detect))]
    #[inline(always)]
    fn reader_slot() -> Option<usize> {
        racedet_runtime::current_slot()
    }
}

impl<K, V> RaceMap<K, V, RandomState> {
    /// An empty map.
    #[track_caller]
    pub fn new() -> Self {
        Self::with_capacity_and_hasher(0, RandomState::new())
    }

    /// An empty map with room for `capacity` entries (and Go's bucket count
    /// for that many).
    #[track_caller]
    pub fn with_capacity(capacity: usize) -> Self {
        Self::with_capacity_and_hasher(capacity, RandomState::new())
    }

    /// An empty map whose conflicts follow `policy` instead of the
    /// `map_policy` option.
    #[track_caller]
    pub fn with_policy(policy: MapPolicy) -> Self {
        Self::with_capacity_hasher_and_policy(0, RandomState::new(), Some(policy))
    }
}

impl<K, V, S> RaceMap<K, V, S> {
    /// An empty map using `hasher`.
    #[track_caller]
    pub fn with_hasher(hasher: S) -> Self {
        Self::with_capacity_and_hasher(0, hasher)
    }

    /// An empty map with room for `capacity` entries, using `hasher`.
    #[track_caller]
    pub fn with_capacity_and_hasher(capacity: usize, hasher: S) -> Self {
        Self::with_capacity_hasher_and_policy(capacity, hasher, None)
    }

    /// The most general constructor.
    #[track_caller]
    pub fn with_capacity_hasher_and_policy(
        capacity: usize,
        hasher: S,
        policy: Option<MapPolicy>,
    ) -> Self {
        let _ = policy;
        let inner = Inner {
            table: HashTable::with_capacity(capacity),
            #[cfg(any(feature = "detect", racedet_detect))]
            shadow: MapShadow::new(capacity, policy, Location::caller()),
        };
        RaceMap {
            hasher,
            inner: MapLock::new(inner.shares_key_reads(), inner),
        }
    }

    fn addr(&self) -> usize {
        self as *const Self as usize
    }
}

impl<K: Hash + Eq, V, S: BuildHasher> RaceMap<K, V, S> {
    #[inline]
    fn hash<Q: Hash + ?Sized>(&self, key: &Q) -> u64 {
        self.hasher.hash_one(key)
    }

    /// `m[k] = v`: inserts, returning the previous value. A write.
    #[track_caller]
    pub fn insert(&self, key: K, value: V) -> Option<V> {
        let at = Location::caller();
        let hash = self.hash(&key);
        let mut g = self.inner.lock();
        g.key(Stamp::Now, true, hash, Op::Insert, at, self.addr());
        let replaced = g.upsert(
            Op::Insert,
            hash,
            key,
            value,
            |k| self.hash(k),
            at,
            self.addr(),
        );
        drop(g);
        replaced.map(|(_unused_key, old)| old)
    }

    /// `v, ok := m[k]`: a clone of the value. A read.
    #[track_caller]
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        self.read_key(key, Stamp::Now, Op::Get, Location::caller(), |_, v| {
            v.clone()
        })
    }

    /// Calls `f` on the value without cloning it. A read.
    #[track_caller]
    pub fn get_with<Q, R>(&self, key: &Q, f: impl FnOnce(&V) -> R) -> Option<R>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        // The read lasts while `f` runs (see `span.rs`).
        let span = span::open();
        self.read_key(
            key,
            span.stamp(),
            Op::GetWith,
            Location::caller(),
            |_, v| f(v),
        )
    }

    /// `_, ok := m[k]`. A read.
    #[track_caller]
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.read_key(
            key,
            Stamp::Now,
            Op::ContainsKey,
            Location::caller(),
            |_, _| (),
        )
        .is_some()
    }

    /// A clone of the stored key and of its value (std's `get_key_value`).
    /// A read.
    #[track_caller]
    pub fn get_key_value<Q>(&self, key: &Q) -> Option<(K, V)>
    where
        K: Borrow<Q> + Clone,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        let pair = |k: &K, v: &V| (k.clone(), v.clone());
        self.read_key(key, Stamp::Now, Op::GetKeyValue, Location::caller(), pair)
    }

    /// The read of one key that `get`, `get_with`, `contains_key` and
    /// `get_key_value` make: `f` on the pair, if present.
    #[inline(always)]
    fn read_key<Q, R>(
        &self,
        key: &Q,
        stamp: Stamp,
        op: Op,
        at: &'static Location<'static>,
        f: impl FnOnce(&K, &V) -> R,
    ) -> Option<R>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        #[cfg(any(feature = "detect", racedet_detect))]
        if let Some(mut g) = self.inner.read_shared() {
            let (inner, record) = g.parts();
            if inner.shadow.key_read_shared(record, stamp, hash, op, at) {
                return inner
                    .table
                    .find(hash, |(k, _)| k.borrow() == key)
                    .map(|(k, v)| f(k, v));
            }
        }
        let mut g = self.inner.lock();
        g.key(stamp, false, hash, op, at, self.addr());
        g.table
            .find(hash, |(k, _)| k.borrow() == key)
            .map(|(k, v)| f(k, v))
    }

    /// `delete(m, k)`, returning the value. A write, even when absent (as Go).
    #[track_caller]
    pub fn remove<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        let mut g = self.inner.lock();
        g.key(
            Stamp::Now,
            true,
            hash,
            Op::Remove,
            Location::caller(),
            self.addr(),
        );
        let removed = match g.table.find_entry(hash, |(k, _)| k.borrow() == key) {
            Ok(entry) => Some(entry.remove().0),
            Err(_) => None,
        };
        // The key's `Drop` after the lock, as the value's (see `upsert`).
        drop(g);
        removed.map(|(_key, value)| value)
    }

    /// Changes the value in place; false when absent. A write.
    #[track_caller]
    pub fn update<Q>(&self, key: &Q, f: impl FnOnce(&mut V)) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        let mut g = self.inner.lock();
        // The write lasts while `f` runs (see `span.rs`).
        let span = span::open();
        g.key(
            span.stamp(),
            true,
            hash,
            Op::Update,
            Location::caller(),
            self.addr(),
        );
        match g.table.find_mut(hash, |(k, _)| k.borrow() == key) {
            Some((_, v)) => {
                f(v);
                true
            }
            None => false,
        }
    }

    /// Adds every pair: one insert (a write of its key) each.
    #[track_caller]
    pub fn extend(&self, iter: impl IntoIterator<Item = (K, V)>) {
        let at = Location::caller();
        for (k, v) in iter {
            let hash = self.hash(&k);
            let mut g = self.inner.lock();
            g.key(Stamp::Now, true, hash, Op::Extend, at, self.addr());
            let replaced = g.upsert(Op::Extend, hash, k, v, |x| self.hash(x), at, self.addr());
            // Dropped after the lock, as `insert`'s caller drops it.
            drop(g);
            drop(replaced);
        }
    }
}

impl<K, V, S> RaceMap<K, V, S> {
    /// Whether key reads by threads in the first eight detector slots take
    /// the shared path now (see `MapLock`), for tests of that path. Which
    /// path a read takes changes no verdict.
    #[doc(hidden)]
    pub fn reads_go_shared(&self) -> bool {
        self.inner.reads_go_shared()
    }

    /// `len(m)`. A read of the header.
    #[track_caller]
    pub fn len(&self) -> usize {
        let mut g = self.inner.lock();
        g.len_hook(Op::Len, Location::caller(), self.addr());
        g.table.len()
    }

    /// `len(m) == 0`. A read of the header.
    #[track_caller]
    pub fn is_empty(&self) -> bool {
        let mut g = self.inner.lock();
        g.len_hook(Op::IsEmpty, Location::caller(), self.addr());
        g.table.is_empty()
    }

    /// `clear(m)`. A write of every bucket.
    #[track_caller]
    pub fn clear(&self) {
        let mut g = self.inner.lock();
        // The write lasts while the pairs' `Drop` (user code) runs.
        let span = span::open();
        g.whole(
            span.stamp(),
            true,
            Op::Clear,
            Location::caller(),
            self.addr(),
        );
        g.table.clear();
    }

    /// Keeps the pairs for which `f` returns true and removes the rest
    /// (Go's `for k, v := range m { if !keep { delete(m, k) } }`, which
    /// `range` cannot do: its closure must not use the map). A write of
    /// every bucket, as `clear`. `f` runs under the map's internal lock and
    /// must not use the map (it panics if it does, instead of deadlocking).
    #[track_caller]
    pub fn retain(&self, mut f: impl FnMut(&K, &mut V) -> bool) {
        let mut g = self.inner.lock();
        let span = span::open();
        g.whole(
            span.stamp(),
            true,
            Op::Retain,
            Location::caller(),
            self.addr(),
        );
        g.table.retain(|(k, v)| f(k, v));
    }

    /// `for k, v := range m`: calls `f` on each pair until it returns false.
    /// An iteration: a read of every bucket.
    #[track_caller]
    pub fn range(&self, mut f: impl FnMut(&K, &V) -> bool) {
        let mut g = self.inner.lock();
        // The iteration lasts while `f` runs: a value `f` sends is received
        // while the map is still being read, as in Go's `range`.
        let span = span::open();
        g.whole(
            span.stamp(),
            false,
            Op::Range,
            Location::caller(),
            self.addr(),
        );
        for (k, v) in g.table.iter() {
            if !f(k, v) {
                break;
            }
        }
    }

    /// A snapshot of the keys. An iteration.
    #[track_caller]
    pub fn keys(&self) -> Vec<K>
    where
        K: Clone,
    {
        let mut g = self.inner.lock();
        g.whole(Stamp::Now, false, Op::Keys, Location::caller(), self.addr());
        g.table.iter().map(|(k, _)| k.clone()).collect()
    }

    /// A snapshot of the values. An iteration.
    #[track_caller]
    pub fn values(&self) -> Vec<V>
    where
        V: Clone,
    {
        let mut g = self.inner.lock();
        g.whole(
            Stamp::Now,
            false,
            Op::Values,
            Location::caller(),
            self.addr(),
        );
        g.table.iter().map(|(_, v)| v.clone()).collect()
    }
}

impl<K: Clone, V: Clone, S: Clone> Clone for RaceMap<K, V, S> {
    /// A copy of the map: an iteration of this map. The copy is a new map,
    /// created here.
    #[track_caller]
    fn clone(&self) -> Self {
        let at = Location::caller();
        let mut g = self.inner.lock();
        g.whole(Stamp::Now, false, Op::Clone, at, self.addr());
        #[cfg(any(feature = "detect", racedet_detect))]
        let policy = Some(g.shadow.policy());
        #[cfg(not(any(feature = "detect", racedet_detect)))]
        let policy = None;
        let copy = RaceMap::with_capacity_hasher_and_policy(0, self.hasher.clone(), policy);
        {
            let mut c = copy.inner.lock();
            c.table = g.table.clone();
            c.resized(Op::Clone, at, copy.addr());
        }
        copy
    }
}

impl<K: Hash + Eq, V: PartialEq, S: BuildHasher> PartialEq for RaceMap<K, V, S> {
    /// Whether both maps hold the same pairs (as std's `HashMap`, Go's
    /// `maps.Equal`): an iteration of each. Both maps' locks are held
    /// while comparing, taken as C++'s `std::lock` takes two: wait for one
    /// holding none, take the other only if free, else let go and wait for
    /// that one instead. So neither two threads comparing the same maps
    /// either way round, nor one comparing while another's closure under
    /// one map uses the other, can deadlock.
    #[track_caller]
    fn eq(&self, other: &Self) -> bool {
        let at = Location::caller();
        if std::ptr::eq(self, other) {
            // One lock: the map against itself, which is false only where
            // a value is not equal to itself (a NaN), as std's.
            let mut g = self.inner.lock();
            g.whole(Stamp::Now, false, Op::Eq, at, self.addr());
            return same_pairs(&g.table, &g.table, |k| self.hash(k));
        }
        let (first, second) = if self.addr() < other.addr() {
            (self, other)
        } else {
            (other, self)
        };
        // Wait for one lock holding none, then only try the other; on
        // failure let go and wait for the other one instead (as C++'s
        // `std::lock`), so a busy map is waited for, not polled.
        let (mut a, mut b) = loop {
            let a = first.inner.lock();
            if let Some(b) = second.inner.try_lock() {
                break (a, b);
            }
            drop(a);
            let b = second.inner.lock();
            if let Some(a) = first.inner.try_lock() {
                break (a, b);
            }
        };
        a.whole(Stamp::Now, false, Op::Eq, at, first.addr());
        b.whole(Stamp::Now, false, Op::Eq, at, second.addr());
        let (mine, theirs) = if std::ptr::eq(first, self) {
            (&a.table, &b.table)
        } else {
            (&b.table, &a.table)
        };
        same_pairs(mine, theirs, |k| other.hash(k))
    }

    /// `!=`: as `==` (std's default would report its own line as the site).
    #[track_caller]
    #[allow(clippy::partialeq_ne_impl)]
    fn ne(&self, other: &Self) -> bool {
        !self.eq(other)
    }
}

impl<K: Hash + Eq, V: Eq, S: BuildHasher> Eq for RaceMap<K, V, S> {}

/// std's `HashMap` equality: as many pairs, and each of `mine` in `theirs`
/// (looked up with `theirs`' hasher) with an equal value.
fn same_pairs<K: Eq, V: PartialEq>(
    mine: &HashTable<(K, V)>,
    theirs: &HashTable<(K, V)>,
    hash_theirs: impl Fn(&K) -> u64,
) -> bool {
    mine.len() == theirs.len()
        && mine.iter().all(|(k, v)| {
            theirs
                .find(hash_theirs(k), |(tk, _)| tk == k)
                .is_some_and(|(_, tv)| tv == v)
        })
}

impl<K, V, S> IntoIterator for RaceMap<K, V, S> {
    type Item = (K, V);
    type IntoIter = IntoIter<K, V>;

    /// Moves the pairs out, in arbitrary order. Through ownership, so no
    /// one else can reach the map: not checked (as a cell's `into_inner`).
    fn into_iter(self) -> IntoIter<K, V> {
        IntoIter {
            pairs: self.inner.into_inner().table.into_iter(),
        }
    }
}

/// The pairs of a map moved out of it ([`RaceMap`]'s `into_iter`), as
/// std's `hash_map::IntoIter`.
pub struct IntoIter<K, V> {
    pairs: hashbrown::hash_table::IntoIter<(K, V)>,
}

impl<K, V> Iterator for IntoIter<K, V> {
    type Item = (K, V);

    #[inline]
    fn next(&mut self) -> Option<(K, V)> {
        self.pairs.next()
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.pairs.size_hint()
    }
}

impl<K, V> ExactSizeIterator for IntoIter<K, V> {
    #[inline]
    fn len(&self) -> usize {
        self.pairs.len()
    }
}

impl<K, V> std::iter::FusedIterator for IntoIter<K, V> {}

// As std's (an empty iterator).
impl<K, V> Default for IntoIter<K, V> {
    fn default() -> Self {
        IntoIter {
            pairs: Default::default(),
        }
    }
}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for IntoIter<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.pairs.fmt(f)
    }
}

impl<K, V, S: Default> Default for RaceMap<K, V, S> {
    #[track_caller]
    fn default() -> Self {
        Self::with_capacity_and_hasher(0, S::default())
    }
}

impl<K: fmt::Debug, V: fmt::Debug, S> fmt::Debug for RaceMap<K, V, S> {
    /// Formats the entries: an iteration.
    #[track_caller]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut g = self.inner.lock();
        g.whole(
            Stamp::Now,
            false,
            Op::Debug,
            Location::caller(),
            self.addr(),
        );
        f.debug_map()
            .entries(g.table.iter().map(|(k, v)| (k, v)))
            .finish()
    }
}

// std's trait, for code generic over what it fills. A method call
// `m.extend(..)` on a `RaceMap`, `&RaceMap` or `Arc` finds the `&self`
// method first; on a `&mut RaceMap` it finds this, which forwards with the
// caller's site.
impl<K: Hash + Eq, V, S: BuildHasher> Extend<(K, V)> for RaceMap<K, V, S> {
    /// As [`RaceMap::extend`].
    #[track_caller]
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        RaceMap::extend(self, iter)
    }
}

// As std's `HashMap`, for pairs of references to `Copy` keys and values.
impl<'a, K: Hash + Eq + Copy, V: Copy, S: BuildHasher> Extend<(&'a K, &'a V)> for RaceMap<K, V, S> {
    /// As [`RaceMap::extend`], copying each pair.
    #[track_caller]
    fn extend<I: IntoIterator<Item = (&'a K, &'a V)>>(&mut self, iter: I) {
        RaceMap::extend(self, iter.into_iter().map(|(&k, &v)| (k, v)))
    }
}

// As std's `HashMap::from([(k, v), ..])`.
impl<K: Hash + Eq, V, const N: usize> From<[(K, V); N]> for RaceMap<K, V, RandomState> {
    /// A new map holding the pairs (see `FromIterator`).
    #[track_caller]
    fn from(pairs: [(K, V); N]) -> Self {
        RaceMap::from_iter(pairs)
    }
}

impl<K: Hash + Eq, V, S: BuildHasher + Default> FromIterator<(K, V)> for RaceMap<K, V, S> {
    /// A new map holding the pairs, each an insert by this thread at the
    /// caller, as Go's map literal: a map built here and published to
    /// another thread without synchronization (a Relaxed pointer) races
    /// with that thread's reads.
    #[track_caller]
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let at = Location::caller();
        let map = RaceMap::with_capacity_and_hasher(0, S::default());
        {
            let (addr, mut g) = (map.addr(), map.inner.lock());
            for (k, v) in iter {
                let hash = map.hash(&k);
                g.key(Stamp::Now, true, hash, Op::Insert, at, addr);
                g.upsert(Op::Insert, hash, k, v, |x| map.hash(x), at, addr);
            }
        }
        map
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_map_lock_and_then_the_header_shadow_start_the_map() {
        // See `RaceMap` and `MapLock`: a map starting a cache line has its
        // lock word and header read set in that line.
        assert_eq!(std::mem::offset_of!(RaceMap<u64, u64>, inner), 0);
        #[cfg(any(feature = "detect", racedet_detect))]
        assert_eq!(std::mem::offset_of!(Inner<u64, u64>, shadow), 0);
    }

    // With detection: without it the types are std's, with no shadow to
    // place.
    #[cfg(any(feature = "detect", racedet_detect))]
    #[test]
    fn a_map_inside_racedet_s_rwlock_or_mutex_starts_a_cache_line() {
        let line = |p: &RaceMap<u64, u64>| p as *const _ as usize % 64;
        let r = crate::sync::RwLock::new(RaceMap::<u64, u64>::new());
        assert_eq!(line(&r.read().unwrap()), 0, "RwLock");
        // Depends on std's mutex layout: 4-byte futex word on Linux.
        #[cfg(target_os = "linux")]
        {
            let m = crate::sync::Mutex::new(RaceMap::<u64, u64>::new());
            assert_eq!(line(&m.lock().unwrap()), 0, "Mutex");
        }
    }
}
