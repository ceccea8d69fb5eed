//! SimNet: a seeded, event-driven simulated network of hosts running weft programs.
//!
//! Each host runs a program in a [`Host`](crate::host::Host) (any [`Node`]), exactly as
//! the tokio driver would. SimNet plays the operating systems and the wires between them:
//!
//! - connections with a kernel send buffer and a receive buffer per end, counted in bytes;
//!   the sender only puts on the wire what fits the receiver's window, so a reader that
//!   stops reading pushes back all the way to its peer's producer;
//! - per-link latency drawn from a seeded distribution, delivery in order per direction;
//! - re-segmentation: what arrives is cut into reads by a [`Segmentation`] policy, so
//!   writes are split and coalesced;
//! - orderly close (FIN after the buffered bytes), half-close, reset, refused and
//!   black-holed connects, connect timeouts;
//! - faults as data ([`Fault`]): partitions that drop (with retransmission and a
//!   retransmission timeout) or hold packets, heals, host crashes and restarts, resets,
//!   latency changes, clock jumps; at a time, or after N bytes or netstrings;
//! - a [`Transcript`] of everything, with virtual times.
//!
//! It never ticks: it jumps from one event to the next, every queue ordered by (time,
//! sequence), every random draw from the run's seed. Same seed, same transcript. Each
//! host's program gets a [`HostRng`] of its own from the seed (one stream per host and
//! incarnation), for draws such as a retry's jitter.
//!
//! [`Segmentation`]: crate::testing::Segmentation

#[cfg(test)]
mod answer_tests;
mod calls;
mod commands;
mod config;
mod conn;
mod dense;
mod draw;
mod engine;
mod events;
mod fault;
mod inject;
mod inspect;
#[cfg(test)]
mod layout_tests;
mod limits;
mod random;
mod sockets;
mod subnet;
mod wire;

/// The level of program log lines [`SimNet::capture_logs`] records (re-exported from
/// `tracing`).
pub use crate::testing::logs::Level;
pub use config::{
    Latency, MAX_DURATION_SECS, NetConfig, format_duration, human_duration, opt_human_duration,
    parse_duration,
};
pub use fault::{
    Between, ClockJumpSpec, Fault, FaultAction, LatencySpec, PartitionMode, PartitionSpec,
    ResetSpec, Trigger, When,
};
pub use limits::{Limits, RunawayError};
pub use random::RandomFaults;
pub use subnet::{Subnet, SubnetError};

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, VecDeque};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::host::{ConnId, ConnectError, HostRng, ListenerId, Node, Stream};
use crate::testing::{EventDigest, Transcript};
use crate::time::Instant;
use conn::{Conn, Packet, PacketArena};
use dense::{DenseMap, EndIndex};
use engine::Stepped;
use events::EventQueue;

/// A host of the network, by its index.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct HostId(pub usize);

/// Whether a host is running.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum HostStatus {
    /// Running its program.
    Running,
    /// Its program exited with this status; its sockets are closed.
    Exited(i32),
    /// Crashed: silent until restarted.
    Crashed,
}

type NodeFactory = Box<dyn FnMut() -> Box<dyn Node>>;

/// A listening port.
#[derive(Debug)]
struct Listener {
    id: ListenerId,
    /// Bound to the loopback interface: only the host itself can connect.
    loopback_only: bool,
    /// Most connections waiting to be accepted.
    backlog: u32,
    /// The program has paused accepting.
    paused: bool,
    /// Connections the kernel completed that the program has not accepted yet, oldest
    /// first.
    waiting: VecDeque<u64>,
}

/// A connect that fails on a later turn.
#[derive(Debug)]
struct FailedConnect {
    host: usize,
    incarnation: u32,
    conn: ConnId,
    error: ConnectError,
}

/// A packet waiting at a hold-partition: (connection, sending end, packet).
type HeldPacket = (u64, usize, Packet);

// What every arrival and settling reads of a host comes first, in one cache line from a
// line's start (`repr(C)` keeps the order, the alignment the start): with a thousand
// hosts each event touches another host, and a miss per field would follow.
#[repr(C, align(64))]
struct SimHost {
    node: Option<Box<dyn Node>>,
    clock_offset: Duration,
    wake: Option<Instant>,
    status: HostStatus,
    incarnation: u32,
    /// `wake` was set by other means than asking the program (a clock jump): the
    /// next settling asks again, even if the program's timers did not change.
    wake_unsettled: bool,
    /// In `SimNet::touched`.
    touched: bool,
    /// In `SimNet::settled`.
    settled: bool,
    next_port: u16,
    ip: Ipv4Addr,
    name: String,
    factory: NodeFactory,
    /// Listening ports.
    listeners: BTreeMap<u16, Listener>,
    /// Local ports of this host's outgoing connections still kept, so the ephemeral
    /// range wrapping around never hands out one a connection holds.
    ports_in_use: BTreeSet<u16>,
    output: Vec<(Stream, String)>,
}

#[derive(Debug)]
enum Event {
    Wake {
        host: usize,
        incarnation: u32,
    },
    /// The oldest packet on the wire toward end `to` arrives (the packets wait in the
    /// sending end's `wire`, so the event heap moves small items).
    Arrive {
        conn: u64,
        to: usize,
        /// The host of end `to` (for the no-progress count, without a look-up).
        host: u32,
    },
    /// Boxed, as every event is as large as the largest, and failures are rare.
    ConnectFailed(Box<FailedConnect>),
    ConnectDeadline {
        conn: u64,
    },
    Retransmit {
        conn: u64,
        from: usize,
    },
    /// Take the oldest waiting connection off a listener's backlog.
    Accept {
        host: usize,
        incarnation: u32,
        port: u16,
    },
    /// Boxed, as every event is as large as the largest, and faults are rare.
    Fault(Box<FaultAction>),
}

/// The simulated network. Build it, add hosts and faults, then run it.
///
/// ```
/// # use std::time::Duration;
/// # use weft::simnet::{NetConfig, SimNet};
/// # use weft::host::{FactoryProgram, Host, HostPort, Node};
/// # use weft::programs::pingpong::PingPongFactory;
/// let mut net = SimNet::new(NetConfig::default(), 42);
/// net.add_host("server", || {
///     let program = FactoryProgram::new(PingPongFactory::server(None))
///         .listen(HostPort::new("0.0.0.0", 8000));
///     Box::new(Host::new(program)) as Box<dyn Node>
/// });
/// net.add_host("client", || {
///     let program = FactoryProgram::new(PingPongFactory::client(Some(100)))
///         .connect(HostPort::new("server", 8000))
///         .exit_when_done();
///     Box::new(Host::new(program)) as Box<dyn Node>
/// });
/// net.run_until_exit(&["client"], Duration::from_secs(60));
/// assert_eq!(net.exit_code("client"), Some(0));
/// ```
pub struct SimNet {
    config: NetConfig,
    seed: u64,
    now: Instant,
    seq: u64,
    started: bool,
    queue: EventQueue,
    hosts: Vec<SimHost>,
    names: Vec<String>,
    /// The names again, shared, for transcript lines.
    labels: Vec<std::sync::Arc<str>>,
    /// Each name and address to its host (the first one added, if two share it), so a
    /// lookup does not scan every host.
    by_name: BTreeMap<String, usize>,
    by_ip: BTreeMap<Ipv4Addr, usize>,
    /// Connections by id (ids are handed out in sequence).
    conns: DenseMap<Box<Conn>>,
    next_conn: u64,
    /// (host, incarnation, host's conn id) → (connection, end).
    index: EndIndex,
    /// Where the bytes of packets are cut from, so a packet costs no allocation.
    arena: PacketArena,
    /// Directed host pairs that are cut, and how.
    partitions: BTreeMap<(usize, usize), PartitionMode>,
    /// Packets waiting at hold-partitions, per directed host pair.
    held: BTreeMap<(usize, usize), VecDeque<HeldPacket>>,
    /// Latencies set per directed host pair, ready to draw from.
    link_latency: BTreeMap<(usize, usize), draw::LatencyDraw>,
    /// `config.latency`, ready to draw from.
    default_latency: draw::LatencyDraw,
    rng: ChaCha8Rng,
    transcript: Transcript,
    record: bool,
    /// A running digest of every event, if asked for.
    digest: Option<EventDigest>,
    triggers: Vec<(Trigger, FaultAction)>,
    due_faults: VecDeque<FaultAction>,
    /// Connection ends to look at, lowest (connection, end) first; an end is in it at
    /// most once (its `queued` flag).
    work: BinaryHeap<Reverse<(u64, usize)>>,
    /// Hosts called into since they were last settled, lowest first (each once: its
    /// `touched` flag).
    touched: BinaryHeap<Reverse<usize>>,
    /// Hosts settled in this step, whose next wake-up may have changed (each once: its
    /// `settled` flag).
    settled: Vec<usize>,
    /// Something was put in `touched`, `settled`, `work`, `finished` or `due_faults`
    /// since a step last settled and dropped, or `triggers` holds faults (which fire
    /// into `due_faults`): a step without it has nothing to finish (one test for five
    /// lists).
    unsettled: bool,
    events_processed: u64,
    /// Program log lines at this level and above go into the transcript.
    capture: Option<Level>,
    /// The host whose program code is running; left set if that code panics.
    calling: Option<usize>,
    limits: Limits,
    /// Why the run was stopped, once a limit tripped; no event runs after that.
    stopped: Option<RunawayError>,
    /// The events since virtual time last moved, per host, for the no-progress check.
    stretch: limits::Stretch,
    /// Connections an event touched, to drop once nothing more can happen on them.
    /// (Each once: the connection's `finishing` flag.)
    finished: Vec<u64>,
    /// Arrivals whose answer went on the wire in the arrival's own pass (for tests).
    answered_in_pass: u64,
}

impl SimNet {
    /// An empty network with `config`, whose every random choice derives from `seed`.
    ///
    /// # Panics
    /// If `config` has [`problems`](NetConfig::problems) (a zero-sized buffer or
    /// segment, a zero retransmission delay): the network could never make progress.
    pub fn new(config: NetConfig, seed: u64) -> Self {
        let problems = config.problems();
        assert!(
            problems.is_empty(),
            "unusable network settings: {}",
            problems.join("; ")
        );
        let default_latency = draw::LatencyDraw::new(&config.latency);
        Self {
            config,
            seed,
            now: Instant::ZERO,
            seq: 0,
            started: false,
            queue: EventQueue::default(),
            hosts: Vec::new(),
            names: Vec::new(),
            labels: Vec::new(),
            by_name: BTreeMap::new(),
            by_ip: BTreeMap::new(),
            conns: DenseMap::default(),
            next_conn: 0,
            index: EndIndex::default(),
            arena: PacketArena::default(),
            partitions: BTreeMap::new(),
            held: BTreeMap::new(),
            link_latency: BTreeMap::new(),
            default_latency,
            rng: ChaCha8Rng::seed_from_u64(seed),
            transcript: Transcript::new(),
            record: true,
            digest: None,
            triggers: Vec::new(),
            due_faults: VecDeque::new(),
            work: BinaryHeap::new(),
            touched: BinaryHeap::new(),
            settled: Vec::new(),
            unsettled: false,
            events_processed: 0,
            capture: None,
            calling: None,
            limits: Limits::default(),
            stopped: None,
            stretch: limits::Stretch::default(),
            finished: Vec::new(),
            answered_in_pass: 0,
        }
    }

    /// Stops recording the transcript (for benchmarks, and sweeps that need only a
    /// verdict).
    pub fn without_transcript(mut self) -> Self {
        self.record = false;
        self
    }

    /// Keeps a running digest of every event the transcript would record (recorded
    /// or not), so two runs can be compared without either's transcript.
    ///
    /// ```
    /// use weft::simnet::{NetConfig, SimNet};
    /// let run = || {
    ///     let mut net = SimNet::new(NetConfig::default(), 7).without_transcript().digest_events();
    ///     net.run_for(std::time::Duration::from_secs(1));
    ///     net.event_digest()
    /// };
    /// assert!(run().is_some());
    /// assert_eq!(run(), run());
    /// ```
    pub fn digest_events(mut self) -> Self {
        self.digest = Some(EventDigest::new());
        self
    }

    /// The digest of the events so far, if [`digest_events`](Self::digest_events) was
    /// asked for.
    pub fn event_digest(&self) -> Option<u64> {
        self.digest.as_ref().map(EventDigest::value)
    }

    /// Records the programs' log events at `level` and above in the transcript, as
    /// lines of the host that logged them. While the network runs, this replaces any
    /// tracing subscriber the caller installed.
    ///
    /// ```
    /// use weft::simnet::{Level, NetConfig, SimNet};
    /// let net = SimNet::new(NetConfig::default(), 1).capture_logs(Level::INFO);
    /// # let _ = net;
    /// ```
    pub fn capture_logs(mut self, level: Level) -> Self {
        self.capture = Some(level);
        self
    }

    /// Adds a host named `name` at the next address of [`Subnet::DEFAULT`] (10.0.0.1,
    /// 10.0.0.2, ..., by the number of hosts added before it).
    /// `factory` builds its program at start, and again at each restart after a crash.
    ///
    /// # Panics
    /// Past 65,534 hosts (use [`add_host_at`](Self::add_host_at) to choose addresses).
    pub fn add_host(
        &mut self,
        name: &str,
        factory: impl FnMut() -> Box<dyn Node> + 'static,
    ) -> HostId {
        let ip = u32::try_from(self.hosts.len())
            .ok()
            .and_then(|n| Subnet::DEFAULT.host(n))
            .expect("at most 65,534 hosts at default addresses");
        self.add_host_at(name, ip, factory)
    }

    /// Adds a host with a chosen address.
    pub fn add_host_at(
        &mut self,
        name: &str,
        ip: Ipv4Addr,
        factory: impl FnMut() -> Box<dyn Node> + 'static,
    ) -> HostId {
        self.hosts.push(SimHost {
            name: name.to_owned(),
            ip,
            factory: Box::new(factory),
            node: None,
            status: HostStatus::Running,
            incarnation: 0,
            clock_offset: Duration::ZERO,
            listeners: BTreeMap::new(),
            next_port: 40000,
            ports_in_use: BTreeSet::new(),
            wake: None,
            wake_unsettled: false,
            output: Vec::new(),
            touched: false,
            settled: false,
        });
        self.names.push(name.to_owned());
        self.labels.push(name.into());
        let h = self.hosts.len() - 1;
        self.by_name.entry(name.to_owned()).or_insert(h);
        self.by_ip.entry(ip).or_insert(h);
        HostId(self.hosts.len() - 1)
    }

    /// Sets the latency between two hosts, both ways.
    pub fn set_latency(&mut self, a: &str, b: &str, latency: Latency) {
        if let (Some(a), Some(b)) = (self.host_index(a), self.host_index(b)) {
            let draw = draw::LatencyDraw::new(&latency);
            self.link_latency.insert((a, b), draw.clone());
            self.link_latency.insert((b, a), draw);
        }
    }

    /// Schedules a fault. Faults at a time are queued like any event; faults after a
    /// traffic count wait for their trigger.
    pub fn add_fault(&mut self, fault: Fault) {
        // For the trigger or the due fault.
        self.unsettled = true;
        match (fault.at, fault.after) {
            (_, Some(trigger)) => self.triggers.push((trigger, fault.action)),
            // Faults at time zero take effect before the programs start.
            (Some(at), None) if at.is_zero() && !self.started => {
                self.due_faults.push_back(fault.action);
            }
            (Some(at), None) => {
                let at = Instant::ZERO + at;
                self.schedule(at.max(self.now), Event::Fault(Box::new(fault.action)));
            }
            (None, None) => self.due_faults.push_back(fault.action),
        }
    }

    /// Starts every host's program (done by the run methods if not done before).
    pub fn start(&mut self) {
        if self.started {
            return;
        }
        self.started = true;
        self.captured(|net| {
            while let Some(action) = net.due_faults.pop_front() {
                net.apply(action);
            }
            for h in 0..net.hosts.len() {
                // A host crashed at time zero stays down until restarted.
                if net.hosts[h].status == HostStatus::Running {
                    net.boot(h);
                }
            }
            net.settle();
        });
    }

    /// Runs one event. Returns false when nothing is left to happen, or when one of
    /// the [`Limits`] stopped the run (see [`runaway`](Self::runaway)).
    pub fn step(&mut self) -> bool {
        // Checked here, as `start` is not inlined and a caller steps once per event.
        if !self.started {
            self.start();
        }
        let mut stepped = false;
        self.captured(|net| stepped = net.step_captured(Instant::MAX) != Stepped::Nothing);
        stepped
    }

    /// [`step`](Self::step), inside the caller's log capture, if the next event is due
    /// by `until` ([`Stepped::Nothing`] if not).
    #[inline(always)]
    fn step_captured(&mut self, until: Instant) -> Stepped {
        if self.limits_near() {
            return self.step_near_limits(until);
        }
        let Some(next) = self.queue.pop_due(until) else {
            return Stepped::Nothing;
        };
        match next.event {
            // The common event, inline; the rest out of the way.
            Event::Arrive { conn, to, host } => {
                self.count_event(next.at, host);
                self.arrive(conn, to)
            }
            event => self.count_and_handle(next.at, event),
        }
        self.finish_step()
    }

    /// Runs every event due up to `deadline`, then moves time to it.
    pub fn run_until(&mut self, deadline: Instant) {
        self.start();
        self.captured(|net| while net.step_captured(deadline) != Stepped::Nothing {});
        // A stopped run stays at the instant it stopped.
        if self.stopped.is_none() {
            self.move_time(deadline);
        }
    }

    /// Runs for `duration` of virtual time.
    pub fn run_for(&mut self, duration: Duration) {
        self.run_until(self.now + duration);
    }

    /// Runs until every host in `hosts` has exited (true), or until nothing is left to
    /// happen or `limit` of virtual time has passed (false).
    pub fn run_until_exit(&mut self, hosts: &[&str], limit: Duration) -> bool {
        self.start();
        let deadline = Instant::ZERO + limit;
        let Some(awaited) = hosts
            .iter()
            .map(|h| self.host_index(h))
            .collect::<Option<Vec<_>>>()
        else {
            return false;
        };
        // An exit is final (only a crashed host restarts), so the hosts before `waiting`
        // need no second look; and only settling runs a program's commands, its exit
        // among them, so a step that settled nothing needs no look at all.
        let mut waiting = 0;
        let mut all_exited = |net: &Self| {
            while (awaited.get(waiting))
                .is_some_and(|&h| matches!(net.hosts[h].status, HostStatus::Exited(_)))
            {
                waiting += 1;
            }
            waiting == awaited.len()
        };
        if all_exited(self) {
            return true;
        }
        // A moving closure: the deadline stays in a register.
        self.captured(move |net| {
            loop {
                match net.step_captured(deadline) {
                    Stepped::Nothing => return false,
                    Stepped::Ran => {}
                    Stepped::Settled => {
                        if all_exited(net) {
                            return true;
                        }
                    }
                }
            }
        })
    }

    /// When the next event happens, if anything is left to happen.
    pub fn next_event_time(&self) -> Option<Instant> {
        self.queue.next_at()
    }

    fn host_index(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// The time as a host's (possibly jumped) clock shows it.
    fn host_now(&self, host: usize) -> Instant {
        self.now + self.hosts[host].clock_offset
    }

    fn boot(&mut self, h: usize) {
        self.calling = Some(h);
        let mut node = (self.hosts[h].factory)();
        self.calling = None;
        // A stream of its own per host and incarnation; stream 0 of the seed stays the
        // network's, so seeding hosts moves none of the network's draws.
        let stream = (h as u64 + 1) << 32 | u64::from(self.hosts[h].incarnation);
        node.set_rng(HostRng::new(self.seed, stream));
        let host = &mut self.hosts[h];
        host.node = Some(node);
        host.status = HostStatus::Running;
        host.wake = None;
        self.call_node(h, |node, now| node.start(now));
    }

    fn is_loopback_name(host: &str) -> bool {
        host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }
}
