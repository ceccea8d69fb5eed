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

/// Hosts of a stretch's latest events kept before they are counted per host (a bound
/// on the memory a long stretch takes; counting them is rare).
const RECENT: usize = 1024;

/// In `Stretch::recent`, an event of no one host (a fault).
const NO_HOST: u32 = u32::MAX;

/// As `Stretch::first`: the first event's host is in `recent` like the others (the
/// stretch began without an event, as `run_until` moved time).
const IN_RECENT: u32 = u32::MAX - 1;

/// The events since virtual time last moved, and when the limits next need a look.
///
/// Events are numbered by `events_processed` before them. Most instants see one or
/// two events and no limit comes near, so an event's common path is one comparison
/// (`events_processed < next_check`) and a store of its host (with the stretch's start,
/// if time moved); everything else waits for `next_check`, which is never later than
/// the first event that could trip a limit or fill `recent`.
#[derive(Debug)]
pub(super) struct Stretch {
    /// The first event at the current instant.
    start: u64,
    /// The host of event `start`, noted as time moved to it (or [`IN_RECENT`]).
    first: u32,
    /// The events of the stretch before this one are counted in `hosts` (when it is
    /// past `start`).
    counted: u64,
    /// Below this event number no limit can trip and `recent` has room: no look needed.
    /// Zero once the run stopped (and before the first look).
    next_check: u64,
    /// The host of event `n` at `n % RECENT` (or [`NO_HOST`]), for the events after
    /// `start`: a fixed array, so noting a host is one store, nothing to clear when
    /// time moves. It holds the stretch's events not yet counted (at most `RECENT`, as
    /// `next_check` ensures).
    recent: [u32; RECENT],
    /// Events per host index, each counting only if stamped with the stretch's
    /// `start`: a new stretch forgets every count at once.
    hosts: Vec<(u64, u64)>,
}

impl Default for Stretch {
    fn default() -> Self {
        Self {
            start: 0,
            // Time zero begins without an event.
            first: IN_RECENT,
            counted: 0,
            next_check: 0,
            recent: [NO_HOST; RECENT],
            hosts: Vec::new(),
        }
    }
}

impl Stretch {
    /// Counts the stretch's events before `upto` into `hosts`.
    fn count(&mut self, upto: u64) {
        let (start, from) = (self.start, self.counted.max(self.start));
        for n in from..upto {
            let h = match self.first {
                first if n == start && first != IN_RECENT => first,
                _ => self.recent[n as usize % RECENT],
            };
            if h == NO_HOST {
                continue;
            }
            let h = h as usize;
            if self.hosts.len() <= h {
                self.hosts.resize(h + 1, (0, 0));
            }
            let (stamp, count) = &mut self.hosts[h];
            if *stamp != start || *count == 0 {
                (*stamp, *count) = (start, 0);
            }
            *count += 1;
        }
        self.counted = upto;
    }
}

impl super::SimNet {
    /// The same network, stopped by `limits` instead of the defaults.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        // The next event looks at the new limits.
        self.stretch.next_check = 0;
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

    /// Stops the run for `error`: no event runs after this.
    pub(super) fn stop(&mut self, error: RunawayError) {
        self.stopped = Some(error);
        self.stretch.next_check = 0;
    }

    /// Whether the limits need a look before the next event (see [`Stretch`]).
    #[inline(always)]
    pub(super) fn limits_near(&self) -> bool {
        self.events_processed >= self.stretch.next_check
    }

    /// Whether another event due by `until` may run, [`limits_near`](Self::limits_near)
    /// being true: false once stopped, or once `max-events` have run (stopping the run
    /// if an event is due; one with none due is only done).
    #[cold]
    pub(super) fn within_limits(&mut self, until: Instant) -> bool {
        if self.stopped.is_some() {
            return false;
        }
        if self.events_processed < self.limits.max_events {
            return true;
        }
        if self.queue.next_at().is_some_and(|at| at <= until) {
            self.stop(RunawayError::TooManyEvents {
                limit: self.limits.max_events,
                at: self.now,
            });
        }
        false
    }

    /// Moves virtual time to `at` (if later) and counts an event at it of `host` (see
    /// [`event_host`](Self::event_host)) into the stretch, with no limit near (see
    /// [`limits_near`](Self::limits_near)).
    #[inline(always)]
    pub(super) fn count_event(&mut self, at: Instant, host: u32) {
        let n = self.events_processed;
        if at > self.now {
            self.now = at;
            self.stretch.start = n;
            self.stretch.first = host;
        } else {
            self.stretch.recent[n as usize % RECENT] = host;
        }
        self.events_processed = n + 1;
    }

    /// [`count_event`](Self::count_event) with a limit near, after
    /// [`within_limits`](Self::within_limits): false (and the run stopped, the event
    /// not run) when the stretch already holds `max-events-per-instant` events. Sets
    /// the next look.
    pub(super) fn admit_near_limits(&mut self, at: Instant, host: u32) -> bool {
        let n = self.events_processed;
        let moved = at > self.now;
        if moved {
            self.now = at;
            self.stretch.start = n;
        }
        let stretch = &mut self.stretch;
        if n - stretch.start >= self.limits.max_events_per_instant {
            stretch.count(n);
            let hosts = (stretch.hosts.iter().enumerate())
                .filter(|&(_, &(stamp, count))| stamp == stretch.start && count > 0)
                .map(|(h, &(_, count))| (self.names[h].clone(), count))
                .collect();
            self.stop(RunawayError::NoProgress {
                limit: self.limits.max_events_per_instant,
                at: self.now,
                hosts,
            });
            return false;
        }
        if n - stretch.counted.max(stretch.start) >= RECENT as u64 {
            // `recent` is full of the stretch's events.
            stretch.count(n);
        }
        if moved {
            stretch.first = host;
        } else {
            stretch.recent[n as usize % RECENT] = host;
        }
        self.events_processed = n + 1;
        let room = (stretch.counted.max(stretch.start) + RECENT as u64)
            .min(
                stretch
                    .start
                    .saturating_add(self.limits.max_events_per_instant),
            )
            .min(self.limits.max_events);
        stretch.next_check = room;
        true
    }

    /// Starts a new stretch if virtual time moved to `now` without an event (the next
    /// event at `now` is not of the last one's instant).
    pub(super) fn move_time(&mut self, now: Instant) {
        if now > self.now {
            self.now = now;
            self.stretch.start = self.events_processed;
            self.stretch.first = IN_RECENT;
        }
    }

    /// The host an event happens to ([`NO_HOST`] if it is no one host's; host
    /// indices fit 32 bits, see `Event::Arrive`).
    #[inline(always)]
    pub(super) fn event_host(&self, event: &super::Event) -> u32 {
        use super::Event;
        let end_host = |conn: &u64, end: usize| {
            (self.conns.get(*conn)).map_or(NO_HOST, |c| c.ends[end].host as u32)
        };
        match event {
            Event::Arrive { host, .. } => *host,
            Event::Wake { host, .. } | Event::Accept { host, .. } => *host as u32,
            Event::ConnectFailed(failed) => failed.host as u32,
            Event::Retransmit { conn, from } => end_host(conn, *from),
            Event::ConnectDeadline { conn } => end_host(conn, 0),
            Event::Fault(_) => NO_HOST,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Event, NetConfig, SimNet};
    use super::*;
    use crate::host::Node;

    fn net(max_events_per_instant: u64) -> SimNet {
        let limits = Limits {
            max_events_per_instant,
            ..Limits::default()
        };
        let mut net = SimNet::new(NetConfig::default(), 1).with_limits(limits);
        for name in ["a", "b", "c"] {
            net.add_host(name, || -> Box<dyn Node> { unreachable!("never started") });
        }
        net
    }

    fn wake(host: usize) -> Event {
        Event::Wake {
            host,
            incarnation: 0,
        }
    }

    /// Counts `event` at `at` as a step does.
    fn progressing(net: &mut SimNet, at: Instant, event: &Event) -> bool {
        let host = net.event_host(event);
        if net.limits_near() {
            return net.admit_near_limits(at, host);
        }
        net.count_event(at, host);
        true
    }

    fn stuck_hosts(net: &SimNet) -> Vec<(String, u64)> {
        match net.runaway() {
            Some(RunawayError::NoProgress { hosts, .. }) => hosts.clone(),
            other => panic!("expected no progress, got {other:?}"),
        }
    }

    #[test]
    fn a_stuck_instant_names_each_host_with_its_events_counting_the_instants_first() {
        let mut net = net(4);
        let at = Instant::from_nanos(5);
        assert!(progressing(&mut net, at, &wake(2)), "alone at its instant");
        let at = Instant::from_nanos(9);
        for h in [1, 0, 0, 1] {
            assert!(progressing(&mut net, at, &wake(h)));
        }
        assert!(
            !progressing(&mut net, at, &wake(2)),
            "a fifth event at one instant"
        );
        // c's event at 5 ns is not in this stretch, nor is the refused one.
        assert_eq!(
            stuck_hosts(&net),
            [("a".to_owned(), 2), ("b".to_owned(), 2)]
        );
    }

    #[test]
    fn a_stretch_longer_than_the_recent_list_counts_every_event_once() {
        let events = 3 * RECENT as u64 + 5;
        let mut net = net(events);
        let at = Instant::from_nanos(7);
        for i in 0..events {
            assert!(
                progressing(&mut net, at, &wake((i % 3) as usize)),
                "event {i}"
            );
        }
        assert!(!progressing(&mut net, at, &wake(0)));
        let per_host = events / 3;
        assert_eq!(
            stuck_hosts(&net),
            [
                ("a".to_owned(), per_host + 1),
                ("b".to_owned(), per_host + 1),
                ("c".to_owned(), per_host)
            ]
        );
    }

    #[test]
    fn arrivals_count_for_the_host_they_carry_and_faults_for_no_host() {
        // A fault past a full recent list: the list is folded, the fault noted nowhere.
        let events = RECENT as u64 + 3;
        let mut net = net(events);
        let at = Instant::from_nanos(5);
        let arrive = |host: u32| Event::Arrive {
            conn: 99,
            to: 0,
            host,
        };
        let fault = || Event::Fault(Box::new(super::super::FaultAction::Crash("a".into())));
        for _ in 0..RECENT {
            assert!(progressing(&mut net, at, &arrive(1)));
        }
        assert!(progressing(&mut net, at, &fault()));
        assert!(progressing(&mut net, at, &arrive(2)));
        assert!(progressing(&mut net, at, &fault()));
        assert!(
            !progressing(&mut net, at, &arrive(1)),
            "the faults count to the limit"
        );
        assert_eq!(
            stuck_hosts(&net),
            [("b".to_owned(), RECENT as u64), ("c".to_owned(), 1)]
        );
    }

    #[test]
    fn a_limit_of_one_names_the_host_of_the_one_event_that_ran() {
        let mut net = net(1);
        let at = Instant::from_nanos(3);
        assert!(progressing(&mut net, at, &wake(2)));
        assert!(!progressing(&mut net, at, &wake(1)));
        assert_eq!(stuck_hosts(&net), [("c".to_owned(), 1)]);
    }

    #[test]
    fn a_host_stuck_again_at_a_later_instant_counts_only_that_instants_events() {
        let mut net = net(3);
        let at = Instant::from_nanos(1);
        assert!(progressing(&mut net, at, &wake(0)));
        assert!(progressing(&mut net, at, &wake(0)));
        let at = Instant::from_nanos(2);
        for h in [0, 1, 0] {
            assert!(progressing(&mut net, at, &wake(h)));
        }
        assert!(!progressing(&mut net, at, &wake(0)));
        assert_eq!(
            stuck_hosts(&net),
            [("a".to_owned(), 2), ("b".to_owned(), 1)]
        );
    }

    #[test]
    fn a_stretch_begun_by_moving_time_counts_its_first_event_once() {
        let mut net = net(2);
        assert!(progressing(&mut net, Instant::from_nanos(1), &wake(0)));
        // As `run_until` does: no event at 5 ns yet, the next one there.
        net.move_time(Instant::from_nanos(5));
        let at = Instant::from_nanos(5);
        for h in [1, 2] {
            assert!(progressing(&mut net, at, &wake(h)));
        }
        assert!(!progressing(&mut net, at, &wake(0)));
        assert_eq!(
            stuck_hosts(&net),
            [("b".to_owned(), 1), ("c".to_owned(), 1)]
        );
    }

    /// A ping-pong over 10 ms of fixed latency, stopped after `max_events` events.
    fn pingpong(max_events: u64) -> SimNet {
        use crate::host::{FactoryProgram, Host, HostPort};
        use crate::programs::pingpong::PingPongFactory;
        let config = NetConfig {
            latency: super::super::Latency::Fixed(std::time::Duration::from_millis(10)),
            ..NetConfig::default()
        };
        let limits = Limits {
            max_events,
            ..Limits::default()
        };
        let mut net = SimNet::new(config, 1).with_limits(limits);
        net.add_host("server", || {
            let server = FactoryProgram::new(PingPongFactory::server(None));
            Box::new(Host::new(server.listen(HostPort::new("0.0.0.0", 8000)))) as Box<dyn Node>
        });
        net.add_host("client", || {
            let client = FactoryProgram::new(PingPongFactory::client(None));
            Box::new(Host::new(client.connect(HostPort::new("server", 8000)))) as Box<dyn Node>
        });
        net
    }

    #[test]
    fn max_events_stops_a_run_only_when_another_event_is_due() {
        // Events happen every 10 ms: by 45 ms, some number of them.
        let until = Instant::from_nanos(45_000_000);
        let mut free = pingpong(u64::MAX);
        free.run_until(until);
        let events = free.events_processed();
        assert!(events > 0 && free.next_event_time().is_some());
        // Capped at exactly that many: the next event is not due by 45 ms, so the run
        // is not stopped and time moves on to 45 ms.
        let mut capped = pingpong(events);
        capped.run_until(until);
        assert_eq!(capped.runaway(), None);
        assert_eq!(capped.now, until);
        // Going further, the next event is due: the cap stops the run where it stands.
        capped.run_until(until + std::time::Duration::from_secs(1));
        assert_eq!(
            capped.runaway(),
            Some(&RunawayError::TooManyEvents {
                limit: events,
                at: until
            })
        );
        assert_eq!(capped.now, until, "a stopped run stays where it stopped");
        assert_eq!(capped.events_processed(), events);
    }
}
