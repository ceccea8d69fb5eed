//! `weft bench scale`: what SimNet's cost per exchange does as connections and hosts
//! grow, and what an idle connection costs in memory.
//!
//! `--clients N`: N ping-pong clients, each doing `--exchanges` round trips (1,000 by
//! default) with one server over links of 1 to 20 ms, as N hosts or as N connections
//! from one host (`--clients-on`). The figure is wall time per exchange, building,
//! running and dropping the network included: `us_per_exchange=`. Flat in N means
//! nothing in the simulator grows with the number of connections or hosts.
//!
//! `--idle-conns C`: C connections to one server host (from client hosts of at most
//! 20,000 connections each, as each has 25,000 ephemeral ports) that, once open, never
//! send a byte; the growth of this process's resident size over C is
//! `bytes_per_idle_conn=` (Linux, `/proc/self/status`): both ends, in the network and
//! in the two hosts' programs. The transcript is off unless `--transcript` asks for it,
//! so the figure is the connections' own.
//!
//! Like the other benchmarks it reads the machine's clock.
#![allow(clippy::disallowed_methods)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};

use super::bench::{Measured, sorted};
use crate::host::{FactoryProgram, Host, HostPort, Node};
use crate::programs::pingpong::PingPongFactory;
use crate::protocol::{Context, Factory, NoTimer, Protocol};
use crate::simnet::{Latency, Limits, NetConfig, SimNet};

/// Where the clients of `weft bench scale` run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum ClientsOn {
    /// A host per client.
    Hosts,
    /// Every client a connection from one host.
    OneHost,
}

/// Arguments of `weft bench scale`.
#[derive(Debug, Args)]
pub(crate) struct ScaleArgs {
    /// Ping-pong clients against the one server.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=65_533))]
    clients: u64,
    /// Round trips per client.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..))]
    exchanges: u64,
    /// A host per client, or every client a connection from one host (at most 25,000,
    /// the host's ephemeral ports).
    #[arg(long, value_enum, default_value = "hosts")]
    clients_on: ClientsOn,
    /// Record the transcript (memory grows with every read: about 100 bytes each).
    #[arg(long)]
    transcript: bool,
    /// Instead of the ping-pong: open this many connections to one server and measure
    /// the memory each costs while idle.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    idle_conns: Option<u64>,
}

/// Ephemeral ports a SimNet host hands out (40001 to 65000).
const PORTS_PER_HOST: u64 = 25_000;
/// Connections per client host for `--idle-conns`, within its ports.
const IDLE_CONNS_PER_HOST: u64 = 20_000;

pub(crate) fn run(args: &ScaleArgs, runs: usize) -> i32 {
    if let Some(conns) = args.idle_conns {
        return match idle(conns, args.transcript) {
            Ok(line) => {
                println!("{line}");
                0
            }
            Err(error) => {
                eprintln!("error: {error}");
                1
            }
        };
    }
    if args.clients_on == ClientsOn::OneHost && args.clients > PORTS_PER_HOST {
        eprintln!(
            "error: --clients-on one-host holds at most {PORTS_PER_HOST} connections (the host's ephemeral ports); use --clients-on hosts"
        );
        return 2;
    }
    let mut events = 0;
    let mut measured = Vec::new();
    for _ in 0..runs {
        match pingpong(args) {
            Ok((run, run_events)) => {
                measured.push(run);
                events = run_events;
            }
            Err(error) => {
                eprintln!("error: {error}");
                return 1;
            }
        }
    }
    let measured = sorted(measured);
    let exchanges = args.clients * args.exchanges;
    // Slowest rate first: the last is the fastest run, the fewest microseconds.
    let us = |m: &Measured| 1e6 / m.rate;
    let median = &measured[measured.len() / 2];
    println!(
        "clients={} exchanges_per_client={} clients_on={} transcript={} exchanges={exchanges} events={events} runs={} median_seconds={:.6} us_per_exchange={:.3} min_us_per_exchange={:.3} max_us_per_exchange={:.3} exchanges_per_s={:.0}",
        args.clients,
        args.exchanges,
        match args.clients_on {
            ClientsOn::Hosts => "hosts",
            ClientsOn::OneHost => "one-host",
        },
        args.transcript,
        measured.len(),
        median.seconds,
        us(median),
        us(&measured[measured.len() - 1]),
        us(&measured[0]),
        median.rate,
    );
    0
}

/// The ping-pong's links: 1 to 20 ms, as in the measurements.
fn config() -> NetConfig {
    NetConfig {
        latency: Latency::Uniform {
            min: Duration::from_millis(1),
            max: Duration::from_millis(20),
        },
        ..NetConfig::default()
    }
}

/// No cap on a benchmark's events: its size is the point.
fn unlimited() -> Limits {
    Limits {
        max_events: u64::MAX,
        max_events_per_instant: u64::MAX,
        ..Limits::default()
    }
}

const PORT: u16 = 8000;

/// One measured run: N clients × exchanges; returns the time and the events it took.
fn pingpong(args: &ScaleArgs) -> Result<(Measured, u64), String> {
    let (clients, exchanges) = (args.clients, args.exchanges);
    let start = Instant::now();
    let mut net = SimNet::new(config(), 1).with_limits(unlimited());
    if !args.transcript {
        net = net.without_transcript();
    }
    net.add_host("server", || {
        let program = FactoryProgram::new(PingPongFactory::server(None))
            .listen(HostPort::new("0.0.0.0", PORT));
        Box::new(Host::new(program)) as Box<dyn Node>
    });
    let client = move |connections: u64| {
        move || {
            let mut program = FactoryProgram::new(PingPongFactory::client(Some(exchanges)));
            for _ in 0..connections {
                program = program.connect(HostPort::new("server", PORT));
            }
            Box::new(Host::new(program.exit_when_done())) as Box<dyn Node>
        }
    };
    let names: Vec<String> = match args.clients_on {
        ClientsOn::Hosts => (1..=clients).map(|i| format!("client-{i}")).collect(),
        ClientsOn::OneHost => vec!["client".to_owned()],
    };
    let per_host = if names.len() == 1 { clients } else { 1 };
    for name in &names {
        net.add_host(name, client(per_host));
    }
    while net.step() {}
    let events = net.events_processed();
    let failed: Vec<&String> = (names.iter())
        .filter(|name| net.exit_code(name) != Some(0))
        .collect();
    drop(net);
    let elapsed = start.elapsed();
    if let Some(first) = failed.first() {
        return Err(format!(
            "{} of the clients did not finish cleanly (the first: {first})",
            failed.len()
        ));
    }
    Ok((Measured::new(clients * exchanges, elapsed), events))
}

/// A protocol that never writes, and a factory of them.
struct Silent;

impl Protocol for Silent {
    type Timer = NoTimer;
    fn data_received(&mut self, _cx: &mut Context<'_, NoTimer>, _data: &[u8]) {}
}

impl Factory for Silent {
    type Protocol = Self;
    fn build_protocol(&mut self, _peer: SocketAddr) -> Self {
        Self
    }
}

/// Opens `conns` idle connections to one server host and measures what they cost.
fn idle(conns: u64, transcript: bool) -> Result<String, String> {
    let before = resident_bytes()?;
    let start = Instant::now();
    let mut net = SimNet::new(config(), 1).with_limits(unlimited());
    if !transcript {
        net = net.without_transcript();
    }
    net.add_host("server", || {
        let program = FactoryProgram::new(Silent).listen(HostPort::new("0.0.0.0", PORT));
        Box::new(Host::new(program)) as Box<dyn Node>
    });
    let hosts = conns.div_ceil(IDLE_CONNS_PER_HOST);
    for i in 0..hosts {
        let mine = IDLE_CONNS_PER_HOST.min(conns - i * IDLE_CONNS_PER_HOST);
        net.add_host(&format!("client-{}", i + 1), move || {
            let mut program = FactoryProgram::new(Silent);
            for _ in 0..mine {
                program = program.connect(HostPort::new("server", PORT));
            }
            Box::new(Host::new(program)) as Box<dyn Node>
        });
    }
    // Nothing is left to happen once every connect has been answered and its timeout
    // has passed.
    while net.step() {}
    let seconds = start.elapsed().as_secs_f64();
    let after = resident_bytes()?;
    let open = net.connections_kept() as u64;
    if open != conns {
        return Err(format!("{open} of {conns} connections are open"));
    }
    let growth = after.saturating_sub(before);
    let line = format!(
        "idle_conns={conns} client_hosts={hosts} transcript={transcript} events={} seconds={seconds:.3} rss_growth_bytes={growth} bytes_per_idle_conn={}",
        net.events_processed(),
        growth / conns
    );
    drop(net);
    Ok(line)
}

/// This process's resident size (`VmRSS` in `/proc/self/status`).
fn resident_bytes() -> Result<u64, String> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| format!("cannot read /proc/self/status (Linux only): {e}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map(|kb| kb * 1024)
        .ok_or_else(|| "no VmRSS in /proc/self/status".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(clients: u64, clients_on: ClientsOn) -> ScaleArgs {
        ScaleArgs {
            clients,
            exchanges: 20,
            clients_on,
            transcript: false,
            idle_conns: None,
        }
    }

    #[test]
    fn every_client_finishes_its_exchanges_as_hosts_or_as_connections_of_one_host() {
        for on in [ClientsOn::Hosts, ClientsOn::OneHost] {
            let (_, events) = pingpong(&args(30, on)).unwrap();
            // Each exchange is at least a delivery each way.
            assert!(events >= 30 * 20 * 2, "{on:?}: {events} events");
        }
    }

    #[test]
    fn idle_connections_are_all_open_at_the_end() {
        // Past one client host's share, so two client hosts connect.
        let line = idle(IDLE_CONNS_PER_HOST + 5, false).unwrap();
        assert!(line.contains("client_hosts=2 "), "{line}");
        assert!(line.contains("bytes_per_idle_conn="), "{line}");
    }
}
