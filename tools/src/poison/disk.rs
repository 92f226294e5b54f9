//! The agent's disk I/O, on a thread of its own: every call has a deadline, so a storage
//! path that hangs (the I/O blocks in the kernel) is reported as such instead of hanging
//! the agent until its caller kills it.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, SystemTime};

use qdisk::device::DeviceOptions;
use qdisk::disk::{QuorumDisk, ReadMode, SlotRead};
use qdisk::format::StatusBlock;
use qdisk::geometry::Layout;
use qdisk::time::BootTime;
use qdisk::NodeId;

/// How long opening the disk (and reading its header) may take.
pub const OPEN_TIMEOUT: Duration = Duration::from_secs(10);

/// One request to the disk thread.
#[derive(Debug)]
pub enum Io {
    /// Read one node's slot.
    Read(NodeId),
    /// Read every slot.
    ReadAll,
    /// Write a block into its slot (`block.node`), stamped with the wall-clock time.
    Write(Box<StatusBlock>),
}

/// What a request did, with boot-time stamps.
#[derive(Debug)]
pub struct Done {
    /// When the system call was issued.
    pub started: BootTime,
    /// When it returned.
    pub at: BootTime,
    /// [`Io::Read`]: the block, or why it could not be read or decoded.
    pub block: Result<StatusBlock, String>,
    /// [`Io::ReadAll`]: every slot, or why the pass failed.
    pub slots: Result<Vec<SlotRead>, String>,
    /// [`Io::Write`]: whether it was written.
    pub written: Result<(), String>,
}

/// An open quorum disk served by a thread.
#[derive(Debug)]
pub struct DiskThread {
    path: PathBuf,
    layout: Layout,
    requests: Sender<Io>,
    replies: Receiver<Done>,
}

impl DiskThread {
    /// Opens the quorum disk at `path` (for writing with `write`) on a new thread; fails
    /// if it is not a valid quorum disk or the open takes longer than `timeout`.
    pub fn open(path: &Path, write: bool, timeout: Duration) -> Result<DiskThread, String> {
        let (opened_tx, opened_rx) = channel::<Result<Layout, String>>();
        let (requests, requests_rx) = channel::<Io>();
        let (replies_tx, replies) = channel::<Done>();
        let owned = path.to_path_buf();
        std::thread::Builder::new()
            .name("poison-disk".into())
            .spawn(move || {
                let options = DeviceOptions {
                    write,
                    ..DeviceOptions::default()
                };
                let mut disk = match QuorumDisk::open(&owned, options) {
                    Ok(disk) => disk,
                    Err(e) => {
                        let _ = opened_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                if opened_tx.send(Ok(disk.header().layout)).is_err() {
                    return;
                }
                for request in requests_rx {
                    let done = serve(&mut disk, request);
                    if replies_tx.send(done).is_err() {
                        return;
                    }
                }
            })
            .map_err(|e| format!("cannot start the disk thread: {e}"))?;
        let layout = match opened_rx.recv_timeout(timeout) {
            Ok(Ok(layout)) => layout,
            Ok(Err(e)) => return Err(format!("cannot open the quorum disk: {e}")),
            Err(RecvTimeoutError::Timeout) => {
                return Err(format!(
                    "opening the quorum disk {} did not finish within {}: the storage path from this node hangs",
                    path.display(),
                    qdisk::timing::human(&timeout)
                ))
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Err(format!("cannot open the quorum disk {}", path.display()))
            }
        };
        Ok(DiskThread {
            path: path.to_path_buf(),
            layout,
            requests,
            replies,
        })
    }

    /// The device.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The disk's layout.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Carries out `io`; fails if it takes longer than `deadline` (a hung path: the thread
    /// stays stuck in the kernel, and the agent reports it).
    pub fn call(&self, io: Io, deadline: Duration) -> Result<Done, String> {
        let what = match &io {
            Io::Read(n) => format!("a read of node {n}'s slot"),
            Io::ReadAll => "a read of every slot".to_string(),
            Io::Write(b) => format!("a write into node {}'s slot", b.node),
        };
        self.requests
            .send(io)
            .map_err(|_| "the disk thread has stopped".to_string())?;
        match self.replies.recv_timeout(deadline) {
            Ok(done) => Ok(done),
            Err(RecvTimeoutError::Timeout) => Err(format!(
                "{what} on {} did not finish within {}: the storage path from this node hangs",
                self.path.display(),
                qdisk::timing::human(&deadline)
            )),
            Err(RecvTimeoutError::Disconnected) => Err("the disk thread has stopped".into()),
        }
    }
}

fn serve(disk: &mut QuorumDisk, io: Io) -> Done {
    let started = BootTime::now();
    let mut done = Done {
        started,
        at: started,
        block: Err("not read".into()),
        slots: Err("not read".into()),
        written: Err("not written".into()),
    };
    match io {
        Io::Read(node) => {
            done.block = match disk.read_status(node) {
                Ok(Ok(block)) => Ok(block),
                Ok(Err(format)) => Err(format.to_string()),
                Err(e) => Err(e.to_string()),
            };
        }
        Io::ReadAll => {
            done.slots = disk.read_all(ReadMode::Bulk).map_err(|e| e.to_string());
        }
        Io::Write(block) => {
            let now_ms = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            let mut block = *block;
            block.timestamp_ms = now_ms;
            done.written = disk
                .write_status(&block, now_ms / 1000)
                .map_err(|e| e.to_string());
        }
    }
    done.at = BootTime::now();
    done
}
