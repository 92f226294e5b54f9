//! Debian's OCF agents (package resource-agents) run through our OCF runner.

use hbd::agents::{Agents, GroupOutcome, Op, Outcome};
use hbd::config::haresources::parse_resource;

#[test]
fn debian_dummy_agent_starts_monitors_and_stops() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let state = tmp.path().join("dummy.state");
    let a = Agents::default();
    let r =
        parse_resource(&format!("ocf:heartbeat:Dummy::state={}", state.display())).expect("token");
    let agent = a.resolve(&r);
    let Ok(hbd::agents::Agent::Ocf(ocf)) = &agent else {
        panic!("{agent:?}: install resource-agents (scripts/install-test-deps.sh)");
    };
    assert_eq!(ocf.provider, "heartbeat");
    assert_eq!(ocf.kind, "Dummy");
    assert_eq!(
        ocf.params,
        vec![("OCF_RESKEY_state".to_string(), state.display().to_string())]
    );
    assert_eq!(a.status(&r), Outcome::Stopped, "monitor 7 = not running");
    assert_eq!(
        a.run(&r, Op::Stop),
        Outcome::Stopped,
        "stop of a stopped resource"
    );
    assert_eq!(a.run(&r, Op::Start), Outcome::Running);
    assert!(state.exists());
    assert_eq!(a.status(&r), Outcome::Running);
    assert_eq!(
        a.run(&r, Op::Start),
        Outcome::Running,
        "start is idempotent"
    );
    assert_eq!(a.run(&r, Op::Stop), Outcome::Stopped);
    assert!(!state.exists());
    assert_eq!(a.status(&r), Outcome::Stopped);
}

#[test]
fn dummy_instances_start_and_stop_as_a_group() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let s1 = tmp.path().join("one.state");
    let s2 = tmp.path().join("two.state");
    let group = [
        parse_resource(&format!("ocf:heartbeat:Dummy::one::state={}", s1.display()))
            .expect("token"),
        parse_resource(&format!("ocf:heartbeat:Dummy::two::state={}", s2.display()))
            .expect("token"),
    ];
    let a = Agents::default();
    assert_eq!(
        a.start_group(&group).outcome,
        GroupOutcome::Started { skipped: vec![] }
    );
    assert!(s1.exists() && s2.exists());
    assert_eq!(a.stop_group(&group).outcome, GroupOutcome::Stopped);
    assert!(!s1.exists() && !s2.exists());
}
