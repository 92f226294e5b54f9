//! The playground's control socket: `lab cluster fault` and `lab cluster down` send one
//! JSON request line to the `lab cluster up` process holding the cluster and read one JSON
//! reply line. Only root can connect (the socket is mode 0600 in the lab's directory).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{LabError, Result};

/// A request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Request {
    /// Inject a fault: the words after `lab cluster fault`.
    Fault(Vec<String>),
    /// Tear the cluster down.
    Down,
}

/// The reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    /// Whether it was done.
    pub ok: bool,
    /// What was done, or why not.
    pub message: String,
}

/// Binds the control socket at `path` (mode 0600).
pub fn bind(path: &Path) -> Result<UnixListener> {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path).map_err(|e| LabError::io(path, e))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| LabError::io(path, e))?;
    Ok(listener)
}

/// Serves `listener` until `stop`: each connection's request goes to `handle` (one at a
/// time, so faults never interleave) and its reply back.
pub fn serve(listener: UnixListener, stop: &AtomicBool, mut handle: impl FnMut(Request) -> Reply) {
    if listener.set_nonblocking(true).is_err() {
        return;
    }
    while !stop.load(Ordering::Relaxed) {
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
            Err(_) => continue,
        };
        let _ = stream.set_nonblocking(false);
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let mut line = String::new();
        let mut reader = BufReader::new(&stream);
        let reply = match reader.read_line(&mut line) {
            Ok(_) => match serde_json::from_str::<Request>(&line) {
                Ok(request) => handle(request),
                Err(e) => Reply {
                    ok: false,
                    message: format!("bad request: {e}"),
                },
            },
            Err(e) => Reply {
                ok: false,
                message: format!("reading the request: {e}"),
            },
        };
        let mut out = &stream;
        if let Ok(text) = serde_json::to_string(&reply) {
            let _ = out.write_all(format!("{text}\n").as_bytes());
        }
    }
}

/// Sends `request` to the socket at `path` and returns the reply. `within` bounds the
/// wait (a fault like power-off can take seconds).
pub fn send(path: &Path, request: &Request, within: Duration) -> Result<Reply> {
    let stream = UnixStream::connect(path).map_err(|e| {
        LabError::Invalid(format!(
            "cannot reach the cluster's control socket {}: {e} (is `lab cluster up` still running?)",
            path.display()
        ))
    })?;
    stream
        .set_read_timeout(Some(within))
        .map_err(|e| LabError::io(path, e))?;
    let text =
        serde_json::to_string(request).map_err(|e| LabError::Invalid(format!("request: {e}")))?;
    (&stream)
        .write_all(format!("{text}\n").as_bytes())
        .map_err(|e| LabError::io(path, e))?;
    let mut line = String::new();
    BufReader::new(&stream)
        .read_line(&mut line)
        .map_err(|e| LabError::io(path, e))?;
    serde_json::from_str(&line).map_err(|e| {
        LabError::Invalid(format!(
            "{}: no reply from the cluster ({e}); it may have gone down",
            path.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_reaches_the_handler_and_its_reply_comes_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("control.sock");
        let listener = bind(&path).expect("bind");
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let server = std::thread::spawn(move || {
            serve(listener, &stopped, |request| match request {
                Request::Fault(words) => Reply {
                    ok: true,
                    message: format!("did {}", words.join(" ")),
                },
                Request::Down => Reply {
                    ok: true,
                    message: "going down".into(),
                },
            })
        });
        let reply = send(
            &path,
            &Request::Fault(vec!["crash".into(), "web1".into()]),
            Duration::from_secs(5),
        )
        .expect("reply");
        assert_eq!(
            reply,
            Reply {
                ok: true,
                message: "did crash web1".into()
            }
        );
        let reply = send(&path, &Request::Down, Duration::from_secs(5)).expect("reply");
        assert_eq!(reply.message, "going down");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        stop.store(true, Ordering::Relaxed);
        server.join().expect("the server ends when told");
    }

    #[test]
    fn no_cluster_says_so() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = send(
            &dir.path().join("none.sock"),
            &Request::Down,
            Duration::from_secs(1),
        )
        .expect_err("nobody listens")
        .to_string();
        assert!(err.contains("is `lab cluster up` still running?"), "{err}");
    }
}
