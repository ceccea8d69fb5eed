//! The short path of an arrival (its reads' answer put on the wire in the same pass)
//! against settling: the same runs, event for event.

use std::time::Duration;

use super::{Latency, Level, NetConfig, SimNet};
use crate::clock::{CallId, Clock};
use crate::host::{
    ConnId, ConnectError, FactoryProgram, Host, HostContext, HostPort, Node, Program,
};
use crate::programs::pingpong::PingPongFactory;
use crate::testing::{LifecycleLedger, Segmentation};
use crate::transport::Disconnect;

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

/// The busy server and two ping-pong clients, each node watched by `ledger` if given:
/// its wrapper forwards every call but the delivery that answers (the `Node` default),
/// so every arrival is then settled the long way.
fn busy_run(seed: u64, ledger: Option<&LifecycleLedger>) -> SimNet {
    let config = NetConfig {
        latency: Latency::Uniform {
            min: Duration::from_millis(1),
            max: Duration::from_millis(5),
        },
        segmentation: Segmentation::Seeded { seed: 3, max: 2 },
        ..NetConfig::default()
    };
    let mut net = SimNet::new(config, seed).capture_logs(Level::INFO);
    let watched =
        |name: &'static str, node: Box<dyn Node>, ledger: &Option<LifecycleLedger>| match ledger {
            Some(ledger) => ledger.watch(name, node),
            None => node,
        };
    let watch = ledger.cloned();
    net.add_host("server", move || {
        watched("server", Box::new(Host::new(Busy::default())), &watch)
    });
    for name in ["a", "b"] {
        let watch = ledger.cloned();
        net.add_host(name, move || {
            let client = FactoryProgram::new(PingPongFactory::client(Some(400)))
                .connect(HostPort::new("server", 8000))
                .exit_when_done();
            watched(name, Box::new(Host::new(client)), &watch)
        });
    }
    let exited = net.run_until_exit(&["a", "b"], Duration::from_secs(60));
    assert!(exited, "the clients finish");
    net
}

#[test]
fn a_host_busy_inside_data_received_has_it_carried_out_as_settling_would() {
    for seed in [1, 2, 3] {
        let short = busy_run(seed, None);
        let ledger = LifecycleLedger::new();
        let long = busy_run(seed, Some(&ledger));
        assert_eq!(ledger.violations(&long), Vec::<String>::new());
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

/// A server that answers every read with three bytes and, every seventh read, stops
/// reading for two milliseconds.
#[derive(Default)]
struct Pausing {
    reads: u64,
}

#[derive(Clone, Copy, Debug)]
struct Resume(ConnId);

impl Program for Pausing {
    type Timer = Resume;

    fn start(&mut self, cx: &mut HostContext<'_, Resume>) {
        cx.listen(HostPort::new("0.0.0.0", 8000));
    }

    fn connection_made(&mut self, _: &mut HostContext<'_, Resume>, _: ConnId) {}

    fn data_received(&mut self, cx: &mut HostContext<'_, Resume>, conn: ConnId, _: &[u8]) {
        self.reads += 1;
        cx.write(conn, b"abc");
        if self.reads.is_multiple_of(7) {
            cx.pause_reading(conn);
            cx.call_later(Duration::from_millis(2), Resume(conn));
        }
    }

    fn timer_fired(&mut self, cx: &mut HostContext<'_, Resume>, Resume(conn): Resume) {
        cx.resume_reading(conn);
    }

    fn connection_lost(&mut self, _: &mut HostContext<'_, Resume>, _: ConnId, _: Disconnect) {}

    fn connect_failed(&mut self, _: &mut HostContext<'_, Resume>, _: ConnId, _: ConnectError) {}
}

/// The pausing server and two ping-pong clients over two-byte segments and a
/// four-byte receive window, with the short path on or off; and how the arrivals
/// went (`sockets::probe::TAKEN`).
fn fallback_run(seed: u64, short_path: bool) -> (SimNet, [u64; 3]) {
    let config = NetConfig {
        latency: Latency::Uniform {
            min: Duration::from_millis(1),
            max: Duration::from_millis(5),
        },
        segmentation: Segmentation::Seeded { seed: 3, max: 2 },
        recv_buffer: 4,
        mss: 2,
        ..NetConfig::default()
    };
    super::sockets::probe::OFF.set(!short_path);
    super::sockets::probe::TAKEN.set([0; 3]);
    let mut net = SimNet::new(config, seed).capture_logs(Level::INFO);
    net.add_host("server", || Box::new(Host::new(Pausing::default())));
    for name in ["a", "b"] {
        net.add_host(name, move || {
            let client = FactoryProgram::new(PingPongFactory::client(Some(300)))
                .connect(HostPort::new("server", 8000))
                .exit_when_done();
            Box::new(Host::new(client))
        });
    }
    let exited = net.run_until_exit(&["a", "b"], Duration::from_secs(60));
    super::sockets::probe::OFF.set(false);
    assert!(exited, "the clients finish");
    (net, super::sockets::probe::TAKEN.get())
}

#[test]
fn arrivals_the_short_path_leaves_to_the_general_loop_end_as_without_the_short_path() {
    for seed in [1, 2, 3] {
        let (short, taken) = fallback_run(seed, true);
        let (long, untaken) = fallback_run(seed, false);
        // A paused reader, a window the read opens for a waiting sender, a packet
        // read in two: each leaves the arrival to the general loop, before or after
        // its read's size is drawn.
        let [straight, before, after_draw] = taken;
        assert!(straight > 0 && before > 0 && after_draw > 0, "{taken:?}");
        assert_eq!(untaken, [0; 3], "the general loop took every arrival");
        // The general loop answers in the pass too: the same arrivals.
        assert!(
            short.answered_in_pass > 0,
            "some answers were taken in the pass"
        );
        assert_eq!(short.answered_in_pass, long.answered_in_pass);
        let (short_text, long_text) = (short.transcript().render(), long.transcript().render());
        assert_eq!(short_text, long_text, "seed {seed}");
        assert_eq!(short.events_processed(), long.events_processed());
        assert_eq!(short.now(), long.now());
    }
}
