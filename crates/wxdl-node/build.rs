//! Sets up linking for a Node addon (undefined napi symbols resolved by node at load time).
fn main() {
    napi_build::setup();
}
