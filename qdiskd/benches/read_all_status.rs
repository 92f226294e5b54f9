//! Placeholder until the format lands.
fn main() {}
