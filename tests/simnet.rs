//! SimNet: the simulated network's behaviours, one per test.

mod common;

use std::time::Duration;

use weft::host::{ConnectError, FactoryProgram, Host, HostPort, Node, Stream};
use weft::programs::heartbeat::HeartbeatFactory;
use weft::programs::pingpong::PingPongFactory;
use weft::programs::streaming::{StreamingClient, StreamingClientFactory};
use weft::protocol::{Context, Factory, NoTimer, Protocol};
use weft::simnet::{
    Between, ClockJumpSpec, Fault, FaultAction, Latency, NetConfig, PartitionMode, PartitionSpec,
    ResetSpec, SimNet, Trigger,
};
use weft::testing::{EventKind, Segmentation};
use weft::time::Instant;
use weft::transport::Disconnect;

fn boxed<P: weft::host::Program + 'static>(program: P) -> Box<dyn Node> {
    Box::new(Host::new(program))
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// A protocol that records what happens to it, and optionally writes on connect.
#[derive(Default, Clone)]
struct Recorder {
    greeting: &'static [u8],
    heard: Vec<u8>,
    reads: usize,
    eof: bool,
    lost: Option<Disconnect>,
    pause_reading_for: Option<Duration>,
}

#[derive(Clone, Copy, Debug)]
enum RecorderTimer {
    Resume,
}

impl Protocol for Recorder {
    type Timer = RecorderTimer;
    fn connection_made(&mut self, cx: &mut Context<'_, RecorderTimer>) {
        cx.write(self.greeting);
        if let Some(d) = self.pause_reading_for {
            cx.transport.pause_reading();
            cx.call_later(d, RecorderTimer::Resume);
        }
    }
    fn data_received(&mut self, _cx: &mut Context<'_, RecorderTimer>, data: &[u8]) {
        self.heard.extend_from_slice(data);
        self.reads += 1;
    }
    fn read_connection_lost(&mut self, cx: &mut Context<'_, RecorderTimer>) {
        self.eof = true;
        cx.lose_connection();
    }
    fn connection_lost(&mut self, _cx: &mut Context<'_, RecorderTimer>, reason: Disconnect) {
        assert!(self.lost.is_none(), "connection_lost twice");
        self.lost = Some(reason);
    }
    fn timer_fired(&mut self, cx: &mut Context<'_, RecorderTimer>, _t: RecorderTimer) {
        cx.transport.resume_reading();
    }
}

#[derive(Clone)]
struct RecorderFactory(Recorder);

impl Factory for RecorderFactory {
    type Protocol = Recorder;
    fn build_protocol(&mut self, _peer: std::net::SocketAddr) -> Recorder {
        self.0.clone()
    }
}

/// The recorder protocol of a host's first connection, from outside the network.
fn recorder(net: &SimNet, host: &str) -> Option<Recorder> {
    let host = net
        .node(host)?
        .downcast_ref::<Host<FactoryProgram<RecorderFactory>>>()?;
    host.program().last_protocol().cloned()
}

fn pingpong_net(config: NetConfig, seed: u64) -> SimNet {
    let mut net = SimNet::new(config, seed);
    net.add_host("server", || {
        boxed(
            FactoryProgram::new(PingPongFactory::server(None))
                .listen(HostPort::new("0.0.0.0", 8000)),
        )
    });
    net.add_host("client", || {
        boxed(
            FactoryProgram::new(PingPongFactory::client(Some(100)))
                .connect(HostPort::new("server", 8000))
                .exit_when_done(),
        )
    });
    net
}

#[test]
fn pingpong_runs_unchanged_and_takes_virtual_time() {
    let config = NetConfig {
        latency: Latency::Fixed(Duration::from_millis(5)),
        ..NetConfig::default()
    };
    let mut net = pingpong_net(config, 1);
    assert!(net.run_until_exit(&["client"], secs(60)));
    assert_eq!(net.exit_code("client"), Some(0));
    // Unlike the lockstep pump, two bytes are in flight each way: the server greets on
    // accept (its byte rides behind the SYN-ACK, arriving at 10 ms) while the client
    // greets on connect. So the client has 1 + 2k bytes at 10 + 10k ms, and its 100th
    // arrives at k = 50: 510 ms, when it closes and exits.
    assert_eq!(net.now(), Instant::from_millis(510));
}

#[test]
fn same_seed_same_transcript_other_seed_other_transcript() {
    let config = NetConfig {
        latency: Latency::Uniform {
            min: Duration::from_millis(1),
            max: Duration::from_millis(20),
        },
        segmentation: Segmentation::Seeded { seed: 0, max: 3 },
        ..NetConfig::default()
    };
    let run = |seed| {
        let mut net = pingpong_net(config.clone(), seed);
        net.run_until_exit(&["client"], secs(60));
        net.transcript().render()
    };
    assert_eq!(run(7), run(7));
    assert_ne!(run(7), run(8));
}

#[test]
fn refused_connect_is_reported_after_a_round_trip() {
    let mut net = SimNet::new(NetConfig::default(), 1);
    net.add_host("server", || boxed(FactoryProgram::new(HeartbeatFactory)));
    net.add_host("client", || {
        boxed(
            FactoryProgram::new(HeartbeatFactory)
                .connect(HostPort::new("server", 9999))
                .exit_when_done(),
        )
    });
    assert!(net.run_until_exit(&["client"], secs(60)));
    assert_eq!(net.exit_code("client"), Some(1));
    assert_eq!(
        net.lines("client", Stream::Stderr),
        ["connection failed: connection refused"]
    );
    assert_eq!(
        net.now(),
        Instant::from_millis(2),
        "one millisecond each way"
    );
}

#[test]
fn unknown_host_fails_on_a_later_turn() {
    let mut net = SimNet::new(NetConfig::default(), 1);
    net.add_host("client", || {
        boxed(
            FactoryProgram::new(HeartbeatFactory)
                .connect(HostPort::new("nowhere", 1))
                .exit_when_done(),
        )
    });
    assert!(net.run_until_exit(&["client"], secs(1)));
    assert_eq!(
        net.lines("client", Stream::Stderr),
        [format!(
            "connection failed: {}",
            ConnectError::UnknownHost("nowhere".into())
        )]
    );
}

#[test]
fn connect_to_a_crashed_host_times_out() {
    let mut net = SimNet::new(NetConfig::default(), 1);
    net.add_host("server", || {
        boxed(FactoryProgram::new(HeartbeatFactory).listen(HostPort::new("0.0.0.0", 80)))
    });
    net.add_host("client", || {
        boxed(
            FactoryProgram::new(HeartbeatFactory)
                .connect(HostPort::new("server", 80))
                .exit_when_done(),
        )
    });
    net.add_fault(Fault::at(
        Duration::ZERO,
        FaultAction::Crash("server".into()),
    ));
    assert!(net.run_until_exit(&["client"], secs(120)));
    assert_eq!(
        net.lines("client", Stream::Stderr),
        ["connection failed: connection timed out"]
    );
    assert_eq!(
        net.now(),
        Instant::from_secs(30),
        "Twisted's default connect timeout"
    );
}

#[test]
fn held_partition_delays_and_then_releases_in_order() {
    let mut net = SimNet::new(NetConfig::default(), 1);
    net.add_host("beater", || {
        boxed(FactoryProgram::new(HeartbeatFactory).connect(HostPort::new("listener", 7)))
    });
    net.add_host("listener", || {
        boxed(
            FactoryProgram::new(RecorderFactory(Recorder::default())).listen(HostPort::new("", 7)),
        )
    });
    let pair = |mode| PartitionSpec {
        a: "beater".into(),
        b: "listener".into(),
        one_way: false,
        mode,
    };
    net.add_fault(Fault::at(
        secs(10),
        FaultAction::Partition(pair(PartitionMode::Hold)),
    ));
    net.add_fault(Fault::at(
        secs(100),
        FaultAction::Heal(Between {
            a: "beater".into(),
            b: "listener".into(),
            one_way: false,
        }),
    ));
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
    net.add_host("beater", || {
        boxed(FactoryProgram::new(HeartbeatFactory).connect(HostPort::new("listener", 7)))
    });
    net.add_host("listener", || {
        boxed(
            FactoryProgram::new(RecorderFactory(Recorder::default())).listen(HostPort::new("", 7)),
        )
    });
    net.add_fault(Fault::at(
        secs(10),
        FaultAction::Partition(PartitionSpec {
            a: "beater".into(),
            b: "listener".into(),
            one_way: true,
            mode: PartitionMode::Drop,
        }),
    ));
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
fn a_reader_that_stops_reading_pushes_back_to_the_producer() {
    let config = NetConfig {
        send_buffer: 16 * 1024,
        recv_buffer: 16 * 1024,
        ..NetConfig::default()
    };
    let mut net = SimNet::new(config, 1);
    net.add_host("streamer", || {
        boxed(
            FactoryProgram::new(StreamingClientFactory {
                budget: Some(1 << 20),
            })
            .connect(HostPort::new("sink", 9)),
        )
    });
    let slow = Recorder {
        pause_reading_for: Some(secs(5)),
        ..Recorder::default()
    };
    net.add_host("sink", move || {
        boxed(FactoryProgram::new(RecorderFactory(slow.clone())).listen(HostPort::new("", 9)))
    });
    net.run_until(Instant::from_secs(4));
    assert_eq!(
        recorder(&net, "sink").unwrap().heard.len(),
        0,
        "paused: nothing read"
    );
    let client = net
        .node("streamer")
        .and_then(|n| n.downcast_ref::<Host<FactoryProgram<StreamingClientFactory>>>())
        .and_then(|h| h.program().last_protocol())
        .map(StreamingClient::pauses)
        .unwrap();
    assert!(client >= 1, "the producer was paused");
    net.run_until(Instant::from_secs(60));
    let sink = recorder(&net, "sink").unwrap();
    assert_eq!(
        sink.heard.len(),
        (1 << 21) - 2,
        "everything arrived once reading resumed"
    );
    assert_eq!(sink.lost, Some(Disconnect::Clean));
}

#[test]
fn one_byte_segmentation_cuts_every_read_to_a_byte() {
    let config = NetConfig {
        segmentation: Segmentation::Fixed(1),
        ..NetConfig::default()
    };
    let mut net = SimNet::new(config, 1);
    let talker = Recorder {
        greeting: b"hello",
        ..Recorder::default()
    };
    net.add_host("a", move || {
        boxed(FactoryProgram::new(RecorderFactory(talker.clone())).connect(HostPort::new("b", 1)))
    });
    net.add_host("b", || {
        boxed(
            FactoryProgram::new(RecorderFactory(Recorder::default())).listen(HostPort::new("", 1)),
        )
    });
    net.run_until(Instant::from_secs(1));
    let b = recorder(&net, "b").unwrap();
    assert_eq!((b.heard.as_slice(), b.reads), (&b"hello"[..], 5));
}

#[test]
fn reset_fault_resets_both_ends() {
    let mut net = SimNet::new(NetConfig::default(), 1);
    net.add_host("a", || {
        boxed(
            FactoryProgram::new(RecorderFactory(Recorder::default()))
                .connect(HostPort::new("b", 1)),
        )
    });
    net.add_host("b", || {
        boxed(
            FactoryProgram::new(RecorderFactory(Recorder::default())).listen(HostPort::new("", 1)),
        )
    });
    net.add_fault(Fault::at(
        secs(1),
        FaultAction::Reset(ResetSpec {
            host: "b".into(),
            port: None,
        }),
    ));
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
    net.add_host("a", move || {
        boxed(FactoryProgram::new(RecorderFactory(talker.clone())).connect(HostPort::new("b", 1)))
    });
    net.add_host("b", || {
        boxed(
            FactoryProgram::new(RecorderFactory(Recorder::default())).listen(HostPort::new("", 1)),
        )
    });
    net.add_fault(Fault::after(
        Trigger {
            from: "a".into(),
            to: "b".into(),
            bytes: None,
            netstrings: Some(3),
        },
        FaultAction::Reset(ResetSpec {
            host: "b".into(),
            port: None,
        }),
    ));
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
    net.add_fault(Fault::at(secs(40), FaultAction::Crash("server".into())));
    net.add_fault(Fault::at(secs(50), FaultAction::Restart("server".into())));
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
    net.add_host("beater", || {
        boxed(FactoryProgram::new(HeartbeatFactory).connect(HostPort::new("listener", 7)))
    });
    net.add_host("listener", || {
        boxed(
            FactoryProgram::new(RecorderFactory(Recorder::default())).listen(HostPort::new("", 7)),
        )
    });
    net.add_fault(Fault::at(
        secs(1),
        FaultAction::ClockJump(ClockJumpSpec {
            host: "beater".into(),
            by: secs(60),
        }),
    ));
    net.run_until(Instant::from_secs(2));
    // Beat at 0; the jump to 61 s on the beater's clock runs one (skipping) beat.
    assert_eq!(recorder(&net, "listener").unwrap().heard, b"**");
}

#[test]
fn half_close_over_the_network_lets_the_peer_answer() {
    #[derive(Clone, Default)]
    struct Asker {
        heard: Vec<u8>,
    }
    impl Protocol for Asker {
        type Timer = NoTimer;
        fn connection_made(&mut self, cx: &mut Context<'_, NoTimer>) {
            cx.write(b"question");
            cx.lose_write_connection();
        }
        fn data_received(&mut self, _cx: &mut Context<'_, NoTimer>, data: &[u8]) {
            self.heard.extend_from_slice(data);
        }
    }
    #[derive(Clone)]
    struct AskerFactory;
    impl Factory for AskerFactory {
        type Protocol = Asker;
        fn build_protocol(&mut self, _: std::net::SocketAddr) -> Asker {
            Asker::default()
        }
    }
    let answerer = Recorder {
        greeting: b"answer",
        ..Recorder::default()
    };
    let mut net = SimNet::new(NetConfig::default(), 1);
    net.add_host("asker", || {
        boxed(
            FactoryProgram::new(AskerFactory)
                .connect(HostPort::new("answerer", 3))
                .exit_when_done(),
        )
    });
    net.add_host("answerer", move || {
        boxed(FactoryProgram::new(RecorderFactory(answerer.clone())).listen(HostPort::new("", 3)))
    });
    assert!(net.run_until_exit(&["asker"], secs(5)));
    assert_eq!(
        net.exit_code("asker"),
        Some(0),
        "both directions closed cleanly"
    );
    let answerer = recorder(&net, "answerer").unwrap();
    assert_eq!(
        (answerer.heard.as_slice(), answerer.eof),
        (&b"question"[..], true)
    );
}

#[test]
fn pingpong_transcript_over_simnet() {
    let config = NetConfig {
        latency: Latency::Fixed(Duration::from_millis(5)),
        ..NetConfig::default()
    };
    let mut net = SimNet::new(config, 1);
    net.add_host("server", || {
        boxed(
            FactoryProgram::new(PingPongFactory::server(None))
                .listen(HostPort::new("0.0.0.0", 8000)),
        )
    });
    net.add_host("client", || {
        boxed(
            FactoryProgram::new(PingPongFactory::client(Some(5)))
                .connect(HostPort::new("server", 8000))
                .exit_when_done(),
        )
    });
    net.run_until_exit(&["client"], secs(10));
    net.run_for(secs(1));
    assert_snapshot!("simnet_pingpong_max_5", net.transcript().render());
}

/// Listens with a backlog, does not accept until `open_at`, and records when each
/// connection reached it and what it read.
struct Gatekeeper {
    backlog: u32,
    open_at: Duration,
    listener: Option<weft::host::ListenerId>,
    accepted: Vec<(Instant, Vec<u8>)>,
}

impl weft::host::Program for Gatekeeper {
    type Timer = ();
    fn start(&mut self, cx: &mut weft::host::HostContext<'_, ()>) {
        let listener = cx.listen_with_backlog(HostPort::new("", 80), self.backlog);
        cx.pause_accepting(listener);
        self.listener = Some(listener);
        weft::clock::Clock::call_later(cx, self.open_at, ());
    }
    fn timer_fired(&mut self, cx: &mut weft::host::HostContext<'_, ()>, (): ()) {
        cx.resume_accepting(self.listener.unwrap());
    }
    fn connection_made(&mut self, cx: &mut weft::host::HostContext<'_, ()>, _: weft::host::ConnId) {
        self.accepted
            .push((weft::clock::Clock::now(cx), Vec::new()));
    }
    fn data_received(
        &mut self,
        _: &mut weft::host::HostContext<'_, ()>,
        _: weft::host::ConnId,
        data: &[u8],
    ) {
        self.accepted.last_mut().unwrap().1.extend_from_slice(data);
    }
    fn connection_lost(
        &mut self,
        _: &mut weft::host::HostContext<'_, ()>,
        _: weft::host::ConnId,
        _: Disconnect,
    ) {
    }
    fn connect_failed(
        &mut self,
        _: &mut weft::host::HostContext<'_, ()>,
        _: weft::host::ConnId,
        _: ConnectError,
    ) {
    }
}

fn gate_net(backlog: u32, clients: &[&'static str]) -> SimNet {
    let mut net = SimNet::new(NetConfig::default(), 1);
    net.add_host("gate", move || {
        boxed(Gatekeeper {
            backlog,
            open_at: secs(5),
            listener: None,
            accepted: Vec::new(),
        })
    });
    for &name in clients {
        let talker = Recorder {
            greeting: name.as_bytes(),
            ..Recorder::default()
        };
        net.add_host(name, move || {
            boxed(
                FactoryProgram::new(RecorderFactory(talker.clone()))
                    .connect(HostPort::new("gate", 80)),
            )
        });
    }
    net
}

fn accepted(net: &SimNet) -> Vec<(Instant, Vec<u8>)> {
    net.node("gate")
        .unwrap()
        .downcast_ref::<Host<Gatekeeper>>()
        .unwrap()
        .program()
        .accepted
        .clone()
}

#[test]
fn a_paused_listener_holds_connections_in_its_backlog_until_it_accepts() {
    let mut net = gate_net(5, &["early"]);
    net.run_until(Instant::from_secs(4));
    // The kernel completed the handshake: the client is connected and has written...
    let client_open = net
        .transcript()
        .events()
        .iter()
        .any(|e| e.who.starts_with("early:") && e.what == EventKind::Open);
    assert!(client_open);
    // ...but the server's program has heard nothing yet.
    assert!(accepted(&net).is_empty());
    net.run_until(Instant::from_secs(6));
    assert_eq!(
        accepted(&net),
        [(Instant::from_secs(5), b"early".to_vec())],
        "accepted at the resume, with its buffered bytes"
    );
}

#[test]
fn a_full_backlog_leaves_a_syn_unanswered_until_there_is_room() {
    let mut net = gate_net(1, &["first", "second"]);
    net.run_until(Instant::from_secs(20));
    let accepted = accepted(&net);
    assert_eq!(accepted.len(), 2);
    assert_eq!(accepted[0], (Instant::from_secs(5), b"first".to_vec()));
    // The second SYN found the backlog full and was retransmitted (0.2, 0.6, 1.4, 3.0,
    // 6.2 s after a doubling 200 ms timeout): it gets in on the try after the resume.
    let (at, data) = &accepted[1];
    assert!(
        *at > Instant::from_secs(5) && *at < Instant::from_secs(7),
        "{at}"
    );
    assert_eq!(data, b"second");
}
