//! Reading the runtime marker out of a compiled binary.
//!
//! The runtime places `racedet-runtime <version> detect=1` in the
//! `.racedet_marker` section, and only binaries that can start the runtime
//! keep it through linking. So its presence is the test for "accesses in
//! this binary are checked"; its absence means nothing in it is.

use crate::error::{Failure, Result};
use object::{Object, ObjectSection};
use racedet_runtime::marker;
use std::path::Path;

/// One marker found in a binary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuntimeMarker {
    /// Version of the runtime that was linked.
    pub version: String,
    /// Whether detection was compiled in (`detect=1`).
    pub detect: bool,
}

/// What a binary says about racedet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Instrumentation {
    /// It links the runtime. More than one entry when two runtime versions
    /// were linked into one binary (the linker concatenates the sections).
    Linked(Vec<RuntimeMarker>),
    /// No marker section: the runtime is not linked, or is never started.
    NotLinked,
}

impl Instrumentation {
    /// Whether accesses in this binary are checked.
    pub fn is_instrumented(&self) -> bool {
        matches!(self, Instrumentation::Linked(m) if m.iter().any(|m| m.detect))
    }

    /// `racedet-runtime 0.1.0, detection compiled in` or `not instrumented ...`.
    pub fn describe(&self) -> String {
        match self {
            Instrumentation::NotLinked => {
                "not instrumented (no racedet runtime marker: the binary \
                 does not link the racedet runtime, or detection is off; build it \
                 with `cargo racedet test` or racedet's `detect` feature, and make \
                 its code use racedet's types: one that uses none links no runtime)"
                    .to_string()
            }
            Instrumentation::Linked(markers) => markers
                .iter()
                .map(|m| {
                    let detect = if m.detect {
                        "detection compiled in"
                    } else {
                        "detection NOT compiled in"
                    };
                    format!("racedet-runtime {}, {detect}", m.version)
                })
                .collect::<Vec<_>>()
                .join("; "),
        }
    }
}

/// Reads the marker of the binary at `path`. A missing or unreadable file,
/// or one that is not an executable, is an error naming the path.
pub fn read(path: &Path) -> Result<Instrumentation> {
    let data = std::fs::read(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Failure::input(format!(
                "{}: no such file (expected a compiled test binary, e.g. \
                 target/racedet/debug/deps/NAME-HASH)",
                path.display()
            ))
        } else {
            Failure::input(format!("{}: cannot read: {e}", path.display()))
        }
    })?;
    let file = object::File::parse(&*data).map_err(|e| {
        Failure::input(format!(
            "{}: not an executable or object file ({e}); expected a compiled test binary",
            path.display()
        ))
    })?;
    let Some(section) = file.section_by_name(marker::SECTION) else {
        return Ok(Instrumentation::NotLinked);
    };
    let bytes = section.data().map_err(|e| {
        Failure::input(format!(
            "{}: cannot read section {}: {e}",
            path.display(),
            marker::SECTION
        ))
    })?;
    let markers = parse_section(bytes);
    if markers.is_empty() {
        return Err(Failure::input(format!(
            "{}: section {} holds no racedet marker text (expected `racedet-runtime VERSION detect=1`)",
            path.display(),
            marker::SECTION
        )));
    }
    Ok(Instrumentation::Linked(markers))
}

/// Every marker in a section: NUL-padded texts, possibly several back to
/// back when more than one runtime version was linked.
fn parse_section(bytes: &[u8]) -> Vec<RuntimeMarker> {
    bytes
        .split(|&b| b == 0)
        .filter_map(marker::parse)
        .map(|text| {
            let mut words = text.split_whitespace().skip(1);
            let version = words.next().unwrap_or("unknown").to_string();
            let detect = words.any(|w| w == "detect=1");
            RuntimeMarker { version, detect }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padded_marker_text_is_parsed() {
        let mut bytes = b"racedet-runtime 0.1.0 detect=1".to_vec();
        bytes.resize(64, 0);
        assert_eq!(
            parse_section(&bytes),
            vec![RuntimeMarker {
                version: "0.1.0".into(),
                detect: true
            }]
        );
    }

    #[test]
    fn two_concatenated_markers_are_both_read() {
        let mut bytes = b"racedet-runtime 0.1.0 detect=1".to_vec();
        bytes.resize(64, 0);
        bytes.extend_from_slice(b"racedet-runtime 0.2.0 detect=1\0\0");
        let versions: Vec<_> = parse_section(&bytes)
            .into_iter()
            .map(|m| m.version)
            .collect();
        assert_eq!(versions, ["0.1.0", "0.2.0"]);
    }

    #[test]
    fn foreign_bytes_are_not_a_marker() {
        assert!(parse_section(b"something else\0\0").is_empty());
        assert!(!Instrumentation::NotLinked.is_instrumented());
    }
}
