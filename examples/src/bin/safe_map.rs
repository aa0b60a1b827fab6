//! cargo run --manifest-path examples/Cargo.toml --features racedet/detect --bin safe_map
fn main() {
    println!("safe_map: {:?}", racedet_examples::maps::safe_map());
}
