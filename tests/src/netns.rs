//! Network namespaces (`ip netns`), named so that the sweeper can find them.

use std::process::Command;

use crate::cmd::run;
use crate::error::Result;
use crate::unique::PREFIX;

/// A named network namespace this lab created; deleted on drop.
#[derive(Debug)]
pub struct NetNs {
    name: String,
}

impl NetNs {
    /// Creates the namespace `name` and brings its loopback up.
    pub fn create(name: &str) -> Result<NetNs> {
        run("ip", ["netns", "add", name])?;
        let ns = NetNs {
            name: name.to_string(),
        };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// The namespace's name (`ip netns exec NAME ...`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `ip -n NAME args...`.
    pub fn ip(&self, args: &[&str]) -> Result<String> {
        run("ip", ["-n", self.name.as_str()].iter().chain(args))
    }

    /// Runs `tc -n NAME args...`.
    pub fn tc(&self, args: &[&str]) -> Result<String> {
        run("tc", ["-n", self.name.as_str()].iter().chain(args))
    }

    /// A command that runs `program` inside this namespace (`ip netns exec`), without any
    /// other isolation.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name, program]);
        command
    }

    /// Deletes the namespace now (also done on drop).
    pub fn delete(&mut self) -> Result<()> {
        if self.name.is_empty() {
            return Ok(());
        }
        let result = delete(&self.name);
        self.name.clear();
        result
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        if let Err(error) = self.delete() {
            eprintln!("lab: {error}");
        }
    }
}

/// Deletes the namespace `name`.
pub fn delete(name: &str) -> Result<()> {
    run("ip", ["netns", "delete", name]).map(drop)
}

/// Names of every lab namespace on this machine (any lab, live or dead).
pub fn lab_namespaces() -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/run/netns") else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(PREFIX))
        .collect();
    names.sort();
    names
}
