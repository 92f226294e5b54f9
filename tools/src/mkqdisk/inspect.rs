//! `mkqdisk -L`, `-f LABEL` and `-d`: find quorum disks and show what is on them.

use std::path::{Path, PathBuf};

use qdisk::device::{DeviceKind, DeviceOptions};
use qdisk::disk::{DiskError, QuorumDisk, ReadMode};
use qdisk::format::{QuorumHeader, StatusBlock};
use qdisk::scan::{block_devices, ScanRoots};
use qdisk::{FormatError, NodeId};

use super::cli::Args;
use super::render;
use super::{EXIT_FAILURE, EXIT_OK};
use crate::output::print_stdout;

/// One quorum disk found.
#[derive(Debug, serde::Serialize)]
pub struct DiskReport {
    /// The path it was opened by.
    pub path: PathBuf,
    /// Other `/dev` paths to the same device.
    pub aliases: Vec<PathBuf>,
    /// Block device or regular file.
    pub kind: DeviceKind,
    /// The device's sector size now.
    pub kernel_sector_size: u32,
    /// Size in bytes.
    pub size: u64,
    /// Whether reads bypass the page cache.
    pub direct_io: bool,
    /// The header.
    pub header: QuorumHeader,
    /// Every slot, when a dump was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Vec<SlotReport>>,
}

/// One node's slot in a dump.
#[derive(Debug, serde::Serialize)]
pub struct SlotReport {
    /// The slot.
    pub node: NodeId,
    /// The block, when it decoded.
    pub block: Option<StatusBlock>,
    /// Why it did not decode (bad CRC, wrong magic, ...).
    pub error: Option<String>,
    /// Milliseconds since the block's timestamp, by this machine's clock.
    pub age_ms: Option<i128>,
}

/// A device that was looked at and is not a usable quorum disk.
#[derive(Debug, serde::Serialize)]
pub struct Problem {
    /// The device.
    pub path: PathBuf,
    /// What is wrong.
    pub error: String,
}

/// Everything one invocation found.
#[derive(Debug, Default, serde::Serialize)]
pub struct Findings {
    /// Quorum disks found (after the label filter).
    pub disks: Vec<DiskReport>,
    /// Devices that could not be read, or hold a damaged or mismatched quorum disk.
    pub problems: Vec<Problem>,
}

fn now_ms() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i128)
}

/// The devices to look at: the ones named, or every candidate block device.
fn candidates(args: &Args) -> (Vec<(PathBuf, Vec<PathBuf>)>, bool) {
    if !args.devices.is_empty() {
        let named = args
            .devices
            .iter()
            .map(|p| (p.clone(), Vec::new()))
            .collect();
        return (named, true);
    }
    let scanned = block_devices(&ScanRoots::default())
        .into_iter()
        .filter(|d| d.skip.is_none())
        .map(|d| (d.path, d.aliases))
        .collect();
    (scanned, false)
}

/// Whether an error means "there is no quorum disk here" rather than "a quorum disk here is
/// damaged or unusable".
fn is_not_a_qdisk(error: &DiskError) -> bool {
    matches!(
        error,
        DiskError::Format {
            source: FormatError::BadFrameMagic { .. }
                | FormatError::BadMagic { .. }
                | FormatError::Truncated { .. },
            ..
        }
    )
}

/// Opens `path` read-only and reads its header (and every slot when `dump`).
pub fn probe(path: &Path, aliases: Vec<PathBuf>, dump: bool) -> Result<DiskReport, DiskError> {
    let mut disk = QuorumDisk::open(path, DeviceOptions::default())?;
    let status = if dump {
        let now = now_ms();
        let slots = disk.read_all(ReadMode::Bulk)?;
        Some(
            slots
                .into_iter()
                .map(|slot| match slot.block {
                    Ok(block) => SlotReport {
                        node: slot.node,
                        age_ms: Some(now - block.timestamp_ms as i128),
                        block: Some(block),
                        error: None,
                    },
                    Err(error) => SlotReport {
                        node: slot.node,
                        block: None,
                        error: Some(error.to_string()),
                        age_ms: None,
                    },
                })
                .collect(),
        )
    } else {
        None
    };
    let device = disk.device();
    Ok(DiskReport {
        path: path.to_path_buf(),
        aliases,
        kind: device.kind(),
        kernel_sector_size: device.sector_size(),
        size: device.size(),
        direct_io: device.is_direct(),
        header: disk.header().clone(),
        status,
    })
}

/// Looks at every candidate and keeps the quorum disks (matching `label` if given).
pub fn find(args: &Args) -> Findings {
    let (devices, named) = candidates(args);
    let dump = args.dump > 0;
    let mut findings = Findings::default();
    for (path, aliases) in devices {
        match probe(&path, aliases, dump) {
            Ok(report) => {
                if args.find.as_ref().is_none_or(|l| *l == report.header.label) {
                    findings.disks.push(report);
                }
            }
            // A scan meets many devices that are not quorum disks, or cannot be opened
            // (no medium, read-only media): only the ones asked for by name are problems.
            Err(error)
                if !named && (is_not_a_qdisk(&error) || matches!(error, DiskError::Device(_))) => {}
            Err(error) => findings.problems.push(Problem {
                path,
                error: error.to_string(),
            }),
        }
    }
    findings
}

/// Runs the listing, find and dump modes.
pub fn run(args: &Args) -> anyhow::Result<i32> {
    let findings = find(args);
    if args.json {
        print_stdout(&format!("{}\n", serde_json::to_string_pretty(&findings)?));
    } else {
        print_stdout(&render::findings(&findings));
        for problem in &findings.problems {
            // Every error already names its device.
            eprintln!("mkqdisk: {}", problem.error);
        }
    }
    if findings.disks.is_empty() {
        if !args.json {
            match &args.find {
                Some(label) => eprintln!("mkqdisk: no quorum disk labelled '{label}' found"),
                None => eprintln!("mkqdisk: no quorum disk found"),
            }
        }
        return Ok(EXIT_FAILURE);
    }
    if let Some(label) = &args.find {
        if findings.disks.len() > 1 && !args.json {
            eprintln!(
                "mkqdisk: warning: {} disks are labelled '{label}'; qdiskd would use the first ({}); give qdiskd device= instead, or relabel",
                findings.disks.len(),
                findings.disks[0].path.display()
            );
        }
    }
    Ok(EXIT_OK)
}
