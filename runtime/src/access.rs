//! The access path: check one access against a location's shadow, and turn
//! a race into a report.

use crate::global::runtime;
use crate::report::{
    self, Frame, MapPart, Object, Report, ReportKind, SourceSite, ThreadDesc, ThreadRef,
};
use crate::site::{Detail, Op, Part, Site};
use crate::stack::{self, StackId};
use crate::threads::{local, Local};
use racedet_detector::{AccessKind, Epoch, Race, RaceKind, Shadow, ThreadState};
use std::panic::Location;
use std::sync::atomic::Ordering;

/// The shadow of one instrumented location.
pub type ShadowCell = Shadow<Site>;

/// What reports say about the object a location belongs to. Built only when
/// a race is reported.
#[derive(Clone, Debug)]
pub struct ObjectInfo {
    /// `map`, `cell`, `unsafe cell`, `atomic`.
    pub kind: &'static str,
    /// The object's address.
    pub address: usize,
    /// Where it was created, if known.
    pub created_at: Option<&'static Location<'static>>,
    /// Creation stack (0 = none).
    pub created_stack: StackId,
}

/// The epoch an access is stamped with: the thread's current one, or an
/// open span's (see `span.rs`), for an access that lasts while the
/// operation runs user code.
#[derive(Copy, Clone, Debug)]
pub enum Stamp {
    /// The calling thread's current epoch.
    Now,
    /// A span's stamp.
    At(Epoch),
}

impl Stamp {
    /// The epoch it stands for, for the thread of `state`.
    #[inline(always)]
    pub(crate) fn epoch(self, state: &ThreadState) -> Epoch {
        match self {
            Stamp::Now => state.epoch(),
            Stamp::At(e) => e,
        }
    }
}

/// Checks and records one access by the calling thread. Hot path: one
/// thread-local load, the shadow's O(1) fast path, no allocation, no lock
/// (the caller serializes access to `shadow`) — except under
/// `history=full`, where an access that is remembered captures its stack
/// into the shared depot.
#[inline(always)]
pub fn check(
    shadow: &mut ShadowCell,
    kind: AccessKind,
    detail: Detail,
    caller: &'static Location<'static>,
    object: &dyn Fn() -> ObjectInfo,
) {
    check_as(shadow, kind, Stamp::Now, detail, caller, object);
}

/// [`check`], the access stamped `stamp`.
#[inline(always)]
pub(crate) fn check_as(
    shadow: &mut ShadowCell,
    kind: AccessKind,
    stamp: Stamp,
    detail: Detail,
    caller: &'static Location<'static>,
    object: &dyn Fn() -> ObjectInfo,
) {
    // Straight-line code, not a closure through `with_local`: the closure
    // was compiled as a separate function whose prologue cost as much as
    // the shadow's fast path.
    let Some(l) = local() else { return };
    let epoch = stamp.epoch(&l.state);
    // Built only when the shadow stores it: under `history=full` the
    // stack capture is then skipped by every fast path that remembers
    // nothing new (a same-epoch access).
    let site = || site(l, caller, detail);
    let race = match kind {
        AccessKind::Read => shadow.read_at(&l.state, epoch, site),
        AccessKind::Write => shadow.write_at(&l.state, epoch, site),
        other => shadow.access(&l.state, other, site()),
    };
    if let Some(race) = race {
        on_race(l, race, object);
    }
}

/// [`check_as`] for a location that is a whole object of `kind` (a cell,
/// an atomic) at `address`, created at `created_at`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub fn check_object(
    shadow: &mut ShadowCell,
    access: AccessKind,
    stamp: Stamp,
    op: Op,
    at: &'static Location<'static>,
    kind: &'static str,
    address: usize,
    created_at: &'static Location<'static>,
) {
    check_as(shadow, access, stamp, detail(op), at, &|| ObjectInfo {
        kind,
        address,
        created_at: Some(created_at),
        created_stack: 0,
    });
}

/// A plain read or write.
#[inline(always)]
pub fn plain_access(write: bool) -> AccessKind {
    if write {
        AccessKind::Write
    } else {
        AccessKind::Read
    }
}

/// What the shadow remembers of an access by `l` at `caller`.
#[inline(always)]
pub(crate) fn site(l: &Local, caller: &'static Location<'static>, detail: Detail) -> Site {
    Site {
        location: caller,
        thread: l.id32,
        stack: if l.history_full { capture_stack() } else { 0 },
        detail,
    }
}

#[cold]
fn capture_stack() -> StackId {
    runtime().stacks.capture()
}

#[cold]
#[inline(never)]
fn on_race(l: &Local, race: Race<Site>, object: &dyn Fn() -> ObjectInfo) {
    let rt = runtime();
    if rt
        .reporter
        .already(race.current.site.location, race.previous.site.location)
    {
        return;
    }
    let report = build(l, &race, &object());
    let previous_root = rt.threads.lookup(race.previous.site.thread).map(|i| i.root);
    rt.reporter
        .submit(report, [Some(l.info.root), previous_root]);
}

fn source(loc: &Location<'_>, shorten: &impl Fn(&str) -> String) -> SourceSite {
    SourceSite {
        file: shorten(loc.file()),
        line: loc.line(),
        column: loc.column(),
    }
}

fn map_part(detail: Detail) -> Option<MapPart> {
    match detail.part() {
        Part::None => None,
        Part::Header => Some(MapPart::Header),
        Part::All => Some(MapPart::All {
            of: detail.buckets(),
        }),
        Part::Bucket(b) => Some(MapPart::Bucket {
            bucket: b,
            of: detail.buckets(),
        }),
    }
}

fn kind_of(race: &Race<Site>, object: &ObjectInfo) -> ReportKind {
    if object.kind != "map" {
        return ReportKind::DataRace;
    }
    let (cur, prev) = (
        race.current.site.detail.operation(),
        race.previous.site.detail.operation(),
    );
    if race.kind() == RaceKind::WriteWrite {
        ReportKind::MapWrites
    } else if cur.is_iteration() || prev.is_iteration() {
        ReportKind::MapIterationWrite
    } else {
        ReportKind::MapReadWrite
    }
}

fn build(l: &Local, race: &Race<Site>, object: &ObjectInfo) -> Report {
    let rt = runtime();
    let prev = &race.previous.site;
    let prev_info = rt.threads.lookup(prev.thread);
    // Every stack of the report is resolved in one go: one symbolizer run.
    let ips = [
        rt.stacks.capture(),
        l.info.created,
        prev_info.as_ref().map_or(0, |i| i.created),
        prev.stack,
        object.created_stack,
    ]
    .map(|id| rt.stacks.get(id));
    let (
        [current_stack, current_created, previous_created, previous_stack, object_created],
        unsymbolized,
    ) = stack::resolve(ips.each_ref().map(|s| &s[..]), &rt.options.symbolizer);
    // Why a thread's creation stack is empty when it was taken.
    let thread_note = |id, created| {
        creation_note(id, created).or_else(|| {
            (id != 0 && unsymbolized)
                .then(|| "no stack: the program has no symbols (strip = true?)".to_string())
        })
    };
    // Exact sites (`#[track_caller]`) are relative to the crate or workspace
    // root while debug info paths are absolute; the root the top frame
    // reveals comes off both, and the user's prefix after (`stack::shorten`).
    let root = source_root(&current_stack, race.current.site.location.file());
    let user_prefix = rt.options.strip_path_prefix.as_deref();
    let shorten = |path: &str| stack::shorten(path, root.as_deref(), user_prefix);
    let stripped = |mut frames: Vec<Frame>| {
        for f in &mut frames {
            if let Some(site) = &mut f.site {
                site.file = shorten(&site.file);
            }
        }
        frames
    };
    let current_thread = ThreadRef {
        id: l.info.id,
        name: l.info.name.clone(),
    };
    let previous_thread = match &prev_info {
        Some(i) => ThreadRef {
            id: i.id,
            name: i.name.clone(),
        },
        None => ThreadRef {
            id: prev.thread as u64,
            name: None,
        },
    };
    let access =
        |a: &racedet_detector::Access<Site>, thread: ThreadRef, stack: Vec<Frame>| report::Access {
            write: a.kind.is_write(),
            atomic: a.kind.is_atomic(),
            op: a.site.detail.operation().name().to_string(),
            map_part: map_part(a.site.detail),
            thread,
            site: source(a.site.location, &shorten),
            stack,
        };
    let mut threads = vec![ThreadDesc {
        thread: current_thread.clone(),
        finished: false,
        created_stack: stripped(current_created),
        note: thread_note(l.info.id, l.info.created),
    }];
    if previous_thread != current_thread {
        threads.push(match &prev_info {
            Some(i) => ThreadDesc {
                thread: previous_thread.clone(),
                finished: i.finished.load(Ordering::Relaxed),
                created_stack: stripped(previous_created),
                note: thread_note(i.id, i.created),
            },
            None => ThreadDesc {
                thread: previous_thread.clone(),
                finished: true,
                created_stack: Vec::new(),
                note: Some("thread ended long ago; its details are no longer kept".into()),
            },
        });
    }
    let previous_stack = stripped(previous_stack);
    // The hint only where it helps: under `history=full` an empty stack
    // means every frame was racedet's or std's, not that none was kept.
    let previous_stack_note = (prev.stack == 0).then(|| {
        "previous access: exact site only; run with RACEDET_OPTIONS=history=full for its full stack"
            .to_string()
    });
    Report {
        kind: kind_of(race, object),
        current: access(&race.current, current_thread, stripped(current_stack)),
        previous: access(&race.previous, previous_thread, previous_stack),
        object: Object {
            kind: object.kind.to_string(),
            address: format!("{:#x}", object.address),
            created_at: object.created_at.map(|c| source(c, &shorten)),
            created_stack: stripped(object_created),
        },
        threads,
        previous_stack_note,
        pid: std::process::id(),
        program: program_name(),
        racedet_version: env!("CARGO_PKG_VERSION").to_string(),
    }
}

/// The file name of this process's program, as reports name it.
pub(crate) fn program_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default()
}

/// The directory that, prefixed to `relative` (an exact site), gives the
/// absolute path of some frame of `frames`.
fn source_root(frames: &[Frame], relative: &str) -> Option<String> {
    frames.iter().find_map(|f| {
        let file = &f.site.as_ref()?.file;
        let root = file.strip_suffix(relative)?;
        (root.ends_with('/') && root.starts_with('/')).then(|| root.to_string())
    })
}

fn creation_note(id: u64, created: StackId) -> Option<String> {
    (id != 0 && created == 0)
        .then(|| "not spawned through racedet::thread; creation stack unknown".to_string())
}

/// Reports made so far in this process, drained.
pub fn take_reports() -> Vec<Report> {
    // The process's main thread is related to every race; another thread
    // (a test's) to those its root's threads took part in.
    let taker = local().map(|l| (l.info.id == 0, l.info.root));
    runtime().reporter.take(|roots| match taker {
        Some((true, _)) => true,
        Some((false, root)) => roots.contains(&Some(root)),
        None => false,
    })
}

/// Distinct reports made so far in this process.
pub fn report_count() -> usize {
    runtime().reporter.count()
}

/// Convenience for wrappers: the detail of a non-map access.
#[inline]
pub fn detail(op: Op) -> Detail {
    Detail::op(op)
}
