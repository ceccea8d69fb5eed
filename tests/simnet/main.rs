//! SimNet: the simulated network's behaviours, one per test.

#[path = "../common/mod.rs"]
mod common;

mod backlog;
mod connections;
mod faults;

use std::time::Duration;

use weft::host::{ConnectError, FactoryProgram, Host, HostPort, Node, Stream};
use weft::programs::heartbeat::HeartbeatFactory;
use weft::programs::pingpong::PingPongFactory;
use weft::programs::streaming::{StreamingClient, StreamingClientFactory};
use weft::protocol::{Context, Factory, NoTimer, Protocol};
use weft::simnet::{Fault, Latency, NetConfig, SimNet, Trigger};
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

/// Adds a host that listens on `port` with a recorder per connection.
fn listening_recorder(net: &mut SimNet, name: &str, port: u16, recorder: Recorder) {
    net.add_host(name, move || {
        boxed(
            FactoryProgram::new(RecorderFactory(recorder.clone())).listen(HostPort::new("", port)),
        )
    });
}

/// Adds a host that connects to `to` with a recorder.
fn connecting_recorder(net: &mut SimNet, name: &str, to: HostPort, recorder: Recorder) {
    net.add_host(name, move || {
        boxed(FactoryProgram::new(RecorderFactory(recorder.clone())).connect(to.clone()))
    });
}

/// Adds a host whose heartbeat connects to `to`.
fn heartbeat_to(net: &mut SimNet, name: &str, to: HostPort) {
    net.add_host(name, move || {
        boxed(FactoryProgram::new(HeartbeatFactory).connect(to.clone()))
    });
}

/// The recorder protocol of a host's first connection, from outside the network.
fn recorder(net: &SimNet, host: &str) -> Option<Recorder> {
    let host = net.program::<FactoryProgram<RecorderFactory>>(host)?;
    host.last_protocol().cloned()
}

/// A ping-pong server and a client that stops after `pings` exchanges.
fn pingpong_net(config: NetConfig, seed: u64, pings: u64) -> SimNet {
    let mut net = SimNet::new(config, seed);
    net.add_host("server", || {
        boxed(
            FactoryProgram::new(PingPongFactory::server(None))
                .listen(HostPort::new("0.0.0.0", 8000)),
        )
    });
    net.add_host("client", move || {
        boxed(
            FactoryProgram::new(PingPongFactory::client(Some(pings)))
                .connect(HostPort::new("server", 8000))
                .exit_when_done(),
        )
    });
    net
}
