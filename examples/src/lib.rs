//! The seed scenarios: each racy design next to its fix. Programs in
//! `src/bin/` run one scenario; `tests/seed.rs` runs them all as a suite.
//!
//! Every type comes from racedet, so with detection on (`--features
//! racedet/detect`, or `cargo racedet test`) racy scenarios print a Go-style
//! report, and without it they are plain std code.

pub mod controller;
pub mod leader;
pub mod maps;
