//! Fabric OS `switchshow`: the port table after the `=====` ruler, one line per port:
//! `Index Port Address Media Speed State Proto [comment]`. A port is disabled (off) when its
//! eighth field is `Disabled` (`Disabled (Persistent)`), which is fence_brocade's rule;
//! every other port is on.

use crate::device::PowerState;

/// One row of the port table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortRow {
    /// The port index (the first column; what `portcfgpersistentdisable` takes).
    pub index: u32,
    /// Disabled = off.
    pub state: PowerState,
}

/// The port table of `switchshow` output; lines that are not port rows are skipped.
pub fn parse_switchshow(text: &str) -> Vec<PortRow> {
    let mut in_table = false;
    let mut rows = Vec::new();
    for line in text.lines() {
        if line.contains("=========") {
            in_table = true;
            continue;
        }
        if !in_table {
            continue;
        }
        let tokens: Vec<&str> = line.split_whitespace().collect();
        let Some(index) = tokens.first().and_then(|t| t.parse::<u32>().ok()) else {
            continue;
        };
        let state = if tokens.get(7) == Some(&"Disabled") {
            PowerState::Off
        } else {
            PowerState::On
        };
        rows.push(PortRow { index, state });
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "switchName:\tfc-a\nswitchState:\tOnline\n\nIndex Port Address Media Speed State     Proto\n==================================================\n  0   0   010000   id    N8   Online      FC  F-Port  10:00:00:00:c9:00:00:01\n  1   1   010100   id    N8   No_Light    FC  Disabled (Persistent)\n 12  12   010c00   --    N8   No_Module   FC\n";

    #[test]
    fn disabled_ports_are_off_and_the_header_is_skipped() {
        assert_eq!(
            parse_switchshow(SAMPLE),
            vec![
                PortRow {
                    index: 0,
                    state: PowerState::On
                },
                PortRow {
                    index: 1,
                    state: PowerState::Off
                },
                PortRow {
                    index: 12,
                    state: PowerState::On
                },
            ]
        );
        assert!(parse_switchshow("rbash: switchshow: command not found").is_empty());
    }
}
