//! cargo run --manifest-path examples/Cargo.toml --features racedet/detect --bin fixed_controller
fn main() {
    println!(
        "fixed_controller: {:?}",
        racedet_examples::controller::fixed_controller()
    );
}
