//! cargo run --manifest-path examples/Cargo.toml --features racedet/detect --bin two_writers
fn main() {
    println!("two_writers: {:?}", racedet_examples::maps::two_writers());
}
