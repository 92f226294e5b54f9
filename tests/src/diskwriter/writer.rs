//! The writer: a record every interval to this node's area of the region, O_DIRECT and
//! O_DSYNC, as a database on shared storage writes, until told to stop.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{FileExt, FileTypeExt, OpenOptionsExt};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::record::{check_name, monotonic_ns, Record, RECORD_SIZE};
use super::region::{Area, Region};
use super::Error;

/// The default time between two records.
pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(20);
/// The default number of per-node areas of the region.
pub const DEFAULT_MAX_NODES: u32 = 8;
/// How often a persisting I/O error is reported again.
const ERROR_REPORT_EVERY: Duration = Duration::from_secs(5);
/// Alignment of the I/O buffer (enough for any logical sector size).
const ALIGN: usize = 4096;
/// How much of the area the start-up scan reads at once.
const SCAN_CHUNK: u64 = 1 << 20;

/// What the writer writes where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriterOptions {
    /// The shared disk (a block device, or a regular file on a file system with O_DIRECT).
    pub device: PathBuf,
    /// The region holding every node's area.
    pub region: Region,
    /// This node's id, 1 to `max_nodes`: it picks the area.
    pub node_id: u32,
    /// This node's name, written into every record (at most 32 bytes).
    pub node_name: String,
    /// Into how many areas the region is split.
    pub max_nodes: u32,
    /// Time between two records.
    pub interval: Duration,
}

/// What a writer did, when it stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriterSummary {
    /// Its incarnation.
    pub incarnation: u64,
    /// The slot of its area it started at (after the one holding the node's last record).
    pub start_slot: u64,
    /// Records written.
    pub written: u64,
    /// Writes that failed.
    pub failed: u64,
    /// The seq of the last record issued (written or failed); 0 if none.
    pub last_seq: u64,
}

/// Sets a flag on SIGTERM and SIGINT, for [`run_writer`]'s `stop`: the signals then no
/// longer kill the process, which stops once the write in flight has returned.
pub fn stop_on_signals() -> Result<Arc<AtomicBool>, Error> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .map_err(|e| Error::Invalid(format!("cannot handle signal {signal}: {e}")))?;
    }
    Ok(stop)
}

/// Runs the writer until `stop` is set, then returns once the write in flight has returned.
///
/// Opens the device O_DIRECT|O_DSYNC, reads this node's area to find the record with the
/// highest issue time and continues in the slot after it (a restarted writer never
/// overwrites its recent records), then writes the next record every `interval`, round the
/// area's ring of slots. An I/O error does not stop it: it says so on stderr (the first
/// time, then every 5 s) and tries again at each interval, as a database would. One line on
/// stderr at start (node, incarnation, slot) and one at stop. Fails only on bad options or
/// when the device cannot be opened.
pub fn run_writer(opts: &WriterOptions, stop: &AtomicBool) -> Result<WriterSummary, Error> {
    run_writer_logging(opts, stop, &mut std::io::stderr())
}

fn run_writer_logging(
    opts: &WriterOptions,
    stop: &AtomicBool,
    log: &mut dyn Write,
) -> Result<WriterSummary, Error> {
    check_name(&opts.node_name)?;
    if opts.interval.is_zero() {
        return Err(Error::Invalid(
            "interval 0: give a positive interval".into(),
        ));
    }
    // Layout errors before the device is touched.
    opts.region
        .node_area(opts.node_id, opts.max_nodes, RECORD_SIZE as u64)?;
    let file = open_direct(opts)?;
    let area = opts
        .region
        .node_area(opts.node_id, opts.max_nodes, slot_size(&file, opts)?)?;
    let device = opts.device.display();
    let me = format!("diskwriter[{}]", std::process::id());
    let incarnation = loop {
        let i: u64 = rand::random();
        if i != 0 {
            break i;
        }
    };
    let mut summary = WriterSummary {
        incarnation,
        start_slot: 0,
        written: 0,
        failed: 0,
        last_seq: 0,
    };
    let mut buf = AlignedBuf::new(area.slot_size.max(SCAN_CHUNK.min(area.len())) as usize)?;
    let mut errors = ErrorLog::default();
    let mut slot = loop {
        match find_start(&file, &area, opts.node_id, &mut buf) {
            Ok(slot) => {
                errors.recovered(log, &me, "reads");
                break slot;
            }
            Err(e) => errors.failed(log, &me, &format!("reading its area of {device}: {e}")),
        }
        if sleep_until(Instant::now() + opts.interval, stop) {
            let _ = writeln!(log, "{me}: stopped before its first write");
            return Ok(summary);
        }
    };
    summary.start_slot = slot;
    let _ = writeln!(
        log,
        "{me}: node {} ({}) incarnation {incarnation:#018x} continues at slot {slot} of {} (offset {}) on {device}, a record every {:?}",
        opts.node_id,
        opts.node_name,
        area.slots,
        area.slot_offset(slot),
        opts.interval
    );
    let record = buf.get(area.slot_size as usize);
    record.fill(0);
    let mut next = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        summary.last_seq += 1;
        let offset = area.slot_offset(slot);
        let encoded = Record {
            node_id: opts.node_id,
            incarnation,
            seq: summary.last_seq,
            issued_ns: monotonic_ns(),
            node_name: opts.node_name.clone(),
        }
        .encode()?;
        record[..RECORD_SIZE].copy_from_slice(&encoded);
        match file.write_at(record, offset) {
            Ok(n) if n == record.len() => {
                summary.written += 1;
                slot = (slot + 1) % area.slots;
                errors.recovered(log, &me, "writes");
            }
            Ok(n) => {
                summary.failed += 1;
                errors.failed(
                    log,
                    &me,
                    &format!("short write at offset {offset} of {device}: {n} bytes"),
                );
            }
            Err(e) => {
                summary.failed += 1;
                errors.failed(
                    log,
                    &me,
                    &format!("write at offset {offset} of {device}: {e}"),
                );
            }
        }
        // A late write does not make the next ones come in a burst.
        next = (next + opts.interval).max(Instant::now());
        if sleep_until(next, stop) {
            break;
        }
    }
    let _ = writeln!(
        log,
        "{me}: stopped: {} records written, {} writes failed, last seq {}",
        summary.written, summary.failed, summary.last_seq
    );
    Ok(summary)
}

fn open_direct(opts: &WriterOptions) -> Result<File, Error> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_DIRECT | libc::O_DSYNC)
        .open(&opts.device)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::EINVAL) {
                Error::Invalid(format!(
                    "{}: cannot open with O_DIRECT ({e}): its file system does not support direct I/O",
                    opts.device.display()
                ))
            } else {
                Error::io(&opts.device, e)
            }
        })?;
    let size = {
        use std::io::{Seek, SeekFrom};
        (&file)
            .seek(SeekFrom::End(0))
            .map_err(|e| Error::io(&opts.device, e))?
    };
    if opts.region.end() > size {
        return Err(Error::Invalid(format!(
            "region {} goes beyond the end of {} ({size} bytes)",
            opts.region,
            opts.device.display()
        )));
    }
    Ok(file)
}

/// The device's logical sector size (a slot); 512 for a regular file.
fn slot_size(file: &File, opts: &WriterOptions) -> Result<u64, Error> {
    let meta = file.metadata().map_err(|e| Error::io(&opts.device, e))?;
    if !meta.file_type().is_block_device() {
        return Ok(RECORD_SIZE as u64);
    }
    let size = rustix::fs::ioctl_blksszget(file).map_err(|e| {
        Error::io(
            &opts.device,
            std::io::Error::other(format!("BLKSSZGET: {e}")),
        )
    })?;
    Ok(u64::from(size).max(RECORD_SIZE as u64))
}

/// The slot after the one holding this node's record with the highest issue time (0 if
/// the area holds none).
fn find_start(
    file: &File,
    area: &Area,
    node_id: u32,
    buf: &mut AlignedBuf,
) -> std::io::Result<u64> {
    let mut best: Option<(u64, u64)> = None;
    let chunk_slots = (buf.len() as u64 / area.slot_size).max(1);
    let mut slot = 0;
    while slot < area.slots {
        let slots = chunk_slots.min(area.slots - slot);
        let chunk = buf.get((slots * area.slot_size) as usize);
        file.read_exact_at(chunk, area.slot_offset(slot))?;
        for (i, bytes) in chunk.chunks_exact(area.slot_size as usize).enumerate() {
            if let Ok(r) = Record::decode(&bytes[..RECORD_SIZE]) {
                if r.node_id == node_id && best.is_none_or(|(issued, _)| r.issued_ns > issued) {
                    best = Some((r.issued_ns, slot + i as u64));
                }
            }
        }
        slot += slots;
    }
    Ok(best.map_or(0, |(_, s)| (s + 1) % area.slots))
}

/// Sleeps until `deadline` or until `stop` is set; returns whether `stop` is set.
fn sleep_until(deadline: Instant, stop: &AtomicBool) -> bool {
    loop {
        if stop.load(Ordering::SeqCst) {
            return true;
        }
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        std::thread::sleep((deadline - now).min(Duration::from_millis(5)));
    }
}

/// Reports I/O errors: the first one, then one line every 5 s while they go on, and one
/// when I/O succeeds again.
#[derive(Default)]
struct ErrorLog {
    failing: u64,
    unreported: u64,
    last_report: Option<Instant>,
}

impl ErrorLog {
    fn failed(&mut self, log: &mut dyn Write, me: &str, what: &str) {
        self.failing += 1;
        self.unreported += 1;
        if self
            .last_report
            .is_none_or(|at| at.elapsed() >= ERROR_REPORT_EVERY)
        {
            let more = if self.unreported > 1 {
                format!(" ({} failures since the last report)", self.unreported)
            } else {
                String::new()
            };
            let _ = writeln!(log, "{me}: I/O error: {what}{more}; trying again");
            self.last_report = Some(Instant::now());
            self.unreported = 0;
        }
    }

    fn recovered(&mut self, log: &mut dyn Write, me: &str, what: &str) {
        if self.failing > 0 {
            let _ = writeln!(
                log,
                "{me}: {what} succeed again after {} failures",
                self.failing
            );
        }
        *self = ErrorLog::default();
    }
}

/// A zeroed buffer whose start is aligned to 4096 bytes, as O_DIRECT needs.
struct AlignedBuf {
    bytes: Vec<u8>,
    start: usize,
    len: usize,
}

impl AlignedBuf {
    fn new(len: usize) -> Result<AlignedBuf, Error> {
        let bytes = vec![0u8; len + ALIGN];
        let start = bytes.as_ptr().align_offset(ALIGN);
        if start >= ALIGN {
            return Err(Error::Invalid("cannot align the I/O buffer".into()));
        }
        Ok(AlignedBuf { bytes, start, len })
    }

    fn len(&self) -> usize {
        self.len
    }

    /// The first `len` bytes (at most the whole buffer).
    fn get(&mut self, len: usize) -> &mut [u8] {
        let len = len.min(self.len);
        &mut self.bytes[self.start..self.start + len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diskwriter::region::read_region;

    fn disk(size: u64) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("disk");
        let file = File::create(&path).expect("create");
        file.set_len(size).expect("set_len");
        (dir, path)
    }

    fn opts(device: &std::path::Path, region: &str, node_id: u32, max_nodes: u32) -> WriterOptions {
        WriterOptions {
            device: device.to_path_buf(),
            region: region.parse().expect("region"),
            node_id,
            node_name: format!("n{node_id}"),
            max_nodes,
            interval: Duration::from_millis(1),
        }
    }

    /// Runs the writer for about `run`, returns its summary and its log.
    fn run_for(opts: &WriterOptions, run: Duration) -> (WriterSummary, String) {
        let stop = AtomicBool::new(false);
        let mut log = Vec::new();
        let summary = std::thread::scope(|s| {
            let writer = s.spawn(|| run_writer_logging(opts, &stop, &mut log));
            std::thread::sleep(run);
            stop.store(true, Ordering::SeqCst);
            writer.join().expect("join")
        })
        .expect("writer");
        (summary, String::from_utf8_lossy(&log).into_owned())
    }

    #[test]
    fn the_writer_fills_its_own_area_and_a_restart_continues_after_its_last_record() {
        let (_dir, path) = disk(1 << 20);
        let o = opts(&path, "64K:512K", 2, 4);
        let area = o.region.node_area(2, 4, 512).expect("area");
        let (first, log) = run_for(&o, Duration::from_millis(100));
        assert!(first.written >= 5, "{first:?}");
        assert_eq!((first.start_slot, first.failed), (0, 0));
        assert!(
            log.contains("node 2 (n2) incarnation") && log.contains("slot 0 of 256"),
            "{log}"
        );
        assert!(log.contains("stopped:"), "{log}");
        let found = read_region(&path, &o.region).expect("read");
        assert_eq!(found.len() as u64, first.written);
        for (i, f) in found.iter().enumerate() {
            assert_eq!(area.slot_at(f.offset), Some(i as u64), "{f:?}");
            assert_eq!(f.record.seq, i as u64 + 1);
            assert_eq!(f.record.incarnation, first.incarnation);
            assert_eq!(f.record.node_name, "n2");
        }
        assert!(found
            .windows(2)
            .all(|w| w[0].record.issued_ns < w[1].record.issued_ns));
        let (second, log) = run_for(&o, Duration::from_millis(30));
        assert_ne!(second.incarnation, first.incarnation);
        assert_eq!(second.start_slot, first.written, "{log}");
        let found = read_region(&path, &o.region).expect("read");
        assert_eq!(found.len() as u64, first.written + second.written);
        let resumed = found
            .iter()
            .find(|f| f.record.incarnation == second.incarnation && f.record.seq == 1)
            .expect("the restarted writer's first record");
        assert_eq!(resumed.offset, area.slot_offset(first.written));
    }

    #[test]
    fn the_writer_goes_round_its_ring_of_slots() {
        let (_dir, path) = disk(64 << 10);
        // 8 slots, 4 per node.
        let o = opts(&path, "0:4K", 1, 2);
        let (summary, _) = run_for(&o, Duration::from_millis(60));
        assert!(summary.written > 8, "{summary:?}");
        let found = read_region(&path, &o.region).expect("read");
        assert_eq!(found.len(), 4, "only its own 4 slots: {found:?}");
        let mut seqs: Vec<u64> = found.iter().map(|f| f.record.seq).collect();
        seqs.sort_unstable();
        let last = summary.written;
        assert_eq!(seqs, vec![last - 3, last - 2, last - 1, last]);
        // It continues after the newest, wherever the ring is.
        let (again, _) = run_for(&o, Duration::from_millis(5));
        assert_eq!(again.start_slot, summary.written % 4);
    }

    #[test]
    fn bad_options_are_clear_errors() {
        let (_dir, path) = disk(64 << 10);
        let stop = AtomicBool::new(true);
        let cases = [
            (opts(&path, "0:4K", 0, 2), "node id 0"),
            (opts(&path, "0:4K", 3, 2), "1 to 2"),
            (opts(&path, "0:4K", 1, 9), "too small"),
            (opts(&path, "0:128K", 1, 2), "beyond the end"),
            (
                WriterOptions {
                    node_name: "x".repeat(33),
                    ..opts(&path, "0:4K", 1, 2)
                },
                "node name",
            ),
            (
                WriterOptions {
                    interval: Duration::ZERO,
                    ..opts(&path, "0:4K", 1, 2)
                },
                "interval 0",
            ),
            (
                opts(&path.with_file_name("missing"), "0:4K", 1, 2),
                "missing",
            ),
        ];
        for (o, says) in cases {
            let e = run_writer_logging(&o, &stop, &mut Vec::new())
                .expect_err(says)
                .to_string();
            assert!(e.contains(says), "{says}: {e}");
        }
        // Told to stop before it starts: nothing written.
        let (summary, log) = {
            let mut log = Vec::new();
            let s = run_writer_logging(&opts(&path, "0:4K", 1, 2), &stop, &mut log).expect("run");
            (s, String::from_utf8_lossy(&log).into_owned())
        };
        assert_eq!(summary.written, 0, "{log}");
    }

    #[test]
    fn errors_are_reported_once_then_every_few_seconds() {
        let mut log = Vec::new();
        let mut errors = ErrorLog::default();
        for _ in 0..3 {
            errors.failed(&mut log, "w", "write failed");
        }
        errors.recovered(&mut log, "w", "writes");
        errors.recovered(&mut log, "w", "writes");
        let log = String::from_utf8_lossy(&log).into_owned();
        assert_eq!(
            log,
            "w: I/O error: write failed; trying again\nw: writes succeed again after 3 failures\n"
        );
    }

    #[test]
    fn the_buffer_is_aligned() {
        for len in [512, 4096, 1 << 20] {
            let mut buf = AlignedBuf::new(len).expect("buf");
            let b = buf.get(len);
            assert_eq!(b.len(), len);
            assert_eq!(b.as_ptr() as usize % ALIGN, 0);
        }
    }
}
