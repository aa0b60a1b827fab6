//! `std::sync::atomic`, instrumented with C++11 ordering: a Release (or
//! AcqRel, SeqCst) store or RMW synchronizes with an Acquire (or AcqRel,
//! SeqCst) load that reads it or a later value of its release sequence;
//! `fence(Release)` / `fence(Acquire)` pair through relaxed accesses;
//! Relaxed alone orders nothing. Atomic accesses never race with each
//! other, but they do with plain accesses of the same location (loom's
//! `unsync_load`). Without the `detect` feature these are std's own items.
//!
//! Each atomic is the real std atomic plus a `racedet_runtime::AtomicShadow`,
//! which performs the real operation under its lock and owns all the
//! bookkeeping; this module only maps std's API onto it.

pub use std::sync::atomic::{compiler_fence, Ordering};

// std's deprecated spellings, for code written against them (a spin hint
// orders nothing, so it is std's in both modes).
#[cfg(any(feature = "detect", racedet_detect))]
#[allow(deprecated)]
pub use detected::{ATOMIC_BOOL_INIT, ATOMIC_ISIZE_INIT, ATOMIC_USIZE_INIT};
#[allow(deprecated)]
pub use std::sync::atomic::spin_loop_hint;
#[cfg(not(any(feature = "detect", racedet_detect)))]
#[allow(deprecated)]
pub use std::sync::atomic::{ATOMIC_BOOL_INIT, ATOMIC_ISIZE_INIT, ATOMIC_USIZE_INIT};

#[cfg(not(any(feature = "detect", racedet_detect)))]
pub use std::sync::atomic::{
    fence, AtomicBool, AtomicI16, AtomicI32, AtomicI64, AtomicI8, AtomicIsize, AtomicPtr,
    AtomicU16, AtomicU32, AtomicU64, AtomicU8, AtomicUsize,
};

#[cfg(any(feature = "detect", racedet_detect))]
pub use detected::{
    fence, AtomicBool, AtomicI16, AtomicI32, AtomicI64, AtomicI8, AtomicIsize, AtomicPtr,
    AtomicU16, AtomicU32, AtomicU64, AtomicU8, AtomicUsize,
};

#[cfg(any(feature = "detect", racedet_detect))]
mod detected {
    use super::Ordering;
    use racedet_runtime::AtomicShadow;
    use std::fmt;
    use std::panic::Location;

    /// std's `fence`: panics on `Relaxed`, as std.
    pub fn fence(order: Ordering) {
        std::sync::atomic::fence(order);
        racedet_runtime::fence(order);
    }

    /// The methods every atomic has, on a value type `$v`. Every checked
    /// method is `#[track_caller]`, so reports name the user's line.
    macro_rules! common_methods {
        ($v:ty) => {
            /// The value, through `&mut` (exclusive: nothing to check).
            pub fn get_mut(&mut self) -> &mut $v {
                self.inner.get_mut()
            }

            /// The value (exclusive ownership: nothing to check).
            pub fn into_inner(self) -> $v {
                self.inner.into_inner()
            }

            /// A pointer to the value. Accesses through it are not checked.
            pub const fn as_ptr(&self) -> *mut $v {
                self.inner.as_ptr()
            }

            /// Atomic load.
            #[track_caller]
            #[inline]
            pub fn load(&self, order: Ordering) -> $v {
                self.load_at(order, Location::caller())
            }

            /// Atomic store.
            #[track_caller]
            #[inline]
            pub fn store(&self, val: $v, order: Ordering) {
                self.rt.store(order, Location::caller(), self.addr(), || {
                    self.inner.store(val, order)
                })
            }

            /// Atomic swap (a read-modify-write).
            #[track_caller]
            #[inline]
            pub fn swap(&self, val: $v, order: Ordering) -> $v {
                self.rt.rmw(order, Location::caller(), self.addr(), || {
                    self.inner.swap(val, order)
                })
            }

            /// Compare-exchange: an RMW with `success` if it exchanges, a
            /// load with `failure` if not.
            #[track_caller]
            #[inline]
            pub fn compare_exchange(
                &self,
                current: $v,
                new: $v,
                success: Ordering,
                failure: Ordering,
            ) -> Result<$v, $v> {
                self.cas_at(current, new, success, failure, false, Location::caller())
            }

            /// std's deprecated `compare_and_swap`: a `compare_exchange`
            /// whose failure ordering is the strongest `order` allows.
            #[deprecated(
                since = "1.50.0",
                note = "Use `compare_exchange` or `compare_exchange_weak` instead"
            )]
            #[track_caller]
            #[inline]
            pub fn compare_and_swap(&self, current: $v, new: $v, order: Ordering) -> $v {
                let failure = match order {
                    Ordering::Release | Ordering::Relaxed => Ordering::Relaxed,
                    Ordering::AcqRel | Ordering::Acquire => Ordering::Acquire,
                    _ => Ordering::SeqCst,
                };
                match self.cas_at(current, new, order, failure, false, Location::caller()) {
                    Ok(v) | Err(v) => v,
                }
            }

            /// As `compare_exchange`, but may fail spuriously.
            #[track_caller]
            #[inline]
            pub fn compare_exchange_weak(
                &self,
                current: $v,
                new: $v,
                success: Ordering,
                failure: Ordering,
            ) -> Result<$v, $v> {
                self.cas_at(current, new, success, failure, true, Location::caller())
            }

            /// std's loop: a load, then weak compare-exchanges until `f`
            /// declines or one succeeds. `f` runs outside any racedet lock.
            #[track_caller]
            pub fn fetch_update<F>(
                &self,
                set_order: Ordering,
                fetch_order: Ordering,
                mut f: F,
            ) -> Result<$v, $v>
            where
                F: FnMut($v) -> Option<$v>,
            {
                let at = Location::caller();
                let mut prev = self.load_at(fetch_order, at);
                while let Some(next) = f(prev) {
                    match self.cas_at(prev, next, set_order, fetch_order, true, at) {
                        x @ Ok(_) => return x,
                        Err(next_prev) => prev = next_prev,
                    }
                }
                Err(prev)
            }

            /// The same as `fetch_update`.
            #[track_caller]
            pub fn try_update(
                &self,
                set_order: Ordering,
                fetch_order: Ordering,
                f: impl FnMut($v) -> Option<$v>,
            ) -> Result<$v, $v> {
                self.fetch_update(set_order, fetch_order, f)
            }

            /// Applies `f` until a compare-exchange succeeds; returns the
            /// previous value.
            #[track_caller]
            pub fn update(
                &self,
                set_order: Ordering,
                fetch_order: Ordering,
                mut f: impl FnMut($v) -> $v,
            ) -> $v {
                // `fetch_update` whose closure never declines.
                match self.fetch_update(set_order, fetch_order, |v| Some(f(v))) {
                    Ok(prev) | Err(prev) => prev,
                }
            }

            /// loom's `unsync_load`: a *plain* read of the location, checked
            /// as one (it races with unordered atomic writes). Only with
            /// detection: std's atomics have no such method.
            ///
            /// # Safety
            /// As in loom: no write may race with it. (racedet reads the
            /// value atomically, so it is memory-safe here; the contract is
            /// what gets checked.)
            #[track_caller]
            pub unsafe fn unsync_load(&self) -> $v {
                self.rt.plain_read(Location::caller(), self.addr(), || {
                    self.inner.load(Ordering::Relaxed)
                })
            }

            /// loom's `with_mut`: `&mut` access to the value (exclusive:
            /// nothing to check). Only with detection.
            pub fn with_mut<R>(&mut self, f: impl FnOnce(&mut $v) -> R) -> R {
                f(self.inner.get_mut())
            }

            #[inline]
            fn load_at(&self, order: Ordering, at: &'static Location<'static>) -> $v {
                self.rt
                    .load(order, at, self.addr(), || self.inner.load(order))
            }

            #[inline]
            fn cas_at(
                &self,
                current: $v,
                new: $v,
                success: Ordering,
                failure: Ordering,
                weak: bool,
                at: &'static Location<'static>,
            ) -> Result<$v, $v> {
                self.rt
                    .compare_exchange(success, failure, at, self.addr(), || {
                        if weak {
                            self.inner
                                .compare_exchange_weak(current, new, success, failure)
                        } else {
                            self.inner.compare_exchange(current, new, success, failure)
                        }
                    })
            }

            #[inline]
            fn addr(&self) -> usize {
                self as *const Self as usize
            }
        };
    }

    /// A read-modify-write method forwarding to std's.
    macro_rules! rmw_method {
        ($(#[$doc:meta])* $name:ident($arg:ty) -> $v:ty) => {
            $(#[$doc])*
            #[track_caller]
            #[inline]
            pub fn $name(&self, val: $arg, order: Ordering) -> $v {
                self.rt.rmw(order, Location::caller(), self.addr(), || {
                    self.inner.$name(val, order)
                })
            }
        };
    }

    /// An integer atomic.
    macro_rules! atomic_int {
        ($(#[$attr:meta])* $name:ident, $int:ty) => {
            $(#[$attr])*
            pub struct $name {
                inner: std::sync::atomic::$name,
                rt: AtomicShadow,
            }

            impl $name {
                /// A new atomic (`const`, for statics).
                #[track_caller]
                pub const fn new(v: $int) -> $name {
                    $name {
                        inner: std::sync::atomic::$name::new(v),
                        rt: AtomicShadow::new(),
                    }
                }

                common_methods!($int);

                rmw_method!(
                    /// Wrapping add; returns the previous value.
                    fetch_add($int) -> $int
                );
                rmw_method!(
                    /// Wrapping subtract; returns the previous value.
                    fetch_sub($int) -> $int
                );
                rmw_method!(
                    /// Bitwise and; returns the previous value.
                    fetch_and($int) -> $int
                );
                rmw_method!(
                    /// Bitwise nand; returns the previous value.
                    fetch_nand($int) -> $int
                );
                rmw_method!(
                    /// Bitwise or; returns the previous value.
                    fetch_or($int) -> $int
                );
                rmw_method!(
                    /// Bitwise xor; returns the previous value.
                    fetch_xor($int) -> $int
                );
                rmw_method!(
                    /// Maximum; returns the previous value.
                    fetch_max($int) -> $int
                );
                rmw_method!(
                    /// Minimum; returns the previous value.
                    fetch_min($int) -> $int
                );
            }

            impl Default for $name {
                #[track_caller]
                fn default() -> $name {
                    $name::new(<$int>::default())
                }
            }

            impl From<$int> for $name {
                #[track_caller]
                fn from(v: $int) -> $name {
                    $name::new(v)
                }
            }

            impl fmt::Debug for $name {
                // As std: a Relaxed load, checked as one (a later
                // `fence(Acquire)` pairs with it, as with any relaxed load).
                #[track_caller]
                fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    fmt::Debug::fmt(&self.load(Ordering::Relaxed), f)
                }
            }
        };
    }

    atomic_int!(
        /// std's `AtomicI8`.
        AtomicI8, i8
    );
    atomic_int!(
        /// std's `AtomicU8`.
        AtomicU8, u8
    );
    atomic_int!(
        /// std's `AtomicI16`.
        AtomicI16, i16
    );
    atomic_int!(
        /// std's `AtomicU16`.
        AtomicU16, u16
    );
    atomic_int!(
        /// std's `AtomicI32`.
        AtomicI32, i32
    );
    atomic_int!(
        /// std's `AtomicU32`.
        AtomicU32, u32
    );
    atomic_int!(
        /// std's `AtomicI64`.
        AtomicI64, i64
    );
    atomic_int!(
        /// std's `AtomicU64`.
        AtomicU64, u64
    );
    atomic_int!(
        /// std's `AtomicIsize`.
        AtomicIsize, isize
    );
    atomic_int!(
        /// std's `AtomicUsize`.
        AtomicUsize, usize
    );

    // std's deprecated initializers. Each use of a const is a new atomic,
    // as with std's.
    /// std's deprecated `ATOMIC_BOOL_INIT`.
    #[deprecated(since = "1.34.0", note = "the `new` function is now preferred")]
    #[allow(clippy::declare_interior_mutable_const)]
    pub const ATOMIC_BOOL_INIT: AtomicBool = AtomicBool::new(false);
    /// std's deprecated `ATOMIC_ISIZE_INIT`.
    #[deprecated(since = "1.34.0", note = "the `new` function is now preferred")]
    #[allow(clippy::declare_interior_mutable_const)]
    pub const ATOMIC_ISIZE_INIT: AtomicIsize = AtomicIsize::new(0);
    /// std's deprecated `ATOMIC_USIZE_INIT`.
    #[deprecated(since = "1.34.0", note = "the `new` function is now preferred")]
    #[allow(clippy::declare_interior_mutable_const)]
    pub const ATOMIC_USIZE_INIT: AtomicUsize = AtomicUsize::new(0);

    /// std's `AtomicBool`.
    pub struct AtomicBool {
        inner: std::sync::atomic::AtomicBool,
        rt: AtomicShadow,
    }

    impl AtomicBool {
        /// A new atomic (`const`, for statics).
        #[track_caller]
        pub const fn new(v: bool) -> AtomicBool {
            AtomicBool {
                inner: std::sync::atomic::AtomicBool::new(v),
                rt: AtomicShadow::new(),
            }
        }

        common_methods!(bool);

        rmw_method!(
            /// Logical and; returns the previous value.
            fetch_and(bool) -> bool
        );
        rmw_method!(
            /// Logical nand; returns the previous value.
            fetch_nand(bool) -> bool
        );
        rmw_method!(
            /// Logical or; returns the previous value.
            fetch_or(bool) -> bool
        );
        rmw_method!(
            /// Logical xor; returns the previous value.
            fetch_xor(bool) -> bool
        );

        /// Logical not; returns the previous value.
        #[track_caller]
        #[inline]
        pub fn fetch_not(&self, order: Ordering) -> bool {
            self.rt.rmw(order, Location::caller(), self.addr(), || {
                self.inner.fetch_not(order)
            })
        }
    }

    impl Default for AtomicBool {
        #[track_caller]
        fn default() -> AtomicBool {
            AtomicBool::new(false)
        }
    }

    impl From<bool> for AtomicBool {
        #[track_caller]
        fn from(v: bool) -> AtomicBool {
            AtomicBool::new(v)
        }
    }

    impl fmt::Debug for AtomicBool {
        #[track_caller]
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            fmt::Debug::fmt(&self.load(Ordering::Relaxed), f)
        }
    }

    /// std's `AtomicPtr`.
    pub struct AtomicPtr<T> {
        inner: std::sync::atomic::AtomicPtr<T>,
        rt: AtomicShadow,
    }

    impl<T> AtomicPtr<T> {
        /// A new atomic (`const`, for statics).
        #[track_caller]
        pub const fn new(p: *mut T) -> AtomicPtr<T> {
            AtomicPtr {
                inner: std::sync::atomic::AtomicPtr::new(p),
                rt: AtomicShadow::new(),
            }
        }

        common_methods!(*mut T);

        rmw_method!(
            /// Adds `val` elements (`val * size_of::<T>()` bytes) to the
            /// address; returns the previous pointer.
            fetch_ptr_add(usize) -> *mut T
        );
        rmw_method!(
            /// Subtracts `val` elements; returns the previous pointer.
            fetch_ptr_sub(usize) -> *mut T
        );
        rmw_method!(
            /// Adds `val` bytes; returns the previous pointer.
            fetch_byte_add(usize) -> *mut T
        );
        rmw_method!(
            /// Subtracts `val` bytes; returns the previous pointer.
            fetch_byte_sub(usize) -> *mut T
        );
        rmw_method!(
            /// Bitwise or on the address; returns the previous pointer.
            fetch_or(usize) -> *mut T
        );
        rmw_method!(
            /// Bitwise and on the address; returns the previous pointer.
            fetch_and(usize) -> *mut T
        );
        rmw_method!(
            /// Bitwise xor on the address; returns the previous pointer.
            fetch_xor(usize) -> *mut T
        );
    }

    impl<T> Default for AtomicPtr<T> {
        #[track_caller]
        fn default() -> AtomicPtr<T> {
            AtomicPtr::new(std::ptr::null_mut())
        }
    }

    impl<T> From<*mut T> for AtomicPtr<T> {
        #[track_caller]
        fn from(p: *mut T) -> AtomicPtr<T> {
            AtomicPtr::new(p)
        }
    }

    impl<T> fmt::Debug for AtomicPtr<T> {
        #[track_caller]
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            fmt::Debug::fmt(&self.load(Ordering::Relaxed), f)
        }
    }

    impl<T> fmt::Pointer for AtomicPtr<T> {
        #[track_caller]
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            fmt::Pointer::fmt(&self.load(Ordering::Relaxed), f)
        }
    }
}
