//! What an action means, once for every device: `off` succeeds only when the device
//! confirms the power is off, `reboot` is off-confirmed-then-on (or the device's cycle with
//! `method=cycle`), and an `on` that fails after a confirmed `off` is reported as exactly
//! that ([`Outcome::OffButOnFailed`]), not as a reboot.
//!
//! This follows fence-agents' `fence_action` (fencing.py 4.12.1) with two deliberate
//! differences: `power_timeout` is wall time measured on the [`Clock`] (fence-agents counts
//! poll *iterations*, so its real wait exceeds the setting), and `delay` sleeps exactly
//! `delay` (fence-agents sleeps one second more). The logic reads time only through the
//! [`Clock`] argument, so tests drive it with a fake device and virtual time.

use std::time::{Duration, Instant};

use crate::device::{Action, FenceDevice, Outcome, PowerCommand, PowerState};
use crate::error::{FenceError, ParamError};
use crate::params::Params;

/// Time as the confirmation logic sees it.
pub trait Clock {
    /// Time since an arbitrary, fixed origin (monotonic).
    fn now(&self) -> Duration;
    /// Waits `d`.
    fn sleep(&mut self, d: Duration);
}

/// The real monotonic clock.
#[derive(Debug, Clone, Copy)]
pub struct SystemClock {
    origin: Instant,
}

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock {
            origin: Instant::now(),
        }
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }
    fn sleep(&mut self, d: Duration) {
        std::thread::sleep(d);
    }
}

/// How to reboot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RebootMethod {
    /// Off (confirmed), then on (confirmed).
    OnOff,
    /// The device's power cycle command (unverified; fence-agents warns the same).
    Cycle,
}

/// The timing of an action (fence-agents' option names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Poll status for this long after a power command for the change (`power_timeout`).
    pub power_timeout: Duration,
    /// Sleep this long after sending a power command, before the first poll (`power_wait`).
    pub power_wait: Duration,
    /// Between two status polls (`stonith_status_sleep`).
    pub status_interval: Duration,
    /// Extra attempts for `on` (`retry_on`).
    pub retry_on: u32,
    /// Sleep before `off` and `reboot` (`delay`).
    pub delay: Duration,
    /// How to reboot (`method`).
    pub method: RebootMethod,
}

impl Default for Timing {
    /// fence-agents' library defaults.
    fn default() -> Self {
        Timing {
            power_timeout: Duration::from_secs(20),
            power_wait: Duration::ZERO,
            status_interval: Duration::from_secs(1),
            retry_on: 1,
            delay: Duration::ZERO,
            method: RebootMethod::OnOff,
        }
    }
}

impl Timing {
    /// Reads `power_timeout`, `power_wait`, `stonith_status_sleep`, `retry_on`, `delay` and
    /// `method` (missing ones keep [`Timing::default`]).
    pub fn from_params(p: &Params) -> Result<Timing, ParamError> {
        let d = Timing::default();
        Ok(Timing {
            power_timeout: p.seconds("power_timeout")?.unwrap_or(d.power_timeout),
            power_wait: p.seconds("power_wait")?.unwrap_or(d.power_wait),
            status_interval: p
                .seconds("stonith_status_sleep")?
                .unwrap_or(d.status_interval),
            retry_on: p.integer("retry_on")?.unwrap_or(d.retry_on),
            delay: p.seconds("delay")?.unwrap_or(d.delay),
            method: match p.get("method") {
                Some("cycle") => RebootMethod::Cycle,
                _ => RebootMethod::OnOff,
            },
        })
    }
}

/// Performs `action` on `plug` of `device`. `list`, `list-status`, `monitor`, `status`,
/// `diag` and the power actions are handled; `metadata` and `validate-all` are the agent's.
pub fn perform(
    device: &mut dyn FenceDevice,
    action: Action,
    plug: Option<&str>,
    timing: &Timing,
    clock: &mut dyn Clock,
) -> Result<Outcome, FenceError> {
    if action.is_delayed() && !timing.delay.is_zero() {
        tracing::info!("Delay {:?} before {action}", timing.delay);
        clock.sleep(timing.delay);
    }
    if !device.reports_power() {
        return perform_unconfirmed(device, action, plug, timing, clock);
    }
    match action {
        Action::Status => device.status(plug).map(Outcome::Status),
        Action::Monitor => {
            if device.is_multi_port() {
                device.list().map(|_| Outcome::Healthy)
            } else {
                device.probe(plug).map(|_| Outcome::Healthy)
            }
        }
        Action::List => device.list().map(|ports| {
            Outcome::Listed(
                ports
                    .into_iter()
                    .map(|p| crate::device::Port { state: None, ..p })
                    .collect(),
            )
        }),
        Action::ListStatus => device.list().map(Outcome::Listed),
        Action::Off => off(device, plug, timing, clock),
        Action::On => on(device, plug, timing, clock),
        Action::Reboot => reboot(device, plug, timing, clock),
        Action::Diag => {
            require(device, PowerCommand::Diag)?;
            device.power(plug, PowerCommand::Diag)?;
            Ok(Outcome::DiagSent)
        }
        Action::Metadata | Action::ValidateAll => Err(FenceError::Unsupported {
            action: action.to_string(),
        }),
    }
}

/// How long a reboot of a device that cannot report its state keeps the power off at least
/// (`power_wait` when longer): with nothing to confirm the off, this makes sure the load
/// really lost power (a PC power supply rides through tens of milliseconds).
pub const UNCONFIRMED_MIN_OFF: Duration = Duration::from_secs(1);

/// The actions of a device that cannot report its power state: a power command is done
/// when the device acknowledges it (there is nothing to poll), `reboot` is off, a pause of
/// [`UNCONFIRMED_MIN_OFF`] or `power_wait` so the load really loses power, then on, and
/// `status` is unsupported.
fn perform_unconfirmed(
    device: &mut dyn FenceDevice,
    action: Action,
    plug: Option<&str>,
    timing: &Timing,
    clock: &mut dyn Clock,
) -> Result<Outcome, FenceError> {
    match action {
        Action::Monitor => device.probe(plug).map(|_| Outcome::Healthy),
        Action::Off => {
            device.power(plug, PowerCommand::Off)?;
            Ok(Outcome::PoweredOff)
        }
        Action::On => {
            device.power(plug, PowerCommand::On)?;
            Ok(Outcome::PoweredOn)
        }
        Action::Reboot => {
            if timing.method == RebootMethod::Cycle && device.supports(PowerCommand::Cycle) {
                device.power(plug, PowerCommand::Cycle)?;
                return Ok(Outcome::Cycled);
            }
            device.power(plug, PowerCommand::Off)?;
            clock.sleep(timing.power_wait.max(UNCONFIRMED_MIN_OFF));
            match device.power(plug, PowerCommand::On) {
                Ok(()) => Ok(Outcome::Rebooted),
                Err(e) => Ok(Outcome::OffButOnFailed(e)),
            }
        }
        Action::List | Action::ListStatus => device.list().map(Outcome::Listed),
        _ => Err(FenceError::Unsupported {
            action: format!("{action} (this device cannot report its power state)"),
        }),
    }
}

fn require(device: &dyn FenceDevice, command: PowerCommand) -> Result<(), FenceError> {
    if device.supports(command) {
        Ok(())
    } else {
        Err(FenceError::Unsupported {
            action: command.to_string(),
        })
    }
}

fn command_for(state: PowerState) -> PowerCommand {
    match state {
        PowerState::On => PowerCommand::On,
        PowerState::Off => PowerCommand::Off,
    }
}

/// Sends the command for `wanted`, waits `power_wait`, then polls until the status is
/// `wanted` or `power_timeout` (counted from the command) has passed. A status read that
/// fails while polling is retried until the deadline: a BMC may drop a request while the
/// host's power changes; the last such error is reported if nothing better is known.
fn set_and_confirm(
    device: &mut dyn FenceDevice,
    plug: Option<&str>,
    wanted: PowerState,
    timing: &Timing,
    clock: &mut dyn Clock,
) -> Result<(), FenceError> {
    let start = clock.now();
    device.power(plug, command_for(wanted))?;
    tracing::debug!(
        "{} sent, waiting {:?}",
        command_for(wanted),
        timing.power_wait
    );
    clock.sleep(timing.power_wait);
    let deadline = start + timing.power_timeout;
    loop {
        match device.status(plug) {
            Ok(s) if s == wanted => return Ok(()),
            Ok(s) => tracing::debug!("Status {s}, waiting for {wanted}"),
            Err(e) => tracing::debug!("Status read failed while waiting for {wanted}: {e}"),
        }
        let now = clock.now();
        if now >= deadline {
            return Err(FenceError::NotConfirmed {
                wanted,
                after: now.saturating_sub(start),
            });
        }
        clock.sleep(timing.status_interval.min(deadline - now));
    }
}

fn off(
    device: &mut dyn FenceDevice,
    plug: Option<&str>,
    timing: &Timing,
    clock: &mut dyn Clock,
) -> Result<Outcome, FenceError> {
    if device.status(plug)? == PowerState::Off {
        return Ok(Outcome::AlreadyOff);
    }
    set_and_confirm(device, plug, PowerState::Off, timing, clock)?;
    Ok(Outcome::PoweredOff)
}

fn on(
    device: &mut dyn FenceDevice,
    plug: Option<&str>,
    timing: &Timing,
    clock: &mut dyn Clock,
) -> Result<Outcome, FenceError> {
    if device.status(plug)? == PowerState::On {
        return Ok(Outcome::AlreadyOn);
    }
    power_on_with_retries(device, plug, timing, clock)?;
    Ok(Outcome::PoweredOn)
}

fn power_on_with_retries(
    device: &mut dyn FenceDevice,
    plug: Option<&str>,
    timing: &Timing,
    clock: &mut dyn Clock,
) -> Result<(), FenceError> {
    let mut attempt = 0;
    loop {
        match set_and_confirm(device, plug, PowerState::On, timing, clock) {
            Ok(()) => return Ok(()),
            Err(e) if attempt < timing.retry_on && !matches!(e, FenceError::AuthFailed { .. }) => {
                tracing::warn!("Power on attempt {} failed: {e}", attempt + 1);
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

fn reboot(
    device: &mut dyn FenceDevice,
    plug: Option<&str>,
    timing: &Timing,
    clock: &mut dyn Clock,
) -> Result<Outcome, FenceError> {
    let state = device.status(plug)?;
    if timing.method == RebootMethod::Cycle && state == PowerState::On {
        require(device, PowerCommand::Cycle)?;
        let mut attempt = 0;
        loop {
            match device.power(plug, PowerCommand::Cycle) {
                Ok(()) => return Ok(Outcome::Cycled),
                Err(e) if attempt < timing.retry_on => {
                    tracing::warn!("Power cycle attempt {} failed: {e}", attempt + 1);
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }
    // A node that is off is fenced already; a power cycle of it would be refused
    // (fence-agents#596), so both methods just power it on.
    if state == PowerState::On {
        set_and_confirm(device, plug, PowerState::Off, timing, clock)?;
    }
    match power_on_with_retries(device, plug, timing, clock) {
        Ok(()) => Ok(Outcome::Rebooted),
        Err(e) => Ok(Outcome::OffButOnFailed(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Virtual time.
    struct FakeClock(Duration);

    impl Clock for FakeClock {
        fn now(&self) -> Duration {
            self.0
        }
        fn sleep(&mut self, d: Duration) {
            self.0 += d;
        }
    }

    /// A device whose power follows commands after `lag` status reads, and that can be
    /// told to ignore commands or fail them.
    #[derive(Default)]
    struct FakeDevice {
        state: Option<PowerState>,
        pending: Option<(PowerState, u32)>,
        lag: u32,
        ignore_on: bool,
        ignore_off: bool,
        fail_on: Option<FenceError>,
        sent: Vec<PowerCommand>,
        status_reads: u32,
    }

    impl FakeDevice {
        fn on() -> FakeDevice {
            FakeDevice {
                state: Some(PowerState::On),
                ..FakeDevice::default()
            }
        }
    }

    impl FenceDevice for FakeDevice {
        fn plugin(&self) -> &'static str {
            "fake"
        }
        fn status(&mut self, _plug: Option<&str>) -> Result<PowerState, FenceError> {
            self.status_reads += 1;
            if let Some((s, left)) = self.pending {
                if left == 0 {
                    self.state = Some(s);
                    self.pending = None;
                } else {
                    self.pending = Some((s, left - 1));
                }
            }
            self.state.ok_or(FenceError::Protocol {
                detail: "no state".into(),
            })
        }
        fn power(&mut self, _plug: Option<&str>, c: PowerCommand) -> Result<(), FenceError> {
            self.sent.push(c);
            match c {
                PowerCommand::On => {
                    if let Some(e) = self.fail_on.clone() {
                        return Err(e);
                    }
                    if !self.ignore_on {
                        self.pending = Some((PowerState::On, self.lag));
                    }
                }
                PowerCommand::Off if !self.ignore_off => {
                    self.pending = Some((PowerState::Off, self.lag));
                }
                PowerCommand::Cycle => {}
                _ => {}
            }
            Ok(())
        }
        fn supports(&self, _c: PowerCommand) -> bool {
            true
        }
    }

    fn timing() -> Timing {
        Timing {
            power_timeout: Duration::from_secs(10),
            power_wait: Duration::from_secs(2),
            status_interval: Duration::from_secs(1),
            retry_on: 1,
            delay: Duration::ZERO,
            method: RebootMethod::OnOff,
        }
    }

    #[test]
    fn off_succeeds_only_once_status_confirms_it() {
        let mut dev = FakeDevice {
            lag: 3,
            ..FakeDevice::on()
        };
        let mut clock = FakeClock(Duration::ZERO);
        let out = perform(&mut dev, Action::Off, None, &timing(), &mut clock);
        assert_eq!(out, Ok(Outcome::PoweredOff));
        assert_eq!(dev.sent, vec![PowerCommand::Off]);
        // power_wait, then 3 polls that still see ON with 1 s between them.
        assert_eq!(clock.0, Duration::from_secs(2 + 3));
    }

    #[test]
    fn off_that_never_lands_fails_after_power_timeout() {
        let mut dev = FakeDevice {
            ignore_off: true,
            ..FakeDevice::on()
        };
        let mut clock = FakeClock(Duration::ZERO);
        let out = perform(&mut dev, Action::Off, None, &timing(), &mut clock);
        assert_eq!(
            out,
            Err(FenceError::NotConfirmed {
                wanted: PowerState::Off,
                after: Duration::from_secs(10)
            })
        );
        assert_eq!(
            clock.0,
            Duration::from_secs(10),
            "polled exactly until power_timeout"
        );
    }

    #[test]
    fn off_of_a_node_that_is_off_sends_nothing() {
        let mut dev = FakeDevice {
            state: Some(PowerState::Off),
            ..FakeDevice::default()
        };
        let mut clock = FakeClock(Duration::ZERO);
        let out = perform(&mut dev, Action::Off, None, &timing(), &mut clock);
        assert_eq!(out, Ok(Outcome::AlreadyOff));
        assert!(dev.sent.is_empty());
    }

    #[test]
    fn reboot_is_off_confirmed_then_on_confirmed() {
        let mut dev = FakeDevice {
            lag: 1,
            ..FakeDevice::on()
        };
        let mut clock = FakeClock(Duration::ZERO);
        let out = perform(&mut dev, Action::Reboot, None, &timing(), &mut clock);
        assert_eq!(out, Ok(Outcome::Rebooted));
        assert_eq!(dev.sent, vec![PowerCommand::Off, PowerCommand::On]);
        assert_eq!(dev.state, Some(PowerState::On));
    }

    #[test]
    fn a_failed_on_after_a_confirmed_off_is_reported_as_such() {
        let refused = FenceError::Refused {
            what: "power on".into(),
            detail: "no".into(),
        };
        let mut dev = FakeDevice {
            fail_on: Some(refused.clone()),
            ..FakeDevice::on()
        };
        let mut clock = FakeClock(Duration::ZERO);
        let out = perform(&mut dev, Action::Reboot, None, &timing(), &mut clock);
        assert_eq!(out, Ok(Outcome::OffButOnFailed(refused)));
        assert_eq!(dev.state, Some(PowerState::Off), "the node is fenced");
        // One on attempt plus retry_on = 1 more.
        assert_eq!(
            dev.sent,
            vec![PowerCommand::Off, PowerCommand::On, PowerCommand::On]
        );
    }

    #[test]
    fn a_reboot_whose_off_is_not_confirmed_fails_and_never_powers_on() {
        let mut dev = FakeDevice {
            ignore_off: true,
            ..FakeDevice::on()
        };
        let mut clock = FakeClock(Duration::ZERO);
        let out = perform(&mut dev, Action::Reboot, None, &timing(), &mut clock);
        assert!(matches!(
            out,
            Err(FenceError::NotConfirmed {
                wanted: PowerState::Off,
                ..
            })
        ));
        assert_eq!(dev.sent, vec![PowerCommand::Off]);
    }

    #[test]
    fn on_is_retried_retry_on_times() {
        let mut dev = FakeDevice {
            state: Some(PowerState::Off),
            ignore_on: true,
            ..FakeDevice::default()
        };
        let mut t = timing();
        t.retry_on = 2;
        let mut clock = FakeClock(Duration::ZERO);
        let out = perform(&mut dev, Action::On, None, &t, &mut clock);
        assert!(matches!(
            out,
            Err(FenceError::NotConfirmed {
                wanted: PowerState::On,
                ..
            })
        ));
        assert_eq!(dev.sent, vec![PowerCommand::On; 3]);
    }

    #[test]
    fn cycle_method_sends_the_device_cycle_and_does_not_wait() {
        let mut dev = FakeDevice::on();
        let mut t = timing();
        t.method = RebootMethod::Cycle;
        let mut clock = FakeClock(Duration::ZERO);
        let out = perform(&mut dev, Action::Reboot, None, &t, &mut clock);
        assert_eq!(out, Ok(Outcome::Cycled));
        assert_eq!(dev.sent, vec![PowerCommand::Cycle]);
        assert_eq!(clock.0, Duration::ZERO);
    }

    #[test]
    fn cycle_of_a_node_that_is_off_powers_it_on_instead() {
        let mut dev = FakeDevice {
            state: Some(PowerState::Off),
            ..FakeDevice::default()
        };
        let mut t = timing();
        t.method = RebootMethod::Cycle;
        let mut clock = FakeClock(Duration::ZERO);
        let out = perform(&mut dev, Action::Reboot, None, &t, &mut clock);
        assert_eq!(out, Ok(Outcome::Rebooted));
        assert_eq!(dev.sent, vec![PowerCommand::On]);
    }

    #[test]
    fn delay_applies_to_off_and_reboot_only() {
        let mut t = timing();
        t.delay = Duration::from_secs(5);
        t.power_wait = Duration::ZERO;
        let mut clock = FakeClock(Duration::ZERO);
        perform(&mut FakeDevice::on(), Action::Status, None, &t, &mut clock).expect("status");
        assert_eq!(clock.0, Duration::ZERO);
        perform(&mut FakeDevice::on(), Action::Off, None, &t, &mut clock).expect("off");
        assert_eq!(clock.0, Duration::from_secs(5));
    }

    #[test]
    fn status_errors_while_polling_are_retried_until_the_deadline() {
        struct Flaky(u32);
        impl FenceDevice for Flaky {
            fn plugin(&self) -> &'static str {
                "flaky"
            }
            fn status(&mut self, _p: Option<&str>) -> Result<PowerState, FenceError> {
                self.0 += 1;
                match self.0 {
                    1 => Ok(PowerState::On),
                    2 | 3 => Err(FenceError::TimedOut {
                        what: "status".into(),
                        after: Duration::from_secs(1),
                    }),
                    _ => Ok(PowerState::Off),
                }
            }
            fn power(&mut self, _p: Option<&str>, _c: PowerCommand) -> Result<(), FenceError> {
                Ok(())
            }
        }
        let mut clock = FakeClock(Duration::ZERO);
        let out = perform(&mut Flaky(0), Action::Off, None, &timing(), &mut clock);
        assert_eq!(out, Ok(Outcome::PoweredOff));
    }
}
