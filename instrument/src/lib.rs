//! racedet.
