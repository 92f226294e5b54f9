//! A blocking SSH session for switch CLIs, on the `russh` crate (pure Rust; a
//! current-thread tokio runtime owned by the session drives it): connect, log in with a
//! password or a key, run one command per `exec` channel, collect its output and exit
//! status. Every step is bounded by a timeout.
//!
//! The server's host key is checked against `host_key_fingerprint` (`SHA256:...`, as
//! `ssh-keygen -lf` prints it) when one is configured; otherwise any key is accepted and a
//! warning says so (an SSH fence agent cannot ask a human).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use russh::client;
use russh::keys::{HashAlg, PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh::ChannelMsg;

use crate::error::FenceError;

/// How to log in.
#[derive(Clone)]
pub enum Login {
    /// User and password.
    Password {
        /// The user.
        user: String,
        /// The password (secret).
        password: String,
    },
    /// User and private key file (`identity_file`).
    Key {
        /// The user.
        user: String,
        /// The OpenSSH private key file.
        path: PathBuf,
    },
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Login::Password { user, .. } => write!(f, "Password({user}, ***)"),
            Login::Key { user, path } => write!(f, "Key({user}, {})", path.display()),
        }
    }
}

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct SshConfig {
    /// Host and port.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Credentials.
    pub login: Login,
    /// Bound on connecting, key exchange and authentication (`login_timeout`).
    pub login_timeout: Duration,
    /// Bound on one command (`shell_timeout`).
    pub command_timeout: Duration,
    /// The server key's expected `SHA256:` fingerprint, if pinned.
    pub host_key_fingerprint: Option<String>,
}

/// What a command printed and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutput {
    /// Standard output and error, as text.
    pub text: String,
    /// The exit status, if the server sent one.
    pub exit_status: Option<u32>,
}

struct Checker {
    expected: Option<String>,
    host: String,
    seen: Arc<std::sync::Mutex<Option<String>>>,
}

impl client::Handler for Checker {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let public = match key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key.clone(),
            PublicKeyOrCertificate::Certificate(cert) => cert.public_key().clone().into(),
        };
        let fingerprint = public.fingerprint(HashAlg::Sha256).to_string();
        if let Ok(mut seen) = self.seen.lock() {
            *seen = Some(fingerprint.clone());
        }
        match &self.expected {
            Some(want) => Ok(*want == fingerprint),
            None => {
                tracing::warn!(
                    "Accepting {}'s SSH host key {fingerprint} unchecked (set ssh_host_key_fingerprint to pin it)",
                    self.host
                );
                Ok(true)
            }
        }
    }
}

/// An open, authenticated SSH connection.
pub struct SshSession {
    runtime: tokio::runtime::Runtime,
    handle: client::Handle<Checker>,
    config: SshConfig,
}

impl std::fmt::Debug for SshSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshSession")
            .field("host", &self.config.host)
            .finish_non_exhaustive()
    }
}

fn timed_out(what: &str, config: &SshConfig, after: Duration) -> FenceError {
    FenceError::TimedOut {
        what: format!("{what} on {}:{}", config.host, config.port),
        after,
    }
}

impl SshSession {
    /// Connects and logs in.
    pub fn open(config: &SshConfig) -> Result<SshSession, FenceError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| FenceError::Protocol {
                detail: format!("cannot start the SSH runtime: {e}"),
            })?;
        let seen = Arc::new(std::sync::Mutex::new(None));
        let checker = Checker {
            expected: config.host_key_fingerprint.clone(),
            host: config.host.clone(),
            seen: seen.clone(),
        };
        let ssh_config = Arc::new(client::Config {
            inactivity_timeout: Some(config.login_timeout.max(config.command_timeout) * 2),
            ..client::Config::default()
        });
        let addr = (
            config
                .host
                .trim_matches(|c| c == '[' || c == ']')
                .to_string(),
            config.port,
        );
        let handle = runtime.block_on(async {
            let connect = client::connect(ssh_config, addr, checker);
            match tokio::time::timeout(config.login_timeout, connect).await {
                Err(_) => Err(timed_out("the SSH handshake", config, config.login_timeout)),
                Ok(Err(russh::Error::IO(e))) => Err(FenceError::Unreachable {
                    addr: format!("{}:{}", config.host, config.port),
                    detail: e.to_string(),
                }),
                Ok(Err(russh::Error::UnknownKey)) => Err(FenceError::AuthFailed {
                    detail: format!(
                        "{}'s SSH host key {} is not ssh_host_key_fingerprint (a different \
                         switch, or a man in the middle)",
                        config.host,
                        seen.lock().ok().and_then(|s| s.clone()).unwrap_or_default()
                    ),
                }),
                Ok(Err(e)) => Err(FenceError::Protocol {
                    detail: format!("SSH with {}: {e}", config.host),
                }),
                Ok(Ok(h)) => Ok(h),
            }
        })?;
        let mut session = SshSession {
            runtime,
            handle,
            config: config.clone(),
        };
        session.authenticate()?;
        Ok(session)
    }

    fn authenticate(&mut self) -> Result<(), FenceError> {
        let config = &self.config;
        let handle = &mut self.handle;
        let result = self.runtime.block_on(async {
            let auth = async {
                match &config.login {
                    Login::Password { user, password } => {
                        handle
                            .authenticate_password(user.as_str(), password.as_str())
                            .await
                    }
                    Login::Key { user, path } => {
                        let key =
                            russh::keys::load_secret_key(path, None).map_err(russh::Error::from)?;
                        let hash = handle.best_supported_rsa_hash().await?.flatten();
                        handle
                            .authenticate_publickey(
                                user.as_str(),
                                PrivateKeyWithHashAlg::new(Arc::new(key), hash),
                            )
                            .await
                    }
                }
            };
            tokio::time::timeout(config.login_timeout, auth).await
        });
        match result {
            Err(_) => Err(timed_out(
                "SSH authentication",
                config,
                config.login_timeout,
            )),
            Ok(Err(e)) => Err(FenceError::AuthFailed {
                detail: format!("SSH login to {}: {e}", config.host),
            }),
            Ok(Ok(r)) if r.success() => Ok(()),
            Ok(Ok(_)) => Err(FenceError::AuthFailed {
                detail: format!(
                    "{} refused the SSH login (check username, password or identity_file)",
                    config.host
                ),
            }),
        }
    }

    /// Runs `command` on its own channel and returns what it printed.
    pub fn exec(&mut self, command: &str) -> Result<CommandOutput, FenceError> {
        let config = &self.config;
        let handle = &self.handle;
        let result = self.runtime.block_on(async {
            let run = async {
                let mut channel = handle.channel_open_session().await?;
                channel.exec(true, command).await?;
                let mut text = Vec::new();
                let mut exit_status = None;
                while let Some(msg) = channel.wait().await {
                    match msg {
                        ChannelMsg::Data { data } => text.extend_from_slice(&data),
                        ChannelMsg::ExtendedData { data, .. } => text.extend_from_slice(&data),
                        ChannelMsg::ExitStatus { exit_status: s } => exit_status = Some(s),
                        ChannelMsg::Close => break,
                        _ => {}
                    }
                    if text.len() > 1 << 20 {
                        break;
                    }
                }
                Ok::<_, russh::Error>(CommandOutput {
                    text: String::from_utf8_lossy(&text).into_owned(),
                    exit_status,
                })
            };
            tokio::time::timeout(config.command_timeout, run).await
        });
        match result {
            Err(_) => Err(timed_out(
                &format!("the output of {command:?} (raise shell_timeout?)"),
                config,
                config.command_timeout,
            )),
            Ok(Err(e)) => Err(FenceError::Protocol {
                detail: format!("SSH command {command:?} on {}: {e}", config.host),
            }),
            Ok(Ok(out)) => Ok(out),
        }
    }

    /// Says goodbye (errors ignored: the work is done).
    pub fn close(self) {
        let handle = self.handle;
        self.runtime.block_on(async {
            let bye = handle.disconnect(russh::Disconnect::ByApplication, "", "en");
            let _ = tokio::time::timeout(Duration::from_millis(500), bye).await;
        });
    }
}
