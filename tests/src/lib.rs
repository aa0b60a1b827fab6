//! Scenario helpers.
