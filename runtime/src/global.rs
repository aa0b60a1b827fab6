//! The one process-wide runtime instance, started on first use.

use crate::options::{History, Options, ReportFormat};
use crate::reporter::Reporter;
use crate::stack::StackDepot;
use crate::suppressions::Suppressions;
use crate::threads::ThreadRegistry;
use parking_lot::Mutex;
use racedet_detector::Detector;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Everything process-wide. Only thread start/end, slot migration, stack
/// capture (spawn sites; under `history=full`, each access the shadow
/// records) and the report path lock anything here; accesses otherwise touch only thread-local
/// state and the shadow of the location.
pub struct Runtime {
    pub(crate) options: Options,
    pub(crate) detector: Mutex<Detector>,
    pub(crate) threads: ThreadRegistry,
    pub(crate) stacks: StackDepot,
    pub(crate) reporter: Reporter,
}

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// The `log_path` prefix when reports go to it as JSON (`cargo racedet`'s
/// run directories): a fatal error is written there too, as one line, so
/// a tool that reads the run, not the processes' stderr (under nextest,
/// in doctests), knows the process was stopped, not clean.
static FATAL_LOG: OnceLock<PathBuf> = OnceLock::new();

/// The runtime, started on first call. A bad `RACEDET_OPTIONS` (among
/// them a `log_path` that is not a file prefix in an existing directory)
/// or suppressions file stops the process here with a one-line error.
#[inline]
pub fn runtime() -> &'static Runtime {
    RUNTIME.get_or_init(start)
}

#[cold]
fn start() -> Runtime {
    crate::marker::link();
    let text = match std::env::var("RACEDET_OPTIONS") {
        Ok(text) => text,
        Err(std::env::VarError::NotPresent) => String::new(),
        Err(std::env::VarError::NotUnicode(_)) => fatal(
            "racedet: RACEDET_OPTIONS is not valid UTF-8; set it to key=value pairs in plain text",
        ),
    };
    let options = Options::parse(&text)
        .and_then(|o| o.check_log_path().map(|()| o))
        .unwrap_or_else(|e| fatal(&e.to_string()));
    // Before anything else can stop the process (the suppressions file).
    if let (Some(prefix), ReportFormat::Json) = (&options.log_path, options.report_format) {
        let _ = FATAL_LOG.set(prefix.clone());
    }
    let suppressions = match &options.suppressions {
        Some(path) => Suppressions::load(path).unwrap_or_else(|e| fatal(&e.to_string())),
        None => Suppressions::default(),
    };
    crate::exit::install();
    Runtime {
        reporter: Reporter::new(&options, suppressions),
        detector: Mutex::new(Detector::new()),
        threads: ThreadRegistry::new(),
        stacks: StackDepot::new(),
        options,
    }
}

/// Prints a one-line error and exits with status 2 (bad configuration is
/// not a race, so it does not use `exitcode`).
pub(crate) fn fatal(message: &str) -> ! {
    // Straight to file descriptor 2: not `eprintln!`, which libtest
    // captures on a test's thread (and `_exit` would throw that away), and
    // not through std's stderr lock, which another thread may hold while it
    // waits for a runtime lock this thread holds.
    write_stderr(format!("{message}\n").as_bytes());
    if let Some(prefix) = FATAL_LOG.get() {
        log_fatal(prefix, message);
    }
    // `_exit`, not `exit`: this may run with a runtime lock held, and
    // `exit` runs thread-local destructors that end the thread for the
    // detector, which takes that lock again.
    crate::exit::immediately(2)
}

/// `{"fatal": MESSAGE, "pid": .., "program": ..}` appended to this
/// process's log file (`PREFIX.PID`, as the reporter names it), best
/// effort: the message is on stderr already.
fn log_fatal(prefix: &Path, message: &str) {
    #[derive(serde::Serialize)]
    struct Fatal<'a> {
        fatal: &'a str,
        pid: u32,
        program: String,
    }
    let line = crate::json::to_string(&Fatal {
        fatal: message,
        pid: std::process::id(),
        program: crate::access::program_name(),
    });
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(crate::reporter::log_file(prefix))
    {
        use std::io::Write;
        let _ = file.write_all(format!("{line}\n").as_bytes());
    }
}

/// Writes `bytes` to file descriptor 2 with no lock taken.
#[cfg(unix)]
pub(crate) fn write_stderr(mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: writing initialized bytes to a file descriptor.
        let n = unsafe { libc::write(2, bytes.as_ptr().cast(), bytes.len()) };
        match usize::try_from(n) {
            Ok(n @ 1..) => bytes = &bytes[n..],
            // Interrupted by a signal before writing: again.
            Err(_) if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted => {
            }
            _ => return,
        }
    }
}

/// Elsewhere through std's stream (its lock, but past libtest's capture).
#[cfg(not(unix))]
pub(crate) fn write_stderr(bytes: &[u8]) {
    use std::io::Write;
    let _ = std::io::stderr().write_all(bytes);
}

impl Runtime {
    /// The options in force.
    pub fn options(&self) -> &Options {
        &self.options
    }

    pub(crate) fn history_full(&self) -> bool {
        self.options.history == History::Full
    }
}

/// The runtime if it has started (for the exit hook: never starts it).
pub(crate) fn started() -> Option<&'static Runtime> {
    RUNTIME.get()
}
