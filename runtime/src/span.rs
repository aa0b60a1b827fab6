//! Accesses that last for a closure: loom's `UnsafeCell::with` and
//! `with_mut`. Checked when the closure starts and stamped past the
//! releases it makes (the engine's spans); the guard ends the span when
//! the closure returns or unwinds, touching only the thread's own state —
//! never the cell, which the closure may have freed.

use crate::access::{check_stamped, detail, plain_access, whole_object, ShadowCell};
use crate::site::Op;
use crate::threads::local;
use racedet_detector::Epoch;
use std::panic::Location;

/// An open span of the calling thread; dropping it ends the span. Not
/// `Send`: it must end on the thread that opened it.
#[must_use = "the span ends when this is dropped: hold it for the closure"]
pub struct Span {
    stamp: Option<Epoch>,
    _not_send: std::marker::PhantomData<*const ()>,
}

/// Checks a plain access of the whole object of `kind` at `address` (read
/// or `write`) that lasts until the returned span is dropped.
#[inline(always)]
pub fn check_span(
    shadow: &mut ShadowCell,
    write: bool,
    op: Op,
    at: &'static Location<'static>,
    kind: &'static str,
    address: usize,
    created_at: &'static Location<'static>,
) -> Span {
    let stamp = local().map(|l| {
        let stamp = l.state.open_span();
        let object = whole_object(kind, address, created_at);
        check_stamped(
            l,
            shadow,
            plain_access(write),
            stamp,
            detail(op),
            at,
            &object,
        );
        stamp
    });
    Span {
        stamp,
        _not_send: std::marker::PhantomData,
    }
}

impl Drop for Span {
    #[inline]
    fn drop(&mut self) {
        if let (Some(stamp), Some(l)) = (self.stamp, local()) {
            l.state.end_span(stamp);
        }
    }
}
