//! hbd's part of the native cluster file (TOML): `[cluster]`, `[[node]]`, `[heartbeat]`,
//! `[[heartbeat.media]]` and `[[group]]`. Other daemons' sections are left to them.
//!
//! ```toml
//! [cluster]
//! name = "web"
//! deadtime = "8s"                 # shared with qdiskd; [heartbeat].deadtime overrides it
//!
//! [[node]]
//! name = "web1"
//! id = 1
//!
//! [[node]]
//! name = "web2"
//! id = 2
//!
//! [heartbeat]
//! keepalive = "1000ms"            # "1s", "1500ms", or a number of seconds
//! warntime = "10s"
//! udpport = 694
//! auto_failback = "on"
//! ping = ["192.168.8.254"]
//! authkeys = "authkeys"           # heartbeat's authkeys format, mode 0600, next to this file
//!
//! [[heartbeat.media]]
//! type = "mcast"                  # or "ucast" (iface, peer), "bcast" (iface), "serial" (device)
//! iface = "eth0"
//! group = "225.0.0.1"
//! port = 694
//! ttl = 1
//! loop = false
//!
//! [[group]]
//! preferred = "web1"
//! resources = ["IPaddr2::192.168.8.100/24/eth0", "apache2"]
//! ```
//!
//! The file is translated into the `ha.cf` and `haresources` lines it stands for and read by
//! the same parsers, so both forms share every default and every check; errors point at the
//! TOML file's own lines.

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::authkeys::read_authkeys;
use super::error::{ConfigError, ErrorKind};
use super::hacf::{parse_hacf, Parsed};
use super::haresources::parse_haresources;
use super::load::{local_node_name, Config, LocalNode};

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    cluster: Option<Cluster>,
    #[serde(default)]
    node: Vec<Spanned<NodeEntry>>,
    #[serde(default)]
    heartbeat: Option<Heartbeat>,
    #[serde(default)]
    group: Vec<Spanned<Group>>,
}

#[derive(Deserialize)]
struct Cluster {
    #[serde(default)]
    deadtime: Option<Spanned<Time>>,
}

#[derive(Deserialize)]
struct NodeEntry {
    name: String,
}

#[derive(Deserialize, Clone)]
#[serde(untagged)]
enum Time {
    Seconds(f64),
    Text(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Heartbeat {
    keepalive: Option<Spanned<Time>>,
    deadtime: Option<Spanned<Time>>,
    warntime: Option<Spanned<Time>>,
    initdead: Option<Spanned<Time>>,
    deadping: Option<Spanned<Time>>,
    udpport: Option<Spanned<u16>>,
    baud: Option<Spanned<u32>>,
    auto_failback: Option<Spanned<String>>,
    #[serde(default)]
    ping: Vec<Spanned<String>>,
    authkeys: Option<Spanned<String>>,
    realtime: Option<Spanned<bool>>,
    debug: Option<Spanned<u8>>,
    logfile: Option<Spanned<String>>,
    debugfile: Option<Spanned<String>>,
    logfacility: Option<Spanned<String>>,
    compression: Option<Spanned<String>>,
    compression_threshold: Option<Spanned<u32>>,
    max_rexmit_delay: Option<Spanned<Time>>,
    #[serde(default)]
    media: Vec<Spanned<MediumEntry>>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
enum MediumEntry {
    Bcast {
        iface: String,
    },
    Mcast {
        iface: String,
        group: String,
        port: u16,
        #[serde(default = "one")]
        ttl: u8,
        #[serde(default, rename = "loop")]
        loopback: bool,
    },
    Ucast {
        iface: String,
        peer: String,
    },
    Serial {
        device: String,
    },
}

fn one() -> u8 {
    1
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Group {
    preferred: String,
    resources: Vec<String>,
}

/// Generated lines with the TOML line each came from.
#[derive(Default)]
struct Lines {
    text: String,
    origin: Vec<usize>,
}

impl Lines {
    fn push(&mut self, line: String, origin: usize) {
        self.text.push_str(&line);
        self.text.push('\n');
        self.origin.push(origin);
    }

    fn map(&self, file: &Path, mut e: ConfigError) -> ConfigError {
        e.file = file.to_path_buf();
        e.line = match e.line {
            0 => 0,
            n => self.origin.get(n - 1).copied().unwrap_or(0),
        };
        e
    }
}

fn line_of(text: &str, span: Range<usize>) -> usize {
    plumbing::text::line_of(text, span.start)
}

/// A time as `ha.cf` writes it, from a TOML number (seconds) or a string (`"1s"`,
/// `"1500ms"`, `"2"`); `None` if the string is not a duration.
fn hb_time(t: &Time) -> Option<String> {
    match t {
        Time::Seconds(s) if *s >= 0.0 && s.is_finite() => {
            Some(format!("{}ms", (s * 1000.0).round() as u64))
        }
        Time::Seconds(_) => None,
        Time::Text(s) => {
            let s = s.trim();
            if s.chars().all(|c| c.is_ascii_digit() || c == '.') && !s.is_empty() {
                return Some(s.to_string());
            }
            humantime::parse_duration(s)
                .ok()
                .map(|d| format!("{}ms", d.as_millis()))
        }
    }
}

fn native_error(file: &Path, line: usize, message: String) -> ConfigError {
    ConfigError::new(file, line, ErrorKind::Native { message })
}

/// Reads hbd's settings from the native cluster file at `path`. The secret keys come from
/// the heartbeat-format `authkeys` file it names (default: `authkeys` next to it), which must
/// be mode 0600.
pub fn load_native(path: &Path, local: &LocalNode) -> Parsed<Config> {
    let fail = |errors| Parsed {
        value: None,
        errors,
        warnings: vec![],
    };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            return fail(vec![ConfigError::new(
                path,
                0,
                ErrorKind::Unreadable {
                    reason: e.to_string(),
                },
            )])
        }
    };
    let file: File = match toml::from_str(&text) {
        Ok(f) => f,
        Err(e) => {
            let line = e.span().map(|s| line_of(&text, s)).unwrap_or(0);
            let message = format!(
                "{}; see the [heartbeat] example in hbd's documentation",
                e.message()
            );
            return fail(vec![native_error(path, line, message)]);
        }
    };
    let Some(hb) = file.heartbeat else {
        return fail(vec![native_error(
            path,
            0,
            "no [heartbeat] section; add one with at least one [[heartbeat.media]] entry".into(),
        )]);
    };
    let mut errors = vec![];
    let mut cf = Lines::default();
    let at = |span: Range<usize>| line_of(&text, span);
    let time = |cf: &mut Lines,
                errors: &mut Vec<ConfigError>,
                name: &str,
                v: &Option<Spanned<Time>>| {
        if let Some(v) = v {
            let line = at(v.span());
            match hb_time(v.get_ref()) {
                Some(t) => cf.push(format!("{name} {t}"), line),
                None => errors.push(native_error(
                    path,
                    line,
                    format!("`{name}` is not a duration; write \"1s\", \"1500ms\" or a number of seconds"),
                )),
            }
        }
    };
    time(&mut cf, &mut errors, "keepalive", &hb.keepalive);
    let deadtime = hb
        .deadtime
        .clone()
        .or_else(|| file.cluster.as_ref().and_then(|c| c.deadtime.clone()));
    time(&mut cf, &mut errors, "deadtime", &deadtime);
    time(&mut cf, &mut errors, "warntime", &hb.warntime);
    time(&mut cf, &mut errors, "initdead", &hb.initdead);
    time(&mut cf, &mut errors, "deadping", &hb.deadping);
    time(
        &mut cf,
        &mut errors,
        "max_rexmit_delay",
        &hb.max_rexmit_delay,
    );
    if let Some(p) = &hb.udpport {
        cf.push(format!("udpport {}", p.get_ref()), at(p.span()));
    }
    if let Some(b) = &hb.baud {
        cf.push(format!("baud {}", b.get_ref()), at(b.span()));
    }
    let words: [(&str, &Option<Spanned<String>>); 5] = [
        ("auto_failback", &hb.auto_failback),
        ("logfile", &hb.logfile),
        ("debugfile", &hb.debugfile),
        ("logfacility", &hb.logfacility),
        ("compression", &hb.compression),
    ];
    for (name, v) in words {
        if let Some(v) = v {
            cf.push(format!("{name} {}", v.get_ref()), at(v.span()));
        }
    }
    if let Some(v) = &hb.realtime {
        cf.push(format!("realtime {}", v.get_ref()), at(v.span()));
    }
    if let Some(v) = &hb.debug {
        cf.push(format!("debug {}", v.get_ref()), at(v.span()));
    }
    if let Some(v) = &hb.compression_threshold {
        cf.push(
            format!("compression_threshold {}", v.get_ref()),
            at(v.span()),
        );
    }
    for m in &hb.media {
        let line = at(m.span());
        let l = match m.get_ref() {
            MediumEntry::Bcast { iface } => format!("bcast {iface}"),
            MediumEntry::Mcast {
                iface,
                group,
                port,
                ttl,
                loopback,
            } => format!("mcast {iface} {group} {port} {ttl} {}", u8::from(*loopback)),
            MediumEntry::Ucast { iface, peer } => format!("ucast {iface} {peer}"),
            MediumEntry::Serial { device } => format!("serial {device}"),
        };
        cf.push(l, line);
    }
    // heartbeat tolerates a repeated `node` line; a repeated [[node]] table is a copy-paste
    // whose name was not changed, and the cluster file's other readers would pair it with the
    // wrong fence devices or disk slot.
    let mut names_seen = plumbing::text::NodeNames::default();
    for n in &file.node {
        let name = &n.get_ref().name;
        let line = at(n.span());
        if let Err(e) = names_seen.add(name, line) {
            errors.push(native_error(path, line, e));
            continue;
        }
        cf.push(format!("node {name}"), line);
    }
    for p in &hb.ping {
        cf.push(format!("ping {}", p.get_ref()), at(p.span()));
    }
    let hacf = parse_hacf(path, &cf.text);
    errors.extend(hacf.errors.into_iter().map(|e| cf.map(path, e)));
    let mut warnings: Vec<_> = hacf
        .warnings
        .into_iter()
        .map(|mut w| {
            w.file = path.to_path_buf();
            w.line = match w.line {
                0 => 0,
                n => cf.origin.get(n - 1).copied().unwrap_or(0),
            };
            w
        })
        .collect();

    let mut rs = Lines::default();
    for g in &file.group {
        let group = g.get_ref();
        let mut line = group.preferred.clone();
        for r in &group.resources {
            line.push(' ');
            line.push_str(r);
        }
        rs.push(line, at(g.span()));
    }
    let res = parse_haresources(path, &rs.text);
    errors.extend(res.errors.into_iter().map(|e| rs.map(path, e)));

    let keys_path: PathBuf = match &hb.authkeys {
        Some(k) => {
            let p = PathBuf::from(k.get_ref());
            if p.is_absolute() {
                p
            } else {
                path.parent().unwrap_or(Path::new(".")).join(p)
            }
        }
        None => path.parent().unwrap_or(Path::new(".")).join("authkeys"),
    };
    let keys = read_authkeys(&keys_path);
    errors.extend(keys.errors);
    warnings.extend(keys.warnings);

    let dir = path.parent().unwrap_or(Path::new("."));
    let local_node = match local_node_name(dir, local) {
        Ok(n) => Some(n),
        Err(e) => {
            errors.push(e);
            None
        }
    };
    if let (Some(h), Some(n)) = (&hacf.value, &local_node) {
        if let Err(e) = h.check_local_node(n) {
            errors.push(native_error(
                path,
                0,
                format!(
                    "{}; add a [[node]] with name = \"{n}\" or run hbd with --node",
                    e.kind
                ),
            ));
        }
    }
    if let (Some(h), Some(r)) = (&hacf.value, &res.value) {
        errors.extend(r.check_nodes(h).into_iter().map(|e| rs.map(path, e)));
    }
    let value = match (hacf.value, keys.value, res.value, local_node) {
        (Some(hacf), Some(authkeys), Some(resources), Some(local_node)) if errors.is_empty() => {
            Some(Config {
                hacf,
                authkeys,
                resources,
                local_node,
            })
        }
        _ => None,
    };
    Parsed {
        value,
        errors,
        warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{AutoFailback, Medium, NodeName};
    use std::os::unix::fs::PermissionsExt;
    use std::time::Duration;

    fn write(dir: &Path, name: &str, text: &str, mode: u32) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).expect("write");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).expect("chmod");
        p
    }

    const CLUSTER: &str = r#"
[cluster]
name = "web"
deadtime = "8s"

[[node]]
name = "web1"
id = 1

[[node]]
name = "web2"
id = 2

[quorumd]
label = "web-qdisk"

[heartbeat]
keepalive = "1000ms"
warntime = 10
udpport = 694
auto_failback = "on"
ping = ["192.168.8.254"]

[[heartbeat.media]]
type = "mcast"
iface = "eth0"
group = "225.0.0.1"
port = 694
ttl = 1

[[group]]
preferred = "web1"
resources = ["IPaddr2::192.168.8.100/24/eth0", "apache2"]
"#;

    fn local(n: &str) -> LocalNode {
        LocalNode::Named(NodeName::new(n))
    }

    #[test]
    fn the_tutorial_cluster_reads_like_its_ha_cf() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = write(dir.path(), "cluster.toml", CLUSTER, 0o644);
        write(dir.path(), "authkeys", "auth 1\n1 sha1 secret\n", 0o600);
        let parsed = load_native(&path, &local("web1"));
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        let cfg = parsed.value.expect("config");
        assert_eq!(cfg.hacf.keepalive, Duration::from_secs(1));
        assert_eq!(cfg.hacf.deadtime, Duration::from_secs(8));
        assert_eq!(cfg.hacf.warntime, Duration::from_secs(10));
        assert_eq!(cfg.hacf.auto_failback, AutoFailback::On);
        assert!(matches!(
            &cfg.hacf.media[0],
            Medium::Mcast {
                ttl: 1,
                loopback: false,
                ..
            }
        ));
        assert_eq!(cfg.hacf.nodes.len(), 2);
        assert_eq!(cfg.resources.groups.len(), 1);
        assert_eq!(cfg.resources.groups[0].preferred, NodeName::new("web1"));
    }

    #[test]
    fn a_bad_value_is_reported_at_its_toml_line() {
        let dir = tempfile::tempdir().expect("tmp");
        let text = CLUSTER.replace("keepalive = \"1000ms\"", "keepalive = \"9s\"");
        let path = write(dir.path(), "cluster.toml", &text, 0o644);
        write(dir.path(), "authkeys", "auth 1\n1 sha1 secret\n", 0o600);
        let parsed = load_native(&path, &local("web1"));
        let e = parsed.errors.first().expect("an error");
        assert_eq!(e.file, path);
        // heartbeat reports the deadtime/keepalive conflict at the deadtime line.
        let line = text
            .lines()
            .position(|l| l.starts_with("deadtime"))
            .expect("line")
            + 1;
        assert_eq!(e.line, line, "{e}");
        assert!(e.to_string().contains("deadtime"), "{e}");
    }

    #[test]
    fn a_node_listed_twice_is_an_error_at_the_second() {
        let dir = tempfile::tempdir().expect("tmp");
        // The copy-pasted second node still says web1 (in another case, too).
        let text = CLUSTER.replace("name = \"web2\"", "name = \"Web1\"");
        let path = write(dir.path(), "cluster.toml", &text, 0o644);
        write(dir.path(), "authkeys", "auth 1\n1 sha1 secret\n", 0o600);
        let parsed = load_native(&path, &local("web1"));
        assert!(parsed.value.is_none());
        let e = parsed
            .errors
            .iter()
            .find(|e| e.to_string().contains("listed twice"))
            .unwrap_or_else(|| panic!("{:?}", parsed.errors));
        let header_lines: Vec<usize> = text
            .lines()
            .enumerate()
            .filter(|(_, l)| *l == "[[node]]")
            .map(|(i, _)| i + 1)
            .collect();
        assert_eq!(e.line, header_lines[1], "{e}");
        assert!(
            e.to_string()
                .contains(&format!("(as \"web1\" on line {}", header_lines[0])),
            "{e}"
        );
    }

    #[test]
    fn a_typo_in_the_heartbeat_section_names_its_line() {
        let dir = tempfile::tempdir().expect("tmp");
        let text = CLUSTER.replace("warntime = 10", "warntme = 10");
        let path = write(dir.path(), "cluster.toml", &text, 0o644);
        let parsed = load_native(&path, &local("web1"));
        let e = parsed.errors.first().expect("an error");
        let line = text
            .lines()
            .position(|l| l.starts_with("warntme"))
            .expect("line")
            + 1;
        assert_eq!(e.line, line, "{e}");
        assert!(e.to_string().contains("warntme"), "{e}");
    }

    #[test]
    fn authkeys_readable_by_others_is_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = write(dir.path(), "cluster.toml", CLUSTER, 0o644);
        write(dir.path(), "authkeys", "auth 1\n1 sha1 secret\n", 0o644);
        let parsed = load_native(&path, &local("web1"));
        assert!(parsed.value.is_none());
        assert!(
            parsed.errors.iter().any(|e| e.to_string().contains("600")),
            "{:?}",
            parsed.errors
        );
    }

    #[test]
    fn a_local_node_not_in_the_file_is_an_error_naming_the_fix() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = write(dir.path(), "cluster.toml", CLUSTER, 0o644);
        write(dir.path(), "authkeys", "auth 1\n1 sha1 secret\n", 0o600);
        let parsed = load_native(&path, &local("db9"));
        assert!(parsed.value.is_none());
        assert!(
            parsed
                .errors
                .iter()
                .any(|e| e.to_string().contains("[[node]]")),
            "{:?}",
            parsed.errors
        );
    }
}
