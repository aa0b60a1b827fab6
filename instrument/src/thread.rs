//! `std::thread`, instrumented: spawn happens before the child's first
//! step, the child's last step before `join` returns, every scoped
//! thread's end before `scope` returns, and an unpark before the park it
//! releases. Without the `detect` feature these are std's own functions
//! and types.
//!
//! With detection, [`Thread`] is racedet's handle (from [`current`],
//! `JoinHandle::thread` and `ScopedJoinHandle::thread`): its `unpark`
//! carries the edge. Unparking through a `std::thread::Thread` obtained
//! elsewhere still wakes the thread, but racedet cannot see it, so it
//! orders nothing. `sleep` and `yield_now` order nothing either.

pub use std::thread::{
    available_parallelism, panicking, sleep, yield_now, AccessError, LocalKey, Result, ThreadId,
};

// std's deprecated spellings, so code that still uses them compiles (with
// std's deprecation warning).
#[allow(deprecated)]
pub use std::thread::sleep_ms;

#[cfg(not(any(feature = "detect", racedet_detect)))]
#[allow(deprecated)]
pub use std::thread::park_timeout_ms;

#[cfg(not(any(feature = "detect", racedet_detect)))]
pub use std::thread::{
    current, park, park_timeout, scope, spawn, Builder, JoinHandle, Scope, ScopedJoinHandle, Thread,
};

#[cfg(any(feature = "detect", racedet_detect))]
pub use detected::{
    current, park, park_timeout, scope, spawn, Builder, JoinHandle, Scope, ScopedJoinHandle, Thread,
};

#[cfg(any(feature = "detect", racedet_detect))]
#[allow(deprecated)]
pub use detected::park_timeout_ms;

/// Unparks `thread`: the same as `thread.unpark()` (an unpark happens
/// before the park it releases).
pub fn unpark(thread: &Thread) {
    thread.unpark();
}

#[cfg(any(feature = "detect", racedet_detect))]
mod detected {
    use super::ThreadId;
    use racedet_runtime::{
        current_park_clock, enter, fork, install_park_clock, parked, Completion, MessageClock,
        OpenScope, ParkClock, ScopeSync,
    };
    use std::cell::OnceCell;
    use std::fmt;
    use std::io;
    use std::marker::PhantomData;
    use std::sync::Arc;
    use std::time::Duration;

    /// Spawns a thread (std's signature).
    pub fn spawn<F, T>(f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        Builder::new().spawn(f).expect("failed to spawn thread")
    }

    /// Wraps `f` so the child enters its detector state (and takes the park
    /// clock its handles carry) first and hands its final clock to `done`
    /// last, even when `f` panics.
    fn instrumented<F, T>(
        name: Option<String>,
        done: Arc<Completion>,
        park: Arc<ParkClock>,
        f: F,
    ) -> impl FnOnce() -> T
    where
        F: FnOnce() -> T,
    {
        let child = fork(name);
        move || {
            let _running = enter(child, done);
            install_park_clock(park);
            f()
        }
    }

    /// std's `Thread`, carrying the thread's park clock so that `unpark`
    /// happens before the park it releases.
    #[derive(Clone)]
    pub struct Thread {
        inner: std::thread::Thread,
        park: Arc<ParkClock>,
    }

    impl Thread {
        /// Wakes the thread from `park` (or makes its next `park` return at
        /// once); everything done before this happens before that park
        /// returns.
        pub fn unpark(&self) {
            self.park.unparking();
            self.inner.unpark();
        }

        /// The thread's id.
        pub fn id(&self) -> ThreadId {
            self.inner.id()
        }

        /// The thread's name.
        pub fn name(&self) -> Option<&str> {
            self.inner.name()
        }
    }

    impl fmt::Debug for Thread {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            fmt::Debug::fmt(&self.inner, f)
        }
    }

    /// std's handle, for APIs that take one (`std::thread::Thread::from(t)`
    /// compiles with and without detection). Unparking through it orders
    /// nothing.
    impl From<Thread> for std::thread::Thread {
        fn from(thread: Thread) -> std::thread::Thread {
            thread.inner
        }
    }

    /// The calling thread's handle.
    pub fn current() -> Thread {
        Thread {
            inner: std::thread::current(),
            park: current_park_clock(),
        }
    }

    /// Blocks until unparked (or spuriously); sees everything done before
    /// the unparks that released it.
    pub fn park() {
        std::thread::park();
        parked();
    }

    /// As [`park`], for at most `dur`.
    pub fn park_timeout(dur: Duration) {
        std::thread::park_timeout(dur);
        parked();
    }

    /// std's deprecated [`park_timeout`] in milliseconds.
    #[deprecated(since = "1.6.0", note = "replaced by `park_timeout`")]
    pub fn park_timeout_ms(ms: u32) {
        park_timeout(Duration::from_millis(ms.into()));
    }

    /// std's `thread::Builder`.
    pub struct Builder {
        inner: std::thread::Builder,
        name: Option<String>,
    }

    // std's text: the name is std's builder's too.
    impl fmt::Debug for Builder {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            self.inner.fmt(f)
        }
    }

    impl Builder {
        /// A builder with std's defaults.
        // No `Default`: std's builder has none, and code that used one
        // would not build without detection.
        #[allow(clippy::new_without_default)]
        pub fn new() -> Builder {
            Builder {
                inner: std::thread::Builder::new(),
                name: None,
            }
        }

        /// Names the thread (reports call it `T3 'name'`).
        pub fn name(self, name: String) -> Builder {
            Builder {
                inner: self.inner.name(name.clone()),
                name: Some(name),
            }
        }

        /// Sets the stack size.
        pub fn stack_size(self, size: usize) -> Builder {
            Builder {
                inner: self.inner.stack_size(size),
                name: self.name,
            }
        }

        /// Spawns the thread.
        pub fn spawn<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
        where
            F: FnOnce() -> T + Send + 'static,
            T: Send + 'static,
        {
            // SAFETY: `f` and `T` are `'static`: nothing they borrow can end
            // before the thread (std's `spawn` is the same call).
            unsafe { self.spawn_unchecked(f) }
        }

        /// std's `spawn_unchecked`: [`Builder::spawn`] without the
        /// `'static` bounds.
        ///
        /// # Safety
        /// As std's: whatever `f` and its result borrow must outlive the
        /// thread (join it before they go).
        pub unsafe fn spawn_unchecked<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
        where
            F: FnOnce() -> T + Send,
            T: Send,
        {
            let done = Completion::new();
            let park = ParkClock::new();
            // SAFETY: the caller's contract, passed on.
            let inner = unsafe {
                self.inner.spawn_unchecked(instrumented(
                    self.name,
                    done.clone(),
                    park.clone(),
                    finishing(f, None),
                ))?
            };
            let thread = Thread {
                inner: inner.thread().clone(),
                park,
            };
            Ok(JoinHandle {
                inner,
                done,
                thread,
            })
        }

        /// Spawns a scoped thread.
        pub fn spawn_scoped<'scope, 'env, F, T>(
            self,
            scope: &'scope Scope<'scope, 'env>,
            f: F,
        ) -> io::Result<ScopedJoinHandle<'scope, T>>
        where
            F: FnOnce() -> T + Send + 'scope,
            T: Send + 'scope,
        {
            let sync = scope.sync();
            let done = Completion::in_scope(sync.clone());
            let park = ParkClock::new();
            let inner = self.inner.spawn_scoped(
                &scope.inner,
                instrumented(
                    self.name,
                    done.clone(),
                    park.clone(),
                    finishing(f, Some(sync)),
                ),
            )?;
            let thread = Thread {
                inner: inner.thread().clone(),
                park,
            };
            Ok(ScopedJoinHandle {
                inner,
                done,
                thread,
            })
        }
    }

    /// std's `JoinHandle`; `join` acquires everything the thread did.
    pub struct JoinHandle<T> {
        inner: std::thread::JoinHandle<Finished<T>>,
        done: Arc<Completion>,
        thread: Thread,
    }

    impl<T> std::fmt::Debug for JoinHandle<T> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            std::fmt::Debug::fmt(&self.inner, f)
        }
    }

    impl<T> JoinHandle<T> {
        /// Waits for the thread; its accesses happen before this returns
        /// (also when it panicked).
        pub fn join(self) -> std::thread::Result<T> {
            let r = self.inner.join();
            self.done.join();
            joined(r)
        }

        /// The thread's handle.
        pub fn thread(&self) -> &Thread {
            &self.thread
        }

        /// Whether the thread has finished (no ordering: use `join`).
        pub fn is_finished(&self) -> bool {
            self.inner.is_finished()
        }
    }

    // As std's: the raw pthread, for platform calls (a thread joined by
    // `pthread_join` through it is not seen: use `join`).
    #[cfg(unix)]
    impl<T> std::os::unix::thread::JoinHandleExt for JoinHandle<T> {
        fn as_pthread_t(&self) -> std::os::unix::thread::RawPthread {
            self.inner.as_pthread_t()
        }

        fn into_pthread_t(self) -> std::os::unix::thread::RawPthread {
            self.inner.into_pthread_t()
        }
    }

    /// std's `Scope`. Same layout as std's, so a `&std::thread::Scope` can be
    /// viewed as one; its detector clock is found by address.
    #[repr(transparent)]
    pub struct Scope<'scope, 'env: 'scope> {
        inner: std::thread::Scope<'scope, 'env>,
        _env: PhantomData<&'env ()>,
    }

    impl<'scope, 'env> Scope<'scope, 'env> {
        /// Spawns a scoped thread; it ends before `scope` returns.
        pub fn spawn<F, T>(&'scope self, f: F) -> ScopedJoinHandle<'scope, T>
        where
            F: FnOnce() -> T + Send + 'scope,
            T: Send + 'scope,
        {
            Builder::new()
                .spawn_scoped(self, f)
                .expect("failed to spawn thread")
        }

        fn sync(&self) -> Arc<ScopeSync> {
            ScopeSync::of(self as *const Self as usize)
        }
    }

    // std's own output: derives on structs that hold these keep working.
    impl std::fmt::Debug for Scope<'_, '_> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            std::fmt::Debug::fmt(&self.inner, f)
        }
    }

    /// Wraps a thread's closure so that its result, or its panic's
    /// payload, reaches std in a [`Finished`].
    fn finishing<F, T>(f: F, scope: Option<Arc<ScopeSync>>) -> impl FnOnce() -> Finished<T>
    where
        F: FnOnce() -> T,
    {
        move || match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
            Ok(value) => Finished::new(value, scope),
            // Unwinding goes on, with the payload wrapped as a value is
            // (the panic hook has printed the panic already).
            Err(payload) => std::panic::resume_unwind(Box::new(Finished::new(payload, scope))),
        }
    }

    /// A thread's result (or panic payload) on its way to its handle.
    /// Joined, the handle takes it out. Unjoined, std drops it: on the
    /// thread after its closure, when the handle went first (for a scoped
    /// thread, still before the scope ends), or on the thread that drops
    /// the handle after the thread's end. Either way the program has no
    /// race: so the drop first sees the thread's clock at its closure's end
    /// (`end`), and then, in a scope, releases into the scope again.
    struct Finished<T> {
        /// `None` once the handle took it.
        value: Option<T>,
        end: Option<MessageClock>,
        scope: Option<Arc<ScopeSync>>,
    }

    impl<T> Finished<T> {
        /// At the closure's end. A value whose drop does nothing (`()`,
        /// numbers) needs no ordering, so it carries no clock: the thread
        /// awaiting its join then holds no clock snapshot either.
        fn new(value: T, scope: Option<Arc<ScopeSync>>) -> Finished<T> {
            let orders = std::mem::needs_drop::<T>();
            Finished {
                value: Some(value),
                end: orders.then(MessageClock::send),
                scope: scope.filter(|_| orders),
            }
        }

        fn into_value(mut self) -> T {
            self.value.take().expect("taken once, by join")
        }
    }

    impl<T> Drop for Finished<T> {
        fn drop(&mut self) {
            if let Some(value) = self.value.take() {
                // A message's clock acquires as it goes.
                drop(self.end.take());
                drop(value);
                if let Some(scope) = &self.scope {
                    scope.release();
                }
            }
        }
    }

    /// The result `join` returns: the user's value or payload again.
    fn joined<T>(r: std::thread::Result<Finished<T>>) -> std::thread::Result<T> {
        r.map(Finished::into_value)
            .map_err(|payload| match payload.downcast::<Finished<Panic>>() {
                Ok(ours) => ours.into_value(),
                Err(theirs) => theirs,
            })
    }

    /// A panic's payload.
    type Panic = Box<dyn std::any::Any + Send>;

    /// std's `ScopedJoinHandle`.
    pub struct ScopedJoinHandle<'scope, T> {
        inner: std::thread::ScopedJoinHandle<'scope, Finished<T>>,
        done: Arc<Completion>,
        thread: Thread,
    }

    impl<T> std::fmt::Debug for ScopedJoinHandle<'_, T> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            std::fmt::Debug::fmt(&self.inner, f)
        }
    }

    impl<T> ScopedJoinHandle<'_, T> {
        /// Waits for the thread; its accesses happen before this returns.
        pub fn join(self) -> std::thread::Result<T> {
            let r = self.inner.join();
            self.done.join();
            joined(r)
        }

        /// The thread's handle.
        pub fn thread(&self) -> &Thread {
            &self.thread
        }

        /// Whether the thread has finished (no ordering: use `join`).
        pub fn is_finished(&self) -> bool {
            self.inner.is_finished()
        }
    }

    /// std's `thread::scope`: every thread spawned in the scope ends, and
    /// its accesses happen, before this returns — or, when the body or a
    /// scoped thread panicked, before the panic leaves it.
    #[track_caller]
    pub fn scope<'env, F, T>(f: F) -> T
    where
        F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T,
    {
        let end = ScopeEnd(OnceCell::new());
        std::thread::scope(|s| {
            // SAFETY: `Scope` is `repr(transparent)` over std's `Scope` (the
            // PhantomData is zero-sized), so the reference is valid for the
            // same lifetime.
            let ours: &Scope<'_, 'env> =
                unsafe { &*(s as *const std::thread::Scope<'_, 'env> as *const Scope<'_, 'env>) };
            let open = ScopeSync::open(ours as *const Scope<'_, 'env> as usize);
            let _ = end.0.set(open);
            f(ours)
        })
    }

    /// A scope's registration, kept outside std's scope so that it closes
    /// after std has joined every scoped thread however the scope ends:
    /// returning, or unwinding (std resumes the body's panic, or panics for
    /// a scoped thread's, after the joins). Held inside the body, it would
    /// be dropped by the body's panic while scoped threads still run and
    /// spawn into the scope.
    struct ScopeEnd(OnceCell<OpenScope>);

    impl Drop for ScopeEnd {
        fn drop(&mut self) {
            if let Some(open) = self.0.take() {
                open.close();
            }
        }
    }
}
