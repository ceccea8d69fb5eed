//! Caps that keep a simulated run from running away: events per run, events at one
//! virtual instant (the no-progress detector), and faults generated from rates.

use serde::{Deserialize, Serialize};

use crate::time::Instant;

/// How far one run may go before it is stopped with a [`RunawayError`]. A scenario
/// file sets them in `[limits]`; the defaults leave every reasonable run alone and stop
/// a runaway in a second or two of wall time, in well under 500 MB.
///
/// ```toml
/// [limits]
/// max-events = 1000000            # events in one run
/// max-events-per-instant = 100000 # events without virtual time moving
/// max-faults = 100000             # faults random-faults may generate
/// ```
///
/// ```
/// use weft::simnet::{Limits, NetConfig, SimNet};
/// let limits = Limits { max_events: 5_000, ..Limits::default() };
/// let net = SimNet::new(NetConfig::default(), 1).with_limits(limits);
/// assert_eq!(net.limits().max_events, 5_000);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    default,
    deny_unknown_fields,
    rename_all = "kebab-case",
    expecting = "a [limits] table such as { max-events = 1000000 }"
)]
pub struct Limits {
    /// Most events one run processes (`max-events`, default 1,000,000).
    pub max_events: u64,
    /// Most events in a row at one virtual instant (`max-events-per-instant`, default
    /// 100,000): more means nothing waits for time to pass, a loop of zero-delay
    /// timers, retries or zero-latency messages.
    pub max_events_per_instant: u64,
    /// Most faults `[random-faults]` may expand into (`max-faults`, default 100,000).
    pub max_faults: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_events: 1_000_000,
            max_events_per_instant: 100_000,
            max_faults: 100_000,
        }
    }
}

impl Limits {
    /// Whether these are the defaults (a scenario written out leaves them unsaid).
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// What is wrong with these limits, if anything: a zero cap would stop every run.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (key, value) in [
            ("max-events", self.max_events),
            ("max-events-per-instant", self.max_events_per_instant),
            ("max-faults", self.max_faults as u64),
        ] {
            if value == 0 {
                problems.push(format!("{key} must be at least 1"));
            }
        }
        problems
    }
}

/// A run stopped by one of its [`Limits`]: each names the cap and its key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RunawayError {
    /// The run processed `max-events` events and was still going.
    #[error(
        "the run reached {limit} events at {at} s and was still going \
         ([limits] max-events = {limit})"
    )]
    TooManyEvents {
        /// The cap.
        limit: u64,
        /// Virtual time when it stopped.
        at: Instant,
    },
    /// `max-events-per-instant` events happened without virtual time moving.
    #[error(
        "{limit} events at {at} s without virtual time moving, on {}: a loop of \
         zero-delay timers, retries or zero-latency messages? \
         ([limits] max-events-per-instant = {limit})",
        host_list(.hosts)
    )]
    NoProgress {
        /// The cap.
        limit: u64,
        /// The instant time stood still at.
        at: Instant,
        /// The hosts whose events make up the stuck stretch, in the order they were
        /// added, each with its number of events in it.
        hosts: Vec<(String, u64)>,
    },
    /// More events waited at once than SimNet's event queue holds (a fixed ceiling,
    /// far above what the other limits let a scenario reach by default).
    #[error(
        "more than {limit} events waiting at once at {at} s: the run holds more \
         connections, packets and timers than SimNet can queue; make the scenario smaller"
    )]
    QueueFull {
        /// The ceiling.
        limit: u64,
        /// Virtual time when it stopped.
        at: Instant,
    },
    /// `[random-faults]` would generate more than `max-faults` faults.
    #[error(
        "random-faults would make more than {limit} faults before until = {until} \
         ([limits] max-faults = {limit}); lengthen the -every rates or shorten until"
    )]
    TooManyFaults {
        /// The cap.
        limit: usize,
        /// The `until` of the random faults, as the file writes it.
        until: String,
    },
}

fn host_list(hosts: &[(String, u64)]) -> String {
    if hosts.is_empty() {
        return "no host (the network itself)".to_owned();
    }
    let each: Vec<String> = hosts
        .iter()
        .map(|(name, events)| format!("{name} ({events} events)"))
        .collect();
    format!("hosts {}", each.join(", "))
}

/// The events since virtual time last moved.
#[derive(Debug, Default)]
pub(super) struct Stretch {
    at: Instant,
    events: u64,
    /// Events per host index, each counting only if stamped with `at`: moving to a new
    /// instant forgets every count at once, and counting is one index per event.
    hosts: Vec<(Instant, u64)>,
}

impl super::SimNet {
    /// The same network, stopped by `limits` instead of the defaults.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The caps this network runs under.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Why the run was stopped, if a limit tripped: the run methods return early and
    /// no event runs after that.
    ///
    /// ```
    /// use std::time::Duration;
    /// use weft::host::{FactoryProgram, Host, HostPort, Node};
    /// use weft::programs::pingpong::PingPongFactory;
    /// use weft::simnet::{Latency, Limits, NetConfig, RunawayError, SimNet};
    ///
    /// // Zero latency and no maximum: ping-pong forever at time zero.
    /// let config = NetConfig { latency: Latency::Fixed(Duration::ZERO), ..NetConfig::default() };
    /// let limits = Limits { max_events_per_instant: 1_000, ..Limits::default() };
    /// let mut net = SimNet::new(config, 1).with_limits(limits);
    /// net.add_host("server", || {
    ///     let server = FactoryProgram::new(PingPongFactory::server(None));
    ///     Box::new(Host::new(server.listen(HostPort::new("0.0.0.0", 8000)))) as Box<dyn Node>
    /// });
    /// net.add_host("client", || {
    ///     let client = FactoryProgram::new(PingPongFactory::client(None));
    ///     Box::new(Host::new(client.connect(HostPort::new("server", 8000)))) as Box<dyn Node>
    /// });
    /// net.run_for(Duration::from_secs(1));
    /// assert!(matches!(net.runaway(), Some(RunawayError::NoProgress { .. })));
    /// ```
    pub fn runaway(&self) -> Option<&RunawayError> {
        self.stopped.as_ref()
    }

    /// Whether another event may run (checked before each): false once stopped, or
    /// once `max-events` have run.
    pub(super) fn within_limits(&mut self) -> bool {
        if self.stopped.is_some() {
            return false;
        }
        if self.events_processed >= self.limits.max_events && !self.queue.is_empty() {
            self.stopped = Some(RunawayError::TooManyEvents {
                limit: self.limits.max_events,
                at: self.now,
            });
            return false;
        }
        true
    }

    /// Counts `event` into the stretch at the current instant; false (and the run
    /// stopped, `event` not run) when the stretch already holds
    /// `max-events-per-instant` events.
    pub(super) fn progressing(&mut self, event: &super::Event) -> bool {
        let now = self.now;
        if self.stretch.at != now {
            self.stretch.at = now;
            self.stretch.events = 0;
        }
        if self.stretch.events < self.limits.max_events_per_instant {
            self.stretch.events += 1;
            if let Some(h) = self.event_host(event) {
                let hosts = &mut self.stretch.hosts;
                if hosts.len() <= h {
                    hosts.resize(h + 1, (Instant::ZERO, 0));
                }
                let (at, count) = &mut hosts[h];
                if *at != now || *count == 0 {
                    (*at, *count) = (now, 0);
                }
                *count += 1;
            }
            return true;
        }
        let hosts = (self.stretch.hosts.iter().enumerate())
            .filter(|&(_, &(at, n))| at == now && n > 0)
            .map(|(h, &(_, n))| (self.names[h].clone(), n))
            .collect();
        self.stopped = Some(RunawayError::NoProgress {
            limit: self.limits.max_events_per_instant,
            at: self.now,
            hosts,
        });
        false
    }

    /// The host an event happens to, if it is one host's.
    fn event_host(&self, event: &super::Event) -> Option<usize> {
        use super::Event;
        let end_host = |conn: &u64, end: usize| self.conns.get(*conn).map(|c| c.ends[end].host);
        match event {
            Event::Wake { host, .. } | Event::Accept { host, .. } => Some(*host),
            Event::ConnectFailed(failed) => Some(failed.host),
            Event::Arrive { conn, to, .. } => end_host(conn, *to),
            Event::Retransmit { conn, from } => end_host(conn, *from),
            Event::ConnectDeadline { conn } => end_host(conn, 0),
            Event::Fault(_) => None,
        }
    }
}
