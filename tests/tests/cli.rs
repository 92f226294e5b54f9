//! Stage 7: the `lab` command brings a lab up and down, and `lab check` finds nothing left.

use std::process::Command;

use lab::root::require_root;

#[test]
fn lab_up_prints_the_lab_and_tears_it_down() {
    require_root("lab_up_prints_the_lab_and_tears_it_down");
    let out = Command::new(env!("CARGO_BIN_EXE_lab"))
        .args(["up", "--nodes", "2", "--disk-mib", "4", "--hold", "0.2"])
        .output()
        .expect("run lab up");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for needle in [
        "node1:",
        "node2:",
        "10.99.1.2",
        "BMC 10.99.0.102:623",
        "shared disk /dev/loop",
        "snmpd 10.99.0.254:161",
        "up in",
        "down in",
    ] {
        assert!(
            text.contains(needle),
            "`lab up` output lacks {needle:?}:\n{text}"
        );
    }
    let id = text
        .split_whitespace()
        .nth(1)
        .expect("lab id in the first line")
        .to_string();
    assert_eq!(lab::sweep::leftovers_of(&id), vec![]);
    let check = Command::new(env!("CARGO_BIN_EXE_lab"))
        .arg("check")
        .output()
        .expect("lab check");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
}
