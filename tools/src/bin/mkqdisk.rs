//! mkqdisk placeholder.
fn main() {}
