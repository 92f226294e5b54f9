//! The chaos campaign in CI: a fixed handful of seeds against the real cluster must keep
//! every safety rule and recover, and the checker must catch a lying fence agent (its own
//! test: a checker that never fires proves nothing). The full campaign is `lab chaos`.

use std::path::PathBuf;
use std::time::Duration;

use lab::chaos::record::Verdict;
use lab::chaos::run::{run, RunConfig};
use lab::chaos::schedule::{draw, Constraints, Schedule, Step};
use lab::playground::{Fault, Options};
use lab::root::require_root;

/// The workspace's binaries: beside this package's `lab` (a workspace test run builds
/// every binary into the same directory).
fn bins() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_lab"))
        .parent()
        .expect("target dir")
        .to_path_buf()
}

/// One cluster at a time: two at once overload a two-core machine.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn config(out: &std::path::Path, liar: bool) -> RunConfig {
    RunConfig {
        bins: bins(),
        out: out.to_path_buf(),
        liar,
        interrupted: Default::default(),
    }
}

/// Seed 10: two nodes with the quorum disk and IPMI (a cut, a disk stall on the other
/// node, a crash, a failing disk, qdiskd killed). Seed 13: three nodes with the quorum
/// disk and fabric fencing (a cut, a partition, the management network cut).
#[test]
fn a_fixed_handful_of_seeds_keeps_every_rule_and_recovers() {
    require_root("a_fixed_handful_of_seeds_keeps_every_rule_and_recovers");
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let out = tempfile::tempdir().expect("tempdir");
    let constraints = Constraints {
        timing: Some("demo".into()),
        duration: Some(Duration::from_secs(30)),
        ..Constraints::default()
    };
    for seed in [10, 13] {
        let schedule = draw(seed, &constraints);
        let record = run(&schedule, &config(out.path(), false));
        let timeline = lab::chaos::report::merged_timeline(&record);
        assert_eq!(
            record.verdict,
            Verdict::Ok,
            "seed {seed}:\n{}\n{timeline}",
            schedule.render()
        );
        // Who owns the disk when, and whether anyone is fenced, depends on timing (a node
        // powered on before its fence is simply back): only that the writer ran is fixed.
        assert!(
            !record.ownership.is_empty(),
            "seed {seed}: the shared-disk writer never wrote\n{timeline}"
        );
    }
}

/// Two nodes without the quorum disk, every fence agent lying: web1 hangs (every process
/// frozen), web2 "fences" it (success reported, nothing done) and takes the group over;
/// when web1 thaws, its writer writes on before anything can stop it, as a hung database
/// server does when STONITH did not really happen. The checker must say so.
#[test]
fn the_checker_catches_a_lying_fence_agent() {
    require_root("the_checker_catches_a_lying_fence_agent");
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let out = tempfile::tempdir().expect("tempdir");
    let schedule = Schedule {
        seed: 0,
        options: Options {
            nodes: 2,
            stack: "ours".into(),
            qdisk: false,
            fencing: "ipmi".into(),
            timing: "fast".into(),
            auto_failback: "off".into(),
            prefer: "web1".into(),
            writer: true,
        },
        duration: Duration::from_secs(10),
        steps: vec![
            Step {
                at: Duration::from_secs(1),
                fault: Fault::parse_line("pause web1").expect("fault"),
            },
            Step {
                at: Duration::from_secs(7),
                fault: Fault::parse_line("resume web1").expect("fault"),
            },
        ],
    };
    let record = run(&schedule, &config(out.path(), true));
    let timeline = lab::chaos::report::merged_timeline(&record);
    assert_eq!(record.verdict, Verdict::Violation, "{timeline}");
    let kinds: Vec<&str> = record.violations.iter().map(|v| v.kind.as_str()).collect();
    assert!(kinds.contains(&"disk-overlap"), "{kinds:?}\n{timeline}");
    let overlap = record
        .violations
        .iter()
        .find(|v| v.kind == "disk-overlap")
        .expect("overlap");
    assert!(
        overlap.detail.contains("web1") && overlap.detail.contains("web2"),
        "{}",
        overlap.detail
    );
    // The "fence" of web1 was reported as successful: the agent lied.
    assert!(
        record
            .fences
            .iter()
            .any(|f| f.victim == "web1" && f.result == "fenced"),
        "{:?}\n{timeline}",
        record.fences
    );
}

/// Poison-pill fencing in the campaign's cluster: two nodes with the quorum disk and the
/// lab's watchdogs. web1, the holder, hangs (every process frozen): web2 fences it through
/// the disk (web1's watchdog, no longer petted, powers it off; the agent's message wait
/// covers that) and takes the group and the disk region over. No rule is broken, the
/// fence succeeded, and web2 wrote after web1.
#[test]
fn a_hung_holder_is_fenced_by_poison_pill_and_its_peer_takes_over() {
    require_root("a_hung_holder_is_fenced_by_poison_pill_and_its_peer_takes_over");
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let out = tempfile::tempdir().expect("tempdir");
    let schedule = Schedule {
        seed: 0,
        options: Options {
            nodes: 2,
            stack: "ours".into(),
            qdisk: true,
            fencing: "poison".into(),
            timing: "demo".into(),
            auto_failback: "off".into(),
            prefer: "web1".into(),
            writer: true,
        },
        duration: Duration::from_secs(20),
        steps: vec![Step {
            at: Duration::from_secs(1),
            fault: Fault::parse_line("pause web1").expect("fault"),
        }],
    };
    let record = run(&schedule, &config(out.path(), false));
    let timeline = lab::chaos::report::merged_timeline(&record);
    assert_eq!(record.verdict, Verdict::Ok, "{timeline}");
    assert!(
        record
            .fences
            .iter()
            .any(|f| f.victim == "web1" && f.by == "web2" && f.result == "fenced"),
        "{:?}\n{timeline}",
        record.fences
    );
    let owners: Vec<&str> = record.ownership.iter().map(|o| o.node.as_str()).collect();
    let first_web2 = owners.iter().position(|o| *o == "web2");
    assert!(
        owners.first() == Some(&"web1") && first_web2.is_some(),
        "web1 wrote, then web2: {owners:?}\n{timeline}"
    );
}
