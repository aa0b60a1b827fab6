//! `cargo racedet report [PATH...]`: read report files and run directories
//! (by default the latest run), merge them, filter, and print text, JSON or
//! SARIF.

use crate::cargo::{self, Workspace};
use crate::error::{Failure, Result, NOT_INSTRUMENTED, RACES_FOUND};
use crate::load;
use crate::races::Races;
use crate::run_dir::{RunInfo, Unchecked};
use crate::sarif;
use crate::summary::{self, plural, races_phrase};
use clap::ValueEnum;
use racedet_runtime::report::ReportKind;
use std::io::Write;
use std::path::PathBuf;

/// Output formats.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Go-style report blocks and a summary line.
    Text,
    /// JSON Lines: one report object per line, the runtime's own format (so
    /// the output can be read back by `cargo racedet report`).
    Json,
    /// SARIF 2.1.0, for code-scanning services.
    Sarif,
}

/// A report kind on the command line: its words, or its SARIF rule id.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    /// Two unordered map writes (also `concurrent-map-writes`).
    #[value(name = "concurrent map writes", alias = "concurrent-map-writes")]
    MapWrites,
    /// An unordered map read and write (also `concurrent-map-read-and-map-write`).
    #[value(
        name = "concurrent map read and map write",
        alias = "concurrent-map-read-and-map-write"
    )]
    MapReadWrite,
    /// An unordered iteration and write (also `concurrent-map-iteration-and-map-write`).
    #[value(
        name = "concurrent map iteration and map write",
        alias = "concurrent-map-iteration-and-map-write"
    )]
    MapIterationWrite,
    /// Any other race: cells, UnsafeCell, mixed atomic/plain (also `data-race`).
    #[value(name = "data race", alias = "data-race")]
    DataRace,
}

impl Kind {
    fn report_kind(self) -> ReportKind {
        match self {
            Kind::MapWrites => ReportKind::MapWrites,
            Kind::MapReadWrite => ReportKind::MapReadWrite,
            Kind::MapIterationWrite => ReportKind::MapIterationWrite,
            Kind::DataRace => ReportKind::DataRace,
        }
    }
}

/// What to report.
pub struct Request<'a> {
    /// Files and run directories; empty means the latest run.
    pub paths: &'a [PathBuf],
    /// Only these kinds (any of them), when given.
    pub kinds: &'a [Kind],
    /// Only races with a site whose file contains one of these.
    pub path_filters: &'a [String],
    /// Output format.
    pub format: Format,
    /// The project whose latest run to read when no path is given.
    pub manifest_path: Option<&'a str>,
}

/// Prints the merged reports; exit status 66 when any race is listed.
pub fn run(req: &Request) -> Result<i32> {
    let paths = if req.paths.is_empty() {
        let fix = match req.manifest_path {
            Some(_) => "fix --manifest-path, or pass a run directory instead",
            None => "pass --manifest-path, or a run directory such as target/racedet/runs/latest",
        };
        let ws = Workspace::find(req.manifest_path, fix)?;
        vec![crate::run_dir::latest_of(
            &cargo::runs_dir(&ws.target_dir),
            &ws.root,
        )?]
    } else {
        req.paths.to_vec()
    };
    let loaded = load::load(&paths)?;
    for note in &loaded.notes {
        eprintln!("racedet: note: {note}");
    }
    let files = loaded.files.len();
    let empty = !loaded.empty.is_empty();
    let runs = loaded.runs;
    // Processes their runtime stopped, in files given alone (a run's own
    // `unchecked` lists its stopped ones already).
    let loose: Vec<Unchecked> = loaded
        .fatal
        .iter()
        .filter(|f| {
            !runs
                .iter()
                .any(|r| Some(r.dir.as_path()) == f.file.parent())
        })
        .map(|f| f.unchecked(&f.program))
        .collect();
    let mut races = Races::merge(loaded.reports, &loaded.taken);
    races.note_taken_elsewhere(&loaded.taken_elsewhere);
    let before = races.len();
    let kinds: Vec<ReportKind> = req.kinds.iter().map(|k| k.report_kind()).collect();
    races.retain(|r| {
        (kinds.is_empty() || kinds.contains(&r.kind))
            && (req.path_filters.is_empty()
                || req.path_filters.iter().any(|p| {
                    r.current.site.file.contains(p.as_str())
                        || r.previous.site.file.contains(p.as_str())
                }))
    });

    let name = |program: &str| {
        runs.iter()
            .find_map(|run| run.binary_name(program))
            .map(str::to_string)
            .unwrap_or_else(|| program.to_string())
    };
    let mut out = std::io::stdout().lock();
    let written =
        write_races(&mut out, req.format, &races, before, files, &name).and_then(|()| out.flush());
    // A report cut short (a full disk, a closed pipe) must not pass for one
    // that lists every race, or for a clean one.
    written.map_err(|e| {
        Failure::input(format!(
            "cannot write the report to stdout: {e} (free space where it goes, or send it \
             elsewhere)"
        ))
    })?;
    if req.format != Format::Text {
        eprint!("{}", summary::taken(&races, "note: not listed: ", &name));
    }
    let mut incomplete = !loose.is_empty();
    for run in &runs {
        incomplete |= say_what_was_not_checked(run);
    }
    crate::run::say_unchecked(&loose, &mut std::io::stderr());
    let lost = empty || runs.iter().any(|run| run.reports_lost(false));
    Ok(if !races.is_empty() || lost {
        RACES_FOUND
    } else if incomplete {
        NOT_INSTRUMENTED
    } else {
        0
    })
}

/// Says what of `run` was not checked (never let an unchecked binary pass
/// for a clean one): binaries that are not instrumented, those whose run
/// did not check through, a run that did not finish. True when the run
/// checked less than it was asked to: then no race found is no verdict.
fn say_what_was_not_checked(run: &RunInfo) -> bool {
    let missing: Vec<_> = run.binaries.iter().filter(|b| !b.instrumented).collect();
    if !missing.is_empty() {
        eprintln!(
            "racedet: note: this run had {} that nothing was checked in: {}",
            plural(
                missing.len(),
                "test binary not instrumented",
                "test binaries not instrumented"
            ),
            missing
                .iter()
                .map(|b| b.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    crate::run::say_unchecked(&run.unchecked, &mut std::io::stderr());
    let unfinished = run.runner_status.is_none();
    if unfinished {
        eprintln!(
            "racedet: warning: run {} did not finish (interrupted, or still running): its \
             reports cover only the tests that ran",
            run.dir.display()
        );
    }
    let nothing = !run.binaries.is_empty() && missing.len() == run.binaries.len();
    unfinished || nothing || !run.unchecked.is_empty()
}

fn write_races(
    out: &mut dyn Write,
    format: Format,
    races: &Races,
    before: usize,
    files: usize,
    name: &dyn Fn(&str) -> String,
) -> std::io::Result<()> {
    match format {
        Format::Text => {
            for race in races.iter() {
                write!(out, "{}", race.report.to_text())?;
            }
            let filtered = if before != races.len() {
                format!(" ({before} before filtering)")
            } else {
                String::new()
            };
            writeln!(
                out,
                "racedet: {}{filtered} in {}",
                races_phrase(races.len()),
                plural(files, "report file", "report files")
            )?;
            write!(out, "{}", summary::taken(races, "not listed: ", name))?;
        }
        Format::Json => {
            for race in races.iter() {
                let line = serde_json::to_string(&race.report).expect("reports serialize");
                writeln!(out, "{line}")?;
            }
        }
        Format::Sarif => {
            let log =
                serde_json::to_string_pretty(&sarif::render(races)).expect("SARIF serializes");
            writeln!(out, "{log}")?;
        }
    }
    Ok(())
}
