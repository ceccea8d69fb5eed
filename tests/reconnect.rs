//! The reconnecting client (Twisted's `ClientService`) under the doubles: it waits as
//! its `RetryPolicy` says after each failed connect or lost connection, a connection
//! resets the count, it gives up when the retries run out, and its jitter follows the
//! host's seed; and on SimNet, a reset connection comes back after the policy's wait.

use std::time::Duration;

use weft::host::{
    ConnectError, FactoryProgram, Host, HostPort, HostRng, Jitter, Node, ReconnectingClient,
    RetryPolicy, Stream,
};
use weft::programs::pingpong::PingPongFactory;
use weft::simnet::{Fault, Latency, NetConfig, SimNet};
use weft::testing::{EventKind, MemoryReactor};
use weft::time::Instant;
use weft::transport::Disconnect;

const SECOND: Duration = Duration::from_secs(1);

type Client = ReconnectingClient<PingPongFactory>;

fn client(policy: RetryPolicy) -> Client {
    ReconnectingClient::new(PingPongFactory::client(None), HostPort::new("server", 8000))
        .with_policy(policy)
}

fn at(secs: u64) -> Option<Instant> {
    Some(Instant::ZERO + Duration::from_secs(secs))
}

#[test]
fn failed_connects_wait_as_the_policy_says_and_a_connection_resets_the_count() {
    let policy = RetryPolicy::exponential(SECOND, 2.0).with_max_delay(4 * SECOND);
    let mut reactor = MemoryReactor::new(client(policy));
    assert_eq!(reactor.tcp_clients().len(), 1, "connects at once");
    reactor.fail_connect(0, ConnectError::Refused);
    assert_eq!(reactor.next_deadline(), at(1));
    reactor.advance(SECOND);
    assert_eq!(reactor.tcp_clients().len(), 2);
    reactor.fail_connect(1, ConnectError::TimedOut);
    assert_eq!(
        reactor.next_deadline(),
        at(3),
        "the second wait is twice the first"
    );
    reactor.advance(2 * SECOND);
    let conn = reactor.complete_connect(2);
    assert_eq!(
        reactor.value(conn),
        b"*",
        "the factory's protocol has the connection"
    );
    assert_eq!(
        (
            reactor.program().failures(),
            reactor.program().connections()
        ),
        (0, 1)
    );
    // A lost connection is a failure, counted from one again: the first wait.
    reactor.connection_lost(conn, Disconnect::Reset);
    assert_eq!(reactor.next_deadline(), at(4));
    reactor.advance(SECOND);
    assert_eq!(reactor.tcp_clients().len(), 4);
    assert_eq!(reactor.tcp_clients()[3].port, 8000);
}

#[test]
fn the_client_gives_up_when_the_retries_run_out() {
    let mut reactor = MemoryReactor::new(client(RetryPolicy::fixed(SECOND).with_max_retries(2)));
    for attempt in 0..3 {
        reactor.fail_connect(attempt, ConnectError::Refused);
        reactor.advance(SECOND);
    }
    assert_eq!(
        reactor.tcp_clients().len(),
        3,
        "the first attempt and two retries"
    );
    assert!(reactor.program().has_given_up());
    assert_eq!(
        reactor.lines(Stream::Stderr),
        ["giving up on server:8000 after 2 retries"]
    );
    assert_eq!(reactor.exit_code(), Some(1));
    reactor.advance(60 * SECOND);
    assert_eq!(reactor.tcp_clients().len(), 3, "no connect after giving up");
}

#[test]
fn a_clean_close_is_reconnected_too() {
    let mut reactor = MemoryReactor::new(client(RetryPolicy::fixed(SECOND)));
    let conn = reactor.complete_connect(0);
    reactor.connection_lost(conn, Disconnect::Clean);
    assert!(reactor.program().protocol().is_none());
    reactor.advance(SECOND);
    assert_eq!(reactor.tcp_clients().len(), 2);
}

/// The reconnect times of a client whose every connect is refused, drawing from `rng`.
fn reconnect_times(rng: HostRng) -> Vec<Instant> {
    let policy = RetryPolicy::fixed(SECOND)
        .with_jitter(Jitter::Add(SECOND))
        .with_max_retries(5);
    let mut reactor = MemoryReactor::with_rng(client(policy), rng);
    let mut times = Vec::new();
    for attempt in 0..5 {
        reactor.fail_connect(attempt, ConnectError::Refused);
        let deadline = reactor.next_deadline().expect("a reconnect is scheduled");
        times.push(deadline);
        reactor.advance(deadline - reactor.now());
    }
    times
}

#[test]
fn the_jitter_replays_from_the_hosts_seed() {
    let first = reconnect_times(HostRng::new(3, 0));
    assert_eq!(reconnect_times(HostRng::new(3, 0)), first);
    assert_ne!(reconnect_times(HostRng::new(4, 0)), first);
    let mut previous = Instant::ZERO;
    for t in first {
        let wait = t - previous;
        assert!((SECOND..2 * SECOND).contains(&wait), "{wait:?}");
        previous = t;
    }
}

#[test]
fn on_simnet_a_reset_connection_is_reconnected_after_the_policy_wait() {
    let config = NetConfig {
        latency: Latency::Fixed(Duration::from_millis(10)),
        ..NetConfig::default()
    };
    let mut net = SimNet::new(config, 1);
    net.add_host("server", || {
        let server = FactoryProgram::new(PingPongFactory::server(None))
            .listen(HostPort::new("0.0.0.0", 8000));
        Box::new(Host::new(server)) as Box<dyn Node>
    });
    net.add_host("client", || {
        let policy = RetryPolicy::fixed(Duration::from_millis(500));
        Box::new(Host::new(client(policy))) as Box<dyn Node>
    });
    net.add_fault(Fault::at(SECOND).reset("client"));
    net.run_for(3 * SECOND);
    let opens: Vec<Instant> = net
        .transcript()
        .events()
        .iter()
        .filter(|e| e.who.starts_with("client:") && e.what == EventKind::Open)
        .map(|e| e.at)
        .collect();
    // Connected after one round trip; again one wait and one round trip after the reset.
    let ms = |n| Instant::ZERO + Duration::from_millis(n);
    assert_eq!(opens, [ms(20), ms(1520)]);
    let host = net
        .node("client")
        .and_then(|n| n.downcast_ref::<Host<Client>>());
    let program = host.expect("the client host").program();
    assert_eq!((program.connections(), program.failures()), (2, 0));
}
