//! The workspace's binaries from other packages (hbd, fenced, qdiskd), built with the same
//! profile as this test or benchmark and found beside this package's own binaries.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Path of binary `bin` of package `package`, (re)built first so it is never stale.
pub fn sibling(package: &str, bin: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_BIN_EXE_hbctl"))
        .parent()
        .expect("target dir")
        .to_path_buf();
    let mut build = Command::new(env!("CARGO"));
    build.args(["build", "-q", "--locked", "-p", package, "--bin", bin]);
    if dir.ends_with("release") {
        build.arg("--release");
    }
    let status = build.status().expect("cargo build");
    assert!(
        status.success(),
        "cargo build -p {package} --bin {bin} failed"
    );
    dir.join(bin)
}
