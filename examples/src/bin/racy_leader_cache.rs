//! cargo run --manifest-path examples/Cargo.toml --features racedet/detect --bin racy_leader_cache
fn main() {
    println!(
        "racy_leader_cache: {:?}",
        racedet_examples::leader::racy_leader_cache()
    );
}
