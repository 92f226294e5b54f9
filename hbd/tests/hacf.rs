//! Golden tests for `ha.cf`: the classic example, every directive, every error kind.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hbd::config::hacf::{Compression, GenMethod, MsgFmt, UuidFrom};
use hbd::config::{parse_hacf, AutoFailback, HaCf, Medium, NodeName, Parsed};
use hbd::{ConfigError, ErrorKind, WarningKind};

const CLASSIC: &str = "\
logfile /var/log/ha-log
keepalive 1000ms
deadtime 8
warntime 10
udpport 694
mcast eth0 225.0.0.1 694 1 0
auto_failback on
node web1.example.com
node web2.example.com
ping 192.168.8.254
compression bz2
compression_threshold 2
";

const MEDIA: &str = "bcast eth0\nnode a\n";

fn parse(text: &str) -> Parsed<HaCf> {
    parse_hacf(Path::new("ha.cf"), text)
}

fn ok(text: &str) -> HaCf {
    let p = parse(text);
    assert_eq!(p.errors, vec![], "unexpected errors for:\n{text}");
    p.value.expect("value when no errors")
}

/// The single error `text` (prefixed with a valid medium and node) produces.
fn one_error(text: &str) -> ConfigError {
    let p = parse(&format!("{MEDIA}{text}"));
    assert_eq!(p.errors.len(), 1, "expected one error, got {:?}", p.errors);
    p.errors[0].clone()
}

fn err_at(line: usize, kind: ErrorKind) -> ConfigError {
    ConfigError::new(PathBuf::from("ha.cf"), line, kind)
}

#[test]
fn classic_two_node_example_parses_with_heartbeat_defaults() {
    let p = parse(CLASSIC);
    assert_eq!(p.errors, vec![]);
    let h = p.value.expect("valid");
    assert_eq!(h.keepalive, Duration::from_secs(1));
    assert_eq!(h.deadtime, Duration::from_secs(8));
    assert_eq!(h.warntime, Duration::from_secs(10));
    // 6 s <= deadtime <= 10 s: initdead = 2 x deadtime.
    assert_eq!(h.initdead, Duration::from_secs(16));
    assert_eq!(h.deadping, Duration::from_secs(8));
    assert_eq!(h.udpport, 694);
    assert_eq!(h.baud, 19200);
    assert_eq!(
        h.media,
        vec![Medium::Mcast {
            iface: "eth0".into(),
            group: Ipv4Addr::new(225, 0, 0, 1),
            port: 694,
            ttl: 1,
            loopback: false
        }]
    );
    let nodes: Vec<_> = h.node_names().map(NodeName::as_str).collect();
    assert_eq!(nodes, ["web1.example.com", "web2.example.com"]);
    assert_eq!(h.ping_nodes.len(), 1);
    assert_eq!(h.ping_nodes[0].addrs, ["192.168.8.254"]);
    assert_eq!(h.auto_failback, AutoFailback::On);
    assert_eq!(h.compression, Compression::Bz2);
    assert_eq!(h.compression_threshold_kib, 2);
    assert_eq!(h.logging.logfile, Some(PathBuf::from("/var/log/ha-log")));
    assert!(!h.logging.use_logd);
    assert!(h.realtime);
    assert_eq!(h.debug, 0);
    assert_eq!(h.hopfudge, 1);
    assert_eq!(h.max_rexmit_delay, Duration::from_millis(250));
    assert_eq!(h.memreserve_kib, 6500);
    // warntime > deadtime is accepted, with a warning.
    assert_eq!(p.warnings.len(), 1);
    assert_eq!(p.warnings[0].line, 4);
    assert!(matches!(
        p.warnings[0].kind,
        WarningKind::WarntimeNotBelowDeadtime { .. }
    ));
}

#[test]
fn classic_example_is_refused_for_a_node_not_listed_and_accepted_for_web1() {
    let h = ok(CLASSIC);
    assert_eq!(
        h.check_local_node(&NodeName::new("WEB1.example.com")),
        Ok(())
    );
    assert_eq!(
        h.check_local_node(&NodeName::new("elsewhere")),
        Err(err_at(
            8,
            ErrorKind::LocalNodeMissing {
                local: "elsewhere".into()
            }
        ))
    );
}

#[test]
fn defaults_are_heartbeat_3_0_6_defaults() {
    let p = parse(MEDIA);
    let h = p.value.expect("valid");
    assert_eq!(h.keepalive, Duration::from_secs(1));
    assert_eq!(h.deadtime, Duration::from_secs(30));
    assert_eq!(h.warntime, Duration::from_secs(15));
    assert_eq!(h.initdead, Duration::from_secs(30));
    assert_eq!(h.deadping, Duration::from_secs(30));
    assert_eq!(h.auto_failback, AutoFailback::Legacy);
    assert_eq!(h.compression, Compression::Zlib);
    assert_eq!(h.compression_threshold_kib, 2);
    assert!(!h.traditional_compression);
    assert!(h.logging.use_logd, "no log directive implies use_logd");
    assert_eq!(h.logging.conn_logd_time, Duration::from_secs(60));
    assert_eq!(h.uuidfrom, UuidFrom::File);
    assert_eq!(h.hbgenmethod, GenMethod::File);
    assert_eq!(h.msgfmt, MsgFmt::Classic);
    assert!(h.log_badpack && h.syslogmsgfmt && h.coredumps && h.realtime);
    assert_eq!(
        h.media,
        vec![Medium::Bcast {
            iface: "eth0".into(),
            port: 694
        }]
    );
    assert_eq!(p.warnings.len(), 1);
    assert_eq!(p.warnings[0].kind, WarningKind::LegacyAutoFailback);
}

#[test]
fn initdead_is_derived_from_deadtime_as_heartbeat_does() {
    let initdead = |dt: &str| ok(&format!("{MEDIA}deadtime {dt}\n")).initdead;
    assert_eq!(initdead("5"), Duration::from_secs(12));
    assert_eq!(initdead("6"), Duration::from_secs(12));
    assert_eq!(initdead("10"), Duration::from_secs(20));
    assert_eq!(initdead("11"), Duration::from_secs(11));
}

#[test]
fn comments_blank_lines_commas_and_crlf_are_handled() {
    let h = ok("# comment\n\n  bcast eth0 eth1 # two media\r\nnode a, B,c\nkeepalive 1 2\n");
    assert_eq!(h.media.len(), 2);
    assert_eq!(h.nodes.len(), 3);
    assert_eq!(h.nodes[1].name.as_str(), "b");
    assert_eq!(h.keepalive, Duration::from_secs(2), "last value wins");
}

#[test]
fn every_directive_is_understood() {
    let h = ok("\
logfile /var/log/ha-log
debugfile /var/log/ha-debug
logfacility local0
use_logd yes
conn_logd_time 30
keepalive 500ms
deadtime 10
warntime 5
initdead 60
deadping 20
udpport 6940
baud 38400
serial /dev/ttyS0
bcast eth1
udp eth2
mcast eth0 239.1.2.3 6941 2 1
ucast eth3 10.0.0.2
node n1 n2
ping 10.0.0.254
ping_group uplinks 10.0.1.1 10.0.2.1
auto_failback off
compression zlib
compression_threshold 4
traditional_compression yes
crm off
pacemaker no
realtime off
rtprio 5
debug 3
autojoin none
hopfudge 2
respawn hacluster /usr/lib/heartbeat/ipfail -x
failfast hacluster /usr/lib/heartbeat/ccm
apiauth ipfail uid=hacluster,root gid=haclient
uuidfrom nodename
hbgenmethod time
msgfmt netstring
max_rexmit_delay 300
memreserve 1000
log_badpack off
syslogmsgfmt off
coredumps off
coreroot /var/cores
watchdog /dev/watchdog
env FOO=bar
");
    assert_eq!(
        h.logging.debugfile,
        Some(PathBuf::from("/var/log/ha-debug"))
    );
    assert_eq!(h.logging.logfacility.as_deref(), Some("local0"));
    assert!(h.logging.use_logd);
    assert_eq!(h.logging.conn_logd_time, Duration::from_secs(30));
    assert_eq!(h.keepalive, Duration::from_millis(500));
    assert_eq!(h.warntime, Duration::from_secs(5));
    assert_eq!(h.initdead, Duration::from_secs(60));
    assert_eq!(h.deadping, Duration::from_secs(20));
    assert_eq!(h.udpport, 6940);
    assert_eq!(h.baud, 38400);
    assert_eq!(
        h.media,
        vec![
            Medium::Serial {
                device: "/dev/ttyS0".into(),
                baud: 38400
            },
            Medium::Bcast {
                iface: "eth1".into(),
                port: 6940
            },
            Medium::Bcast {
                iface: "eth2".into(),
                port: 6940
            },
            Medium::Mcast {
                iface: "eth0".into(),
                group: Ipv4Addr::new(239, 1, 2, 3),
                port: 6941,
                ttl: 2,
                loopback: true
            },
            Medium::Ucast {
                iface: "eth3".into(),
                peer: "10.0.0.2".into(),
                port: 6940
            },
        ]
    );
    assert_eq!(h.ping_nodes.len(), 2);
    assert_eq!(h.ping_nodes[1].name, "uplinks");
    assert_eq!(h.ping_nodes[1].addrs, ["10.0.1.1", "10.0.2.1"]);
    assert_eq!(h.auto_failback, AutoFailback::Off);
    assert_eq!(h.compression_threshold_kib, 4);
    assert!(h.traditional_compression);
    assert!(!h.realtime);
    assert_eq!(h.rtprio, Some(5));
    assert_eq!(h.debug, 3);
    assert_eq!(h.hopfudge, 2);
    assert_eq!(h.respawn.len(), 2);
    assert_eq!(h.respawn[0].args, ["-x"]);
    assert!(h.respawn[1].failfast);
    assert_eq!(h.apiauth[0].uids, ["hacluster", "root"]);
    assert_eq!(h.apiauth[0].gids, ["haclient"]);
    assert_eq!(h.uuidfrom, UuidFrom::NodeName);
    assert_eq!(h.hbgenmethod, GenMethod::Time);
    assert_eq!(h.msgfmt, MsgFmt::Netstring);
    assert_eq!(h.max_rexmit_delay, Duration::from_millis(300));
    assert_eq!(h.memreserve_kib, 1000);
    assert!(!h.log_badpack && !h.syslogmsgfmt && !h.coredumps);
    assert_eq!(h.coreroot, Some(PathBuf::from("/var/cores")));
    assert_eq!(h.watchdog, Some(PathBuf::from("/dev/watchdog")));
    assert_eq!(h.env, [("FOO".to_string(), "bar".to_string())]);
    assert!(h.is_explicit("keepalive") && !h.is_explicit("hopfudgex"));
}

#[test]
fn logfacility_alone_sends_log_files_to_dev_null() {
    let h = ok(&format!("{MEDIA}logfacility daemon\n"));
    assert_eq!(h.logging.logfile, Some(PathBuf::from("/dev/null")));
    assert_eq!(h.logging.debugfile, Some(PathBuf::from("/dev/null")));
    assert!(!h.logging.use_logd);
}

#[test]
fn nice_failback_is_mapped_with_a_warning() {
    let p = parse(&format!("{MEDIA}nice_failback on\n"));
    assert_eq!(p.value.expect("valid").auto_failback, AutoFailback::Off);
    assert_eq!(
        p.warnings[0].kind,
        WarningKind::NiceFailbackObsolete { mapped: "off" }
    );
}

#[test]
fn overridden_and_ignored_directives_warn() {
    let p = parse(&format!(
        "{MEDIA}auto_failback on\nkeepalive 1\nkeepalive 2\ncluster x\nnode a\n"
    ));
    let kinds: Vec<_> = p
        .warnings
        .iter()
        .map(|w| (w.line, w.kind.clone()))
        .collect();
    assert!(kinds.contains(&(
        5,
        WarningKind::Overridden {
            directive: "keepalive".into(),
            first_line: 4
        }
    )));
    assert!(kinds.contains(&(
        6,
        WarningKind::Ignored {
            directive: "cluster".into()
        }
    )));
    assert!(kinds.contains(&(
        7,
        WarningKind::DuplicateNode {
            node: "a".into(),
            first_line: 2
        }
    )));
}

#[test]
fn initdead_below_ten_seconds_warns() {
    let p = parse(&format!(
        "{MEDIA}auto_failback on\ndeadtime 3\ninitdead 5\n"
    ));
    assert_eq!(p.errors, vec![]);
    assert_eq!(p.warnings.len(), 1);
    assert_eq!(p.warnings[0].line, 5);
    assert_eq!(
        p.warnings[0].kind,
        WarningKind::InitdeadSmall {
            initdead: Duration::from_secs(5)
        }
    );
}

#[test]
fn unknown_directive_is_an_error() {
    assert_eq!(
        one_error("keepalvie 2\n"),
        err_at(
            3,
            ErrorKind::UnknownDirective {
                directive: "keepalvie".into()
            }
        )
    );
}

#[test]
fn seconds_suffix_is_refused_like_heartbeat() {
    assert_eq!(
        one_error("keepalive 2s\n"),
        err_at(
            3,
            ErrorKind::InvalidTime {
                directive: "keepalive".into(),
                value: "2s".into()
            }
        )
    );
}

#[test]
fn zero_keepalive_is_refused() {
    assert_eq!(
        one_error("keepalive 0\n"),
        err_at(
            3,
            ErrorKind::ZeroTime {
                directive: "keepalive".into()
            }
        )
    );
}

#[test]
fn missing_value_is_an_error() {
    let e = one_error("deadtime\n");
    assert_eq!(e.line, 3);
    assert!(matches!(e.kind, ErrorKind::MissingValue { .. }));
}

#[test]
fn deadtime_must_exceed_twice_keepalive() {
    let e = one_error("keepalive 100ms\ndeadtime 200ms\ninitdead 10\n");
    assert_eq!(
        e,
        err_at(
            4,
            ErrorKind::DeadtimeTooSmall {
                deadtime: Duration::from_millis(200),
                keepalive: Duration::from_millis(100)
            }
        )
    );
    assert_eq!(
        e.to_string(),
        "ha.cf:4: deadtime 200ms is too small compared to keepalive 100ms: deadtime must be more \
         than twice keepalive; raise deadtime or lower keepalive"
    );
    // heartbeat accepts 10 ms / 50 ms.
    ok(&format!("{MEDIA}keepalive 10ms\ndeadtime 50ms\n"));
}

#[test]
fn deadping_must_exceed_twice_keepalive() {
    let e = one_error("keepalive 2\ndeadping 4\n");
    assert_eq!(e.line, 4);
    assert!(matches!(e.kind, ErrorKind::DeadpingTooSmall { .. }));
}

#[test]
fn initdead_below_deadtime_is_an_error() {
    assert_eq!(
        one_error("deadtime 30\ninitdead 20\n"),
        err_at(
            4,
            ErrorKind::InitdeadSmallerThanDeadtime {
                initdead: Duration::from_secs(20),
                deadtime: Duration::from_secs(30)
            }
        )
    );
}

#[test]
fn udpport_after_bcast_is_an_error() {
    assert_eq!(
        one_error("udpport 695\n"),
        err_at(
            3,
            ErrorKind::MustPrecedeMedia {
                directive: "udpport".into(),
                media: "bcast/ucast",
                medium_line: 1
            }
        )
    );
    // mcast carries its own port, so udpport after mcast is fine.
    ok("mcast eth0 225.0.0.1 694 1 0\nudpport 700\nnode a\n");
}

#[test]
fn baud_after_serial_and_twice_are_errors() {
    let e = one_error("serial /dev/ttyS0\nbaud 9600\n");
    assert_eq!(e.line, 4);
    assert!(matches!(e.kind, ErrorKind::MustPrecedeMedia { .. }));
    assert_eq!(
        one_error("baud 9600\nbaud 19200\n"),
        err_at(
            4,
            ErrorKind::Duplicate {
                directive: "baud".into(),
                first_line: 3
            }
        )
    );
    let e = one_error("baud 12345\n");
    assert!(matches!(e.kind, ErrorKind::InvalidValue { .. }));
}

#[test]
fn mcast_values_are_checked() {
    let arity = one_error("mcast eth0 225.0.0.1 694\n");
    assert!(matches!(arity.kind, ErrorKind::WrongArity { .. }));
    for bad in [
        "mcast eth0 10.0.0.1 694 1 0",
        "mcast eth0 225.0.0.1 0 1 0",
        "mcast eth0 225.0.0.1 694 5 0",
        "mcast eth0 225.0.0.1 694 1 2",
    ] {
        let e = one_error(&format!("{bad}\n"));
        assert!(
            matches!(e.kind, ErrorKind::InvalidValue { .. }),
            "{bad}: {e}"
        );
    }
}

#[test]
fn ucast_needs_a_peer() {
    assert!(matches!(
        one_error("ucast eth0\n").kind,
        ErrorKind::WrongArity { .. }
    ));
}

#[test]
fn invalid_values_are_errors() {
    for bad in [
        "auto_failback sometimes",
        "compression lzma",
        "compression_threshold 0",
        "traditional_compression maybe",
        "debug 256",
        "hopfudge -1",
        "rtprio 0",
        "uuidfrom disk",
        "hbgenmethod random",
        "msgfmt xml",
        "logfacility kernel",
        "env NOEQUALS",
        "autojoin some",
        "crm sometimes",
        "respawn hacluster ipfail",
        "apiauth ipfail user=root",
    ] {
        let e = one_error(&format!("{bad}\n"));
        assert!(
            matches!(e.kind, ErrorKind::InvalidValue { .. }),
            "{bad}: {e}"
        );
        assert_eq!(e.line, 3);
    }
}

#[test]
fn udpport_out_of_range_is_an_error() {
    let p = parse("udpport 70000\nbcast eth0\nnode a\n");
    assert_eq!(p.errors.len(), 1);
    assert_eq!(p.errors[0].line, 1);
    assert!(matches!(p.errors[0].kind, ErrorKind::InvalidValue { .. }));
}

#[test]
fn crm_on_and_autojoin_conflict_with_haresources_mode() {
    assert_eq!(
        one_error("crm respawn\n").kind,
        ErrorKind::CrmEnabled {
            directive: "crm".into(),
            value: "respawn".into()
        }
    );
    assert_eq!(
        one_error("pacemaker on\n").kind,
        ErrorKind::CrmEnabled {
            directive: "pacemaker".into(),
            value: "on".into()
        }
    );
    assert_eq!(
        one_error("autojoin any\n").kind,
        ErrorKind::AutojoinConflict {
            value: "any".into()
        }
    );
}

#[test]
fn use_logd_off_without_destination_is_an_error() {
    assert_eq!(
        one_error("use_logd off\n"),
        err_at(3, ErrorKind::NoLogDestination)
    );
}

#[test]
fn stonith_and_ipv6_media_are_unsupported_with_a_fix() {
    for d in [
        "stonith baytech /etc/ha.d/conf/stonith.baytech",
        "mcast6 eth0 ff02::1 694 1 0",
    ] {
        assert!(matches!(
            one_error(&format!("{d}\n")).kind,
            ErrorKind::Unsupported { .. }
        ));
    }
}

#[test]
fn duplicate_apiauth_and_watchdog_are_errors() {
    let e = one_error("apiauth a uid=root\napiauth a gid=root\n");
    assert_eq!(
        e,
        err_at(
            4,
            ErrorKind::Duplicate {
                directive: "apiauth a".into(),
                first_line: 3
            }
        )
    );
    let e = one_error("watchdog /dev/watchdog\nwatchdog /dev/watchdog1\n");
    assert!(matches!(e.kind, ErrorKind::Duplicate { .. }));
    let e = one_error("apiauth a\n");
    assert!(matches!(e.kind, ErrorKind::WrongArity { .. }));
}

#[test]
fn no_media_and_no_nodes_are_errors() {
    let p = parse("keepalive 1\n");
    assert_eq!(
        p.errors,
        vec![err_at(0, ErrorKind::NoMedia), err_at(0, ErrorKind::NoNodes)]
    );
    assert_eq!(
        p.errors[0].to_string(),
        "ha.cf: no heartbeat media defined; add at least one `bcast IFACE`, \
         `mcast IFACE GROUP PORT TTL LOOP`, `ucast IFACE PEER` or `serial DEVICE` line"
    );
}

#[test]
fn too_many_nodes_is_an_error() {
    let nodes: String = (0..101).map(|i| format!("node n{i}\n")).collect();
    let p = parse(&format!("bcast eth0\n{nodes}"));
    assert_eq!(p.errors.len(), 1);
    assert_eq!(
        p.errors[0].kind,
        ErrorKind::TooMany {
            what: "nodes",
            max: 100
        }
    );
}

#[test]
fn a_huge_node_list_is_refused_at_the_first_node_past_the_limit() {
    // 64 000 node lines, repeats among them: one error, at line 102 (the 101st node).
    let nodes: String = (0..64_000)
        .map(|i| format!("node n{}\n", i % 50_000))
        .collect();
    let p = parse(&format!("bcast eth0\n{nodes}"));
    assert_eq!(p.errors.len(), 1, "{:?}", p.errors);
    assert_eq!(p.errors[0].line, 102);
}

#[test]
fn comments_may_be_in_any_encoding_but_values_must_be_utf8() {
    use hbd::config::hacf::parse_hacf_bytes;
    // "# 心跳间隔" in GBK, and a Latin-1 "# durée" after a value.
    let mut bytes =
        b"# \xd0\xc4\xcc\xf8\xbc\xe4\xb8\xf4\nkeepalive 2 # dur\xe9e\nbcast eth0\nnode a\n"
            .to_vec();
    let p = parse_hacf_bytes(Path::new("ha.cf"), &bytes);
    assert_eq!(p.errors, vec![]);
    assert_eq!(p.value.expect("value").keepalive, Duration::from_secs(2));
    // A Latin-1 node name is an error at its line and column, naming the fix.
    bytes.extend_from_slice(b"node caf\xe9\n");
    let p = parse_hacf_bytes(Path::new("ha.cf"), &bytes);
    assert_eq!(
        p.errors,
        vec![err_at(
            5,
            ErrorKind::NotUtf8 {
                column: 9,
                byte: 0xe9
            }
        )]
    );
    assert!(p.errors[0].to_string().contains("iconv -f GBK -t UTF-8"));
    // CRLF line ends are fine.
    let p = parse_hacf_bytes(Path::new("ha.cf"), b"bcast eth0\r\nnode a\r\n");
    assert_eq!(p.errors, vec![]);
}

#[test]
fn every_error_is_reported_not_just_the_first() {
    let p = parse("keepalive 2s\nbogus\ndeadtime x\n");
    let lines: Vec<_> = p.errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, [0, 0, 1, 2, 3]);
    assert!(p.value.is_none());
}
