//! The text's proxy 1.0 (`ProxyOptions::version_1_0`, the program `proxy-1.0`) beside
//! weft's proxy: a fetch per client that misses, never cancelled, whatever arrived
//! cached (a poem cut short, an empty one), each finished fetch replacing the cache, and
//! the text's lines printed on stdout. Proxy 3.0 (`proxy-3.0`): the same, with a
//! client's leaving cancelling its own fetch.

mod common;

use std::time::Duration;

use common::proxy::{client, upstream_sends};
use weft::host::{ConnId, ConnectError, HostPort, Stream};
use weft::programs::poetry::{PoetryProxy, ProxyOptions};
use weft::testing::MemoryReactor;
use weft::transport::Disconnect;

const POEM: &[u8] = b"A poem for three,\nfetched three times over.\n";
const FETCHING: &str = "Fetching poem from server.";
const CACHED: &str = "Using cached poem.";
/// What the original prints once `listenTCP` returns (at once under a MemoryReactor).
const PROXYING: &str = "Proxying ('127.0.0.1', 10001) on IPv4Address(TCP, '127.0.0.1', 10000).";

fn listen() -> HostPort {
    HostPort::new("127.0.0.1", 10000)
}

fn upstream() -> HostPort {
    HostPort::new("127.0.0.1", 10001)
}

fn proxy_1_0() -> MemoryReactor<PoetryProxy> {
    MemoryReactor::new(PoetryProxy::new(ProxyOptions::version_1_0(
        listen(),
        upstream(),
    )))
}

#[test]
fn every_client_that_misses_starts_its_own_fetch_and_gets_its_poem() {
    let mut reactor = proxy_1_0();
    let clients: Vec<ConnId> = (1..=3).map(|n| client(&mut reactor, n)).collect();
    assert_eq!(reactor.tcp_clients().len(), 3, "one fetch per miss");
    assert_eq!(reactor.program().upstream_conns().count(), 3);
    for (i, &conn) in clients.iter().enumerate() {
        let poem = format!("poem number {i}\n");
        upstream_sends(&mut reactor, i, poem.as_bytes(), Disconnect::Clean);
        assert_eq!(reactor.value(conn), poem.as_bytes(), "its own fetch's poem");
        assert_eq!(reactor.lost(conn), Some(Disconnect::Clean));
    }
    let stats = reactor.program().stats();
    assert_eq!((stats.fetches, stats.served, stats.cache_hits), (3, 3, 0));
}

#[test]
fn weft_s_proxy_makes_one_fetch_for_the_same_three_clients() {
    let options = ProxyOptions::new(listen(), upstream());
    let mut reactor = MemoryReactor::new(PoetryProxy::new(options));
    for n in 1..=3 {
        client(&mut reactor, n);
    }
    assert_eq!(reactor.tcp_clients().len(), 1);
}

#[test]
fn a_poem_cut_short_by_a_reset_is_served_cached_and_served_again() {
    let mut reactor = proxy_1_0();
    let first = client(&mut reactor, 1);
    upstream_sends(&mut reactor, 0, &POEM[..10], Disconnect::Reset);
    assert_eq!(reactor.value(first), &POEM[..10], "the cut poem is a poem");
    assert_eq!(reactor.lost(first), Some(Disconnect::Clean));
    assert_eq!(
        reactor.program().cached().map(|p| p.as_bytes().to_vec()),
        Some(POEM[..10].to_vec())
    );
    let later = client(&mut reactor, 2);
    assert_eq!(reactor.value(later), &POEM[..10]);
    assert_eq!(reactor.tcp_clients().len(), 1, "served from the cache");
}

#[test]
fn each_finished_fetch_replaces_the_cache() {
    let mut reactor = proxy_1_0();
    let (a, b) = (client(&mut reactor, 1), client(&mut reactor, 2));
    upstream_sends(&mut reactor, 0, POEM, Disconnect::Clean);
    // The second fetch ends later, cut short: set_poem stores it over the whole one.
    upstream_sends(&mut reactor, 1, &POEM[..5], Disconnect::Reset);
    assert_eq!((reactor.value(a), reactor.value(b)), (POEM, &POEM[..5]));
    let c = client(&mut reactor, 3);
    assert_eq!(reactor.value(c), &POEM[..5]);
}

#[test]
fn a_client_that_leaves_cancels_nothing_and_its_fetch_is_cached() {
    let mut reactor = proxy_1_0();
    let gone = client(&mut reactor, 1);
    let upstream = reactor.complete_connect(0);
    reactor.connection_lost(gone, Disconnect::Reset);
    assert!(reactor.is_connected(upstream), "no cancellation in 1.0");
    reactor.data_received(upstream, POEM);
    reactor.connection_lost(upstream, Disconnect::Clean);
    assert_eq!(reactor.program().stats().cancelled, 0);
    let next = client(&mut reactor, 2);
    assert_eq!(reactor.value(next), POEM);
    assert_eq!(reactor.tcp_clients().len(), 1);
}

#[test]
fn a_refused_fetch_is_not_cached_and_its_client_gets_an_empty_close() {
    let mut reactor = proxy_1_0();
    let a = client(&mut reactor, 1);
    reactor.fail_connect(0, ConnectError::Refused);
    assert_eq!(reactor.value(a), b"");
    assert_eq!(reactor.lost(a), Some(Disconnect::Clean));
    client(&mut reactor, 2);
    assert_eq!(
        reactor.tcp_clients().len(),
        2,
        "the next client fetches again"
    );
}

/// `set_poem('')` stores the empty string, and `'' is not None`: the next client is
/// served nothing from the cache.
#[test]
fn an_empty_poem_is_cached_as_the_texts_set_poem_caches_it() {
    let mut reactor = proxy_1_0();
    client(&mut reactor, 1);
    upstream_sends(&mut reactor, 0, b"", Disconnect::Clean);
    let next = client(&mut reactor, 2);
    assert_eq!(reactor.tcp_clients().len(), 1);
    assert_eq!(reactor.value(next), b"");
    assert_eq!(reactor.lost(next), Some(Disconnect::Clean));
    assert_eq!(reactor.lines(Stream::Stdout), [PROXYING, FETCHING, CACHED]);
}

#[test]
fn a_poem_over_the_size_limit_still_fails_the_fetch() {
    let options = ProxyOptions::version_1_0(listen(), upstream()).max_poem_bytes(10);
    let mut reactor = MemoryReactor::new(PoetryProxy::new(options));
    let a = client(&mut reactor, 1);
    let upstream = reactor.complete_connect(0);
    reactor.data_received(upstream, &POEM[..16]);
    assert_eq!(reactor.lost(upstream), Some(Disconnect::Aborted), "cut off");
    assert_eq!(reactor.value(a), b"");
    assert_eq!(reactor.program().cached(), None);
}

#[test]
fn a_cached_poem_never_expires() {
    let mut reactor = proxy_1_0();
    client(&mut reactor, 1);
    upstream_sends(&mut reactor, 0, POEM, Disconnect::Clean);
    reactor.advance(Duration::from_secs(10 * 365 * 24 * 3600));
    let later = client(&mut reactor, 2);
    assert_eq!(reactor.value(later), POEM);
}

#[test]
fn proxy_1_0_prints_the_texts_lines_on_stdout() {
    let mut reactor = proxy_1_0();
    client(&mut reactor, 1);
    client(&mut reactor, 2);
    upstream_sends(&mut reactor, 0, POEM, Disconnect::Clean);
    client(&mut reactor, 3);
    assert_eq!(
        reactor.lines(Stream::Stdout),
        [PROXYING, FETCHING, FETCHING, CACHED]
    );
    assert!(reactor.lines(Stream::Stderr).is_empty());
}

/// `print 'Proxying %s on %s.' % (server_addr, port.getHost())`, in the text's
/// Twisted's words; weft's proxy keeps its own.
#[test]
fn the_start_up_line_is_the_texts_for_1_0_and_weft_s_own_otherwise() {
    let catalogue = weft::programs::catalogue();
    for (program, line) in [
        (
            "proxy-1.0",
            "Proxying ('poet', 10000) on IPv4Address(TCP, '10.0.0.2', 8000).",
        ),
        ("proxy", "Proxying poet:10000 on 10.0.0.2:8000."),
    ] {
        let text = format!(
            "seed = 1\nduration = \"1s\"\n\
             [[hosts]]\nname = \"poet\"\nprogram = \"fast-poetry\"\noptions = {{ port = 10000 }}\n\
             [[hosts]]\nname = \"proxy\"\nprogram = \"{program}\"\n\
             options = {{ port = 8000, iface = \"10.0.0.2\", upstream = \"poet:10000\" }}\n"
        );
        let scenario = weft::scenario::Scenario::parse(program, &text, &catalogue).expect("parses");
        let outcome = scenario.run(&catalogue, 1).expect("runs");
        let stdout: Vec<&str> = outcome.output["proxy"]
            .iter()
            .filter(|(stream, _)| *stream == Stream::Stdout)
            .map(|(_, line)| line.as_str())
            .collect();
        assert_eq!(stdout, [line], "{program}");
    }
}

#[test]
fn the_catalogue_runs_proxy_1_0_with_the_texts_choices() {
    let catalogue = weft::programs::catalogue();
    let options: weft::scenario::Table = "port = 8000\nupstream = \"poet:10000\""
        .parse()
        .expect("a table");
    assert!(catalogue.prepare("proxy-1.0", &options).is_ok());
    let refused = catalogue
        .prepare(
            "proxy-1.0",
            &"port = 8000\nupstream = \"poet:10000\"\nexpiry = \"1s\""
                .parse()
                .expect("a table"),
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        refused.contains("expiry"),
        "the text's proxy has no expiry: {refused}"
    );
}

fn proxy_3_0() -> MemoryReactor<PoetryProxy> {
    MemoryReactor::new(PoetryProxy::new(ProxyOptions::version_3_0(
        listen(),
        upstream(),
    )))
}

#[test]
fn proxy_3_0_cancels_only_the_fetch_of_the_client_that_left() {
    let mut reactor = proxy_3_0();
    let (a, b) = (client(&mut reactor, 1), client(&mut reactor, 2));
    let (up_a, up_b) = (reactor.complete_connect(0), reactor.complete_connect(1));
    reactor.data_received(up_a, &POEM[..10]);
    reactor.connection_lost(a, Disconnect::Reset);
    assert_eq!(
        reactor.lost(up_a),
        Some(Disconnect::Clean),
        "connector.disconnect()"
    );
    assert!(reactor.is_connected(up_b), "the other fetch goes on");
    reactor.connection_lost(up_a, Disconnect::Clean);
    assert_eq!(
        reactor.program().cached(),
        None,
        "a cancelled fetch caches nothing"
    );
    reactor.data_received(up_b, POEM);
    reactor.connection_lost(up_b, Disconnect::Clean);
    assert_eq!(reactor.value(b), POEM);
    let c = client(&mut reactor, 3);
    assert_eq!(reactor.value(c), POEM);
    assert_eq!(
        reactor.lines(Stream::Stdout),
        [
            PROXYING,
            FETCHING,
            FETCHING,
            "Canceling poem download.",
            CACHED
        ]
    );
    assert_eq!(reactor.program().stats().cancelled, 1);
}

/// `connectionLost` after the poem was sent cancels a fired deferred: a no-op.
#[test]
fn proxy_3_0_cancels_nothing_when_a_served_client_leaves() {
    let mut reactor = proxy_3_0();
    let a = client(&mut reactor, 1);
    upstream_sends(&mut reactor, 0, &POEM[..7], Disconnect::Reset);
    assert_eq!(
        reactor.value(a),
        &POEM[..7],
        "a cut poem is a poem in 3.0 too"
    );
    let hit = client(&mut reactor, 2);
    reactor.connection_lost(hit, Disconnect::Reset);
    assert_eq!(reactor.program().stats().cancelled, 0);
    assert_eq!(reactor.lines(Stream::Stdout), [PROXYING, FETCHING, CACHED]);
}
