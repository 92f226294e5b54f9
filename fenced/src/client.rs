//! A typed client of fenced's API, for hbd and the tools.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use crate::api::{Payload, Reply, Request, RequestLine, API_VERSION};

/// Errors talking to fenced.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// fenced is not running, or the socket is elsewhere.
    #[error("cannot reach fenced at {path}: {source}")]
    Connect {
        /// The socket.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The connection broke.
    #[error("talking to fenced: {0}")]
    Io(#[from] std::io::Error),
    /// fenced refused the request.
    #[error("fenced: {0}")]
    Refused(String),
    /// An answer this client does not understand.
    #[error("unexpected answer from fenced: {0}")]
    Protocol(String),
}

/// A connection to fenced.
pub struct FencedClient {
    reader: BufReader<UnixStream>,
}

impl FencedClient {
    /// Connects to the socket at `path`.
    pub fn connect(path: &Path) -> Result<Self, ClientError> {
        let stream = UnixStream::connect(path).map_err(|source| ClientError::Connect {
            path: path.display().to_string(),
            source,
        })?;
        Ok(Self {
            reader: BufReader::new(stream),
        })
    }

    /// Sends `request` and reads one reply (waiting at most `timeout`; `None` = forever).
    pub fn call(
        &mut self,
        request: Request,
        timeout: Option<Duration>,
    ) -> Result<Payload, ClientError> {
        self.send(request)?;
        self.reader.get_mut().set_read_timeout(timeout)?;
        self.next_reply()
    }

    /// Sends a request without reading the reply.
    pub fn send(&mut self, request: Request) -> Result<(), ClientError> {
        let line = serde_json::to_string(&RequestLine {
            version: API_VERSION,
            request,
        })
        .map_err(|e| ClientError::Protocol(e.to_string()))?;
        let stream = self.reader.get_mut();
        stream.write_all(line.as_bytes())?;
        stream.write_all(b"\n")?;
        Ok(())
    }

    /// Reads the next reply, waiting at most `timeout` (`None` = forever).
    pub fn wait_reply(&mut self, timeout: Option<Duration>) -> Result<Payload, ClientError> {
        self.reader.get_mut().set_read_timeout(timeout)?;
        self.next_reply()
    }

    /// Reads the next reply.
    pub fn next_reply(&mut self) -> Result<Payload, ClientError> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(ClientError::Protocol("connection closed".into()));
        }
        let reply: Reply = serde_json::from_str(&line)
            .map_err(|e| ClientError::Protocol(format!("{e}: {line}")))?;
        match (reply.ok, reply.error) {
            (Some(payload), _) => Ok(payload),
            (None, Some(error)) => Err(ClientError::Refused(error)),
            (None, None) => Err(ClientError::Protocol(line)),
        }
    }
}
