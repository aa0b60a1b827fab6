//! Helpers for racedet's scenario tests.
//!
//! Tests of one binary run in parallel threads of one process, and
//! `racedet::reports::take()` drains the whole process's reports. So every
//! test goes through [`reports_where`]: it moves whatever `take()` returns
//! into one shared store and hands each test only the reports it asks for
//! (by its own source lines), leaving the others for their tests.

use racedet::reports::Report;
use std::sync::Mutex;

static STORE: Mutex<Vec<Report>> = Mutex::new(Vec::new());

/// Removes and returns the stored reports matching `pred`.
pub fn reports_where(pred: impl Fn(&Report) -> bool) -> Vec<Report> {
    let mut store = STORE.lock().unwrap_or_else(|p| p.into_inner());
    store.extend(racedet::reports::take());
    let (mine, others): (Vec<Report>, Vec<Report>) = store.drain(..).partition(|r| pred(r));
    *store = others;
    mine
}

/// Whether either side of `r` is in `file` between lines `first..=last`.
pub fn touches(r: &Report, file: &str, first: u32, last: u32) -> bool {
    [&r.current.site, &r.previous.site]
        .iter()
        .any(|s| s.file.ends_with(file_name(file)) && (first..=last).contains(&s.line))
}

fn file_name(file: &str) -> &str {
    file.rsplit('/').next().unwrap_or(file)
}

/// The reports with a side in `file` between `first..=last`.
pub fn reports_between(file: &str, first: u32, last: u32) -> Vec<Report> {
    reports_where(|r| touches(r, file, first, last))
}

/// Asserts that no report has a side in `file` between `first..=last`.
#[track_caller]
pub fn assert_silent(file: &str, first: u32, last: u32) {
    let found = reports_between(file, first, last);
    assert!(
        found.is_empty(),
        "expected no race in {file}:{first}..={last}, got:\n{}",
        found.iter().map(|r| r.to_text()).collect::<String>()
    );
}

/// Asserts exactly one report whose two sites are `file:a` and `file:b` (in
/// either order) and returns it.
#[track_caller]
pub fn expect_race(file: &str, a: u32, b: u32) -> Report {
    let (lo, hi) = (a.min(b), a.max(b));
    let found = reports_where(|r| {
        let lines = {
            let (x, y) = (r.current.site.line, r.previous.site.line);
            (x.min(y), x.max(y))
        };
        r.current.site.file.ends_with(file_name(file))
            && r.previous.site.file.ends_with(file_name(file))
            && lines == (lo, hi)
    });
    assert_eq!(
        found.len(),
        1,
        "expected one race between {file}:{a} and {file}:{b}, got {}:\n{}",
        found.len(),
        found.iter().map(|r| r.to_text()).collect::<String>()
    );
    found.into_iter().next().unwrap()
}

/// Evaluates an access and returns the line it is on, so a test can name
/// the sites it expects in a report. `line!()` in a macro is the line of the
/// invocation, which is where the access's `#[track_caller]` site is, and
/// rustfmt keeps a short invocation on one line.
#[macro_export]
macro_rules! site {
    ($access:expr) => {{
        let line = line!();
        let _ = $access;
        line
    }};
}
