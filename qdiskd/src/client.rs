//! A typed client of qdiskd's API, for hbd, fenced and the tools.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use crate::api::{EventReply, Request, RequestKind, StatusReply, API_VERSION};

/// Errors talking to qdiskd.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// qdiskd is not running or the socket is elsewhere.
    #[error("cannot reach qdiskd at {path}: {source}")]
    Connect {
        /// The socket.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The connection broke.
    #[error("talking to qdiskd: {0}")]
    Io(#[from] std::io::Error),
    /// qdiskd answered something this client does not understand.
    #[error("unexpected answer from qdiskd: {0}")]
    Protocol(String),
}

/// A connection to qdiskd.
pub struct QdiskClient {
    reader: BufReader<UnixStream>,
}

impl QdiskClient {
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

    fn send(&mut self, request: RequestKind) -> Result<(), ClientError> {
        self.send_request(Request {
            version: API_VERSION,
            request,
            partition: None,
        })
    }

    fn send_request(&mut self, request: Request) -> Result<(), ClientError> {
        let line =
            serde_json::to_string(&request).map_err(|e| ClientError::Protocol(e.to_string()))?;
        let stream = self.reader.get_mut();
        stream.write_all(line.as_bytes())?;
        stream.write_all(b"\n")?;
        Ok(())
    }

    fn line(&mut self) -> Result<String, ClientError> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(ClientError::Protocol("connection closed".into()));
        }
        Ok(line)
    }

    /// One status snapshot.
    pub fn status(&mut self) -> Result<StatusReply, ClientError> {
        self.send(RequestKind::Status)?;
        let line = self.line()?;
        serde_json::from_str(&line).map_err(|e| ClientError::Protocol(format!("{e}: {line}")))
    }

    /// One status snapshot, telling qdiskd the names of the nodes in this node's network
    /// partition (the membership layer's poll).
    pub fn status_with_partition(
        &mut self,
        partition: Vec<String>,
    ) -> Result<StatusReply, ClientError> {
        self.send_request(Request {
            version: API_VERSION,
            request: RequestKind::Status,
            partition: Some(partition),
        })?;
        let line = self.line()?;
        serde_json::from_str(&line).map_err(|e| ClientError::Protocol(format!("{e}: {line}")))
    }

    /// Subscribes to events; the returned iterator blocks for each one (with no read
    /// timeout) and ends when qdiskd goes away.
    pub fn subscribe(mut self) -> Result<impl Iterator<Item = EventReply>, ClientError> {
        self.send(RequestKind::Subscribe)?;
        self.reader.get_mut().set_read_timeout(None)?;
        Ok(self
            .reader
            .lines()
            .map_while(Result::ok)
            .filter_map(|line| serde_json::from_str(&line).ok()))
    }
}
