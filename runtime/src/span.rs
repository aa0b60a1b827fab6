//! Accesses that last while an operation runs user code: loom's
//! `UnsafeCell::with` and `with_mut`, `RaceCell::update`, and `RaceMap`'s
//! `get_with`, `update`, `range`, `retain` and `clear` (whose pairs' `Drop`
//! is user code). Checked when the operation starts and stamped past the
//! releases the user code makes (the engine's spans); the guard ends the
//! span when the operation returns or unwinds, touching only the thread's
//! own state — never the object, which the user code may have freed (an
//! `UnsafeCell` whose last owner drops it inside `with`).

use crate::access::Stamp;
use crate::threads::local;
use std::marker::PhantomData;

/// An open span of the calling thread; dropping it ends the span. Not
/// `Send`: it must end on the thread that opened it.
#[must_use = "the span ends when this is dropped: hold it while the user code runs"]
pub struct Span {
    stamp: Stamp,
    _not_send: PhantomData<*const ()>,
}

impl Span {
    /// Opens a span of the calling thread (none for a thread the runtime
    /// no longer follows).
    #[inline(always)]
    pub fn open() -> Span {
        Span {
            stamp: local().map_or(Stamp::Now, |l| Stamp::At(l.state.open_span())),
            _not_send: PhantomData,
        }
    }

    /// What an access inside the span is stamped with.
    #[inline(always)]
    pub fn stamp(&self) -> Stamp {
        self.stamp
    }
}

impl Drop for Span {
    #[inline(always)]
    fn drop(&mut self) {
        if let Stamp::At(stamp) = self.stamp {
            if let Some(l) = local() {
                l.state.end_span(stamp);
            }
        }
    }
}
