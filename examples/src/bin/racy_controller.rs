//! cargo run --manifest-path examples/Cargo.toml --features racedet/detect --bin racy_controller
fn main() {
    println!(
        "racy_controller: {:?}",
        racedet_examples::controller::racy_controller()
    );
}
