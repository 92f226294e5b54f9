//! The API socket: status snapshots and event streams (see [`crate::api`]).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex};

use crate::api::{Request, RequestKind, StatusReply, API_VERSION};

/// What the server threads share with the main loop.
#[derive(Default)]
pub struct Shared {
    /// The latest snapshot.
    pub status: Mutex<StatusReply>,
    /// Event subscribers: one channel of JSON lines each.
    pub subscribers: Mutex<Vec<Sender<String>>>,
    /// Where network partitions given with status requests go (the main loop).
    pub partitions: Mutex<Option<Sender<super::Msg>>>,
}

impl Shared {
    /// Sends `line` to every subscriber, dropping the ones that went away.
    pub fn publish(&self, line: &str) {
        if let Ok(mut subs) = self.subscribers.lock() {
            subs.retain(|s| s.send(line.to_string()).is_ok());
        }
    }
}

/// Binds the socket (replacing a stale one; refusing if a live qdiskd answers there), mode
/// 0600, and serves it on background threads.
pub fn serve(path: &Path, shared: Arc<Shared>) -> std::io::Result<()> {
    let listener = plumbing::socket::bind_private(path, "qdiskd")?;
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || handle(stream, &shared));
        }
    });
    Ok(())
}

fn reply(stream: &mut UnixStream, line: &str) -> bool {
    stream.write_all(line.as_bytes()).is_ok() && stream.write_all(b"\n").is_ok()
}

fn handle(stream: UnixStream, shared: &Shared) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    for line in BufReader::new(stream).lines().map_while(Result::ok) {
        let request: Result<Request, _> = serde_json::from_str(&line);
        match request {
            Ok(Request {
                version: API_VERSION,
                request: RequestKind::Status,
                partition,
            }) => {
                if let Some(names) = partition {
                    if let Ok(tx) = shared.partitions.lock() {
                        if let Some(tx) = tx.as_ref() {
                            let _ = tx.send(super::Msg::Partition(names));
                        }
                    }
                }
                let status = shared.status.lock().map(|s| s.clone()).unwrap_or_default();
                let text = serde_json::to_string(&status).unwrap_or_default();
                if !reply(&mut writer, &text) {
                    return;
                }
            }
            Ok(Request {
                version: API_VERSION,
                request: RequestKind::Subscribe,
                ..
            }) => {
                let (tx, rx) = channel();
                if let Ok(mut subs) = shared.subscribers.lock() {
                    subs.push(tx);
                }
                for event in rx {
                    if !reply(&mut writer, &event) {
                        return;
                    }
                }
                return;
            }
            Ok(Request { version, .. }) => {
                let text = format!(
                    "{{\"version\":{API_VERSION},\"error\":\"unsupported API version {version}\"}}"
                );
                if !reply(&mut writer, &text) {
                    return;
                }
            }
            Err(e) => {
                let text = serde_json::json!({"version": API_VERSION, "error": format!("bad request: {e}")});
                if !reply(&mut writer, &text.to_string()) {
                    return;
                }
            }
        }
    }
}
