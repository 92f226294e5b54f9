//! Text output of mkqdisk, in the shape of Red Hat's (`print_qdisk_info`,
//! `print_status_block`) with a few more lines.

use std::fmt::Write;

use qdisk::format::MessageKind;
use qdisk::geometry::Layout;

use super::inspect::{DiskReport, Findings, SlotReport};
use crate::output::printable;
use crate::timefmt::{age, ctime};

fn magic(layout: Layout) -> u32 {
    match layout {
        Layout::Classic => qdisk::format::header::HEADER_MAGIC,
        Layout::Extended { .. } => qdisk::format::header::EXTENDED_HEADER_MAGIC,
    }
}

/// The incarnation as its on-disk bytes in order (what Red Hat's `mkqdisk -d` prints).
fn incarnation_hex(layout: Layout, value: u64) -> String {
    let bytes = match layout {
        Layout::Classic => value.to_le_bytes(),
        Layout::Extended { .. } => value.to_be_bytes(),
    };
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn duration(d: std::time::Duration) -> String {
    format!("{}.{:06} seconds", d.as_secs(), d.subsec_micros())
}

fn slot(out: &mut String, layout: Layout, slot: &SlotReport) {
    let node = slot.node;
    let Some(b) = &slot.block else {
        let error = slot.error.as_deref().unwrap_or("unreadable");
        let _ = writeln!(out, "Status block for node {node}: BAD\n\t{error}");
        return;
    };
    if b.updated_by == 0 && b.state == qdisk::format::NodeState::None {
        let _ = writeln!(out, "Status block for node {node}: never used");
        return;
    }
    let when = age(slot.age_ms.unwrap_or_default());
    let _ = writeln!(out, "Status block for node {node}");
    if b.updated_by != node.get() {
        let _ = writeln!(
            out,
            "\tLast updated by node {} (an eviction notice from the master)",
            b.updated_by
        );
    } else {
        let _ = writeln!(out, "\tLast updated by node {}", b.updated_by);
    }
    let _ = writeln!(
        out,
        "\tLast updated on {} ({when})",
        ctime(b.timestamp_ms / 1000)
    );
    let _ = writeln!(out, "\tState: {}", b.state.name());
    let _ = writeln!(out, "\tFlags: {:04x}", b.flags);
    let _ = writeln!(out, "\tScore: {}/{}", b.score, b.score_max);
    let _ = writeln!(out, "\tAverage Cycle speed: {}", duration(b.average_write));
    let _ = writeln!(out, "\tLast Cycle speed: {}", duration(b.last_write));
    let _ = writeln!(
        out,
        "\tIncarnation: {}",
        incarnation_hex(layout, b.incarnation.0)
    );
    if matches!(layout, Layout::Extended { .. }) {
        let _ = writeln!(out, "\tHeartbeat: {}", b.heartbeat);
    }
    if b.message.kind != MessageKind::None {
        let _ = writeln!(
            out,
            "\tMessage: {:?} seq {} arg {}",
            b.message.kind, b.message.seq, b.message.arg
        );
    }
    let _ = writeln!(out, "\tVisible Set: {}", b.mask);
    if !b.master_mask.is_empty() {
        let _ = writeln!(out, "\tQuorate Set: {}", b.master_mask);
    }
}

fn disk(out: &mut String, d: &DiskReport) {
    let _ = writeln!(out, "{}:", d.path.display());
    for alias in &d.aliases {
        let _ = writeln!(out, "{}:", alias.display());
    }
    let h = &d.header;
    let _ = writeln!(out, "\tMagic:                {:08x}", magic(h.layout));
    let _ = writeln!(out, "\tLabel:                {}", printable(&h.label));
    let _ = writeln!(out, "\tCreated:              {}", ctime(h.created));
    let _ = writeln!(out, "\tHost:                 {}", printable(&h.host));
    let _ = writeln!(out, "\tKernel Sector Size:   {}", d.kernel_sector_size);
    if let Some(recorded) = h.recorded_sector_size {
        let _ = writeln!(out, "\tRecorded Sector Size: {recorded}");
    }
    let _ = writeln!(
        out,
        "\tLayout:               {} ({} node slots)",
        h.layout.name(),
        h.layout.max_nodes()
    );
    if !d.direct_io {
        let _ = writeln!(
            out,
            "\tI/O:                  buffered (no O_DIRECT on this file system)"
        );
    }
    let _ = writeln!(out);
    if let Some(slots) = &d.status {
        for s in slots {
            slot(out, h.layout, s);
        }
        let _ = writeln!(out);
    }
}

/// The text listing of everything found.
pub fn findings(findings: &Findings) -> String {
    let mut out = String::new();
    for d in &findings.disks {
        disk(&mut out, d);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use qdisk::format::QuorumHeader;

    #[test]
    fn a_label_or_host_from_the_disk_cannot_drive_the_terminal_or_forge_lines() {
        let report = DiskReport {
            path: "/dev/sdq".into(),
            aliases: Vec::new(),
            kind: qdisk::device::DeviceKind::Block,
            kernel_sector_size: 512,
            size: 1 << 20,
            direct_io: true,
            header: QuorumHeader {
                layout: Layout::Classic,
                created: 0,
                host: "web1\u{1b}]0;owned\u{7}".into(),
                label: "q\n\tLabel:                forged".into(),
                recorded_sector_size: Some(512),
            },
            status: None,
        };
        let text = findings(&Findings {
            disks: vec![report],
            ..Findings::default()
        });
        assert!(
            !text
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t'),
            "{text:?}"
        );
        let label_lines = text.lines().filter(|l| l.starts_with("\tLabel:")).count();
        assert_eq!(label_lines, 1, "{text}");
        assert!(text.contains("q\\n\\tLabel:"), "{text}");
        assert!(text.contains("web1\\u{1b}]0;owned\\u{7}"), "{text}");
    }
}
