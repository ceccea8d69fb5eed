//! Poetry networks on SimNet for the get-poetry tests: named hosts, zero latency where
//! the Part 2 timings must come out exactly.

use std::time::Duration;

use weft::host::{FactoryProgram, Host, HostPort, Node, Program};
use weft::programs::poetry::{GetPoetry, Pace, Poem, SlowPoetryFactory};
use weft::simnet::{Latency, NetConfig, SimNet};
use weft::testing::EventKind;
use weft::time::Instant;

/// The slow servers' tick.
pub(crate) const TENTH: Duration = Duration::from_millis(100);

/// A network whose links take no time, so a run's times are the programs' own.
pub(crate) fn instant_net() -> SimNet {
    let config = NetConfig {
        latency: Latency::Fixed(Duration::ZERO),
        ..NetConfig::default()
    };
    SimNet::new(config, 1)
}

/// A program as a SimNet node.
pub(crate) fn boxed<P: Program + 'static>(program: P) -> Box<dyn Node> {
    Box::new(Host::new(program))
}

/// Hosts are numbered 10.0.0.1, 10.0.0.2, ... in the order they are added.
pub(crate) fn at(host: u8, port: u16) -> HostPort {
    HostPort::new(format!("10.0.0.{host}"), port)
}

/// A slow server listening on `port` on every interface of its host.
pub(crate) fn slow_server(
    poem: &'static str,
    num_bytes: usize,
    port: u16,
) -> FactoryProgram<SlowPoetryFactory> {
    FactoryProgram::new(SlowPoetryFactory::new(
        Poem::from(poem),
        Pace::new(num_bytes, TENTH),
    ))
    .listen(HostPort::new("0.0.0.0", port))
}

/// The get-poetry program running on `host`.
///
/// # Panics
/// If `host` does not run get-poetry (or has crashed).
pub(crate) fn get_poetry<'a>(net: &'a SimNet, host: &str) -> &'a GetPoetry {
    net.program::<GetPoetry>(host).expect("a get-poetry host")
}

/// When `host` printed each line ending with `suffix`, with the line.
pub(crate) fn stdout_ending_with(net: &SimNet, host: &str, suffix: &str) -> Vec<(String, Instant)> {
    net.transcript()
        .events()
        .iter()
        .filter(|e| &*e.who == host)
        .filter_map(|e| match &e.what {
            EventKind::Line(line) => {
                let text = line.strip_prefix("out: ")?;
                text.ends_with(suffix).then(|| (text.to_owned(), e.at))
            }
            _ => None,
        })
        .collect()
}
