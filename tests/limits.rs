//! Server limits on the doubles: idle connections are closed, a client that never
//! reads is closed once nothing leaves, a reading client of a slow server is not idle,
//! and connections past the limit are closed at once while the listener goes on.

use std::time::Duration;

use weft::host::{FactoryProgram, Host, HostPort, ListenerId, Node};
use weft::programs::limits::{LimitedFactory, ServerLimits};
use weft::programs::poetry::{FastPoetryFactory, Pace, Poem, SlowPoetryFactory};
use weft::programs::transform::TransformFactory;
use weft::testing::MemoryReactor;
use weft::time::Instant;
use weft::transport::{CloseAction, Disconnect, ipv4};

const IDLE: Duration = Duration::from_secs(10);

fn limits() -> ServerLimits {
    ServerLimits::none().idle_timeout(Some(IDLE))
}

fn listen() -> HostPort {
    HostPort::new("127.0.0.1", 10000)
}

#[test]
fn a_connection_that_never_completes_its_request_is_aborted_after_the_idle_timeout() {
    let factory = LimitedFactory::new(TransformFactory::default(), limits());
    let mut reactor = MemoryReactor::new(FactoryProgram::new(factory).listen(listen()));
    let silent = reactor.accept(0, ipv4(127, 0, 0, 1, 50001));
    let partial = reactor.accept(0, ipv4(127, 0, 0, 1, 50002));
    reactor.advance(Duration::from_secs(5));
    reactor.data_received(partial, b"27:cummingsify.HERE");
    reactor.advance(Duration::from_secs(5));
    assert_eq!(
        reactor.lost(silent),
        Some(Disconnect::Aborted),
        "10 s silent"
    );
    assert_eq!(reactor.lost(partial), None, "input restarted its timer");
    reactor.advance(Duration::from_secs(5));
    assert_eq!(reactor.lost(partial), Some(Disconnect::Aborted));
    assert_eq!(reactor.program().factory().open_connections(), 0);
}

#[test]
fn a_client_that_never_reads_is_aborted_once_nothing_has_left_for_a_timeout() {
    let poem = Poem::new(vec![b'x'; 1 << 20]);
    let factory = LimitedFactory::new(FastPoetryFactory::new(poem), limits());
    let mut host = Host::new(FactoryProgram::new(factory).listen(listen()));
    host.start(Instant::ZERO);
    let local = ipv4(127, 0, 0, 1, 10000);
    let conn = host.handle_accepted(Instant::ZERO, ListenerId(0), local, ipv4(127, 0, 0, 1, 1));
    // The network takes one piece, then the client stops reading.
    let n = host.pending(conn).len();
    assert!(n < 1 << 20, "one piece queued, not the poem: {n}");
    host.consume(Instant::ZERO, conn, n);
    let mut now = Instant::ZERO;
    while host.close_action(conn).is_none() {
        now = host.poll_timeout().expect("the idle check is pending");
        host.handle_timeout(now);
    }
    assert_eq!(host.close_action(conn), Some(CloseAction::Abort));
    assert_eq!(
        now,
        Instant::ZERO + IDLE + IDLE,
        "the first check saw progress"
    );
}

#[test]
fn a_reading_client_of_a_slow_server_is_never_idle() {
    let slow = SlowPoetryFactory::new(Poem::from("0123456789"), Pace::new(1, IDLE / 2));
    let factory = LimitedFactory::new(slow, limits());
    let mut reactor = MemoryReactor::new(FactoryProgram::new(factory).listen(listen()));
    let conn = reactor.accept(0, ipv4(127, 0, 0, 1, 50001));
    while let Some(next) = reactor.next_deadline() {
        reactor.advance(next - reactor.now());
    }
    assert_eq!(reactor.value(conn), b"0123456789");
    assert_eq!(reactor.lost(conn), Some(Disconnect::Clean));
}

#[test]
fn connections_past_the_limit_are_closed_at_once_and_room_is_made_when_one_ends() {
    let limits = ServerLimits::none().max_connections(Some(2));
    let factory = LimitedFactory::new(TransformFactory::default(), limits);
    let mut reactor = MemoryReactor::new(FactoryProgram::new(factory).listen(listen()));
    let a = reactor.accept(0, ipv4(127, 0, 0, 1, 50001));
    let b = reactor.accept(0, ipv4(127, 0, 0, 1, 50002));
    let over = reactor.accept(0, ipv4(127, 0, 0, 1, 50003));
    assert_eq!(reactor.lost(over), Some(Disconnect::Aborted));
    assert_eq!(reactor.value(over), b"");
    assert!(reactor.is_connected(a) && reactor.is_connected(b));
    reactor.connection_lost(a, Disconnect::Reset);
    let later = reactor.accept(0, ipv4(127, 0, 0, 1, 50004));
    assert!(reactor.is_connected(later), "room again once one ended");
    reactor.data_received(later, b"27:cummingsify.HERE IS MY POEM,");
    assert_eq!(reactor.value(later), b"15:here is my poem,");
    assert_eq!(
        reactor.lost(later),
        Some(Disconnect::Clean),
        "replied, then closed"
    );
    assert_eq!(reactor.program().factory().open_connections(), 1);
}
