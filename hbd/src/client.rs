//! A typed client of hbd's API, for `hbctl` and other programs.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use crate::api::{CommandReply, GroupSet, Request, RequestKind, StatusReply, API_VERSION};

/// Where hbd listens unless told otherwise.
pub const DEFAULT_SOCKET: &str = "/run/hbd/hbd.sock";

/// Errors talking to hbd.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// hbd is not running or the socket is elsewhere.
    #[error("cannot reach hbd at {path}: {source}")]
    Connect {
        /// The socket.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The connection broke.
    #[error("talking to hbd: {0}")]
    Io(#[from] std::io::Error),
    /// hbd answered with an error or something this client does not understand.
    #[error("hbd answered: {0}")]
    Protocol(String),
}

/// A connection to hbd.
pub struct HbdClient {
    reader: BufReader<UnixStream>,
}

impl HbdClient {
    /// Connects to the socket at `path`.
    pub fn connect(path: &Path) -> Result<Self, ClientError> {
        let stream = UnixStream::connect(path).map_err(|source| ClientError::Connect {
            path: path.display().to_string(),
            source,
        })?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        Ok(Self {
            reader: BufReader::new(stream),
        })
    }

    fn call<T: serde::de::DeserializeOwned>(
        &mut self,
        request: RequestKind,
    ) -> Result<T, ClientError> {
        let line = serde_json::to_string(&Request {
            version: API_VERSION,
            request,
        })
        .map_err(|e| ClientError::Protocol(e.to_string()))?;
        let stream = self.reader.get_mut();
        stream.write_all(line.as_bytes())?;
        stream.write_all(b"\n")?;
        let mut answer = String::new();
        if self.reader.read_line(&mut answer)? == 0 {
            return Err(ClientError::Protocol("connection closed".into()));
        }
        if let Ok(serde_json::Value::Object(map)) = serde_json::from_str(&answer) {
            if let Some(serde_json::Value::String(e)) = map.get("error") {
                return Err(ClientError::Protocol(e.clone()));
            }
        }
        serde_json::from_str(&answer).map_err(|e| ClientError::Protocol(format!("{e}: {answer}")))
    }

    /// One status snapshot.
    pub fn status(&mut self) -> Result<StatusReply, ClientError> {
        self.call(RequestKind::Status)
    }

    /// Asks this node to give `set` to its peer(s).
    pub fn standby(&mut self, set: GroupSet) -> Result<CommandReply, ClientError> {
        self.call(RequestKind::Standby(set))
    }

    /// Asks this node to take `set` from its peer(s).
    pub fn takeover(&mut self, set: GroupSet) -> Result<CommandReply, ClientError> {
        self.call(RequestKind::Takeover(set))
    }
}
