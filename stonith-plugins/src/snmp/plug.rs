//! A node's ports: the `plug` value of the switch plugins.
//!
//! `plug` lists every fabric port of the node, separated by `plug_separator` (default `,`):
//! `n2h0,n2h1`. A port on another switch than `ip` names it after an `@`:
//! `n2h0,7@10.0.0.2`. Each port is resolved and set on its own switch. fence-agents'
//! fence_ifmib 4.12.1 resolves the first port's ifIndex once (a global) and reuses it for
//! every entry, so `-n a,b` disables `a` twice, never `b`, and reports success.

use crate::error::ParamError;

/// One port of a node: which switch, and the port as the user named it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortRef {
    /// The switch (host or address); `None` = the device's `ip`.
    pub switch: Option<String>,
    /// The port: an index, a name, `fc1/2`..., as the plugin understands it.
    pub port: String,
}

impl std::fmt::Display for PortRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.switch {
            Some(s) => write!(f, "{}@{s}", self.port),
            None => f.write_str(&self.port),
        }
    }
}

/// Splits `plug` into its ports. Empty entries are errors (a trailing separator is a
/// typo that would otherwise leave a port unfenced without anyone noticing), and so is the
/// same port twice.
pub fn parse_plug(plug: &str, separator: &str) -> Result<Vec<PortRef>, ParamError> {
    let invalid = |reason: String| ParamError::Invalid {
        name: "plug".into(),
        reason,
    };
    if separator.is_empty() {
        return Err(ParamError::Invalid {
            name: "plug_separator".into(),
            reason: "must not be empty".into(),
        });
    }
    let mut out: Vec<PortRef> = Vec::new();
    for (i, part) in plug.split(separator).enumerate() {
        let part = part.trim();
        if part.is_empty() {
            return Err(invalid(format!(
                "entry {} of {plug:?} is empty (ports are separated by {separator:?})",
                i + 1
            )));
        }
        let port = match part.rsplit_once('@') {
            Some((port, switch)) if !port.is_empty() && !switch.is_empty() => PortRef {
                switch: Some(switch.to_string()),
                port: port.to_string(),
            },
            Some(_) => return Err(invalid(format!("{part:?}: expected PORT or PORT@SWITCH"))),
            None => PortRef {
                switch: None,
                port: part.to_string(),
            },
        };
        if out.contains(&port) {
            return Err(invalid(format!("port {port} is listed twice")));
        }
        out.push(port);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_ports_on_one_or_several_switches_parse() {
        let ports = parse_plug("n2h0, 102 ,Gi1/0/3@10.0.0.2", ",").expect("parse");
        assert_eq!(
            ports,
            vec![
                PortRef {
                    switch: None,
                    port: "n2h0".into()
                },
                PortRef {
                    switch: None,
                    port: "102".into()
                },
                PortRef {
                    switch: Some("10.0.0.2".into()),
                    port: "Gi1/0/3".into()
                },
            ]
        );
        assert_eq!(ports[2].to_string(), "Gi1/0/3@10.0.0.2");
        assert_eq!(parse_plug("a+b", "+").map(|p| p.len()), Ok(2));
    }

    #[test]
    fn empty_entries_and_duplicates_are_refused() {
        assert!(parse_plug("a,", ",").is_err());
        assert!(parse_plug("", ",").is_err());
        assert!(parse_plug("a,a", ",").is_err());
        assert!(parse_plug("@sw", ",").is_err());
        assert!(parse_plug("a@", ",").is_err());
        assert!(parse_plug("a", "").is_err());
    }
}
