//! `--by-placement`: the workloads' ratios in each placement of the
//! machine's cores. A table run measures a row's runs one after another,
//! and on a shared virtual machine the host may move the virtual CPUs
//! closer together or further apart meanwhile (see `placement`), so a row
//! can mix placements, and one run rarely catches the far placement for
//! all its rows. Here every round measures the round trip and then one
//! plain and one detected run of a workload back to back, and rounds are
//! grouped by their round trip. A group's ratio is the median of its
//! rounds' ratios: a placement change between rounds moves no figure, and
//! one during a round moves one sample of many.

use crate::harness::{median, run_child, Mode};
use crate::placement;
use std::time::{Duration, Instant};

/// Which group a round belongs to.
#[derive(Copy, Clone, PartialEq, Eq)]
pub enum Placement {
    /// Round trip below the `--far-ns` threshold.
    Near,
    /// At or above it.
    Far,
}

impl Placement {
    pub fn as_str(self) -> &'static str {
        match self {
            Placement::Near => "near",
            Placement::Far => "far",
        }
    }
}

/// One workload's rounds in one placement (medians; `None` without rounds).
pub struct Group {
    pub name: String,
    pub placement: Placement,
    pub rounds: usize,
    pub round_trip_ns: Option<f64>,
    pub plain_ns_per_op: Option<f64>,
    pub detected_ns_per_op: Option<f64>,
    /// Median of the rounds' detected/plain ratios.
    pub ratio: Option<f64>,
}

/// One round of one workload.
struct Round {
    round_trip: f64,
    plain: f64,
    detected: f64,
}

/// Runs rounds over `names` (each round visits every workload once) until
/// `minutes` have passed, and groups them. `None` with one CPU, where
/// there is no round trip to group by.
pub fn run(
    names: &[String],
    minutes: usize,
    far_ns: f64,
    spawn_threads: usize,
) -> Option<Vec<Group>> {
    let start = Instant::now();
    let end = start + Duration::from_secs(minutes as u64 * 60);
    let mut rounds: Vec<Vec<Round>> = names.iter().map(|_| Vec::new()).collect();
    let (mut far, mut reported) = (0, 0);
    while Instant::now() < end {
        for (name, done) in names.iter().zip(&mut rounds) {
            let round_trip = placement::round_trip_ns_of(placement::QUICK_TRIES)?;
            let plain = run_child(name, Mode::Plain, spawn_threads).0;
            let detected = run_child(name, Mode::Detected, spawn_threads).0;
            far += usize::from(round_trip >= far_ns);
            done.push(Round {
                round_trip,
                plain,
                detected,
            });
        }
        // A line a minute, so a long sitting shows it is alive and how
        // many far rounds it has caught.
        let minute = start.elapsed().as_secs() / 60;
        if minute > reported {
            reported = minute;
            let all: usize = rounds.iter().map(Vec::len).sum();
            eprintln!("{minute} of {minutes} min: {all} rounds, {far} far");
        }
    }
    let mut groups = Vec::new();
    for (name, done) in names.iter().zip(&rounds) {
        for placement in [Placement::Near, Placement::Far] {
            let of: Vec<&Round> = done
                .iter()
                .filter(|r| (r.round_trip >= far_ns) == (placement == Placement::Far))
                .collect();
            let med = |f: &dyn Fn(&Round) -> f64| {
                let mut v: Vec<f64> = of.iter().map(|r| f(r)).collect();
                (!v.is_empty()).then(|| median(&mut v))
            };
            groups.push(Group {
                name: name.clone(),
                placement,
                rounds: of.len(),
                round_trip_ns: med(&|r| r.round_trip),
                plain_ns_per_op: med(&|r| r.plain),
                detected_ns_per_op: med(&|r| r.detected),
                ratio: med(&|r| r.detected / r.plain),
            });
        }
    }
    Some(groups)
}
