//! racedet runtime.
