//! Checks an agent's `-o metadata` XML against fence-agents' own RELAX NG schema, with
//! `xmllint` as the independent checker.

use std::process::Command;

/// fence-agents' metadata schema (Debian's fence-agents package installs it).
pub const SCHEMA: &str = "/usr/share/cluster/relaxng/metadata.rng";

/// Panics, naming `agent` and xmllint's complaint, unless `xml` is valid against
/// [`SCHEMA`].
pub fn assert_valid(agent: &str, xml: &[u8]) {
    assert!(
        std::path::Path::new(SCHEMA).exists(),
        "{SCHEMA} missing: install fence-agents (scripts/install-test-deps.sh)"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("metadata.xml");
    std::fs::write(&path, xml).expect("write the metadata");
    let check = Command::new("xmllint")
        .args(["--noout", "--relaxng", SCHEMA])
        .arg(&path)
        .output()
        .expect("xmllint (libxml2-utils, scripts/install-test-deps.sh)");
    assert!(
        check.status.success(),
        "{agent}: {}",
        String::from_utf8_lossy(&check.stderr)
    );
}
