//! Serial power-switch simulators on PTYs: WTI RPS-10 ([`rps10`]), APC Smart-UPS smart
//! protocol ([`apcsmart`]), Night/Ware RPC100S ([`nw_rpc100s`]) and a CH340 "LCUS" relay
//! board ([`lcus`]).
//!
//! [`DeviceSim::start`] opens a PTY, links its slave end at a path of the test's choice
//! (the "serial port" a client opens) and runs the device model on the master end in a
//! thread. Holding the master lets the simulator see what a real device sees of the line
//! that a PTY pair made by socat would hide: the client's line speed, and so a DTR drop
//! (the POSIX hang-up, speed 0), which resets an RPS-10's serial interface.
//!
//! The models keep the devices' own delays ([`Delays`]: reply, relay switching, banner,
//! power-cycle off time), realistic by default and short for tests ([`Delays::fast`]), and
//! pace their output at the line's speed. [`Faults`] make a device silent or bannerless.
//! [`DeviceState`] shows a test what the device did (outputs, commands, EEPROM writes).
//! A simulator counts as right when cluster-glue's `stonith` plugins work against it; the
//! tests check that.

pub mod apcsmart;
pub mod driver;
pub mod lcus;
pub mod nw_rpc100s;
pub mod rps10;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::{LabError, Result};

/// Which device to simulate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceKind {
    /// WTI RPS-10 (outlet addresses 0-9).
    Rps10,
    /// APC Smart-UPS, smart protocol.
    ApcSmart,
    /// Night/Ware RPC100S.
    NwRpc100s,
    /// CH340 LCUS relay board (4 relays).
    Lcus,
}

impl DeviceKind {
    /// Every kind.
    pub const ALL: [DeviceKind; 4] = [
        DeviceKind::Rps10,
        DeviceKind::ApcSmart,
        DeviceKind::NwRpc100s,
        DeviceKind::Lcus,
    ];

    /// The plugin name (`rps10`, ...), as ours and cluster-glue's call it.
    pub fn name(self) -> &'static str {
        match self {
            DeviceKind::Rps10 => "rps10",
            DeviceKind::ApcSmart => "apcsmart",
            DeviceKind::NwRpc100s => "nw_rpc100s",
            DeviceKind::Lcus => "lcus",
        }
    }

    /// The line speed the device uses.
    pub fn baud(self) -> u32 {
        match self {
            DeviceKind::ApcSmart => 2400,
            _ => 9600,
        }
    }
}

impl std::str::FromStr for DeviceKind {
    type Err = LabError;
    fn from_str(s: &str) -> Result<DeviceKind> {
        DeviceKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| LabError::Invalid(format!("unknown device {s:?}")))
    }
}

/// The device's own delays.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Delays {
    /// From a command's last byte to the device starting to act on it.
    pub reply: Duration,
    /// Relay (or UPS output) switching time.
    pub relay: Duration,
    /// From DTR rising again to the RPS-10's `RPS-10 Ready` banner.
    pub banner: Duration,
    /// Off time of a power cycle: RPS-10 toggle, APC `@000` after its grace delay, LCUS
    /// none. For the RPC100S the command's own seconds are multiplied by `cycle_scale`.
    pub cycle_off: Duration,
    /// Multiplies the seconds of timed commands (RPC100S `//0,0,N;`, APC grace delay).
    pub cycle_scale: f64,
    /// Send output at the line's speed (10 bits per byte).
    pub pace: bool,
}

impl Delays {
    /// The delays assumed for the real device (see each model for where they come from).
    pub fn realistic(kind: DeviceKind) -> Delays {
        match kind {
            DeviceKind::Rps10 => Delays {
                reply: Duration::from_millis(20),
                relay: Duration::from_millis(100),
                banner: Duration::from_millis(1000),
                cycle_off: Duration::from_secs(5),
                cycle_scale: 1.0,
                pace: true,
            },
            DeviceKind::ApcSmart => Delays {
                reply: Duration::from_millis(30),
                relay: Duration::from_millis(200),
                banner: Duration::ZERO,
                cycle_off: Duration::from_secs(2),
                cycle_scale: 1.0,
                pace: true,
            },
            DeviceKind::NwRpc100s => Delays {
                reply: Duration::from_millis(20),
                relay: Duration::from_millis(100),
                banner: Duration::ZERO,
                cycle_off: Duration::ZERO,
                cycle_scale: 1.0,
                pace: true,
            },
            DeviceKind::Lcus => Delays {
                reply: Duration::from_millis(5),
                relay: Duration::from_millis(10),
                banner: Duration::ZERO,
                cycle_off: Duration::ZERO,
                cycle_scale: 1.0,
                pace: true,
            },
        }
    }

    /// Short delays for tests: every timed step a few milliseconds.
    pub fn fast() -> Delays {
        Delays {
            reply: Duration::from_millis(2),
            relay: Duration::from_millis(5),
            banner: Duration::from_millis(20),
            cycle_off: Duration::from_millis(50),
            cycle_scale: 0.01,
            pace: false,
        }
    }
}

/// Faults a test can switch on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Faults {
    /// The device ignores everything (a dead device, a wrong cable).
    pub silent: bool,
    /// The RPS-10 never sends its banner after a DTR reset (it still answers commands
    /// unless `silent`).
    pub no_banner: bool,
    /// The RPS-10's serial interface is out of step: it ignores commands until a DTR reset.
    pub needs_reset: bool,
}

/// What the simulated device did and is, for tests to check.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeviceState {
    /// Output (outlet, UPS output, relay) power, by index: RPS-10 by address 0-9, LCUS by
    /// relay number minus one, APC and RPC100S index 0.
    pub outputs: Vec<bool>,
    /// Commands understood, in order, as text (`1T`, `Z`, `//0,0,*;`, `A0 01 01 A2`).
    pub commands: Vec<String>,
    /// DTR resets (hang-ups) seen.
    pub hangups: u32,
    /// Settings written to (simulated) EEPROM: APC `-` changes.
    pub eeprom_writes: u32,
    /// Bytes received.
    pub bytes_in: usize,
    /// Faults in force.
    pub faults: Faults,
}

/// What a model schedules: bytes to send and state changes, each at a time.
#[derive(Default)]
pub struct Schedule {
    emits: Vec<(Instant, Vec<u8>)>,
    changes: Vec<(Instant, Change)>,
}

/// A state change to apply later.
pub type Change = Box<dyn FnOnce(&mut DeviceState) + Send>;

impl Schedule {
    /// Sends `bytes` at `at` (after whatever is queued before).
    pub fn emit(&mut self, at: Instant, bytes: impl Into<Vec<u8>>) {
        self.emits.push((at, bytes.into()));
    }

    /// Applies `change` at `at`.
    pub fn change(&mut self, at: Instant, change: impl FnOnce(&mut DeviceState) + Send + 'static) {
        self.changes.push((at, Box::new(change)));
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.emits.is_empty() && self.changes.is_empty()
    }

    /// The earliest pending time.
    pub fn next_due(&self) -> Option<Instant> {
        self.emits
            .iter()
            .map(|e| e.0)
            .chain(self.changes.iter().map(|c| c.0))
            .min()
    }
}

/// A device model: bytes in, scheduled bytes and state changes out.
pub trait Model: Send {
    /// One byte from the client.
    fn byte(&mut self, now: Instant, b: u8, state: &mut DeviceState, out: &mut Schedule);
    /// DTR rose again after a drop (the line speed went to 0 and back).
    fn hangup(&mut self, _now: Instant, _state: &mut DeviceState, _out: &mut Schedule) {}
}

/// A running simulator; stopped and its link removed on drop.
pub struct DeviceSim {
    kind: DeviceKind,
    link: PathBuf,
    state: Arc<Mutex<DeviceState>>,
    busy: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for DeviceSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceSim")
            .field("kind", &self.kind)
            .field("link", &self.link)
            .finish_non_exhaustive()
    }
}

impl DeviceSim {
    /// Starts a `kind` simulator whose port is `link` (a symlink to a PTY made here).
    pub fn start(kind: DeviceKind, link: &Path, delays: Delays) -> Result<DeviceSim> {
        let pty = driver::SimPty::create(link)?;
        let (model, outputs): (Box<dyn Model>, usize) = match kind {
            DeviceKind::Rps10 => (Box::new(rps10::Rps10::new(delays, vec![0])), 10),
            DeviceKind::ApcSmart => (Box::new(apcsmart::ApcSmart::new(delays)), 1),
            DeviceKind::NwRpc100s => (Box::new(nw_rpc100s::NwRpc100s::new(delays)), 1),
            DeviceKind::Lcus => (Box::new(lcus::Lcus::new(delays, 4, true)), 4),
        };
        let state = Arc::new(Mutex::new(DeviceState {
            outputs: vec![true; outputs],
            ..DeviceState::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let busy = Arc::new(AtomicBool::new(false));
        let thread = {
            let (state, stop, busy) = (state.clone(), stop.clone(), busy.clone());
            let byte_time = if delays.pace {
                Duration::from_secs_f64(10.0 / f64::from(kind.baud()))
            } else {
                Duration::ZERO
            };
            std::thread::Builder::new()
                .name(format!("sim-{}", kind.name()))
                .spawn(move || driver::run(pty, model, state, stop, busy, byte_time))
                .map_err(|e| LabError::io(link, e))?
        };
        Ok(DeviceSim {
            kind,
            link: link.to_path_buf(),
            state,
            busy,
            stop,
            thread: Some(thread),
        })
    }

    /// Starts a simulator with a unique port name in `dir`.
    pub fn start_in(kind: DeviceKind, dir: &Path, delays: Delays) -> Result<DeviceSim> {
        let name = crate::unique::unique_name(&format!("tty{}", kind.name().replace('_', "")));
        DeviceSim::start(kind, &dir.join(name), delays)
    }

    /// The device kind.
    pub fn kind(&self) -> DeviceKind {
        self.kind
    }

    /// The serial port to open.
    pub fn path(&self) -> &Path {
        &self.link
    }

    /// A copy of the device's state.
    pub fn state(&self) -> DeviceState {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Sets output `index` on or off (the state the device is found in).
    pub fn set_output(&self, index: usize, on: bool) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(o) = s.outputs.get_mut(index) {
            *o = on;
        }
    }

    /// Switches faults on or off.
    pub fn set_faults(&self, faults: Faults) {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).faults = faults;
    }

    /// Waits until nothing is scheduled (a power cycle in progress has finished).
    pub fn wait_idle(&self, timeout: Duration) -> Result<()> {
        let start = Instant::now();
        // Give a command just written time to arrive.
        std::thread::sleep(Duration::from_millis(20));
        while self.busy.load(Ordering::SeqCst) {
            if start.elapsed() > timeout {
                return Err(LabError::Invalid(format!(
                    "{} simulator still busy after {timeout:?}",
                    self.kind.name()
                )));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    }

    /// Removes a lock file that a client killed or buggy left for this port in `lock_dir`
    /// (cluster-glue's plugins can leave one), if its process is dead. Returns whether
    /// there was one.
    pub fn remove_dead_lock(&self, lock_dir: &Path) -> bool {
        let mut removed = false;
        for name in self.lock_names() {
            removed |= remove_if_dead(&lock_dir.join(name));
        }
        removed
    }

    /// The lock file names clients use for this port: `LCK..` and its base name, and
    /// cluster-glue's (the path less its first five bytes, letters and digits only).
    pub fn lock_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        if let Some(n) = self.link.file_name() {
            names.push(format!("LCK..{}", n.to_string_lossy()));
        }
        let text = self.link.to_string_lossy();
        let glue: String = text
            .get(5..)
            .unwrap_or("")
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(63)
            .collect();
        names.push(format!("LCK..{glue}"));
        names
    }
}

/// Removes the lock file at `path` if the process it names is dead.
fn remove_if_dead(path: &Path) -> bool {
    {
        let Ok(text) = std::fs::read_to_string(path) else {
            return false;
        };
        let alive = text
            .trim()
            .parse::<i32>()
            .ok()
            .and_then(rustix::process::Pid::from_raw)
            .is_some_and(|p| {
                rustix::process::test_kill_process(p)
                    .map_or_else(|e| e != rustix::io::Errno::SRCH, |()| true)
            });
        !alive && std::fs::remove_file(path).is_ok()
    }
}

impl Drop for DeviceSim {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.link);
    }
}
