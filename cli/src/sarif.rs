//! SARIF 2.1.0 output, for code-scanning tools: one rule per report kind,
//! one result per distinct race, located at the current access with the
//! previous access as a related location.

use crate::races::{Race, Races};
use crate::summary::access_phrase;
use racedet_runtime::report::{ReportKind, SourceSite};
use serde_json::{json, Value};

/// Where the SARIF 2.1.0 JSON schema lives.
const SCHEMA: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// The rule id of a kind: its words, hyphenated (`concurrent-map-writes`).
pub fn rule_id(kind: ReportKind) -> String {
    kind.as_str().replace(' ', "-")
}

/// The whole SARIF log.
pub fn render(races: &Races) -> Value {
    let rules: Vec<Value> = ReportKind::ALL.iter().map(|&k| rule(k)).collect();
    let results: Vec<Value> = races.iter().map(result).collect();
    json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "racedet",
                    "version": env!("CARGO_PKG_VERSION"),
                    "informationUri": "https://example.invalid/racedet",
                    "rules": rules,
                }
            },
            "columnKind": "unicodeCodePoints",
            "results": results,
        }]
    })
}

fn rule(kind: ReportKind) -> Value {
    let (name, help) = match kind {
        ReportKind::MapWrites => (
            "ConcurrentMapWrites",
            "Two writes to the same map were not ordered by happens-before. Guard the map with a lock, or hand it between threads over a channel.",
        ),
        ReportKind::MapReadWrite => (
            "ConcurrentMapReadAndMapWrite",
            "A read and a write of the same map were not ordered by happens-before. Readers need the lock (or an RwLock read guard) too.",
        ),
        ReportKind::MapIterationWrite => (
            "ConcurrentMapIterationAndMapWrite",
            "An iteration over a map and a write to it were not ordered by happens-before. Hold the lock for the whole iteration.",
        ),
        ReportKind::DataRace => (
            "DataRace",
            "Two accesses to the same location, at least one a write, from different threads, were not ordered by happens-before.",
        ),
    };
    json!({
        "id": rule_id(kind),
        "name": name,
        "shortDescription": { "text": kind.as_str() },
        "fullDescription": { "text": help },
        "defaultConfiguration": { "level": "error" },
    })
}

fn result(race: &Race) -> Value {
    let r = &race.report;
    let rule_index = ReportKind::ALL
        .iter()
        .position(|&k| k == r.kind)
        .unwrap_or(0);
    let message = format!(
        "{}: {} races with {} ({} {})",
        r.kind,
        access_phrase(&r.current),
        access_phrase(&r.previous),
        r.object.kind,
        r.object.address
    );
    let (a, b) = (&r.current.site, &r.previous.site);
    json!({
        "ruleId": rule_id(r.kind),
        "ruleIndex": rule_index,
        "level": "error",
        "message": { "text": message },
        "locations": [location(a, None)],
        "relatedLocations": [location(
            b,
            Some((1, format!("previous {}", access_phrase(&r.previous)))),
        )],
        // Stable across runs (addresses and thread numbers are not), so a
        // code-scanning service tracks one race as one alert.
        "partialFingerprints": {
            "racedetPair/v1": format!("{}|{}|{}", r.kind, a.min(b), a.max(b)),
        },
        "properties": {
            "programs": race.programs.iter().collect::<Vec<_>>(),
            "processes": race.processes.len(),
        },
    })
}

fn location(site: &SourceSite, related: Option<(u32, String)>) -> Value {
    let mut artifact = json!({ "uri": uri(&site.file) });
    if !is_absolute(&site.file) {
        // Relative paths are relative to the workspace root cargo compiled
        // from; %SRCROOT% is the conventional name for it.
        artifact["uriBaseId"] = json!("%SRCROOT%");
    }
    let mut region = json!({ "startLine": site.line });
    // SARIF columns start at 1; 0 is the reports' "unknown".
    if site.column > 0 {
        region["startColumn"] = json!(site.column);
    }
    let mut loc = json!({
        "physicalLocation": {
            "artifactLocation": artifact,
            "region": region,
        }
    });
    if let Some((id, text)) = related {
        loc["id"] = json!(id);
        loc["message"] = json!({ "text": text });
    }
    loc
}

fn is_absolute(file: &str) -> bool {
    file.starts_with('/') || file.as_bytes().get(1) == Some(&b':')
}

/// A path as a URI reference: `file:///...` for absolute paths, forward
/// slashes, and percent-encoding of what a URI cannot hold.
fn uri(file: &str) -> String {
    let slashed = file.replace('\\', "/");
    let mut out = String::new();
    if is_absolute(&slashed) {
        out.push_str("file://");
        if !slashed.starts_with('/') {
            out.push('/');
        }
    }
    for b in slashed.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' | b':' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_stay_relative_and_absolute_ones_become_file_uris() {
        assert_eq!(uri("src/lib.rs"), "src/lib.rs");
        assert_eq!(
            uri("/home/me/my crate/src/lib.rs"),
            "file:///home/me/my%20crate/src/lib.rs"
        );
        assert_eq!(uri("C:\\src\\lib.rs"), "file:///C:/src/lib.rs");
    }

    #[test]
    fn rule_ids_are_the_kind_words_hyphenated() {
        assert_eq!(rule_id(ReportKind::MapWrites), "concurrent-map-writes");
        assert_eq!(rule_id(ReportKind::DataRace), "data-race");
    }
}
