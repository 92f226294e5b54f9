//! The I/O thread: the only thread that touches the disk.
//!
//! It executes one command at a time and reports back with boot-time timestamps. A system
//! call that hangs keeps this thread (and its buffer) stuck, never the main loop, whose
//! timers go on and self-fence when a deadline passes (Red Hat's qdiskd blocked its main
//! loop in the I/O and could only log).

use std::sync::mpsc::{Receiver, Sender};
use std::time::SystemTime;

use crate::disk::{QuorumDisk, ReadMode, SlotRead};
use crate::format::StatusBlock;
use crate::ids::NodeId;
use crate::time::BootTime;

/// A command for the I/O thread.
#[derive(Debug)]
pub enum IoCommand {
    /// Read every slot.
    ReadAll,
    /// Write a block unless the clock is past `not_after` when the write would be issued.
    Write {
        /// The block (its wall-clock timestamp is stamped here).
        block: StatusBlock,
        /// Latest moment to issue it.
        not_after: BootTime,
    },
}

/// What the I/O thread reports.
#[derive(Debug)]
pub enum IoDone {
    /// A read pass.
    Read {
        /// When the read system call was issued.
        started: BootTime,
        /// Every slot, or the error.
        result: Result<Vec<SlotRead>, String>,
    },
    /// A write.
    Write {
        /// The slot written.
        slot: NodeId,
        /// Whether it completed.
        ok: bool,
        /// Why not.
        error: Option<String>,
        /// When the write system call was issued (the write deadline runs from here).
        issued: BootTime,
    },
}

fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Runs until the command channel closes.
pub fn run(mut disk: QuorumDisk, commands: Receiver<IoCommand>, done: Sender<super::Msg>) {
    for command in commands {
        let report = match command {
            IoCommand::ReadAll => {
                let started = BootTime::now();
                let result = disk.read_all(ReadMode::Bulk).map_err(|e| e.to_string());
                IoDone::Read { started, result }
            }
            IoCommand::Write {
                mut block,
                not_after,
            } => {
                let slot = block.node;
                let issued = BootTime::now();
                if issued > not_after {
                    IoDone::Write {
                        slot,
                        ok: false,
                        error: Some("not issued: past its deadline".into()),
                        issued,
                    }
                } else {
                    let now = wall_ms();
                    block.timestamp_ms = now;
                    match disk.write_status(&block, now / 1000) {
                        Ok(()) => IoDone::Write {
                            slot,
                            ok: true,
                            error: None,
                            issued,
                        },
                        Err(e) => IoDone::Write {
                            slot,
                            ok: false,
                            error: Some(e.to_string()),
                            issued,
                        },
                    }
                }
            }
        };
        if done.send(super::Msg::Io(report)).is_err() {
            return;
        }
    }
}
