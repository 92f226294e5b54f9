//! The poison pill: a fence order written into a node's slot by a fence agent, and the
//! node's acknowledgement (SBD's "message reset|off", with an answer).
//!
//! Both are ordinary status blocks, so they fit either layout unchanged; they are marked in
//! fields every layout has and Red Hat's qdiskd always leaves zero:
//!
//! | block | writer (`updated_by`) | state | flags | message (kind, seq, arg) | incarnation |
//! |---|---|---|---|---|---|
//! | pill | the fencing node, never 0 and never the slot's owner | Evicted | [`FLAG_PILL`] | [`MessageKind::Poison`], action, nonce | the victim's, as the agent last saw it (0: unknown) |
//! | acknowledgement | the slot's owner | Evicted | [`FLAG_PILL_ACK`] | [`MessageKind::Poison`], action, the pill's nonce | the owner's own |
//!
//! Action codes: 1 = off, 2 = reboot ([`PillAction`]); any other value is read as reboot.
//!
//! How readers take them:
//! - A pill is a block written into the slot by someone else with state Evicted, so every
//!   qdiskd that reads it in its own slot fences itself, ours and Red Hat's alike (Red Hat's
//!   reboots on any S_EVICT notice it finds in its own slot; it never acknowledges). Peers
//!   never take it as a sign of life (it is not the owner's write), and a master does not
//!   write an eviction notice over it.
//! - Our qdiskd acknowledges: it stops petting its watchdog, writes the acknowledgement into
//!   its own slot with a short deadline, and fences itself (see [`crate::cycle`]).
//! - An acknowledgement is the owner's last write: peers never take it as a sign of life
//!   either (it is not a heartbeat: the node is fencing itself), so they declare the node
//!   dead at the usual time.

use super::status::{Message, MessageKind, NodeState, StatusBlock};
use crate::ids::{Incarnation, NodeId};

/// `flags` bit: this block is a poison pill.
pub const FLAG_PILL: u16 = 0x0001;
/// `flags` bit: this block acknowledges a poison pill (the owner's last write).
pub const FLAG_PILL_ACK: u16 = 0x0002;

/// What the fenced node does once it has read the pill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PillAction {
    /// Power off (fence-agents `off`).
    Off,
    /// Reboot (fence-agents `reboot`).
    Reboot,
}

impl PillAction {
    /// The on-disk code (the message's sequence field).
    pub fn code(self) -> u16 {
        match self {
            PillAction::Off => 1,
            PillAction::Reboot => 2,
        }
    }

    /// The action for an on-disk code; unknown codes reboot (a pill is a fence order,
    /// whatever else it says).
    pub fn from_code(code: u16) -> Self {
        match code {
            1 => PillAction::Off,
            _ => PillAction::Reboot,
        }
    }

    /// `off` or `reboot`.
    pub fn name(self) -> &'static str {
        match self {
            PillAction::Off => "off",
            PillAction::Reboot => "reboot",
        }
    }
}

impl std::fmt::Display for PillAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One fence order: what to do, and the sender's nonce that the acknowledgement repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Pill {
    /// What the node does.
    pub action: PillAction,
    /// Chosen by the sender; the acknowledgement carries it back.
    pub nonce: u32,
}

impl Pill {
    fn message(self) -> Message {
        Message {
            kind: MessageKind::Poison,
            seq: self.action.code(),
            arg: self.nonce,
        }
    }

    fn from_message(message: Message) -> Option<Pill> {
        (message.kind == MessageKind::Poison).then_some(Pill {
            action: PillAction::from_code(message.seq),
            nonce: message.arg,
        })
    }
}

impl StatusBlock {
    /// A pill for `victim`'s slot, written by node `writer` (which must be neither 0 nor
    /// the victim), aimed at the victim's incarnation `target` (0 when unknown) and
    /// carrying its last heartbeat unchanged.
    pub fn pill(
        victim: NodeId,
        writer: NodeId,
        target: Incarnation,
        heartbeat: u64,
        pill: Pill,
    ) -> StatusBlock {
        StatusBlock {
            node: victim,
            updated_by: writer.0,
            state: NodeState::Evicted,
            flags: FLAG_PILL,
            incarnation: target,
            heartbeat,
            message: pill.message(),
            ..StatusBlock::default()
        }
    }

    /// The acknowledgement `node` writes into its own slot for `pill`, with its own
    /// `incarnation` and `heartbeat`.
    pub fn pill_ack(
        node: NodeId,
        incarnation: Incarnation,
        heartbeat: u64,
        pill: Pill,
    ) -> StatusBlock {
        StatusBlock {
            node,
            updated_by: node.0,
            state: NodeState::Evicted,
            flags: FLAG_PILL_ACK,
            incarnation,
            heartbeat,
            message: pill.message(),
            ..StatusBlock::default()
        }
    }

    /// The pill this block is, if it is one: marked as a pill and written by a node other
    /// than the owner (an owner never writes a pill into its own slot).
    pub fn as_pill(&self) -> Option<Pill> {
        let foreign = self.updated_by != 0 && self.updated_by != self.node.0;
        if !foreign || self.flags & FLAG_PILL == 0 {
            return None;
        }
        Some(Pill::from_message(self.message).unwrap_or(Pill {
            action: PillAction::Reboot,
            nonce: self.message.arg,
        }))
    }

    /// The pill this block acknowledges, if it is an acknowledgement (the owner's own
    /// write, marked as one).
    pub fn as_pill_ack(&self) -> Option<Pill> {
        if self.updated_by != self.node.0 || self.flags & FLAG_PILL_ACK == 0 {
            return None;
        }
        Some(Pill::from_message(self.message).unwrap_or(Pill {
            action: PillAction::Reboot,
            nonce: self.message.arg,
        }))
    }

    /// Whether this block is an acknowledgement: the owner's write, but not a sign of life.
    pub fn is_pill_ack(&self) -> bool {
        self.as_pill_ack().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{decode_status, encode_status};
    use crate::geometry::Layout;

    const PILL: Pill = Pill {
        action: PillAction::Off,
        nonce: 0xDEAD_BEEF,
    };

    #[test]
    fn a_pill_and_its_acknowledgement_survive_both_layouts() {
        for layout in [Layout::Classic, Layout::Extended { max_nodes: 16 }] {
            let pill = StatusBlock::pill(NodeId(3), NodeId(1), Incarnation(77), 9, PILL);
            let ack = StatusBlock::pill_ack(NodeId(3), Incarnation(77), 10, PILL);
            for block in [pill, ack] {
                let mut sector = vec![0; 512];
                encode_status(&block, layout, 1_700_000_000, &mut sector).expect("encodes");
                let back = decode_status(&sector, layout, NodeId(3)).expect("decodes");
                assert_eq!(back.flags, block.flags, "{layout:?}");
                assert_eq!(back.message, block.message, "{layout:?}");
                assert_eq!(back.updated_by, block.updated_by, "{layout:?}");
                assert_eq!(back.state, NodeState::Evicted, "{layout:?}");
                assert_eq!(back.incarnation, Incarnation(77), "{layout:?}");
            }
        }
    }

    #[test]
    fn only_a_foreign_marked_block_is_a_pill_and_only_an_own_marked_one_an_ack() {
        let pill = StatusBlock::pill(NodeId(3), NodeId(1), Incarnation(77), 9, PILL);
        assert_eq!(pill.as_pill(), Some(PILL));
        assert_eq!(pill.as_pill_ack(), None);
        let ack = StatusBlock::pill_ack(NodeId(3), Incarnation(77), 10, PILL);
        assert_eq!(ack.as_pill_ack(), Some(PILL));
        assert_eq!(ack.as_pill(), None);
        assert!(ack.is_pill_ack());
        // A master's eviction notice is no pill; an owner's normal block no ack.
        let notice = StatusBlock {
            node: NodeId(3),
            updated_by: 1,
            state: NodeState::Evicted,
            ..StatusBlock::default()
        };
        assert_eq!(notice.as_pill(), None);
        let own = StatusBlock {
            node: NodeId(3),
            updated_by: 3,
            state: NodeState::Running,
            ..StatusBlock::default()
        };
        assert!(!own.is_pill_ack());
        // Marked, but in its own slot by its owner: not a pill; a foreign "ack": not an ack.
        let odd = StatusBlock {
            updated_by: 3,
            ..pill.clone()
        };
        assert_eq!(odd.as_pill(), None);
        let odd = StatusBlock {
            updated_by: 1,
            ..ack
        };
        assert_eq!(odd.as_pill_ack(), None);
    }

    #[test]
    fn unknown_action_codes_reboot() {
        assert_eq!(PillAction::from_code(1), PillAction::Off);
        assert_eq!(PillAction::from_code(2), PillAction::Reboot);
        assert_eq!(PillAction::from_code(0), PillAction::Reboot);
        assert_eq!(PillAction::from_code(999), PillAction::Reboot);
    }
}
