//! The shared-disk half of the checker for a running cluster: the writer's region read
//! from the disk image, and every node's landing journal from the lab's disk layer, handed
//! to [`crate::diskwriter::check`].

use std::time::Instant;

use crate::chaos::record::{Ownership, Violation};
use crate::diskwriter::{check, read_region};
use crate::error::{LabError, Result};
use crate::hacluster::{HaCluster, WRITER_REGION};

/// The writers' ownership spans and the broken rules (none without the writer); times in
/// seconds since `start`.
pub fn findings(cluster: &HaCluster, start: Instant) -> Result<(Vec<Ownership>, Vec<Violation>)> {
    if !cluster.spec().writer {
        return Ok((Vec::new(), Vec::new()));
    }
    let disk = cluster.lab().disk()?;
    // The region first, then the journals: every record read has landed, so its landing is
    // in the journals taken after.
    let found = read_region(disk.image(), &WRITER_REGION)
        .map_err(|e| LabError::Invalid(format!("reading the writer's region: {e}")))?;
    let journals = disk.journals();
    let report = check(&found, &journals, start);
    Ok((report.ownership, report.violations))
}
