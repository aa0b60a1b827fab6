//! The seed scenarios as a test suite. Without detection every test passes;
//! under `cargo racedet test` the racy ones are reported with both sites.

use racedet_examples::{controller, leader, maps};

#[test]
fn two_writers_on_one_map() {
    assert_eq!(maps::two_writers(), 1);
}

#[test]
fn safe_map_behind_a_rwlock() {
    maps::safe_map();
}

#[test]
fn readers_only() {
    assert_eq!(
        maps::readers_only(),
        4 * (0..64u64).map(|i| i * i).sum::<u64>()
    );
}

#[test]
fn iterate_while_another_thread_writes() {
    assert!(maps::iterate_while_writing() >= 8);
}

#[test]
fn controller_reconcile_reads_informer_cache() {
    assert!(controller::racy_controller() <= 3);
}

#[test]
fn controller_fixed_with_rwlock() {
    assert!(controller::fixed_controller() <= 3);
}

#[test]
fn leader_election_delete_load_store() {
    assert!(leader::racy_leader_cache().is_some());
}

#[test]
fn leader_election_fixed_with_one_critical_section() {
    assert!(leader::fixed_leader_cache().is_some());
}
