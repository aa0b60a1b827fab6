//! Stack capture (unresolved, deduplicated) and lazy resolution for reports.

use crate::options::Symbolizer;
use crate::report::{Frame, SourceSite};
use crate::symbolize;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// An interned stack: index into the depot, 0 = none.
pub type StackId = u32;

/// Frames captured at most (deeper frames are start-up code anyway).
const MAX_FRAMES: usize = 48;

/// Interned unresolved stacks. The same stack (e.g. the spawn site of every
/// thread of a spawn storm) is stored once, so memory follows the number
/// of *distinct* stacks, not of captures.
pub struct StackDepot {
    inner: Mutex<DepotInner>,
}

struct DepotInner {
    stacks: Vec<Arc<[usize]>>,
    index: HashMap<Arc<[usize]>, StackId>,
}

impl StackDepot {
    pub(crate) fn new() -> StackDepot {
        StackDepot {
            inner: Mutex::new(DepotInner {
                stacks: vec![Arc::from(Vec::new())],
                index: HashMap::new(),
            }),
        }
    }

    /// Captures the calling stack (instruction pointers only; symbols are
    /// resolved when a report prints) and interns it.
    #[inline(never)]
    pub fn capture(&self) -> StackId {
        let mut ips = [0usize; MAX_FRAMES];
        let mut n = 0;
        // The unwinder's own frames and this function's (with `trace`
        // inlined into it) come first: dropped here, so no report depends
        // on their names, which a program built with line tables only does
        // not have. How many they are is the same at every capture: found
        // once by this function's start address (a lookup per frame, which
        // a spawn storm would otherwise pay per thread).
        let known = OWN_FRAMES.load(Ordering::Relaxed);
        let this = StackDepot::capture as *const () as usize;
        let mut skip = known;
        let mut seen = 0;
        backtrace::trace(|frame| {
            seen += 1;
            if skip == UNKNOWN {
                if frame.symbol_address() as usize == this {
                    skip = seen;
                }
                return true;
            }
            if seen <= skip {
                return true;
            }
            ips[n] = frame.ip() as usize;
            n += 1;
            n < MAX_FRAMES
        });
        if known == UNKNOWN {
            let found = skip != UNKNOWN;
            OWN_FRAMES.store(if found { skip } else { 0 }, Ordering::Relaxed);
            if !found {
                // Not recognized (an unwinder that gives no function
                // starts): the whole stack, whose top `trim` drops by name
                // and file.
                n = 0;
                backtrace::trace(|frame| {
                    ips[n] = frame.ip() as usize;
                    n += 1;
                    n < MAX_FRAMES
                });
            }
        }
        let ips = &ips[..n];
        let mut inner = self.inner.lock();
        if let Some(&id) = inner.index.get(ips) {
            return id;
        }
        let id = inner.stacks.len() as StackId;
        let stack: Arc<[usize]> = Arc::from(ips);
        inner.stacks.push(stack.clone());
        inner.index.insert(stack, id);
        id
    }

    /// The instruction pointers of a stack.
    pub fn get(&self, id: StackId) -> Arc<[usize]> {
        self.inner.lock().stacks[id as usize].clone()
    }

    /// Distinct stacks held (for the tests).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.inner.lock().stacks.len() - 1
    }
}

/// How many frames every stack taken in [`StackDepot::capture`] starts
/// with that are the unwinder's or capture's own (0: not recognized), once
/// the first capture has found capture's frame by its address.
static OWN_FRAMES: AtomicUsize = AtomicUsize::new(UNKNOWN);
const UNKNOWN: usize = usize::MAX;

/// Resolves the stacks of one report to frames (inlined frames expanded),
/// innermost first, keeping only the user's frames (racedet's, std's and
/// the harness's are dropped wherever they are); file paths are as the
/// debug info has them. All their addresses go to one run of an external
/// symbolizer (see `symbolize`), so the program never loads its own debug
/// info; only when that fails are they resolved in process.
///
/// Also says whether the frames went unnamed (`??`) and no stack kept
/// any: a program without symbols (`strip = true`).
pub fn resolve<const N: usize>(
    stacks: [&[usize]; N],
    symbolizer: &Symbolizer,
) -> ([Vec<Frame>; N], bool) {
    // Return addresses point after the call; step back into it so the
    // line is the call's, not the next statement's.
    let lookup = |ip: usize| ip.saturating_sub(1);
    let mut addresses: Vec<usize> = stacks
        .iter()
        .flat_map(|s| s.iter().map(|&ip| lookup(ip)))
        .collect();
    addresses.sort_unstable();
    addresses.dedup();
    let frames: Vec<Vec<Frame>> = symbolize::symbolize(&addresses, symbolizer)
        .unwrap_or_else(|| addresses.iter().map(|&a| resolve_in_process(a)).collect());
    let stacks = stacks.map(|ips| {
        let resolved = ips
            .iter()
            .filter_map(|&ip| addresses.binary_search(&lookup(ip)).ok())
            .flat_map(|i| frames[i].iter().cloned())
            .collect();
        trim(resolved)
    });
    let unsymbolized = no_symbols(&stacks, &frames);
    (stacks, unsymbolized)
}

/// Whether frames went unnamed and no stack `kept` any of the user's: the
/// program has no symbols (the libraries' frames, libc's thread start,
/// still have names then, so not every frame is `??`).
fn no_symbols(kept: &[Vec<Frame>], all: &[Vec<Frame>]) -> bool {
    kept.iter().all(Vec::is_empty) && all.iter().flatten().any(|f| f.function == "??")
}

/// The frames of one address (already stepped back into the call), by the
/// `backtrace` crate in this process. Its first use loads and keeps the
/// debug info of the module.
pub(crate) fn resolve_in_process(address: usize) -> Vec<Frame> {
    let mut frames = Vec::new();
    backtrace::resolve(address as *mut std::ffi::c_void, |sym| {
        let function = sym
            .name()
            .map(|n| format!("{n:#}"))
            .unwrap_or_else(|| "??".to_string());
        let site = match (sym.filename(), sym.lineno()) {
            (Some(file), Some(line)) => Some(SourceSite {
                file: file.to_string_lossy().into_owned(),
                line,
                column: sym.colno().unwrap_or(0),
            }),
            _ => None,
        };
        frames.push(Frame { function, site });
    });
    frames
}

/// A report's file path, shortened. Exact sites (`#[track_caller]`) are
/// relative to the source `root` while debug-info paths are absolute: the
/// root comes off every path, so both read alike. The user's
/// `strip_path_prefix` then comes off a path's absolute form (the root
/// put back on a relative one) or else its root-relative form, whichever
/// it starts, so one setting shortens both kinds the same way.
pub fn shorten(path: &str, root: Option<&str>, prefix: Option<&str>) -> String {
    let relative = root.and_then(|r| path.strip_prefix(r)).unwrap_or(path);
    if let Some(p) = prefix.filter(|p| !p.is_empty()) {
        let absolute = match root {
            Some(r) if !path.starts_with('/') => format!("{r}{path}"),
            _ => path.to_string(),
        };
        if let Some(rest) = absolute.strip_prefix(p).or(relative.strip_prefix(p)) {
            return rest.to_string();
        }
    }
    relative.to_string()
}

/// Keeps the user's frames only: racedet's own frames sit above them, thread
/// and process start-up below them, and the std glue in between (iterator
/// adapters, closure shims) says nothing about where the race is.
fn trim(frames: Vec<Frame>) -> Vec<Frame> {
    let own = own_dirs();
    frames
        .into_iter()
        .filter(|f| is_user_frame(f, &own))
        .collect()
}

/// Whether a frame is the user's. Where debug info gives it a file, the
/// file decides (the toolchain's and racedet's sources are not), and a
/// crate path in its name that says std or racedet (a toolchain built
/// elsewhere names its files otherwise); with line tables only, names
/// have no paths, so the rules for bare names (`main`, libc's `clone`)
/// would drop the user's own functions of those names. Those rules still
/// hold for a file named relatively, as the C library's debug info names
/// its own (`./nptl/pthread_create.c` for `start_thread`; the user's files
/// are named absolutely, under the directory they were compiled in).
/// Frames without a file go by name alone.
fn is_user_frame(f: &Frame, own: &[String]) -> bool {
    match &f.site {
        Some(site) => {
            !is_infra_file(&site.file, own)
                && !infra_by_path(&f.function)
                && (site.file.starts_with('/') || is_user(&f.function))
        }
        None => is_user(&f.function),
    }
}

/// The source directories of racedet's crates, as debug info names them:
/// the runtime's and the engine's are known when they are compiled, the
/// instrumented types' crate sits beside the runtime (`instrument/` in
/// racedet's repository, `racedet-VERSION/` beside `racedet-runtime-VERSION/`
/// in cargo's registry, `racedet/` in a vendor directory).
fn own_dirs() -> [String; 3] {
    let runtime = source_dir(file!(), "src/stack.rs", env!("CARGO_MANIFEST_DIR"));
    let engine = source_dir(
        racedet_detector::SOURCE_FILE,
        "src/lib.rs",
        racedet_detector::SOURCE_DIR,
    );
    let (parent, name) = runtime
        .trim_end_matches('/')
        .rsplit_once('/')
        .unwrap_or(("", ""));
    let instrument = match name.strip_prefix("racedet-runtime") {
        Some(version) => format!("racedet{version}"),
        None => "instrument".to_string(),
    };
    let instrument = format!("{parent}/{instrument}/");
    [runtime, engine, instrument]
}

/// A crate's directory as its debug info names it, with a `/` at the end:
/// from a file of it (`file!()`, which `--remap-path-prefix` rewrites as
/// it does the debug info) when that path is absolute (a dependency),
/// else its manifest directory (a member of the workspace being built,
/// whose files are named relative to it).
fn source_dir(file: &str, within: &str, manifest_dir: &str) -> String {
    match file.strip_suffix(within) {
        Some(dir) if file.starts_with('/') => dir.to_string(),
        _ => format!("{manifest_dir}/"),
    }
}

/// Whether a frame's file is racedet's or the toolchain's (std, core,
/// alloc, test): with line tables only, debug info names functions
/// without their paths (`check`, `catch_unwind<..>`), and the file is
/// what tells them from the user's.
fn is_infra_file(file: &str, own: &[String]) -> bool {
    toolchain_source(file)
        || file.contains("/lib/rustlib/src/rust/library/")
        || own.iter().any(|dir| file.starts_with(dir.as_str()))
}

/// A path of the distributed toolchain's sources: `/rustc/<commit>/...`
/// (a project of the user's under `/rustc/` is not one).
fn toolchain_source(file: &str) -> bool {
    file.strip_prefix("/rustc/")
        .and_then(|rest| rest.split_once('/'))
        .is_some_and(|(commit, _)| {
            commit.len() == 40 && commit.bytes().all(|b| b.is_ascii_hexdigit())
        })
}

/// Crates whose frames are not the user's.
const INFRA_CRATES: [&str; 8] = [
    "racedet_runtime",
    "racedet_detector",
    "racedet",
    "backtrace",
    "std",
    "core",
    "alloc",
    "test",
];

/// The path a function name is judged by: `<&dyn core::X as T>::f` by
/// `core::X`, `<[core::mem::MaybeUninit<T>] as T>::f` by `core::mem::...`.
fn path_of(function: &str) -> &str {
    let mut p = function;
    loop {
        let next = p
            .trim_start_matches(['<', '&', '[', '('])
            .trim_start_matches("dyn ")
            .trim_start_matches("mut ");
        if next == p {
            return p;
        }
        p = next;
    }
}

/// The crates named in `s`: each path's first segment.
fn crates_in(s: &str) -> impl Iterator<Item = &str> {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    s.match_indices("::").filter_map(move |(at, _)| {
        let before = &s[..at];
        let start = before.rfind(|c: char| !ident(c)).map_or(0, |i| i + 1);
        let head = &before[start..];
        // A path's later segments follow another `::`.
        let first = !before[..start].ends_with("::") && !head.is_empty();
        first.then_some(head)
    })
}

/// Whether a function's path puts it in racedet, std or the harness: its
/// first crate, or, for a type without a path (`<u64 as T>::f`), every
/// crate of the trait (`<u64 as core::ops::Mul<&my::V>>::mul` is the
/// user's impl). A name without paths says nothing.
fn infra_by_path(function: &str) -> bool {
    let p = path_of(function);
    if let Some((ty, by_trait)) = p.split_once(" as ") {
        if !ty.contains("::") {
            let mut crates = crates_in(by_trait).peekable();
            return crates.peek().is_some() && crates.all(|c| INFRA_CRATES.contains(&c));
        }
    }
    crates_in(p).next().is_some_and(|c| {
        INFRA_CRATES.contains(&c) && p.strip_prefix(c).is_some_and(|r| r.starts_with("::"))
    })
}

/// Whether a frame known by its function's name only is the user's: not
/// racedet, std, the test harness or the C start-up code.
fn is_user(function: &str) -> bool {
    const INFRA: [&str; 5] = ["__rust", "__libc", "_start", "start_thread", "??"];
    let p = path_of(function);
    if let Some((ty, by_trait)) = p.split_once(" as ") {
        // A method of a primitive or path-less type by a trait: the user's
        // exactly when some crate in the trait is (a trait naming no crate,
        // `<fn() as FnOnce<()>>`, is not), where `infra_by_path` would
        // need every crate in it to be infrastructure to decide.
        if !ty.contains("::") {
            return crates_in(by_trait).any(|c| !INFRA_CRATES.contains(&c));
        }
    }
    // libc's thread start (`clone`, `clone3`) by exact name, so a user
    // crate called `clone_...` keeps its frames.
    let libc_start = p == "clone" || p == "clone3";
    // `<fn() -> T as FnOnce<()>>::call_once`: the harness calling a test.
    !(infra_by_path(function)
        || INFRA.iter().any(|prefix| p.starts_with(prefix))
        || libc_start
        || p == "main"
        || p.starts_with("fn("))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(name: &str) -> Frame {
        Frame {
            function: name.to_string(),
            site: None,
        }
    }

    #[test]
    fn only_user_frames_are_kept() {
        let frames = vec![
            f("backtrace::trace"),
            f("std::thread::local::LocalKey<T>::try_with"),
            f("racedet_runtime::access::read"),
            f("<racedet::collections::RaceMap<K,V,S>>::get"),
            f("my_crate::apply_update"),
            f("std::collections::hash::map::HashMap::get"),
            f("my_crate::worker::{{closure}}"),
            f("std::sys::backtrace::__rust_begin_short_backtrace"),
            f("racedet::thread::spawn::{{closure}}"),
            f("core::ops::function::FnOnce::call_once"),
            f("std::thread::Builder::spawn_unchecked_::{{closure}}"),
            f("<&dyn core::ops::function::Fn<()> as core::ops::function::FnOnce<()>>::call_once"),
            // std's trait for a primitive, called from the user's code.
            f("<usize as core::iter::traits::accum::Sum>::sum"),
            f("<[core::mem::maybe_uninit::MaybeUninit<T>] as core::fmt::Debug>::fmt"),
            // The user's trait for a primitive is the user's, and so is
            // the user's impl of std's trait for a primitive (v0 names).
            f("<u64 as my_crate::Weigh>::weigh"),
            f("<u64 as core::ops::arith::Mul<&my_crate::V>>::mul"),
            // A user function whose name starts with a std crate's.
            f("my_crate::alloc_slot"),
            f("alloc_slot<alloc::vec::Vec<u8>>"),
            f("main"),
            f("start_thread"),
            f("clone3"),
        ];
        let names: Vec<String> = trim(frames).into_iter().map(|f| f.function).collect();
        assert_eq!(
            names,
            [
                "my_crate::apply_update",
                "my_crate::worker::{{closure}}",
                "<u64 as my_crate::Weigh>::weigh",
                "<u64 as core::ops::arith::Mul<&my_crate::V>>::mul",
                "my_crate::alloc_slot",
                "alloc_slot<alloc::vec::Vec<u8>>",
            ]
        );
    }

    #[test]
    fn paths_lose_the_source_root_and_the_user_s_prefix_in_either_form() {
        let root = Some("/work/app/");
        // A debug-info path and an exact site of the same file.
        let (deep, site) = ("/work/app/src/bin/x.rs", "src/bin/x.rs");
        for prefix in [None, Some("")] {
            assert_eq!(shorten(deep, root, prefix), "src/bin/x.rs");
            assert_eq!(shorten(site, root, prefix), "src/bin/x.rs");
        }
        // The prefix as an absolute path or a root-relative one: both
        // kinds of path come out alike.
        for prefix in ["/work/app/src/", "src/"] {
            assert_eq!(shorten(deep, root, Some(prefix)), "bin/x.rs", "{prefix}");
            assert_eq!(shorten(site, root, Some(prefix)), "bin/x.rs", "{prefix}");
        }
        // Only a leading match; a path outside the root keeps its form.
        assert_eq!(shorten(deep, root, Some("bin/")), "src/bin/x.rs");
        let std_path = "/rustc/abc/library/std/src/thread/mod.rs";
        assert_eq!(shorten(std_path, root, Some("/src/")), std_path);
        // No root known (no frame revealed it): the prefix alone.
        assert_eq!(shorten(deep, None, Some("/work/")), "app/src/bin/x.rs");
        assert_eq!(shorten(site, None, None), "src/bin/x.rs");
    }

    #[test]
    fn frames_of_racedet_and_the_toolchain_go_by_file_where_names_have_no_path() {
        // Names as debug info with line tables only gives them.
        let at = |name: &str, file: &str| Frame {
            function: name.to_string(),
            site: Some(SourceSite {
                file: file.to_string(),
                line: 1,
                column: 1,
            }),
        };
        let [runtime, engine, instrument] = own_dirs();
        let frames = vec![
            at("check", &format!("{runtime}src/access.rs")),
            at("race", &format!("{engine}src/shadow.rs")),
            at("get<u64>", &format!("{instrument}src/cell.rs")),
            at("bump", "/home/u/app/src/lib.rs"),
            at("{closure#1}", "/home/u/app/tests/races.rs"),
            at(
                "catch_unwind<()>",
                "/rustc/59807616e1fa2540724bfbac14d7976d7e4a3860/library/std/src/panicking.rs",
            ),
            // The user's functions named as libc's and the start-up code's,
            // or starting with a std crate's name: their files say whose.
            at("main", "/home/u/app/src/main.rs"),
            at("clone", "/home/u/app/src/counter.rs"),
            at("alloc_slot<alloc::vec::Vec<u8>>", "/home/u/app/src/pool.rs"),
            // A project under /rustc/ is no toolchain source.
            at("run", "/rustc/app/src/lib.rs"),
            // The C library's thread start, with its debug info installed.
            at("start_thread", "./nptl/./nptl/pthread_create.c"),
            at(
                "clone3",
                "./misc/../sysdeps/unix/sysv/linux/x86_64/clone3.S",
            ),
            at(
                "call_once<()>",
                "/u/.rustup/toolchains/x/lib/rustlib/src/rust/library/core/src/ops/function.rs",
            ),
        ];
        let names: Vec<String> = trim(frames).into_iter().map(|f| f.function).collect();
        assert_eq!(
            names,
            [
                "bump",
                "{closure#1}",
                "main",
                "clone",
                "alloc_slot<alloc::vec::Vec<u8>>",
                "run"
            ]
        );
        // In this repository the instrumented types' crate is `instrument`.
        assert!(instrument.ends_with("/instrument/"), "{instrument}");
        assert!(std::path::Path::new(&instrument)
            .join("src/lib.rs")
            .exists());
    }

    #[test]
    fn unnamed_frames_and_no_user_frame_mean_a_program_without_symbols() {
        let all = vec![vec![f("??"), f("start_thread")], vec![f("??")]];
        assert!(no_symbols(&[vec![], vec![]], &all));
        // A user frame kept: the program has symbols, an odd `??` aside.
        assert!(!no_symbols(&[vec![f("app::main")], vec![]], &all));
        // Nothing kept, but every frame named: racedet's and std's only.
        assert!(!no_symbols(&[vec![]], &[vec![f("std::rt::lang_start")]]));
    }

    #[inline(never)]
    fn capture_here(depot: &StackDepot) -> StackId {
        // Not a tail call (an optimized build would leave no frame of
        // this function to find).
        std::hint::black_box(depot.capture())
    }

    #[test]
    fn a_stack_starts_at_the_caller_of_capture() {
        // The unwinder's frames and capture's own are left out when the
        // stack is taken, whatever their names resolve to.
        // Twice: the first capture of the process finds capture's frame,
        // later ones skip as many frames.
        let depot = StackDepot::new();
        for _ in 0..2 {
            let ips = depot.get(capture_here(&depot));
            let names: Vec<String> = resolve_in_process(ips[0] - 1)
                .into_iter()
                .map(|f| f.function)
                .collect();
            assert!(
                names.iter().any(|n| n.ends_with("capture_here")),
                "{names:?}"
            );
            assert!(
                !names
                    .iter()
                    .any(|n| n.contains("StackDepot") || n.contains("backtrace")),
                "{names:?}"
            );
        }
    }

    #[test]
    fn same_stack_is_interned_once() {
        let depot = StackDepot::new();
        let mut ids = Vec::new();
        // One call site: a loop an optimized build cannot unroll (its
        // condition is opaque), so each capture returns to the same place.
        while std::hint::black_box(ids.len()) < 3 {
            ids.push(capture_here(&depot));
        }
        assert_eq!(ids[0], ids[1]);
        assert_eq!(ids[1], ids[2]);
        assert_eq!(depot.len(), 1);
        assert!(!depot.get(ids[0]).is_empty());
    }
}
