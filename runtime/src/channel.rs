//! Channels: where a message send synchronizes with its receive.
//!
//! Edges (Go's memory model, which std's channels satisfy):
//!
//! - the send of a message happens before its receive, or, for a message
//!   never received, before its drop (std drops a channel's buffered
//!   messages when the receiver goes);
//! - for a bounded channel of capacity `C > 0`, the k-th receive happens
//!   before the (k+C)-th send completes (a full buffer makes room only by
//!   a receive); for `C = 0` (rendezvous) the k-th receive happens before
//!   the k-th send completes;
//! - disconnection: every sender's drop happens before the receive that
//!   observes "disconnected", and the receiver's drop before the send that
//!   observes "receiver gone".
//!
//! Unbounded channels stay std's (lock-free) channel, each message carrying
//! its sender's clock ([`MessageClock`]); their ends share a [`Hangup`].
//!
//! Bounded channels are [`Bounded`], a channel of our own with std's
//! behaviour, because the (k+C) edge needs the exact position of each send
//! in the channel's order, which std's channel does not expose: numbering
//! sends outside it would misnumber concurrent senders, and a misnumbered
//! send acquires the wrong receive (a missed edge is a false report, an
//! extra one a missed race).

use crate::sync::{acquire, release_merge, release_store};
use parking_lot::{Condvar, Mutex};
use racedet_detector::SyncClock;
use std::collections::VecDeque;
use std::sync::mpsc::{RecvTimeoutError, SendError, TryRecvError, TrySendError};
use std::time::Instant;

/// A sender's clock, carried inside one message of an unbounded channel
/// (or with a thread's result to its handle). Whoever ends up with the
/// message sees everything the sender had: the receiver, or the thread
/// that drops it unreceived (std drops a channel's buffered messages when
/// its receiver goes; that drop is ordered after the send too). Put first
/// in a message, it acquires before the value drops.
pub struct MessageClock(SyncClock);

impl MessageClock {
    /// At the send: a snapshot of the sending thread's clock (a release).
    /// Allocation-free for clocks of up to 5 slots.
    #[inline]
    pub fn send() -> MessageClock {
        let mut clock = SyncClock::new();
        release_store(&mut clock);
        MessageClock(clock)
    }

    /// At the receive: the receiving thread sees everything the sender had.
    #[inline]
    pub fn receive(self) {
        drop(self);
    }
}

impl Drop for MessageClock {
    #[inline]
    fn drop(&mut self) {
        acquire(&self.0);
    }
}

/// The disconnection clocks of an unbounded channel, shared by its ends.
#[derive(Default)]
pub struct Hangup {
    senders_gone: Mutex<SyncClock>,
    receiver_gone: Mutex<SyncClock>,
}

impl Hangup {
    /// A channel whose ends are all alive.
    pub fn new() -> Hangup {
        Hangup::default()
    }

    /// Before a sender's real drop: the receive that observes the
    /// disconnection sees everything every sender did.
    pub fn sender_dropping(&self) {
        release_merge(&mut self.senders_gone.lock());
    }

    /// After a receive failed because every sender is gone.
    pub fn disconnect_observed(&self) {
        acquire(&self.senders_gone.lock());
    }

    /// Before the receiver's real drop.
    pub fn receiver_dropping(&self) {
        release_merge(&mut self.receiver_gone.lock());
    }

    /// After a send failed because the receiver is gone.
    pub fn receiver_gone_observed(&self) {
        acquire(&self.receiver_gone.lock());
    }
}

/// A bounded channel (`sync_channel(cap)`) with std's behaviour and exact
/// happens-before edges.
///
/// For `cap > 0`, Go's race detector's scheme: a ring of `cap` slot clocks,
/// send number `s` (1-based, in the channel's order) using slot
/// `(s - 1) % cap`. A send acquires its slot (which holds the clock of
/// receive `s - cap`, the receive that freed the slot — exactly the (k+C)
/// edge) and then stores its own clock there; the receive of message `s`
/// acquires the slot (the sender's clock) and stores its own. Memory is one
/// clock per slot ever used, at most `cap`; after the first `cap` sends the
/// ring is reused without allocating.
///
/// For `cap == 0` a message is handed over through one offer slot: the
/// sender's clock travels with it, and the receiver answers with its clock
/// as of the start of its receive (it did nothing since: it was waiting),
/// which the sender acquires before its send returns. A `try_send` succeeds
/// only while the receiver waits, so it takes the clock the receiver
/// published when it began waiting.
pub struct Bounded<T> {
    cap: usize,
    state: Mutex<State<T>>,
    /// Senders wait here for room (or, with `cap == 0`, for their offer to
    /// be taken or the offer slot to be free).
    senders: Condvar,
    /// The receiver waits here for a message or a disconnection.
    receiver: Condvar,
}

struct State<T> {
    /// Buffered messages (`cap > 0`).
    queue: VecDeque<T>,
    /// Slot clocks (`cap > 0`), grown on first use up to `cap`.
    slots: Vec<SyncClock>,
    /// Messages sent so far: the number of the latest send.
    sent: u64,
    /// Messages received so far.
    received: u64,
    /// Live senders.
    live_senders: usize,
    receiver_alive: bool,
    senders_waiting: usize,
    receiver_waiting: bool,
    senders_gone: SyncClock,
    receiver_gone: SyncClock,
    /// Rendezvous (`cap == 0`).
    offer: Offer<T>,
}

/// The hand-over slot of a rendezvous channel.
struct Offer<T> {
    /// The offered message, until taken.
    value: Option<T>,
    /// Its sender's clock.
    sender_clock: SyncClock,
    /// A blocking sender owns the slot until it has collected `reply`.
    owned: bool,
    /// Set by the receiver when it takes an owned offer.
    taken: bool,
    /// The receiver's clock at the receive, for the blocking sender.
    reply: SyncClock,
    /// The waiting receiver's clock, for `try_send`.
    receiver_clock: SyncClock,
}

impl<T> Offer<T> {
    fn busy(&self) -> bool {
        self.value.is_some() || self.owned
    }
}

impl<T> Bounded<T> {
    /// A channel of capacity `cap` with one sender and its receiver.
    pub fn new(cap: usize) -> Bounded<T> {
        Bounded {
            cap,
            state: Mutex::new(State {
                queue: VecDeque::new(),
                slots: Vec::new(),
                sent: 0,
                received: 0,
                live_senders: 1,
                receiver_alive: true,
                senders_waiting: 0,
                receiver_waiting: false,
                senders_gone: SyncClock::new(),
                receiver_gone: SyncClock::new(),
                offer: Offer {
                    value: None,
                    sender_clock: SyncClock::new(),
                    owned: false,
                    taken: false,
                    reply: SyncClock::new(),
                    receiver_clock: SyncClock::new(),
                },
            }),
            senders: Condvar::new(),
            receiver: Condvar::new(),
        }
    }

    /// A sender was cloned.
    pub fn add_sender(&self) {
        self.state.lock().live_senders += 1;
    }

    /// A sender is dropped: its drop happens before the receive that
    /// observes the disconnection.
    pub fn drop_sender(&self) {
        let mut st = self.state.lock();
        release_merge(&mut st.senders_gone);
        st.live_senders -= 1;
        if st.live_senders == 0 {
            self.receiver.notify_all();
        }
    }

    /// The receiver is dropped: its drop happens before every send that
    /// observes it. Buffered messages are dropped now, as std does.
    pub fn drop_receiver(&self) {
        let dropped;
        {
            let mut st = self.state.lock();
            release_merge(&mut st.receiver_gone);
            st.receiver_alive = false;
            // Dropping a message is having it: after its send, as a
            // receive would be. A slot holds its message's send, or (once
            // received) the release of the thread that received it.
            for slot in &st.slots {
                acquire(slot);
            }
            dropped = std::mem::take(&mut st.queue);
            self.senders.notify_all();
        }
        // Outside the lock: a message's `Drop` may use this channel.
        drop(dropped);
    }

    /// Blocking send (std's `SyncSender::send`).
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        let mut st = self.state.lock();
        if self.cap == 0 {
            return self.send_rendezvous(st, value);
        }
        loop {
            if !st.receiver_alive {
                acquire(&st.receiver_gone);
                return Err(SendError(value));
            }
            if st.queue.len() < self.cap {
                self.enqueue(&mut st, value);
                return Ok(());
            }
            st.senders_waiting += 1;
            self.senders.wait(&mut st);
            st.senders_waiting -= 1;
        }
    }

    /// Non-blocking send (std's `SyncSender::try_send`).
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        let mut st = self.state.lock();
        if !st.receiver_alive {
            acquire(&st.receiver_gone);
            return Err(TrySendError::Disconnected(value));
        }
        if self.cap > 0 {
            if st.queue.len() == self.cap {
                return Err(TrySendError::Full(value));
            }
            self.enqueue(&mut st, value);
            return Ok(());
        }
        // Rendezvous: only straight into a waiting receiver's hands.
        if !st.receiver_waiting || st.offer.busy() {
            return Err(TrySendError::Full(value));
        }
        st.sent += 1;
        acquire(&st.offer.receiver_clock);
        release_store(&mut st.offer.sender_clock);
        st.offer.value = Some(value);
        self.receiver.notify_one();
        Ok(())
    }

    /// Receive, blocking until `deadline` (forever when `None`).
    pub fn recv(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        let mut st = self.state.lock();
        let mut published = false;
        let result = loop {
            if let Some(value) = self.take(&mut st) {
                break Ok(value);
            }
            if st.live_senders == 0 {
                acquire(&st.senders_gone);
                break Err(RecvTimeoutError::Disconnected);
            }
            if self.cap == 0 && !published {
                // What a `try_send` into our hands acquires: this thread does
                // nothing until it returns, so this is its clock at the
                // receive.
                release_store(&mut st.offer.receiver_clock);
                published = true;
            }
            st.receiver_waiting = true;
            match deadline {
                None => self.receiver.wait(&mut st),
                Some(d) => {
                    if self.receiver.wait_until(&mut st, d).timed_out() {
                        // A message may have come with the timeout.
                        if let Some(value) = self.take(&mut st) {
                            break Ok(value);
                        }
                        if st.live_senders == 0 {
                            acquire(&st.senders_gone);
                            break Err(RecvTimeoutError::Disconnected);
                        }
                        break Err(RecvTimeoutError::Timeout);
                    }
                }
            }
        };
        st.receiver_waiting = false;
        result
    }

    /// Non-blocking receive.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        let mut st = self.state.lock();
        if let Some(value) = self.take(&mut st) {
            return Ok(value);
        }
        if st.live_senders == 0 {
            acquire(&st.senders_gone);
            return Err(TryRecvError::Disconnected);
        }
        Err(TryRecvError::Empty)
    }

    /// Puts send number `sent + 1` in the buffer (`cap > 0`, room checked).
    fn enqueue(&self, st: &mut State<T>, value: T) {
        st.sent += 1;
        let i = ((st.sent - 1) % self.cap as u64) as usize;
        if i == st.slots.len() {
            st.slots.push(SyncClock::new());
        }
        let slot = &mut st.slots[i];
        // The receive that freed this slot (`sent - cap`), if any.
        acquire(slot);
        release_store(slot);
        st.queue.push_back(value);
        if st.receiver_waiting {
            self.receiver.notify_one();
        }
    }

    /// Takes the next message, if there is one, with its edges.
    fn take(&self, st: &mut State<T>) -> Option<T> {
        if self.cap > 0 {
            let value = st.queue.pop_front()?;
            st.received += 1;
            let i = ((st.received - 1) % self.cap as u64) as usize;
            let slot = &mut st.slots[i];
            acquire(slot);
            release_store(slot);
            if st.senders_waiting > 0 {
                self.senders.notify_one();
            }
            return Some(value);
        }
        let value = st.offer.value.take()?;
        st.received += 1;
        acquire(&st.offer.sender_clock);
        if st.offer.owned {
            release_store(&mut st.offer.reply);
            st.offer.taken = true;
        }
        // The blocking sender collects its reply; others wait for the slot.
        if st.senders_waiting > 0 {
            self.senders.notify_all();
        }
        Some(value)
    }

    /// Blocking send on a rendezvous channel: offer, then wait until taken.
    fn send_rendezvous(
        &self,
        mut st: parking_lot::MutexGuard<'_, State<T>>,
        value: T,
    ) -> Result<(), SendError<T>> {
        loop {
            if !st.receiver_alive {
                acquire(&st.receiver_gone);
                return Err(SendError(value));
            }
            if !st.offer.busy() {
                break;
            }
            st.senders_waiting += 1;
            self.senders.wait(&mut st);
            st.senders_waiting -= 1;
        }
        st.sent += 1;
        release_store(&mut st.offer.sender_clock);
        st.offer.value = Some(value);
        st.offer.owned = true;
        st.offer.taken = false;
        self.receiver.notify_one();
        loop {
            if st.offer.taken {
                // The receive happens before this send completes.
                acquire(&st.offer.reply);
                st.offer.owned = false;
                st.offer.taken = false;
                self.senders.notify_all();
                return Ok(());
            }
            if !st.receiver_alive {
                let value = st.offer.value.take().expect("an untaken offer");
                st.offer.owned = false;
                acquire(&st.receiver_gone);
                self.senders.notify_all();
                return Err(SendError(value));
            }
            st.senders_waiting += 1;
            self.senders.wait(&mut st);
            st.senders_waiting -= 1;
        }
    }
}
