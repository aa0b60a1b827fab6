//! Lock-free algorithms written the loom way (every shared non-atomic value
//! in `racedet::cell::UnsafeCell`, accessed only through `with`/`with_mut`),
//! under the rule that an access lasts for its closure.
//!
//! Correct algorithms, each asserting that no report names a line of its
//! module (of its own body, where a module has several tests): the rule must add no report to code loom accepts. (The bugs the
//! rule exists for are pinned in sync_primitives.rs and maps.rs.)
//!
//! Every `unsafe impl Send/Sync` here is the algorithm's own claim (its
//! atomics order the cell accesses); racedet checks exactly that claim.
//! Some last owners free a node inside the closure of one of its cells, as
//! hand-written `Arc`s tested under loom do; whether that is sound while
//! `with` holds `&self` is unsettled in Rust's aliasing model, but racedet
//! must survive it, so it stays (racedet touches nothing after the
//! closure: sync_primitives.rs pins that byte for byte).
#![allow(clippy::missing_safety_doc, clippy::new_without_default)]

use racedet::cell::UnsafeCell;
use racedet::sync::atomic::{fence, AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering::*};
use racedet::sync::Mutex;
use racedet::thread;
use racedet_tests::{assert_silent, Signal};
use std::mem::MaybeUninit;
use std::ptr;

fn backoff() {
    std::thread::yield_now();
}

/// A reference to a cell that the test hands to another thread (racedet's
/// `UnsafeCell` is `!Sync`, as std's; each test says why its sharing is
/// ordered).
struct SendRef<'a, T>(&'a UnsafeCell<T>);
unsafe impl<T: Send> Send for SendRef<'_, T> {}
impl<T> SendRef<'_, T> {
    fn get(&self) -> &UnsafeCell<T> {
        self.0
    }
}

// ===================================================================== 1. SPSC
mod spsc {
    use super::*;
    const FIRST: u32 = line!();
    const N: usize = 8;

    struct Ring {
        slots: [UnsafeCell<MaybeUninit<u64>>; N],
        head: AtomicUsize,
        tail: AtomicUsize,
    }
    unsafe impl Sync for Ring {}

    impl Ring {
        fn new() -> Ring {
            Ring {
                slots: std::array::from_fn(|_| UnsafeCell::new(MaybeUninit::uninit())),
                head: AtomicUsize::new(0),
                tail: AtomicUsize::new(0),
            }
        }
        fn push(&self, v: u64) -> bool {
            let t = self.tail.load(Relaxed);
            let h = self.head.load(Acquire);
            if t - h == N {
                return false;
            }
            self.slots[t % N].with_mut(|p| unsafe {
                (*p).write(v);
            });
            self.tail.store(t + 1, Release);
            true
        }
        fn pop(&self, acquire_inside: bool) -> Option<u64> {
            let h = self.head.load(Relaxed);
            let t = self.tail.load(Acquire);
            if h == t {
                return None;
            }
            let v = self.slots[h % N].with(|p| {
                if acquire_inside {
                    // An acquire inside a read closure orders nothing new
                    // here, and must not disturb anything.
                    assert!(self.tail.load(Acquire) > h);
                }
                unsafe { (*p).assume_init_read() }
            });
            self.head.store(h + 1, Release);
            Some(v)
        }
    }

    #[test]
    fn spsc_ring_is_silent() {
        let ring = Ring::new();
        const ITEMS: u64 = 20_000;
        thread::scope(|s| {
            s.spawn(|| {
                for i in 0..ITEMS {
                    while !ring.push(i) {
                        backoff();
                    }
                }
            });
            s.spawn(|| {
                let mut next = 0;
                while next < ITEMS {
                    match ring.pop(next % 2 == 0) {
                        Some(v) => {
                            assert_eq!(v, next);
                            next += 1;
                        }
                        None => backoff(),
                    }
                }
            });
        });
        assert_silent(file!(), FIRST, LAST);
    }
    const LAST: u32 = line!();
}

// ============================================================ 2. Vyukov MPMC
mod mpmc {
    use super::*;
    const FIRST: u32 = line!();

    struct Slot {
        seq: AtomicUsize,
        val: UnsafeCell<MaybeUninit<u64>>,
    }
    struct Queue {
        slots: Box<[Slot]>,
        mask: usize,
        enq: AtomicUsize,
        deq: AtomicUsize,
    }
    unsafe impl Sync for Queue {}

    impl Queue {
        fn new(cap: usize) -> Queue {
            assert!(cap.is_power_of_two());
            Queue {
                slots: (0..cap)
                    .map(|i| Slot {
                        seq: AtomicUsize::new(i),
                        val: UnsafeCell::new(MaybeUninit::uninit()),
                    })
                    .collect(),
                mask: cap - 1,
                enq: AtomicUsize::new(0),
                deq: AtomicUsize::new(0),
            }
        }
        fn push(&self, v: u64) -> bool {
            let mut pos = self.enq.load(Relaxed);
            loop {
                let slot = &self.slots[pos & self.mask];
                let seq = slot.seq.load(Acquire);
                let diff = seq as isize - pos as isize;
                if diff == 0 {
                    match self
                        .enq
                        .compare_exchange_weak(pos, pos + 1, Relaxed, Relaxed)
                    {
                        Ok(_) => {
                            slot.val.with_mut(|p| unsafe {
                                (*p).write(v);
                            });
                            slot.seq.store(pos + 1, Release);
                            return true;
                        }
                        Err(p) => pos = p,
                    }
                } else if diff < 0 {
                    return false;
                } else {
                    pos = self.enq.load(Relaxed);
                }
            }
        }
        fn pop(&self) -> Option<u64> {
            let mut pos = self.deq.load(Relaxed);
            loop {
                let slot = &self.slots[pos & self.mask];
                let seq = slot.seq.load(Acquire);
                let diff = seq as isize - (pos + 1) as isize;
                if diff == 0 {
                    match self
                        .deq
                        .compare_exchange_weak(pos, pos + 1, Relaxed, Relaxed)
                    {
                        Ok(_) => {
                            let v = slot.val.with(|p| unsafe { (*p).assume_init_read() });
                            slot.seq.store(pos + self.mask + 1, Release);
                            return Some(v);
                        }
                        Err(p) => pos = p,
                    }
                } else if diff < 0 {
                    return None;
                } else {
                    pos = self.deq.load(Relaxed);
                }
            }
        }
    }

    #[test]
    fn vyukov_mpmc_is_silent() {
        let q = Queue::new(8);
        const PER: u64 = 3_000;
        let got = AtomicU64::new(0);
        let sum = AtomicU64::new(0);
        thread::scope(|s| {
            for p in 0..2u64 {
                let q = &q;
                s.spawn(move || {
                    for i in 0..PER {
                        while !q.push(p * PER + i) {
                            backoff();
                        }
                    }
                });
            }
            for _ in 0..2 {
                let (q, got, sum) = (&q, &got, &sum);
                s.spawn(move || {
                    while got.load(Relaxed) < 2 * PER {
                        match q.pop() {
                            Some(v) => {
                                got.fetch_add(1, Relaxed);
                                sum.fetch_add(v, Relaxed);
                            }
                            None => backoff(),
                        }
                    }
                });
            }
        });
        let n = 2 * PER;
        assert_eq!(sum.load(Relaxed), n * (n - 1) / 2);
        assert_silent(file!(), FIRST, LAST);
    }
    const LAST: u32 = line!();
}

// ========================================================== 3. Treiber stack
mod treiber {
    use super::*;
    const FIRST: u32 = line!();

    // Every node is pushed at most once and freed only after all threads
    // ended: no ABA, no reclamation problem.
    struct Node {
        val: UnsafeCell<u64>,
        next: UnsafeCell<*mut Node>,
    }
    struct Stack {
        head: AtomicPtr<Node>,
    }
    unsafe impl Sync for Stack {}

    impl Stack {
        unsafe fn push(&self, node: *mut Node, v: u64) {
            (*node).val.with_mut(|p| *p = v);
            loop {
                let h = self.head.load(Relaxed);
                (*node).next.with_mut(|p| *p = h);
                if self
                    .head
                    .compare_exchange_weak(h, node, Release, Relaxed)
                    .is_ok()
                {
                    return;
                }
            }
        }
        fn pop(&self) -> Option<u64> {
            loop {
                let h = self.head.load(Acquire);
                if h.is_null() {
                    return None;
                }
                // SAFETY: nodes outlive the stack's use.
                let next = unsafe { (*h).next.with(|p| *p) };
                if self
                    .head
                    .compare_exchange_weak(h, next, Acquire, Acquire)
                    .is_ok()
                {
                    return Some(unsafe { (*h).val.with(|p| *p) });
                }
            }
        }
    }

    struct Nodes(Vec<*mut Node>);
    unsafe impl Send for Nodes {}

    #[test]
    fn treiber_stack_is_silent() {
        let st = Stack {
            head: AtomicPtr::new(ptr::null_mut()),
        };
        const PER: u64 = 3_000;
        let popped = AtomicU64::new(0);
        let sum = AtomicU64::new(0);
        let all: Vec<Nodes> = thread::scope(|s| {
            let hs: Vec<_> = (0..3u64)
                .map(|t| {
                    let (st, popped, sum) = (&st, &popped, &sum);
                    s.spawn(move || {
                        let mut mine = Vec::new();
                        for i in 0..PER {
                            let n = Box::into_raw(Box::new(Node {
                                val: UnsafeCell::new(0),
                                next: UnsafeCell::new(ptr::null_mut()),
                            }));
                            mine.push(n);
                            unsafe { st.push(n, t * PER + i) };
                            if i % 3 != 0 {
                                if let Some(v) = st.pop() {
                                    popped.fetch_add(1, Relaxed);
                                    sum.fetch_add(v, Relaxed);
                                }
                            }
                        }
                        Nodes(mine)
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        while let Some(v) = st.pop() {
            popped.fetch_add(1, Relaxed);
            sum.fetch_add(v, Relaxed);
        }
        let n = 3 * PER;
        assert_eq!(popped.load(Relaxed), n);
        assert_eq!(sum.load(Relaxed), n * (n - 1) / 2);
        for nodes in all {
            for n in nodes.0 {
                drop(unsafe { Box::from_raw(n) });
            }
        }
        assert_silent(file!(), FIRST, LAST);
    }
    const LAST: u32 = line!();
}

// ===================================================== 4. Michael-Scott queue
mod msqueue {
    use super::*;
    const FIRST: u32 = line!();

    struct Node {
        val: UnsafeCell<u64>,
        next: AtomicPtr<Node>,
    }
    struct Queue {
        head: AtomicPtr<Node>,
        tail: AtomicPtr<Node>,
    }
    unsafe impl Sync for Queue {}

    fn node() -> *mut Node {
        Box::into_raw(Box::new(Node {
            val: UnsafeCell::new(0),
            next: AtomicPtr::new(ptr::null_mut()),
        }))
    }

    impl Queue {
        /// `swing`: whether to advance the tail after linking. A lagging
        /// tail is legal (the next enqueue or dequeue advances it), and
        /// then the link's Release is the only edge to the dequeuer.
        unsafe fn enqueue(&self, node: *mut Node, v: u64, swing: bool) {
            (*node).val.with_mut(|p| *p = v);
            loop {
                let tail = self.tail.load(Acquire);
                let next = (*tail).next.load(Acquire);
                if tail != self.tail.load(Acquire) {
                    continue;
                }
                if next.is_null() {
                    if (*tail)
                        .next
                        .compare_exchange(ptr::null_mut(), node, Release, Relaxed)
                        .is_ok()
                    {
                        if swing {
                            let _ = self.tail.compare_exchange(tail, node, Release, Relaxed);
                        }
                        return;
                    }
                } else {
                    let _ = self.tail.compare_exchange(tail, next, Release, Relaxed);
                }
            }
        }
        /// `cas_inside`: the CAS that claims the value is made inside the
        /// read closure (a release inside a read nobody ever follows with
        /// a write: still no race).
        unsafe fn dequeue(&self, cas_inside: bool) -> Option<u64> {
            loop {
                let head = self.head.load(Acquire);
                let tail = self.tail.load(Acquire);
                let next = (*head).next.load(Acquire);
                if head != self.head.load(Acquire) {
                    continue;
                }
                if head == tail {
                    if next.is_null() {
                        return None;
                    }
                    let _ = self.tail.compare_exchange(tail, next, Release, Relaxed);
                } else if cas_inside {
                    let got = (*next).val.with(|p| {
                        let v = *p;
                        self.head
                            .compare_exchange(head, next, AcqRel, Relaxed)
                            .is_ok()
                            .then_some(v)
                    });
                    if got.is_some() {
                        return got;
                    }
                } else {
                    let v = (*next).val.with(|p| *p);
                    if self
                        .head
                        .compare_exchange(head, next, AcqRel, Relaxed)
                        .is_ok()
                    {
                        return Some(v);
                    }
                }
            }
        }
    }

    struct Nodes(Vec<*mut Node>);
    unsafe impl Send for Nodes {}

    #[test]
    fn michael_scott_queue_is_silent() {
        let dummy = node();
        let q = Queue {
            head: AtomicPtr::new(dummy),
            tail: AtomicPtr::new(dummy),
        };
        const PER: u64 = 3_000;
        let got = AtomicU64::new(0);
        let sum = AtomicU64::new(0);
        let all: Vec<Nodes> = thread::scope(|s| {
            let producers: Vec<_> = (0..2u64)
                .map(|t| {
                    let q = &q;
                    s.spawn(move || {
                        let mut mine = Vec::new();
                        for i in 0..PER {
                            let n = node();
                            mine.push(n);
                            unsafe { q.enqueue(n, t * PER + i, i % 2 == 0) };
                        }
                        Nodes(mine)
                    })
                })
                .collect();
            for c in 0..2 {
                let (q, got, sum) = (&q, &got, &sum);
                s.spawn(move || {
                    let mut k = 0u64;
                    while got.load(Relaxed) < 2 * PER {
                        k += 1;
                        match unsafe { q.dequeue((k + c).is_multiple_of(2)) } {
                            Some(v) => {
                                got.fetch_add(1, Relaxed);
                                sum.fetch_add(v, Relaxed);
                            }
                            None => backoff(),
                        }
                    }
                });
            }
            producers.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let n = 2 * PER;
        assert_eq!(sum.load(Relaxed), n * (n - 1) / 2);
        drop(unsafe { Box::from_raw(dummy) });
        for nodes in all {
            for n in nodes.0 {
                drop(unsafe { Box::from_raw(n) });
            }
        }
        assert_silent(file!(), FIRST, LAST);
    }
    const LAST: u32 = line!();
}

// ===================================================== 5. hand-written Arc
mod myarc {
    use super::*;
    use racedet::sync::mpsc::channel;
    const FIRST: u32 = line!();

    struct Inner<T> {
        refs: AtomicUsize,
        value: UnsafeCell<T>,
    }
    pub struct MyArc<T> {
        ptr: *mut Inner<T>,
    }
    unsafe impl<T: Send + Sync> Send for MyArc<T> {}
    unsafe impl<T: Send + Sync> Sync for MyArc<T> {}

    impl<T> MyArc<T> {
        pub fn new(v: T) -> MyArc<T> {
            MyArc {
                ptr: Box::into_raw(Box::new(Inner {
                    refs: AtomicUsize::new(1),
                    value: UnsafeCell::new(v),
                })),
            }
        }
        pub fn read<R>(&self, f: impl FnOnce(&T) -> R) -> R {
            unsafe { (*self.ptr).value.with(|p| f(&*p)) }
        }
        /// std's `Arc::get_mut`: the value if this is the only owner.
        pub fn update<R>(&mut self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
            unsafe {
                if (*self.ptr).refs.load(Acquire) == 1 {
                    Some((*self.ptr).value.with_mut(|p| f(&mut *p)))
                } else {
                    None
                }
            }
        }
        /// Reads, then lets go of this reference; the last owner reads
        /// again and frees the allocation (cell included) inside a read
        /// closure of the cell.
        pub fn read_and_drop<R>(self, f: impl Fn(&T) -> R) -> R {
            let inner = self.ptr;
            std::mem::forget(self);
            unsafe {
                let r = (*inner).value.with(|p| f(&*p));
                if (*inner).refs.fetch_sub(1, AcqRel) == 1 {
                    (*inner).value.with(|p| {
                        f(&*p);
                        drop(Box::from_raw(inner));
                    });
                }
                r
            }
        }
    }
    impl<T> Clone for MyArc<T> {
        fn clone(&self) -> Self {
            unsafe { (*self.ptr).refs.fetch_add(1, Relaxed) };
            MyArc { ptr: self.ptr }
        }
    }
    impl<T> Drop for MyArc<T> {
        fn drop(&mut self) {
            let inner = self.ptr;
            unsafe {
                if (*inner).refs.fetch_sub(1, Release) != 1 {
                    return;
                }
                fence(Acquire);
                // The last owner drops the value and frees the allocation,
                // the cell with it, inside the cell's own closure.
                (*inner).value.with_mut(|p| {
                    assert!(!p.is_null());
                    drop(Box::from_raw(inner));
                });
            }
        }
    }

    #[test]
    fn hand_written_arc_last_owner_frees_inside_the_closure_is_silent() {
        const ROUNDS: u64 = 1_500;
        let (txs, rxs): (Vec<_>, Vec<_>) = (0..3).map(|_| channel::<MyArc<Vec<u64>>>()).unzip();
        thread::scope(|s| {
            for (k, rx) in rxs.into_iter().enumerate() {
                s.spawn(move || {
                    for (n, mut a) in rx.into_iter().enumerate() {
                        let len = a.read(|v| v.iter().sum::<u64>());
                        assert_eq!(len, 6);
                        if k == 0 && n % 4 == 0 {
                            // Unique once the other owners let go (they do
                            // not wait for this one): ordered by their
                            // Release decrements and this Acquire load.
                            while a.update(|v| v.push(0)).is_none() {
                                backoff();
                            }
                        }
                        if n % 2 == 1 {
                            a.read_and_drop(|v| assert!(v.len() >= 3));
                        } else {
                            drop(a);
                        }
                    }
                });
            }
            for i in 0..ROUNDS {
                let mut a = MyArc::new(vec![1u64, 2, 3]);
                a.update(|v| v[0] = 1).unwrap();
                for tx in &txs {
                    tx.send(a.clone()).unwrap();
                }
                if i % 2 == 0 {
                    a.read(|v| assert_eq!(v[2], 3));
                }
                drop(a);
            }
            drop(txs);
        });
        assert_silent(file!(), FIRST, LAST);
    }
    const LAST: u32 = line!();
}

// ========================================== 6. oneshot (tokio-like), freed by last half
mod oneshot {
    use super::*;
    const FIRST: u32 = line!();
    const VALUE_SENT: usize = 1;
    const CLOSED: usize = 2;

    struct Inner {
        state: AtomicUsize,
        refs: AtomicUsize,
        value: UnsafeCell<Option<Box<u64>>>,
    }
    pub struct Sender(*mut Inner);
    pub struct Receiver(*mut Inner);
    unsafe impl Send for Sender {}
    unsafe impl Send for Receiver {}

    pub fn channel() -> (Sender, Receiver) {
        let p = Box::into_raw(Box::new(Inner {
            state: AtomicUsize::new(0),
            refs: AtomicUsize::new(2),
            value: UnsafeCell::new(None),
        }));
        (Sender(p), Receiver(p))
    }

    /// Drops one half's reference; the last frees the channel from inside
    /// the value cell's closure (after dropping what it holds).
    unsafe fn release(inner: *mut Inner) {
        if (*inner).refs.fetch_sub(1, AcqRel) == 1 {
            (*inner).value.with_mut(|p| {
                drop((*p).take());
                drop(Box::from_raw(inner));
            });
        }
    }

    impl Sender {
        pub fn send(self, v: u64) -> Result<(), u64> {
            self.send_then(v, || {})
        }
        /// `send`, running `before_release` between publishing the value
        /// and letting go of the channel (so a test can make the sender
        /// the last half).
        pub fn send_then(self, v: u64, before_release: impl FnOnce()) -> Result<(), u64> {
            let inner = self.0;
            std::mem::forget(self);
            unsafe {
                (*inner).value.with_mut(|p| *p = Some(Box::new(v)));
                let prev = (*inner).state.fetch_or(VALUE_SENT, AcqRel);
                let r = if prev & CLOSED != 0 {
                    let v = (*inner).value.with_mut(|p| (*p).take()).unwrap();
                    Err(*v)
                } else {
                    Ok(())
                };
                before_release();
                release(inner);
                r
            }
        }
    }
    impl Drop for Sender {
        fn drop(&mut self) {
            unsafe {
                (*self.0).state.fetch_or(CLOSED, AcqRel);
                release(self.0);
            }
        }
    }
    impl Receiver {
        /// Waits for the value; `None` if the sender dropped unsent.
        pub fn recv(self) -> Option<u64> {
            let inner = self.0;
            unsafe {
                let r = loop {
                    let s = (*inner).state.load(Acquire);
                    if s & VALUE_SENT != 0 {
                        break (*inner).value.with_mut(|p| (*p).take()).map(|b| *b);
                    }
                    if s & CLOSED != 0 {
                        break None;
                    }
                    backoff();
                };
                release(inner);
                r
            }
        }
        pub fn close(self) -> Option<u64> {
            let inner = self.0;
            unsafe {
                let prev = (*inner).state.fetch_or(CLOSED, AcqRel);
                let r = if prev & VALUE_SENT != 0 {
                    (*inner).value.with_mut(|p| (*p).take()).map(|b| *b)
                } else {
                    None
                };
                release(inner);
                r
            }
        }
    }

    #[test]
    fn oneshot_is_silent() {
        const N: u64 = 3_000;
        let (txs, rxs): (Vec<_>, Vec<_>) = (0..N).map(|_| channel()).unzip();
        // The receiver is done with channel i: pins the sender as the last
        // half (so it frees the channel) without ordering anything.
        let done: Vec<Signal> = (0..N).map(|_| Signal::default()).collect();
        let done = &done;
        thread::scope(|s| {
            s.spawn(move || {
                for (i, tx) in txs.into_iter().enumerate() {
                    if i % 5 == 0 {
                        drop(tx);
                    } else if i % 3 == 0 && i % 2 == 0 {
                        // After the receiver closed: the send takes its
                        // value back, and frees the channel.
                        done[i].wait();
                        assert_eq!(tx.send(i as u64), Err(i as u64));
                    } else if i % 3 != 0 && i % 2 == 0 {
                        // The receiver takes the value and lets go first.
                        let _ = tx.send_then(i as u64, || done[i].wait());
                    } else {
                        let _ = tx.send(i as u64);
                    }
                }
            });
            s.spawn(move || {
                for (i, rx) in rxs.into_iter().enumerate() {
                    if i % 3 == 0 {
                        let _ = rx.close();
                    } else {
                        let r = rx.recv();
                        assert_eq!(r, (i % 5 != 0).then_some(i as u64));
                    }
                    done[i].raise();
                }
            });
        });
        assert_silent(file!(), FIRST, LAST);
    }
    const LAST: u32 = line!();
}

// ================================================================ 7. spin lock
mod spinlock {
    use super::*;
    const FIRST: u32 = line!();

    pub struct SpinLock<T> {
        locked: AtomicBool,
        data: UnsafeCell<T>,
    }
    unsafe impl<T: Send> Sync for SpinLock<T> {}
    pub struct Guard<'a, T> {
        lock: &'a SpinLock<T>,
    }

    impl<T> SpinLock<T> {
        pub fn new(v: T) -> Self {
            SpinLock {
                locked: AtomicBool::new(false),
                data: UnsafeCell::new(v),
            }
        }
        pub fn lock(&self) -> Guard<'_, T> {
            while self
                .locked
                .compare_exchange_weak(false, true, Acquire, Relaxed)
                .is_err()
            {
                while self.locked.load(Relaxed) {
                    backoff();
                }
            }
            Guard { lock: self }
        }
        /// Closure API: the lock is released after `with_mut` returns.
        pub fn with_lock<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
            let g = self.lock();
            let r = self.data.with_mut(|p| f(unsafe { &mut *p }));
            drop(g);
            r
        }
    }
    impl<T> Guard<'_, T> {
        pub fn with_mut<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
            self.lock.data.with_mut(|p| f(unsafe { &mut *p }))
        }
        pub fn with<R>(&self, f: impl FnOnce(&T) -> R) -> R {
            self.lock.data.with(|p| f(unsafe { &*p }))
        }
    }
    impl<T> Drop for Guard<'_, T> {
        fn drop(&mut self) {
            self.lock.locked.store(false, Release);
        }
    }

    #[test]
    fn spin_lock_guard_closure_nested_and_panicking_is_silent() {
        let a = SpinLock::new(0u64);
        let b = SpinLock::new(Vec::<u64>::new());
        const PER: u64 = 1_500;
        thread::scope(|s| {
            for t in 0..3u64 {
                let (a, b) = (&a, &b);
                s.spawn(move || {
                    for i in 0..PER {
                        match i % 4 {
                            0 => {
                                let g = a.lock();
                                let v = g.with(|v| *v);
                                g.with_mut(|x| *x = v + 1);
                            }
                            1 => a.with_lock(|x| *x += 1),
                            2 => {
                                // Lock b (an acquire) and unlock it (a
                                // release) inside a's closure; b's own
                                // access ended before its unlock.
                                a.with_lock(|x| {
                                    b.with_lock(|v| v.push(t));
                                    *x += 1;
                                });
                            }
                            _ => {
                                // A closure that panics, caught inside the
                                // critical section (no panic hook: resume_unwind).
                                let g = a.lock();
                                let r =
                                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                        g.with_mut(|x| {
                                            *x += 1;
                                            if i % 8 == 3 {
                                                std::panic::resume_unwind(Box::new("boom"));
                                            }
                                        })
                                    }));
                                assert_eq!(r.is_err(), i % 8 == 3);
                                drop(g);
                            }
                        }
                    }
                });
            }
        });
        assert_eq!(a.lock().with(|v| *v), 3 * PER);
        assert_eq!(b.lock().with(|v| v.len() as u64), 3 * PER / 4);
        assert_silent(file!(), FIRST, LAST);
    }
    const LAST: u32 = line!();
}

// ============================================================== 8. ticket lock
mod ticket {
    use super::*;
    const FIRST: u32 = line!();

    struct Ticket<T> {
        next: AtomicUsize,
        serving: AtomicUsize,
        data: UnsafeCell<T>,
    }
    unsafe impl<T: Send> Sync for Ticket<T> {}

    impl<T> Ticket<T> {
        fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
            let my = self.next.fetch_add(1, Relaxed);
            while self.serving.load(Acquire) != my {
                backoff();
            }
            let r = self.data.with_mut(|p| f(unsafe { &mut *p }));
            self.serving.store(my + 1, Release);
            r
        }
    }

    #[test]
    fn ticket_lock_is_silent() {
        let t = Ticket {
            next: AtomicUsize::new(0),
            serving: AtomicUsize::new(0),
            data: UnsafeCell::new((0u64, 0u64)),
        };
        let other = AtomicUsize::new(0);
        const PER: u64 = 1_500;
        thread::scope(|s| {
            for _ in 0..3 {
                let (t, other) = (&t, &other);
                s.spawn(move || {
                    for _ in 0..PER {
                        t.with(|d| {
                            // Acquires inside the closure: harmless.
                            let _ = other.load(Acquire);
                            d.0 += 1;
                            d.1 += 2;
                        });
                    }
                });
            }
        });
        assert_eq!(t.with(|d| *d), (3 * PER, 6 * PER));
        assert_silent(file!(), FIRST, LAST);
    }
    const LAST: u32 = line!();
}

// ================================================================= 9. seqlock
mod seqlock {
    use super::*;
    const FIRST: u32 = line!();

    struct SeqLock {
        seq: AtomicUsize,
        data: [AtomicU64; 4],
        // Writers serialize on a spin lock; their shared bookkeeping is a
        // plain cell guarded by it.
        wlock: AtomicBool,
        wstate: UnsafeCell<u64>,
    }
    unsafe impl Sync for SeqLock {}

    impl SeqLock {
        fn write(&self) {
            while self
                .wlock
                .compare_exchange_weak(false, true, Acquire, Relaxed)
                .is_err()
            {
                backoff();
            }
            // The seqlock's releases happen inside the closure of the
            // writer state, which only the next writer (ordered by the
            // spin lock's release after the closure) touches.
            self.wstate.with_mut(|st| unsafe {
                *st += 1;
                let s = self.seq.load(Relaxed);
                self.seq.store(s + 1, Relaxed);
                fence(Release);
                for d in &self.data {
                    d.store(*st, Relaxed);
                }
                self.seq.store(s + 2, Release);
                *st += 0;
            });
            self.wlock.store(false, Release);
        }
        fn read(&self) -> u64 {
            loop {
                let s1 = self.seq.load(Acquire);
                if s1 & 1 == 1 {
                    backoff();
                    continue;
                }
                let v: Vec<u64> = self.data.iter().map(|d| d.load(Relaxed)).collect();
                fence(Acquire);
                let s2 = self.seq.load(Relaxed);
                if s1 == s2 {
                    assert!(v.iter().all(|x| *x == v[0]), "torn read {v:?}");
                    return v[0];
                }
            }
        }
    }

    #[test]
    fn seqlock_with_atomic_data_is_silent() {
        let l = SeqLock {
            seq: AtomicUsize::new(0),
            data: Default::default(),
            wlock: AtomicBool::new(false),
            wstate: UnsafeCell::new(0),
        };
        thread::scope(|s| {
            for _ in 0..2 {
                let l = &l;
                s.spawn(move || {
                    for _ in 0..2_000 {
                        l.write();
                    }
                });
            }
            for _ in 0..2 {
                let l = &l;
                s.spawn(move || {
                    // A reader-private cell held across the whole read loop:
                    // many acquires inside one closure.
                    let mine = UnsafeCell::new(0u64);
                    mine.with_mut(|m| {
                        for _ in 0..2_000 {
                            let v = l.read();
                            unsafe {
                                assert!(v >= *m);
                                *m = v;
                            }
                        }
                    });
                });
            }
        });
        assert_eq!(l.read(), 4_000);
        assert_eq!(l.wstate.with(|p| unsafe { *p }), 4_000);
        assert_silent(file!(), FIRST, LAST);
    }
    const LAST: u32 = line!();
}

// ================================================================ 10. once cell
mod oncecell {
    use super::*;
    const FIRST: u32 = line!();
    const EMPTY: usize = 0;
    const RUNNING: usize = 1;
    const DONE: usize = 2;

    pub struct OnceCell<T> {
        state: AtomicUsize,
        value: UnsafeCell<Option<T>>,
    }
    unsafe impl<T: Send + Sync> Sync for OnceCell<T> {}

    impl<T> OnceCell<T> {
        pub const fn new() -> Self {
            OnceCell {
                state: AtomicUsize::new(EMPTY),
                value: UnsafeCell::new(None),
            }
        }
        pub fn get_with<R>(&self, init: impl FnOnce() -> T, read: impl FnOnce(&T) -> R) -> R {
            if self.state.load(Acquire) != DONE {
                match self
                    .state
                    .compare_exchange(EMPTY, RUNNING, Acquire, Acquire)
                {
                    Ok(_) => {
                        let v = init();
                        self.value.with_mut(|p| unsafe { *p = Some(v) });
                        self.state.store(DONE, Release);
                    }
                    Err(_) => {
                        while self.state.load(Acquire) != DONE {
                            backoff();
                        }
                    }
                }
            }
            self.value
                .with(|p| read(unsafe { (*p).as_ref() }.expect("initialized")))
        }
    }

    #[test]
    fn once_cell_is_silent() {
        const N: usize = 2_000;
        let cells: Vec<OnceCell<Vec<u64>>> = (0..N).map(|_| OnceCell::new()).collect();
        thread::scope(|s| {
            for t in 0..3usize {
                let cells = &cells;
                s.spawn(move || {
                    for k in 0..N {
                        let i = match t {
                            0 => k,
                            1 => N - 1 - k,
                            _ => (k * 7) % N,
                        };
                        let v = cells[i].get_with(|| vec![i as u64; 3], |v| v[2]);
                        assert_eq!(v, i as u64);
                    }
                });
            }
        });
        assert_silent(file!(), FIRST, LAST);
    }
    const LAST: u32 = line!();
}

// ============================================================ 11. triple buffer
mod triple {
    use super::*;
    const FIRST: u32 = line!();
    const DIRTY: usize = 4;

    struct Triple {
        bufs: [UnsafeCell<[u64; 4]>; 3],
        back: AtomicUsize,
    }
    unsafe impl Sync for Triple {}

    #[test]
    fn triple_buffer_is_silent() {
        let tb = Triple {
            bufs: std::array::from_fn(|_| UnsafeCell::new([0; 4])),
            back: AtomicUsize::new(1),
        };
        const N: u64 = 10_000;
        thread::scope(|s| {
            let tb = &tb;
            s.spawn(move || {
                let mut w = 0usize;
                for n in 1..=N {
                    tb.bufs[w].with_mut(|p| unsafe { *p = [n; 4] });
                    w = tb.back.swap(w | DIRTY, AcqRel) & 3;
                }
            });
            s.spawn(move || {
                let mut r = 2usize;
                let mut last = 0;
                let private = UnsafeCell::new(0u64);
                while last < N {
                    if tb.back.load(Relaxed) & DIRTY != 0 {
                        r = tb.back.swap(r, AcqRel) & 3;
                    }
                    // The shared buffer read nested in a private cell's write.
                    private.with_mut(|q| {
                        let v = tb.bufs[r].with(|p| unsafe { *p });
                        assert!(v.iter().all(|x| *x == v[0]));
                        assert!(v[0] >= last);
                        last = v[0];
                        unsafe { *q = last };
                    });
                    backoff();
                }
            });
        });
        assert_silent(file!(), FIRST, LAST);
    }
    const LAST: u32 = line!();
}

// ===================================================== 12. work-stealing deque
mod deque {
    use super::*;
    const FIRST: u32 = line!();

    // Chase-Lev's push and steal, simplified: the buffer never wraps (each
    // slot is written once) and the owner takes work as thieves do, from
    // the top. Push publishes with fence(Release) + a relaxed store, as
    // the C11 version does.
    struct Deque {
        buf: Box<[UnsafeCell<MaybeUninit<u64>>]>,
        top: AtomicUsize,
        bottom: AtomicUsize,
    }
    unsafe impl Sync for Deque {}

    impl Deque {
        fn push(&self, v: u64) {
            let b = self.bottom.load(Relaxed);
            self.buf[b].with_mut(|p| unsafe {
                (*p).write(v);
            });
            fence(Release);
            self.bottom.store(b + 1, Relaxed);
        }
        fn steal(&self) -> Option<u64> {
            loop {
                let t = self.top.load(Acquire);
                fence(SeqCst);
                let b = self.bottom.load(Acquire);
                if t >= b {
                    return None;
                }
                let v = self.buf[t].with(|p| unsafe { (*p).assume_init_read() });
                if self.top.compare_exchange(t, t + 1, SeqCst, Relaxed).is_ok() {
                    return Some(v);
                }
            }
        }
    }

    #[test]
    fn work_stealing_deque_is_silent() {
        const N: usize = 6_000;
        let d = Deque {
            buf: (0..N)
                .map(|_| UnsafeCell::new(MaybeUninit::uninit()))
                .collect(),
            top: AtomicUsize::new(0),
            bottom: AtomicUsize::new(0),
        };
        let got = AtomicUsize::new(0);
        let sum = AtomicU64::new(0);
        thread::scope(|s| {
            let (d, got, sum) = (&d, &got, &sum);
            s.spawn(move || {
                for i in 0..N {
                    d.push(i as u64);
                    if i % 4 == 0 {
                        if let Some(v) = d.steal() {
                            got.fetch_add(1, Relaxed);
                            sum.fetch_add(v, Relaxed);
                        }
                    }
                }
            });
            for _ in 0..2 {
                s.spawn(move || {
                    while got.load(Relaxed) < N {
                        match d.steal() {
                            Some(v) => {
                                got.fetch_add(1, Relaxed);
                                sum.fetch_add(v, Relaxed);
                            }
                            None => backoff(),
                        }
                    }
                });
            }
        });
        assert_eq!(sum.load(Relaxed), (N * (N - 1) / 2) as u64);
        assert_silent(file!(), FIRST, LAST);
    }
    const LAST: u32 = line!();
}

// ======================================== 13. patterns that stress the rule
mod patterns {
    use super::*;

    struct Shared {
        cell: UnsafeCell<u64>,
        flag: AtomicUsize,
    }
    unsafe impl Sync for Shared {}

    /// The writer's closure spawns scoped threads that touch other cells
    /// (never this one) and joins them; the flag is published after the
    /// closure returns.
    #[test]
    fn closure_that_spawns_and_joins_scoped_threads_is_silent() {
        let first = line!();
        for round in 0..200u64 {
            let sh = Shared {
                cell: UnsafeCell::new(0),
                flag: AtomicUsize::new(0),
            };
            let side: [UnsafeCell<u64>; 2] = [UnsafeCell::new(0), UnsafeCell::new(0)];
            struct Side<'a>(&'a [UnsafeCell<u64>; 2]);
            unsafe impl Sync for Side<'_> {}
            let side = Side(&side);
            thread::scope(|s| {
                let (sh, side) = (&sh, &side);
                s.spawn(move || {
                    while sh.flag.load(Acquire) == 0 {
                        backoff();
                    }
                    assert_eq!(sh.cell.with(|p| unsafe { *p }), round + 2);
                    // The children's cells, ordered by the scope end and
                    // the flag.
                    assert_eq!(side.0[0].with(|p| unsafe { *p }), round);
                });
                sh.cell.with_mut(|p| {
                    unsafe { *p = round };
                    thread::scope(|inner| {
                        for (k, c) in side.0.iter().enumerate() {
                            let c = SendRef(c);
                            inner.spawn(move || {
                                c.get().with_mut(|q| unsafe { *q = round + k as u64 })
                            });
                        }
                    });
                    let extra = side.0[1].with(|q| unsafe { *q }) - round;
                    unsafe { *p += 1 + extra };
                });
                sh.flag.store(1, Release);
            });
        }
        assert_silent(file!(), first, line!());
    }

    /// Workers write their own result cells; the collector's closure on the
    /// total joins them (acquires) and reads their cells (nested withs),
    /// then publishes the total after returning.
    #[test]
    fn closure_that_joins_threads_and_nests_reads_is_silent() {
        let first = line!();
        for round in 0..200u64 {
            let results: Vec<UnsafeCell<u64>> = (0..3).map(|_| UnsafeCell::new(0)).collect();
            struct R(Vec<UnsafeCell<u64>>);
            unsafe impl Sync for R {}
            let results = R(results);
            let total = Shared {
                cell: UnsafeCell::new(0),
                flag: AtomicUsize::new(0),
            };
            thread::scope(|s| {
                let (results, total) = (&results, &total);
                s.spawn(move || {
                    while total.flag.load(Acquire) == 0 {
                        backoff();
                    }
                    assert_eq!(total.cell.with(|p| unsafe { *p }), 3 * round + 3);
                });
                total.cell.with_mut(|t| {
                    let hs: Vec<_> = (0..3u64)
                        .map(|k| {
                            let c = SendRef(&results.0[k as usize]);
                            s.spawn(move || c.get().with_mut(|p| unsafe { *p = round + 1 }))
                        })
                        .collect();
                    for h in hs {
                        h.join().unwrap();
                    }
                    for c in &results.0 {
                        c.with(|p| unsafe { *t += *p });
                    }
                });
                total.flag.store(1, Release);
            });
        }
        assert_silent(file!(), first, line!());
    }

    /// `with_mut` inside a racedet Mutex's critical section, and a Mutex
    /// taken and released inside a private cell's closure.
    #[test]
    fn with_inside_mutex_and_mutex_inside_with_is_silent() {
        let first = line!();
        struct Guarded {
            m: Mutex<()>,
            data: UnsafeCell<Vec<u64>>,
        }
        unsafe impl Sync for Guarded {}
        let g = Guarded {
            m: Mutex::new(()),
            data: UnsafeCell::new(Vec::new()),
        };
        thread::scope(|s| {
            for t in 0..3u64 {
                let g = &g;
                s.spawn(move || {
                    let private = UnsafeCell::new(0u64);
                    for i in 0..1_000 {
                        if i % 2 == 0 {
                            let lk = g.m.lock().unwrap();
                            g.data.with_mut(|p| unsafe { (*p).push(t) });
                            let n = g.data.with(|p| unsafe { (*p).len() });
                            assert!(n > 0);
                            drop(lk);
                        } else {
                            private.with_mut(|q| {
                                let lk = g.m.lock().unwrap();
                                g.data.with_mut(|p| unsafe { (*p).push(t) });
                                drop(lk);
                                unsafe { *q += 1 };
                            });
                        }
                    }
                });
            }
        });
        assert_eq!(g.data.with(|p| unsafe { (*p).len() }), 3_000);
        assert_silent(file!(), first, line!());
    }

    /// Three levels of nesting, each cell behind its own lock, released in
    /// order; and more than 64 nested closures (and releases) inside one
    /// outer closure of a private cell.
    #[test]
    fn deep_and_long_nesting_is_silent() {
        let first = line!();
        struct L {
            m: [Mutex<()>; 3],
            c: [UnsafeCell<u64>; 3],
        }
        unsafe impl Sync for L {}
        let l = L {
            m: [Mutex::new(()), Mutex::new(()), Mutex::new(())],
            c: [UnsafeCell::new(0), UnsafeCell::new(0), UnsafeCell::new(0)],
        };
        thread::scope(|s| {
            for _ in 0..3 {
                let l = &l;
                s.spawn(move || {
                    let private = UnsafeCell::new(0u64);
                    for _ in 0..300 {
                        let g0 = l.m[0].lock().unwrap();
                        l.c[0].with_mut(|a| {
                            let g1 = l.m[1].lock().unwrap();
                            l.c[1].with_mut(|b| {
                                let g2 = l.m[2].lock().unwrap();
                                l.c[2].with_mut(|c| unsafe { *c += 1 });
                                drop(g2);
                                unsafe { *b += 1 };
                            });
                            drop(g1);
                            unsafe { *a += 1 };
                        });
                        drop(g0);
                    }
                    private.with_mut(|q| {
                        for _ in 0..100 {
                            let g2 = l.m[2].lock().unwrap();
                            l.c[2].with_mut(|c| unsafe { *c += 1 });
                            drop(g2);
                            unsafe { *q += 1 };
                        }
                    });
                });
            }
        });
        for c in &l.c[..2] {
            assert_eq!(c.with(|p| unsafe { *p }), 900);
        }
        assert_eq!(l.c[2].with(|p| unsafe { *p }), 1_200);
        assert_silent(file!(), first, line!());
    }
}

// =========================== 14. more correct patterns around other primitives
mod more {
    use super::*;
    use racedet::sync::mpsc::channel;
    use racedet::sync::{Barrier, Condvar, RwLock};

    struct Cells([UnsafeCell<u64>; 3]);
    unsafe impl Sync for Cells {}

    /// Barrier phases: each phase every thread writes one cell, then all
    /// read all cells (nested reads inside a private cell's closure, which
    /// also holds the second barrier wait: a release inside a private
    /// closure).
    #[test]
    fn barrier_phases_are_silent() {
        let first = line!();
        let cells = Cells(std::array::from_fn(|_| UnsafeCell::new(0)));
        let bar = Barrier::new(3);
        thread::scope(|s| {
            for t in 0..3usize {
                let (cells, bar) = (&cells, &bar);
                s.spawn(move || {
                    let private = UnsafeCell::new(0u64);
                    for p in 0..400u64 {
                        cells.0[(t + p as usize) % 3].with_mut(|c| unsafe { *c = p });
                        bar.wait();
                        private.with_mut(|q| {
                            for c in &cells.0 {
                                assert_eq!(c.with(|v| unsafe { *v }), p);
                            }
                            unsafe { *q += 1 };
                            bar.wait();
                        });
                    }
                });
            }
        });
        assert_silent(file!(), first, line!());
    }

    /// Condvar hand-off: the data cell is touched only with the mutex held;
    /// the consumer waits (release + acquire) inside a private closure.
    #[test]
    fn condvar_handoff_inside_private_closure_is_silent() {
        let first = line!();
        struct St {
            m: Mutex<bool>,
            cv: Condvar,
            data: UnsafeCell<Vec<u64>>,
        }
        unsafe impl Sync for St {}
        let st = St {
            m: Mutex::new(false),
            cv: Condvar::new(),
            data: UnsafeCell::new(Vec::new()),
        };
        const N: u64 = 1_500;
        thread::scope(|s| {
            let st = &st;
            s.spawn(move || {
                for i in 0..N {
                    let mut g = st.m.lock().unwrap();
                    while *g {
                        g = st.cv.wait(g).unwrap();
                    }
                    st.data.with_mut(|d| unsafe { (*d).push(i) });
                    *g = true;
                    drop(g);
                    st.cv.notify_all();
                }
            });
            s.spawn(move || {
                let private = UnsafeCell::new(0u64);
                private.with_mut(|q| {
                    for i in 0..N {
                        let mut g = st.m.lock().unwrap();
                        while !*g {
                            g = st.cv.wait(g).unwrap();
                        }
                        let last = st.data.with_mut(|d| unsafe { (*d).pop() });
                        assert_eq!(last, Some(i));
                        *g = false;
                        drop(g);
                        st.cv.notify_all();
                        unsafe { *q += 1 };
                    }
                });
            });
        });
        assert_silent(file!(), first, line!());
    }

    struct Node {
        v: UnsafeCell<[u64; 4]>,
    }
    struct P(*mut Node);
    unsafe impl Send for P {}

    /// Nodes built and written by one thread, sent (inside a private
    /// closure, after the node's closure returned) to another, which reads
    /// and frees each node inside its own read closure; and back.
    #[test]
    fn channel_handoff_freeing_inside_closure_is_silent() {
        let first = line!();
        let (tx, rx) = channel::<P>();
        let (back_tx, back_rx) = channel::<P>();
        thread::scope(|s| {
            s.spawn(move || {
                let private = UnsafeCell::new(0u64);
                private.with_mut(|q| {
                    for i in 0..2_000u64 {
                        let n = Box::into_raw(Box::new(Node {
                            v: UnsafeCell::new([0; 4]),
                        }));
                        unsafe { (*n).v.with_mut(|p| *p = [i; 4]) };
                        tx.send(P(n)).unwrap();
                        unsafe { *q += 1 };
                        if let Ok(P(b)) = back_rx.try_recv() {
                            unsafe {
                                (*b).v.with_mut(|p| {
                                    assert!((*p).iter().all(|x| *x == (*p)[0]));
                                    drop(Box::from_raw(b));
                                })
                            };
                        }
                    }
                    drop(tx);
                    for P(b) in back_rx {
                        unsafe { (*b).v.with(|_| drop(Box::from_raw(b))) };
                    }
                });
            });
            s.spawn(move || {
                for (k, P(n)) in rx.into_iter().enumerate() {
                    if k % 2 == 0 {
                        unsafe {
                            (*n).v.with(|p| {
                                assert!((*p).iter().all(|x| *x == k as u64));
                                drop(Box::from_raw(n));
                            })
                        };
                    } else {
                        unsafe { (*n).v.with_mut(|p| *p = [k as u64 + 1; 4]) };
                        back_tx.send(P(n)).unwrap();
                    }
                }
            });
        });
        assert_silent(file!(), first, line!());
    }

    /// RwLock: readers read the cell under read guards (nested in private
    /// closures that also take and drop the guard), the writer writes
    /// under the write guard.
    #[test]
    fn rwlock_guarded_cell_is_silent() {
        let first = line!();
        struct St {
            l: RwLock<()>,
            data: UnsafeCell<(u64, u64)>,
        }
        unsafe impl Sync for St {}
        let st = St {
            l: RwLock::new(()),
            data: UnsafeCell::new((0, 0)),
        };
        thread::scope(|s| {
            let st = &st;
            s.spawn(move || {
                for i in 1..=1_500u64 {
                    let g = st.l.write().unwrap();
                    st.data.with_mut(|d| unsafe { *d = (i, 2 * i) });
                    drop(g);
                }
            });
            for _ in 0..2 {
                s.spawn(move || {
                    let private = UnsafeCell::new(0u64);
                    for _ in 0..1_500 {
                        private.with_mut(|q| {
                            let g = st.l.read().unwrap();
                            let d = st.data.with(|d| unsafe { *d });
                            drop(g);
                            assert_eq!(d.1, 2 * d.0);
                            unsafe { *q = d.0 };
                        });
                    }
                });
            }
        });
        assert_silent(file!(), first, line!());
    }
}

// ============ 15. randomized nesting: locks released after their closures
mod random_nesting {
    use super::*;
    const FIRST: u32 = line!();
    const K: usize = 6;

    struct World {
        locks: Vec<Mutex<()>>,
        cells: Vec<UnsafeCell<u64>>,
        noise: AtomicUsize,
        incs: AtomicU64,
    }
    unsafe impl Sync for World {}

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// Locks a random cell with index >= `min`, writes it inside a closure
    /// that may release/acquire unrelated atomics, nest deeper (higher
    /// indices), spawn a scoped child that works on higher indices, read it
    /// again; unlocks after the closure returns.
    fn go(w: &World, rng: &mut Rng, min: usize, depth: u32) {
        if min >= K {
            return;
        }
        let i = min + rng.below((K - min) as u64) as usize;
        let g = w.locks[i].lock().unwrap();
        let plan = rng.next();
        w.cells[i].with_mut(|c| {
            unsafe { *c += 1 };
            w.incs.fetch_add(1, Relaxed);
            if plan & 1 != 0 {
                w.noise.store(plan as usize, Release);
            }
            if plan & 2 != 0 {
                let _ = w.noise.load(Acquire);
            }
            if plan & 4 != 0 && depth < 4 {
                go(w, rng, i + 1, depth + 1);
            }
            if plan & 8 != 0 {
                w.noise.fetch_add(1, AcqRel);
            }
            if plan & 0x30 == 0x30 && depth < 2 && i + 1 < K {
                let seed = rng.next() | 1;
                thread::scope(|s| {
                    s.spawn(move || {
                        let mut r = Rng(seed);
                        go(w, &mut r, i + 1, depth + 1);
                    });
                });
            }
            if plan & 0x40 != 0 {
                for _ in 0..(plan >> 8) % 80 {
                    w.noise.store(1, Release);
                }
            }
            unsafe { *c += 1 };
            w.incs.fetch_add(1, Relaxed);
        });
        if plan & 0x80 != 0 {
            let v = w.cells[i].with(|c| unsafe { *c });
            assert!(v >= 2);
        }
        drop(g);
        if plan & 0x100 != 0 {
            go(w, rng, min, depth + 1);
        }
    }

    #[test]
    fn random_nesting_with_locks_released_after_closures_is_silent() {
        let w = World {
            locks: (0..K).map(|_| Mutex::new(())).collect(),
            cells: (0..K).map(|_| UnsafeCell::new(0)).collect(),
            noise: AtomicUsize::new(0),
            incs: AtomicU64::new(0),
        };
        let seed0: u64 =
            std::env::var("ALGOS_SEED").map_or(0x9E3779B97F4A7C15, |v| v.parse().unwrap());
        thread::scope(|s| {
            for t in 0..3u64 {
                let w = &w;
                s.spawn(move || {
                    let mut rng = Rng(seed0.wrapping_mul(t + 1) | 1);
                    let iters: usize =
                        std::env::var("ALGOS_ITERS").map_or(700, |v| v.parse().unwrap());
                    for _ in 0..iters {
                        go(w, &mut rng, 0, 0);
                    }
                });
            }
        });
        let total: u64 = w.cells.iter().map(|c| c.with(|p| unsafe { *p })).sum();
        assert_eq!(total, w.incs.load(Relaxed));
        eprintln!(
            "random_nesting: {total} increments, noise {}",
            w.noise.load(Relaxed)
        );
        assert_silent(file!(), FIRST, LAST);
    }
    const LAST: u32 = line!();
}

// ========== 16. a thread that dies inside its closure; the joiner takes over
mod died_inside {
    use super::*;
    const FIRST: u32 = line!();

    #[test]
    fn thread_unwinding_out_of_with_mut_then_joined_is_silent() {
        struct C(UnsafeCell<Vec<u64>>);
        unsafe impl Sync for C {}
        for round in 0..300u64 {
            let c = C(UnsafeCell::new(Vec::new()));
            thread::scope(|s| {
                let c = &c;
                let h = s.spawn(move || {
                    c.0.with_mut(|v| {
                        unsafe { (*v).push(round) };
                        if round % 2 == 0 {
                            std::panic::resume_unwind(Box::new("dies inside with_mut"));
                        }
                        unsafe { (*v).push(round) };
                    })
                });
                let r = h.join();
                assert_eq!(r.is_err(), round % 2 == 0);
                c.0.with_mut(|v| unsafe { (*v).push(0) });
            });
        }
        assert_silent(file!(), FIRST, LAST);
    }
    const LAST: u32 = line!();
}
