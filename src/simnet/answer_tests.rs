//! The short path of an arrival (its reads' answer put on the wire in the same pass)
//! against settling: the same runs, event for event.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use super::{Latency, Level, NetConfig, SimNet};
use crate::clock::{CallId, Clock};
use crate::host::{
    Command, ConnId, ConnPoll, ConnectError, FactoryProgram, Host, HostContext, HostPort, HostRng,
    ListenError, ListenerId, Node, Program,
};
use crate::programs::pingpong::PingPongFactory;
use crate::testing::Segmentation;
use crate::time::Instant;
use crate::transport::{CloseAction, Disconnect};

/// A server that answers every read with a byte and, every few reads, does what makes
/// a host anything but quiet: prints, logs, sets, resets and cancels a timer, writes
/// to another connection.
#[derive(Default)]
struct Busy {
    conns: Vec<ConnId>,
    reads: u64,
    call: Option<CallId>,
}

#[derive(Clone, Copy, Debug)]
struct Tick(ConnId);

impl Program for Busy {
    type Timer = Tick;

    fn start(&mut self, cx: &mut HostContext<'_, Tick>) {
        cx.listen(HostPort::new("0.0.0.0", 8000));
    }

    fn connection_made(&mut self, _: &mut HostContext<'_, Tick>, conn: ConnId) {
        self.conns.push(conn);
    }

    fn data_received(&mut self, cx: &mut HostContext<'_, Tick>, conn: ConnId, _: &[u8]) {
        self.reads += 1;
        let n = self.reads;
        cx.write(conn, b"*");
        if n % 5 == 1 {
            cx.print(format!("read {n} at {}", cx.now()));
        }
        if n % 7 == 2 && self.call.is_none() {
            self.call = Some(cx.call_later(Duration::from_millis(3), Tick(conn)));
        }
        if n % 7 == 3
            && let Some(call) = self.call
        {
            let _ = cx.reset(call, Duration::from_millis(1));
        }
        if n % 17 == 6
            && let Some(call) = self.call.take()
        {
            let _ = cx.cancel(call);
        }
        if n % 11 == 4
            && let Some(&other) = self.conns.iter().find(|&&c| c != conn)
        {
            cx.write(other, b"x");
        }
        if n % 13 == 5 {
            tracing::info!("read {n}");
        }
    }

    fn timer_fired(&mut self, cx: &mut HostContext<'_, Tick>, Tick(conn): Tick) {
        self.call = None;
        cx.write(conn, b"t");
    }

    fn connection_lost(&mut self, _: &mut HostContext<'_, Tick>, conn: ConnId, _: Disconnect) {
        self.conns.retain(|&c| c != conn);
    }

    fn connect_failed(&mut self, _: &mut HostContext<'_, Tick>, _: ConnId, _: ConnectError) {}
}

/// A node that never answers in the delivery's call (the `Node` default), so every
/// arrival is settled the long way.
struct Unanswering(Box<dyn Node>);

impl Node for Unanswering {
    fn set_rng(&mut self, rng: HostRng) {
        self.0.set_rng(rng);
    }
    fn start(&mut self, now: Instant) {
        self.0.start(now);
    }
    fn exit_code(&self) -> Option<i32> {
        self.0.exit_code()
    }
    fn poll_command(&mut self) -> Option<Command> {
        self.0.poll_command()
    }
    fn poll_dirty(&mut self) -> Option<ConnId> {
        self.0.poll_dirty()
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        self.0.poll_timeout()
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.0.handle_timeout(now);
    }
    fn pending(&self, conn: ConnId) -> &[u8] {
        self.0.pending(conn)
    }
    fn consume(&mut self, now: Instant, conn: ConnId, n: usize) {
        self.0.consume(now, conn, n);
    }
    fn close_action(&self, conn: ConnId) -> Option<CloseAction> {
        self.0.close_action(conn)
    }
    fn write_shut_down(&mut self, conn: ConnId) {
        self.0.write_shut_down(conn);
    }
    fn reading_paused(&self, conn: ConnId) -> bool {
        self.0.reading_paused(conn)
    }
    fn accepts_data(&self, conn: ConnId) -> bool {
        self.0.accepts_data(conn)
    }
    fn connections(&self) -> Vec<ConnId> {
        self.0.connections()
    }
    fn poll_conn(
        &mut self,
        now: Instant,
        conn: ConnId,
        room: usize,
        out: &mut VecDeque<u8>,
    ) -> ConnPoll {
        self.0.poll_conn(now, conn, room, out)
    }
    fn deliver_data(&mut self, now: Instant, conn: ConnId, data: &[u8]) -> ConnPoll {
        self.0.deliver_data(now, conn, data)
    }
    fn handle_listening(&mut self, now: Instant, listener: ListenerId, addr: SocketAddr) {
        self.0.handle_listening(now, listener, addr);
    }
    fn handle_listen_failed(&mut self, now: Instant, listener: ListenerId, error: ListenError) {
        self.0.handle_listen_failed(now, listener, error);
    }
    fn handle_accepted(
        &mut self,
        now: Instant,
        listener: ListenerId,
        local: SocketAddr,
        peer: SocketAddr,
    ) -> ConnId {
        self.0.handle_accepted(now, listener, local, peer)
    }
    fn handle_connected(
        &mut self,
        now: Instant,
        conn: ConnId,
        local: SocketAddr,
        peer: SocketAddr,
    ) -> bool {
        self.0.handle_connected(now, conn, local, peer)
    }
    fn handle_connect_failed(&mut self, now: Instant, conn: ConnId, error: ConnectError) {
        self.0.handle_connect_failed(now, conn, error);
    }
    fn handle_data(&mut self, now: Instant, conn: ConnId, data: &[u8]) {
        self.0.handle_data(now, conn, data);
    }
    fn handle_read_closed(&mut self, now: Instant, conn: ConnId) {
        self.0.handle_read_closed(now, conn);
    }
    fn handle_closed(&mut self, now: Instant, conn: ConnId, reason: Disconnect) {
        self.0.handle_closed(now, conn, reason);
    }
}

/// The busy server and two ping-pong clients; `wrap` dresses every node.
fn busy_run(seed: u64, wrap: fn(Box<dyn Node>) -> Box<dyn Node>) -> SimNet {
    let config = NetConfig {
        latency: Latency::Uniform {
            min: Duration::from_millis(1),
            max: Duration::from_millis(5),
        },
        segmentation: Segmentation::Seeded { seed: 3, max: 2 },
        ..NetConfig::default()
    };
    let mut net = SimNet::new(config, seed).capture_logs(Level::INFO);
    net.add_host("server", move || wrap(Box::new(Host::new(Busy::default()))));
    for name in ["a", "b"] {
        net.add_host(name, move || {
            let client = FactoryProgram::new(PingPongFactory::client(Some(400)))
                .connect(HostPort::new("server", 8000))
                .exit_when_done();
            wrap(Box::new(Host::new(client)))
        });
    }
    let exited = net.run_until_exit(&["a", "b"], Duration::from_secs(60));
    assert!(exited, "the clients finish");
    net
}

#[test]
fn a_host_busy_inside_data_received_has_it_carried_out_as_settling_would() {
    for seed in [1, 2, 3] {
        let short = busy_run(seed, |node| node);
        let long = busy_run(seed, |node| Box::new(Unanswering(node)));
        assert!(short.answered_in_pass > 0, "the short path was taken");
        assert_eq!(long.answered_in_pass, 0, "and here never");
        let (short_text, long_text) = (short.transcript().render(), long.transcript().render());
        // The busy host's doings made it into the run: each is a non-quiet delivery.
        for needle in ["out: read 6 ", "log: read 18", r#"1 B  "t""#, r#"1 B  "x""#] {
            assert!(short_text.contains(needle), "{needle:?} in the transcript");
        }
        assert_eq!(short_text, long_text, "seed {seed}");
        assert_eq!(short.output("server"), long.output("server"));
        assert_eq!(short.events_processed(), long.events_processed());
        assert_eq!(short.now(), long.now());
    }
}
