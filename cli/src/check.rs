//! `cargo racedet check BINARY...`: does each binary link the runtime, which
//! version, with detection compiled in?

use crate::error::{INPUT_ERROR, NOT_INSTRUMENTED};
use crate::marker;
use std::io::Write;
use std::path::PathBuf;

/// Prints one line per binary. Exit status: 0 when every binary is
/// instrumented, 1 when one is not, 2 when one could not be read.
pub fn run(binaries: &[PathBuf]) -> i32 {
    let mut missing = 0;
    let mut errors = 0;
    // `writeln!`, not `println!`, so a closed pipe (`| head`) is no panic.
    let mut out = std::io::stdout().lock();
    for path in binaries {
        match marker::read(path) {
            Ok(found) => {
                if !found.is_instrumented() {
                    missing += 1;
                }
                let _ = writeln!(out, "{}: {}", path.display(), found.describe());
            }
            // Every binary is still checked; errors are said, in order, and
            // decide the exit status at the end.
            Err(e) => {
                eprintln!("racedet: error: {e}");
                errors += 1;
            }
        }
    }
    if errors > 0 {
        INPUT_ERROR
    } else if missing > 0 {
        NOT_INSTRUMENTED
    } else {
        0
    }
}
