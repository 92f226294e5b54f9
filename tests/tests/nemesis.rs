//! Stage 6: partitions, one-way and partial packet loss, the timeline, the wait helper and
//! log collection.

use std::time::Duration;

use lab::root::require_root;
use lab::wait::wait_until;
use lab::{Daemon, Direction, Lab, Net};

fn ping(lab: &Lab, from: usize, to: usize, net: Net) -> bool {
    let addr = lab.node(to).addr(net).to_string();
    lab.node(from)
        .output(&["ping", "-c", "1", "-W", "1", &addr])
        .is_ok_and(|o| o.status.success())
}

/// Sends one UDP datagram from `from` to `to` on heartbeat 0; whether it arrived.
fn udp_arrives(lab: &Lab, from: usize, to: usize) -> bool {
    let listener = lab
        .node(to)
        .command("timeout")
        .args(["2", "socat", "-u", "UDP4-RECV:5405", "STDOUT"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("listener");
    std::thread::sleep(Duration::from_millis(150));
    let dest = format!("UDP4-SENDTO:{}:5405", lab.node(to).addr(Net::Heartbeat(0)));
    lab.node(from)
        .run(&["sh", "-c", &format!("echo beat | socat -u STDIN {dest}")])
        .expect("send");
    let out = listener.wait_with_output().expect("listener done");
    String::from_utf8_lossy(&out.stdout).contains("beat")
}

#[test]
fn a_partition_splits_the_heartbeat_networks_by_node_sets_and_heals() {
    require_root("a_partition_splits_the_heartbeat_networks_by_node_sets_and_heals");
    let lab = Lab::builder().nodes(3).media(2).build().expect("lab up");
    lab.partition(&[&[1, 2], &[3]]).expect("partition");
    for net in [Net::Heartbeat(0), Net::Heartbeat(1)] {
        assert!(
            ping(&lab, 1, 2, net),
            "1 and 2 are on the same side ({net})"
        );
        assert!(
            !ping(&lab, 1, 3, net),
            "1 reaches 3 across the partition ({net})"
        );
        assert!(
            !ping(&lab, 3, 2, net),
            "3 reaches 2 across the partition ({net})"
        );
    }
    assert!(
        ping(&lab, 1, 3, Net::Mgmt),
        "the management network is not partitioned"
    );
    lab.heal().expect("heal");
    wait_until(
        Duration::from_secs(5),
        Duration::from_millis(50),
        "1 reaches 3",
        || ping(&lab, 1, 3, Net::Heartbeat(0)),
    )
    .expect("healed");
    let events = lab.timeline().render();
    let p = events.find("partition").expect("partition on the timeline");
    let h = events.find("heal").expect("heal on the timeline");
    assert!(p < h, "{events}");
}

#[test]
fn dropping_outgoing_packets_cuts_one_direction_only() {
    require_root("dropping_outgoing_packets_cuts_one_direction_only");
    let lab = Lab::builder().nodes(2).build().expect("lab up");
    assert!(
        udp_arrives(&lab, 2, 1) && udp_arrives(&lab, 1, 2),
        "baseline"
    );
    lab.drop_packets(2, Net::Heartbeat(0), Direction::Outgoing, 100)
        .expect("drop");
    assert!(!udp_arrives(&lab, 2, 1), "node 2's packets still leave");
    assert!(udp_arrives(&lab, 1, 2), "node 2 no longer hears node 1");
    lab.clear_packet_faults(2).expect("clear");
    lab.drop_packets(2, Net::Heartbeat(0), Direction::Incoming, 100)
        .expect("drop in");
    assert!(udp_arrives(&lab, 2, 1), "outgoing hit by an incoming fault");
    assert!(!udp_arrives(&lab, 1, 2), "incoming still arrives");
    lab.clear_packet_faults(2).expect("clear");
    assert!(ping(&lab, 1, 2, Net::Heartbeat(0)));
}

#[test]
fn partial_loss_drops_some_packets_but_not_all() {
    require_root("partial_loss_drops_some_packets_but_not_all");
    let lab = Lab::builder().nodes(2).build().expect("lab up");
    // Resolve ARP first: with half of node 2's ARP replies lost, 60 quick pings could all
    // fall into one unresolved second.
    assert!(ping(&lab, 1, 2, Net::Heartbeat(0)));
    lab.drop_packets(2, Net::Heartbeat(0), Direction::Outgoing, 50)
        .expect("loss");
    let addr = lab.node(2).addr(Net::Heartbeat(0)).to_string();
    let out = lab
        .node(1)
        .output(&["ping", "-q", "-c", "60", "-i", "0.01", "-W", "1", &addr])
        .expect("ping");
    let text = String::from_utf8_lossy(&out.stdout);
    let received: u32 = text
        .split(',')
        .find_map(|f| {
            f.trim()
                .strip_suffix(" received")
                .and_then(|n| n.parse().ok())
        })
        .expect("ping summary");
    assert!(
        received > 0 && received < 60,
        "50% loss gave {received}/60: {text}"
    );
}

#[test]
fn node_logs_and_the_timeline_are_collected() {
    require_root("node_logs_and_the_timeline_are_collected");
    let lab = Lab::builder().nodes(2).build().expect("lab up");
    lab.node(1)
        .add_daemon(Daemon::new(
            "talker",
            &["sh", "-c", "echo hello from $(hostname); exec sleep 1000"],
        ))
        .expect("daemon");
    let log = lab.node(1).log_dir().join("lab-talker.log");
    wait_until(
        Duration::from_secs(5),
        Duration::from_millis(10),
        "daemon output",
        || std::fs::read_to_string(&log).is_ok_and(|t| t.contains("hello from node1")),
    )
    .expect("daemon logged");
    lab.note("about to crash node 2");
    lab.crash(2).expect("crash");
    let dest = tempfile::tempdir().expect("tempdir");
    lab.collect_logs(dest.path()).expect("collect");
    let copied =
        std::fs::read_to_string(dest.path().join("node1/lab-talker.log")).expect("copied log");
    assert!(copied.contains("hello from node1"));
    let timeline = std::fs::read_to_string(dest.path().join("timeline.log")).expect("timeline");
    let note = timeline.find("about to crash").expect("note");
    let crash = timeline.find("crash node2").expect("crash");
    assert!(note < crash, "{timeline}");
}
