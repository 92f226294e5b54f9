//! BMCs: one OpenIPMI `ipmi_sim` per node, serving IPMI 1.5 and 2.0 (lanplus) over UDP on the
//! management network, whose chassis power really controls the node.
//!
//! ipmi_sim runs in the switch namespace bound to the BMC's own address (`10.99.0.(100+i)`,
//! port 623), with a user and password. Its `chassis_control` program is the node's
//! `power.sh` ([`crate::node::Node::power_script`]): `chassis power off` takes the node off
//! the network and kills every process of it (and waits until they are gone, so ipmitool
//! never retransmits into a second run), `chassis power on` brings the links back and
//! starts the node's configured daemons. A BMC can be frozen ([`Bmc::freeze`]: requests go
//! unanswered, and are answered late once it thaws) or made slow ([`Bmc::slow`]: frozen for
//! most of every period, so answers come seconds late, as from a BMC whose firmware is
//! busy). Clients must pass `-C 3` to ipmitool: ipmi_sim does not answer the cipher suite
//! list request ipmitool sends otherwise (10–14 s).

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::cgroup::Cgroup;
use crate::cmd::{run_command, shell_quote};
use crate::error::{LabError, Result};
use crate::netns::NetNs;
use crate::node::Node;
use crate::process::InfraProcess;
use crate::topology::bmc_addr;
use crate::wait::wait_until;

/// The IPMI port every lab BMC listens on.
pub const IPMI_PORT: u16 = 623;

/// Login of a lab BMC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BmcCredentials {
    /// IPMI user name (user 2, admin privilege).
    pub user: String,
    /// Its password.
    pub password: String,
}

impl Default for BmcCredentials {
    fn default() -> Self {
        BmcCredentials {
            user: "admin".into(),
            password: "qlab-ipmi".into(),
        }
    }
}

/// One node's BMC.
#[derive(Debug)]
pub struct Bmc {
    node: usize,
    addr: Ipv4Addr,
    credentials: BmcCredentials,
    dir: PathBuf,
    process: InfraProcess,
    switch_ns: String,
    stutter: Mutex<Option<Stutter>>,
}

/// The thread that makes a BMC slow: it freezes ipmi_sim for `frozen`, lets it run for
/// `awake`, and so on until stopped, when it leaves it running.
#[derive(Debug)]
struct Stutter {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Stutter {
    fn start(pid: rustix::process::Pid, frozen: Duration, awake: Duration) -> Stutter {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            // Sleeps up to `span`, in short steps so a stop is seen at once; false when stopped.
            let nap = |span: Duration| {
                let end = Instant::now() + span;
                while Instant::now() < end {
                    if flag.load(Ordering::SeqCst) {
                        return false;
                    }
                    std::thread::sleep(Duration::from_millis(20).min(span));
                }
                !flag.load(Ordering::SeqCst)
            };
            use rustix::process::{kill_process, Signal};
            loop {
                if kill_process(pid, Signal::STOP).is_err() || !nap(frozen) {
                    break;
                }
                if kill_process(pid, Signal::CONT).is_err() || !nap(awake) {
                    break;
                }
            }
            let _ = kill_process(pid, Signal::CONT);
        });
        Stutter {
            stop,
            thread: Some(thread),
        }
    }

    fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Stutter {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The stub chassis power program (see [`Bmc::start`]) keeping its state in `state`:
/// `get power` prints the state, `set power N` and `set reset 1` change it. Builtins only,
/// so a status query costs one `sh` start, as on the real node's program.
fn power_stub(state: &Path) -> String {
    let state = shell_quote(&state.display().to_string());
    format!(
        "#!/bin/sh\n\
         # Lab BMC power stub: a power state in a file, no node behind it (agent benchmarks).\n\
         f={state}\n\
         case \"$1 $2\" in\n\
         \x20 'get power') p=1; [ -e \"$f\" ] && read -r p < \"$f\"; echo \"power:$p\" ;;\n\
         \x20 'set power') echo \"$3\" > \"$f\" ;;\n\
         \x20 'set reset') echo 1 > \"$f\" ;;\n\
         esac\n"
    )
}

impl Bmc {
    /// Starts the BMC of `node`, in `switch` (which must carry the management network), with
    /// its files in `dir`. With `stub_power` its chassis power is only a state in a file,
    /// with no node behind it: for measuring fence agents without the simulated hardware's
    /// own power-off time.
    pub fn start(
        node: &Node,
        switch: &NetNs,
        infra: &Cgroup,
        dir: &Path,
        credentials: &BmcCredentials,
        stub_power: bool,
    ) -> Result<Bmc> {
        let index = node.index();
        let addr = bmc_addr(index);
        std::fs::create_dir_all(dir.join("state")).map_err(|e| LabError::io(dir, e))?;
        let power_program = if stub_power {
            let stub = dir.join("power-stub.sh");
            std::fs::write(&stub, power_stub(&dir.join("stub-power")))
                .map_err(|e| LabError::io(&stub, e))?;
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755))
                .map_err(|e| LabError::io(&stub, e))?;
            stub
        } else {
            node.power_script()
        };
        // The BMC's address is an extra address on the management bridge of the switch.
        switch.ip(&["addr", "add", &format!("{addr}/32"), "dev", "brm"])?;
        let lan = format!(
            "# Generated by the lab: BMC of {host}\n\
             name \"bmc{index}\"\n\
             set_working_mc 0x20\n\
             startlan 1\n\
             \x20 addr {addr} {IPMI_PORT}\n\
             \x20 priv_limit admin\n\
             \x20 allowed_auths_callback md5\n\
             \x20 allowed_auths_user md5\n\
             \x20 allowed_auths_operator md5\n\
             \x20 allowed_auths_admin md5\n\
             \x20 guid a0b1c2d3e4f5061728394a5b6c7d8e{index:02x}\n\
             endlan\n\
             chassis_control \"{power}\"\n\
             user 2 true \"{user}\" \"{password}\" admin 10 md5\n",
            host = node.hostname(),
            power = power_program.display(),
            user = credentials.user,
            password = credentials.password,
        );
        let emu = "mc_setbmc 0x20\n\
                   mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02\n\
                   mc_enable 0x20\n";
        let lan_path = dir.join("lan.conf");
        let emu_path = dir.join("sim.emu");
        std::fs::write(&lan_path, lan).map_err(|e| LabError::io(&lan_path, e))?;
        std::fs::write(&emu_path, emu).map_err(|e| LabError::io(&emu_path, e))?;
        let argv: Vec<String> = [
            "ipmi_sim",
            "-n",
            "-c",
            &lan_path.display().to_string(),
            "-f",
            &emu_path.display().to_string(),
            "-s",
            &dir.join("state").display().to_string(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let log = dir.join("ipmi_sim.log");
        let process = InfraProcess::start(
            &format!("ipmi_sim (BMC of {})", node.hostname()),
            infra,
            Some(switch.name()),
            &argv,
            &[],
            &log,
        )?;
        Ok(Bmc {
            node: index,
            addr,
            credentials: credentials.clone(),
            dir: dir.to_path_buf(),
            process,
            switch_ns: switch.name().to_string(),
            stutter: Mutex::new(None),
        })
    }

    /// Waits until the BMC answers `chassis power status`.
    pub fn wait_ready(&mut self, deadline: Duration) -> Result<()> {
        let log = self.dir.join("ipmi_sim.log");
        let mut last = None;
        let ready = wait_until(
            deadline,
            Duration::from_millis(20),
            "ipmi_sim to answer",
            || {
                if let Err(e) = self.process.check_running(&log) {
                    last = Some(e);
                    return true;
                }
                self.ipmitool(&["chassis", "power", "status"]).is_ok()
            },
        );
        if let Some(e) = last {
            return Err(e);
        }
        ready.map(drop)
    }

    /// The node this BMC controls.
    pub fn node(&self) -> usize {
        self.node
    }

    /// The BMC's address on the management network.
    pub fn addr(&self) -> Ipv4Addr {
        self.addr
    }

    /// The BMC's UDP port.
    pub fn port(&self) -> u16 {
        IPMI_PORT
    }

    /// The BMC's login.
    pub fn credentials(&self) -> &BmcCredentials {
        &self.credentials
    }

    /// The PID of its ipmi_sim.
    pub fn pid(&self) -> Option<u32> {
        self.process.pid()
    }

    /// Arguments for `ipmitool` to reach this BMC over lanplus (cipher suite 3).
    pub fn ipmitool_args(&self) -> Vec<String> {
        [
            "-I",
            "lanplus",
            "-C",
            "3",
            "-H",
            &self.addr.to_string(),
            "-p",
            &IPMI_PORT.to_string(),
            "-U",
            &self.credentials.user,
            "-P",
            &self.credentials.password,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    /// Runs Debian's `ipmitool` against this BMC from the switch namespace (on the
    /// management network) and returns its output; an independent client, not ours.
    pub fn ipmitool(&self, args: &[&str]) -> Result<String> {
        let mut command = std::process::Command::new("ip");
        command
            .args([
                "netns",
                "exec",
                &self.switch_ns,
                "timeout",
                "10",
                "ipmitool",
            ])
            .args(self.ipmitool_args())
            .args(args);
        let output = run_command(&mut command)?;
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    fn pid_to_signal(&self) -> Result<rustix::process::Pid> {
        let pid = self.pid().ok_or_else(|| {
            LabError::Invalid(format!("the BMC of node {} does not run", self.node))
        })?;
        rustix::process::Pid::from_raw(pid as i32)
            .ok_or_else(|| LabError::Invalid(format!("bad pid {pid}")))
    }

    fn signal(&self, signal: rustix::process::Signal) -> Result<()> {
        let pid = self.pid_to_signal()?;
        rustix::process::kill_process(pid, signal)
            .map_err(|e| LabError::Invalid(format!("signal the BMC of node {}: {e}", self.node)))
    }

    /// Ends a [`Bmc::slow`] spell (the BMC is left running).
    fn stop_stutter(&self) {
        let stutter = self.stutter.lock().map(|mut s| s.take());
        if let Ok(Some(mut stutter)) = stutter {
            stutter.stop();
        }
    }

    /// Freezes ipmi_sim (SIGSTOP): requests go unanswered until [`Bmc::thaw`], which answers
    /// what queued up meanwhile, late. Ends a slow spell.
    pub fn freeze(&self) -> Result<()> {
        self.stop_stutter();
        self.signal(rustix::process::Signal::STOP)
    }

    /// Lets ipmi_sim run again, ending a freeze or a slow spell.
    pub fn thaw(&self) -> Result<()> {
        self.stop_stutter();
        self.signal(rustix::process::Signal::CONT)
    }

    /// Makes the BMC slow until [`Bmc::thaw`] or [`Bmc::freeze`]: ipmi_sim is frozen for
    /// `frozen` out of every `frozen + awake`, so a request waits up to `frozen` for its
    /// answer and a client's retransmissions are answered late, some after it gave up.
    pub fn slow(&self, frozen: Duration, awake: Duration) -> Result<()> {
        self.stop_stutter();
        let pid = self.pid_to_signal()?;
        let stutter = Stutter::start(pid, frozen, awake);
        let mut slot = self
            .stutter
            .lock()
            .map_err(|_| LabError::Invalid("the BMC's slow spell lock is poisoned".into()))?;
        *slot = Some(stutter);
        Ok(())
    }

    /// Stops ipmi_sim.
    pub fn stop(&mut self) {
        self.stop_stutter();
        let _ = self.signal(rustix::process::Signal::CONT);
        self.process.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stub(dir: &Path, args: &[&str]) -> String {
        let out = std::process::Command::new("sh")
            .arg(dir.join("power-stub.sh"))
            .args(args)
            .output()
            .expect("sh");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    #[test]
    fn the_power_stub_starts_on_and_keeps_what_it_is_set_to() {
        let dir = std::env::temp_dir().join(format!("qlab-stub-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(
            dir.join("power-stub.sh"),
            power_stub(&dir.join("it's state")),
        )
        .expect("write");
        assert_eq!(stub(&dir, &["get", "power"]), "power:1\n");
        stub(&dir, &["set", "power", "0"]);
        assert_eq!(stub(&dir, &["get", "power"]), "power:0\n");
        stub(&dir, &["set", "reset", "1"]);
        assert_eq!(stub(&dir, &["get", "power"]), "power:1\n");
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
