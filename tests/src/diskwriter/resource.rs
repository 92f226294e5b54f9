//! The writer as a cluster resource: a heartbeat `resource.d` script (`diskwriter
//! start|stop|status`) that runs `lab disk-writer` detached.

use std::path::PathBuf;
use std::time::Duration;

use super::record::{check_name, RECORD_SIZE};
use super::region::Region;
use super::Error;

/// The `resource.d/diskwriter` script. Placeholders, each inside single quotes (fill them
/// with [`ResourceScript::render`], which quotes the values):
///
/// - `@LAB@`: path of the `lab` binary;
/// - `@DEVICE@`: the shared disk as this node sees it (e.g. `/dev/loop5`);
/// - `@REGION@`: the writer region, `OFFSET:LEN` (e.g. `16M:16M`);
/// - `@NODE_ID@`: this node's id, 1 to `@MAX_NODES@` (the lab node index);
/// - `@NODE_NAME@`: this node's name, written into every record;
/// - `@MAX_NODES@`: into how many per-node areas the region is split;
/// - `@INTERVAL@`: time between two records (e.g. `20ms`).
///
/// `start` launches the writer detached (`setsid`, stdin `/dev/null`, output appended to
/// `/var/log/diskwriter.log`, PID in `/run/diskwriter.pid`) and returns 0 once it runs: once
/// it has logged where it continues, or after 2 s if it is still reading its area (a slow
/// disk); 1 if it exits at once (bad options, no device). `stop` sends SIGTERM and waits
/// until the process is gone, as a takeover node must never start while this writer may
/// still write: up to about 10 s, then SIGKILL and up to 10 s more; 0 once it is gone, 1 if
/// it never goes (stuck in disk I/O), so the cluster does not take the resource over.
/// `status` prints `diskwriter is running` or `diskwriter is stopped` (heartbeat looks for
/// "running"); a zombie, or a process that is no writer (a reused PID), is stopped.
pub const DISKWRITER_SCRIPT: &str = r#"#!/bin/sh
# diskwriter: the chaos campaign's shared-disk writer, a heartbeat resource.d script
# (start|stop|status). While the resource runs, `lab disk-writer` writes a record every
# INTERVAL with O_DIRECT to this node's area of REGION on DEVICE, as a database on shared
# storage would; the lab proves from the disk that no two nodes ever wrote at once.
LAB='@LAB@'
DEVICE='@DEVICE@'
REGION='@REGION@'
NODE_ID='@NODE_ID@'
NODE_NAME='@NODE_NAME@'
MAX_NODES='@MAX_NODES@'
INTERVAL='@INTERVAL@'
PIDFILE=/run/diskwriter.pid
LOG=/var/log/diskwriter.log
# Alive: the PID exists and is no zombie (a killed writer whose reaper has not collected
# it yet still answers kill -0). A writer in uninterruptible disk I/O (state D) is alive:
# its write may still land.
alive() {
  case "$(ps -o stat= -p "$1" 2>/dev/null)" in
    ""|Z*) return 1 ;;
  esac
}
# Running: the PID in the file is alive and is the writer (not a reused PID).
running() {
  [ -f "$PIDFILE" ] || return 1
  pid=$(cat "$PIDFILE")
  alive "$pid" || return 1
  case "$(ps -o args= -p "$pid" 2>/dev/null)" in
    *disk-writer*) return 0 ;;
  esac
  return 1
}
# Waits up to about 10 s for PID $1 to be gone; fails if it is not.
gone() {
  i=0
  while alive "$1"; do
    [ "$i" -ge 500 ] && return 1
    sleep 0.02
    i=$((i + 1))
  done
}
case "$1" in
  start)
    running && exit 0
    setsid "$LAB" disk-writer --device "$DEVICE" --region "$REGION" --node-id "$NODE_ID" \
      --node-name "$NODE_NAME" --max-nodes "$MAX_NODES" --interval "$INTERVAL" \
      </dev/null >>"$LOG" 2>&1 &
    pid=$!
    echo "$pid" > "$PIDFILE"
    # Up once it says where it continues (after reading its area).
    for _ in $(seq 100); do
      if ! alive "$pid"; then
        echo "diskwriter: the writer exited at once; the end of $LOG:" >&2
        tail -n 3 "$LOG" >&2
        rm -f "$PIDFILE"
        exit 1
      fi
      grep -q "^diskwriter\[$pid\]: node " "$LOG" 2>/dev/null && exit 0
      sleep 0.02
    done
    echo "diskwriter: started (pid $pid), still reading its area of $DEVICE" >&2
    exit 0 ;;
  stop)
    if running; then
      kill -TERM "$pid" 2>/dev/null
      # It stops once its write in flight has returned.
      if ! gone "$pid"; then
        echo "diskwriter: pid $pid still runs 10 s after SIGTERM: SIGKILL" >&2
        kill -KILL "$pid" 2>/dev/null
        if ! gone "$pid"; then
          echo "diskwriter: pid $pid survives SIGKILL (stuck in disk I/O?): not stopped" >&2
          exit 1
        fi
      fi
    fi
    rm -f "$PIDFILE"
    exit 0 ;;
  status)
    if running; then echo "diskwriter is running"; else echo "diskwriter is stopped"; fi ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
"#;

/// The values of [`DISKWRITER_SCRIPT`]'s placeholders, for one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceScript {
    /// The `lab` binary (`@LAB@`).
    pub lab: PathBuf,
    /// The shared disk as the node sees it (`@DEVICE@`).
    pub device: PathBuf,
    /// The writer region (`@REGION@`).
    pub region: Region,
    /// The node's id, 1 to `max_nodes` (`@NODE_ID@`).
    pub node_id: u32,
    /// The node's name (`@NODE_NAME@`).
    pub node_name: String,
    /// Into how many areas the region is split (`@MAX_NODES@`).
    pub max_nodes: u32,
    /// Time between two records (`@INTERVAL@`).
    pub interval: Duration,
}

impl ResourceScript {
    /// The script with the placeholders filled in (shell-quoted). Fails on values the
    /// writer would refuse: a bad node name, node id or layout, a zero interval.
    pub fn render(&self) -> Result<String, Error> {
        check_name(&self.node_name)?;
        self.region
            .node_area(self.node_id, self.max_nodes, RECORD_SIZE as u64)?;
        if self.interval.is_zero() {
            return Err(Error::Invalid(
                "interval 0: give a positive interval".into(),
            ));
        }
        let values = [
            ("@LAB@", self.lab.display().to_string()),
            ("@DEVICE@", self.device.display().to_string()),
            ("@REGION@", self.region.to_string()),
            ("@NODE_ID@", self.node_id.to_string()),
            ("@NODE_NAME@", self.node_name.clone()),
            ("@MAX_NODES@", self.max_nodes.to_string()),
            (
                "@INTERVAL@",
                humantime::format_duration(self.interval).to_string(),
            ),
        ];
        let mut script = DISKWRITER_SCRIPT.to_string();
        for (placeholder, value) in values {
            // Inside single quotes: a quote ends them, an escaped one, and opens them again.
            script = script.replace(placeholder, &value.replace('\'', r"'\''"));
        }
        Ok(script)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script() -> ResourceScript {
        ResourceScript {
            lab: "/opt/it's/lab".into(),
            device: "/dev/loop5".into(),
            region: "16M:16M".parse().expect("region"),
            node_id: 2,
            node_name: "web2".into(),
            max_nodes: 8,
            interval: Duration::from_millis(20),
        }
    }

    #[test]
    fn render_fills_every_placeholder_quoted() {
        let text = script().render().expect("render");
        assert!(!text.contains('@'), "{text}");
        for line in [
            r"LAB='/opt/it'\''s/lab'",
            "DEVICE='/dev/loop5'",
            "REGION='16777216:16777216'",
            "NODE_ID='2'",
            "NODE_NAME='web2'",
            "MAX_NODES='8'",
            "INTERVAL='20ms'",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
        // The shell reads it.
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("diskwriter");
        std::fs::write(&path, &text).expect("write");
        let out = std::process::Command::new("sh")
            .arg("-n")
            .arg(&path)
            .output()
            .expect("sh -n");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn render_refuses_what_the_writer_would() {
        for (bad, says) in [
            (
                ResourceScript {
                    node_id: 9,
                    ..script()
                },
                "1 to 8",
            ),
            (
                ResourceScript {
                    node_name: String::new(),
                    ..script()
                },
                "node name",
            ),
            (
                ResourceScript {
                    interval: Duration::ZERO,
                    ..script()
                },
                "interval 0",
            ),
        ] {
            let e = bad.render().expect_err(says).to_string();
            assert!(e.contains(says), "{says}: {e}");
        }
    }

    #[test]
    fn status_of_a_node_without_a_writer_is_stopped() {
        let text = script()
            .render()
            .expect("render")
            .replace("/run/diskwriter.pid", "/nonexistent/diskwriter.pid");
        let out = std::process::Command::new("sh")
            .args(["-c", &text, "diskwriter", "status"])
            .output()
            .expect("sh");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "diskwriter is stopped\n"
        );
        let out = std::process::Command::new("sh")
            .args(["-c", &text, "diskwriter", "bogus"])
            .output()
            .expect("sh");
        assert_eq!(out.status.code(), Some(2));
    }
}
