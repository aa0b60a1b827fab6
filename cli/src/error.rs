//! The one error type of the CLI: a message the user can act on, and the
//! exit status that goes with it.

use std::fmt;

/// Bad input or a failed step: a missing file, a malformed report, a build
/// that failed. Printed as one line (`racedet: error: ...`), never a panic.
#[derive(Debug)]
pub struct Failure {
    /// What went wrong and what was expected, on one line.
    pub message: String,
    /// The process exit status.
    pub code: i32,
}

/// Exit status for bad input and configuration, as clap uses for usage errors.
pub const INPUT_ERROR: i32 = 2;

/// Exit status when races were found (Go's and the runtime's default).
pub const RACES_FOUND: i32 = 66;

/// Exit status of `check` when a binary does not link the runtime.
pub const NOT_INSTRUMENTED: i32 = 1;

impl Failure {
    /// An input or configuration error (exit status 2).
    pub fn input(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            code: INPUT_ERROR,
        }
    }

    /// A failed step whose own exit status is passed on (a failed build).
    pub fn with_code(message: impl Into<String>, code: i32) -> Failure {
        Failure {
            message: message.into(),
            code,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The CLI's result type.
pub type Result<T> = std::result::Result<T, Failure>;
