//! TSan-style annotations for synchronization racedet cannot see (a
//! hand-written lock, an FFI queue, an OS primitive).
//!
//! ```
//! use racedet::annotate::{happens_after, happens_before};
//! let token = 0u8;
//! happens_before(&token); // in the publishing thread, after writing
//! happens_after(&token);  // in the consuming thread, before reading
//! ```

/// Everything the calling thread did so far happens before any later
/// [`happens_after`] on the same address.
#[inline]
pub fn happens_before<T: ?Sized>(addr: &T) {
    let _ = addr;
    #[cfg(any(feature = "detect", racedet_detect))]
    racedet_runtime::annotate_release(addr as *const T as *const u8 as usize);
}

/// The calling thread sees everything done before every earlier
/// [`happens_before`] on the same address.
#[inline]
pub fn happens_after<T: ?Sized>(addr: &T) {
    let _ = addr;
    #[cfg(any(feature = "detect", racedet_detect))]
    racedet_runtime::annotate_acquire(addr as *const T as *const u8 as usize);
}
