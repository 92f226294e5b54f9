//! The demo: the heartbeat tutorial's two-node web cluster built, shown, broken and
//! healed, with a timeline of what each part did. `lab demo` runs it; the README's main
//! command is `scripts/demo.sh`, which builds the binaries and calls `lab demo`.

use std::io::Write;
use std::time::{Duration, Instant, SystemTime};

use crate::error::{LabError, Result};
use crate::hacluster::{Binaries, HaCluster, Spec, Story, CLIENT, WEB1, WEB2};
use crate::topology::Net;
use crate::Power;

fn io(e: std::io::Error) -> LabError {
    LabError::Invalid(format!("writing the demo's output: {e}"))
}

/// Runs the demo, writing to `out`. The lab is torn down before this returns.
pub fn run(bins: Binaries, out: &mut dyn Write) -> Result<()> {
    let spec = Spec::demo();
    writeln!(
        out,
        "== Building the heartbeat tutorial's cluster on this machine (network namespaces)\n   \
         web1, web2: hbd (heartbeat), fenced (fencing), qdiskd (quorum disk), each node its own\n   \
         namespace, hostname and cgroup; a shared quorum disk (loop device); a BMC per node\n   \
         (OpenIPMI's ipmi_sim, its power really switches the node); a client."
    )
    .map_err(io)?;
    let started = Instant::now();
    let c = HaCluster::start(spec, bins)?;
    let addr = |i: usize| Net::Heartbeat(0).node_addr(i);
    writeln!(
        out,
        "   web1 {}, web2 {}, client {}; floating IP {}; up in {:.1} s\n",
        addr(WEB1),
        addr(WEB2),
        addr(CLIENT),
        c.vip(),
        started.elapsed().as_secs_f64()
    )
    .map_err(io)?;
    show_config(&c, out)?;

    let took = c.wait_settled_on("web1", Duration::from_secs(60))?;
    c.check_daemons()?;
    writeln!(
        out,
        "== Who serves? curl http://{}/ from the client: served by web1 ({:.1} s after start)",
        c.vip(),
        took.as_secs_f64()
    )
    .map_err(io)?;
    writeln!(out, "\n== hbctl status, on web2").map_err(io)?;
    indent(
        out,
        &c.node(WEB2).run(&[bin(&c, "hbctl").as_str(), "status"])?,
    )?;
    // hbd, like heartbeat, advertises deadtime + 2 s during its first 5 s.
    std::thread::sleep(Duration::from_secs(6));

    writeln!(
        out,
        "\n== web1 crashes: its links go down and every process dies (a hung machine).\n   \
         Timeline from web2's daemons' logs and the client (deadtime {} ms):",
        c.spec().timing.deadtime.as_millis()
    )
    .map_err(io)?;
    let f = c.crash_and_follow(WEB1, Duration::from_secs(60))?;
    write!(out, "{}", f.story.render()).map_err(io)?;
    let power = c.node(WEB1).power()?;
    writeln!(
        out,
        "   => service back on web2 {:.2} s after the crash; web1's BMC says power {}; \
         at most {} node(s) ever held the floating IP.",
        f.service_back.as_secs_f64(),
        if power == Power::Off { "off" } else { "ON" },
        f.max_vip_holders
    )
    .map_err(io)?;
    if f.max_vip_holders > 1 {
        return Err(LabError::Invalid("two owners of the floating IP".into()));
    }
    writeln!(out, "\n== fenced's history on web2").map_err(io)?;
    for r in c.fence_history(WEB2) {
        writeln!(
            out,
            "   {} {} asked by {}: {} in {} ms",
            r["action"].as_str().unwrap_or("?"),
            r["target"].as_str().unwrap_or("?"),
            r["origin"]["name"].as_str().unwrap_or("?"),
            r["outcome"]["kind"].as_str().unwrap_or("?"),
            r["elapsed_ms"]
        )
        .map_err(io)?;
    }

    writeln!(
        out,
        "\n== web1 is repaired and powered on through its BMC (ipmitool chassis power on);\n   \
         with auto_failback on it takes its group back once both nodes are stable:"
    )
    .map_err(io)?;
    let since = SystemTime::now();
    let t0 = Instant::now();
    c.lab().bmc(WEB1)?.ipmitool(&["chassis", "power", "on"])?;
    let mut story = Story::new();
    story.record(t0.elapsed(), "lab", "web1 powered on (its daemons start)");
    c.wait_settled_on("web1", Duration::from_secs(60))?;
    let back = t0.elapsed();
    story.record(
        back,
        "client",
        format!("http://{}/ answers: served by web1", c.vip()),
    );
    for i in [WEB1, WEB2] {
        c.add_logs(i, since, back, &mut story);
    }
    write!(out, "{}", story.render()).map_err(io)?;
    writeln!(
        out,
        "   => web1 serves again {:.2} s after its power-on.\n\n== Tearing the lab down (namespaces, loop devices, BMCs, processes).",
        back.as_secs_f64()
    )
    .map_err(io)?;
    drop(c);
    writeln!(out, "== Done.").map_err(io)?;
    Ok(())
}

fn bin(c: &HaCluster, name: &str) -> String {
    c.binaries().path(name).display().to_string()
}

fn indent(out: &mut dyn Write, text: &str) -> Result<()> {
    for line in text.lines() {
        writeln!(out, "   {line}").map_err(io)?;
    }
    Ok(())
}

fn show_config(c: &HaCluster, out: &mut dyn Write) -> Result<()> {
    let etc = c
        .node(WEB1)
        .private_dir("/etc/ha.d")
        .ok_or_else(|| LabError::Invalid("no /etc/ha.d on web1".into()))?;
    for file in ["ha.cf", "haresources"] {
        writeln!(out, "== /etc/ha.d/{file} (the same on both nodes)").map_err(io)?;
        let text = std::fs::read_to_string(etc.join(file)).map_err(|e| LabError::io(etc, e))?;
        indent(out, &text)?;
    }
    writeln!(
        out,
        "   (authkeys: sha1, mode 0600; /etc/cluster/cluster.toml: the quorum disk and the\n   \
         fence devices, IPMI over LAN with fence_qd_ipmilan, mode 0600)\n"
    )
    .map_err(io)?;
    Ok(())
}
