//! The exit summary and exit status, also when libtest calls `exit`.

use std::os::raw::c_int;

extern "C" {
    fn atexit(callback: extern "C" fn()) -> c_int;
    fn _exit(status: c_int) -> !;
}

/// Registers the exit hook (once, at runtime start).
pub(crate) fn install() {
    at_exit(on_exit);
}

/// Runs `callback` when the process exits normally (C's `atexit`).
pub(crate) fn at_exit(callback: extern "C" fn()) {
    // SAFETY: registering a plain `extern "C" fn` with the C runtime.
    unsafe {
        atexit(callback);
    }
}

extern "C" fn on_exit() {
    let Some(rt) = crate::global::started() else {
        return;
    };
    if rt.reporter.count() == 0 && rt.reporter.suppressed() == 0 {
        return;
    }
    rt.reporter.summary();
    if rt.reporter.unhandled() > 0 {
        // Go's -race behaviour: the process status says races were found,
        // whatever it would have been. `_exit` because `exit` may not be
        // called again from inside an exit handler. Races the program took
        // with `reports::take()` (tests asserting an expected race) do not
        // change the status.
        // SAFETY: terminating the process.
        unsafe { _exit(rt.options.exitcode) }
    }
}

/// Ends the process now with the summary and `exitcode` (halt_on_error).
pub(crate) fn halt() -> ! {
    if let Some(rt) = crate::global::started() {
        rt.reporter.summary();
        // SAFETY: terminating the process.
        unsafe { _exit(rt.options.exitcode) }
    }
    unreachable!("halt_on_error is an option of a started runtime")
}

/// Ends the process now with `status`, running no exit handlers or
/// destructors (a fatal runtime error).
pub(crate) fn immediately(status: i32) -> ! {
    // SAFETY: terminating the process.
    unsafe { _exit(status) }
}
