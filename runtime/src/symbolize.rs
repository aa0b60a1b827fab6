//! Out-of-process symbolization, ThreadSanitizer's way. The addresses of a
//! report are mapped to (module file, address in that file) through
//! `/proc/self/maps` and handed to `llvm-symbolizer` (GNU `addr2line` as
//! the fallback). Resolving in process instead loads the debug info of
//! every module touched into the program's own memory and keeps it there:
//! ~50 MB for a 10 MB test binary, GBs for a huge one.
//!
//! Like TSan, racedet keeps one `llvm-symbolizer` running once the first
//! report has started it: the debug info it has read stays in its memory,
//! not the program's, and later reports cost milliseconds instead of a
//! process start and a fresh read (~80 ms each for a 20 MB test binary).
//! `addr2line` runs once per report and module.
//!
//! Everything here fails soft: `None` sends the caller back to in-process
//! resolution. This runs on the report path, possibly while the racing
//! object's lock is held, so it uses std and parking_lot only, never
//! racedet's own types.

use crate::options::Symbolizer;
use crate::report::{Frame, SourceSite};
use parking_lot::Mutex;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// How long one report's symbolization may take before the symbolizer is
/// killed (and the report resolved in process). A cold `llvm-symbolizer`
/// on a multi-GB binary takes seconds; a run past this is hung.
const TIMEOUT: Duration = Duration::from_secs(30);

/// `llvm-symbolizer`'s flags: inlined frames, mangled names (demangled
/// here, as in-process resolution does), LLVM's output style.
const LLVM_FLAGS: [&str; 3] = ["--inlines", "--functions=linkage", "-demangle=false"];

/// The frames of each of `addresses` (already stepped back into the call
/// instruction), inlined frames expanded, innermost first, names
/// demangled, file paths as the debug info has them. An address outside
/// any file-backed mapping gets no frames. `None` when no external
/// symbolizer could do it (or `symbolizer=inprocess`).
pub(crate) fn symbolize(addresses: &[usize], choice: &Symbolizer) -> Option<Vec<Vec<Frame>>> {
    let tools: Vec<(&OsStr, Flavor)> = match choice {
        Symbolizer::InProcess => return None,
        Symbolizer::Auto => vec![
            (OsStr::new("llvm-symbolizer"), Flavor::Llvm),
            (OsStr::new("addr2line"), Flavor::Gnu),
        ],
        Symbolizer::Program(path) => vec![(path.as_os_str(), Flavor::of(path.as_os_str()))],
    };
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    let maps: Vec<Mapping> = maps.lines().filter_map(Mapping::parse).collect();
    let located = Located::new(addresses, &maps)?;
    let frames = tools
        .into_iter()
        .find_map(|(program, flavor)| located.symbolize(program, flavor));
    if let (None, Symbolizer::Program(program)) = (&frames, choice) {
        note_fallback(program);
    }
    frames
}

/// Whether `note_fallback` has spoken in this process.
static FALLBACK_NOTED: AtomicBool = AtomicBool::new(false);

/// Says, once per process, that the symbolizer the user named failed: it
/// was chosen to keep debug info out of the program's memory (or to get
/// its output), and `auto` falls back quietly by design, but a named one
/// that never works would otherwise go unnoticed.
fn note_fallback(program: &std::path::Path) {
    if !FALLBACK_NOTED.swap(true, Ordering::Relaxed) {
        crate::global::write_stderr(
            format!(
                "racedet: note: symbolizer {} failed (did not start, exited with an error, \
                 answered in a form it should not, or timed out); report stacks are resolved in \
                 process instead (said once)\n",
                program.display()
            )
            .as_bytes(),
        );
    }
}

/// One line of `/proc/self/maps`:
/// `55d0c2a00000-55d0c2a91000 r-xp 00091000 08:01 1234    /path/to/file`.
#[derive(Debug, PartialEq, Eq)]
struct Mapping {
    start: usize,
    end: usize,
    /// File offset of `start`.
    offset: u64,
    /// Empty for anonymous memory; `[vdso]`, `[heap]`... for the kernel's;
    /// ends in ` (deleted)` when the file was replaced since.
    path: String,
}

impl Mapping {
    fn parse(line: &str) -> Option<Mapping> {
        let mut rest = line;
        let mut field = || {
            let t = rest.trim_start();
            let (f, r) = t.split_at(t.find(' ').unwrap_or(t.len()));
            rest = r;
            f
        };
        let (start, end) = field().split_once('-')?;
        let (_perms, offset, _dev, _inode) = (field(), field(), field(), field());
        Some(Mapping {
            start: usize::from_str_radix(start, 16).ok()?,
            end: usize::from_str_radix(end, 16).ok()?,
            offset: u64::from_str_radix(offset, 16).ok()?,
            path: rest.trim().to_string(),
        })
    }
}

/// A `PT_LOAD` segment: file bytes `offset..offset + size` are loaded at
/// `vaddr` (plus the module's load bias). Linkers need not keep the two
/// equal (lld does not), so a file offset becomes an address through these.
#[derive(Debug, PartialEq, Eq)]
struct Segment {
    offset: u64,
    size: u64,
    vaddr: u64,
}

/// The `PT_LOAD` segments of an ELF file of this process's class and byte
/// order, from the fields of its header and program headers:
///
/// ```text
///            ELF64                         ELF32
/// header     e_phoff     @32 u64           e_phoff     @28 u32
///            e_phentsize @54 u16           e_phentsize @42 u16
///            e_phnum     @56 u16           e_phnum     @44 u16
/// phdr       p_type      @0  u32           p_type      @0  u32
///            p_offset    @8  u64           p_offset    @4  u32
///            p_vaddr     @16 u64           p_vaddr     @8  u32
///            p_filesz    @32 u64           p_filesz    @16 u32
/// ```
fn load_segments(path: &str) -> Option<Vec<Segment>> {
    const PT_LOAD: u64 = 1;
    const PN_XNUM: u64 = 0xffff;
    let wide = cfg!(target_pointer_width = "64");
    let mut file = File::open(path).ok()?;
    let mut header = [0u8; 64];
    file.read_exact(&mut header).ok()?;
    let class = if wide { 2 } else { 1 };
    let data = if cfg!(target_endian = "little") { 1 } else { 2 };
    if header[..4] != *b"\x7fELF" || header[4] != class || header[5] != data {
        return None;
    }
    let (phoff, phentsize, phnum) = if wide {
        (
            word(&header, 32, 8),
            word(&header, 54, 2),
            word(&header, 56, 2),
        )
    } else {
        (
            word(&header, 28, 4),
            word(&header, 42, 2),
            word(&header, 44, 2),
        )
    };
    if phentsize < if wide { 56 } else { 32 } || phnum == PN_XNUM {
        return None;
    }
    let mut headers = vec![0u8; (phentsize * phnum) as usize];
    file.seek(SeekFrom::Start(phoff)).ok()?;
    file.read_exact(&mut headers).ok()?;
    let segments = headers
        .chunks_exact(phentsize as usize)
        .filter(|h| word(h, 0, 4) == PT_LOAD)
        .map(|h| {
            if wide {
                Segment {
                    offset: word(h, 8, 8),
                    vaddr: word(h, 16, 8),
                    size: word(h, 32, 8),
                }
            } else {
                Segment {
                    offset: word(h, 4, 4),
                    vaddr: word(h, 8, 4),
                    size: word(h, 16, 4),
                }
            }
        })
        .collect();
    Some(segments)
}

/// The native-endian unsigned integer of `len` bytes at `at`.
fn word(bytes: &[u8], at: usize, len: usize) -> u64 {
    let mut b = [0u8; 8];
    if cfg!(target_endian = "little") {
        b[..len].copy_from_slice(&bytes[at..at + len]);
        u64::from_le_bytes(b)
    } else {
        b[8 - len..].copy_from_slice(&bytes[at..at + len]);
        u64::from_be_bytes(b)
    }
}

/// Addresses of one report, each as a module and an address in the
/// module's own terms (what a symbolizer given that file expects).
struct Located {
    modules: Vec<String>,
    /// Per input address: (index into `modules`, module address), or
    /// `None` outside any file-backed mapping (the vdso, JIT code).
    items: Vec<Option<(usize, u64)>>,
}

impl Located {
    /// `None` if an address lies in a file that cannot be handed to a
    /// symbolizer (deleted since it was mapped, not ELF, ...).
    fn new(addresses: &[usize], maps: &[Mapping]) -> Option<Located> {
        let mut modules: Vec<String> = Vec::new();
        let mut segments: Vec<Vec<Segment>> = Vec::new();
        let mut items = Vec::with_capacity(addresses.len());
        for &a in addresses {
            let Some(m) = maps.iter().find(|m| m.start <= a && a < m.end) else {
                items.push(None);
                continue;
            };
            if !m.path.starts_with('/') {
                items.push(None);
                continue;
            }
            if m.path.ends_with(" (deleted)") || m.path.contains('"') {
                return None;
            }
            let index = match modules.iter().position(|p| *p == m.path) {
                Some(i) => i,
                None => {
                    segments.push(load_segments(&m.path)?);
                    modules.push(m.path.clone());
                    modules.len() - 1
                }
            };
            let offset = (a - m.start) as u64 + m.offset;
            let s = segments[index]
                .iter()
                .find(|s| s.offset <= offset && offset < s.offset + s.size)?;
            items.push(Some((index, offset - s.offset + s.vaddr)));
        }
        Some(Located { modules, items })
    }

    /// Runs `program` on every located address: `llvm-symbolizer` once
    /// for all modules, `addr2line` once per module.
    fn symbolize(&self, program: &OsStr, flavor: Flavor) -> Option<Vec<Vec<Frame>>> {
        let mut frames = vec![Vec::new(); self.items.len()];
        let mut answer = |slots: Vec<usize>, output: Vec<Vec<Frame>>| {
            if output.len() != slots.len() {
                return None;
            }
            for (slot, f) in slots.into_iter().zip(output) {
                frames[slot] = f;
            }
            Some(())
        };
        match flavor {
            Flavor::Llvm => {
                let (slots, queries): (Vec<usize>, Vec<String>) = self
                    .select(None)
                    .map(|(slot, m, a)| (slot, format!("\"{}\" {a:#x}", self.modules[m])))
                    .unzip();
                if !slots.is_empty() {
                    answer(slots, llvm(program, &queries)?)?;
                }
            }
            Flavor::Gnu => {
                for (m, module) in self.modules.iter().enumerate() {
                    let mut args = ["-f", "-i", "-a", "-e", module].map(String::from).to_vec();
                    let slots: Vec<usize> = self
                        .select(Some(m))
                        .map(|(slot, _, a)| {
                            args.push(format!("{a:#x}"));
                            slot
                        })
                        .collect();
                    answer(slots, parse_gnu(&run(program, &args)?)?)?;
                }
            }
        }
        Some(frames)
    }

    /// (input slot, module, address) of the located items, of `module`
    /// only if given.
    fn select(&self, module: Option<usize>) -> impl Iterator<Item = (usize, usize, u64)> + '_ {
        self.items
            .iter()
            .enumerate()
            .filter_map(move |(slot, item)| {
                let (m, a) = (*item)?;
                (!matches!(module, Some(wanted) if wanted != m)).then_some((slot, m, a))
            })
    }
}

/// Which command line and output a symbolizer speaks.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Flavor {
    /// `llvm-symbolizer`: `"MODULE" ADDRESS` queries, `FUNCTION` and
    /// `FILE:LINE:COLUMN` lines per frame, a blank line after each query.
    Llvm,
    /// GNU `addr2line -f -i -a -e MODULE ADDRESS...` (and `llvm-addr2line`):
    /// the address, then `FUNCTION` and `FILE:LINE` lines per frame.
    Gnu,
}

impl Flavor {
    fn of(program: &OsStr) -> Flavor {
        let name = std::path::Path::new(program)
            .file_name()
            .unwrap_or_default()
            .to_string_lossy();
        if name.contains("addr2line") {
            Flavor::Gnu
        } else {
            Flavor::Llvm
        }
    }
}

/// The long-lived `llvm-symbolizer`, once a report has started one.
static LLVM: Mutex<LongLived> = Mutex::new(LongLived {
    server: None,
    hung: false,
});

struct LongLived {
    server: Option<Server>,
    /// A server timed out: each later report would wait out another
    /// timeout, so none is started again.
    hung: bool,
}

/// Stops the long-lived symbolizer as the program exits. It would exit by
/// itself at the end of its input, but as an orphan left for init to reap.
extern "C" fn stop_at_exit() {
    // Never wait at exit for a report being symbolized on another thread.
    if let Some(mut state) = LLVM.try_lock() {
        if let Some(server) = state.server.take() {
            server.retire();
        }
    }
}

/// Answers `"MODULE" ADDRESS` queries with `program`, an llvm-symbolizer:
/// the long-lived one, started (again) if needed.
fn llvm(program: &OsStr, queries: &[String]) -> Option<Vec<Vec<Frame>>> {
    // LLVM reads its input lines into a 1024-byte buffer; longer queries
    // (very deep module paths) go on the command line of a one-off run.
    const MAX_LINE: usize = 1000;
    if queries.iter().any(|q| q.len() > MAX_LINE) {
        let args: Vec<String> = LLVM_FLAGS
            .map(String::from)
            .into_iter()
            .chain(queries.iter().cloned())
            .collect();
        return parse_llvm(&run(program, &args)?);
    }
    let mut state = LLVM.lock();
    if state.hung {
        return None;
    }
    let reusable = state.server.as_mut().is_some_and(|s| s.serves(program));
    if !reusable {
        if let Some(old) = state.server.take() {
            old.retire();
        }
        state.server = Server::start(program);
    }
    let server = state.server.as_mut()?;
    let answers = server.query(queries);
    if answers.is_none() {
        state.hung = server.hung;
        if let Some(failed) = state.server.take() {
            failed.retire();
        }
    }
    answers
}

/// A running `llvm-symbolizer` reading queries on its stdin. A thread
/// forwards its output lines, so that waiting for an answer can time out.
struct Server {
    program: OsString,
    /// The process that started it: after a `fork`, the child process
    /// must not use (or kill) its parent's symbolizer.
    owner: u32,
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    hung: bool,
}

impl Server {
    fn start(program: &OsStr) -> Option<Server> {
        static AT_EXIT: std::sync::Once = std::sync::Once::new();
        AT_EXIT.call_once(|| crate::exit::at_exit(stop_at_exit));
        let mut child = Command::new(program)
            .args(LLVM_FLAGS)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        };
        let (send, lines) = mpsc::channel();
        let forward = move || {
            let mut stdout = BufReader::new(stdout);
            let mut line = Vec::new();
            while matches!(stdout.read_until(b'\n', &mut line), Ok(n) if n > 0) {
                if send
                    .send(String::from_utf8_lossy(&line).into_owned())
                    .is_err()
                {
                    break;
                }
                line.clear();
            }
        };
        let server = Server {
            program: program.to_owned(),
            owner: std::process::id(),
            child,
            stdin,
            lines,
            hung: false,
        };
        let spawned = std::thread::Builder::new()
            .name("racedet-symbolizer".into())
            .spawn(forward);
        match spawned {
            Ok(_) => Some(server),
            Err(_) => {
                server.retire();
                None
            }
        }
    }

    /// Whether this server is running `program` for this process.
    fn serves(&mut self, program: &OsStr) -> bool {
        self.program == program
            && self.owner == std::process::id()
            && matches!(self.child.try_wait(), Ok(None))
    }

    /// Stops the symbolizer (in the process that started it; a forked
    /// child only forgets its copy).
    fn retire(mut self) {
        if self.owner == std::process::id() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        } else {
            std::mem::forget(self);
        }
    }

    /// Answers `queries`, in chunks of at most a page: the next chunk is
    /// written once the last is answered, so the pipe is empty and the
    /// write cannot block even on a hung symbolizer.
    fn query(&mut self, queries: &[String]) -> Option<Vec<Vec<Frame>>> {
        const PAGE: usize = 4096;
        let deadline = Instant::now() + TIMEOUT;
        let mut answers = Vec::with_capacity(queries.len());
        let mut rest = queries;
        while !rest.is_empty() {
            let mut input = String::new();
            let mut n = 0;
            while n < rest.len() && (n == 0 || input.len() + rest[n].len() < PAGE) {
                input.push_str(&rest[n]);
                input.push('\n');
                n += 1;
            }
            // Writing to an exited symbolizer would raise SIGPIPE, which
            // kills programs that do not ignore it as Rust's `main` does.
            if !matches!(self.child.try_wait(), Ok(None)) {
                return None;
            }
            self.stdin.write_all(input.as_bytes()).ok()?;
            // Each answer ends with a blank line.
            let mut text = String::new();
            let mut answered = 0;
            while answered < n {
                let wait = deadline.saturating_duration_since(Instant::now());
                let line = match self.lines.recv_timeout(wait) {
                    Ok(line) => line,
                    Err(RecvTimeoutError::Timeout) => {
                        self.hung = true;
                        return None;
                    }
                    Err(RecvTimeoutError::Disconnected) => return None,
                };
                answered += usize::from(line == "\n");
                text.push_str(&line);
            }
            let chunk = parse_llvm(&text)?;
            if chunk.len() != n {
                return None;
            }
            answers.extend(chunk);
            rest = &rest[n..];
        }
        Some(answers)
    }
}

/// Runs `program args` with no input and returns what it printed, if it
/// exits successfully within `TIMEOUT`. Queries go on the command line,
/// not stdin, so there is no pipe to deadlock on.
fn run(program: &OsStr, args: &[String]) -> Option<String> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut stdout = child.stdout.take()?;
    let (finished, finish) = mpsc::channel::<()>();
    let watched = &mut child;
    let text = std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("racedet-symbolizer-watchdog".into())
            .spawn_scoped(s, move || {
                if finish.recv_timeout(TIMEOUT) == Err(RecvTimeoutError::Timeout) {
                    let _ = watched.kill();
                }
            })
            // Without a watchdog a hung symbolizer would hang the report.
            .ok()?;
        let mut bytes = Vec::new();
        let read = stdout.read_to_end(&mut bytes);
        let _ = finished.send(());
        read.ok()?;
        Some(String::from_utf8_lossy(&bytes).into_owned())
    });
    if text.is_none() {
        let _ = child.kill();
    }
    let status = child.wait().ok()?;
    text.filter(|_| status.success())
}

/// Parses `llvm-symbolizer --inlines` output: per query, pairs of
/// function and `FILE:LINE:COLUMN` lines, then a blank line.
fn parse_llvm(text: &str) -> Option<Vec<Vec<Frame>>> {
    let mut queries = Vec::new();
    let mut lines = Vec::new();
    for line in text.lines() {
        if !line.is_empty() {
            lines.push(line);
            continue;
        }
        if lines.is_empty() || lines.len() % 2 != 0 {
            return None;
        }
        let frames = lines.chunks_exact(2).map(|pair| Frame {
            function: demangle(pair[0]),
            site: location(pair[1], true),
        });
        queries.push(frames.collect());
        lines.clear();
    }
    // Every query ends in a blank line: anything left is a truncated run.
    lines.is_empty().then_some(queries)
}

/// Parses `addr2line -f -i -a` output: per query, a `0x...` address line,
/// then pairs of function and `FILE:LINE` lines.
fn parse_gnu(text: &str) -> Option<Vec<Vec<Frame>>> {
    let mut queries: Vec<Vec<Frame>> = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let is_address = line
            .strip_prefix("0x")
            .is_some_and(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit()));
        if is_address {
            queries.push(Vec::new());
            continue;
        }
        let frames = queries.last_mut()?;
        frames.push(Frame {
            function: demangle(line),
            site: location(lines.next()?, false),
        });
    }
    queries.iter().all(|q| !q.is_empty()).then_some(queries)
}

/// `FILE:LINE:COLUMN` (llvm) or `FILE:LINE` with an optional
/// ` (discriminator N)` (GNU); `None` when the file or line is unknown
/// (`??:0:0`, `??:?`).
fn location(text: &str, with_column: bool) -> Option<SourceSite> {
    let text = match text.find(" (discriminator ") {
        Some(i) => &text[..i],
        None => text,
    };
    let (rest, column) = if with_column {
        let (rest, column) = text.rsplit_once(':')?;
        (rest, column.parse().ok()?)
    } else {
        (text, 0)
    };
    let (file, line) = rest.rsplit_once(':')?;
    let line: u32 = line.parse().ok()?;
    (file != "??" && !file.is_empty() && line != 0).then(|| SourceSite {
        file: file.to_string(),
        line,
        column,
    })
}

/// A symbol name as reports print it: Rust names demangled without their
/// hash (`{:#}`, as in-process resolution prints them), others as they are.
fn demangle(name: &str) -> String {
    format!("{:#}", rustc_demangle::demangle(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `llvm-symbolizer --inlines --functions=linkage -demangle=false`
    /// on three queries: a frame with an inlined callee, a symbol-table
    /// only function (libc), and an unknown address.
    const LLVM_OUTPUT: &str = "\
_ZN4core3ptr5write17h0123456789abcdefE
/rustc/abc/library/core/src/ptr/mod.rs:1377:9
_ZN4racy12apply_update17h3f2bb2dd6e1c9c4aE
/work/main/tests/src/bin/racy.rs:11:11

__libc_start_call_main
??:0:0

??
??:0:0

";

    /// `addr2line -f -i -a -e MODULE` on the same kind of queries.
    const GNU_OUTPUT: &str = "\
0x000000000009a2f4
_ZN4core3ptr5write17h0123456789abcdefE
/rustc/abc/library/core/src/ptr/mod.rs:1377
_ZN4racy12apply_update17h3f2bb2dd6e1c9c4aE
/work/main/tests/src/bin/racy.rs:11 (discriminator 2)
0x0000000000029d90
__libc_start_call_main
??:?
0x0000000000000010
??
??:0
";

    fn site(file: &str, line: u32, column: u32) -> Option<SourceSite> {
        Some(SourceSite {
            file: file.to_string(),
            line,
            column,
        })
    }

    #[test]
    fn llvm_output_gives_inlined_frames_innermost_first() {
        let q = parse_llvm(LLVM_OUTPUT).unwrap();
        assert_eq!(q.len(), 3);
        assert_eq!(q[0].len(), 2);
        assert_eq!(q[0][0].function, "core::ptr::write");
        assert_eq!(
            q[0][0].site,
            site("/rustc/abc/library/core/src/ptr/mod.rs", 1377, 9)
        );
        assert_eq!(q[0][1].function, "racy::apply_update");
        assert_eq!(
            q[0][1].site,
            site("/work/main/tests/src/bin/racy.rs", 11, 11)
        );
        assert_eq!(q[1][0].function, "__libc_start_call_main");
        assert_eq!(q[1][0].site, None);
        assert_eq!(q[2][0].function, "??");
        assert_eq!(q[2][0].site, None);
    }

    #[test]
    fn truncated_llvm_output_is_rejected() {
        assert_eq!(parse_llvm("_ZN4racy4main17h0123456789abcdefE\n"), None);
        assert_eq!(parse_llvm("a\nb.rs:1:2\nc\n\n"), None);
    }

    #[test]
    fn gnu_output_gives_inlined_frames_without_columns() {
        let q = parse_gnu(GNU_OUTPUT).unwrap();
        assert_eq!(q.len(), 3);
        assert_eq!(q[0].len(), 2);
        assert_eq!(q[0][0].function, "core::ptr::write");
        assert_eq!(
            q[0][0].site,
            site("/rustc/abc/library/core/src/ptr/mod.rs", 1377, 0)
        );
        assert_eq!(q[0][1].function, "racy::apply_update");
        assert_eq!(
            q[0][1].site,
            site("/work/main/tests/src/bin/racy.rs", 11, 0)
        );
        assert_eq!(q[1][0].function, "__libc_start_call_main");
        assert_eq!(q[1][0].site, None);
        assert_eq!(q[2][0].function, "??");
    }

    #[test]
    fn gnu_output_without_a_leading_address_is_rejected() {
        assert_eq!(parse_gnu("main\n/src/main.rs:3\n"), None);
        assert_eq!(parse_gnu("0x10\nmain\n"), None);
    }

    #[test]
    fn paths_with_colons_keep_them() {
        assert_eq!(
            location("/tmp/a:b/c.rs:12:5", true),
            site("/tmp/a:b/c.rs", 12, 5)
        );
        assert_eq!(location("C:/x.rs:7", false), site("C:/x.rs", 7, 0));
    }

    #[test]
    fn v0_and_legacy_names_demangle_without_hash() {
        assert_eq!(
            demangle("_ZN4racy11two_writers28_$u7b$$u7b$closure$u7d$$u7d$17h0123456789abcdefE"),
            "racy::two_writers::{{closure}}"
        );
        assert_eq!(demangle("_RNvCs1234_4racy4main"), "racy::main");
        assert_eq!(demangle("start_thread"), "start_thread");
    }

    #[test]
    fn maps_lines_are_parsed_with_paths_that_have_spaces() {
        let m = Mapping::parse(
            "55d0c2a91000-55d0c2c12000 r-xp 00091000 08:01 1234                       /work/my dir/racy",
        )
        .unwrap();
        assert_eq!(
            m,
            Mapping {
                start: 0x55d0c2a91000,
                end: 0x55d0c2c12000,
                offset: 0x91000,
                path: "/work/my dir/racy".to_string(),
            }
        );
        let anon = Mapping::parse("7f1c3c000000-7f1c3c021000 rw-p 00000000 00:00 0 ").unwrap();
        assert_eq!(anon.path, "");
        let vdso = Mapping::parse(
            "7ffd5a9f6000-7ffd5a9f8000 r-xp 00000000 00:00 0                  [vdso]",
        )
        .unwrap();
        assert_eq!(vdso.path, "[vdso]");
        assert_eq!(Mapping::parse("not a mapping"), None);
    }

    #[test]
    fn file_offsets_become_module_addresses_through_load_segments() {
        // lld's layout: text at file offset 0x912e0, address 0x922e0.
        let exe = std::env::current_exe().unwrap();
        let segments = load_segments(exe.to_str().unwrap()).unwrap();
        assert!(!segments.is_empty());
        let maps = vec![Mapping {
            start: 0x5000_0000,
            end: 0x5000_0000 + 0x1000,
            offset: segments[0].offset & !0xfff,
            path: exe.to_string_lossy().into_owned(),
        }];
        let inside = 0x5000_0000 + (segments[0].offset & 0xfff) as usize;
        let l = Located::new(&[inside, 0x10], &maps).unwrap();
        assert_eq!(l.modules, [exe.to_string_lossy()]);
        assert_eq!(l.items, [Some((0, segments[0].vaddr)), None]);
    }

    #[test]
    fn deleted_modules_send_the_report_back_in_process() {
        let maps = vec![Mapping {
            start: 0x1000,
            end: 0x2000,
            offset: 0,
            path: "/tmp/old-binary (deleted)".to_string(),
        }];
        assert!(Located::new(&[0x1800], &maps).is_none());
    }

    /// Tests that run symbolizers share the long-lived one: one at a time.
    static SERIAL: Mutex<()> = Mutex::new(());

    #[test]
    fn a_missing_or_failing_symbolizer_gives_none() {
        let _serial = SERIAL.lock();
        let here = a_missing_or_failing_symbolizer_gives_none as *const () as usize;
        // The note these failures make is pinned by a process test
        // (tests/process.rs); here it would be a stray line in the output.
        FALLBACK_NOTED.store(true, Ordering::Relaxed);
        // Not there; exits with an error; prints something else.
        for program in ["/nonexistent/llvm-symbolizer", "/bin/false", "/bin/echo"] {
            let choice = Symbolizer::Program(program.into());
            assert_eq!(symbolize(&[here], &choice), None, "{program}");
        }
        assert_eq!(symbolize(&[here], &Symbolizer::InProcess), None);
    }

    /// The stack of this test, resolved by each external symbolizer found
    /// on PATH, names this test, and with the same frames (names, files
    /// and lines) as in-process resolution.
    #[test]
    #[inline(never)]
    fn external_symbolizers_find_this_test_like_in_process_resolution() {
        let _serial = SERIAL.lock();
        let depot = crate::stack::StackDepot::new();
        let lookups: Vec<usize> = depot
            .get(depot.capture())
            .iter()
            .map(|ip| ip.saturating_sub(1))
            .collect();
        // Unknown frames (`??`) are dropped by reports; in-process
        // resolution gives none for them, symbolizers say `??`. Relative
        // paths (C code compiled in place, as libc's debug info has it) are
        // joined to their directory differently; Rust's are absolute.
        let known = |frames: Vec<Frame>| -> Vec<(String, Option<(String, u32)>)> {
            let file = |f: String| match f.starts_with('/') {
                true => f,
                false => f.rsplit('/').next().unwrap_or_default().to_string(),
            };
            frames
                .into_iter()
                .filter(|f| f.function != "??")
                .map(|f| (f.function, f.site.map(|s| (file(s.file), s.line))))
                .collect()
        };
        let in_process: Vec<_> = lookups
            .iter()
            .flat_map(|&a| crate::stack::resolve_in_process(a))
            .collect();
        let in_process = known(in_process);
        let me = "symbolize::tests::external_symbolizers_find_this_test_like_in_process_resolution";
        assert!(
            in_process.iter().any(|f| f.0.ends_with(me)),
            "{in_process:#?}"
        );
        let mut tried = 0;
        for tool in ["llvm-symbolizer", "addr2line"] {
            let Some(path) = crate::options::find_program(tool) else {
                eprintln!("{tool} not on PATH: not tried");
                continue;
            };
            tried += 1;
            let external = symbolize(&lookups, &Symbolizer::Program(path)).expect(tool);
            let external = known(external.into_iter().flatten().collect());
            assert!(
                external.iter().any(|f| f.0.ends_with(me)),
                "{tool}: {external:#?}"
            );
            assert_eq!(external, in_process, "{tool}");
        }
        assert!(
            tried > 0,
            "neither llvm-symbolizer nor addr2line is on PATH"
        );
    }

    #[test]
    fn one_llvm_symbolizer_serves_every_report_and_is_restarted_if_it_dies() {
        let _serial = SERIAL.lock();
        let Some(path) = crate::options::find_program("llvm-symbolizer") else {
            eprintln!("llvm-symbolizer not on PATH: not tried");
            return;
        };
        let choice = Symbolizer::Program(path);
        let here = one_llvm_symbolizer_serves_every_report_and_is_restarted_if_it_dies as *const ()
            as usize;
        let pid = || LLVM.lock().server.as_ref().map(|s| s.child.id());
        let first = symbolize(&[here], &choice).unwrap();
        let me = "one_llvm_symbolizer_serves_every_report_and_is_restarted_if_it_dies";
        assert!(first[0][0].function.ends_with(me), "{first:#?}");
        let started = pid().unwrap();
        // More queries than fit in one page of input.
        let many = vec![here; 100];
        let again = symbolize(&many, &choice).unwrap();
        assert_eq!(again.len(), 100);
        assert!(again.iter().all(|f| *f == first[0]));
        assert_eq!(pid(), Some(started), "the same process answered");
        let mut state = LLVM.lock();
        let server = state.server.as_mut().unwrap();
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        drop(state);
        assert_eq!(symbolize(&[here], &choice).unwrap(), first);
        assert_ne!(pid(), Some(started), "a new process answered");
    }
}
