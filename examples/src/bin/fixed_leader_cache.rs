//! cargo run --manifest-path examples/Cargo.toml --features racedet/detect --bin fixed_leader_cache
fn main() {
    println!(
        "fixed_leader_cache: {:?}",
        racedet_examples::leader::fixed_leader_cache()
    );
}
