//! The effective configuration as text, for `hbd --check`: every setting including defaults,
//! written in the files' own syntax, with keys masked.

use std::fmt::Write;

use super::authkeys::AuthMethod;
use super::hacf::{AutoFailback, Compression, HaCf, Medium};
use super::haresources::Resources;
use super::load::Config;
use super::values::format_time;

/// Renders the effective configuration. Defaults and derived values are marked `# default`.
/// Keys are printed as `***`.
pub fn summary(cfg: &Config) -> String {
    let mut s = String::new();
    hacf(&mut s, &cfg.hacf, &cfg.local_node.to_string());
    let _ = writeln!(s, "\n# {}", cfg.authkeys.file.display());
    let _ = writeln!(s, "auth {}", cfg.authkeys.signing);
    for k in &cfg.authkeys.keys {
        match &k.method {
            AuthMethod::Crc => {
                let _ = writeln!(s, "{} crc", k.index);
            }
            AuthMethod::Md5(key) | AuthMethod::Sha1(key) | AuthMethod::Sha256(key) => {
                let _ = writeln!(s, "{} {} {key}", k.index, k.method.name());
            }
        }
    }
    resources(&mut s, &cfg.resources);
    s
}

fn hacf(s: &mut String, h: &HaCf, local: &str) {
    let mut put = |name: &str, value: String, explicit: bool| {
        let mark = if explicit { "" } else { "\t# default" };
        let _ = writeln!(s, "{name} {value}{mark}");
    };
    put("# local node", local.to_string(), true);
    put("# file", h.file.display().to_string(), true);
    let e = |d| h.is_explicit(d);
    put("keepalive", format_time(h.keepalive), e("keepalive"));
    put("deadtime", format_time(h.deadtime), e("deadtime"));
    put("warntime", format_time(h.warntime), e("warntime"));
    put("initdead", format_time(h.initdead), e("initdead"));
    put("deadping", format_time(h.deadping), e("deadping"));
    put("udpport", h.udpport.to_string(), e("udpport"));
    put("baud", h.baud.to_string(), e("baud"));
    for m in &h.media {
        let (name, v) = match m {
            Medium::Bcast { iface, port } => ("bcast", format!("{iface}\t# port {port}")),
            Medium::Mcast {
                iface,
                group,
                port,
                ttl,
                loopback,
            } => (
                "mcast",
                format!("{iface} {group} {port} {ttl} {}", u8::from(*loopback)),
            ),
            Medium::Ucast { iface, peer, port } => {
                ("ucast", format!("{iface} {peer}\t# port {port}"))
            }
            Medium::Serial { device, baud } => {
                ("serial", format!("{}\t# baud {baud}", device.display()))
            }
        };
        put(name, v, true);
    }
    for n in &h.nodes {
        put("node", n.name.to_string(), true);
    }
    for p in &h.ping_nodes {
        if p.addrs.len() == 1 && p.addrs[0] == p.name {
            put("ping", p.name.clone(), true);
        } else {
            put(
                "ping_group",
                format!("{} {}", p.name, p.addrs.join(" ")),
                true,
            );
        }
    }
    let af = match h.auto_failback {
        AutoFailback::On => "on",
        AutoFailback::Off => "off",
        AutoFailback::Legacy => "legacy",
    };
    put(
        "auto_failback",
        af.into(),
        e("auto_failback") || e("nice_failback"),
    );
    let c = match h.compression {
        Compression::Zlib => "zlib",
        Compression::Bz2 => "bz2",
    };
    put("compression", c.into(), e("compression"));
    put(
        "compression_threshold",
        h.compression_threshold_kib.to_string(),
        e("compression_threshold"),
    );
    let onoff = |b: bool| if b { "on" } else { "off" }.to_string();
    put(
        "traditional_compression",
        onoff(h.traditional_compression),
        e("traditional_compression"),
    );
    let l = &h.logging;
    let path = |p: &Option<std::path::PathBuf>| {
        p.as_ref()
            .map_or("(unset)".to_string(), |p| p.display().to_string())
    };
    put("logfile", path(&l.logfile), e("logfile"));
    put("debugfile", path(&l.debugfile), e("debugfile"));
    put(
        "logfacility",
        l.logfacility.clone().unwrap_or_else(|| "(unset)".into()),
        e("logfacility"),
    );
    put("use_logd", onoff(l.use_logd), e("use_logd"));
    put(
        "conn_logd_time",
        format_time(l.conn_logd_time),
        e("conn_logd_time"),
    );
    put("crm", "off".into(), true);
    put("autojoin", "none".into(), true);
    put("realtime", onoff(h.realtime), e("realtime"));
    put(
        "rtprio",
        h.rtprio.map_or("(minimum)".into(), |p| p.to_string()),
        e("rtprio"),
    );
    put("debug", h.debug.to_string(), e("debug"));
    put("hopfudge", h.hopfudge.to_string(), e("hopfudge"));
    put(
        "uuidfrom",
        format!("{:?}", h.uuidfrom).to_ascii_lowercase(),
        e("uuidfrom"),
    );
    put(
        "hbgenmethod",
        format!("{:?}", h.hbgenmethod).to_ascii_lowercase(),
        e("hbgenmethod"),
    );
    put(
        "msgfmt",
        format!("{:?}", h.msgfmt).to_ascii_lowercase(),
        e("msgfmt"),
    );
    put(
        "max_rexmit_delay",
        h.max_rexmit_delay.as_millis().to_string(),
        e("max_rexmit_delay"),
    );
    put("memreserve", h.memreserve_kib.to_string(), e("memreserve"));
    put("log_badpack", onoff(h.log_badpack), e("log_badpack"));
    put("syslogmsgfmt", onoff(h.syslogmsgfmt), e("syslogmsgfmt"));
    put("coredumps", onoff(h.coredumps), e("coredumps"));
    if let Some(c) = &h.coreroot {
        put("coreroot", c.display().to_string(), true);
    }
    if let Some(w) = &h.watchdog {
        put("watchdog", w.display().to_string(), true);
    }
    for r in &h.respawn {
        let name = if r.failfast { "failfast" } else { "respawn" };
        let mut v = format!("{} {}", r.user, r.program.display());
        for a in &r.args {
            v.push(' ');
            v.push_str(a);
        }
        put(name, v, true);
    }
    for a in &h.apiauth {
        let mut v = a.client.clone();
        if !a.uids.is_empty() {
            let _ = write!(v, " uid={}", a.uids.join(","));
        }
        if !a.gids.is_empty() {
            let _ = write!(v, " gid={}", a.gids.join(","));
        }
        put("apiauth", v, true);
    }
    for (k, v) in &h.env {
        put("env", format!("{k}={v}"), true);
    }
}

fn resources(s: &mut String, r: &Resources) {
    let _ = writeln!(s, "\n# {}", r.file.display());
    for g in &r.groups {
        let _ = write!(s, "{}", g.preferred);
        for res in &g.resources {
            let _ = write!(s, " {res}");
        }
        let _ = writeln!(s);
    }
}
