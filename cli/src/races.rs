//! Reports merged across processes, files and machines, one entry per
//! distinct race (the runtime's dedup key: kind and the pair of sites).

use crate::load::Found;
use racedet_runtime::report::{PairKey, Report};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One distinct race and where it was seen.
#[derive(Clone, Debug)]
pub struct Race {
    /// The first report of it read (all share kind and sites).
    pub report: Report,
    /// File names of the programs that reported it.
    pub programs: BTreeSet<String>,
    /// Processes that reported it: (report file, pid). The file is part of
    /// the key because pids repeat across machines.
    pub processes: BTreeSet<(PathBuf, u32)>,
}

/// Distinct races, ordered by their key (kind, then sites), so output does
/// not depend on which process wrote first.
#[derive(Clone, Debug, Default)]
pub struct Races {
    by_key: BTreeMap<PairKey, Race>,
    /// Races every reporting process took with `racedet::reports::take`:
    /// tests that expect them. As for the runtime's exit status, they do
    /// not count; they are only mentioned.
    expected: BTreeMap<PairKey, Race>,
    /// Expected races some process took on a thread unrelated to the race
    /// (another test's `take()`): said apart, since the test that made one
    /// may not have expected it.
    taken_elsewhere: BTreeSet<PairKey>,
}

impl Races {
    /// Merges reports, keeping the first of each pair of sites. `taken`
    /// lists the (report file, race) pairs a process took.
    pub fn merge(found: impl IntoIterator<Item = Found>, taken: &[(PathBuf, PairKey)]) -> Races {
        let taken: BTreeSet<(&Path, &PairKey)> =
            taken.iter().map(|(f, k)| (f.as_path(), k)).collect();
        let mut by_key: BTreeMap<PairKey, Race> = BTreeMap::new();
        let mut expected: BTreeMap<PairKey, Race> = BTreeMap::new();
        for Found { report, file } in found {
            let key = report.pair_key();
            let into = if taken.contains(&(file.as_path(), &key)) {
                &mut expected
            } else {
                &mut by_key
            };
            let race = into.entry(key).or_insert_with(|| Race {
                report: report.clone(),
                programs: BTreeSet::new(),
                processes: BTreeSet::new(),
            });
            race.programs.insert(report.program.clone());
            race.processes.insert((file, report.pid));
        }
        // Taken by one process but not by another: it counts.
        expected.retain(|k, _| !by_key.contains_key(k));
        Races {
            by_key,
            expected,
            taken_elsewhere: BTreeSet::new(),
        }
    }

    /// Notes the races a process took on a thread unrelated to them.
    pub fn note_taken_elsewhere(&mut self, keys: &[PairKey]) {
        self.taken_elsewhere.extend(
            keys.iter()
                .filter(|k| self.expected.contains_key(k))
                .cloned(),
        );
    }

    /// The expected races that were taken on an unrelated thread.
    pub fn taken_elsewhere(&self) -> impl Iterator<Item = &Race> {
        self.expected
            .iter()
            .filter(|(k, _)| self.taken_elsewhere.contains(k))
            .map(|(_, race)| race)
    }

    /// How many distinct races only tests that expected them saw.
    pub fn expected(&self) -> usize {
        self.expected.len()
    }

    /// Keeps only the races `keep` accepts.
    pub fn retain(&mut self, mut keep: impl FnMut(&Report) -> bool) {
        self.by_key.retain(|_, race| keep(&race.report));
        self.expected.retain(|_, race| keep(&race.report));
    }

    /// The races, in key order.
    pub fn iter(&self) -> impl Iterator<Item = &Race> {
        self.by_key.values()
    }

    /// How many distinct races.
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// Distinct races reported by `program`.
    pub fn count_in(&self, program: &str) -> usize {
        self.iter().filter(|r| r.programs.contains(program)).count()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use racedet_runtime::report::{Access, Object, ReportKind, SourceSite, ThreadRef};

    fn report(line: u32) -> Report {
        let access = |line| Access {
            write: true,
            atomic: false,
            op: "insert".into(),
            map_part: None,
            thread: ThreadRef { id: 1, name: None },
            site: SourceSite {
                file: "src/lib.rs".into(),
                line,
                column: 5,
            },
            stack: Vec::new(),
        };
        Report {
            kind: ReportKind::MapWrites,
            current: access(line),
            previous: access(1),
            object: Object {
                kind: "map".into(),
                address: "0x1".into(),
                created_at: None,
                created_stack: Vec::new(),
            },
            threads: Vec::new(),
            previous_stack_note: None,
            pid: 7,
            program: "t-1".into(),
            racedet_version: "0.1.0".into(),
        }
    }

    pub(crate) fn found(line: u32, file: &str) -> Found {
        Found {
            report: report(line),
            file: file.into(),
        }
    }

    #[test]
    fn the_same_pair_from_two_files_is_one_race_of_two_processes() {
        let races = Races::merge([found(2, "a/report.7"), found(2, "b/report.7")], &[]);
        assert_eq!(races.len(), 1);
        assert_eq!(races.iter().next().unwrap().processes.len(), 2);
    }

    #[test]
    fn a_race_every_process_took_is_expected_not_counted() {
        let taken = vec![(PathBuf::from("a/report.7"), report(2).pair_key())];
        let races = Races::merge([found(2, "a/report.7"), found(3, "a/report.7")], &taken);
        assert_eq!(races.len(), 1);
        assert_eq!(races.expected(), 1);

        let races = Races::merge([found(2, "a/report.7"), found(2, "b/report.7")], &taken);
        assert_eq!((races.len(), races.expected()), (1, 0), "b did not take it");
    }
}
