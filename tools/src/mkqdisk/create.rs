//! `mkqdisk -c DEVICE -l LABEL`: initialise a quorum disk, safely.

use std::io::BufRead;
use std::path::Path;

use anyhow::{bail, Context};
use qdisk::device::{DeviceKind, DeviceOptions, SectorDevice};
use qdisk::disk::{initialise, read_header, InitProgress, InitRequest};
use qdisk::format::QuorumHeader;
use qdisk::geometry::{Geometry, Layout, CLASSIC_MAX_NODES};
use qdisk::mounts::in_use;
use qdisk::scan::ScanRoots;

use super::cli::{Args, LayoutArg};
use super::signature;
use super::{EXIT_FAILURE, EXIT_OK};
use crate::timefmt::ctime;

/// The layout the arguments ask for.
pub fn layout_from(args: &Args) -> anyhow::Result<Layout> {
    let nodes = args.nodes;
    Ok(match (args.layout, nodes) {
        (Some(LayoutArg::Redhat), Some(n)) if n > CLASSIC_MAX_NODES => bail!(
            "the Red Hat layout holds {CLASSIC_MAX_NODES} nodes, not {n}: use --layout extended (Red Hat's tools cannot read it)"
        ),
        (Some(LayoutArg::Redhat), _) => Layout::Classic,
        (Some(LayoutArg::Extended), n) => Layout::Extended {
            max_nodes: n.unwrap_or(CLASSIC_MAX_NODES),
        },
        (None, Some(n)) if n > CLASSIC_MAX_NODES => Layout::Extended { max_nodes: n },
        (None, _) => Layout::Classic,
    })
}

fn host_name() -> String {
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Asks on standard input; only `y` or `yes` (any case) proceeds. End of input is a no.
/// `holds` names what the device holds now, if anything was recognised.
fn confirm(device: &Path, holds: &str) -> anyhow::Result<bool> {
    let what = if holds.is_empty() {
        "all data".to_string()
    } else {
        holds.to_string()
    };
    crate::output::print_stdout(&format!(
        "WARNING: About to destroy {what} on {}; proceed [N/y] ? ",
        device.display()
    ));
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    let answer = answer.trim().to_ascii_lowercase();
    Ok(answer == "y" || answer == "yes")
}

/// The device's first bytes, up to [`signature::PROBE_LEN`] (whole sectors).
fn head_of(device: &SectorDevice) -> anyhow::Result<Vec<u8>> {
    let ssz = u64::from(device.sector_size());
    let len = (signature::PROBE_LEN as u64).min(device.size() / ssz * ssz);
    if len == 0 {
        return Ok(Vec::new());
    }
    let len = usize::try_from(len).context("probe length")?;
    let mut buf = qdisk::aligned::AlignedBuf::new(len);
    device
        .read_at(0, buf.as_mut_slice())
        .with_context(|| format!("reading the start of {}", device.path().display()))?;
    Ok(buf.as_slice().to_vec())
}

/// Runs `mkqdisk -c`.
pub fn run(args: &Args, device_path: &Path) -> anyhow::Result<i32> {
    let label = args.label.clone().unwrap_or_default();
    QuorumHeader::validate_label(&label)?;
    let layout = layout_from(args)?;
    if args.nodes.is_some_and(|n| n < CLASSIC_MAX_NODES) && layout == Layout::Classic {
        eprintln!("mkqdisk: note: the Red Hat layout always has {CLASSIC_MAX_NODES} node slots");
    }

    let reasons = in_use(&ScanRoots::default(), device_path);
    if !reasons.is_empty() {
        for reason in &reasons {
            eprintln!("mkqdisk: {reason}");
        }
        bail!(
            "refusing to initialise {}: it is in use",
            device_path.display()
        );
    }
    let file_sector_size = args
        .sector_size
        .as_deref()
        .map(str::parse)
        .transpose()
        .context("--sector-size")?;
    let options = DeviceOptions {
        write: true,
        exclusive: true,
        file_sector_size,
    };
    let device = SectorDevice::open(device_path, options)?;
    if device.kind() == DeviceKind::Block && file_sector_size.is_some() {
        eprintln!(
            "mkqdisk: note: --sector-size is ignored for a block device; {} reports {} bytes",
            device_path.display(),
            device.sector_size()
        );
    }
    let geometry = Geometry::new(layout, device.sector_size())?;
    if device.size() < geometry.end_of_disk() {
        bail!(
            "{} is too small: it has {} bytes, the {} layout with {} nodes and {}-byte sectors needs at least {}",
            device_path.display(),
            device.size(),
            layout.name(),
            layout.max_nodes(),
            device.sector_size(),
            geometry.end_of_disk()
        );
    }
    if !device.is_direct() {
        eprintln!(
            "mkqdisk: note: the file system under {} does not support O_DIRECT; using synchronous buffered I/O (fine for a test file, never for shared storage)",
            device_path.display()
        );
    }

    let holds = signature::describe(&signature::identify(&head_of(&device)?));
    if !holds.is_empty() {
        eprintln!(
            "mkqdisk: warning: {} holds {holds}; initialising it as a quorum disk destroys it \
             (check that this is the right device: lsblk -f {})",
            device_path.display(),
            device_path.display()
        );
    }
    match read_header(&device) {
        Ok(old) => crate::say!(
            "Warning: {} already holds quorum disk '{}' (created {} on {}); it will be overwritten.",
            device_path.display(),
            crate::output::printable(&old.label),
            ctime(old.created),
            crate::output::printable(&old.host)
        ),
        Err(qdisk::disk::DiskError::Format {
            source: qdisk::FormatError::LegacyRhcmHeader,
            ..
        }) => crate::say!("Warning: Red Hat Cluster Manager 1.2.x header found"),
        Err(_) => {}
    }
    crate::say!(
        "Writing new quorum disk label '{label}' to {} ({} layout, {} node slots, {}-byte sectors).",
        device_path.display(),
        layout.name(),
        layout.max_nodes(),
        device.sector_size()
    );
    if !args.yes && !confirm(device_path, &holds)? {
        crate::say!("Good thinking: nothing was written.");
        return Ok(EXIT_FAILURE);
    }

    let request = InitRequest {
        layout,
        label: label.clone(),
        host: host_name(),
        now: now(),
    };
    let mut report = |step: InitProgress| match step {
        InitProgress::HeaderCleared => crate::say!("Invalidating the old header..."),
        InitProgress::StatusWritten(node) => {
            crate::say!("Initializing status block for node {node}...")
        }
        InitProgress::StatusAreaWritten { nodes, bytes } => {
            crate::say!("Initializing {nodes} status blocks in one {bytes}-byte write...")
        }
        InitProgress::HeaderWritten => crate::say!("Writing the quorum header..."),
        InitProgress::Verified => crate::say!("Reading everything back... ok"),
    };
    let disk = initialise(device, &request, &mut report)?;
    crate::say!(
        "Quorum disk '{label}' created on {}: {} layout, {} node slots, {}-byte sectors, {} bytes used.",
        device_path.display(),
        disk.geometry().layout().name(),
        disk.geometry().layout().max_nodes(),
        disk.geometry().sector_size(),
        disk.geometry().end_of_disk()
    );
    Ok(EXIT_OK)
}
