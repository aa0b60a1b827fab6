//! The summary that ends `cargo racedet test`: one entry per distinct race,
//! with its kind, both sites, their threads, and the binaries and number of
//! processes that hit it.

use crate::races::{Race, Races};
use racedet_runtime::report::Access;
use std::fmt::Write as _;

/// `1 data race` / `2 data races`.
pub fn races_phrase(n: usize) -> String {
    plural(n, "distinct data race", "distinct data races")
}

/// `1 process` / `3 processes`, and the like.
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The grouped summary. `binary_name` turns a report's `program` (a file
/// name) into what the user knows it as (`pkg: tests/foo.rs`).
pub fn render(races: &Races, binary_name: &dyn Fn(&str) -> String) -> String {
    let mut s = String::new();
    for (i, race) in races.iter().enumerate() {
        entry(&mut s, i + 1, race, binary_name);
    }
    s
}

/// What is said of the races programs took with `racedet::reports::take`
/// (not counted, as for the runtime's exit status; `lead` is put before
/// the count), naming those taken on a thread unrelated to the race: in a
/// test binary, another test's `take()` may have drained a race its own
/// test did not expect.
pub fn taken(races: &Races, lead: &str, binary_name: &dyn Fn(&str) -> String) -> String {
    let mut s = String::new();
    if races.expected() == 0 {
        return s;
    }
    let _ = writeln!(
        s,
        "racedet: {lead}{} taken by racedet::reports::take (expected by the program): not counted",
        races_phrase(races.expected())
    );
    let elsewhere: Vec<&Race> = races.taken_elsewhere().collect();
    if !elsewhere.is_empty() {
        let _ = writeln!(
            s,
            "racedet: warning: {} of them on a thread unrelated to the race (another test's \
             take()? it drains every report still pending in the process; threads racedet \
             did not spawn, such as std::thread::scope's, count as unrelated too): check that \
             the test that made it expected it, or run one test per process (`cargo racedet \
             nextest`):",
            elsewhere.len()
        );
        for (i, race) in elsewhere.into_iter().enumerate() {
            entry(&mut s, i + 1, race, binary_name);
        }
    }
    s
}

fn entry(s: &mut String, n: usize, race: &Race, binary_name: &dyn Fn(&str) -> String) {
    let r = &race.report;
    let _ = writeln!(s, "  {n}. {}", r.kind);
    let _ = writeln!(s, "       {}", side(&r.current, false));
    let _ = writeln!(s, "       {}", side(&r.previous, true));
    let binaries: Vec<String> = race.programs.iter().map(|p| binary_name(p)).collect();
    let _ = writeln!(
        s,
        "       in {} ({})",
        binaries.join(", "),
        plural(race.processes.len(), "process", "processes")
    );
}

/// `previous write in `insert` by thread T2 at src/lib.rs:12:11`.
fn side(a: &Access, previous: bool) -> String {
    let head = if previous { "previous " } else { "" };
    format!("{head}{} at {}", access_phrase(a), a.site)
}

/// `write in `insert` by thread T2`: one side of a race in words.
pub fn access_phrase(a: &Access) -> String {
    let what = match (a.atomic, a.write) {
        (false, true) => "write",
        (false, false) => "read",
        (true, true) => "atomic write",
        (true, false) => "atomic read",
    };
    let who = if a.thread.id == 0 {
        "the main thread".to_string()
    } else {
        format!("thread {}", a.thread.label())
    };
    format!("{what} in `{}` by {who}", a.op)
}
