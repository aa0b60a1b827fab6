//! Threads: the registry of report ids, names and creation stacks, the
//! thread-local detector state, and the spawn / join / scope edges.

use crate::global::runtime;
use crate::stack::StackId;
use parking_lot::Mutex;
use racedet_detector::{SyncClock, ThreadState, VectorClock};
use std::cell::Cell;
use std::collections::{HashMap, VecDeque};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// Finished threads whose names and creation stacks are kept for reports.
/// Older ones are named by id only, so a million threads use bounded memory.
const FINISHED_KEPT: usize = 4096;

/// What reports say about a thread.
#[derive(Debug)]
pub struct ThreadInfo {
    /// Report id: 0 for the main thread, then 1, 2, ...
    pub id: u64,
    /// The thread's name.
    pub name: Option<String>,
    /// Where it was spawned (0 = not a racedet spawn).
    pub created: StackId,
    /// Whether it has ended.
    pub finished: AtomicBool,
    /// The report id of the thread racedet did not spawn that this one
    /// descends from through racedet spawns: its own for the main thread
    /// and adopted threads. A test harness runs each test on such a thread,
    /// so a test's threads share its root (`reports::take` uses it to tell
    /// a test's own races from others').
    pub root: u64,
}

/// Report ids and infos of live and recently finished threads.
pub(crate) struct ThreadRegistry {
    next_id: AtomicU64,
    /// Whether id 0 is given out. Where the process's main thread can only
    /// be told by std's name for it ("main"), any thread may carry that
    /// name too (a test called `main`), and two live threads must never
    /// share an id.
    main_taken: AtomicBool,
    live: Mutex<HashMap<u64, Arc<ThreadInfo>>>,
    finished: Mutex<VecDeque<Arc<ThreadInfo>>>,
}

impl ThreadRegistry {
    pub(crate) fn new() -> ThreadRegistry {
        ThreadRegistry {
            next_id: AtomicU64::new(1),
            main_taken: AtomicBool::new(false),
            live: Mutex::new(HashMap::new()),
            finished: Mutex::new(VecDeque::new()),
        }
    }

    /// A new thread's info; `root` is the spawning thread's root, `None`
    /// for a thread racedet did not spawn.
    fn register(
        &self,
        main: bool,
        name: Option<String>,
        created: StackId,
        root: Option<u64>,
    ) -> Arc<ThreadInfo> {
        let id = if main && !self.main_taken.swap(true, Ordering::Relaxed) {
            0
        } else {
            self.next_id.fetch_add(1, Ordering::Relaxed)
        };
        let info = Arc::new(ThreadInfo {
            id,
            name,
            created,
            finished: AtomicBool::new(false),
            root: root.unwrap_or(id),
        });
        self.live.lock().insert(id, info.clone());
        info
    }

    fn retire(&self, info: &Arc<ThreadInfo>) {
        info.finished.store(true, Ordering::Relaxed);
        // Kept as finished before it leaves `live`, so a report built
        // meanwhile (its previous access by this thread) still finds it.
        {
            let mut finished = self.finished.lock();
            if finished.len() == FINISHED_KEPT {
                finished.pop_front();
            }
            finished.push_back(info.clone());
        }
        self.live.lock().remove(&info.id);
    }

    /// Forgets a thread that never ran (its spawn failed): no access of it
    /// can be reported, so it takes no place among the finished.
    fn forget(&self, info: &Arc<ThreadInfo>) {
        self.live.lock().remove(&info.id);
    }

    /// The info of thread `id` if still kept (by its low 32 bits, as sites
    /// store it).
    pub(crate) fn lookup(&self, id32: u32) -> Option<Arc<ThreadInfo>> {
        if let Some(i) = self.live.lock().values().find(|i| i.id as u32 == id32) {
            return Some(i.clone());
        }
        self.finished
            .lock()
            .iter()
            .rev()
            .find(|i| i.id as u32 == id32)
            .cloned()
    }
}

/// The calling thread's detector state.
pub(crate) struct Local {
    pub(crate) state: ThreadState,
    pub(crate) info: Arc<ThreadInfo>,
    /// `info.id` truncated for sites.
    pub(crate) id32: u32,
    /// Cached `history=full` so the hot path does not touch globals.
    pub(crate) history_full: bool,
    /// Which `RwLock`'s write clock bounds this thread's clock (see
    /// `rwlock_clock::RwCover`).
    pub(crate) rw_cover: crate::rwlock_clock::RwCover,
}

thread_local! {
    /// The calling thread's `Local`. No destructor, so the hot path reads it
    /// with one thread-local load and no registration check.
    static CURRENT: Cell<*mut Local> = const { Cell::new(ptr::null_mut()) };
    /// Set once the thread's racedet state has ended: accesses made later
    /// (by other thread-locals' destructors) are not checked.
    static GONE: Cell<bool> = const { Cell::new(false) };
    /// Ends the thread for the detector when the thread exits: an adopted
    /// thread, and a racedet-spawned one joined through its handle (see
    /// `Running`).
    static OWNER: Owner = const { Owner };
    /// The join handle's side of a racedet-spawned thread whose end waits
    /// for `OWNER`'s destructor (`Arc::into_raw`; null if none). A raw
    /// pointer in a `Cell`: no destructor of its own.
    static DONE: Cell<*const Completion> = const { Cell::new(ptr::null()) };
}

/// Its destructor ends the calling thread's `Local`. Registered when the
/// thread first touches racedet (an adopted thread) or as the first thing
/// a racedet-spawned thread does, before the user's code registers any
/// thread-local: destructors run in reverse order of registration, so
/// this one runs after theirs, and their accesses and synchronization are
/// still the thread's.
struct Owner;

impl Drop for Owner {
    fn drop(&mut self) {
        let done = DONE.replace(ptr::null());
        // SAFETY: `done` came from `Arc::into_raw` in `Running::drop` on
        // this thread and was just taken out.
        let done = (!done.is_null()).then(|| unsafe { Arc::from_raw(done) });
        end_here(done.as_deref());
    }
}

/// Ends the calling thread's racedet state, if it has one, handing its
/// final clock to `done` (a spawned thread's joiners and scope).
fn end_here(done: Option<&Completion>) {
    GONE.set(true);
    let p = CURRENT.replace(ptr::null_mut());
    if p.is_null() {
        return;
    }
    // SAFETY: `p` came from `Box::into_raw` on this thread and was just
    // unpublished.
    let local = unsafe { Box::from_raw(p) };
    let clock = finish(local.state, &local.info);
    if let Some(done) = done {
        if let Some(scope) = &done.scope {
            scope.clock.lock().merge_clock(&clock);
        }
        *done.clock.lock() = Some(clock);
    }
}

/// Runs `f` with the calling thread's state (see [`local`]). `f` must not
/// call back into `with_local` or `local`.
#[inline(always)]
pub(crate) fn with_local<R>(f: impl FnOnce(&mut Local) -> R) -> Option<R> {
    local().map(f)
}

/// The calling thread's state, registering the thread on first use; `None`
/// once its state has ended (its accesses are then not checked). The
/// caller must not hold it across anything that calls `local` or
/// `with_local` again. Hot path.
#[inline(always)]
pub(crate) fn local<'a>() -> Option<&'a mut Local> {
    let mut p = CURRENT.get();
    if p.is_null() {
        p = adopt_current()?;
    }
    // SAFETY: `p` is this thread's own `Local`, freed only when the thread
    // ends it (`Owner`/`Running` drop, which unpublish it first); callers
    // never hold two references to it at once.
    Some(unsafe { &mut *p })
}

/// A thread racedet did not spawn (main, libtest's test threads, std
/// threads) is registered on its first access. It may take the slot of an
/// ended thread nobody joined; that orders the ended thread's accesses
/// before this thread's (a possible missed race, never a false one) and
/// keeps vector clocks short when a harness runs thousands of threads.
#[cold]
fn adopt_current() -> Option<*mut Local> {
    if GONE.get() {
        return None;
    }
    // Registers the destructor that ends this thread; fails (and so does
    // checking) if the thread is already tearing its thread-locals down.
    OWNER.try_with(|_| ()).ok()?;
    let rt = runtime();
    let name = std::thread::current().name().map(str::to_string);
    let main = is_process_main(name.as_deref());
    // The detector lock is released before a fatal error is reported.
    let adopted = rt.detector.lock().adopt_thread();
    let state = adopted.unwrap_or_else(|e| too_many_threads(e));
    let info = rt.threads.register(main, name, 0, None);
    let p = Box::into_raw(Box::new(make_local(state, info)));
    CURRENT.set(p);
    Some(p)
}

/// Whether the calling thread is the process's main thread, which reports
/// call "main thread". std cannot say; on Linux the main thread's id is the
/// process id, so a std thread someone named "main" is not taken for it.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn is_process_main(_name: Option<&str>) -> bool {
    // The system call, not glibc's `gettid` wrapper, which glibc before
    // 2.30 lacks (Rust supports 2.17).
    // SAFETY: gettid takes no arguments and cannot fail.
    let tid = unsafe { libc::syscall(libc::SYS_gettid) };
    u32::try_from(tid) == Ok(std::process::id())
}

/// Elsewhere std's name for the main thread is the best there is.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn is_process_main(name: Option<&str>) -> bool {
    name == Some("main")
}

/// The one way the detector refuses a thread: more alive at once than it
/// has slots. Stops the process with that one line.
#[cold]
fn too_many_threads(e: racedet_detector::TooManyThreads) -> ! {
    crate::global::fatal(&format!("racedet: {e}"))
}

fn make_local(state: ThreadState, info: Arc<ThreadInfo>) -> Local {
    Local {
        state,
        id32: info.id as u32,
        info,
        history_full: runtime().history_full(),
        rw_cover: crate::rwlock_clock::RwCover::NONE,
    }
}

/// Ends a thread for the detector (its slot is freed) and for reports.
fn finish(state: ThreadState, info: &Arc<ThreadInfo>) -> VectorClock {
    let rt = runtime();
    let clock = rt.detector.lock().finish(state);
    rt.threads.retire(info);
    clock
}

/// Moves the calling thread to a fresh slot if its clock is used up.
/// Called after every release-type operation.
#[inline(always)]
pub(crate) fn after_release(local: &mut Local) {
    if local.state.exhausted() {
        migrate(local);
    }
}

#[cold]
#[inline(never)]
fn migrate(local: &mut Local) {
    let rt = runtime();
    let migrated = rt.detector.lock().migrate(&mut local.state);
    if let Err(e) = migrated {
        too_many_threads(e);
    }
}

/// Where a spawned thread's final clock goes: its join handle, and the
/// scope it belongs to.
#[derive(Default)]
pub struct Completion {
    clock: Mutex<Option<VectorClock>>,
    scope: Option<Arc<ScopeSync>>,
}

impl Completion {
    /// For a thread joined through its handle only.
    pub fn new() -> Arc<Completion> {
        Arc::new(Completion::default())
    }

    /// For a scoped thread: its end also happens before the scope's end.
    pub fn in_scope(scope: Arc<ScopeSync>) -> Arc<Completion> {
        Arc::new(Completion {
            clock: Mutex::new(None),
            scope: Some(scope),
        })
    }

    /// Join: the calling thread sees everything the ended thread did.
    pub fn join(&self) {
        let clock = self.clock.lock();
        if let Some(c) = clock.as_ref() {
            with_local(|l| l.state.acquire(c));
        }
    }
}

/// The clock of a thread scope: every scoped thread's end is merged in,
/// and the scope's owner acquires it when the scope returns.
#[derive(Default)]
pub struct ScopeSync {
    clock: Mutex<SyncClock>,
}

impl ScopeSync {
    /// A scope no thread has ended in yet.
    pub fn new() -> Arc<ScopeSync> {
        Arc::new(ScopeSync::default())
    }

    /// The calling thread's accesses so far happen before the scope's end
    /// (a scoped thread's, at its closure's end and after it drops its
    /// unjoined result).
    pub fn release(&self) {
        crate::sync::release_merge(&mut self.clock.lock());
    }

    /// Scope end: the owner sees everything every scoped thread did.
    pub fn join_all(&self) {
        crate::sync::acquire(&self.clock.lock());
    }

    /// Registers the clock of the scope at `address` while it is open: the
    /// scope is std's type, so its clock cannot live inside it, and scoped
    /// spawns find it with [`ScopeSync::of`].
    pub fn open(address: usize) -> OpenScope {
        let sync = ScopeSync::new();
        open_scopes().lock().insert(address, sync.clone());
        OpenScope { address, sync }
    }

    /// The clock of the open scope at `address`.
    ///
    /// # Panics
    /// If no scope is open there (a caller bug).
    pub fn of(address: usize) -> Arc<ScopeSync> {
        open_scopes()
            .lock()
            .get(&address)
            .cloned()
            .expect("a racedet scope is registered while open")
    }
}

/// Clocks of the scopes currently open, by scope address.
fn open_scopes() -> &'static Mutex<HashMap<usize, Arc<ScopeSync>>> {
    static OPEN: std::sync::OnceLock<Mutex<HashMap<usize, Arc<ScopeSync>>>> =
        std::sync::OnceLock::new();
    OPEN.get_or_init(Default::default)
}

/// An open scope's registration; dropping it (also when the scope's body
/// panics) unregisters the address, which a later scope may reuse.
pub struct OpenScope {
    address: usize,
    sync: Arc<ScopeSync>,
}

impl OpenScope {
    /// After every scoped thread was joined: the owner sees what they did.
    pub fn close(self) {
        self.sync.join_all();
    }
}

impl Drop for OpenScope {
    fn drop(&mut self) {
        open_scopes().lock().remove(&self.address);
    }
}

/// A thread forked but not started yet: made in the parent at spawn.
/// Dropped unstarted (std could not create the thread), it gives its slot
/// back; otherwise every failed spawn would hold a slot for good.
pub struct Child(Option<(ThreadState, Arc<ThreadInfo>)>);

impl Drop for Child {
    fn drop(&mut self) {
        if let Some((state, info)) = self.0.take() {
            let rt = runtime();
            rt.detector.lock().finish(state);
            rt.threads.forget(&info);
        }
    }
}

/// Spawn, in the parent: everything the parent did so far happens before
/// the child starts. Captures the spawn stack for reports.
pub fn fork(name: Option<String>) -> Option<Child> {
    let rt = runtime();
    let created = rt.stacks.capture();
    with_local(|parent| {
        // The detector lock is released before a fatal error is reported.
        let forked = rt.detector.lock().fork(&mut parent.state);
        let state = forked.unwrap_or_else(|e| too_many_threads(e));
        let info = rt
            .threads
            .register(false, name, created, Some(parent.info.root));
        Child(Some((state, info)))
    })
}

/// Marks the end of a racedet-spawned thread's closure when dropped (also
/// when it panics). The thread ends for the detector later, in `Owner`'s
/// destructor, after the user's thread-locals' (std's `join` waits for
/// those), so their accesses are checked and their synchronization (a
/// send, an unlock) is seen. A scoped thread also releases into its scope
/// here: std's scope returns once the closures have returned, before the
/// threads' thread-local destructors run.
pub struct Running {
    done: Arc<Completion>,
    /// Whether `Owner`'s destructor was registered to end the thread.
    owner: bool,
}

/// In the child, first thing: installs its state.
pub fn enter(child: Option<Child>, done: Arc<Completion>) -> Running {
    let mut owner = false;
    if let Some((state, info)) = child.and_then(|mut c| c.0.take()) {
        let local = Box::new(make_local(state, info));
        let old = CURRENT.replace(Box::into_raw(local));
        debug_assert!(old.is_null(), "a fresh thread has no racedet state");
        // Before the user's code registers thread-locals (see `Owner`).
        owner = OWNER.try_with(|_| ()).is_ok();
    }
    Running { done, owner }
}

impl Drop for Running {
    fn drop(&mut self) {
        if !self.owner {
            end_here(Some(&self.done));
            return;
        }
        if let Some(scope) = &self.done.scope {
            scope.release();
        }
        let old = DONE.replace(Arc::into_raw(self.done.clone()));
        debug_assert!(old.is_null(), "one spawned closure per thread");
    }
}
