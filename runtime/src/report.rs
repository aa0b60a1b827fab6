//! The report data model, its Go-style text rendering and its JSON form.
//!
//! Shared by the runtime (which makes reports) and `cargo racedet` (which
//! reads JSON reports back, merges them and renders them again), so both
//! print exactly the same text.

use serde::{Deserialize, Serialize};
use std::fmt::{self, Write as _};

/// What raced, in the Go runtime's words for maps.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ReportKind {
    /// Two unordered map writes.
    #[serde(rename = "concurrent map writes")]
    MapWrites,
    /// An unordered map read and map write.
    #[serde(rename = "concurrent map read and map write")]
    MapReadWrite,
    /// An unordered map iteration and map write.
    #[serde(rename = "concurrent map iteration and map write")]
    MapIterationWrite,
    /// Any other race (cells, UnsafeCell, mixed atomic/plain access).
    #[serde(rename = "data race")]
    DataRace,
}

impl ReportKind {
    /// The words printed after `WARNING: DATA RACE:` (and used in JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            ReportKind::MapWrites => "concurrent map writes",
            ReportKind::MapReadWrite => "concurrent map read and map write",
            ReportKind::MapIterationWrite => "concurrent map iteration and map write",
            ReportKind::DataRace => "data race",
        }
    }

    /// Every kind, in report order (SARIF lists them as rules).
    pub const ALL: [ReportKind; 4] = [
        ReportKind::MapWrites,
        ReportKind::MapReadWrite,
        ReportKind::MapIterationWrite,
        ReportKind::DataRace,
    ];
}

impl fmt::Display for ReportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A source position.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SourceSite {
    /// File path (after `strip_path_prefix`).
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column; 0 when unknown (addr2line gives none).
    pub column: u32,
}

impl fmt::Display for SourceSite {
    /// `file:line:column`, or `file:line` when the column is unknown (a
    /// `:0` would read as a real column).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.column {
            0 => write!(f, "{}:{}", self.file, self.line),
            column => write!(f, "{}:{}:{column}", self.file, self.line),
        }
    }
}

/// One resolved stack frame.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frame {
    /// Demangled function name, without the hash.
    pub function: String,
    /// Source position, when debug info has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<SourceSite>,
}

/// A thread as reports name it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ThreadRef {
    /// 0 for the main thread, then 1, 2, ... in order of creation.
    pub id: u64,
    /// The thread's name, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl ThreadRef {
    /// `main thread`, `T2 'worker-1'` or `T3`.
    pub fn label(&self) -> String {
        if self.id == 0 {
            return "main thread".to_string();
        }
        match &self.name {
            Some(n) => format!("T{} '{}'", self.id, n),
            None => format!("T{}", self.id),
        }
    }
}

/// Which part of a map an access touched.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "scope")]
pub enum MapPart {
    /// One bucket of `of`.
    Bucket {
        /// Bucket index.
        bucket: u32,
        /// Bucket count at the time.
        of: u32,
    },
    /// Every bucket (iteration, growth, clear).
    All {
        /// Bucket count at the time.
        of: u32,
    },
    /// Only the header (len, is_empty).
    Header,
}

impl fmt::Display for MapPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MapPart::Bucket { bucket, of } => write!(f, "bucket {bucket} of {of}"),
            MapPart::All { of } => write!(f, "all {of} buckets"),
            MapPart::Header => write!(f, "header"),
        }
    }
}

/// One side of a race.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Access {
    /// Whether it wrote.
    pub write: bool,
    /// Whether it was atomic.
    pub atomic: bool,
    /// The operation (`insert`, `get`, `range`, `set`, `with_mut`, `load`...).
    pub op: String,
    /// The part of a map touched (maps only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map_part: Option<MapPart>,
    /// Who accessed.
    pub thread: ThreadRef,
    /// Exact site of the access (the caller of the racedet method).
    pub site: SourceSite,
    /// Full stack, user frames first (empty when not kept).
    #[serde(default)]
    pub stack: Vec<Frame>,
}

/// What was accessed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Object {
    /// `map`, `cell`, `unsafe cell` or `atomic`.
    pub kind: String,
    /// Address, `0x...`.
    pub address: String,
    /// Where it was created, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<SourceSite>,
    /// Stack of its creation (empty when not kept).
    #[serde(default)]
    pub created_stack: Vec<Frame>,
}

/// A thread that took part, with where it was created.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadDesc {
    /// Which thread.
    pub thread: ThreadRef,
    /// Whether it had ended when the report was made.
    pub finished: bool,
    /// Stack of the spawn call (empty for the main thread or when no
    /// longer kept).
    #[serde(default)]
    pub created_stack: Vec<Frame>,
    /// Why `created_stack` is empty, when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// One distinct race.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// What raced.
    pub kind: ReportKind,
    /// The access that completed the race.
    pub current: Access,
    /// The earlier access it raced with.
    pub previous: Access,
    /// The location.
    pub object: Object,
    /// Current thread first, then the previous one (if different).
    pub threads: Vec<ThreadDesc>,
    /// Said when the previous stack is not kept (how to get it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_stack_note: Option<String>,
    /// Process that made the report.
    #[serde(default)]
    pub pid: u32,
    /// File name of the program (test binary) that made it.
    #[serde(default)]
    pub program: String,
    /// Version of the runtime that made it.
    #[serde(default)]
    pub racedet_version: String,
}

/// Dedup key of a report: its kind and the unordered pair of sites.
pub type PairKey = (ReportKind, SourceSite, SourceSite);

impl Report {
    /// The key under which the same race is counted once, whichever side
    /// came second.
    pub fn pair_key(&self) -> PairKey {
        let (a, b) = (self.current.site.clone(), self.previous.site.clone());
        if a <= b {
            (self.kind, a, b)
        } else {
            (self.kind, b, a)
        }
    }

    /// The Go-style text block, between `==================` lines.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        s.push_str("==================\n");
        let _ = writeln!(s, "WARNING: DATA RACE: {}", self.kind);
        self.access_text(&mut s, &self.current, false);
        s.push('\n');
        self.access_text(&mut s, &self.previous, true);
        if let Some(note) = &self.previous_stack_note {
            let _ = writeln!(s, "  ({note})");
        }
        s.push('\n');
        let what = capitalize(&self.object.kind);
        if let Some(created) = &self.object.created_at {
            let _ = writeln!(s, "{what} created at:");
            site_and_frames(&mut s, created, &self.object.created_stack);
            s.push('\n');
        }
        for t in &self.threads {
            let status = if t.finished { "finished" } else { "running" };
            if t.thread.id == 0 {
                let _ = writeln!(s, "Main thread ({status}).");
                s.push('\n');
                continue;
            }
            let _ = writeln!(s, "Thread {} ({status}) created at:", t.thread.label());
            if t.created_stack.is_empty() {
                let _ = writeln!(
                    s,
                    "  ({})",
                    t.note.as_deref().unwrap_or("creation stack not available")
                );
            } else {
                frames_text(&mut s, &t.created_stack);
            }
            s.push('\n');
        }
        if self.stacks_without_lines() {
            s.push_str(NO_LINE_TABLES);
            s.push('\n');
        }
        s.push_str("==================\n");
        s
    }

    /// Whether some stack of the report has frames but not one file:line:
    /// the program was built without line tables (`debug = 0`, cargo's
    /// `--release`), so only the exact sites say where things happened.
    fn stacks_without_lines(&self) -> bool {
        [
            &self.current.stack,
            &self.previous.stack,
            &self.object.created_stack,
        ]
        .into_iter()
        .chain(self.threads.iter().map(|t| &t.created_stack))
        .any(|st| !st.is_empty() && st.iter().all(|f| f.site.is_none()))
    }

    fn access_text(&self, s: &mut String, a: &Access, previous: bool) {
        let rw = match (a.atomic, a.write) {
            (false, true) => "write",
            (false, false) => "read",
            (true, true) => "atomic write",
            (true, false) => "atomic read",
        };
        let head = if previous {
            format!("Previous {rw}")
        } else {
            capitalize(rw)
        };
        let part = a
            .map_part
            .as_ref()
            .map(|p| format!(" ({p})"))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "{head} at {} {}{part} by {} in `{}`:",
            self.object.kind,
            self.object.address,
            thread_phrase(&a.thread),
            a.op
        );
        site_and_frames(s, &a.site, &a.stack);
    }
}

fn thread_phrase(t: &ThreadRef) -> String {
    if t.id == 0 {
        "main thread".to_string()
    } else {
        format!("thread {}", t.label())
    }
}

/// Said under a report some of whose stacks have no file:line.
const NO_LINE_TABLES: &str = "(stacks without file:line: the program has no line tables; \
     debug = \"line-tables-only\" in its Cargo profile adds them, unless strip removes them)";

/// An exact site with the stack it is in. The site goes first when no
/// frame carries its line (no stack kept, or a program without line
/// tables), so the report always names the line.
fn site_and_frames(s: &mut String, site: &SourceSite, frames: &[Frame]) {
    let shown = frames.iter().any(|f| {
        f.site
            .as_ref()
            .is_some_and(|f| f.file == site.file && f.line == site.line)
    });
    if !shown {
        let _ = writeln!(s, "  {site}");
    }
    frames_text(s, frames);
}

fn frames_text(s: &mut String, frames: &[Frame]) {
    for f in frames {
        let _ = writeln!(s, "  {}", f.function);
        if let Some(site) = &f.site {
            let _ = writeln!(s, "      {site}");
        }
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(line: u32) -> SourceSite {
        SourceSite {
            file: "src/lib.rs".into(),
            line,
            column: 5,
        }
    }

    fn frame(function: &str, line: Option<u32>) -> Frame {
        Frame {
            function: function.into(),
            site: line.map(site),
        }
    }

    /// A cell race whose current access has `stack`, and whose cell was
    /// made at line 3 in a frame with `created`.
    fn report(stack: Vec<Frame>, created: Vec<Frame>) -> Report {
        let access = |line: u32, stack| Access {
            write: true,
            atomic: false,
            op: "set".into(),
            map_part: None,
            thread: ThreadRef {
                id: u64::from(line),
                name: None,
            },
            site: site(line),
            stack,
        };
        Report {
            kind: ReportKind::DataRace,
            current: access(1, stack),
            previous: access(2, Vec::new()),
            object: Object {
                kind: "cell".into(),
                address: "0x10".into(),
                created_at: Some(site(3)),
                created_stack: created,
            },
            threads: Vec::new(),
            previous_stack_note: None,
            pid: 1,
            program: "t".into(),
            racedet_version: "0.1.0".into(),
        }
    }

    #[test]
    fn the_exact_sites_are_printed_when_no_frame_has_their_line() {
        // A program without line tables: frames have names only.
        let text = report(
            vec![frame("app::bump", None)],
            vec![frame("app::main", None)],
        )
        .to_text();
        assert!(
            text.contains("by thread T1 in `set`:\n  src/lib.rs:1:5\n  app::bump\n"),
            "{text}"
        );
        assert!(
            text.contains("Previous write at cell 0x10 by thread T2 in `set`:\n  src/lib.rs:2:5\n"),
            "{text}"
        );
        assert!(
            text.contains("Cell created at:\n  src/lib.rs:3:5\n  app::main\n"),
            "{text}"
        );
        assert!(text.contains(NO_LINE_TABLES), "{text}");
    }

    #[test]
    fn a_frame_with_the_exact_line_stands_for_the_site() {
        let text = report(
            vec![frame("app::bump", Some(1)), frame("app::run", Some(9))],
            vec![frame("app::main", Some(3))],
        )
        .to_text();
        assert!(
            text.contains("in `set`:\n  app::bump\n      src/lib.rs:1:5\n  app::run\n"),
            "{text}"
        );
        assert!(
            text.contains("Cell created at:\n  app::main\n      src/lib.rs:3:5\n\n"),
            "{text}"
        );
        assert!(!text.contains(NO_LINE_TABLES), "{text}");
    }

    #[test]
    fn a_site_without_a_column_prints_file_and_line_only() {
        let site = |column| super::SourceSite {
            file: "src/lib.rs".into(),
            line: 7,
            column,
        };
        assert_eq!(site(13).to_string(), "src/lib.rs:7:13");
        assert_eq!(site(0).to_string(), "src/lib.rs:7");
    }
}
