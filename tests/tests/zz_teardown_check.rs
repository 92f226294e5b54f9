//! Suite-level hygiene: after the other lab tests (cargo runs this target last), nothing is
//! left on the machine by a lab whose process is gone: no namespace, cgroup, process, FUSE
//! mount, loop device or directory.

use lab::root::require_root;
use lab::sweep::leftovers;

#[test]
fn no_lab_left_anything_behind() {
    require_root("no_lab_left_anything_behind");
    let left: Vec<String> = leftovers()
        .into_iter()
        .filter(|l| !l.owner_alive)
        .map(|l| l.to_string())
        .collect();
    assert!(
        left.is_empty(),
        "left behind by labs (remove with `lab sweep`):\n{}",
        left.join("\n")
    );
}
