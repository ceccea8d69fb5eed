//! [`LifecycleLedger`]: watches what every host's program is told about its connects and
//! connections, and says which of the lifecycle contract's promises a run broke.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::rc::Rc;

use crate::host::{
    Command, ConnId, ConnPoll, ConnectError, HostRng, ListenError, ListenerId, Node,
};
use crate::simnet::{HostStatus, SimNet};
use crate::time::Instant;
use crate::transport::{CloseAction, Disconnect};

/// What one program incarnation was told about one connection.
#[derive(Clone, Debug, Default)]
struct Told {
    /// When its connect's own timeout expires (`None`: an accepted connection).
    deadline: Option<Instant>,
    /// The program withdrew its connect: at most one answer may still come.
    withdrawn: bool,
    /// `connection_made` (or an accept).
    made: u32,
    /// Connect failures.
    failed: Vec<ConnectError>,
    /// `connection_lost`.
    lost: Vec<Disconnect>,
    /// Bytes or end-of-stream delivered after `connection_lost`.
    after_lost: bool,
}

/// The connections of one start (or restart) of a host's program, by id.
type Incarnation = Rc<RefCell<BTreeMap<ConnId, Told>>>;

/// Records, for every host it watches, what each incarnation of its program was told
/// about its connects and connections, and checks the lifecycle contract against it
/// once a run is over ([`violations`](Self::violations)):
///
/// - every connect is answered at most once (`connection_made` or a connect failure),
///   and exactly once when its own timeout has passed by the end of the run, unless the
///   program withdrew it or its host crashed or exited (those owe nobody an answer);
/// - every connection is lost at most once, never before it was made, and nothing
///   reaches the program on it after that.
///
/// A scenario asks for this check with `connections-end-once = true` under `[expect]`;
/// a Rust test wraps each host's node with [`watch`](Self::watch):
///
/// ```
/// use std::time::Duration;
/// use weft::host::{FactoryProgram, Host, HostPort};
/// use weft::programs::pingpong::PingPongFactory;
/// use weft::simnet::{NetConfig, SimNet};
/// use weft::testing::LifecycleLedger;
///
/// let ledger = LifecycleLedger::new();
/// let mut net = SimNet::new(NetConfig::default(), 1);
/// let watch = ledger.clone();
/// net.add_host("server", move || {
///     let server = FactoryProgram::new(PingPongFactory::server(None))
///         .listen(HostPort::new("0.0.0.0", 8000));
///     watch.watch("server", Box::new(Host::new(server)))
/// });
/// let watch = ledger.clone();
/// net.add_host("client", move || {
///     let client = FactoryProgram::new(PingPongFactory::client(Some(10)))
///         .connect(HostPort::new("server", 8000))
///         .exit_when_done();
///     watch.watch("client", Box::new(Host::new(client)))
/// });
/// net.run_for(Duration::from_secs(60));
/// assert_eq!(ledger.violations(&net), Vec::<String>::new());
/// ```
#[derive(Clone, Debug, Default)]
pub struct LifecycleLedger {
    hosts: Rc<RefCell<BTreeMap<String, Vec<Incarnation>>>>,
}

impl LifecycleLedger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    /// Wraps a freshly built `node` of `host`, recording everything its program is told.
    /// Call it in the host's factory, so each restart is a new incarnation.
    pub fn watch(&self, host: &str, node: Box<dyn Node>) -> Box<dyn Node> {
        let incarnation = Incarnation::default();
        (self.hosts.borrow_mut())
            .entry(host.to_owned())
            .or_default()
            .push(incarnation.clone());
        Box::new(Watched {
            inner: node,
            told: incarnation,
            now: Instant::ZERO,
        })
    }

    /// The promises the run on `net` broke, one line each (empty: none). Call it once
    /// the run is over: a connect is owed its answer only once its timeout has passed,
    /// by `net`'s current time.
    pub fn violations(&self, net: &SimNet) -> Vec<String> {
        let mut found = Vec::new();
        for (host, incarnations) in self.hosts.borrow().iter() {
            let running = net.status(host) == Some(HostStatus::Running);
            let last = incarnations.len().saturating_sub(1);
            for (i, incarnation) in incarnations.iter().enumerate() {
                // Only a running host's current program is still owed answers.
                let owed = running && i == last;
                for (conn, told) in incarnation.borrow().iter() {
                    found.extend(broken(host, *conn, told, owed, net.now()));
                }
            }
        }
        found
    }
}

/// What `told` says went wrong with one connection.
fn broken(host: &str, conn: ConnId, told: &Told, owed: bool, now: Instant) -> Vec<String> {
    let mut found = Vec::new();
    let answers = told.made as usize + told.failed.len();
    let said = || {
        format!(
            "made {} times, failed {:?}, lost {:?}",
            told.made, told.failed, told.lost
        )
    };
    if answers > 1 {
        found.push(format!(
            "{host}'s connect {conn} ended more than once ({})",
            said()
        ));
    }
    let expired = told.deadline.is_some_and(|deadline| deadline < now);
    if owed && expired && !told.withdrawn && answers == 0 {
        found.push(format!(
            "{host}'s connect {conn} never ended: neither made nor failed by its timeout"
        ));
    }
    if told.lost.len() > 1 {
        found.push(format!(
            "{host}'s connection {conn} was lost more than once ({})",
            said()
        ));
    }
    if !told.lost.is_empty() && told.made == 0 {
        found.push(format!(
            "{host}'s connection {conn} was lost but never made ({})",
            said()
        ));
    }
    if told.after_lost {
        found.push(format!(
            "{host}'s connection {conn} delivered data after it was lost"
        ));
    }
    found
}

/// Forwards everything to `inner`, writing down what it is told.
struct Watched {
    inner: Box<dyn Node>,
    told: Incarnation,
    /// The time of the latest call: commands are polled at the time that caused them.
    now: Instant,
}

impl Watched {
    fn note(&mut self, now: Instant, conn: ConnId, f: impl FnOnce(&mut Told)) {
        self.now = now;
        f(self.told.borrow_mut().entry(conn).or_default());
    }

    fn delivered(&mut self, now: Instant, conn: ConnId) {
        self.note(now, conn, |told| told.after_lost |= !told.lost.is_empty());
    }
}

impl Node for Watched {
    fn set_rng(&mut self, rng: HostRng) {
        self.inner.set_rng(rng);
    }
    fn start(&mut self, now: Instant) {
        self.now = now;
        self.inner.start(now);
    }
    fn exit_code(&self) -> Option<i32> {
        self.inner.exit_code()
    }
    fn poll_command(&mut self) -> Option<Command> {
        let command = self.inner.poll_command()?;
        let mut told = self.told.borrow_mut();
        match &command {
            Command::Connect { conn, timeout, .. } => {
                // Saturating: a connect that never times out is never owed.
                let deadline = Some(self.now + *timeout);
                told.insert(
                    *conn,
                    Told {
                        deadline,
                        ..Told::default()
                    },
                );
            }
            Command::CancelConnect { conn } => told.entry(*conn).or_default().withdrawn = true,
            _ => {}
        }
        drop(told);
        Some(command)
    }
    fn poll_dirty(&mut self) -> Option<ConnId> {
        self.inner.poll_dirty()
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        self.inner.poll_timeout()
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        self.inner.handle_timeout(now);
    }
    fn pending(&self, conn: ConnId) -> &[u8] {
        self.inner.pending(conn)
    }
    fn consume(&mut self, now: Instant, conn: ConnId, n: usize) {
        self.now = now;
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
        self.now = now;
        self.inner.handle_listening(now, listener, addr);
    }
    fn handle_listen_failed(&mut self, now: Instant, listener: ListenerId, error: ListenError) {
        self.now = now;
        self.inner.handle_listen_failed(now, listener, error);
    }
    fn handle_accepted(
        &mut self,
        now: Instant,
        listener: ListenerId,
        local: SocketAddr,
        peer: SocketAddr,
    ) -> ConnId {
        self.now = now;
        let conn = self.inner.handle_accepted(now, listener, local, peer);
        self.note(now, conn, |told| told.made += 1);
        conn
    }
    fn handle_connected(
        &mut self,
        now: Instant,
        conn: ConnId,
        local: SocketAddr,
        peer: SocketAddr,
    ) -> bool {
        self.note(now, conn, |told| told.made += 1);
        self.inner.handle_connected(now, conn, local, peer)
    }
    fn handle_connect_failed(&mut self, now: Instant, conn: ConnId, error: ConnectError) {
        let failure = error.clone();
        self.note(now, conn, |told| told.failed.push(failure));
        self.inner.handle_connect_failed(now, conn, error);
    }
    fn handle_data(&mut self, now: Instant, conn: ConnId, data: &[u8]) {
        self.delivered(now, conn);
        self.inner.handle_data(now, conn, data);
    }
    fn poll_conn(
        &mut self,
        now: Instant,
        conn: ConnId,
        room: usize,
        out: &mut VecDeque<u8>,
    ) -> ConnPoll {
        self.now = now;
        self.inner.poll_conn(now, conn, room, out)
    }
    fn deliver_data(&mut self, now: Instant, conn: ConnId, data: &[u8]) -> ConnPoll {
        self.delivered(now, conn);
        self.inner.deliver_data(now, conn, data)
    }
    fn handle_read_closed(&mut self, now: Instant, conn: ConnId) {
        self.delivered(now, conn);
        self.inner.handle_read_closed(now, conn);
    }
    fn handle_closed(&mut self, now: Instant, conn: ConnId, reason: Disconnect) {
        self.note(now, conn, |told| told.lost.push(reason));
        self.inner.handle_closed(now, conn, reason);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::host::{FactoryProgram, Host, HostPort};
    use crate::programs::pingpong::PingPongFactory;
    use crate::simnet::NetConfig;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([10, 0, 0, 1], port))
    }

    /// A client node whose connect (its first command) is answered however the test
    /// says, on a network where "client" runs, so its connects are owed answers.
    fn watched_client(ledger: &LifecycleLedger) -> (Box<dyn Node>, ConnId, SimNet) {
        let client = FactoryProgram::new(PingPongFactory::client(None))
            .connect(HostPort::new("server", 8000));
        let mut node = ledger.watch("client", Box::new(Host::new(client)));
        node.start(Instant::ZERO);
        let conn = std::iter::from_fn(|| node.poll_command())
            .find_map(|c| match c {
                Command::Connect { conn, .. } => Some(conn),
                _ => None,
            })
            .expect("the client connects");
        let mut net = SimNet::new(NetConfig::default(), 1);
        net.add_host("client", || {
            Box::new(Host::new(FactoryProgram::new(PingPongFactory::server(
                None,
            ))))
        });
        net.run_for(Duration::from_secs(40));
        (node, conn, net)
    }

    #[test]
    fn a_connect_unanswered_past_its_timeout_is_a_violation() {
        let ledger = LifecycleLedger::new();
        let (_node, conn, net) = watched_client(&ledger);
        assert_eq!(
            ledger.violations(&net),
            [format!(
                "client's connect {conn} never ended: neither made nor failed by its timeout"
            )]
        );
    }

    #[test]
    fn a_connect_answered_twice_and_lost_twice_are_violations() {
        let ledger = LifecycleLedger::new();
        let (mut node, conn, net) = watched_client(&ledger);
        let now = Instant::from_millis(5);
        node.handle_connected(now, conn, addr(40000), addr(8000));
        node.handle_connect_failed(now, conn, ConnectError::Refused);
        node.handle_closed(now, conn, Disconnect::Reset);
        node.handle_data(now, conn, b"late");
        node.handle_closed(now, conn, Disconnect::Reset);
        let found = ledger.violations(&net);
        assert_eq!(found.len(), 3, "{found:#?}");
        assert!(found[0].contains("ended more than once"), "{found:#?}");
        assert!(found[1].contains("lost more than once"), "{found:#?}");
        assert!(found[2].contains("data after it was lost"), "{found:#?}");
    }

    #[test]
    fn a_connect_answered_once_and_lost_once_is_fine() {
        let ledger = LifecycleLedger::new();
        let (mut node, conn, net) = watched_client(&ledger);
        let now = Instant::from_millis(5);
        node.handle_connected(now, conn, addr(40000), addr(8000));
        node.handle_closed(now, conn, Disconnect::Clean);
        assert_eq!(ledger.violations(&net), Vec::<String>::new());
    }
}
