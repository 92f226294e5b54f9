//! Tests for `haresources`.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use hbd::config::{parse_hacf, parse_haresources, IpAgent, IpSpec, Resource};
use hbd::{ConfigError, ErrorKind, WarningKind};

fn err_at(line: usize, kind: ErrorKind) -> ConfigError {
    ConfigError::new(PathBuf::from("haresources"), line, kind)
}

fn parse(text: &str) -> hbd::config::Parsed<hbd::config::Resources> {
    parse_haresources(Path::new("haresources"), text)
}

fn ip(s: &str) -> Ipv4Addr {
    s.parse().expect("address")
}

#[test]
fn groups_parse_with_continuations_comments_and_shorthand() {
    let text = "\
# the web group
Web1.Example.com 192.168.8.100/24/eth0/192.168.8.255 \\
    Filesystem::/dev/sdb1::/srv::ext4 \\ # data
\tapache
web2.example.com IPaddr2::10.0.0.5/16/eth1:vip 10.0.0.6 10.0.0.7/8/10.255.255.255 mysql
";
    let p = parse(text);
    assert_eq!(p.errors, vec![]);
    let r = p.value.expect("valid");
    assert_eq!(r.groups.len(), 2);
    let g = &r.groups[0];
    assert_eq!(g.preferred.as_str(), "web1.example.com");
    assert_eq!(g.line, 2);
    assert_eq!(g.key, "192.168.8.100/24/eth0/192.168.8.255");
    assert_eq!(
        g.resources,
        vec![
            Resource::Ip {
                agent: IpAgent::IpAddr,
                spec: IpSpec {
                    ip: ip("192.168.8.100"),
                    prefix: Some(24),
                    iface: Some("eth0".into()),
                    label: None,
                    broadcast: Some(ip("192.168.8.255")),
                }
            },
            Resource::Script {
                name: "Filesystem".into(),
                args: vec!["/dev/sdb1".into(), "/srv".into(), "ext4".into()]
            },
            Resource::Script {
                name: "apache".into(),
                args: vec![]
            },
        ]
    );
    let g = &r.groups[1];
    assert_eq!(g.line, 5);
    assert_eq!(
        g.resources[0],
        Resource::Ip {
            agent: IpAgent::IpAddr2,
            spec: IpSpec {
                ip: ip("10.0.0.5"),
                prefix: Some(16),
                iface: Some("eth1".into()),
                label: Some("vip".into()),
                broadcast: None
            }
        }
    );
    assert!(matches!(&g.resources[1], Resource::Ip { spec, .. } if spec.prefix.is_none()));
    assert!(matches!(&g.resources[2], Resource::Ip { spec, .. }
        if spec.iface.is_none() && spec.broadcast == Some(ip("10.255.255.255"))));
    // Canonical rendering round-trips.
    assert_eq!(g.resources[0].to_string(), "IPaddr2::10.0.0.5/16/eth1:vip");
}

#[test]
fn bad_resources_are_errors() {
    let cases = [
        "n 192.168.1.300/24",
        "n 10.0.0.1/33",
        "n 10.0.0.1/24/eth0/notanip",
        "n 10.0.0.1/x",
        "n 10.0.0.1/24/eth0/10.0.0.255/extra",
    ];
    for c in cases {
        let p = parse(c);
        assert!(
            matches!(p.errors[0].kind, ErrorKind::BadIpSpec { .. }),
            "{c}: {:?}",
            p.errors
        );
    }
    for c in [
        "n ::x",
        "n a::::b",
        "n ../bin/sh",
        "n IPaddr",
        "n IPaddr::a::b",
    ] {
        let p = parse(c);
        assert!(
            matches!(
                p.errors[0].kind,
                ErrorKind::BadResource { .. } | ErrorKind::BadIpSpec { .. }
            ),
            "{c}: {:?}",
            p.errors
        );
    }
}

#[test]
fn node_without_resources_is_an_error() {
    assert_eq!(
        parse("\nweb1\n").errors,
        vec![err_at(
            2,
            ErrorKind::NoResources {
                node: "web1".into()
            }
        )]
    );
}

#[test]
fn duplicate_group_key_is_an_error() {
    assert_eq!(
        parse("a 10.0.0.1 apache\nb 10.0.0.1 mysql\n").errors,
        vec![err_at(
            2,
            ErrorKind::DuplicateGroupKey {
                key: "10.0.0.1".into(),
                first_line: 1
            }
        )]
    );
}

#[test]
fn dangling_backslash_warns() {
    let p = parse("a apache \\\n");
    assert_eq!(p.errors, vec![]);
    assert_eq!(p.warnings[0].kind, WarningKind::DanglingContinuation);
}

#[test]
fn preferred_node_must_be_in_ha_cf() {
    let h = parse_hacf(Path::new("ha.cf"), "bcast eth0\nnode a b\n")
        .value
        .expect("valid");
    let r = parse("a apache\nc mysql\n").value.expect("valid");
    assert_eq!(
        r.check_nodes(&h),
        vec![err_at(2, ErrorKind::UnknownNode { node: "c".into() })]
    );
    assert_eq!(r.groups_of(&hbd::NodeName::new("A")).count(), 1);
}
