//! Shared variables: `RaceCell` (Go's plain `x`) and a loom-compatible
//! `UnsafeCell`.

use std::fmt;
use std::panic::{Location, RefUnwindSafe, UnwindSafe};

use racedet_runtime::Op;
#[cfg(any(feature = "detect", racedet_detect))]
use racedet_runtime::{check_object, plain_access, ShadowCell};

use crate::span::{self, Span, Stamp};
// A cell is locked on every checked access, and mostly by one thread: with
// detection its lock is biased to a thread that takes it 8 times in a row
// (no locked instruction from then on, until another thread uses the
// cell); without, a spin lock is all it needs.
#[cfg(any(feature = "detect", racedet_detect))]
use racedet_runtime::BiasedLock as CellLock;
#[cfg(not(any(feature = "detect", racedet_detect)))]
use racedet_runtime::SpinLock as CellLock;

// The biased locks' barrier registration, before `main`: while the process
// has one thread it takes microseconds, later milliseconds (a test harness
// has spawned its threads before any test touches a cell).
#[cfg(all(target_os = "linux", any(feature = "detect", racedet_detect)))]
#[used]
#[link_section = ".init_array"]
static PREPARE_BIASED_LOCKS: extern "C" fn() = {
    extern "C" fn prepare() {
        racedet_runtime::prepare_biased_locks();
    }
    prepare
};

/// A plain shared variable, like a Go variable shared between goroutines.
///
/// `Send + Sync` when `T: Send`, and memory-safe (reads and writes are
/// serialized), but its
/// contract is unsynchronized: with the `detect` feature, a write not
/// ordered with another access by racedet synchronization is reported as a
/// `data race`.
pub struct RaceCell<T: Copy> {
    inner: CellLock<Slot<T>>,
    #[cfg(any(feature = "detect", racedet_detect))]
    created_at: &'static Location<'static>,
}

struct Slot<T> {
    value: T,
    #[cfg(any(feature = "detect", racedet_detect))]
    shadow: ShadowCell,
}

impl<T: Copy> RaceCell<T> {
    /// A variable holding `value`. `const`, so a cell can be a `static`
    /// (Go's package-level variable).
    #[track_caller]
    pub const fn new(value: T) -> RaceCell<T> {
        RaceCell {
            inner: CellLock::new(Slot {
                value,
                #[cfg(any(feature = "detect", racedet_detect))]
                shadow: ShadowCell::new(),
            }),
            #[cfg(any(feature = "detect", racedet_detect))]
            created_at: Location::caller(),
        }
    }

    /// Reads the value.
    #[track_caller]
    #[inline]
    pub fn get(&self) -> T {
        let mut slot = self.inner.lock();
        self.hook(
            &mut slot,
            Stamp::Now,
            false,
            Op::CellGet,
            Location::caller(),
        );
        slot.value
    }

    /// Writes the value.
    #[track_caller]
    #[inline]
    pub fn set(&self, value: T) {
        let mut slot = self.inner.lock();
        self.hook(&mut slot, Stamp::Now, true, Op::CellSet, Location::caller());
        slot.value = value;
    }

    /// Writes the value, returning the old one (one write access).
    #[track_caller]
    pub fn replace(&self, value: T) -> T {
        let mut slot = self.inner.lock();
        self.hook(
            &mut slot,
            Stamp::Now,
            true,
            Op::CellReplace,
            Location::caller(),
        );
        std::mem::replace(&mut slot.value, value)
    }

    /// `x = f(x)` as one write access (a read-modify-write by one thread)
    /// that lasts while `f` runs (a release `f` makes does not order it);
    /// returns the new value. `f` runs under the cell's internal lock and
    /// must not use the same cell (it panics if it does, instead of
    /// deadlocking).
    #[track_caller]
    pub fn update(&self, f: impl FnOnce(T) -> T) -> T {
        let mut slot = self.inner.lock();
        // The write is made when `f` returns: a release `f` makes does not
        // order it.
        let span = span::open();
        self.hook(
            &mut slot,
            span.stamp(),
            true,
            Op::CellUpdate,
            Location::caller(),
        );
        slot.value = f(slot.value);
        slot.value
    }

    /// The value, through exclusive access (no check needed).
    pub fn into_inner(self) -> T {
        self.inner.into_inner().value
    }

    /// Checks an access of the cell, stamped `_stamp`.
    #[inline(always)]
    fn hook(
        &self,
        _slot: &mut Slot<T>,
        _stamp: Stamp,
        _write: bool,
        _op: Op,
        _at: &'static Location<'static>,
    ) {
        #[cfg(any(feature = "detect", racedet_detect))]
        check_object(
            &mut _slot.shadow,
            plain_access(_write),
            _stamp,
            _op,
            _at,
            "cell",
            self as *const Self as usize,
            self.created_at,
        );
    }
}

// A panic in `update`'s closure leaves the old value (the new one is stored
// only after `f` returns), so nothing half-changed can be observed.
impl<T: Copy + UnwindSafe> UnwindSafe for RaceCell<T> {}
impl<T: Copy + RefUnwindSafe> RefUnwindSafe for RaceCell<T> {}

/// A new cell holding this one's value, as std's `Cell`: a read of this
/// one (checked, at the caller).
impl<T: Copy> Clone for RaceCell<T> {
    #[track_caller]
    fn clone(&self) -> Self {
        RaceCell::new(self.get())
    }
}

impl<T: Copy + Default> Default for RaceCell<T> {
    #[track_caller]
    fn default() -> Self {
        RaceCell::new(T::default())
    }
}

impl<T: Copy + fmt::Debug> fmt::Debug for RaceCell<T> {
    #[track_caller]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RaceCell").field(&self.get()).finish()
    }
}

/// loom's `UnsafeCell`: access only through closures, so every access can be
/// checked. For authors of unsafe concurrent code (the cell is `!Sync`, like
/// std's; wrap it in a type with its own `unsafe impl Sync`).
pub struct UnsafeCell<T: ?Sized> {
    #[cfg(any(feature = "detect", racedet_detect))]
    shadow: CellLock<ShadowCell>,
    #[cfg(any(feature = "detect", racedet_detect))]
    created_at: &'static Location<'static>,
    data: std::cell::UnsafeCell<T>,
}

impl<T> UnsafeCell<T> {
    /// A cell holding `data`. `const`, as std's.
    #[track_caller]
    pub const fn new(data: T) -> UnsafeCell<T> {
        UnsafeCell {
            #[cfg(any(feature = "detect", racedet_detect))]
            shadow: CellLock::new(ShadowCell::new()),
            #[cfg(any(feature = "detect", racedet_detect))]
            created_at: Location::caller(),
            data: std::cell::UnsafeCell::new(data),
        }
    }

    /// The value (exclusive ownership: nothing to check).
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> UnsafeCell<T> {
    /// Reads through a `*const T`: checked as a read of the cell that lasts
    /// for the closure, as loom's (a write by another thread ordered only
    /// by a release made inside the closure is a race).
    #[track_caller]
    #[inline]
    pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        let _span = self.hook(false, Location::caller());
        f(self.data.get())
    }

    /// Writes through a `*mut T`: checked as a write of the cell that lasts
    /// for the closure.
    #[track_caller]
    #[inline]
    pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        let _span = self.hook(true, Location::caller());
        f(self.data.get())
    }

    /// `&mut` access: exclusive by the borrow rules, so nothing to check.
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    /// Checks the access when the closure starts; the span it returns ends
    /// it when the closure returns. The cell is not touched then: the
    /// closure may have freed it (the last owner of a hand-written `Arc`
    /// dropping the node), so the access is stamped now with the point the
    /// span will end at (see the runtime's `span.rs`).
    #[inline(always)]
    fn hook(&self, _write: bool, _at: &'static Location<'static>) -> Span {
        let span = span::open();
        #[cfg(any(feature = "detect", racedet_detect))]
        check_object(
            &mut self.shadow.lock(),
            plain_access(_write),
            span.stamp(),
            if _write { Op::WithMut } else { Op::With },
            _at,
            "unsafe cell",
            self as *const Self as *const u8 as usize,
            self.created_at,
        );
        span
    }
}

impl<T: Default> Default for UnsafeCell<T> {
    #[track_caller]
    fn default() -> Self {
        UnsafeCell::new(T::default())
    }
}

impl<T> From<T> for UnsafeCell<T> {
    #[track_caller]
    fn from(data: T) -> Self {
        UnsafeCell::new(data)
    }
}

impl<T: ?Sized> fmt::Debug for UnsafeCell<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UnsafeCell { .. }")
    }
}
