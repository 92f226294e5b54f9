//! Chassis commands (IPMI 2.0 section 28): Get Chassis Status and Chassis Control, which
//! `ipmi-rs` does not provide.

use crate::device::{PowerCommand, PowerState};
use crate::error::FenceError;

use super::session::Session;

const NETFN_CHASSIS: u8 = 0x00;
const GET_CHASSIS_STATUS: u8 = 0x01;
const CHASSIS_CONTROL: u8 = 0x02;

/// The Chassis Control code of a power command.
pub fn control_code(command: PowerCommand) -> u8 {
    match command {
        PowerCommand::Off => 0x00,
        PowerCommand::On => 0x01,
        PowerCommand::Cycle => 0x02,
        PowerCommand::Reset => 0x03,
        PowerCommand::Diag => 0x04,
    }
}

/// Parses Get Chassis Status data (after the completion code): bit 0 of byte 1 is
/// "system power is on".
pub fn parse_status(data: &[u8]) -> Result<PowerState, FenceError> {
    match data.first() {
        Some(b) if b & 1 == 1 => Ok(PowerState::On),
        Some(_) => Ok(PowerState::Off),
        None => Err(FenceError::Protocol {
            detail: "empty Get Chassis Status reply".into(),
        }),
    }
}

/// Reads the chassis power state.
pub fn power_state(session: &mut Session) -> Result<PowerState, FenceError> {
    let data = session.command(NETFN_CHASSIS, GET_CHASSIS_STATUS, &[], "Get Chassis Status")?;
    parse_status(&data)
}

/// Sends Chassis Control.
pub fn control(session: &mut Session, command: PowerCommand) -> Result<(), FenceError> {
    session
        .command(
            NETFN_CHASSIS,
            CHASSIS_CONTROL,
            &[control_code(command)],
            &format!("Chassis Control ({command})"),
        )
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_bit_zero_is_power() {
        assert_eq!(parse_status(&[0x01, 0, 0]), Ok(PowerState::On));
        assert_eq!(parse_status(&[0x60, 0, 0]), Ok(PowerState::Off));
        assert!(parse_status(&[]).is_err());
    }

    #[test]
    fn control_codes_follow_the_spec() {
        let codes: Vec<u8> = [
            PowerCommand::Off,
            PowerCommand::On,
            PowerCommand::Cycle,
            PowerCommand::Reset,
            PowerCommand::Diag,
        ]
        .into_iter()
        .map(control_code)
        .collect();
        assert_eq!(codes, vec![0, 1, 2, 3, 4]);
    }
}
