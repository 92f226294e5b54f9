//! The `serial` medium: heartbeat's classic text frames on a raw tty (reference:
//! heartbeat.md §4.8).
//!
//! The line is set raw 8N1 with hardware flow control at the configured `baud`. The reader
//! discards bytes until a line starting `>>>`, then collects lines up to `<<<` and hands the
//! frame over (NULs between frames are dropped). The writer sends a frame in 512-byte
//! fragments with a pause of one fragment's transmission time between them, as heartbeat
//! does so a slow peer is not overrun; it runs on its own thread behind a short queue so a
//! stuck line (no cable, no reader) never blocks the daemon: packets that do not fit in
//! the queue are dropped and counted as send failures.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender, TrySendError};
use std::time::Duration;

use super::{LinkId, MediaError, Received};

/// Bytes written before pausing (heartbeat's fragment size).
pub const FRAGMENT: usize = 512;
/// Largest frame accepted from the line; longer garbage is discarded.
const MAX_FRAME: usize = 256 * 1024;
/// Frames waiting for the writer.
const QUEUE: usize = 8;

/// An open serial line.
pub struct SerialLink {
    name: String,
    queue: SyncSender<Vec<u8>>,
    /// Closed by the writer thread once every queued frame is written.
    written: Receiver<()>,
}

fn io(medium: &str, what: &str) -> impl FnOnce(std::io::Error) -> MediaError {
    let medium = medium.to_string();
    let what = what.to_string();
    move |source| MediaError::Io {
        medium,
        what,
        source,
    }
}

impl SerialLink {
    /// Opens `device` at `baud` and starts its reader and writer threads.
    pub fn open(
        id: LinkId,
        device: &Path,
        baud: u32,
        inbox: Sender<Received>,
    ) -> Result<SerialLink, MediaError> {
        let name = device.display().to_string();
        let medium = format!("serial {name}");
        let port = serialport::new(name.as_str(), baud)
            .data_bits(serialport::DataBits::Eight)
            .parity(serialport::Parity::None)
            .stop_bits(serialport::StopBits::One)
            .flow_control(serialport::FlowControl::Hardware)
            .timeout(Duration::from_secs(3600))
            .open_native()
            .map_err(|e| MediaError::Io {
                medium: medium.clone(),
                what: "open".into(),
                source: e.into(),
            })?;
        let reader = port.try_clone_native().map_err(|e| MediaError::Io {
            medium: medium.clone(),
            what: "duplicate descriptor".into(),
            source: e.into(),
        })?;
        let (queue, pending) = sync_channel::<Vec<u8>>(QUEUE);
        let pause = fragment_time(baud);
        let mut writer = port;
        let wname = medium.clone();
        let (written_tx, written) = channel::<()>();
        std::thread::Builder::new()
            .name(format!("hbd write {medium}"))
            .spawn(move || {
                crate::rt::enter("serial writer");
                for frame in pending {
                    if let Err(e) = write_frame(&mut writer, &frame, pause) {
                        tracing::warn!("{wname}: write failed: {e}; no connection or bad cable?");
                    }
                }
                drop(written_tx);
            })
            .map_err(io(&medium, "writer thread"))?;
        let rname = medium.clone();
        std::thread::Builder::new()
            .name(format!("hbd read {medium}"))
            .spawn(move || {
                crate::rt::enter("serial reader");
                read_loop(id, reader, inbox, &rname)
            })
            .map_err(io(&medium, "reader thread"))?;
        Ok(SerialLink {
            name,
            queue,
            written,
        })
    }

    /// Queues one classic-text frame for the line.
    pub fn send(&self, packet: &[u8]) -> Result<(), MediaError> {
        match self.queue.try_send(packet.to_vec()) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => Err(MediaError::Io {
                medium: format!("serial {}", self.name),
                what: "write".into(),
                source: std::io::Error::new(
                    std::io::ErrorKind::WouldBlock,
                    "the line is not draining (queue full)",
                ),
            }),
            Err(TrySendError::Disconnected(_)) => Err(MediaError::Io {
                medium: format!("serial {}", self.name),
                what: "write".into(),
                source: std::io::Error::new(std::io::ErrorKind::BrokenPipe, "writer stopped"),
            }),
        }
    }

    /// The tty path.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Closes the line once the frames already queued are written (a leave announcement
    /// must reach the peer before the daemon exits), waiting at most `within` for a line
    /// that does not drain. Returns whether everything was written.
    pub fn close(self, within: Duration) -> bool {
        let SerialLink { queue, written, .. } = self;
        drop(queue);
        matches!(
            written.recv_timeout(within),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected)
        )
    }
}

/// Time to transmit one fragment at `baud` (8N1: ten bits a byte, as heartbeat counts 8).
fn fragment_time(baud: u32) -> Duration {
    Duration::from_secs_f64(FRAGMENT as f64 / (f64::from(baud.max(1)) / 8.0))
}

fn write_frame(w: &mut impl Write, frame: &[u8], pause: Duration) -> std::io::Result<()> {
    let mut chunks = frame.chunks(FRAGMENT).peekable();
    while let Some(chunk) = chunks.next() {
        w.write_all(chunk)?;
        w.flush()?;
        if chunks.peek().is_some() {
            std::thread::sleep(pause);
        }
    }
    Ok(())
}

/// Splits a byte stream into `>>>`…`<<<` frames.
#[derive(Debug, Default)]
pub struct FrameSplitter {
    line: Vec<u8>,
    frame: Vec<u8>,
    inside: bool,
}

impl FrameSplitter {
    /// Feeds bytes; returns the frames they complete (each `>>>\n`…`<<<\n`).
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for &b in bytes {
            if b == 0 || b == b'\r' {
                continue;
            }
            self.line.push(b);
            if b != b'\n' {
                if self.line.len() > MAX_FRAME {
                    self.reset();
                }
                continue;
            }
            let line = std::mem::take(&mut self.line);
            if line.starts_with(b">>>") {
                self.inside = true;
                self.frame.clear();
            }
            if !self.inside {
                continue;
            }
            self.frame.extend_from_slice(&line);
            if line.starts_with(b"<<<") {
                out.push(std::mem::take(&mut self.frame));
                self.inside = false;
            } else if self.frame.len() > MAX_FRAME {
                self.reset();
            }
        }
        out
    }

    fn reset(&mut self) {
        self.line.clear();
        self.frame.clear();
        self.inside = false;
    }
}

fn read_loop(id: LinkId, mut port: impl Read, inbox: Sender<Received>, medium: &str) {
    let mut splitter = FrameSplitter::default();
    let mut buf = [0u8; 4096];
    loop {
        match port.read(&mut buf) {
            Ok(0) => std::thread::sleep(Duration::from_millis(50)),
            Ok(n) => {
                for bytes in splitter.push(&buf[..n]) {
                    if inbox.send(Received { link: id, bytes }).is_err() {
                        return;
                    }
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::TimedOut | std::io::ErrorKind::Interrupted
                ) => {}
            Err(e) => {
                tracing::warn!("{medium}: read failed: {e}");
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_cut_out_of_line_noise() {
        let mut s = FrameSplitter::default();
        let got = s.push(b"noise\n>>>\nt=status\n<<<\n\0garbage\n>>>\n");
        assert_eq!(got, vec![b">>>\nt=status\n<<<\n".to_vec()]);
        let got = s.push(b"st=up\n<<<\n");
        assert_eq!(got, vec![b">>>\nst=up\n<<<\n".to_vec()]);
    }

    #[test]
    fn a_frame_split_across_reads_is_joined() {
        let mut s = FrameSplitter::default();
        assert!(s.push(b">>").is_empty());
        assert!(s.push(b">\nsrc=web1\n<").is_empty());
        assert_eq!(s.push(b"<<\n"), vec![b">>>\nsrc=web1\n<<<\n".to_vec()]);
    }

    #[test]
    fn a_new_start_marker_discards_a_broken_frame() {
        let mut s = FrameSplitter::default();
        let got = s.push(b">>>\nhalf=1\n>>>\nwhole=1\n<<<\n");
        assert_eq!(got, vec![b">>>\nwhole=1\n<<<\n".to_vec()]);
    }

    #[test]
    fn fragments_pause_at_the_line_speed() {
        assert_eq!(fragment_time(19200).as_millis(), 213);
        let mut out = Vec::new();
        write_frame(&mut out, &[b'x'; 1030], Duration::ZERO).expect("write");
        assert_eq!(out.len(), 1030);
    }

    #[test]
    fn close_returns_once_the_queued_frames_are_on_the_line() {
        // Found in the lab: hbd queued its leave announcement and exited before the writer
        // thread wrote it, so the peer waited for deadtime instead.
        use serialport::SerialPort;
        let (mut peer, ours) = serialport::TTYPort::pair().expect("pty pair");
        peer.set_timeout(Duration::from_millis(10))
            .expect("timeout");
        let path = ours.name().expect("pty name");
        let (inbox, _received) = std::sync::mpsc::channel();
        let link = SerialLink::open(LinkId(0), Path::new(&path), 115_200, inbox).expect("open");
        let frame: Vec<u8> = [&b">>>\nt=status\nst=dead\n"[..], &[b'x'; 3000], b"\n<<<\n"].concat();
        link.send(&frame).expect("queued");
        assert!(link.close(Duration::from_secs(5)), "not drained");
        // Everything is readable at once, without waiting for the writer.
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = peer.read(&mut buf) {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, frame);
    }
}
