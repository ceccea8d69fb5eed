//! The caching poetry proxy: cache hits and expiry, one upstream fetch for many clients,
//! failures not cached, and cancellation when the last waiting client leaves.

mod common;

use std::time::Duration;

use common::proxy::{client, upstream_sends};
use weft::host::{ConnId, ConnectError, HostPort};
use weft::programs::poetry::{PoetryProxy, ProxyOptions};
use weft::testing::{EventKind, MemoryReactor, Transcript};
use weft::transport::{Disconnect, ipv4};

const POEM: &[u8] = b"A poem for three,\nfetched once and shared.\n";
const FETCHING: &str = "Fetching poem from server.";
const CACHED: &str = "Using cached poem.";
const CANCELING: &str = "Canceling poem download.";

fn proxy() -> MemoryReactor<PoetryProxy> {
    let options = ProxyOptions::new(
        HostPort::new("127.0.0.1", 10000),
        HostPort::new("127.0.0.1", 10001),
    );
    MemoryReactor::new(PoetryProxy::new(options))
}

/// Runs `f` with the log lines it emits captured (messages only).
fn with_logs<R>(f: impl FnOnce() -> R) -> (R, Vec<String>) {
    let (result, lines) = weft::testing::logs::capture(tracing::Level::TRACE, f);
    (result, lines.into_iter().map(|(_, text)| text).collect())
}

fn count(logs: &[String], line: &str) -> usize {
    logs.iter().filter(|l| *l == line).count()
}

#[test]
fn second_client_is_served_from_the_cache() {
    let (reactor, logs) = with_logs(|| {
        let mut reactor = proxy();
        let first = client(&mut reactor, 1);
        assert_eq!(reactor.tcp_clients().len(), 1, "a miss fetches");
        assert_eq!(reactor.value(first), b"", "nothing before the poem lands");
        upstream_sends(&mut reactor, 0, POEM, Disconnect::Clean);
        assert_eq!(reactor.value(first), POEM);
        assert_eq!(reactor.lost(first), Some(Disconnect::Clean));
        let second = client(&mut reactor, 2);
        assert_eq!(reactor.value(second), POEM, "served at once");
        assert_eq!(reactor.lost(second), Some(Disconnect::Clean));
        reactor
    });
    assert_eq!(reactor.tcp_clients().len(), 1, "no second fetch");
    assert_eq!(reactor.tcp_servers()[0].port, 10000);
    assert_eq!(logs, [FETCHING, CACHED]);
    let stats = reactor.program().stats();
    assert_eq!((stats.fetches, stats.cache_hits, stats.served), (1, 1, 2));
}

#[test]
fn a_cached_poem_expires_after_two_hours() {
    let (reactor, logs) = with_logs(|| {
        let mut reactor = proxy();
        client(&mut reactor, 1);
        upstream_sends(&mut reactor, 0, POEM, Disconnect::Clean);
        reactor.advance(Duration::from_secs(2 * 3600) - Duration::from_nanos(1));
        let fresh = client(&mut reactor, 2);
        assert_eq!(reactor.value(fresh), POEM);
        reactor.advance(Duration::from_nanos(1));
        let late = client(&mut reactor, 3);
        assert_eq!(reactor.value(late), b"", "waits for a new fetch");
        assert_eq!(reactor.tcp_clients().len(), 2);
        upstream_sends(&mut reactor, 1, b"a newer poem\n", Disconnect::Clean);
        assert_eq!(reactor.value(late), b"a newer poem\n");
        reactor
    });
    assert_eq!(count(&logs, FETCHING), 2);
    assert_eq!(count(&logs, CACHED), 1);
    assert_eq!(reactor.program().stats().fetches, 2);
}

#[test]
fn a_cache_without_expiry_never_refetches() {
    let options = ProxyOptions::new(
        HostPort::new("127.0.0.1", 10000),
        HostPort::new("127.0.0.1", 10001),
    )
    .expiry(None);
    let mut reactor = MemoryReactor::new(PoetryProxy::new(options));
    client(&mut reactor, 1);
    upstream_sends(&mut reactor, 0, POEM, Disconnect::Clean);
    reactor.advance(Duration::from_secs(365 * 24 * 3600));
    let later = client(&mut reactor, 2);
    assert_eq!(reactor.value(later), POEM);
    assert_eq!(reactor.tcp_clients().len(), 1);
}

/// Records, at the reactor's current time, what each named connection has been sent
/// and whether it closed since the last look.
struct Recorder {
    transcript: Transcript,
    seen: Vec<(ConnId, String, usize, bool)>,
}

impl Recorder {
    fn new() -> Self {
        Self {
            transcript: Transcript::new(),
            seen: Vec::new(),
        }
    }

    fn track(&mut self, reactor: &MemoryReactor<PoetryProxy>, conn: ConnId, name: &str) {
        self.transcript.record(reactor.now(), name, EventKind::Open);
        self.seen.push((conn, name.to_owned(), 0, false));
    }

    fn note(&mut self, reactor: &MemoryReactor<PoetryProxy>, who: &str, what: EventKind) {
        self.transcript.record(reactor.now(), who, what);
    }

    fn observe(&mut self, reactor: &MemoryReactor<PoetryProxy>) {
        for (conn, name, sent, closed) in &mut self.seen {
            let value = reactor.value(*conn);
            if value.len() > *sent {
                let who = format!("proxy > {name}");
                let data = EventKind::Data(value[*sent..].to_vec().into());
                self.transcript.record(reactor.now(), who, data);
                *sent = value.len();
            }
            if let (false, Some(reason)) = (*closed, reactor.lost(*conn)) {
                *closed = true;
                self.transcript
                    .record(reactor.now(), name.clone(), EventKind::Lost(reason));
            }
        }
    }
}

#[test]
fn proxy_three_clients_one_fetch() {
    let (text, logs) = with_logs(|| {
        let mut reactor = proxy();
        let mut rec = Recorder::new();
        for (n, name) in [(1, "client 1"), (2, "client 2"), (3, "client 3")] {
            let conn = client(&mut reactor, n);
            rec.track(&reactor, conn, name);
            rec.observe(&reactor);
            reactor.advance(Duration::from_millis(500));
        }
        assert_eq!(
            reactor.tcp_clients().len(),
            1,
            "one fetch for three clients"
        );
        assert_eq!(reactor.program().waiters().len(), 3);
        let upstream = reactor.complete_connect(0);
        rec.track(&reactor, upstream, "upstream");
        reactor.advance(Duration::from_millis(500));
        rec.note(
            &reactor,
            "upstream > proxy",
            EventKind::Data(POEM[..18].to_vec().into()),
        );
        reactor.data_received(upstream, &POEM[..18]);
        rec.observe(&reactor);
        reactor.advance(Duration::from_millis(500));
        rec.note(
            &reactor,
            "upstream > proxy",
            EventKind::Data(POEM[18..].to_vec().into()),
        );
        reactor.data_received(upstream, &POEM[18..]);
        reactor.connection_lost(upstream, Disconnect::Clean);
        rec.observe(&reactor);
        assert!(reactor.program().cached().is_some());
        rec.transcript.render()
    });
    assert_eq!(logs, [FETCHING]);
    assert_snapshot!("proxy_three_clients_one_fetch", text);
}

#[test]
fn a_failed_fetch_is_not_cached_and_waiters_get_an_empty_close() {
    let (reactor, logs) = with_logs(|| {
        let mut reactor = proxy();
        let a = client(&mut reactor, 1);
        let b = client(&mut reactor, 2);
        reactor.fail_connect(0, ConnectError::Refused);
        for conn in [a, b] {
            assert_eq!(reactor.value(conn), b"");
            assert_eq!(reactor.lost(conn), Some(Disconnect::Clean));
        }
        assert_eq!(reactor.program().cached(), None);
        let c = client(&mut reactor, 3);
        assert_eq!(
            reactor.tcp_clients().len(),
            2,
            "the next client fetches again"
        );
        upstream_sends(&mut reactor, 1, POEM, Disconnect::Clean);
        assert_eq!(reactor.value(c), POEM);
        reactor
    });
    assert_eq!(count(&logs, FETCHING), 2);
    let stats = reactor.program().stats();
    assert_eq!((stats.failed, stats.emptied, stats.served), (1, 2, 1));
}

#[test]
fn a_poem_cut_short_by_a_reset_is_not_cached() {
    let mut reactor = proxy();
    let a = client(&mut reactor, 1);
    upstream_sends(&mut reactor, 0, &POEM[..10], Disconnect::Reset);
    assert_eq!(reactor.value(a), b"", "a truncated poem is not passed on");
    assert_eq!(reactor.lost(a), Some(Disconnect::Clean));
    assert_eq!(reactor.program().cached(), None);
    client(&mut reactor, 2);
    assert_eq!(reactor.tcp_clients().len(), 2);
}

#[test]
fn the_fetch_is_cancelled_when_its_only_waiter_leaves() {
    let (reactor, logs) = with_logs(|| {
        let mut reactor = proxy();
        let a = client(&mut reactor, 1);
        let upstream = reactor.complete_connect(0);
        reactor.data_received(upstream, &POEM[..10]);
        reactor.connection_lost(a, Disconnect::Reset);
        assert_eq!(
            reactor.lost(upstream),
            Some(Disconnect::Clean),
            "upstream closed, as connector.disconnect() closes it"
        );
        // The upstream's own close now finds nothing: it was already closed.
        reactor.connection_lost(upstream, Disconnect::Clean);
        assert_eq!(reactor.program().cached(), None);
        assert_eq!(reactor.program().upstream_conn(), None);
        let b = client(&mut reactor, 2);
        assert_eq!(reactor.tcp_clients().len(), 2, "a new client starts over");
        upstream_sends(&mut reactor, 1, POEM, Disconnect::Clean);
        assert_eq!(reactor.value(b), POEM);
        reactor
    });
    assert_eq!(logs, [FETCHING, CANCELING, FETCHING]);
    let stats = reactor.program().stats();
    assert_eq!((stats.cancelled, stats.failed, stats.served), (1, 0, 1));
}

#[test]
fn a_pending_upstream_connect_is_withdrawn_when_its_only_waiter_leaves() {
    let mut reactor = proxy();
    let a = client(&mut reactor, 1);
    let upstream = reactor.tcp_clients()[0].conn;
    reactor.connection_lost(a, Disconnect::Reset);
    assert_eq!(reactor.cancelled_connects(), [upstream]);
    reactor.complete_connect(0);
    assert!(
        !reactor.is_connected(upstream),
        "a late connect is not taken"
    );
    assert_eq!(reactor.program().stats().cancelled, 1);
}

#[test]
fn the_fetch_goes_on_while_some_waiter_remains() {
    let (reactor, logs) = with_logs(|| {
        let mut reactor = proxy();
        let a = client(&mut reactor, 1);
        let b = client(&mut reactor, 2);
        let upstream = reactor.complete_connect(0);
        reactor.connection_lost(a, Disconnect::Reset);
        assert!(reactor.is_connected(upstream));
        assert_eq!(reactor.program().waiters(), [b]);
        reactor.data_received(upstream, POEM);
        reactor.connection_lost(upstream, Disconnect::Clean);
        assert_eq!(reactor.value(b), POEM);
        assert_eq!(reactor.value(a), b"");
        reactor
    });
    assert_eq!(logs, [FETCHING]);
    assert_eq!(reactor.program().stats().cancelled, 0);
}

#[test]
fn a_served_client_leaving_cancels_nothing() {
    let (_, logs) = with_logs(|| {
        let mut reactor = proxy();
        let a = client(&mut reactor, 1);
        upstream_sends(&mut reactor, 0, POEM, Disconnect::Clean);
        // The proxy closed `a` itself; a hit client that resets early is no waiter either.
        assert_eq!(reactor.lost(a), Some(Disconnect::Clean));
        let b = client(&mut reactor, 2);
        reactor.connection_lost(b, Disconnect::Reset);
    });
    assert_eq!(count(&logs, CANCELING), 0);
}

#[test]
fn an_empty_poem_is_never_cached() {
    let mut reactor = proxy();
    let a = client(&mut reactor, 1);
    upstream_sends(&mut reactor, 0, b"", Disconnect::Clean);
    assert_eq!(reactor.lost(a), Some(Disconnect::Clean));
    assert_eq!(reactor.program().cached(), None);
    client(&mut reactor, 2);
    assert_eq!(
        reactor.tcp_clients().len(),
        2,
        "the next client fetches again"
    );
}

#[test]
fn a_poem_over_the_size_limit_fails_the_fetch_and_is_not_cached() {
    let options = ProxyOptions::new(
        HostPort::new("127.0.0.1", 10000),
        HostPort::new("127.0.0.1", 10001),
    )
    .max_poem_bytes(10);
    let mut reactor = MemoryReactor::new(PoetryProxy::new(options));
    let a = client(&mut reactor, 1);
    let upstream = reactor.complete_connect(0);
    reactor.data_received(upstream, &POEM[..8]);
    reactor.data_received(upstream, &POEM[8..16]);
    assert_eq!(reactor.lost(upstream), Some(Disconnect::Aborted), "cut off");
    assert_eq!(reactor.lost(a), Some(Disconnect::Clean));
    assert_eq!(reactor.value(a), b"");
    assert_eq!(reactor.program().cached(), None);
    assert_eq!(reactor.program().stats().failed, 1);
}

#[test]
fn a_silent_upstream_times_out_every_waiter_and_the_next_client_fetches_afresh() {
    let options = ProxyOptions::new(
        HostPort::new("127.0.0.1", 10000),
        HostPort::new("127.0.0.1", 10001),
    )
    .upstream_timeout(Some(Duration::from_secs(5)));
    let mut reactor = MemoryReactor::new(PoetryProxy::new(options));
    let a = client(&mut reactor, 1);
    let upstream = reactor.complete_connect(0);
    let b = client(&mut reactor, 2);
    reactor.advance(Duration::from_secs(3));
    reactor.data_received(upstream, &POEM[..4]);
    reactor.advance(Duration::from_secs(4));
    assert_eq!(reactor.lost(a), None, "the bytes restarted the timeout");
    reactor.advance(Duration::from_secs(1));
    assert_eq!(reactor.lost(upstream), Some(Disconnect::Clean));
    assert_eq!(reactor.lost(a), Some(Disconnect::Clean));
    assert_eq!(reactor.lost(b), Some(Disconnect::Clean));
    assert_eq!(reactor.program().cached(), None);
    let c = client(&mut reactor, 3);
    assert_eq!(
        reactor.tcp_clients().len(),
        2,
        "a fresh fetch, not the stuck one"
    );
    upstream_sends(&mut reactor, 1, POEM, Disconnect::Clean);
    assert_eq!(reactor.value(c), POEM);
}

#[test]
fn clients_past_the_connection_limit_are_closed_at_once() {
    let options = ProxyOptions::new(
        HostPort::new("127.0.0.1", 10000),
        HostPort::new("127.0.0.1", 10001),
    )
    .limits(weft::programs::limits::ServerLimits::none().max_connections(Some(1)));
    let mut reactor = MemoryReactor::new(PoetryProxy::new(options));
    let a = client(&mut reactor, 1);
    let over = client(&mut reactor, 2);
    assert_eq!(reactor.lost(over), Some(Disconnect::Aborted));
    assert_eq!(reactor.program().waiters(), [a]);
}

#[test]
fn a_proxy_whose_upstream_is_its_own_address_refuses_to_start() {
    let options = ProxyOptions::new(
        HostPort::new("127.0.0.1", 10000),
        HostPort::new("127.0.0.1", 10000),
    );
    let mut host = weft::host::Host::new(PoetryProxy::new(options));
    use weft::host::Node;
    host.start(weft::time::Instant::ZERO);
    host.handle_listening(
        weft::time::Instant::ZERO,
        weft::host::ListenerId(0),
        ipv4(127, 0, 0, 1, 10000),
    );
    assert_eq!(host.exit_code(), Some(1));
}
