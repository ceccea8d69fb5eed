//! The test doubles themselves: `StringTransport`, `MemoryReactor` and the `Pump`.

use std::net::SocketAddr;
use std::time::Duration;

use weft::flow::ProducerKind;
use weft::host::{ConnId, ConnectError, HostContext, HostPort, ListenerId, Program, Stream};
use weft::protocol::{Context, NoTimer, Protocol};
use weft::testing::{
    EventKind, MemoryReactor, Pump, PumpOptions, Segmentation, StringTransport, connected_pair,
};
use weft::transport::{Disconnect, ipv4};

/// Echoes what it reads; on the peer's end-of-stream says `bye` and closes.
#[derive(Default)]
struct Echo {
    reads: Vec<Vec<u8>>,
    lost: Option<Disconnect>,
}

impl Protocol for Echo {
    type Timer = NoTimer;
    fn data_received(&mut self, cx: &mut Context<'_, NoTimer>, data: &[u8]) {
        self.reads.push(data.to_vec());
        cx.write(data);
    }
    fn read_connection_lost(&mut self, cx: &mut Context<'_, NoTimer>) {
        cx.write(b"bye");
        cx.lose_connection();
    }
    fn connection_lost(&mut self, _cx: &mut Context<'_, NoTimer>, reason: Disconnect) {
        assert!(self.lost.is_none(), "connection_lost twice");
        self.lost = Some(reason);
    }
}

/// Writes a message on connect, then acts as told; records what it hears.
struct Talker {
    message: &'static [u8],
    then: Then,
    heard: Vec<u8>,
    eof: bool,
    lost: Option<Disconnect>,
}

#[derive(Clone, Copy)]
enum Then {
    Nothing,
    Close,
    HalfClose,
    Abort,
}

impl Talker {
    fn new(message: &'static [u8], then: Then) -> Self {
        Self {
            message,
            then,
            heard: Vec::new(),
            eof: false,
            lost: None,
        }
    }
}

impl Protocol for Talker {
    type Timer = NoTimer;
    fn connection_made(&mut self, cx: &mut Context<'_, NoTimer>) {
        cx.write(self.message);
        match self.then {
            Then::Nothing => {}
            Then::Close => cx.lose_connection(),
            Then::HalfClose => cx.lose_write_connection(),
            Then::Abort => cx.abort_connection(),
        }
    }
    fn data_received(&mut self, _cx: &mut Context<'_, NoTimer>, data: &[u8]) {
        self.heard.extend_from_slice(data);
    }
    fn read_connection_lost(&mut self, cx: &mut Context<'_, NoTimer>) {
        self.eof = true;
        cx.lose_connection();
    }
    fn connection_lost(&mut self, _cx: &mut Context<'_, NoTimer>, reason: Disconnect) {
        assert!(self.lost.is_none(), "connection_lost twice");
        self.lost = Some(reason);
    }
}

#[test]
fn string_transport_records_writes_until_cleared() {
    let mut t = StringTransport::new();
    weft::flow::Consumer::write(&mut t, b"abc");
    weft::flow::Consumer::write(&mut t, b"def");
    assert_eq!(t.value(), b"abcdef");
    t.clear();
    assert_eq!(t.value(), b"");
}

#[test]
fn string_transport_has_twisteds_default_addresses() {
    use weft::transport::Transport;
    let t = StringTransport::new();
    assert_eq!(t.host(), "10.0.0.1:12345".parse::<SocketAddr>().unwrap());
    assert_eq!(t.peer(), "192.168.1.1:54321".parse::<SocketAddr>().unwrap());
}

#[test]
fn plain_string_transport_only_flags_a_close() {
    let conn = StringTransport::new().make_connection(Talker::new(b"hi", Then::Close));
    assert!(conn.transport.disconnecting);
    assert!(
        conn.transport.connected,
        "no disconnection without the mode"
    );
    assert_eq!(conn.lost(), None);
    assert_eq!(conn.value(), b"hi");
}

#[test]
fn string_transport_with_disconnection_delivers_connection_lost_once() {
    let mut conn =
        StringTransport::with_disconnection().make_connection(Talker::new(b"hi", Then::Close));
    assert!(!conn.transport.connected);
    assert_eq!(conn.protocol.lost, Some(Disconnect::Clean));
    conn.connection_lost(Disconnect::Reset); // already lost: ignored
    assert_eq!(conn.protocol.lost, Some(Disconnect::Clean));
}

#[test]
fn string_transport_with_disconnection_clears_connected_but_not_disconnecting() {
    // Twisted's StringTransportWithDisconnection.loseConnection only sets
    // `connected = False` (and calls connectionLost); `disconnecting` stays False, for
    // an abort too (its abortConnection sets `disconnected`, then calls loseConnection).
    for then in [Then::Close, Then::Abort] {
        let conn = StringTransport::with_disconnection().make_connection(Talker::new(b"", then));
        assert!(!conn.transport.connected);
        assert!(!conn.transport.disconnecting);
    }
}

#[test]
fn string_transport_abort_sets_disconnected() {
    let conn = StringTransport::with_disconnection().make_connection(Talker::new(b"", Then::Abort));
    assert!(conn.transport.disconnected);
    // Twisted's double says ConnectionDone here; weft keeps the abort (README).
    assert_eq!(conn.protocol.lost, Some(Disconnect::Aborted));
    let plain = StringTransport::new().make_connection(Talker::new(b"", Then::Abort));
    assert!(plain.transport.disconnected && plain.transport.disconnecting);
    assert!(plain.transport.connected);
}

/// Records the order of its own steps around a close or a large write.
#[derive(Default)]
struct Steps {
    steps: Vec<&'static str>,
}

impl Protocol for Steps {
    type Timer = NoTimer;
    fn connection_made(&mut self, cx: &mut Context<'_, NoTimer>) {
        cx.register_producer(ProducerKind::Push).unwrap();
        cx.write(&[b'*'; 70_000]); // past the 64 KiB high-water mark
        self.steps.push("after write");
    }
    fn data_received(&mut self, cx: &mut Context<'_, NoTimer>, _data: &[u8]) {
        cx.lose_connection();
        self.steps.push("after lose_connection");
    }
    fn connection_lost(&mut self, _cx: &mut Context<'_, NoTimer>, _reason: Disconnect) {
        self.steps.push("connection_lost");
    }
    fn pause_producing(&mut self, _cx: &mut Context<'_, NoTimer>) {
        self.steps.push("pause_producing");
    }
}

#[test]
fn connection_lost_is_delivered_when_the_closing_callback_returns() {
    // Twisted calls connectionLost from inside loseConnection, so its order is the
    // reverse; Rust's borrow of the protocol during its callback rules that out, and
    // weft delivers it before anything else happens (README, "Twisted to weft").
    let mut conn = StringTransport::with_disconnection().make_connection(Steps::default());
    conn.data_received(b"bye");
    assert_eq!(
        conn.protocol.steps,
        ["after write", "after lose_connection", "connection_lost"]
    );
}

#[test]
fn a_push_producer_is_paused_when_the_callback_that_filled_the_buffer_returns() {
    // Twisted pauses the producer from inside the `write` that crosses the high-water
    // mark; weft's transport queues the pause and the pump delivers it as soon as the
    // callback returns, before any byte moves.
    let pump = connected_pair(Steps::default(), Echo::default());
    assert_eq!(pump.client.steps, ["after write", "pause_producing"]);
    let events = pump.transcript().events();
    let paused = events.iter().position(|e| e.what == EventKind::Paused);
    let first_data = events
        .iter()
        .position(|e| matches!(e.what, EventKind::Data(_)));
    assert!(paused.is_some(), "the pause is in the transcript");
    assert!(first_data.is_none_or(|data| paused < Some(data)));
}

#[test]
fn string_transport_refuses_a_second_producer() {
    use weft::flow::{Consumer, ProducerError};
    let mut t = StringTransport::new();
    t.register_producer(ProducerKind::Push).unwrap();
    assert_eq!(
        t.register_producer(ProducerKind::Pull),
        Err(ProducerError::AlreadyRegistered)
    );
    t.unregister_producer().unwrap();
    assert_eq!(t.unregister_producer(), Err(ProducerError::NotRegistered));
}

#[test]
fn pump_moves_bytes_both_ways_and_reports_whether_anything_moved() {
    let mut pump = connected_pair(Talker::new(b"ping", Then::Nothing), Echo::default());
    assert!(pump.pump(), "the greeting moved");
    assert_eq!(pump.server.reads, vec![b"ping".to_vec()]);
    assert!(pump.pump(), "the echo moved");
    assert_eq!(pump.client.heard, b"ping");
    assert!(!pump.pump(), "quiet");
}

#[test]
fn pump_delivers_client_to_server_first() {
    let mut pump = connected_pair(
        Talker::new(b"c", Then::Nothing),
        Talker::new(b"s", Then::Nothing),
    );
    pump.pump();
    let order: Vec<&str> = pump
        .transcript()
        .events()
        .iter()
        .filter(|e| matches!(e.what, EventKind::Data(_)))
        .map(|e| &*e.who)
        .collect();
    assert_eq!(order, ["client > server", "server > client"]);
}

#[test]
fn closing_side_hears_connection_lost_first_and_peer_gets_eof() {
    let mut pump = connected_pair(Talker::new(b"last words", Then::Close), Echo::default());
    pump.flush();
    assert_eq!(pump.server.reads, vec![b"last words".to_vec()]);
    // The client stopped reading when it asked to close: the echo is discarded.
    assert_eq!(pump.client.heard, b"");
    assert_eq!(pump.client.lost, Some(Disconnect::Clean));
    assert_eq!(pump.server.lost, Some(Disconnect::Clean));
    let kinds: Vec<(&str, &EventKind)> = pump
        .transcript()
        .events()
        .iter()
        .map(|e| (&*e.who, &e.what))
        .filter(|(_, w)| matches!(w, EventKind::Lost(_) | EventKind::Eof))
        .collect();
    assert_eq!(
        kinds,
        [
            ("client", &EventKind::Lost(Disconnect::Clean)),
            ("server", &EventKind::Eof),
            ("server", &EventKind::Lost(Disconnect::Clean)),
        ]
    );
}

#[test]
fn half_close_lets_the_peer_answer_before_closing() {
    let mut pump = connected_pair(Talker::new(b"request", Then::HalfClose), Echo::default());
    pump.flush();
    assert_eq!(pump.client.heard, b"requestbye");
    assert!(pump.client.eof);
    assert_eq!(pump.client.lost, Some(Disconnect::Clean));
    assert_eq!(pump.server.lost, Some(Disconnect::Clean));
}

#[test]
fn abort_discards_queued_bytes_and_resets_the_peer() {
    let mut pump = connected_pair(Talker::new(b"never sent", Then::Abort), Echo::default());
    pump.flush();
    assert!(pump.server.reads.is_empty());
    assert_eq!(pump.client.lost, Some(Disconnect::Aborted));
    assert_eq!(pump.server.lost, Some(Disconnect::Reset));
}

#[test]
fn one_byte_segmentation_delivers_a_read_per_byte() {
    let options = PumpOptions {
        to_server: Segmentation::Fixed(1),
        ..PumpOptions::default()
    };
    let mut pump = Pump::new(
        options,
        Talker::new(b"abcd", Then::Nothing),
        Echo::default(),
    );
    pump.flush();
    assert_eq!(
        pump.server.reads,
        vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec(), b"d".to_vec()]
    );
    assert_eq!(pump.client.heard, b"abcd");
}

#[test]
fn read_size_bounds_what_moves_per_pump() {
    let options = PumpOptions {
        read_size: Some(3),
        ..PumpOptions::default()
    };
    let mut pump = Pump::new(
        options,
        Talker::new(b"abcdefgh", Then::Nothing),
        Echo::default(),
    );
    pump.pump();
    assert_eq!(pump.server.reads, vec![b"abc".to_vec()]);
    pump.flush();
    assert_eq!(pump.client.heard, b"abcdefgh");
}

#[test]
#[should_panic(expected = "too long")]
fn flush_gives_up_on_endless_talk() {
    use weft::programs::pingpong::PingPongFactory;
    use weft::protocol::Factory;
    let mut pump = connected_pair(
        PingPongFactory::client(None).build_protocol(ipv4(127, 0, 0, 1, 1)),
        PingPongFactory::server(None).build_protocol(ipv4(127, 0, 0, 1, 2)),
    );
    pump.flush();
}

#[test]
fn run_for_jumps_between_timers_and_stops_on_time() {
    use weft::programs::heartbeat::Heartbeat;
    let mut pump = connected_pair(Heartbeat::default(), Echo::default());
    pump.run_for(Duration::from_secs(95));
    assert_eq!(pump.client.beats(), 4, "at 0, 30, 60 and 90 s");
    assert_eq!(pump.now().as_nanos(), 95_000_000_000);
    assert_eq!(pump.server.reads.concat(), b"****");
}

/// A program for the reactor tests: listens, connects to two servers, greets
/// whoever connects, and reports failures.
#[derive(Default)]
struct Switchboard {
    made: Vec<ConnId>,
    failed: Vec<(ConnId, ConnectError)>,
    lost: Vec<(ConnId, Disconnect)>,
    listening: Vec<SocketAddr>,
}

impl Program for Switchboard {
    type Timer = ();
    fn start(&mut self, cx: &mut HostContext<'_, ()>) {
        cx.listen(HostPort::new("127.0.0.1", 8000));
        cx.connect(HostPort::new("upstream", 10000), Duration::from_secs(5));
        cx.connect(
            "10001".parse().unwrap(),
            weft::host::DEFAULT_CONNECT_TIMEOUT,
        );
    }
    fn connection_made(&mut self, cx: &mut HostContext<'_, ()>, conn: ConnId) {
        self.made.push(conn);
        cx.write(conn, b"hello\n");
    }
    fn data_received(&mut self, cx: &mut HostContext<'_, ()>, conn: ConnId, data: &[u8]) {
        if data == b"quit" {
            cx.lose_connection(conn);
        }
    }
    fn connection_lost(&mut self, _cx: &mut HostContext<'_, ()>, conn: ConnId, reason: Disconnect) {
        self.lost.push((conn, reason));
    }
    fn connect_failed(&mut self, cx: &mut HostContext<'_, ()>, conn: ConnId, error: ConnectError) {
        cx.eprint(format!("{conn}: {error}"));
        self.failed.push((conn, error));
    }
    fn listening(&mut self, _cx: &mut HostContext<'_, ()>, _: ListenerId, addr: SocketAddr) {
        self.listening.push(addr);
    }
}

#[test]
fn memory_reactor_records_listens_and_connects_with_twisteds_defaults() {
    let reactor = MemoryReactor::new(Switchboard::default());
    let server = &reactor.tcp_servers()[0];
    assert_eq!(
        (server.port, server.interface.as_str(), server.backlog),
        (8000, "127.0.0.1", 50)
    );
    let clients = reactor.tcp_clients();
    assert_eq!(
        (clients[0].host.as_str(), clients[0].port),
        ("upstream", 10000)
    );
    assert_eq!(clients[0].timeout, Duration::from_secs(5));
    assert_eq!(
        (clients[1].host.as_str(), clients[1].port),
        ("127.0.0.1", 10001)
    );
    assert_eq!(clients[1].timeout, Duration::from_secs(30));
    assert!(
        reactor.program().made.is_empty(),
        "connects never complete by themselves"
    );
}

#[test]
fn memory_reactor_listens_at_once_at_the_port_asked_for_as_twisteds_listen_tcp_does() {
    let reactor = MemoryReactor::new(Switchboard::default());
    assert_eq!(
        reactor.program().listening,
        vec!["127.0.0.1:8000".parse::<SocketAddr>().unwrap()]
    );
}

#[test]
fn memory_reactor_completes_and_fails_connects_on_request() {
    let mut reactor = MemoryReactor::new(Switchboard::default());
    let up = reactor.complete_connect(0);
    assert_eq!(reactor.value(up), b"hello\n");
    reactor.fail_connect(1, ConnectError::Refused);
    let failed = reactor.tcp_clients()[1].conn;
    assert_eq!(
        reactor.program().failed,
        vec![(failed, ConnectError::Refused)]
    );
    assert_eq!(
        reactor.lines(Stream::Stderr),
        vec![format!("{failed}: connection refused")]
    );
}

#[test]
fn memory_reactor_accepts_and_closes_like_a_string_transport() {
    let mut reactor = MemoryReactor::new(Switchboard::default());
    let conn = reactor.accept(0, ipv4(192, 168, 1, 1, 54321));
    assert_eq!(reactor.value(conn), b"hello\n");
    reactor.data_received(conn, b"quit");
    assert!(!reactor.is_connected(conn));
    assert_eq!(reactor.program().lost, vec![(conn, Disconnect::Clean)]);
    // Bytes after the close go nowhere.
    reactor.data_received(conn, b"late");
    assert_eq!(reactor.program().lost.len(), 1);
}

#[test]
fn memory_reactor_records_the_backlog_and_whether_accepting_is_paused() {
    use weft::programs::poetry::{Pace, Poem, SERIAL_BACKLOG, SerialPoetryServer};
    let server = SerialPoetryServer::new(
        HostPort::new("127.0.0.1", 10000),
        Poem::new(&b"two chunks"[..]),
        Pace::new(5, Duration::from_millis(100)),
    );
    let mut reactor = MemoryReactor::new(server);
    assert_eq!(reactor.tcp_servers()[0].backlog, SERIAL_BACKLOG);
    assert!(!reactor.tcp_servers()[0].paused);
    let conn = reactor.accept(0, ipv4(192, 168, 1, 1, 50000));
    assert!(reactor.tcp_servers()[0].paused, "busy with one client");
    reactor.advance(Duration::from_millis(100));
    reactor.advance(Duration::from_millis(100));
    assert_eq!(reactor.value(conn), b"two chunks");
    assert!(!reactor.is_connected(conn));
    assert!(!reactor.tcp_servers()[0].paused, "idle again");
}
