//! The fenced API: newline-delimited JSON over a root-only Unix socket, with a version.
//!
//! Requests (`{"version":1,"request":{...}}`): `fence {target, action, origin, wait}`,
//! `unfence {target, wait}`, `ack {target, by, force?}`, `status`, `history {target?, limit?}`,
//! `quorum {quorate}`, `membership {members}`, `rejoined {target}`, `withdraw {target, origin}`,
//! `subscribe`. Replies carry `"version":1` and
//! either `ok` with a payload or `error`.

use serde::{Deserialize, Serialize};

use crate::history::{FenceAction, Origin, Record};

/// Protocol version.
pub const API_VERSION: u32 = 1;

/// A request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Request {
    /// Fence a node.
    Fence {
        /// The victim.
        target: String,
        /// Off or reboot.
        action: FenceAction,
        /// Who asks.
        origin: Origin,
        /// Hold the connection until the operation ends and reply with its record.
        #[serde(default)]
        wait: bool,
    },
    /// Unfence a node.
    Unfence {
        /// The node.
        target: String,
        /// Hold the connection until it ends.
        #[serde(default)]
        wait: bool,
    },
    /// An administrator declares a node safely down. When qdiskd is configured and the
    /// quorum disk shows the node still writing (or qdiskd cannot be asked), the request is
    /// refused unless `force` is set ([`crate::ackguard`]).
    Ack {
        /// The node.
        target: String,
        /// Who.
        by: String,
        /// Acknowledge even when the quorum disk objects (absent in older clients: false;
        /// left out of the line when false).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        force: bool,
    },
    /// Operations in progress.
    Status,
    /// Past operations.
    History {
        /// Only this node's.
        target: Option<String>,
        /// At most this many, newest last.
        limit: Option<usize>,
    },
    /// The membership layer's verdict on this partition's quorum.
    Quorum {
        /// Whether it is quorate.
        quorate: bool,
    },
    /// The membership layer's current members (startup fencing, averted fencing).
    Membership {
        /// Member node names.
        members: Vec<String>,
    },
    /// A node rejoined the cluster.
    Rejoined {
        /// The node.
        target: String,
    },
    /// The requester no longer asks for this node to be fenced (it rejoined): the request
    /// leaves the operation, which is cancelled when nobody else asks for it and no device
    /// is being called.
    Withdraw {
        /// The node.
        target: String,
        /// Who asked (as in the fence request).
        origin: Origin,
    },
    /// Stream every finished operation.
    Subscribe,
}

/// A request line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestLine {
    /// Protocol version.
    pub version: u32,
    /// The request.
    pub request: Request,
}

/// An operation in progress, for `fence_tool ls`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpReport {
    /// Operation id.
    pub id: u64,
    /// The victim.
    pub target: String,
    /// What is asked.
    pub action: FenceAction,
    /// Who asked.
    pub origin: Origin,
    /// Where it stands, in words.
    pub state: String,
    /// Round of the topology.
    pub round: u32,
    /// Device calls so far.
    pub attempts: usize,
}

/// A reply payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Payload {
    /// A request was accepted as operation `id`.
    Accepted {
        /// Operation id.
        id: u64,
    },
    /// An operation ended.
    Finished {
        /// Its record.
        record: Record,
    },
    /// Status.
    Status {
        /// Whether this partition is quorate.
        quorate: bool,
        /// Operations in progress.
        ops: Vec<OpReport>,
    },
    /// History.
    History {
        /// Records, oldest first.
        records: Vec<Record>,
    },
    /// Done.
    Done,
}

/// A reply line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    /// Protocol version.
    pub version: u32,
    /// The payload, on success.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ok: Option<Payload>,
    /// The error, on failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Reply {
    /// A success.
    pub fn ok(payload: Payload) -> Self {
        Self {
            version: API_VERSION,
            ok: Some(payload),
            error: None,
        }
    }

    /// A failure.
    pub fn error(message: impl Into<String>) -> Self {
        Self {
            version: API_VERSION,
            ok: None,
            error: Some(message.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ack_without_force_is_read_as_not_forced_and_written_as_before() {
        let line = r#"{"version":1,"request":{"kind":"ack","target":"web1","by":"root"}}"#;
        let parsed: RequestLine = serde_json::from_str(line).expect("an older client's ack");
        assert_eq!(
            parsed.request,
            Request::Ack {
                target: "web1".into(),
                by: "root".into(),
                force: false
            }
        );
        assert_eq!(serde_json::to_string(&parsed).expect("json"), line);
        let forced = Request::Ack {
            target: "web1".into(),
            by: "root".into(),
            force: true,
        };
        let text = serde_json::to_string(&forced).expect("json");
        assert!(text.contains(r#""force":true"#), "{text}");
        assert_eq!(
            serde_json::from_str::<Request>(&text).expect("back"),
            forced
        );
    }
}
