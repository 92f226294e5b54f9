//! Newtypes for the identifiers that appear on disk.

use std::fmt;

/// A cluster node's id: 1..=16 in Red Hat's layout, 1..=256 in the extended one (0, the
/// default, is no node).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize)]
#[serde(transparent)]
pub struct NodeId(pub u32);

impl NodeId {
    /// The node id as a plain number.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A token fixed for the life of one qdiskd process, written in every status block.
///
/// A changed incarnation tells peers the daemon restarted; an unchanged one after a silence
/// tells them a hung node resumed (RHCS qdiskd, `ps_incarnation`). Peers only compare it
/// for equality.
///
/// *Ours:* qdiskd makes it from the machine's boot ([`Incarnation::from_boot`]): the high
/// 32 bits are a tag of the kernel's boot id, the low 32 bits the boot-time clock in
/// milliseconds at start. So a new incarnation with a new boot tag shows the machine
/// rebooted, while one with the same tag is only a daemon restart (what the poison-pill
/// agent must tell apart). Other writers (Red Hat's qdiskd: time-based) carry no such tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
#[serde(transparent)]
pub struct Incarnation(pub u64);

impl Incarnation {
    /// An incarnation for a daemon started `started_ms` milliseconds after the boot
    /// whose boot id hashes to `boot_tag`.
    pub fn from_boot(boot_tag: u32, started_ms: u32) -> Self {
        Incarnation(u64::from(boot_tag) << 32 | u64::from(started_ms))
    }

    /// The boot tag, if qdiskd made this incarnation with [`Incarnation::from_boot`].
    pub fn boot_tag(self) -> u32 {
        (self.0 >> 32) as u32
    }

    /// The tag of a boot id (its text as the kernel gives it, surrounding white space
    /// ignored): its CRC-32, never 0 (0 is "no tag").
    pub fn tag_of_boot_id(boot_id: &str) -> u32 {
        crc32fast::hash(boot_id.trim().as_bytes()).max(1)
    }
}

impl fmt::Display for Incarnation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}
