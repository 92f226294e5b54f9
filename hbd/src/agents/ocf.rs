//! OCF resource agents: their environment and heartbeat's instance files.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::outcome::Outcome;

/// An OCF agent bound to one resource instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcfAgent {
    /// `<ocf_root>/resource.d/<provider>/<type>`.
    pub path: PathBuf,
    /// The provider (`heartbeat`).
    pub provider: String,
    /// The type (`IPaddr2`).
    pub kind: String,
    /// `OCF_RESOURCE_INSTANCE`.
    pub instance: String,
    /// `OCF_RESKEY_*` variables (full names) and their values.
    pub params: Vec<(String, String)>,
}

impl OcfAgent {
    /// The OCF environment for one call (OCF RA API 1.0 section 3.4, plus Pacemaker's
    /// `OCF_RESKEY_CRM_meta_timeout`, which agents such as IPaddr2 read).
    pub fn env(&self, ocf_root: &Path, timeout: Duration) -> Vec<(OsString, OsString)> {
        let mut env: Vec<(OsString, OsString)> = vec![
            ("OCF_ROOT".into(), ocf_root.into()),
            ("OCF_RA_VERSION_MAJOR".into(), "1".into()),
            ("OCF_RA_VERSION_MINOR".into(), "0".into()),
            ("OCF_RESOURCE_INSTANCE".into(), self.instance.clone().into()),
            ("OCF_RESOURCE_TYPE".into(), self.kind.clone().into()),
            ("OCF_RESOURCE_PROVIDER".into(), self.provider.clone().into()),
            (
                "OCF_RESKEY_CRM_meta_timeout".into(),
                timeout.as_millis().to_string().into(),
            ),
        ];
        env.extend(
            self.params
                .iter()
                .map(|(k, v)| (OsString::from(k), OsString::from(v))),
        );
        env
    }
}

/// Reads heartbeat's OCF instance file (`var=value` lines, `#` comments): names that do not
/// start with `OCF_` become `OCF_RESKEY_<name>`; one pair of surrounding quotes is removed.
pub fn read_instance_file(file: &Path) -> Result<Vec<(String, String)>, Outcome> {
    let text = std::fs::read_to_string(file).map_err(|e| Outcome::ConfigError {
        why: format!(
            "{}: {e}; heartbeat's OCF::TYPE::INSTANCE needs this file of name=value lines",
            file.display()
        ),
    })?;
    parse_instance_file(file, &text)
}

/// Parses the text of an instance file (see [`read_instance_file`]).
pub fn parse_instance_file(file: &Path, text: &str) -> Result<Vec<(String, String)>, Outcome> {
    let mut out = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line).trim();
        let Some((name, value)) = line.split_once('=') else {
            return Err(bad_line(file, n + 1, "is not name=value"));
        };
        if name.is_empty()
            || name.starts_with(|c: char| c.is_ascii_digit())
            || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(bad_line(
                file,
                n + 1,
                "has a name that is not a shell variable name",
            ));
        }
        let value = unquote(value.trim());
        let name = if name.starts_with("OCF_") {
            name.to_string()
        } else {
            format!("OCF_RESKEY_{name}")
        };
        out.push((name, value.to_string()));
    }
    Ok(out)
}

fn unquote(v: &str) -> &str {
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q).and_then(|s| s.strip_suffix(q)) {
            return inner;
        }
    }
    v
}

fn bad_line(file: &Path, line: usize, what: &str) -> Outcome {
    Outcome::ConfigError {
        why: format!(
            "{}:{line}: the line {what}; write name=value, as in ip=10.0.0.10",
            file.display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_file_lines_become_reskeys() {
        let text = "# web address\nip=10.0.0.10\ncidr_netmask='24' # prefix\n\nOCF_RESKEY_nic=\"eth0\"\nexport lvs_support=false\n";
        let got = parse_instance_file(Path::new("f"), text);
        assert_eq!(
            got,
            Ok(vec![
                ("OCF_RESKEY_ip".into(), "10.0.0.10".into()),
                ("OCF_RESKEY_cidr_netmask".into(), "24".into()),
                ("OCF_RESKEY_nic".into(), "eth0".into()),
                ("OCF_RESKEY_lvs_support".into(), "false".into()),
            ])
        );
    }

    #[test]
    fn instance_file_errors_name_file_and_line() {
        let Err(Outcome::ConfigError { why }) =
            parse_instance_file(Path::new("/etc/ha.d/conf/OCF/IPaddr2/web"), "ip=1\nbogus\n")
        else {
            panic!("accepted a bad line");
        };
        assert!(
            why.starts_with("/etc/ha.d/conf/OCF/IPaddr2/web:2:"),
            "{why}"
        );
    }
}
