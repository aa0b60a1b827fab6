//! A `RaceMap`'s lock: exclusive for everything that changes the map or
//! needs its whole shadow, shared for key reads by checked threads.
//!
//! Readers of a map under a read lock (Go's seed benchmark) would otherwise
//! all write one cache line per read — the lock flag and the read set of
//! the map's shadow — where std's `HashMap` behind the same `RwLock` has
//! them write nothing. A shared reader writes only a line of its own: its
//! busy flag and its read record, which the next exclusive holder folds
//! into the shadow ([`FoldReads`]) before anything looks at it.

use crate::reader_slots::{CacheLine, READER_SLOTS};
use crate::site::Site;
use crate::spin::{reentered, Backoff, SpinGuard, SpinLock};
use crate::threads::local;
use racedet_detector::Epoch;
use std::cell::UnsafeCell;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::OnceLock;

/// A key read made on the shared path, waiting to be folded.
#[derive(Copy, Clone)]
pub struct ReadRecord {
    pub epoch: Epoch,
    pub site: Site,
}

/// What the exclusive holder does with the reads shared readers left.
pub trait FoldReads {
    /// Adds one reader's latest read to the shadow.
    fn fold_read(&mut self, read: ReadRecord);

    /// The calling thread's detector slot ([`current_slot`]) where key
    /// reads can go shared. The default, for values built without
    /// detection, never reads shared and never asks: the lock then refers
    /// to nothing that starts the runtime, so a binary without detection
    /// does not link it (and carries no runtime marker).
    #[inline]
    fn reader_slot() -> Option<usize> {
        None
    }
}

/// The calling thread's detector slot (registering the thread if new).
/// Always inlined: every shared read asks (one thread-local load).
#[inline(always)]
pub fn current_slot() -> Option<usize> {
    local().map(|l| l.state.tid().index())
}

/// One reader slot, on a cache line of its own (see `reader_slots`) that
/// only its reader writes. Threads in slots past `READER_SLOTS` take the
/// exclusive path.
#[derive(Default)]
struct ReaderSlot {
    busy: AtomicBool,
    read: UnsafeCell<Option<ReadRecord>>,
}

type ReaderLine = CacheLine<ReaderSlot>;

// `used` is a `u8` with one bit per reader slot.
const _: () = assert!(READER_SLOTS <= u8::BITS as usize);

/// The reader slots, and what the exclusive holders have folded of each.
#[derive(Default)]
struct Readers {
    lines: [ReaderLine; READER_SLOTS],
    /// Epoch (bits) of the last record folded from each line: a record
    /// stays in its line (only its reader writes there), and must not be
    /// folded again after a write has made it redundant. Exclusive holders
    /// only, on a line of their own.
    folded: CacheLine<UnsafeCell<[u64; READER_SLOTS]>>,
}

/// A map's value under a lock with an exclusive and a shared mode.
// `repr(C)`, flags first and the reader lines' pointer (written once,
// then only read) last: the exclusive flag, which every exclusive holder
// writes, shares its cache line (when the lock starts one: see `RaceMap`)
// with the start of the value (a map's header shadow, whose read set
// every read writes next), so a read under a `Mutex` dirties one line of
// the map, not two (W4, four threads: about 1 ns per operation).
#[repr(C)]
pub struct MapLock<T> {
    exclusive: SpinLock<()>,
    /// Set the first time two accesses meet at the exclusive lock, if the
    /// lock was made `shareable`: only then do key reads go shared. A map
    /// whose users serialize it themselves (behind a `Mutex`, or owned by
    /// one thread) never pays for reader lines its exclusive holders would
    /// have to read.
    contended: AtomicBool,
    shareable: bool,
    /// Bit `i`: reader slot `i` has read on the shared path (ever: a bit
    /// set once costs readers nothing more), so an exclusive holder reads
    /// only the lines of readers there were.
    used: AtomicU8,
    value: UnsafeCell<T>,
    /// Made by the first shared read, so maps read by one thread or never
    /// shared carry none of it.
    readers: OnceLock<Box<Readers>>,
}

// SAFETY: `value` is reached mutably only by the exclusive holder, and
// shared readers get `&T` only while no exclusive holder exists (the
// busy-flag / exclusive-flag handshake below). Each reader line is written
// only by its slot's thread, and read by the exclusive holder while that
// reader is not busy; `folded` belongs to the exclusive holder.
unsafe impl<T: Send + Sync> Sync for MapLock<T> {}

/// Exclusive access; reads left by shared readers are folded already.
pub struct ExclusiveGuard<'a, T> {
    lock: &'a MapLock<T>,
    _spin: SpinGuard<'a, ()>,
    _exclusive: PhantomData<&'a mut T>,
}

/// Shared access for one reader, with its record to fill in.
pub struct SharedGuard<'a, T> {
    lock: &'a MapLock<T>,
    line: &'a ReaderSlot,
}

impl<T> MapLock<T> {
    /// An unlocked value. Key reads can go shared only if `shareable` (a
    /// map whose reads are checked against the header alone: policy `go`).
    pub const fn new(shareable: bool, value: T) -> MapLock<T> {
        MapLock {
            exclusive: SpinLock::new(()),
            readers: OnceLock::new(),
            contended: AtomicBool::new(false),
            shareable,
            used: AtomicU8::new(0),
            value: UnsafeCell::new(value),
        }
    }

    /// The value, through ownership: no one else can hold the lock.
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }

    /// Whether key reads go shared now: the lock has been contended, which
    /// is only noted if it is shareable. Tests use it to know which path
    /// they check.
    #[inline]
    pub fn reads_go_shared(&self) -> bool {
        self.contended.load(Ordering::Relaxed)
    }
}

impl<T: FoldReads> MapLock<T> {
    /// Exclusive access: waits out shared readers and folds their reads.
    // Always inlined: out of line, every map operation paid a call (1 ns a
    // lock + map op + unlock on one thread).
    #[inline(always)]
    pub fn lock(&self) -> ExclusiveGuard<'_, T> {
        let spin = match self.exclusive.try_lock() {
            Some(spin) => spin,
            None => self.lock_contended(),
        };
        // The `used` load is the holder's half of the handshake in
        // `read_shared` (Dekker's: every step SeqCst, the exclusive swap
        // too): either a reader sees the exclusive flag and backs off, or
        // this sees its `used` bit — set after it made the reader lines, so
        // they are visible here — and then waits for its busy flag.
        let used = self.used.load(Ordering::SeqCst);
        if used != 0 {
            self.fold(used);
        }
        ExclusiveGuard {
            lock: self,
            _spin: spin,
            _exclusive: PhantomData,
        }
    }

    /// Exclusive access if no one holds the lock (nor has it reserved, see
    /// `SpinLock::try_lock`) and no shared reader is in, without waiting for
    /// either (a caller holding another map's lock
    /// must not wait for a holder that may want that map). Panics, as
    /// `lock`, if the calling thread is the holder or a reader.
    pub fn try_lock(&self) -> Option<ExclusiveGuard<'_, T>> {
        let Some(spin) = self.exclusive.try_lock() else {
            // A holder may be waiting for this very thread's shared read
            // (`lock` panics for this in `lock_contended`).
            if self.reading_here() {
                reentered();
            }
            return None;
        };
        // The holder's half of the handshake, as in `lock`.
        let used = self.used.load(Ordering::SeqCst);
        if used != 0 {
            let readers = self
                .readers
                .get()
                .expect("a used bit follows the reader lines");
            let mut rest = used;
            while rest != 0 {
                let slot = rest.trailing_zeros() as usize;
                rest &= rest - 1;
                if readers.lines[slot].0.busy.load(Ordering::SeqCst) {
                    if T::reader_slot() == Some(slot) {
                        reentered();
                    }
                    return None;
                }
            }
            // A reader that comes in now sees the exclusive flag and
            // leaves at once, so the fold waits at most for that.
            self.fold(used);
        }
        Some(ExclusiveGuard {
            lock: self,
            _spin: spin,
            _exclusive: PhantomData,
        })
    }

    #[cold]
    fn lock_contended(&self) -> SpinGuard<'_, ()> {
        if self.shareable {
            self.contended.store(true, Ordering::Relaxed);
        }
        // A holder waits for every busy reader, so a thread that is one
        // (its closure used the map) would wait for itself.
        if self.reading_here() {
            reentered();
        }
        self.exclusive.lock()
    }

    /// Whether the calling thread is inside a shared read of this lock.
    /// Exact: only the thread in a reader slot writes its line.
    fn reading_here(&self) -> bool {
        let Some(readers) = self.readers.get() else {
            return false;
        };
        let Some(slot) = T::reader_slot() else {
            return false;
        };
        slot < READER_SLOTS && readers.lines[slot].0.busy.load(Ordering::Relaxed)
    }

    /// Folds the records of the reader slots in `used`, waiting out any
    /// reader still busy.
    #[inline]
    fn fold(&self, mut used: u8) {
        let readers = self
            .readers
            .get()
            .expect("a used bit follows the reader lines");
        // SAFETY: only the exclusive holder touches `folded`.
        let folded = unsafe { &mut *readers.folded.0.get() };
        while used != 0 {
            let slot = used.trailing_zeros() as usize;
            used &= used - 1;
            let line = &readers.lines[slot].0;
            if line.busy.load(Ordering::SeqCst) {
                wait_for_reader(line, slot, T::reader_slot());
            }
            // SAFETY: the reader is out, and one coming in now sees the
            // exclusive flag and leaves without touching its record.
            if let Some(read) = unsafe { *line.read.get() } {
                let bits = read.epoch.to_bits();
                if folded[slot] != bits {
                    folded[slot] = bits;
                    // SAFETY: exclusive access to the value.
                    unsafe { (*self.value.get()).fold_read(read) };
                }
            }
        }
    }

    /// Shared access for the calling thread, if the lock is shareable and
    /// has seen contention, the thread has a reader slot and no exclusive
    /// holder is in; `None` sends the caller to [`MapLock::lock`].
    #[inline]
    pub fn read_shared(&self) -> Option<SharedGuard<'_, T>> {
        if !self.reads_go_shared() {
            return None;
        }
        let slot = T::reader_slot()?;
        if slot >= READER_SLOTS {
            return None;
        }
        let readers = self.readers.get_or_init(Default::default);
        let line = &readers.lines[slot].0;
        // Busy first, then the `used` bit, then the exclusive flag, all
        // SeqCst (see `lock`).
        if line.busy.swap(true, Ordering::SeqCst) {
            // This thread is in already: a closure run under its read used
            // the map. (Letting it in would let the inner guard end the
            // outer one's protection.)
            reentered();
        }
        let bit = 1u8 << slot;
        if self.used.load(Ordering::SeqCst) & bit == 0 {
            self.used.fetch_or(bit, Ordering::SeqCst);
        }
        if self.exclusive.is_locked() {
            line.busy.store(false, Ordering::Release);
            return None;
        }
        Some(SharedGuard { lock: self, line })
    }
}

/// Waits until the reader in `slot` has left. A reader stays busy while
/// user code runs (`get_with`'s closure, `V::clone`, `K::eq`) and may be
/// descheduled, so this backs off to yielding.
#[cold]
fn wait_for_reader(line: &ReaderSlot, slot: usize, mine: Option<usize>) {
    // The busy reader is this thread: a closure run under its shared read
    // used the map.
    if mine == Some(slot) {
        reentered();
    }
    let mut backoff = Backoff::default();
    while line.busy.load(Ordering::SeqCst) {
        backoff.snooze();
    }
}

impl<T> Deref for ExclusiveGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: exclusive access.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for ExclusiveGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: exclusive access.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> SharedGuard<'_, T> {
    /// The value and this reader's record slot.
    #[inline]
    pub fn parts(&mut self) -> (&T, &mut Option<ReadRecord>) {
        // SAFETY: no exclusive holder while this reader is busy; the record
        // is this reader's alone while it is busy.
        unsafe { (&*self.lock.value.get(), &mut *self.line.read.get()) }
    }
}

impl<T> Drop for SharedGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.line.busy.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::{Detail, Op, Part};
    use std::panic::Location;
    use std::sync::mpsc;

    /// Records the epochs folded into it.
    #[derive(Default)]
    struct Folds(Vec<u64>);

    impl FoldReads for Folds {
        fn fold_read(&mut self, read: ReadRecord) {
            self.0.push(read.epoch.to_bits());
        }

        fn reader_slot() -> Option<usize> {
            current_slot()
        }
    }

    fn read(bits: u64) -> ReadRecord {
        ReadRecord {
            epoch: Epoch::from_bits(bits),
            site: Site {
                location: Location::caller(),
                thread: 0,
                stack: 0,
                detail: Detail::map(Op::Get, 0, Part::Bucket(0)),
            },
        }
    }

    /// Waits for `done`; a test whose other thread never gets there (it
    /// panicked, or the lock is broken) fails instead of hanging.
    fn eventually(what: &str, done: impl Fn() -> bool) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !done() {
            assert!(
                std::time::Instant::now() < deadline,
                "gave up waiting: {what}"
            );
            std::thread::yield_now();
        }
    }

    /// Runs `f`, a nested use of a lock that must panic, and returns the
    /// panic's payload. Were the re-entry check broken, the nested call
    /// would wait for its own thread forever: then a plain thread ends the
    /// process after a minute, naming why, so the test fails instead of
    /// hanging (as `racedet-tests`' `panic_of` does for the public types).
    fn nested_panic(f: impl FnOnce()) -> Box<dyn std::any::Any + Send> {
        let (done, wait) = mpsc::channel::<()>();
        let watchdog = std::thread::spawn(move || {
            let limit = std::time::Duration::from_secs(60);
            if let Err(mpsc::RecvTimeoutError::Timeout) = wait.recv_timeout(limit) {
                // Past the test harness's capture, which exit would lose.
                use std::io::Write;
                let _ = writeln!(
                    std::io::stderr(),
                    "map_lock: a nested lock neither panicked nor returned within 60 s \
                     (a deadlock where the re-entry check should have panicked?)"
                );
                std::process::exit(101);
            }
        });
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        drop(done);
        watchdog.join().unwrap();
        result.expect_err("expected a panic")
    }

    /// Makes `lock` contended for real: this thread holds it until another
    /// thread has met it at the lock (and noted so), then lets it in.
    fn contend(lock: &MapLock<Folds>) {
        std::thread::scope(|s| {
            let held = lock.lock();
            let waiter = s.spawn(|| drop(lock.lock()));
            eventually("the waiter met the lock", || {
                lock.contended.load(Ordering::Relaxed)
            });
            drop(held);
            waiter.join().unwrap();
        });
    }

    #[test]
    fn the_value_starts_16_bytes_in() {
        // A map's shadow starts with its header, whose read set and atomics
        // fill its first 48 bytes (the map and shadow tests pin those), so
        // a lock starting a cache line shares it with them (RaceMap puts
        // its lock first, and its test pins that).
        assert_eq!(std::mem::offset_of!(MapLock<crate::MapShadow>, value), 16);
    }

    #[test]
    fn a_lock_not_made_shareable_never_goes_shared() {
        let lock = MapLock::new(false, Folds::default());
        // What a thread that finds the lock taken goes through.
        drop(lock.lock_contended());
        assert!(!lock.reads_go_shared());
        assert!(lock.read_shared().is_none());
        assert!(lock.readers.get().is_none(), "no reader lines made");
    }

    #[test]
    fn reads_go_shared_only_once_the_lock_has_been_contended() {
        let lock = MapLock::new(true, Folds::default());
        assert!(!lock.reads_go_shared());
        assert!(lock.read_shared().is_none(), "never contended");
        assert!(lock.readers.get().is_none(), "no reader lines made");
        contend(&lock);
        assert!(lock.reads_go_shared());
        assert!(lock.read_shared().is_some());
    }

    #[test]
    fn a_shared_read_is_folded_by_the_next_exclusive_holder_exactly_once() {
        let lock = MapLock::new(true, Folds::default());
        contend(&lock);
        let mut g = lock.read_shared().expect("contended");
        *g.parts().1 = Some(read(7));
        drop(g);
        assert_eq!(lock.lock().0, [7]);
        assert_eq!(
            lock.lock().0,
            [7],
            "the record stays, but is not folded again"
        );
        *lock.read_shared().unwrap().parts().1 = Some(read(9));
        assert_eq!(lock.lock().0, [7, 9]);
    }

    #[test]
    fn an_exclusive_holder_waits_for_a_shared_reader_and_gets_its_record() {
        let lock = MapLock::new(true, Folds::default());
        contend(&lock);
        let (tx, rx) = mpsc::channel();
        std::thread::scope(|s| {
            let mut g = lock.read_shared().expect("contended");
            let lock = &lock;
            s.spawn(move || {
                rx.recv().unwrap();
                // Gets in only after the reader left, record written.
                assert_eq!(lock.lock().0, [5]);
            });
            tx.send(()).unwrap();
            // The holder is in the exclusive section, waiting for this
            // reader: only now is the record written.
            eventually("the holder is in", || lock.exclusive.is_locked());
            *g.parts().1 = Some(read(5));
            drop(g);
        });
    }

    #[test]
    fn a_reader_backs_off_while_an_exclusive_holder_is_in_and_panics_when_nested() {
        let lock = MapLock::new(true, Folds::default());
        contend(&lock);
        let held = lock.lock();
        std::thread::scope(|s| {
            s.spawn(|| assert!(lock.read_shared().is_none()));
        });
        drop(held);
        let outer = lock.read_shared().expect("free");
        nested_panic(|| drop(lock.read_shared()));
        assert!(
            outer.line.busy.load(Ordering::Relaxed),
            "the outer read is still in"
        );
        drop(outer);
        assert!(lock.read_shared().is_some());
    }

    #[test]
    fn a_lock_asked_for_inside_this_thread_s_shared_read_panics_while_another_holder_waits_for_it()
    {
        let lock = MapLock::new(true, Folds::default());
        contend(&lock);
        let mut outer = lock.read_shared().expect("free");
        *outer.parts().1 = Some(read(4));
        std::thread::scope(|s| {
            // The holder gets in, then waits for this thread's busy line.
            let holder = s.spawn(|| lock.lock().0.clone());
            eventually("the holder is in", || lock.exclusive.is_locked());
            // It would have waited for the holder, which waits for it.
            nested_panic(|| drop(lock.lock()));
            // Nor may a try fail quietly: its caller (`==`) would try
            // again for ever.
            nested_panic(|| drop(lock.try_lock()));
            drop(outer);
            assert_eq!(holder.join().unwrap(), [4], "the holder got the read");
        });
    }

    #[test]
    fn try_lock_fails_while_a_holder_or_a_reader_is_in_and_folds_when_it_succeeds() {
        let lock = MapLock::new(true, Folds::default());
        contend(&lock);
        let held = lock.lock();
        std::thread::scope(|s| {
            s.spawn(|| assert!(lock.try_lock().is_none(), "a holder is in"));
        });
        drop(held);
        let mut reader = lock.read_shared().expect("free");
        *reader.parts().1 = Some(read(6));
        std::thread::scope(|s| {
            s.spawn(|| assert!(lock.try_lock().is_none(), "a reader is in"));
        });
        // Asked for by the busy reader itself: the reentry panic, not a
        // failure its caller would retry forever.
        nested_panic(|| drop(lock.try_lock()));
        drop(reader);
        assert_eq!(lock.try_lock().expect("free").0, [6], "the read folded");
    }

    #[test]
    fn an_exclusive_lock_inside_this_thread_s_shared_read_panics_instead_of_waiting_for_itself() {
        let lock = MapLock::new(true, Folds::default());
        contend(&lock);
        let mut outer = lock.read_shared().expect("free");
        *outer.parts().1 = Some(read(3));
        let nested = nested_panic(|| drop(lock.lock()));
        let message = *nested.downcast::<&str>().unwrap();
        assert!(message.contains("under its own lock"), "{message}");
        drop(outer);
        assert_eq!(lock.lock().0, [3], "the lock was let go, the read kept");
    }
}
