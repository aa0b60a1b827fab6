//! `LazyLock`: a value made on first use. Built on racedet's `OnceLock`, so
//! the initialization happens before every access that finds the value —
//! with std's `LazyLock`, racedet would see no order between the thread
//! that made the value and the others, and report their accesses to it
//! (a `static` `RaceMap` filled in its initializer, then read by several
//! threads) as races.

use super::OnceLock;
use std::cell::UnsafeCell;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::panic::{RefUnwindSafe, UnwindSafe};

/// std's `LazyLock`.
pub struct LazyLock<T, F = fn() -> T> {
    cell: OnceLock<T>,
    /// Taken by the one initializer that runs; `None` after it ran, or
    /// after it panicked (then, as std's, the lock is poisoned).
    init: UnsafeCell<Option<F>>,
}

// SAFETY: `init` is reached only inside `cell`'s initialization closure,
// which runs on one thread at a time (`OnceLock::get_or_init` blocks the
// others), or through `&mut self`. As std's: `F` moves to the thread that
// initializes, `T` is shared once made.
unsafe impl<T: Sync + Send, F: Send> Sync for LazyLock<T, F> {}

// As std's: a panic in the initializer poisons the lock for good, so no
// caller sees a half-made value.
impl<T: RefUnwindSafe + UnwindSafe, F: UnwindSafe> RefUnwindSafe for LazyLock<T, F> {}
impl<T: UnwindSafe, F: UnwindSafe> UnwindSafe for LazyLock<T, F> {}

const POISONED: &str = "LazyLock instance has previously been poisoned";

impl<T, F: FnOnce() -> T> LazyLock<T, F> {
    /// A lock that will make its value with `f` on first use.
    pub const fn new(f: F) -> LazyLock<T, F> {
        LazyLock {
            cell: OnceLock::new(),
            init: UnsafeCell::new(Some(f)),
        }
    }

    /// The value, made now if it was not yet; the caller then sees its
    /// initialization. Panics if an earlier initializer panicked.
    pub fn force(this: &LazyLock<T, F>) -> &T {
        this.cell.get_or_init(|| {
            // SAFETY: inside the initialization closure (see `Sync`).
            let f = unsafe { (*this.init.get()).take() };
            f.expect(POISONED)()
        })
    }

    /// As [`LazyLock::force`], with exclusive access. (std's from Rust
    /// 1.94, as `get`.)
    pub fn force_mut(this: &mut LazyLock<T, F>) -> &mut T {
        if this.cell.get_mut().is_none() {
            let f = this.init.get_mut().take().expect(POISONED);
            let _ = this.cell.set(f());
        }
        this.cell.get_mut().expect("the value was just made")
    }
}

// Without the initializer's bound, as std's (code generic over `F` calls them).
impl<T, F> LazyLock<T, F> {
    /// The value, if it was made; the caller then sees its initialization.
    /// (std's from Rust 1.94: without `detect`, where this is std's type,
    /// it needs 1.94.)
    pub fn get(this: &LazyLock<T, F>) -> Option<&T> {
        this.cell.get()
    }

    /// The value, if it was made (exclusive access). (std's from Rust
    /// 1.94, as `get`.)
    pub fn get_mut(this: &mut LazyLock<T, F>) -> Option<&mut T> {
        this.cell.get_mut()
    }
}

// Empty, but present as in std: without it the borrow checker would let
// the initializer borrow something that dies before the lock, which
// std's `LazyLock` (and so the build without `detect`) rejects.
impl<T, F> Drop for LazyLock<T, F> {
    fn drop(&mut self) {}
}

impl<T, F: FnOnce() -> T> Deref for LazyLock<T, F> {
    type Target = T;
    fn deref(&self) -> &T {
        LazyLock::force(self)
    }
}

impl<T, F: FnOnce() -> T> DerefMut for LazyLock<T, F> {
    fn deref_mut(&mut self) -> &mut T {
        LazyLock::force_mut(self)
    }
}

impl<T: Default> Default for LazyLock<T> {
    fn default() -> LazyLock<T> {
        LazyLock::new(T::default)
    }
}

// As std's: shows the value only if it was made (printing never makes it).
impl<T: fmt::Debug, F> fmt::Debug for LazyLock<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_tuple("LazyLock");
        match self.cell.get() {
            Some(v) => d.field(v),
            None => d.field(&format_args!("<uninit>")),
        };
        d.finish()
    }
}
