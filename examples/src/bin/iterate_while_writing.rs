//! cargo run --manifest-path examples/Cargo.toml --features racedet/detect --bin iterate_while_writing
fn main() {
    println!(
        "iterate_while_writing: {:?}",
        racedet_examples::maps::iterate_while_writing()
    );
}
