//! A Brocade Fibre Channel switch simulator: an SSH server (the `russh` crate, on its own
//! thread) on the host's loopback that speaks enough of the Fabric OS CLI for fencing, over
//! the lab switch's real ports: `switchshow` lists them, `portcfgpersistentdisable N` /
//! `portcfgpersistentenable N` really set port N's veth down or up in the switch namespace
//! (`ip -n`), so a disabled port cuts that node off.
//!
//! Commands come as SSH `exec` requests, one per channel (FOS runs commands given that
//! way). Port `N` is the `N`-th entry of the port list given at start. Password
//! authentication only; the host key is made fresh at every start.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::process::Command;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use russh::keys::ssh_key::private::Ed25519Keypair;
use russh::keys::PrivateKey;
use russh::server::{Auth, Msg, Server as _, Session};
use russh::{Channel, ChannelId};

use crate::error::{LabError, Result};

/// Login of the simulated switch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrocadeCredentials {
    /// User.
    pub user: String,
    /// Password.
    pub password: String,
}

impl Default for BrocadeCredentials {
    fn default() -> Self {
        BrocadeCredentials {
            user: "admin".into(),
            password: "qlab-fos-pass".into(),
        }
    }
}

/// The switch's ports: index = position, with the veth each one drives.
#[derive(Debug, Clone)]
struct Fabric {
    netns: String,
    ports: Vec<String>,
    credentials: BrocadeCredentials,
}

impl Fabric {
    fn is_up(&self, veth: &str) -> bool {
        Command::new("ip")
            .args(["-n", &self.netns, "-o", "link", "show", veth])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .is_some_and(|o| {
                let text = String::from_utf8_lossy(&o.stdout);
                text.split_once('<')
                    .and_then(|(_, r)| r.split_once('>'))
                    .is_some_and(|(flags, _)| flags.split(',').any(|f| f == "UP"))
            })
    }

    fn set(&self, veth: &str, up: bool) -> bool {
        Command::new("ip")
            .args(["-n", &self.netns, "link", "set", veth])
            .arg(if up { "up" } else { "down" })
            .status()
            .is_ok_and(|s| s.success())
    }

    fn switchshow(&self) -> String {
        let mut out = String::from(
            "switchName:\tqlab_fc\nswitchType:\t71.2\nswitchState:\tOnline\nswitchMode:\tNative\n\
             switchRole:\tPrincipal\nswitchDomain:\t1\nswitchId:\tfffc01\n\
             switchWwn:\t10:00:00:05:1e:00:00:01\nzoning:\t\tOFF\nswitchBeacon:\tOFF\n\n\
             Index Port Address Media Speed State     Proto\n\
             ==================================================\n",
        );
        for (i, veth) in self.ports.iter().enumerate() {
            if self.is_up(veth) {
                out.push_str(&format!(
                    "{i:>3} {i:>3}   01{i:02x}00   id    N8   Online      FC  F-Port  10:00:00:00:c9:00:{i:02x}:01 ({veth})\n"
                ));
            } else {
                out.push_str(&format!(
                    "{i:>3} {i:>3}   01{i:02x}00   id    N8   No_Light    FC  Disabled (Persistent)\n"
                ));
            }
        }
        out
    }

    /// Runs one CLI line: (output, exit status).
    fn run(&self, line: &str) -> (String, u32) {
        let words: Vec<&str> = line.split_whitespace().collect();
        let verb = words
            .first()
            .map(|w| w.to_ascii_lowercase())
            .unwrap_or_default();
        match (verb.as_str(), words.get(1)) {
            ("switchshow", _) => (self.switchshow(), 0),
            ("portcfgpersistentdisable" | "portcfgpersistentenable", Some(arg)) => {
                let up = verb == "portcfgpersistentenable";
                match arg.parse::<usize>().ok().and_then(|n| self.ports.get(n)) {
                    Some(veth) if self.set(veth, up) => (String::new(), 0),
                    Some(_) => ("error: port state change failed\n".into(), 1),
                    None => (format!("Invalid port number: {arg}\n"), 1),
                }
            }
            ("portcfgpersistentdisable" | "portcfgpersistentenable", None) => {
                ("Usage: portCfgPersistentDisable [slot/]port\n".into(), 1)
            }
            ("exit" | "logout", _) => (String::new(), 0),
            _ => (format!("rbash: {verb}: command not found\n"), 127),
        }
    }
}

#[derive(Clone)]
struct Handler {
    fabric: Arc<Fabric>,
}

impl russh::server::Server for Handler {
    type Handler = Handler;
    fn new_client(&mut self, _: Option<SocketAddr>) -> Handler {
        self.clone()
    }
}

impl russh::server::Handler for Handler {
    type Error = russh::Error;

    async fn auth_password(&mut self, user: &str, password: &str) -> Result<Auth, Self::Error> {
        let c = &self.fabric.credentials;
        Ok(if user == c.user && password == c.password {
            Auth::Accept
        } else {
            Auth::reject()
        })
    }

    async fn channel_open_session(
        &mut self,
        _channel: Channel<Msg>,
        reply: russh::server::ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        reply.accept().await;
        Ok(())
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let line = String::from_utf8_lossy(data).into_owned();
        let fabric = self.fabric.clone();
        let (out, status) = tokio::task::spawn_blocking(move || fabric.run(&line))
            .await
            .unwrap_or_else(|_| ("error: internal\n".into(), 1));
        session.channel_success(channel)?;
        session.data(channel, out.into_bytes())?;
        session.exit_status_request(channel, status)?;
        session.eof(channel)?;
        session.close(channel)?;
        Ok(())
    }
}

/// The running simulator; stopped on drop.
#[derive(Debug)]
pub struct BrocadeSim {
    addr: SocketAddr,
    fingerprint: String,
    credentials: BrocadeCredentials,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl BrocadeSim {
    /// Starts a simulator on `127.0.0.1` (a free port) whose port `i` drives `ports[i]`,
    /// a veth in network namespace `netns` (the lab switch).
    pub fn start(
        netns: &str,
        ports: &[String],
        credentials: &BrocadeCredentials,
    ) -> Result<BrocadeSim> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .map_err(|e| LabError::Invalid(format!("brocade simulator: cannot listen: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| LabError::Invalid(format!("brocade simulator: {e}")))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| LabError::Invalid(format!("brocade simulator: {e}")))?;
        let seed: [u8; 32] = rand::random();
        let key = PrivateKey::from(Ed25519Keypair::from_seed(&seed));
        let fingerprint = key
            .public_key()
            .fingerprint(russh::keys::HashAlg::Sha256)
            .to_string();
        let config = Arc::new(russh::server::Config {
            inactivity_timeout: Some(Duration::from_secs(60)),
            auth_rejection_time: Duration::from_millis(100),
            auth_rejection_time_initial: Some(Duration::ZERO),
            keys: vec![key],
            ..Default::default()
        });
        let mut handler = Handler {
            fabric: Arc::new(Fabric {
                netns: netns.to_string(),
                ports: ports.to_vec(),
                credentials: credentials.clone(),
            }),
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| LabError::Invalid(format!("brocade simulator runtime: {e}")))?;
        let thread = std::thread::Builder::new()
            .name("brocade-sim".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    tokio::select! {
                        _ = handler.run_on_socket(config, &listener) => {}
                        _ = stopped => {}
                    }
                });
            })
            .map_err(|e| LabError::Invalid(format!("brocade simulator thread: {e}")))?;
        Ok(BrocadeSim {
            addr,
            fingerprint,
            credentials: credentials.clone(),
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its host key's fingerprint, as `ssh-keygen -lf` prints it (`SHA256:...`).
    pub fn host_key_fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Its login.
    pub fn credentials(&self) -> &BrocadeCredentials {
        &self.credentials
    }

    /// Stops the server and waits for its thread.
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for BrocadeSim {
    fn drop(&mut self) {
        self.stop();
    }
}
