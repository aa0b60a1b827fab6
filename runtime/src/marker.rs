//! The runtime marker: a linker section that says "this binary links the
//! racedet runtime, version X, with detection compiled in", so
//! `cargo racedet check` can tell instrumented test binaries from others
//! without running them.

/// Name of the section holding the marker.
pub const SECTION: &str = ".racedet_marker";

/// The marker's text: `racedet-runtime <version> detect=1`, NUL-padded.
const TEXT: &[u8] = concat!("racedet-runtime ", env!("CARGO_PKG_VERSION"), " detect=1").as_bytes();

// No `#[used]`: on ELF it marks the section SHF_GNU_RETAIN, so every binary
// linking the runtime crate kept the marker, detection on or off. Without it
// the section survives `--gc-sections` only through the reference in `link`,
// that is, only in binaries that can start the runtime.
#[link_section = ".racedet_marker"]
static MARKER: [u8; 64] = {
    let mut out = [0u8; 64];
    let mut i = 0;
    while i < TEXT.len() {
        out[i] = TEXT[i];
        i += 1;
    }
    out
};

/// Referenced from runtime start-up so the marker is linked exactly when the
/// runtime is: a binary that never starts the runtime (detection off) has none.
#[inline(never)]
pub fn link() {
    // SAFETY: reading a static byte array.
    let _ = unsafe { std::ptr::read_volatile(&MARKER[0]) };
}

/// The marker text as found in a binary section, if it is one of ours.
pub fn parse(section: &[u8]) -> Option<&str> {
    let end = section
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(section.len());
    let text = std::str::from_utf8(&section[..end]).ok()?;
    text.starts_with("racedet-runtime ").then_some(text)
}
