//! The API socket (see [`crate::api`]): status snapshots answered from the latest copy,
//! commands passed to the loop.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::Ev;
use crate::api::{Request, RequestKind, StatusReply, API_VERSION};

/// What the server threads share with the loop.
#[derive(Default)]
pub struct Shared {
    /// The latest snapshot.
    pub status: Mutex<StatusReply>,
}

/// Binds the socket ([`plumbing::socket::bind_private`]: a stale one replaced, a live hbd's
/// refused, mode 0600) and serves it on background threads.
pub fn serve(path: &Path, shared: Arc<Shared>, tx: Sender<Ev>) -> std::io::Result<()> {
    let listener = plumbing::socket::bind_private(path, "hbd")?;
    std::thread::Builder::new()
        .name("hbd api".into())
        .spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let shared = Arc::clone(&shared);
                let tx = tx.clone();
                let _ = std::thread::Builder::new()
                    .name("hbd api client".into())
                    .spawn(move || handle(stream, &shared, &tx));
            }
        })?;
    Ok(())
}

fn reply(stream: &mut UnixStream, line: &str) -> bool {
    stream.write_all(line.as_bytes()).is_ok() && stream.write_all(b"\n").is_ok()
}

fn error(message: &str) -> String {
    serde_json::json!({"version": API_VERSION, "error": message}).to_string()
}

fn handle(stream: UnixStream, shared: &Shared, tx: &Sender<Ev>) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    for line in BufReader::new(stream).lines().map_while(Result::ok) {
        let text = match serde_json::from_str::<Request>(&line) {
            Ok(Request { version, .. }) if version != API_VERSION => error(&format!(
                "unsupported API version {version}; this hbd speaks {API_VERSION}"
            )),
            Ok(Request {
                request: RequestKind::Status,
                ..
            }) => {
                let status = shared.status.lock().map(|s| s.clone()).unwrap_or_default();
                serde_json::to_string(&status).unwrap_or_default()
            }
            Ok(Request { request, .. }) => {
                let (answer_tx, answer_rx) = channel();
                if tx.send(Ev::Command(request, answer_tx)).is_err() {
                    error("hbd is shutting down")
                } else {
                    match answer_rx.recv_timeout(Duration::from_secs(10)) {
                        Ok(a) => serde_json::to_string(&a).unwrap_or_default(),
                        Err(_) => error("hbd did not answer within 10 s"),
                    }
                }
            }
            Err(e) => error(&format!("bad request: {e}")),
        };
        if !reply(&mut writer, &text) {
            return;
        }
    }
}
