//! The one process-wide runtime instance, started on first use.

use crate::options::{History, Options};
use crate::reporter::Reporter;
use crate::stack::StackDepot;
use crate::suppressions::Suppressions;
use crate::threads::ThreadRegistry;
use parking_lot::Mutex;
use racedet_detector::Detector;
use std::io::Write;
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

/// The runtime, started on first call. A bad `RACEDET_OPTIONS` or
/// suppressions file stops the process here with a one-line error.
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
    let options = Options::parse(&text).unwrap_or_else(|e| fatal(&e.to_string()));
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
    // Straight to the stream, not `eprintln!`: libtest captures the macros'
    // output of a test's thread, and `_exit` would throw it away unseen.
    let _ = writeln!(std::io::stderr().lock(), "{message}");
    // `_exit`, not `exit`: this may run with a runtime lock held, and
    // `exit` runs thread-local destructors that end the thread for the
    // detector, which takes that lock again.
    crate::exit::immediately(2)
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
