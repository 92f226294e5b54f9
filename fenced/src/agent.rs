//! Running a fence agent the way ClusterLabs' fencer and RHCS fenced do: every parameter as
//! a `name=value` line on standard input, nothing on the command line (so passwords never
//! show in the process list), success = exit status 0.
//!
//! Standard input holds, in order: the device's parameters, the victim's own arguments on
//! that device (which win, since agents keep the last value of a repeated name),
//! `nodename=VICTIM`, a `port` from the device's `host_map` when the victim has none, and
//! `action=off|on|reboot|status|monitor|list`.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc::channel;
use std::time::Duration;

use crate::config::{Device, SECRET_KEYS};
use crate::topology::NodeName;

/// The action names agents understand.
pub fn action_name(action: crate::history::DeviceAction) -> &'static str {
    match action {
        crate::history::DeviceAction::Off => "off",
        crate::history::DeviceAction::On => "on",
        crate::history::DeviceAction::Reboot => "reboot",
    }
}

/// The standard input for one call.
pub fn stdin_text(
    device: &Device,
    target: &NodeName,
    args: &BTreeMap<String, String>,
    action: &str,
) -> String {
    let mut lines = Vec::new();
    for (k, v) in device.params.iter().chain(args.iter()) {
        lines.push(format!("{k}={v}"));
    }
    lines.push(format!("nodename={}", target.0));
    let has_port = args.contains_key("port") || args.contains_key("plug");
    if !has_port {
        if let Some(port) = device.host_map.get(&target.0) {
            lines.push(format!("port={port}"));
        }
    }
    lines.push(format!("action={action}"));
    lines.join("\n") + "\n"
}

/// `text` with every secret parameter value of `device` replaced by `***`.
pub fn mask_secrets(text: &str, device: &Device) -> String {
    let mut out = text.to_string();
    for (k, v) in &device.params {
        if SECRET_KEYS.contains(&k.as_str()) && !v.is_empty() {
            out = out.replace(v.as_str(), "***");
        }
    }
    out
}

/// Where the agent program is: a path as given, or a name found on PATH, /usr/sbin or /sbin.
pub fn find_agent(agent: &str) -> Option<PathBuf> {
    if agent.contains('/') {
        let path = PathBuf::from(agent);
        return path.is_file().then_some(path);
    }
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"])
        .map(|dir| PathBuf::from(dir).join(agent))
        .find(|p| p.is_file());
    found
}

/// Runs `action` of `device` for `target`; `Ok(())` on exit status 0. The agent (and all
/// it started) is killed when it runs longer than the device's timeout.
pub fn run(
    device: &Device,
    target: &NodeName,
    args: &BTreeMap<String, String>,
    action: &str,
) -> Result<(), String> {
    let program = find_agent(&device.agent).ok_or_else(|| {
        format!(
            "fence agent {:?} not found (install it, or give its path)",
            device.agent
        )
    })?;
    let mut child = Command::new(&program)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
    let pgid = child.id();
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(stdin_text(device, target, args, action).as_bytes());
    }
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(device.timeout) {
        Ok(Ok(output)) if output.status.success() => Ok(()),
        Ok(Ok(output)) => {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let stdout = String::from_utf8_lossy(&output.stdout);
            let detail = stderr
                .lines()
                .chain(stdout.lines())
                .rfind(|l| !l.trim().is_empty())
                .unwrap_or("")
                .to_string();
            Err(mask_secrets(
                &format!(
                    "{} {action} failed ({}){}",
                    device.agent,
                    output.status,
                    if detail.is_empty() {
                        String::new()
                    } else {
                        format!(": {detail}")
                    }
                ),
                device,
            ))
        }
        Ok(Err(e)) => Err(format!("{}: {e}", device.agent)),
        Err(_) => {
            if let Some(pid) = rustix::process::Pid::from_raw(pgid as i32) {
                let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
            }
            Err(format!(
                "{} {action} timed out after {:?}; killed",
                device.agent, device.timeout
            ))
        }
    }
}

/// Default per-call timeout when a device gives none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::DeviceName;

    /// The tests that write an agent script and then run agents hold this for their whole
    /// body. A script is written through a file descriptor; a fork in another thread while
    /// it is open (a parallel test spawning its agent) gives the child a copy until it
    /// execs, and exec of the script then fails with ETXTBSY ("Text file busy"), as seen on
    /// CI. Serialised, no fork happens while a script is open for writing.
    static SCRIPTS: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn scripts() -> std::sync::MutexGuard<'static, ()> {
        SCRIPTS.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn device(agent: &str, timeout: Duration) -> Device {
        Device {
            name: DeviceName("d".into()),
            agent: agent.into(),
            params: [
                ("ip".to_string(), "10.99.2.11".to_string()),
                ("password".to_string(), "s3cret".to_string()),
                ("port".to_string(), "device-default".to_string()),
            ]
            .into_iter()
            .collect(),
            timeout,
            host_map: [("web2".to_string(), "4".to_string())]
                .into_iter()
                .collect(),
        }
    }

    #[test]
    fn the_victims_own_arguments_come_after_the_devices_and_win() {
        let d = device("x", DEFAULT_TIMEOUT);
        let args = [("port".to_string(), "3".to_string())]
            .into_iter()
            .collect();
        let text = stdin_text(&d, &NodeName("web1".into()), &args, "off");
        let lines: Vec<&str> = text.lines().collect();
        let device_port = lines
            .iter()
            .position(|l| *l == "port=device-default")
            .expect("device port");
        let node_port = lines
            .iter()
            .position(|l| *l == "port=3")
            .expect("node port");
        assert!(node_port > device_port);
        assert!(lines.contains(&"nodename=web1"));
        assert_eq!(lines.last(), Some(&"action=off"));
    }

    #[test]
    fn host_map_gives_the_port_when_the_victim_has_none() {
        let mut d = device("x", DEFAULT_TIMEOUT);
        d.params.remove("port");
        let text = stdin_text(&d, &NodeName("web2".into()), &BTreeMap::new(), "status");
        assert!(text.contains("port=4\n"), "{text}");
    }

    #[test]
    fn agents_get_their_stdin_and_report_failures_without_secrets() {
        let _serial = scripts();
        let dir = std::env::temp_dir().join(format!("fenced-agent-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let agent = dir.join("fence_echo");
        std::fs::write(
            &agent,
            "#!/bin/sh\nin=$(cat)\ncase \"$in\" in *action=off*) exit 0;; esac\necho \"bad: $in\" >&2\nexit 1\n",
        )
        .expect("write");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&agent, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let d = device(agent.to_str().expect("utf-8"), DEFAULT_TIMEOUT);
        let target = NodeName("web1".into());
        assert_eq!(run(&d, &target, &BTreeMap::new(), "off"), Ok(()));
        let e = run(&d, &target, &BTreeMap::new(), "on").expect_err("fails");
        assert!(!e.contains("s3cret"), "{e}");
        assert!(e.contains("exit status: 1"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_hanging_agent_is_killed_after_its_timeout() {
        let _serial = scripts();
        let dir = std::env::temp_dir().join(format!("fenced-hang-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let agent = dir.join("fence_hang");
        std::fs::write(&agent, "#!/bin/sh\nsleep 30\n").expect("write");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&agent, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let d = device(agent.to_str().expect("utf-8"), Duration::from_millis(300));
        let started = std::time::Instant::now();
        let e = run(&d, &NodeName("web1".into()), &BTreeMap::new(), "off").expect_err("times out");
        assert!(e.contains("timed out"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(5));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_missing_agent_says_so() {
        let d = device("fence_does_not_exist_anywhere", DEFAULT_TIMEOUT);
        let e = run(&d, &NodeName("n".into()), &BTreeMap::new(), "off").expect_err("missing");
        assert!(e.contains("not found"), "{e}");
    }
}
