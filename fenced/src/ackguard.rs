//! The guard on manual acknowledgements.
//!
//! `fence_tool ack NODE` declares a node down on the operator's word: its fencing ends as
//! acknowledged and the cluster takes over its resources, which cannot be taken back. When
//! qdiskd is configured, the quorum disk is a second opinion: a node whose status block
//! qdiskd still sees changing is not down, and acknowledging it would let two nodes own the
//! same storage. [`judge_ack`] decides, from qdiskd's answer, whether an acknowledgement goes
//! ahead; it does no I/O (the daemon asks qdiskd and hands the answer in).
//!
//! The rules:
//! - No `[quorumd]` in the cluster file: nothing to ask, the acknowledgement goes ahead.
//! - qdiskd configured but not answering, still initialising, or the node has no id in the
//!   cluster file: nobody can vouch that the node is down; refused unless forced.
//! - qdiskd sees the node `up` or `coming` (its status block changes), or the node is the
//!   one qdiskd runs on: it is not down; refused unless forced.
//! - qdiskd sees it `down`, or not at all: the acknowledgement goes ahead.
//!
//! A forced acknowledgement goes ahead and carries the objection it overrode, for the log.

use qdisk::api::StatusReply;
use qdisk::ids::NodeId;

use crate::topology::NodeName;

/// What qdiskd said when asked, as the daemon hands it to [`judge_ack`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QdiskAnswer {
    /// The cluster file configures no quorum disk: there is nobody to ask.
    NotConfigured,
    /// qdiskd is configured but could not be asked; why, in words.
    Unreachable(String),
    /// Its status.
    Status(Box<StatusReply>),
}

/// The verdict on one acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AckVerdict {
    /// Go ahead.
    Allow,
    /// Go ahead because it was forced, over this objection (to be logged).
    Forced(String),
    /// Refused: the reply to the requester, naming the fix.
    Refuse(String),
}

/// qdiskd states in which its view of the other nodes is settled.
const SETTLED_STATES: &[&str] = &["Running", "Master"];

/// Decides whether the acknowledgement of `target` (quorum-disk node id `id`, if the
/// cluster file gives one) goes ahead, given qdiskd's `answer`; `force` overrides an
/// objection.
pub fn judge_ack(
    target: &NodeName,
    id: Option<NodeId>,
    answer: &QdiskAnswer,
    force: bool,
) -> AckVerdict {
    match (objection(target, id, answer), force) {
        (None, _) => AckVerdict::Allow,
        (Some(why), true) => AckVerdict::Forced(why),
        (Some(why), false) => AckVerdict::Refuse(format!(
            "refusing: {why}. Check {target} (powered off, or cut off from shared storage), \
             then use --force if you are sure"
        )),
    }
}

/// Why the quorum disk does not let `target` be acknowledged, if it does not.
fn objection(target: &NodeName, id: Option<NodeId>, answer: &QdiskAnswer) -> Option<String> {
    let status = match answer {
        QdiskAnswer::NotConfigured => return None,
        QdiskAnswer::Unreachable(why) => {
            return Some(format!(
                "qdiskd could not be asked whether {target} still writes to the quorum disk \
                 ({why}); start qdiskd on this node and try again"
            ))
        }
        QdiskAnswer::Status(status) => status,
    };
    let Some(id) = id else {
        return Some(format!(
            "{target} is not a [[node]] with an id in the cluster file, so the quorum disk \
             cannot tell whether it is down; check the name"
        ));
    };
    if id.0 == status.node {
        return Some(format!(
            "{target} (node id {id}) is this node, and its qdiskd is writing its status block \
             (state {}); it is not down",
            status.state
        ));
    }
    if let Some(peer) = status
        .nodes
        .iter()
        .find(|n| n.node == id.0 && matches!(n.view.as_str(), "up" | "coming"))
    {
        let state = if peer.disk_state.is_empty() {
            String::new()
        } else {
            format!(", state {}", peer.disk_state)
        };
        return Some(format!(
            "the quorum disk shows {target} (node id {id}) still writing its status block \
             (qdiskd on this node sees it {}{state}); it is not down",
            peer.view
        ));
    }
    if !SETTLED_STATES.contains(&status.state.as_str()) {
        return Some(format!(
            "qdiskd on this node is in state {} and cannot yet tell whether {target} (node id \
             {id}) still writes to the quorum disk; wait until it runs (a few cycles) and try \
             again",
            status.state
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use qdisk::api::NodeReport;

    fn web1() -> NodeName {
        NodeName("web1".into())
    }

    /// qdiskd on node 1, in `state`, seeing node 2 as `view`.
    fn status(state: &str, view: Option<&str>) -> QdiskAnswer {
        QdiskAnswer::Status(Box::new(StatusReply {
            version: 1,
            node: 1,
            node_name: "web2".into(),
            state: state.into(),
            nodes: view
                .map(|v| NodeReport {
                    node: 2,
                    view: v.into(),
                    disk_state: String::new(),
                })
                .into_iter()
                .collect(),
            ..StatusReply::default()
        }))
    }

    fn refusal(verdict: AckVerdict) -> String {
        match verdict {
            AckVerdict::Refuse(why) => why,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn without_a_quorum_disk_nothing_is_checked() {
        let v = judge_ack(&web1(), None, &QdiskAnswer::NotConfigured, false);
        assert_eq!(v, AckVerdict::Allow);
    }

    #[test]
    fn a_node_still_writing_is_refused_unless_forced_and_the_refusal_says_why_and_what_to_do() {
        for view in ["up", "coming"] {
            let answer = status("Running", Some(view));
            let why = refusal(judge_ack(&web1(), Some(NodeId(2)), &answer, false));
            assert!(
                why.starts_with("refusing: the quorum disk shows web1 (node id 2) still writing")
                    && why.contains(&format!("sees it {view}"))
                    && why.contains("it is not down")
                    && why.contains("use --force if you are sure"),
                "{why}"
            );
            match judge_ack(&web1(), Some(NodeId(2)), &answer, true) {
                AckVerdict::Forced(why) => assert!(why.contains("still writing"), "{why}"),
                other => panic!("forced: {other:?}"),
            }
        }
    }

    #[test]
    fn the_state_in_its_status_block_is_named_when_qdiskd_reports_it() {
        let mut answer = status("Master", Some("up"));
        if let QdiskAnswer::Status(s) = &mut answer {
            s.nodes[0].disk_state = "Running".into();
        }
        let why = refusal(judge_ack(&web1(), Some(NodeId(2)), &answer, false));
        assert!(why.contains("sees it up, state Running"), "{why}");
    }

    #[test]
    fn a_node_down_or_never_seen_on_the_disk_is_acknowledged() {
        for state in ["Running", "Master"] {
            for view in [Some("down"), Some("unknown"), None] {
                let v = judge_ack(&web1(), Some(NodeId(2)), &status(state, view), false);
                assert_eq!(v, AckVerdict::Allow, "{state} {view:?}");
            }
        }
    }

    #[test]
    fn another_node_writing_does_not_matter() {
        let v = judge_ack(
            &web1(),
            Some(NodeId(3)),
            &status("Running", Some("up")),
            false,
        );
        assert_eq!(v, AckVerdict::Allow);
    }

    #[test]
    fn an_unreachable_qdiskd_refuses_unless_forced_and_says_it_could_not_be_asked() {
        let answer = QdiskAnswer::Unreachable("cannot reach qdiskd at /run/q.sock".into());
        let why = refusal(judge_ack(&web1(), Some(NodeId(2)), &answer, false));
        assert!(
            why.contains("qdiskd could not be asked whether web1 still writes")
                && why.contains("cannot reach qdiskd at /run/q.sock")
                && why.contains("start qdiskd")
                && why.contains("--force"),
            "{why}"
        );
        assert!(matches!(
            judge_ack(&web1(), Some(NodeId(2)), &answer, true),
            AckVerdict::Forced(_)
        ));
    }

    #[test]
    fn an_initialising_qdiskd_cannot_vouch_for_a_node_it_has_not_seen_yet() {
        let why = refusal(judge_ack(
            &web1(),
            Some(NodeId(2)),
            &status("Initializing", None),
            false,
        ));
        assert!(why.contains("in state Initializing"), "{why}");
        // But a node it already sees writing is named as such.
        let why = refusal(judge_ack(
            &web1(),
            Some(NodeId(2)),
            &status("Initializing", Some("coming")),
            false,
        ));
        assert!(why.contains("still writing"), "{why}");
    }

    #[test]
    fn a_node_without_an_id_cannot_be_checked_and_this_node_is_never_down() {
        let why = refusal(judge_ack(
            &web1(),
            None,
            &status("Running", Some("down")),
            false,
        ));
        assert!(why.contains("not a [[node]] with an id"), "{why}");
        let why = refusal(judge_ack(
            &web1(),
            Some(NodeId(1)),
            &status("Master", None),
            false,
        ));
        assert!(why.contains("is this node"), "{why}");
    }
}
