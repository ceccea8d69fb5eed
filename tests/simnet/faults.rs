//! Faults on SimNet: partitions, resets, triggers, crashes, clock jumps.

use super::*;

#[test]
fn held_partition_delays_and_then_releases_in_order() {
    let mut net = SimNet::new(NetConfig::default(), 1);
    heartbeat_to(&mut net, "beater", HostPort::new("listener", 7));
    listening_recorder(&mut net, "listener", 7, Recorder::default());
    net.add_fault(Fault::at(secs(10)).partition("beater", "listener").hold());
    net.add_fault(Fault::at(secs(100)).heal("beater", "listener"));
    net.run_until(Instant::from_secs(99));
    assert_eq!(
        recorder(&net, "listener").unwrap().heard,
        b"*",
        "beats at 30, 60, 90 are held"
    );
    net.run_until(Instant::from_secs(101));
    assert_eq!(
        recorder(&net, "listener").unwrap().heard,
        b"****",
        "released at the heal"
    );
}

#[test]
fn dropping_partition_outlasting_the_retransmit_timeout_times_the_connection_out() {
    let config = NetConfig {
        retransmit_timeout: secs(20),
        ..NetConfig::default()
    };
    let mut net = SimNet::new(config, 1);
    heartbeat_to(&mut net, "beater", HostPort::new("listener", 7));
    listening_recorder(&mut net, "listener", 7, Recorder::default());
    net.add_fault(
        Fault::at(secs(10))
            .partition("beater", "listener")
            .one_way(),
    );
    net.run_until(Instant::from_secs(120));
    let lost: Vec<_> = net
        .transcript()
        .events()
        .iter()
        .filter(|e| e.what == EventKind::Lost(Disconnect::TimedOut))
        .map(|e| (e.at, e.who.clone()))
        .collect();
    assert_eq!(lost.len(), 1, "{lost:?}");
    assert!(lost[0].1.starts_with("beater:"));
    // The beat at 30 s is lost; 20 s of retransmissions later the connection gives up.
    assert!(
        lost[0].0 >= Instant::from_secs(50) && lost[0].0 <= Instant::from_secs(60),
        "{lost:?}"
    );
}

#[test]
fn reset_fault_resets_both_ends() {
    let mut net = SimNet::new(NetConfig::default(), 1);
    connecting_recorder(&mut net, "a", HostPort::new("b", 1), Recorder::default());
    listening_recorder(&mut net, "b", 1, Recorder::default());
    net.add_fault(Fault::at(secs(1)).reset("b"));
    net.run_until(Instant::from_secs(2));
    assert_eq!(recorder(&net, "a").unwrap().lost, Some(Disconnect::Reset));
    assert_eq!(recorder(&net, "b").unwrap().lost, Some(Disconnect::Reset));
}

#[test]
fn frame_triggered_fault_fires_after_the_nth_netstring() {
    let mut net = SimNet::new(NetConfig::default(), 1);
    let talker = Recorder {
        greeting: b"1:a,1:b,1:c,1:d,",
        ..Recorder::default()
    };
    connecting_recorder(&mut net, "a", HostPort::new("b", 1), talker);
    listening_recorder(&mut net, "b", 1, Recorder::default());
    net.add_fault(Fault::after(Trigger::netstrings("a", "b", 3)).reset("b"));
    net.run_until(Instant::from_secs(1));
    assert_eq!(recorder(&net, "b").unwrap().lost, Some(Disconnect::Reset));
    let faults = net
        .transcript()
        .events()
        .iter()
        .filter(|e| matches!(e.what, EventKind::Fault(_)))
        .count();
    assert_eq!(faults, 1, "a trigger fires once");
}

#[test]
fn crash_and_restart_brings_a_fresh_program_back() {
    let mut net = SimNet::new(NetConfig::default(), 1);
    net.add_host("server", || {
        boxed(
            FactoryProgram::new(RecorderFactory(Recorder::default())).listen(HostPort::new("", 5)),
        )
    });
    net.add_host("client", || {
        boxed(FactoryProgram::new(HeartbeatFactory).connect(HostPort::new("server", 5)))
    });
    net.add_fault(Fault::at(secs(40)).crash("server"));
    net.add_fault(Fault::at(secs(50)).restart("server"));
    net.run_until(Instant::from_secs(200));
    // After the restart the old connection is unknown to the server: the client's next
    // beat (retransmitted) meets a reset.
    let client_lost: Vec<_> = net
        .transcript()
        .events()
        .iter()
        .filter(|e| e.who.starts_with("client:") && matches!(e.what, EventKind::Lost(_)))
        .map(|e| e.what.clone())
        .collect();
    assert_eq!(client_lost, [EventKind::Lost(Disconnect::Reset)]);
    assert!(
        recorder(&net, "server").is_none(),
        "the fresh program has no connection"
    );
}

#[test]
fn clock_jump_fires_the_hosts_timers_inside_the_jump() {
    let mut net = SimNet::new(NetConfig::default(), 1);
    heartbeat_to(&mut net, "beater", HostPort::new("listener", 7));
    listening_recorder(&mut net, "listener", 7, Recorder::default());
    net.add_fault(Fault::at(secs(1)).clock_jump("beater", secs(60)));
    net.run_until(Instant::from_secs(2));
    // Beat at 0; the jump to 61 s on the beater's clock runs one (skipping) beat.
    assert_eq!(recorder(&net, "listener").unwrap().heard, b"**");
}
