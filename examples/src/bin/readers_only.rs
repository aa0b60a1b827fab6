//! cargo run --manifest-path examples/Cargo.toml --features racedet/detect --bin readers_only
fn main() {
    println!("readers_only: {:?}", racedet_examples::maps::readers_only());
}
