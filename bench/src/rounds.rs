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
//!
//! Rounds whose round trip is in neither placement's band form a third
//! group, "unsteady": on this machine a round trip between the bands
//! (90-250 ns) or far above them (580 ns to several microseconds) came
//! with plain runs faster than near ones (rwmap 18-25 ns/op against 35-41
//! near and 55-66 far) and ratios of about 1.9x for every build — the host
//! had stopped one of the virtual CPUs part of the time, and the process
//! ran as on one CPU, where no cache line moves. Filed as far, they pulled
//! the far figures toward that. The group's median round trip mixes
//! readings from between and above the bands: it names no placement.

use crate::harness::{median, run_child, Mode};
use crate::placement;
use std::time::{Duration, Instant};

/// Which group a round belongs to.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum Placement {
    /// Round trip below `Split::near_ns`.
    Near,
    /// From `Split::far_ns` to below `Split::far_max_ns`.
    Far,
    /// Any other.
    Unsteady,
}

impl Placement {
    pub fn as_str(self) -> &'static str {
        match self {
            Placement::Near => "near",
            Placement::Far => "far",
            Placement::Unsteady => "unsteady",
        }
    }
}

/// The placements' bands of round trips in ns (`--near-ns`, `--far-ns`,
/// `--far-max-ns`): near below `near_ns`, far from `far_ns` to below
/// `far_max_ns`.
#[derive(Copy, Clone, Debug)]
pub struct Split {
    pub near_ns: f64,
    pub far_ns: f64,
    pub far_max_ns: f64,
}

impl Split {
    pub fn placement_of(self, round_trip: f64) -> Placement {
        if round_trip < self.near_ns {
            Placement::Near
        } else if (self.far_ns..self.far_max_ns).contains(&round_trip) {
            Placement::Far
        } else {
            Placement::Unsteady
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
#[derive(Clone, Copy)]
struct Round {
    round_trip: f64,
    plain: f64,
    detected: f64,
}

/// A group's figures are medians of at least this many rounds (as a table
/// run's are of at least 5 runs); a group with fewer shows its count only.
pub const MIN_ROUNDS: usize = 5;

/// One run of each mode, `(plain, detected)`. Which goes first alternates
/// with `round`, so that whatever a run's place in the round brings (the
/// state the previous process left, a placement that changes mid-round)
/// falls on both modes alike.
fn both_modes(round: usize, mut run: impl FnMut(Mode) -> f64) -> (f64, f64) {
    if round.is_multiple_of(2) {
        let plain = run(Mode::Plain);
        (plain, run(Mode::Detected))
    } else {
        let detected = run(Mode::Detected);
        (run(Mode::Plain), detected)
    }
}

/// Runs rounds over `names` (each round visits every workload once) until
/// `minutes` have passed, and groups them. `None` with one CPU, where
/// there is no round trip to group by.
pub fn run(
    names: &[String],
    minutes: usize,
    split: Split,
    spawn_threads: usize,
) -> Option<Vec<Group>> {
    placement::round_trip_ns_of(1)?;
    let start = Instant::now();
    // `minutes` is capped by the caller, so this neither overflows nor
    // leaves `Instant`'s range.
    let end = start + Duration::from_secs(minutes as u64 * 60);
    let mut rounds: Vec<Vec<Round>> = names.iter().map(|_| Vec::new()).collect();
    let (mut far, mut unsteady, mut reported) = (0, 0, 0);
    while Instant::now() < end {
        for (name, done) in names.iter().zip(&mut rounds) {
            // No reading (the process lost a CPU meanwhile): no round,
            // rather than one filed under a guess.
            let Some(round_trip) = placement::round_trip_ns_of(placement::QUICK_TRIES) else {
                continue;
            };
            let (plain, detected) =
                both_modes(done.len(), |mode| run_child(name, mode, spawn_threads).0);
            match split.placement_of(round_trip) {
                Placement::Near => {}
                Placement::Far => far += 1,
                Placement::Unsteady => unsteady += 1,
            }
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
            eprintln!("{minute} of {minutes} min: {all} rounds, {far} far, {unsteady} unsteady");
        }
    }
    Some(
        names
            .iter()
            .zip(&rounds)
            .flat_map(|(name, done)| group(name, done, split))
            .collect(),
    )
}

/// One workload's rounds, near, far and unsteady (see `Split`).
fn group(name: &str, rounds: &[Round], split: Split) -> [Group; 3] {
    [Placement::Near, Placement::Far, Placement::Unsteady].map(|placement| {
        let of: Vec<Round> = rounds
            .iter()
            .filter(|r| split.placement_of(r.round_trip) == placement)
            .copied()
            .collect();
        let med = |f: fn(&Round) -> f64| {
            let mut v: Vec<f64> = of.iter().map(f).collect();
            (v.len() >= MIN_ROUNDS).then(|| median(&mut v))
        };
        Group {
            name: name.to_string(),
            placement,
            rounds: of.len(),
            round_trip_ns: med(|r| r.round_trip),
            plain_ns_per_op: med(|r| r.plain),
            detected_ns_per_op: med(|r| r.detected),
            ratio: med(|r| r.detected / r.plain),
        }
    })
}

/// `--by-placement --json`'s object (README): the groups, with `null`
/// for a figure the table shows as `-`, and the bands in whole ns.
pub fn to_json(groups: &[Group], minutes: usize, split: Split) -> serde_json::Value {
    let groups: Vec<serde_json::Value> = groups
        .iter()
        .map(|g| {
            serde_json::json!({
                "name": g.name,
                "placement": g.placement.as_str(),
                "rounds": g.rounds,
                "round_trip_ns": g.round_trip_ns,
                "plain_ns_per_op": g.plain_ns_per_op,
                "detected_ns_per_op": g.detected_ns_per_op,
                "ratio": g.ratio,
            })
        })
        .collect();
    serde_json::json!({
        "by_placement": groups,
        "minutes": minutes,
        "near_ns": split.near_ns as u64,
        "far_ns": split.far_ns as u64,
        "far_max_ns": split.far_max_ns as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mode_that_runs_first_alternates_and_each_result_keeps_its_mode() {
        for (round, first) in [(0, Mode::Plain), (1, Mode::Detected), (2, Mode::Plain)] {
            let mut order = Vec::new();
            let got = both_modes(round, |mode| {
                order.push(mode);
                if mode == Mode::Plain {
                    10.0
                } else {
                    20.0
                }
            });
            assert_eq!(got, (10.0, 20.0), "round {round}");
            assert_eq!(order.len(), 2);
            assert_eq!(order[0], first, "round {round}");
            assert_ne!(order[1], first, "round {round}");
        }
    }

    fn round(round_trip: f64, plain: f64, detected: f64) -> Round {
        Round {
            round_trip,
            plain,
            detected,
        }
    }

    const SPLIT: Split = Split {
        near_ns: 90.0,
        far_ns: 250.0,
        far_max_ns: 450.0,
    };

    #[test]
    fn rounds_split_at_the_thresholds_and_each_group_takes_medians() {
        // Far from 250 ns on: the 250 ns round is far.
        let mut rounds = vec![round(250.0, 20.0, 30.0)];
        let detected = [30.0, 12.0, 13.0, 14.0, 15.0];
        for (i, d) in detected.into_iter().enumerate() {
            rounds.push(round(50.0 + i as f64, 10.0 + i as f64, d));
        }
        for _ in 0..4 {
            rounds.push(round(300.0, 20.0, 30.0));
        }
        // Far below 450 ns: the 449 ns round is, the 450 ns one not; nor
        // are those between the bands, from 90 ns to below 250.
        rounds.push(round(449.0, 20.0, 30.0));
        for rt in [450.0, 90.0, 249.0, 5000.0, 600.0] {
            rounds.push(round(rt, 10.0, 19.0));
        }
        let [near, far, unsteady] = group("w", &rounds, SPLIT);
        assert_eq!((near.placement, near.rounds), (Placement::Near, 5));
        assert_eq!(near.round_trip_ns, Some(52.0));
        assert_eq!(near.plain_ns_per_op, Some(12.0));
        assert_eq!(near.detected_ns_per_op, Some(14.0));
        // The median of the rounds' ratios (3, 1.09, 1.083, 1.077, 1.071),
        // not the ratio of the medians (14 / 12).
        assert_eq!(near.ratio, Some(13.0 / 12.0));
        assert_eq!((far.placement, far.rounds), (Placement::Far, 6));
        assert_eq!(far.ratio, Some(1.5));
        assert_eq!(far.round_trip_ns, Some(300.0));
        assert_eq!(
            (unsteady.placement, unsteady.rounds),
            (Placement::Unsteady, 5)
        );
        assert_eq!(unsteady.round_trip_ns, Some(450.0));
        assert_eq!(unsteady.ratio, Some(1.9));
    }

    #[test]
    fn a_group_of_fewer_than_five_rounds_shows_its_count_and_no_figures() {
        let rounds: Vec<Round> = (0..4).map(|_| round(300.0, 20.0, 30.0)).collect();
        let [near, far, unsteady] = group("w", &rounds, SPLIT);
        assert_eq!((near.rounds, far.rounds, unsteady.rounds), (0, 4, 0));
        for g in [near, far, unsteady] {
            assert_eq!(
                [
                    g.round_trip_ns,
                    g.plain_ns_per_op,
                    g.detected_ns_per_op,
                    g.ratio
                ],
                [None; 4]
            );
        }
    }

    #[test]
    fn the_json_object_has_the_readme_s_keys_and_null_for_missing_figures() {
        let mut rounds: Vec<Round> = (0..5).map(|i| round(60.0, 10.0, 12.0 + i as f64)).collect();
        rounds.push(round(300.0, 20.0, 30.0));
        let v = to_json(&group("rwmap", &rounds, SPLIT), 3, SPLIT);
        assert_eq!(v["minutes"], 3);
        assert_eq!(
            [&v["near_ns"], &v["far_ns"], &v["far_max_ns"]],
            [90, 250, 450]
        );
        let groups = v["by_placement"].as_array().expect("by_placement");
        let placements: Vec<&str> = groups
            .iter()
            .map(|g| g["placement"].as_str().expect("placement"))
            .collect();
        assert_eq!(placements, ["near", "far", "unsteady"]);
        let near = &groups[0];
        assert_eq!(near["name"], "rwmap");
        assert_eq!(near["rounds"], 5);
        assert_eq!(near["round_trip_ns"], 60.0);
        assert_eq!(near["plain_ns_per_op"], 10.0);
        assert_eq!(near["detected_ns_per_op"], 14.0);
        assert_eq!(near["ratio"], 1.4);
        // One far round: a count and no figures.
        assert_eq!(groups[1]["rounds"], 1);
        for key in [
            "round_trip_ns",
            "plain_ns_per_op",
            "detected_ns_per_op",
            "ratio",
        ] {
            assert!(groups[1][key].is_null(), "{key}");
        }
    }
}
