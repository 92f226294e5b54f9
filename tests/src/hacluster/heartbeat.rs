//! Debian's heartbeat 3.0.6 as the peer the benchmarks compare with.

use super::*;

/// heartbeat 3.0.6's daemon (Debian).
pub const HEARTBEAT: &str = "/usr/libexec/heartbeat/heartbeat";

/// Gives lab node `node` what Debian's heartbeat needs besides its configuration: its own
/// scripts (`harc`, `rc.d`, `resource.d`, `shellfuncs`) copied into the node's private
/// `/etc/ha.d`, and its state layout into the private `/var/lib/heartbeat`.
pub fn prepare_heartbeat_node(node: &Node) -> Result<()> {
    for (from, dir) in [
        ("/etc/ha.d/.", "/etc/ha.d"),
        ("/var/lib/heartbeat/.", "/var/lib/heartbeat"),
    ] {
        let to = node
            .private_dir(dir)
            .ok_or_else(|| LabError::Invalid(format!("no private {dir} on {}", node.hostname())))?;
        let ok = Command::new("cp")
            .args(["-a", from])
            .arg(to)
            .status()
            .map_err(|e| LabError::io(Path::new("cp"), e))?;
        if !ok.success() {
            return Err(LabError::Invalid(format!(
                "cp -a {from} {} failed",
                to.display()
            )));
        }
    }
    Ok(())
}

/// Debian's heartbeat as a lab daemon: its run directories made (a node's `/run` starts
/// empty, as after a boot, so a stale pid file of a crashed run goes too), in the foreground.
pub fn heartbeat_daemon() -> Daemon {
    Daemon::new(
        "heartbeat",
        &[
            "bash",
            "-c",
            &format!(
                "mkdir -p /run/heartbeat/ccm /run/heartbeat/crm /run/heartbeat/dopd /run/heartbeat/rsctmp; \
                 chown -R hacluster:haclient /run/heartbeat; rm -f /run/heartbeat.pid; exec {HEARTBEAT} -f"
            ),
        ],
    )
}
