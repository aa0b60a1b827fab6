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

/// No span: accesses checked in it are stamped when they are made.
#[inline(always)]
pub(crate) fn none() -> Span {
    #[cfg(any(feature = "detect", racedet_detect))]
    return Span::none();
    #[cfg(not(any(feature = "detect", racedet_detect)))]
    Span
}
