//! Unique names for lab objects, so that tests and lab instances can run in parallel.

use std::sync::atomic::{AtomicU32, Ordering};

/// Prefix of every object the lab creates (files, namespaces, interfaces); the sweeper
/// removes leftovers by this prefix.
pub const PREFIX: &str = "qlab";

/// A name no other lab object of this machine uses right now: prefix, PID and a counter.
///
/// Kept short because interface names are limited to 15 bytes.
pub fn unique_name(kind: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{PREFIX}{kind}{}x{n}", std::process::id() % 100_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_differ_and_carry_the_prefix() {
        let a = unique_name("d");
        let b = unique_name("d");
        assert_ne!(a, b);
        assert!(a.starts_with(PREFIX));
    }
}
