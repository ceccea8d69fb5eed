//! Every connect ends exactly once — in `connection_made` or a connect failure —
//! whatever fault lands while its handshake is in flight.
//!
//! Dialers connect to a server over and over (some give up on their own connects,
//! some wait longer than the network retransmits), under generated schedules of every
//! fault a scenario can say and generated re-segmentation. A wrapper around each dialer's
//! node counts, per connect, the network's answers; at the end every connect of a
//! running dialer has had exactly one, and no connect anywhere has had two.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

use weft::host::{
    Command, ConnId, ConnPoll, ConnectError, FactoryProgram, Host, HostContext, HostPort, HostRng,
    ListenError, ListenerId, Node, Program, Stream,
};
use weft::protocol::{Context, Factory, NoTimer, Protocol};
use weft::simnet::{Fault, HostStatus, Latency, NetConfig, SimNet};
use weft::testing::strategies::{Schedule, segmentation};
use weft::testing::{EventKind, Segmentation};
use weft::time::Instant;
use weft::transport::{CloseAction, Disconnect};

const SERVER: &str = "server";
const PORT: u16 = 7000;

/// Dialers: (name, connect timeout, gives up on its own connect after).
const DIALERS: [(&str, Duration, Option<Duration>); 3] = [
    ("alice", Duration::from_millis(400), None),
    // Waits longer for a connect than the network retransmits a lost SYN.
    ("bob", Duration::from_secs(4), None),
    // Withdraws its connects (abort_connection), often mid-handshake.
    (
        "carol",
        Duration::from_secs(2),
        Some(Duration::from_millis(30)),
    ),
];

/// How the network answered one connect.
#[derive(Clone, Debug, Default)]
struct Answers {
    /// The program withdrew it: at most one answer may still come.
    withdrawn: bool,
    made: u32,
    failed: Vec<ConnectError>,
}

impl Answers {
    fn count(&self) -> usize {
        self.made as usize + self.failed.len()
    }
}

/// The connects of one incarnation of a host, by id.
type Connects = Rc<RefCell<BTreeMap<ConnId, Answers>>>;

/// Every incarnation of one host, oldest first.
type Incarnations = Rc<RefCell<Vec<Connects>>>;

/// Forwards everything to `inner`, counting the network's answers to each connect.
struct Answered {
    inner: Box<dyn Node>,
    connects: Connects,
}

impl Node for Answered {
    fn set_rng(&mut self, rng: HostRng) {
        self.inner.set_rng(rng);
    }
    fn start(&mut self, now: Instant) {
        self.inner.start(now);
    }
    fn exit_code(&self) -> Option<i32> {
        self.inner.exit_code()
    }
    fn poll_command(&mut self) -> Option<Command> {
        let command = self.inner.poll_command()?;
        let mut connects = self.connects.borrow_mut();
        match &command {
            Command::Connect { conn, .. } => {
                connects.insert(*conn, Answers::default());
            }
            Command::CancelConnect { conn } => {
                connects.entry(*conn).or_default().withdrawn = true;
            }
            _ => {}
        }
        Some(command)
    }
    fn poll_dirty(&mut self) -> Option<ConnId> {
        self.inner.poll_dirty()
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        self.inner.poll_timeout()
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.inner.handle_timeout(now);
    }
    fn pending(&self, conn: ConnId) -> &[u8] {
        self.inner.pending(conn)
    }
    fn consume(&mut self, now: Instant, conn: ConnId, n: usize) {
        self.inner.consume(now, conn, n);
    }
    fn close_action(&self, conn: ConnId) -> Option<CloseAction> {
        self.inner.close_action(conn)
    }
    fn write_shut_down(&mut self, conn: ConnId) {
        self.inner.write_shut_down(conn);
    }
    fn reading_paused(&self, conn: ConnId) -> bool {
        self.inner.reading_paused(conn)
    }
    fn accepts_data(&self, conn: ConnId) -> bool {
        self.inner.accepts_data(conn)
    }
    fn connections(&self) -> Vec<ConnId> {
        self.inner.connections()
    }
    fn handle_listening(&mut self, now: Instant, listener: ListenerId, addr: SocketAddr) {
        self.inner.handle_listening(now, listener, addr);
    }
    fn handle_listen_failed(&mut self, now: Instant, listener: ListenerId, error: ListenError) {
        self.inner.handle_listen_failed(now, listener, error);
    }
    fn handle_accepted(
        &mut self,
        now: Instant,
        listener: ListenerId,
        local: SocketAddr,
        peer: SocketAddr,
    ) -> ConnId {
        self.inner.handle_accepted(now, listener, local, peer)
    }
    fn handle_connected(
        &mut self,
        now: Instant,
        conn: ConnId,
        local: SocketAddr,
        peer: SocketAddr,
    ) -> bool {
        self.connects.borrow_mut().entry(conn).or_default().made += 1;
        self.inner.handle_connected(now, conn, local, peer)
    }
    fn handle_connect_failed(&mut self, now: Instant, conn: ConnId, error: ConnectError) {
        let mut connects = self.connects.borrow_mut();
        connects.entry(conn).or_default().failed.push(error.clone());
        drop(connects);
        self.inner.handle_connect_failed(now, conn, error);
    }
    fn handle_data(&mut self, now: Instant, conn: ConnId, data: &[u8]) {
        self.inner.handle_data(now, conn, data);
    }
    fn poll_conn(
        &mut self,
        now: Instant,
        conn: ConnId,
        room: usize,
        out: &mut VecDeque<u8>,
    ) -> ConnPoll {
        self.inner.poll_conn(now, conn, room, out)
    }
    fn deliver_data(&mut self, now: Instant, conn: ConnId, data: &[u8]) -> ConnPoll {
        self.inner.deliver_data(now, conn, data)
    }
    fn handle_read_closed(&mut self, now: Instant, conn: ConnId) {
        self.inner.handle_read_closed(now, conn);
    }
    fn handle_closed(&mut self, now: Instant, conn: ConnId, reason: Disconnect) {
        self.inner.handle_closed(now, conn, reason);
    }
}

/// No dialer starts a connect after this time on its clock.
const LAST_DIAL: Instant = Instant::from_secs(8);

/// Long enough for every connect to have ended: the last dial, plus the longest
/// connect timeout, plus slack.
const RUN_UNTIL: Instant = Instant::from_secs(20);

/// Connects to the server, says hello, hangs up a little later, and dials again,
/// until [`LAST_DIAL`].
struct Dialer {
    timeout: Duration,
    give_up_after: Option<Duration>,
}

#[derive(Clone, Copy, Debug)]
enum DialerTimer {
    Dial,
    GiveUp(ConnId),
    HangUp(ConnId),
}

impl Dialer {
    fn dial(&mut self, cx: &mut HostContext<'_, DialerTimer>) {
        if cx.now() > LAST_DIAL {
            return;
        }
        let conn = cx.connect(HostPort::new(SERVER, PORT), self.timeout);
        if let Some(after) = self.give_up_after {
            cx.call_later(after, DialerTimer::GiveUp(conn));
        }
    }

    fn dial_later(&mut self, cx: &mut HostContext<'_, DialerTimer>) {
        cx.call_later(Duration::from_millis(7), DialerTimer::Dial);
    }
}

impl Program for Dialer {
    type Timer = DialerTimer;

    fn start(&mut self, cx: &mut HostContext<'_, DialerTimer>) {
        self.dial(cx);
    }

    fn connection_made(&mut self, cx: &mut HostContext<'_, DialerTimer>, conn: ConnId) {
        cx.write(conn, b"hello");
        cx.call_later(Duration::from_millis(13), DialerTimer::HangUp(conn));
    }

    fn data_received(&mut self, _: &mut HostContext<'_, DialerTimer>, _: ConnId, _: &[u8]) {}

    fn connection_lost(&mut self, cx: &mut HostContext<'_, DialerTimer>, _: ConnId, _: Disconnect) {
        self.dial_later(cx);
    }

    fn connect_failed(
        &mut self,
        cx: &mut HostContext<'_, DialerTimer>,
        _: ConnId,
        _: ConnectError,
    ) {
        self.dial_later(cx);
    }

    fn timer_fired(&mut self, cx: &mut HostContext<'_, DialerTimer>, timer: DialerTimer) {
        match timer {
            DialerTimer::Dial => self.dial(cx),
            DialerTimer::GiveUp(conn) if cx.is_connecting(conn) => {
                cx.abort_connection(conn);
                self.dial_later(cx);
            }
            DialerTimer::GiveUp(_) => {}
            DialerTimer::HangUp(conn) => cx.lose_connection(conn),
        }
    }
}

/// Takes whatever arrives and closes when the peer does.
struct Sink;

impl Protocol for Sink {
    type Timer = NoTimer;
    fn data_received(&mut self, _: &mut Context<'_, NoTimer>, _: &[u8]) {}
}

struct SinkFactory;

impl Factory for SinkFactory {
    type Protocol = Sink;
    fn build_protocol(&mut self, _: SocketAddr) -> Sink {
        Sink
    }
}

/// Runs the dialers and the server under `faults`, long past every deadline, and
/// returns every dialer's incarnations with its final status.
fn dial_through(
    faults: &[Fault],
    segmentation: Segmentation,
) -> Vec<(&'static str, Option<HostStatus>, Incarnations)> {
    let config = NetConfig {
        latency: Latency::Uniform {
            min: Duration::from_millis(1),
            max: Duration::from_millis(20),
        },
        segmentation,
        // Shorter than bob's connect timeout: a lost SYN gives up first.
        retransmit_timeout: Duration::from_secs(2),
        ..NetConfig::default()
    };
    let mut net = SimNet::new(config, 11);
    for fault in faults {
        net.add_fault(fault.clone());
    }
    net.add_host(SERVER, || {
        Box::new(Host::new(
            FactoryProgram::new(SinkFactory).listen(HostPort::new("0.0.0.0", PORT)),
        ))
    });
    let mut dialers = Vec::new();
    for (name, timeout, give_up_after) in DIALERS {
        let incarnations = Incarnations::default();
        let all = incarnations.clone();
        net.add_host(name, move || {
            let connects = Connects::default();
            all.borrow_mut().push(connects.clone());
            let dialer = Dialer {
                timeout,
                give_up_after,
            };
            Box::new(Answered {
                inner: Box::new(Host::new(dialer)),
                connects,
            })
        });
        dialers.push((name, incarnations));
    }
    net.run_until(RUN_UNTIL);
    dialers
        .into_iter()
        .map(|(name, incarnations)| (name, net.status(name), incarnations))
        .collect()
}

fn every_connect_ends_once(
    faults: &[Fault],
    segmentation: Segmentation,
) -> Result<(), TestCaseError> {
    for (name, status, incarnations) in dial_through(faults, segmentation) {
        let incarnations = incarnations.borrow();
        let last = incarnations.len() - 1;
        for (i, connects) in incarnations.iter().enumerate() {
            // A crash silences a host's pending connects: only a running host's last
            // incarnation is owed an answer to each.
            let owed = i == last && status == Some(HostStatus::Running);
            for (conn, answers) in connects.borrow().iter() {
                prop_assert!(
                    answers.count() <= 1,
                    "{name}'s connect {conn} ended more than once: {answers:?}"
                );
                if owed && !answers.withdrawn {
                    prop_assert_eq!(
                        answers.count(),
                        1,
                        "{}'s connect {} never ended: {:?}",
                        name,
                        conn,
                        answers
                    );
                }
            }
        }
    }
    Ok(())
}

fn faults() -> Schedule {
    let hosts = [SERVER, "alice", "bob", "carol"];
    Schedule::new(hosts, Duration::from_secs(2))
        .crashable(hosts)
        .crashes(0..3)
        .clock_jumps(Duration::from_secs(5))
}

proptest! {
    #![proptest_config(Config {
        cases: 256,
        failure_persistence: None,
        // The same cases every run (a failure shrinks to the same schedule).
        rng_seed: RngSeed::Fixed(0x5eed),
        ..Config::default()
    })]

    #[test]
    fn every_connect_ends_exactly_once_whatever_faults_land_mid_handshake(
        schedule in faults().strategy(),
        cuts in segmentation(),
    ) {
        every_connect_ends_once(&schedule, cuts)?;
    }
}

/// The reproduction from issue 8: with 10 ms each way, the server accepts at 10 ms and
/// its SYN-ACK is on the wire until 20 ms; a reset of the client's connections at 15 ms
/// must end the connect there, as a refused connect (what TCP reports for a reset in
/// SYN-SENT), not leave it hanging past its timeout.
#[test]
fn a_reset_while_the_syn_ack_travels_fails_the_connect_as_refused() {
    let config = NetConfig {
        latency: Latency::Fixed(Duration::from_millis(10)),
        ..NetConfig::default()
    };
    let mut net = SimNet::new(config, 1);
    net.add_host(SERVER, || {
        Box::new(Host::new(
            FactoryProgram::new(SinkFactory).listen(HostPort::new("0.0.0.0", PORT)),
        ))
    });
    net.add_host("client", || {
        Box::new(Host::new(
            FactoryProgram::new(SinkFactory)
                .connect(HostPort::new(SERVER, PORT))
                .exit_when_done(),
        ))
    });
    net.add_fault(Fault::at(Duration::from_millis(15)).reset("client"));
    assert!(
        net.run_until_exit(&["client"], Duration::from_secs(120)),
        "the connect never ended:\n{}",
        net.transcript().render()
    );
    assert_eq!(net.now(), Instant::from_millis(15), "ended by the reset");
    assert_eq!(net.exit_code("client"), Some(1));
    assert_eq!(
        net.lines("client", Stream::Stderr),
        ["connection failed: connection refused"]
    );
    let events: Vec<(Instant, &str, &EventKind)> = (net.transcript().events().iter())
        .map(|e| (e.at, &*e.who, &e.what))
        .collect();
    assert!(
        events.contains(&(
            Instant::from_millis(15),
            "client",
            &EventKind::ConnectFailed("connection refused".into())
        )),
        "{events:#?}"
    );
    let server_lost: Vec<_> = (events.iter())
        .filter(|(_, who, what)| who.starts_with("server:") && matches!(what, EventKind::Lost(_)))
        .collect();
    assert_eq!(
        server_lost,
        [&(
            Instant::from_millis(15),
            "server:7000",
            &EventKind::Lost(Disconnect::Reset)
        )],
        "the accepted end is reset"
    );
    assert!(
        !(events.iter())
            .any(|(_, who, what)| who.starts_with("client:") && **what == EventKind::Open),
        "the client never hears connection_made"
    );
}

/// A SYN lost behind a dropping partition is retransmitted at 0.2, 0.6, 1.4 and 3 s;
/// with a 2 s retransmission timeout the last gives up, and the connect (whose own
/// timeout is Twisted's 30 s) fails there, as TCP's ETIMEDOUT would, not never.
#[test]
fn a_connect_whose_syn_retransmissions_give_up_times_out_then() {
    let config = NetConfig {
        latency: Latency::Fixed(Duration::from_millis(10)),
        retransmit_timeout: Duration::from_secs(2),
        ..NetConfig::default()
    };
    let mut net = SimNet::new(config, 1);
    net.add_host(SERVER, || {
        Box::new(Host::new(
            FactoryProgram::new(SinkFactory).listen(HostPort::new("0.0.0.0", PORT)),
        ))
    });
    net.add_host("client", || {
        Box::new(Host::new(
            FactoryProgram::new(SinkFactory)
                .connect(HostPort::new(SERVER, PORT))
                .exit_when_done(),
        ))
    });
    net.add_fault(Fault::at(Duration::ZERO).partition("client", SERVER));
    assert!(net.run_until_exit(&["client"], Duration::from_secs(120)));
    assert_eq!(
        net.now(),
        Instant::from_secs(3),
        "when retransmission gave up"
    );
    assert_eq!(
        net.lines("client", Stream::Stderr),
        ["connection failed: connection timed out"]
    );
}
