//! Swapping std's imports for racedet's must keep std code compiling:
//! nothing in racedet's dependency graph may add trait impls on std's
//! types that make inference ambiguous. (`serde_json` did, through the
//! runtime: its `impl PartialEq<Value> for u64` made `x == iter.sum()`
//! E0283 in every crate using racedet.) This file compiling is the test;
//! racedet has no dev-dependencies, so only its own graph is in scope.

use racedet::sync::Mutex;

#[test]
fn a_sum_compared_without_annotations_still_infers() {
    let total = Mutex::new(6u64);
    let sum = *total.lock().unwrap();
    assert!(sum == (1..=3u64).sum());
    assert_eq!(sum, [1u64, 2, 3].iter().sum());
}
