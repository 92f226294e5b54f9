//! A pair of network namespaces joined by a veth link, for the floating IP tests and the
//! benchmark: `a` (interface `va`, 10.98.N.1/24) and `b` (interface `vb`, 10.98.N.2/24).
//! Names carry the lab's prefix so its sweeper removes leftovers of a killed run; both
//! namespaces are deleted on drop.

#![allow(dead_code)]

use std::fs::File;
use std::os::fd::AsFd;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// Two namespaces and the veth between them.
pub struct NsPair {
    /// Namespace holding `va` and the floating IP.
    pub a: String,
    /// The peer namespace holding `vb`.
    pub b: String,
    /// The third octet of the pair's 10.98.X.0/24.
    pub net: u8,
}

/// Runs `ip args...`, panicking with its stderr on failure.
pub fn ip(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl NsPair {
    /// Creates the pair.
    pub fn create() -> NsPair {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let id = format!("{}x{n}", std::process::id() % 100_000);
        let pair = NsPair {
            a: format!("qlabhba{id}"),
            b: format!("qlabhbb{id}"),
            net: 10 + (std::process::id() % 200) as u8 + n as u8,
        };
        ip(&["netns", "add", &pair.a]);
        ip(&["netns", "add", &pair.b]);
        ip(&[
            "-n", &pair.a, "link", "add", "va", "type", "veth", "peer", "name", "vb", "netns",
            &pair.b,
        ]);
        for (ns, dev, host) in [(&pair.a, "va", 1), (&pair.b, "vb", 2)] {
            ip(&["-n", ns, "link", "set", "lo", "up"]);
            ip(&[
                "-n",
                ns,
                "addr",
                "add",
                &format!("10.98.{}.{host}/24", pair.net),
                "dev",
                dev,
            ]);
            ip(&["-n", ns, "link", "set", dev, "up"]);
        }
        pair
    }

    /// `10.98.X.last`.
    pub fn addr(&self, last: u8) -> String {
        format!("10.98.{}.{last}", self.net)
    }

    /// The IPv4 addresses (`ip/prefix`) on `dev` in `ns`, read with `ip` (the independent
    /// checker).
    pub fn addrs(ns: &str, dev: &str) -> Vec<String> {
        ip(&["-n", ns, "-o", "-4", "addr", "show", "dev", dev])
            .lines()
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                w.position(|x| x == "inet")?;
                w.next().map(str::to_string)
            })
            .collect()
    }

    /// The MAC of `dev` in `ns`.
    pub fn mac(ns: &str, dev: &str) -> String {
        let out = ip(&["-n", ns, "-o", "link", "show", "dev", dev]);
        let mut w = out.split_whitespace();
        w.position(|x| x == "link/ether");
        w.next().expect("link/ether").to_string()
    }

    /// Runs `f` on a thread that has entered namespace `ns` (children it spawns, and threads
    /// it starts, live there too).
    pub fn run_in<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
        let path = format!("/run/netns/{ns}");
        std::thread::spawn(move || {
            let file = File::open(&path).expect("open the namespace");
            rustix::thread::move_into_link_name_space(
                file.as_fd(),
                Some(rustix::thread::LinkNameSpaceType::Network),
            )
            .expect("setns");
            f()
        })
        .join()
        .expect("namespace thread")
    }
}

impl Drop for NsPair {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "delete", ns]).status();
        }
    }
}
