//! Connections on SimNet: latency, refusals, timeouts, back-pressure, re-segmentation,
//! half-close, determinism.

use super::*;

#[test]
fn pingpong_runs_unchanged_and_takes_virtual_time() {
    let config = NetConfig {
        latency: Latency::Fixed(Duration::from_millis(5)),
        ..NetConfig::default()
    };
    let mut net = pingpong_net(config, 1, 100);
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
        let mut net = pingpong_net(config.clone(), seed, 100);
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
    net.add_fault(Fault::at(Duration::ZERO).crash("server"));
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
        .program::<FactoryProgram<StreamingClientFactory>>("streamer")
        .and_then(FactoryProgram::last_protocol)
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
    connecting_recorder(&mut net, "a", HostPort::new("b", 1), talker);
    listening_recorder(&mut net, "b", 1, Recorder::default());
    net.run_until(Instant::from_secs(1));
    let b = recorder(&net, "b").unwrap();
    assert_eq!((b.heard.as_slice(), b.reads), (&b"hello"[..], 5));
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
    let mut net = pingpong_net(config, 1, 5);
    net.run_until_exit(&["client"], secs(10));
    net.run_for(secs(1));
    assert_snapshot!("simnet_pingpong_max_5", net.transcript().render());
}

/// A factory that remembers where its program listens.
struct ListeningFactory(std::rc::Rc<std::cell::RefCell<Vec<std::net::SocketAddr>>>);

impl Factory for ListeningFactory {
    type Protocol = Recorder;
    fn build_protocol(&mut self, _peer: std::net::SocketAddr) -> Recorder {
        Recorder::default()
    }
    fn listening(&mut self, addr: std::net::SocketAddr) {
        self.0.borrow_mut().push(addr);
    }
}

#[test]
fn a_factory_program_passes_the_port_it_got_for_port_0_to_its_factory() {
    let mut net = SimNet::new(NetConfig::default(), 1);
    let heard = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let shared = heard.clone();
    net.add_host("server", move || {
        let factory = ListeningFactory(shared.clone());
        boxed(
            FactoryProgram::new(factory)
                .listen(HostPort::new("0.0.0.0", 0))
                .listen(HostPort::new("127.0.0.1", 9000)),
        )
    });
    net.run_for(secs(1));
    let bound = heard.borrow().clone();
    assert_eq!(bound.len(), 2, "{bound:?}");
    assert_eq!(bound[0].ip().to_string(), "10.0.0.1");
    assert_ne!(
        bound[0].port(),
        0,
        "the port it got, not the 0 it asked for"
    );
    assert_eq!(bound[1], "127.0.0.1:9000".parse().unwrap());
    let host = net.node("server").unwrap();
    let program = host
        .downcast_ref::<Host<FactoryProgram<ListeningFactory>>>()
        .unwrap()
        .program();
    assert_eq!(program.listening_addrs(), bound.as_slice());
}
