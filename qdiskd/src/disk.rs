//! An opened quorum disk: its header, its geometry, and status block reads and writes.
//!
//! [`QuorumDisk::open`] reads and checks the header (including that the recorded sector
//! size still matches the device). [`QuorumDisk::read_all`] reads every node's status
//! either the Red Hat way, one sector per node ([`ReadMode::PerSlot`]), or in one I/O over
//! the whole status area ([`ReadMode::Bulk`]); each slot is decoded on its own, so one
//! damaged block is reported as that block and the others still come back.
//! [`initialise`] is what `mkqdisk -c` does.

use std::path::Path;

use crate::aligned::AlignedBuf;
use crate::device::{DeviceError, DeviceKind, DeviceOptions, SectorDevice};
use crate::format::{
    decode_header, decode_status, encode_header, encode_status, BlockId, EncodeError, FormatError,
    QuorumHeader, StatusBlock,
};
use crate::geometry::{Geometry, GeometryError, Layout};
use crate::ids::NodeId;

/// Errors from using a quorum disk.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiskError {
    /// The device failed.
    #[error(transparent)]
    Device(#[from] DeviceError),
    /// The bytes on the device are not a valid quorum disk.
    #[error("{path}: {source}")]
    Format {
        /// The device.
        path: String,
        /// What is wrong.
        source: FormatError,
    },
    /// The header's geometry cannot be used on this device.
    #[error("{path}: {source}")]
    Geometry {
        /// The device.
        path: String,
        /// What is wrong.
        source: GeometryError,
    },
    /// A value that cannot be written in this layout.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// The device is smaller than the layout needs.
    #[error("{path} is too small for this layout: it has {size} bytes, the layout needs {needed}")]
    TooSmall {
        /// The device.
        path: String,
        /// Its size.
        size: u64,
        /// What the layout needs.
        needed: u64,
    },
}

/// How [`QuorumDisk::read_all`] reads the status area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadMode {
    /// One single-sector read per node slot, as Red Hat's qdiskd does.
    PerSlot,
    /// One read of the whole status area.
    Bulk,
}

/// The outcome of reading one node's slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotRead {
    /// The slot.
    pub node: NodeId,
    /// The block, or why it could not be decoded.
    pub block: Result<StatusBlock, FormatError>,
}

/// An opened quorum disk.
#[derive(Debug)]
pub struct QuorumDisk {
    device: SectorDevice,
    header: QuorumHeader,
    geometry: Geometry,
    sector: AlignedBuf,
    area: AlignedBuf,
}

fn format_error(device: &SectorDevice, source: FormatError) -> DiskError {
    DiskError::Format {
        path: device.path().display().to_string(),
        source,
    }
}

/// Reads and decodes the header sector of an open device.
///
/// For a regular file the first 4 KiB are read (valid for any sector size up to 4096), so
/// the recorded sector size can be learnt before it is known.
pub fn read_header(device: &SectorDevice) -> Result<QuorumHeader, DiskError> {
    let len = match device.kind() {
        DeviceKind::Block => device.sector_size() as usize,
        DeviceKind::RegularFile => 4096.min(device.size() as usize / 512 * 512).max(512),
    };
    if device.size() < len as u64 {
        return Err(format_error(
            device,
            FormatError::Truncated {
                block: BlockId::Header,
                needed: len as u64,
                available: device.size(),
            },
        ));
    }
    let mut buf = AlignedBuf::new(len);
    device.read_at(0, buf.as_mut_slice())?;
    decode_header(buf.as_slice()).map_err(|e| format_error(device, e))
}

impl QuorumDisk {
    /// Opens the quorum disk at `path` and checks its header against the device.
    pub fn open(path: &Path, options: DeviceOptions) -> Result<Self, DiskError> {
        let mut device = SectorDevice::open(path, options)?;
        let header = read_header(&device)?;
        let recorded = header.recorded_sector_size;
        if device.kind() == DeviceKind::RegularFile && options.file_sector_size.is_none() {
            if let Some(recorded) = recorded {
                device.set_file_sector_size(recorded);
            }
        }
        if let Some(recorded) = recorded {
            if recorded != device.sector_size() {
                return Err(format_error(
                    &device,
                    FormatError::SectorSizeMismatch {
                        recorded,
                        device: device.sector_size(),
                    },
                ));
            }
        }
        Self::from_parts(device, header)
    }

    fn from_parts(device: SectorDevice, header: QuorumHeader) -> Result<Self, DiskError> {
        let geometry = Geometry::new(header.layout, device.sector_size()).map_err(|source| {
            DiskError::Geometry {
                path: device.path().display().to_string(),
                source,
            }
        })?;
        if device.size() < geometry.end_of_disk() {
            return Err(format_error(
                &device,
                FormatError::Truncated {
                    block: BlockId::Node(NodeId(geometry.layout().max_nodes())),
                    needed: geometry.end_of_disk(),
                    available: device.size(),
                },
            ));
        }
        let sector = AlignedBuf::new(geometry.sector_size() as usize);
        let area = geometry.status_area();
        let area = AlignedBuf::new((area.end - area.start) as usize);
        Ok(Self {
            device,
            header,
            geometry,
            sector,
            area,
        })
    }

    /// The decoded header.
    pub fn header(&self) -> &QuorumHeader {
        &self.header
    }

    /// The layout on this device's sector size.
    pub fn geometry(&self) -> &Geometry {
        &self.geometry
    }

    /// The underlying device.
    pub fn device(&self) -> &SectorDevice {
        &self.device
    }

    fn slot_offset(&self, node: NodeId) -> Result<u64, DiskError> {
        self.geometry
            .status_offset(node)
            .ok_or(DiskError::Encode(EncodeError::NodeOutOfRange {
                node: node.0,
                max: self.geometry.layout().max_nodes(),
            }))
    }

    /// Reads one node's status block (one single-sector I/O).
    ///
    /// The outer error is an I/O failure; the inner one a damaged or foreign block.
    pub fn read_status(
        &mut self,
        node: NodeId,
    ) -> Result<Result<StatusBlock, FormatError>, DiskError> {
        let offset = self.slot_offset(node)?;
        self.device.read_at(offset, self.sector.as_mut_slice())?;
        Ok(decode_status(
            self.sector.as_slice(),
            self.geometry.layout(),
            node,
        ))
    }

    /// Reads every node's status block.
    ///
    /// The outer error is an I/O failure of the pass; each slot's own result says whether
    /// that block decoded.
    pub fn read_all(&mut self, mode: ReadMode) -> Result<Vec<SlotRead>, DiskError> {
        let layout = self.geometry.layout();
        match mode {
            ReadMode::PerSlot => self
                .geometry
                .nodes()
                .map(|node| self.read_status(node).map(|block| SlotRead { node, block }))
                .collect(),
            ReadMode::Bulk => {
                let area = self.geometry.status_area();
                self.device.read_at(area.start, self.area.as_mut_slice())?;
                let ssz = self.geometry.sector_size() as usize;
                let bytes = self.area.as_slice();
                Ok(self
                    .geometry
                    .nodes()
                    .map(|node| {
                        let start = self
                            .geometry
                            .status_offset(node)
                            .map_or(0, |offset| (offset - area.start) as usize);
                        let block = bytes.get(start..start + ssz).map_or(
                            Err(FormatError::Truncated {
                                block: BlockId::Node(node),
                                needed: (start + ssz) as u64,
                                available: bytes.len() as u64,
                            }),
                            |sector| decode_status(sector, layout, node),
                        );
                        SlotRead { node, block }
                    })
                    .collect())
            }
        }
    }

    /// Writes `block` into its owner's slot (or, for an eviction notice, the victim's slot:
    /// the slot is always `block.node`) in one single-sector write.
    pub fn write_status(&mut self, block: &StatusBlock, written_at: u64) -> Result<(), DiskError> {
        let offset = self.slot_offset(block.node)?;
        encode_status(
            block,
            self.geometry.layout(),
            written_at,
            self.sector.as_mut_slice(),
        )?;
        self.device.write_at(offset, self.sector.as_slice())?;
        Ok(())
    }
}

/// What [`initialise`] reports as it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitProgress {
    /// The old header was invalidated so a half-written disk is never taken for a qdisk.
    HeaderCleared,
    /// Node `node`'s status block was written (Red Hat layout: one write per node).
    StatusWritten(NodeId),
    /// Every status block was written in one I/O (extended layout).
    StatusAreaWritten {
        /// Number of slots.
        nodes: u32,
        /// Bytes written.
        bytes: usize,
    },
    /// The new header was written.
    HeaderWritten,
    /// Everything was read back and decoded.
    Verified,
}

/// What [`initialise`] writes.
#[derive(Debug, Clone)]
pub struct InitRequest {
    /// The layout.
    pub layout: Layout,
    /// The label.
    pub label: String,
    /// The host name recorded in the header.
    pub host: String,
    /// Wall-clock time now, seconds since the epoch.
    pub now: u64,
}

/// Initialises a quorum disk on an open, writable device: what `mkqdisk -c` does.
///
/// Order matters for what a crash in the middle leaves behind: the old header is
/// invalidated first, then the status blocks are written (each slot: owner id, state None,
/// timestamp now, as Red Hat's mkqdisk writes them), then the header, and finally all of
/// it is read back and checked. Red Hat writes the header first, so an interrupted run
/// leaves a disk that looks initialised but is not.
pub fn initialise(
    device: SectorDevice,
    request: &InitRequest,
    progress: &mut dyn FnMut(InitProgress),
) -> Result<QuorumDisk, DiskError> {
    QuorumHeader::validate_label(&request.label)?;
    let geometry = Geometry::new(request.layout, device.sector_size()).map_err(|source| {
        DiskError::Geometry {
            path: device.path().display().to_string(),
            source,
        }
    })?;
    if device.size() < geometry.end_of_disk() {
        return Err(DiskError::TooSmall {
            path: device.path().display().to_string(),
            size: device.size(),
            needed: geometry.end_of_disk(),
        });
    }
    let ssz = geometry.sector_size() as usize;
    let mut sector = AlignedBuf::new(ssz);
    device.write_at(0, sector.as_slice())?;
    progress(InitProgress::HeaderCleared);

    let timestamp_ms = request.now.saturating_mul(1000);
    match request.layout {
        Layout::Classic => {
            for node in geometry.nodes() {
                encode_status(
                    &StatusBlock::initial(node, timestamp_ms),
                    request.layout,
                    request.now,
                    sector.as_mut_slice(),
                )?;
                let offset = geometry.status_offset(node).unwrap_or_default();
                device.write_at(offset, sector.as_slice())?;
                progress(InitProgress::StatusWritten(node));
            }
        }
        Layout::Extended { max_nodes } => {
            let area = geometry.status_area();
            let mut buf = AlignedBuf::new((area.end - area.start) as usize);
            for (i, node) in geometry.nodes().enumerate() {
                let slice = &mut buf.as_mut_slice()[i * ssz..(i + 1) * ssz];
                encode_status(
                    &StatusBlock::initial(node, timestamp_ms),
                    request.layout,
                    request.now,
                    slice,
                )?;
            }
            device.write_at(area.start, buf.as_slice())?;
            progress(InitProgress::StatusAreaWritten {
                nodes: max_nodes,
                bytes: buf.len(),
            });
        }
    }

    let header = QuorumHeader {
        layout: request.layout,
        created: request.now,
        host: request.host.clone(),
        label: request.label.clone(),
        recorded_sector_size: Some(geometry.sector_size()),
    };
    encode_header(&header, request.now, sector.as_mut_slice())?;
    device.write_at(0, sector.as_slice())?;
    progress(InitProgress::HeaderWritten);

    let read_back = read_header(&device)?;
    if read_back != header {
        return Err(format_error(
            &device,
            FormatError::BadGeometry {
                reason: "the header read back differs from the one written".to_string(),
            },
        ));
    }
    let mut disk = QuorumDisk::from_parts(device, header)?;
    for slot in disk.read_all(ReadMode::Bulk)? {
        slot.block.map_err(|e| format_error(&disk.device, e))?;
    }
    progress(InitProgress::Verified);
    Ok(disk)
}
