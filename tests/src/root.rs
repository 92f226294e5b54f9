//! Tests that need root say so, and fail clearly when they are not run as root.

/// Whether this process runs with effective uid 0.
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Panics with a clear message unless the process is root.
///
/// Lab tests call this first: they create loop devices, namespaces and processes that need
/// root. CI runs as root, so these tests must run there rather than skip.
#[track_caller]
pub fn require_root(what: &str) {
    assert!(
        is_root(),
        "{what} needs root (loop devices, namespaces): run the test suite as root, \
         e.g. `sudo bash scripts/test.sh`"
    );
}
