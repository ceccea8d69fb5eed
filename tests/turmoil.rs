//! The tokio driver over turmoil's simulated network: the same driver code as on real
//! TCP, with turmoil's clock and sockets. Ports here are simulated, so fixed ones are
//! safe; hosts find each other through turmoil's DNS.

mod support;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use weft::host::{
    ConnId, ConnectError, FactoryProgram, Host, HostContext, HostPort, Program, Stream,
};
use weft::net::{Turmoil, run_on};
use weft::programs::heartbeat::HeartbeatFactory;
use weft::programs::pingpong::PingPongFactory;
use weft::time::Instant;
use weft::transport::Disconnect;

use support::{BeatCounterFactory, Ended, Probe, Stats, probe};

const PORT: u16 = 8000;

type Lines = Vec<(Stream, String)>;

/// What a simulated program left behind: its exit status, how its connections ended,
/// its connect failures and its printed lines.
#[derive(Debug, Default)]
struct Outcome {
    code: Option<i32>,
    ended: Vec<Ended>,
    failed: Vec<ConnectError>,
    lines: Lines,
}

type Shared = Rc<RefCell<Outcome>>;

/// Runs a probe to its exit inside a turmoil host or client, then reports into `out`.
async fn run_probe<F>(program: Probe<F>, out: Shared) -> turmoil::Result
where
    F: weft::protocol::Factory<Protocol: support::Counted> + 'static,
{
    let mut host = Host::new(program);
    let mut lines = Lines::new();
    let code = run_on(Turmoil, &mut host, &mut lines).await;
    let mut out = out.borrow_mut();
    out.code = Some(code);
    out.ended = host.program().ended().to_vec();
    out.failed = host.program().failed().to_vec();
    out.lines = lines;
    Ok(())
}

#[test]
fn pingpong_under_turmoil_ends_as_over_the_pump() {
    let mut sim = turmoil::Builder::new()
        .rng_seed(7)
        .min_message_latency(Duration::from_millis(1))
        .max_message_latency(Duration::from_millis(1))
        .simulation_duration(Duration::from_secs(10))
        .build();
    let (server, client) = (Shared::default(), Shared::default());
    let program = probe(
        FactoryProgram::new(PingPongFactory::server(None)).listen(HostPort::new("0.0.0.0", PORT)),
    )
    .exit_after(1);
    sim.client("server", run_probe(program, server.clone()));
    let program = probe(
        FactoryProgram::new(PingPongFactory::client(Some(100)))
            .connect(HostPort::new("server", PORT))
            .exit_when_done(),
    );
    sim.client("client", run_probe(program, client.clone()));
    sim.run().expect("the simulation runs");

    // turmoil never merges two writes into one read, so no ball leaves play: the
    // lockstep numbers of the pump (TV-13), the server's 101st byte discarded by a
    // client that has stopped reading.
    let (server, client) = (server.borrow(), client.borrow());
    assert_eq!((client.code, server.code), (Some(0), Some(0)));
    let ends = |o: &Outcome| {
        o.ended
            .iter()
            .map(|e| (e.reason, e.measured))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ends(&client),
        vec![(
            Disconnect::Clean,
            Stats {
                written: 100,
                received: 100
            }
        )]
    );
    assert_eq!(
        ends(&server),
        vec![(
            Disconnect::Clean,
            Stats {
                written: 101,
                received: 100
            }
        )]
    );
}

#[test]
fn heartbeat_under_turmoil_beats_at_0_30_60_and_90_seconds() {
    let mut sim = turmoil::Builder::new()
        .rng_seed(7)
        // A coarse tick keeps 95 simulated seconds cheap; the latency is one tick.
        .tick_duration(Duration::from_millis(10))
        .min_message_latency(Duration::from_millis(10))
        .max_message_latency(Duration::from_millis(10))
        .simulation_duration(Duration::from_secs(120))
        .build();
    sim.host("beater", || async {
        let program = FactoryProgram::new(HeartbeatFactory).listen(HostPort::new("0.0.0.0", PORT));
        run_on(Turmoil, &mut Host::new(program), &mut Lines::new()).await;
        Ok(())
    });
    let arrivals: Rc<RefCell<Vec<Instant>>> = Rc::default();
    let factory = BeatCounterFactory {
        arrivals: arrivals.clone(),
    };
    sim.client("listener", async move {
        let program = FactoryProgram::new(factory).connect(HostPort::new("beater", PORT));
        let (mut host, mut lines) = (Host::new(program), Lines::new());
        let run = run_on(Turmoil, &mut host, &mut lines);
        // The heartbeat never ends by itself: listen for 95 simulated seconds.
        let stopped = tokio::time::timeout(Duration::from_secs(95), run).await;
        assert!(stopped.is_err(), "the run was still going");
        Ok(())
    });
    sim.run().expect("the simulation runs");
    assert!(sim.elapsed() >= Duration::from_secs(95));

    let arrivals = arrivals.borrow();
    assert_eq!(
        arrivals.len(),
        4,
        "beats at 0, 30, 60 and 90 s: {arrivals:?}"
    );
    // The first beat arrives a handshake and a hop after the listener starts; every
    // later one exactly an interval after the one before.
    assert!(arrivals[0] < Instant::from_millis(100), "{arrivals:?}");
    for pair in arrivals.windows(2) {
        assert_eq!(pair[1] - pair[0], Duration::from_secs(30), "{arrivals:?}");
    }
}

#[test]
fn connect_across_a_held_link_times_out() {
    let mut sim = turmoil::Builder::new()
        .rng_seed(7)
        .tick_duration(Duration::from_millis(10))
        .simulation_duration(Duration::from_secs(60))
        .build();
    sim.host("server", || async {
        let program = FactoryProgram::new(PingPongFactory::server(None))
            .listen(HostPort::new("0.0.0.0", PORT));
        run_on(Turmoil, &mut Host::new(program), &mut Lines::new()).await;
        Ok(())
    });
    let client = Shared::default();
    let program = probe(
        FactoryProgram::new(PingPongFactory::client(Some(100)))
            .connect(HostPort::new("server", PORT))
            .exit_when_done(),
    );
    sim.client("client", run_probe(program, client.clone()));
    // Every segment between the two waits in the link: the SYN is never answered.
    sim.hold("client", "server");
    sim.run().expect("the simulation runs");

    let client = client.borrow();
    assert_eq!(client.code, Some(1));
    assert_eq!(client.failed, vec![ConnectError::TimedOut]);
    assert_eq!(
        client.lines,
        vec![(
            Stream::Stderr,
            "connection failed: connection timed out".to_owned()
        )]
    );
    // Twisted's 30-second connect timeout, in simulated time.
    assert!(
        sim.elapsed() >= Duration::from_secs(30),
        "{:?}",
        sim.elapsed()
    );
    assert!(
        sim.elapsed() < Duration::from_secs(31),
        "{:?}",
        sim.elapsed()
    );
}

/// Connects across a held link, gives up after 5 s, and exits at 40 s: past the 30 s
/// connect timeout, so a connect that was not really cancelled would have failed.
#[derive(Default)]
struct GiveUp {
    conn: Option<ConnId>,
    heard: Vec<String>,
}

/// [`GiveUp`]'s exit status and callbacks, once it has exited.
type Heard = Rc<RefCell<Option<(i32, Vec<String>)>>>;

#[derive(Clone, Copy, Debug)]
enum GiveUpTimer {
    Cancel,
    Exit,
}

impl Program for GiveUp {
    type Timer = GiveUpTimer;

    fn start(&mut self, cx: &mut HostContext<'_, GiveUpTimer>) {
        self.conn = Some(cx.connect(HostPort::new("server", PORT), Duration::from_secs(30)));
        cx.call_later(Duration::from_secs(5), GiveUpTimer::Cancel);
        cx.call_later(Duration::from_secs(40), GiveUpTimer::Exit);
    }

    fn timer_fired(&mut self, cx: &mut HostContext<'_, GiveUpTimer>, timer: GiveUpTimer) {
        match timer {
            GiveUpTimer::Cancel => {
                let conn = self.conn.expect("connecting");
                assert!(cx.is_connecting(conn));
                cx.abort_connection(conn);
            }
            GiveUpTimer::Exit => cx.exit(0),
        }
    }

    fn connection_made(&mut self, _cx: &mut HostContext<'_, GiveUpTimer>, conn: ConnId) {
        self.heard.push(format!("{conn} made"));
    }

    fn data_received(&mut self, _: &mut HostContext<'_, GiveUpTimer>, _: ConnId, _: &[u8]) {}

    fn connection_lost(
        &mut self,
        _: &mut HostContext<'_, GiveUpTimer>,
        conn: ConnId,
        _: Disconnect,
    ) {
        self.heard.push(format!("{conn} lost"));
    }

    fn connect_failed(
        &mut self,
        _cx: &mut HostContext<'_, GiveUpTimer>,
        conn: ConnId,
        error: ConnectError,
    ) {
        self.heard.push(format!("{conn} failed: {error}"));
    }
}

#[test]
fn a_cancelled_connect_is_never_heard_of_again() {
    let mut sim = turmoil::Builder::new()
        .rng_seed(7)
        .tick_duration(Duration::from_millis(10))
        .simulation_duration(Duration::from_secs(60))
        .build();
    // The server reports the connections it saw after 45 s.
    let server = Shared::default();
    let seen = server.clone();
    sim.client("server", async move {
        let program = probe(
            FactoryProgram::new(PingPongFactory::server(None))
                .listen(HostPort::new("0.0.0.0", PORT)),
        );
        let (mut host, mut lines) = (Host::new(program), Lines::new());
        let run = run_on(Turmoil, &mut host, &mut lines);
        let _ = tokio::time::timeout(Duration::from_secs(45), run).await;
        seen.borrow_mut().ended = host.program().ended().to_vec();
        Ok(())
    });
    let client: Heard = Rc::default();
    let out = client.clone();
    sim.client("client", async move {
        let mut host = Host::new(GiveUp::default());
        let code = run_on(Turmoil, &mut host, &mut Lines::new()).await;
        *out.borrow_mut() = Some((code, host.program().heard.clone()));
        Ok(())
    });
    // The SYN waits in the link; the client gives up at 5 s; at 10 s the link lets
    // everything through, so a connect that went on regardless would reach the server.
    sim.hold("client", "server");
    let mut released = false;
    while !sim.step().expect("the simulation runs") {
        if !released && sim.elapsed() >= Duration::from_secs(10) {
            sim.release("client", "server");
            released = true;
        }
    }
    assert_eq!(*client.borrow(), Some((0, Vec::new())), "no callback");
    assert_eq!(
        server.borrow().ended,
        Vec::new(),
        "no connection reached the server"
    );
}
