//! Structured race reports, for tests and tools.
//!
//! ```
//! let reports = racedet::reports::take();
//! assert!(reports.is_empty());
//! ```

pub use racedet_runtime::report::{
    Access, Frame, MapPart, Object, Report, ReportKind, SourceSite, ThreadDesc, ThreadRef,
};

/// Drains the reports made so far in this process (oldest first). Each
/// distinct race is reported once (by pair of sites), so a report taken
/// here is not made again. Empty without the `detect` feature.
pub fn take() -> Vec<Report> {
    #[cfg(any(feature = "detect", racedet_detect))]
    {
        racedet_runtime::take_reports()
    }
    #[cfg(not(any(feature = "detect", racedet_detect)))]
    {
        Vec::new()
    }
}

/// Distinct races reported so far in this process (not reduced by
/// [`take`]); 0 without the `detect` feature.
pub fn count() -> usize {
    #[cfg(any(feature = "detect", racedet_detect))]
    {
        racedet_runtime::report_count()
    }
    #[cfg(not(any(feature = "detect", racedet_detect)))]
    {
        0
    }
}
