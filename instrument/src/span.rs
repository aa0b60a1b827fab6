//! Access spans (see the runtime's `span.rs`): held by the operations that
//! run user code in the middle of an access, so that a release the user
//! code makes does not order the access. Nothing without detection.

#[cfg(any(feature = "detect", racedet_detect))]
pub(crate) use racedet_runtime::Span;

/// Without detection a span is nothing.
#[cfg(not(any(feature = "detect", racedet_detect)))]
pub(crate) struct Span;

/// Opens a span of the calling thread.
#[inline(always)]
pub(crate) fn open() -> Span {
    #[cfg(any(feature = "detect", racedet_detect))]
    return Span::open();
    #[cfg(not(any(feature = "detect", racedet_detect)))]
    Span
}

/// What an access is stamped with: now, or an open span's stamp (a plain
/// `Copy` value, so the hot paths that stamp now carry no guard to drop).
#[cfg(any(feature = "detect", racedet_detect))]
pub(crate) use racedet_runtime::Stamp;

/// Without detection there is only "now".
#[cfg(not(any(feature = "detect", racedet_detect)))]
#[derive(Copy, Clone)]
pub(crate) enum Stamp {
    Now,
}

/// Without detection a span stamps nothing.
#[cfg(not(any(feature = "detect", racedet_detect)))]
impl Span {
    #[inline(always)]
    pub(crate) fn stamp(&self) -> Stamp {
        Stamp::Now
    }
}
