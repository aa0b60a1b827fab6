//! `Once` and `OnceLock`: the initialization happens before every later
//! observer — a `call_once` that returns after it, an `is_completed` that
//! says `true`, a `get` that returns `Some`, a `wait`.

use racedet_runtime::OnceClock;
use std::fmt;
use std::sync::OnceState;

/// One run of an initializer, inside std's initialization closure: it
/// sees what an earlier failed attempt did, and publishes what it did when
/// dropped — after the initializer returned, or while a panicking one
/// unwinds (std then poisons the once, and the next attempt, in
/// `call_once_force` or a retried `get_or_init`, runs after it).
struct Attempt<'a>(&'a OnceClock);

impl<'a> Attempt<'a> {
    fn start(clock: &'a OnceClock) -> Attempt<'a> {
        // SAFETY: called inside std's initialization closure.
        unsafe { clock.attempting() };
        Attempt(clock)
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        // SAFETY: dropped inside std's initialization closure.
        unsafe { self.0.initialized() };
    }
}

/// std's `Once`.
pub struct Once {
    inner: std::sync::Once,
    clock: OnceClock,
}

impl Once {
    /// A `Once` that has not run.
    // std's `Once` has no `Default`; neither has ours, so code that builds
    // with detection builds without it.
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Once {
        Once {
            inner: std::sync::Once::new(),
            clock: OnceClock::new(),
        }
    }

    /// Runs `f` if no call has completed yet; returns once one has, having
    /// seen everything it did.
    pub fn call_once<F: FnOnce()>(&self, f: F) {
        self.inner.call_once(|| {
            let _attempt = Attempt::start(&self.clock);
            f();
        });
        // SAFETY: `call_once` returned normally: the initialization completed.
        unsafe { self.clock.observed() };
    }

    /// As `call_once`, also running after an earlier initializer panicked.
    pub fn call_once_force<F: FnOnce(&OnceState)>(&self, f: F) {
        self.inner.call_once_force(|state| {
            let _attempt = Attempt::start(&self.clock);
            f(state);
        });
        // SAFETY: as in `call_once`.
        unsafe { self.clock.observed() };
    }

    /// Whether an initialization completed; if so, the caller has seen it.
    pub fn is_completed(&self) -> bool {
        let done = self.inner.is_completed();
        if done {
            // SAFETY: std's `is_completed` observed the completion.
            unsafe { self.clock.observed() };
        }
        done
    }

    /// Blocks until an initialization completes (panics if poisoned).
    pub fn wait(&self) {
        self.inner.wait();
        // SAFETY: `wait` returns only after completion.
        unsafe { self.clock.observed() };
    }

    /// Blocks until an initialization completes, ignoring poisoning.
    pub fn wait_force(&self) {
        self.inner.wait_force();
        // SAFETY: as in `wait`.
        unsafe { self.clock.observed() };
    }
}

impl fmt::Debug for Once {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Once").finish_non_exhaustive()
    }
}

/// std's `OnceLock`.
pub struct OnceLock<T> {
    inner: std::sync::OnceLock<T>,
    clock: OnceClock,
}

impl<T> OnceLock<T> {
    /// An empty cell.
    pub const fn new() -> OnceLock<T> {
        OnceLock {
            inner: std::sync::OnceLock::new(),
            clock: OnceClock::new(),
        }
    }

    /// The value, if initialized; the caller then sees its initialization.
    pub fn get(&self) -> Option<&T> {
        let value = self.inner.get();
        if value.is_some() {
            // SAFETY: std's `get` observed the completed initialization.
            unsafe { self.clock.observed() };
        }
        value
    }

    /// `&mut` access: exclusive by the borrow rules, nothing to order.
    pub fn get_mut(&mut self) -> Option<&mut T> {
        self.inner.get_mut()
    }

    /// Blocks until the cell is initialized.
    pub fn wait(&self) -> &T {
        let value = self.inner.wait();
        // SAFETY: `wait` returns only after completion.
        unsafe { self.clock.observed() };
        value
    }

    /// Initializes the cell with `value` unless it already is (then gives
    /// `value` back). Either way, the caller then sees the initialization.
    pub fn set(&self, value: T) -> Result<(), T> {
        let mut value = Some(value);
        self.get_or_init(|| value.take().expect("the initializer runs once"));
        match value {
            None => Ok(()),
            Some(value) => Err(value),
        }
    }

    /// The value, running `f` to make it if no initialization completed.
    pub fn get_or_init<F: FnOnce() -> T>(&self, f: F) -> &T {
        let value = self.inner.get_or_init(|| {
            let _attempt = Attempt::start(&self.clock);
            f()
        });
        // SAFETY: `get_or_init` returned: the initialization completed.
        unsafe { self.clock.observed() };
        value
    }

    /// The value, if initialized (exclusive ownership).
    pub fn into_inner(self) -> Option<T> {
        self.inner.into_inner()
    }

    /// Takes the value out, leaving the cell empty (exclusive access).
    pub fn take(&mut self) -> Option<T> {
        self.clock.reset();
        self.inner.take()
    }
}

impl<T> Default for OnceLock<T> {
    fn default() -> OnceLock<T> {
        OnceLock::new()
    }
}

impl<T: fmt::Debug> fmt::Debug for OnceLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_tuple("OnceLock");
        match self.get() {
            Some(v) => d.field(v),
            None => d.field(&format_args!("<uninit>")),
        };
        d.finish()
    }
}

impl<T: Clone> Clone for OnceLock<T> {
    fn clone(&self) -> OnceLock<T> {
        let cell = OnceLock::new();
        if let Some(value) = self.get() {
            let _ = cell.set(value.clone());
        }
        cell
    }
}

impl<T> From<T> for OnceLock<T> {
    fn from(value: T) -> OnceLock<T> {
        let cell = OnceLock::new();
        let _ = cell.set(value);
        cell
    }
}

impl<T: PartialEq> PartialEq for OnceLock<T> {
    fn eq(&self, other: &OnceLock<T>) -> bool {
        self.get() == other.get()
    }
}

impl<T: Eq> Eq for OnceLock<T> {}
