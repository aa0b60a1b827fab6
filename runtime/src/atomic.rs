//! Atomic locations and fences: where an atomic synchronizes.
//!
//! An instrumented atomic is the real std atomic plus one [`AtomicShadow`]:
//! the location's access history (atomic accesses are recorded too, so an
//! atomic access racing with a plain one is found, while two atomic
//! accesses never race) and its [`AtomicSync`] (C++11/20 release sequences
//! and fence clocks, in the engine).
//!
//! Every operation performs the real atomic operation *under the shadow's
//! spin lock*, so the modification order of the location is the order of
//! the calls into the engine, and "the load reads from the latest store"
//! holds by construction.

use crate::access::{check_object, ShadowCell, Stamp};
use crate::site::Op;
use crate::spin::{SpinGuard, SpinLock};
use crate::threads::{after_release, with_local};
use racedet_detector::{AccessKind, AtomicSync, Ordering};
use std::panic::{Location, RefUnwindSafe};

/// The detector half of one atomic location.
pub struct AtomicShadow {
    state: SpinLock<State>,
    created_at: &'static Location<'static>,
}

struct State {
    shadow: ShadowCell,
    sync: AtomicSync,
}

// A panic while the lock is held (std panics on an invalid ordering, inside
// the real operation) happens before any bookkeeping, and the lock is
// released on unwind, so no caller can observe a half-updated state: std's
// atomics are `RefUnwindSafe`, and so are ours.
impl RefUnwindSafe for AtomicShadow {}

impl Default for AtomicShadow {
    #[track_caller]
    fn default() -> Self {
        AtomicShadow::new()
    }
}

impl AtomicShadow {
    /// The shadow of an atomic created at the caller (`const`, so atomics
    /// can still be `static`).
    #[track_caller]
    pub const fn new() -> AtomicShadow {
        AtomicShadow {
            state: SpinLock::new(State {
                shadow: ShadowCell::new(),
                sync: AtomicSync::new(),
            }),
            created_at: Location::caller(),
        }
    }

    /// A load with `order`. `op` performs the real load.
    ///
    /// `addr` is the user-facing atomic's address (named in reports); `at`
    /// the caller's site.
    #[inline]
    pub fn load<R>(
        &self,
        order: Ordering,
        at: &'static Location<'static>,
        addr: usize,
        op: impl FnOnce() -> R,
    ) -> R {
        let mut st = self.state.lock();
        let value = op();
        self.read_half(&mut st, order, Op::Load, at, addr);
        value
    }

    /// A store with `order`. `op` performs the real store.
    #[inline]
    pub fn store<R>(
        &self,
        order: Ordering,
        at: &'static Location<'static>,
        addr: usize,
        op: impl FnOnce() -> R,
    ) -> R {
        let mut st = self.state.lock();
        let value = op();
        // Check before releasing: the release must cover this very access,
        // and the check must see the thread as it was when it stored.
        self.check(&mut st, AccessKind::AtomicWrite, Op::Store, at, addr);
        let seen = with_local(|l| {
            st.sync.store(&mut l.state, order);
            after_release(l);
        });
        if seen.is_none() {
            st.sync.store_unseen();
        }
        value
    }

    /// A read-modify-write (swap, fetch_*) with `order`. `op` performs it.
    #[inline]
    pub fn rmw<R>(
        &self,
        order: Ordering,
        at: &'static Location<'static>,
        addr: usize,
        op: impl FnOnce() -> R,
    ) -> R {
        let mut st = self.state.lock();
        let value = op();
        self.rmw_done(&mut st, order, Op::Rmw, at, addr);
        value
    }

    /// A compare-exchange: on success a read-modify-write with `success`,
    /// on failure a load with `failure` (C++11: the failed exchange is a
    /// load). `op` performs the real (strong or weak) compare-exchange.
    #[inline]
    pub fn compare_exchange<T>(
        &self,
        success: Ordering,
        failure: Ordering,
        at: &'static Location<'static>,
        addr: usize,
        op: impl FnOnce() -> Result<T, T>,
    ) -> Result<T, T> {
        let mut st = self.state.lock();
        let result = op();
        match result {
            Ok(_) => self.rmw_done(&mut st, success, Op::CompareExchange, at, addr),
            Err(_) => self.read_half(&mut st, failure, Op::CompareExchange, at, addr),
        }
        result
    }

    /// A plain (non-atomic) read of the location, as loom's `unsync_load`:
    /// it races with any atomic write it is not ordered with.
    #[inline]
    pub fn plain_read<R>(
        &self,
        at: &'static Location<'static>,
        addr: usize,
        op: impl FnOnce() -> R,
    ) -> R {
        let mut st = self.state.lock();
        let value = op();
        self.check(&mut st, AccessKind::Read, Op::UnsyncLoad, at, addr);
        value
    }

    /// Acquire half of a load, then the check.
    #[inline]
    fn read_half(
        &self,
        st: &mut SpinGuard<'_, State>,
        order: Ordering,
        op: Op,
        at: &'static Location<'static>,
        addr: usize,
    ) {
        // Acquire *before* the check: the load synchronizes with the store
        // it reads from, so whatever happened before that store (a plain
        // write of this very location, say) happens before this access.
        with_local(|l| st.sync.load(&mut l.state, order));
        self.check(st, AccessKind::AtomicRead, op, at, addr);
    }

    /// Acquire half, check, release half: the read half must be in the
    /// clock the check uses, and the release must cover the access.
    #[inline]
    fn rmw_done(
        &self,
        st: &mut SpinGuard<'_, State>,
        order: Ordering,
        op: Op,
        at: &'static Location<'static>,
        addr: usize,
    ) {
        with_local(|l| st.sync.load(&mut l.state, order));
        self.check(st, AccessKind::AtomicWrite, op, at, addr);
        with_local(|l| {
            st.sync.rmw_write(&mut l.state, order);
            after_release(l);
        });
    }

    #[inline]
    fn check(
        &self,
        st: &mut SpinGuard<'_, State>,
        kind: AccessKind,
        op: Op,
        at: &'static Location<'static>,
        addr: usize,
    ) {
        check_object(
            &mut st.shadow,
            kind,
            Stamp::Now,
            op,
            at,
            "atomic",
            addr,
            self.created_at,
        );
    }
}

/// `fence(order)` of the calling thread (after std's own fence, which
/// rejects `Relaxed`).
///
/// Release fences make later relaxed stores and RMWs of this thread
/// publish the fence point; acquire fences take what earlier relaxed loads
/// read; a SeqCst fence is both (by C++11 rules the SeqCst order of fences
/// adds no happens-before edge of its own).
pub fn fence(order: Ordering) {
    match order {
        Ordering::Relaxed => {}
        Ordering::Acquire => {
            with_local(|l| l.state.fence_acquire());
        }
        Ordering::Release => {
            with_local(|l| {
                l.state.fence_release();
                after_release(l);
            });
        }
        Ordering::AcqRel => {
            with_local(|l| {
                l.state.fence_acq_rel();
                after_release(l);
            });
        }
        // SeqCst, and any ordering std adds later.
        _ => {
            with_local(|l| {
                l.state.fence_seqcst();
                after_release(l);
            });
        }
    }
}
