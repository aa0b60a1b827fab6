//! `std::sync::mpsc`, instrumented: a send happens before its receive; for
//! `sync_channel(C)` the k-th receive happens before the (k+C)-th send
//! completes (C = 0: each receive before its send returns); every sender's
//! drop before the receive that observes the disconnection, and the
//! receiver's drop before the send that observes it. Without the `detect`
//! feature these are std's own items.
//!
//! The edges live in `racedet_runtime::channel`; this module only maps std's
//! API onto it.

pub use std::sync::mpsc::{RecvError, RecvTimeoutError, SendError, TryRecvError, TrySendError};

#[cfg(not(any(feature = "detect", racedet_detect)))]
pub use std::sync::mpsc::{
    channel, sync_channel, IntoIter, Iter, Receiver, Sender, SyncSender, TryIter,
};

#[cfg(any(feature = "detect", racedet_detect))]
pub use detected::{channel, sync_channel, IntoIter, Iter, Receiver, Sender, SyncSender, TryIter};

#[cfg(any(feature = "detect", racedet_detect))]
mod detected {
    use super::{RecvError, RecvTimeoutError, SendError, TryRecvError, TrySendError};
    use racedet_runtime::{Bounded, Hangup, MessageClock};
    use std::cell::Cell;
    use std::fmt;
    use std::marker::PhantomData;
    use std::panic::{RefUnwindSafe, UnwindSafe};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    /// An unbounded channel: std's, each message carrying its sender's clock.
    pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
        let (tx, rx) = std::sync::mpsc::channel();
        let hangup = Arc::new(Hangup::new());
        (
            Sender {
                inner: tx,
                hangup: hangup.clone(),
            },
            Receiver::new(Flavor::Unbounded { inner: rx, hangup }),
        )
    }

    /// A bounded channel of capacity `bound` (0: every send waits for its
    /// receive).
    pub fn sync_channel<T>(bound: usize) -> (SyncSender<T>, Receiver<T>) {
        let chan = Arc::new(Bounded::new(bound));
        (
            SyncSender { chan: chan.clone() },
            Receiver::new(Flavor::Bounded(chan)),
        )
    }

    /// std's `Sender`.
    pub struct Sender<T> {
        inner: std::sync::mpsc::Sender<(MessageClock, T)>,
        hangup: Arc<Hangup>,
    }

    impl<T> Sender<T> {
        /// Sends without blocking; fails only when the receiver is gone.
        pub fn send(&self, t: T) -> Result<(), SendError<T>> {
            match self.inner.send((MessageClock::send(), t)) {
                Ok(()) => Ok(()),
                Err(SendError((_, t))) => {
                    self.hangup.receiver_gone_observed();
                    Err(SendError(t))
                }
            }
        }
    }

    impl<T> Clone for Sender<T> {
        fn clone(&self) -> Sender<T> {
            Sender {
                inner: self.inner.clone(),
                hangup: self.hangup.clone(),
            }
        }
    }

    impl<T> Drop for Sender<T> {
        fn drop(&mut self) {
            // Before the real drop (`inner` drops after this), so the
            // disconnection it may cause is published.
            self.hangup.sender_dropping();
        }
    }

    impl<T> fmt::Debug for Sender<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("Sender").finish_non_exhaustive()
        }
    }

    /// std's `SyncSender`.
    pub struct SyncSender<T> {
        chan: Arc<Bounded<T>>,
    }

    impl<T> SyncSender<T> {
        /// Sends, blocking while the buffer is full (with capacity 0, until
        /// the receiver takes the message).
        pub fn send(&self, t: T) -> Result<(), SendError<T>> {
            self.chan.send(t)
        }

        /// Sends if that needs no waiting.
        pub fn try_send(&self, t: T) -> Result<(), TrySendError<T>> {
            self.chan.try_send(t)
        }
    }

    impl<T> Clone for SyncSender<T> {
        fn clone(&self) -> SyncSender<T> {
            self.chan.add_sender();
            SyncSender {
                chan: self.chan.clone(),
            }
        }
    }

    impl<T> Drop for SyncSender<T> {
        fn drop(&mut self) {
            self.chan.drop_sender();
        }
    }

    impl<T> fmt::Debug for SyncSender<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("SyncSender").finish_non_exhaustive()
        }
    }

    enum Flavor<T> {
        Unbounded {
            inner: std::sync::mpsc::Receiver<(MessageClock, T)>,
            hangup: Arc<Hangup>,
        },
        Bounded(Arc<Bounded<T>>),
    }

    /// The outcome of a receive on an unbounded channel: a message acquires
    /// its sender's clock; an error that is a disconnection acquires every
    /// sender's drop.
    fn received<T, E>(
        r: Result<(MessageClock, T), E>,
        hangup: &Hangup,
        disconnected: fn(&E) -> bool,
    ) -> Result<T, E> {
        match r {
            Ok((clock, t)) => {
                clock.receive();
                Ok(t)
            }
            Err(e) => {
                if disconnected(&e) {
                    hangup.disconnect_observed();
                }
                Err(e)
            }
        }
    }

    /// std's `Receiver` (of either kind of channel).
    pub struct Receiver<T> {
        flavor: Flavor<T>,
        /// `!Sync`, as std's: receives are made by one thread at a time.
        _not_sync: PhantomData<Cell<()>>,
    }

    // As std's: no user state is left half-updated by a panic in here.
    impl<T> RefUnwindSafe for Receiver<T> {}
    impl<T> UnwindSafe for Receiver<T> {}
    impl<T> RefUnwindSafe for Sender<T> {}
    impl<T> UnwindSafe for Sender<T> {}
    impl<T> RefUnwindSafe for SyncSender<T> {}
    impl<T> UnwindSafe for SyncSender<T> {}

    impl<T> Receiver<T> {
        fn new(flavor: Flavor<T>) -> Receiver<T> {
            Receiver {
                flavor,
                _not_sync: PhantomData,
            }
        }

        /// Takes a message if one is there.
        pub fn try_recv(&self) -> Result<T, TryRecvError> {
            match &self.flavor {
                Flavor::Unbounded { inner, hangup } => received(inner.try_recv(), hangup, |e| {
                    matches!(e, TryRecvError::Disconnected)
                }),
                Flavor::Bounded(chan) => chan.try_recv(),
            }
        }

        /// Waits for a message; fails once every sender is gone and the
        /// channel is empty.
        pub fn recv(&self) -> Result<T, RecvError> {
            match &self.flavor {
                Flavor::Unbounded { inner, hangup } => received(inner.recv(), hangup, |_| true),
                Flavor::Bounded(chan) => chan.recv(None).map_err(|_| RecvError),
            }
        }

        /// As `recv`, for at most `timeout`.
        pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
            match &self.flavor {
                Flavor::Unbounded { inner, hangup } => {
                    received(inner.recv_timeout(timeout), hangup, |e| {
                        matches!(e, RecvTimeoutError::Disconnected)
                    })
                }
                // A timeout too long for an `Instant` waits forever, as std.
                Flavor::Bounded(chan) => chan.recv(Instant::now().checked_add(timeout)),
            }
        }

        /// Blocking iterator: ends when every sender is gone.
        pub fn iter(&self) -> Iter<'_, T> {
            Iter { rx: self }
        }

        /// Non-blocking iterator: ends when the channel is empty.
        pub fn try_iter(&self) -> TryIter<'_, T> {
            TryIter { rx: self }
        }
    }

    impl<T> Drop for Receiver<T> {
        fn drop(&mut self) {
            match &self.flavor {
                Flavor::Unbounded { hangup, .. } => hangup.receiver_dropping(),
                Flavor::Bounded(chan) => chan.drop_receiver(),
            }
        }
    }

    impl<T> fmt::Debug for Receiver<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("Receiver").finish_non_exhaustive()
        }
    }

    /// std's `Iter`.
    #[derive(Debug)]
    pub struct Iter<'a, T: 'a> {
        rx: &'a Receiver<T>,
    }

    /// std's `TryIter`.
    #[derive(Debug)]
    pub struct TryIter<'a, T: 'a> {
        rx: &'a Receiver<T>,
    }

    /// std's `IntoIter`.
    #[derive(Debug)]
    pub struct IntoIter<T> {
        rx: Receiver<T>,
    }

    impl<T> Iterator for Iter<'_, T> {
        type Item = T;
        fn next(&mut self) -> Option<T> {
            self.rx.recv().ok()
        }
    }

    impl<T> Iterator for TryIter<'_, T> {
        type Item = T;
        fn next(&mut self) -> Option<T> {
            self.rx.try_recv().ok()
        }
    }

    impl<T> Iterator for IntoIter<T> {
        type Item = T;
        fn next(&mut self) -> Option<T> {
            self.rx.recv().ok()
        }
    }

    impl<'a, T> IntoIterator for &'a Receiver<T> {
        type Item = T;
        type IntoIter = Iter<'a, T>;
        fn into_iter(self) -> Iter<'a, T> {
            self.iter()
        }
    }

    impl<T> IntoIterator for Receiver<T> {
        type Item = T;
        type IntoIter = IntoIter<T>;
        fn into_iter(self) -> IntoIter<T> {
            IntoIter { rx: self }
        }
    }
}
