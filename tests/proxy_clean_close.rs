//! Cancel and timeout close cleanly, as the originals' `connector.disconnect()` does:
//! get-poetry's timeout and the proxy's cancel and upstream timeout send end-of-stream,
//! never a reset, and what the peer still sends after the close is discarded unread.
//! Checked under MemoryReactor (the close the program asks for) and on SimNet (what the
//! server sees on the wire).

mod common;
mod support;

use std::time::Duration;

use common::poetry::{at, boxed, slow_server};
use weft::host::{ConnId, HostPort};
use weft::programs::poetry::poems::LOOM;
use weft::programs::poetry::{GetPoetry, GetPoetryOptions, PoetryProxy, ProxyOptions};
use weft::scenario::Scenario;
use weft::simnet::{Latency, NetConfig, SimNet};
use weft::testing::{Event, EventKind, MemoryReactor, Transcript};
use weft::transport::{Disconnect, ipv4};

/// The events of a transcript whose label is exactly `who`, in order.
fn events_of<'a>(transcript: &'a Transcript, who: &str) -> Vec<&'a EventKind> {
    transcript
        .events()
        .iter()
        .filter(|e| &*e.who == who)
        .map(|e| &e.what)
        .collect()
}

fn resets_or_aborts(transcript: &Transcript) -> Vec<&Event> {
    transcript
        .events()
        .iter()
        .filter(|e| {
            matches!(
                e.what,
                EventKind::Lost(Disconnect::Reset | Disconnect::Aborted)
            )
        })
        .collect()
}

/// Runs a scenario's text with its seed; returns its transcript.
fn run(text: &str) -> Transcript {
    let catalogue = weft::programs::catalogue();
    let scenario = Scenario::parse("clean-close", text, &catalogue).expect("parses");
    let outcome = scenario.run(&catalogue, scenario.seed).expect("runs");
    assert!(outcome.passed(), "{:?}", outcome.failures);
    outcome.transcript
}

#[test]
fn a_get_poetry_timeout_closes_cleanly_and_a_silent_server_sees_a_clean_close() {
    let transcript = run(r#"
        seed = 1
        [[hosts]]
        name = "server"
        program = "sink"
        options = { port = 10000 }
        [[hosts]]
        name = "client"
        program = "get-poetry"
        options = { servers = ["server:10000"], timeout = "1s" }
        [expect]
        exit = { client = 1 }
        stderr-contains = { client = ["timed out after 0:00:01"] }
    "#);
    assert_eq!(
        events_of(&transcript, "client:40001"),
        [&EventKind::Open, &EventKind::Lost(Disconnect::Clean)]
    );
    assert_eq!(
        events_of(&transcript, "client:40001 > server:10000"),
        [&EventKind::Eof],
        "the server reads end-of-stream"
    );
    assert_eq!(
        events_of(&transcript, "server:10000"),
        [&EventKind::Open, &EventKind::Lost(Disconnect::Clean)]
    );
    assert_eq!(resets_or_aborts(&transcript), Vec::<&Event>::new());
}

/// A slow server keeps its sender registered after the client's end-of-stream, so it
/// goes on sending: the client's side discards what arrives after its close (the
/// kernel answers it with a reset, as a real one does), and nothing of it reaches the
/// program, which has already failed the download.
#[test]
fn a_get_poetry_timeout_against_a_slow_server_sends_end_of_stream_and_discards_what_follows() {
    let transcript = run(r#"
        seed = 1
        [network]
        latency = { fixed = "5ms" }
        [[hosts]]
        name = "poet"
        program = "slow-poetry"
        options = { port = 10000, poem = "loom", num-bytes = 30, delay = "0.1s" }
        [[hosts]]
        name = "client"
        program = "get-poetry"
        options = { servers = ["poet:10000"], timeout = "1.02s" }
        [expect]
        exit = { client = 1 }
    "#);
    let client = events_of(&transcript, "client:40001");
    assert_eq!(
        client[..2],
        [&EventKind::Open, &EventKind::Lost(Disconnect::Clean)]
    );
    assert!(
        client[2..]
            .iter()
            .all(|e| matches!(e, EventKind::Discarded(_))),
        "after the close only discards: {client:?}"
    );
    assert!(
        !client[2..].is_empty(),
        "the server's next chunk was discarded"
    );
    assert_eq!(
        events_of(&transcript, "client:40001 > poet:10000"),
        [&EventKind::Eof],
        "the server reads end-of-stream first"
    );
    let aborted = transcript
        .events()
        .iter()
        .any(|e| e.what == EventKind::Lost(Disconnect::Aborted));
    assert!(!aborted, "nobody aborts");
}

#[test]
fn a_proxy_cancel_closes_the_upstream_cleanly_and_a_silent_upstream_sees_a_clean_close() {
    let transcript = run(r#"
        seed = 1
        [[hosts]]
        name = "upstream"
        program = "sink"
        options = { port = 10000 }
        [[hosts]]
        name = "proxy"
        program = "proxy"
        options = { port = 8000, upstream = "upstream:10000" }
        [[hosts]]
        name = "impatient"
        program = "get-poetry"
        options = { servers = ["proxy:8000"], timeout = "1s" }
        [expect]
        exit = { impatient = 1 }
        transcript-count = { "log: Canceling poem download." = 1 }
    "#);
    assert_eq!(
        events_of(&transcript, "proxy:40001 > upstream:10000"),
        [&EventKind::Eof],
        "the upstream reads end-of-stream"
    );
    assert_eq!(
        events_of(&transcript, "upstream:10000"),
        [&EventKind::Open, &EventKind::Lost(Disconnect::Clean)]
    );
    assert_eq!(
        events_of(&transcript, "proxy:40001"),
        [&EventKind::Open, &EventKind::Lost(Disconnect::Clean)]
    );
    assert_eq!(resets_or_aborts(&transcript), Vec::<&Event>::new());
}

/// The upstream accepts and says nothing; after the proxy's 2 s upstream timeout it
/// reads end-of-stream and closes, and the waiting client gets an empty close.
#[test]
fn a_proxy_upstream_timeout_closes_the_upstream_cleanly_on_simnet() {
    let config = NetConfig {
        latency: Latency::Fixed(Duration::from_millis(5)),
        ..NetConfig::default()
    };
    let mut net = SimNet::new(config, 1);
    let catalogue = weft::programs::catalogue();
    let options: weft::scenario::Table = "port = 10000".parse().expect("a table");
    let sink = catalogue.prepare("sink", &options).expect("a sink");
    net.add_host("upstream", move || sink());
    let options = ProxyOptions::new(HostPort::new("0.0.0.0", 8000), at(1, 10000))
        .upstream_timeout(Some(Duration::from_secs(2)));
    net.add_host("proxy", move || boxed(PoetryProxy::new(options.clone())));
    let client = GetPoetryOptions::new(vec![at(2, 8000)]);
    net.add_host("client", move || boxed(GetPoetry::new(client.clone())));
    assert!(net.run_until_exit(&["client"], Duration::from_secs(10)));
    net.run_for(Duration::from_secs(1));
    let transcript = net.transcript();
    assert_eq!(
        events_of(transcript, "proxy:40001 > upstream:10000"),
        [&EventKind::Eof]
    );
    assert_eq!(
        events_of(transcript, "upstream:10000"),
        [&EventKind::Open, &EventKind::Lost(Disconnect::Clean)]
    );
    let closed_at = transcript
        .events()
        .iter()
        .find(|e| &*e.who == "proxy:40001" && matches!(e.what, EventKind::Lost(_)))
        .map(|e| e.at);
    assert_eq!(
        closed_at.map(|t| t.as_nanos()),
        Some(2_015_000_000),
        "2 s after the upstream connected at 15 ms"
    );
    assert_eq!(resets_or_aborts(transcript), Vec::<&Event>::new());
}

fn proxy() -> MemoryReactor<PoetryProxy> {
    let options = ProxyOptions::new(
        HostPort::new("127.0.0.1", 10000),
        HostPort::new("127.0.0.1", 10001),
    )
    .upstream_timeout(Some(Duration::from_secs(5)));
    MemoryReactor::new(PoetryProxy::new(options))
}

fn client(reactor: &mut MemoryReactor<PoetryProxy>, n: u16) -> ConnId {
    reactor.accept(0, ipv4(127, 0, 0, 1, 50000 + n))
}

#[test]
fn the_proxy_cancel_closes_the_upstream_cleanly_and_ignores_what_it_still_sends() {
    let mut reactor = proxy();
    let a = client(&mut reactor, 1);
    let upstream = reactor.complete_connect(0);
    reactor.data_received(upstream, b"the first");
    reactor.connection_lost(a, Disconnect::Clean);
    assert_eq!(reactor.lost(upstream), Some(Disconnect::Clean));
    // Bytes that crossed the close are nobody's: nothing is cached, nothing served.
    reactor.data_received(upstream, b" lines of a poem\n");
    reactor.connection_lost(upstream, Disconnect::Clean);
    assert_eq!(reactor.program().cached(), None);
    assert_eq!(reactor.program().stats().cancelled, 1);
    assert_eq!(reactor.program().upstream_conn(), None);
}

#[test]
fn the_proxy_upstream_timeout_closes_the_upstream_cleanly() {
    let mut reactor = proxy();
    let a = client(&mut reactor, 1);
    let upstream = reactor.complete_connect(0);
    reactor.advance(Duration::from_secs(5));
    assert_eq!(reactor.lost(upstream), Some(Disconnect::Clean));
    assert_eq!(reactor.lost(a), Some(Disconnect::Clean));
    assert_eq!(reactor.value(a), b"");
}

#[test]
fn a_get_poetry_timeout_closes_cleanly_and_later_bytes_never_reach_the_download() {
    let options = GetPoetryOptions::new(vec![HostPort::new("127.0.0.1", 10000)])
        .timeout(Duration::from_secs(1));
    let mut reactor = MemoryReactor::new(GetPoetry::new(options));
    let conn = reactor.complete_connect(0);
    reactor.data_received(conn, b"half a ");
    reactor.advance(Duration::from_secs(1));
    assert_eq!(reactor.lost(conn), Some(Disconnect::Clean));
    reactor.data_received(conn, b"line\n");
    let program = reactor.program();
    assert_eq!(program.results().settle_order(), [0]);
    assert!(program.results().get(0).is_some_and(|r| r.is_err()));
    assert_eq!(reactor.exit_code(), Some(1));
}

/// The slow server of a proxy's cancelled fetch: its sender stops once the proxy's
/// kernel answers a chunk that crossed the close.
#[test]
fn a_cancelled_fetch_stops_the_slow_servers_sender() {
    let config = NetConfig {
        latency: Latency::Fixed(Duration::from_millis(5)),
        ..NetConfig::default()
    };
    let mut net = SimNet::new(config, 1);
    net.add_host("poet", || boxed(slow_server(LOOM, 10, 10000)));
    let options = ProxyOptions::new(HostPort::new("0.0.0.0", 8000), at(1, 10000));
    net.add_host("proxy", move || boxed(PoetryProxy::new(options.clone())));
    let client = GetPoetryOptions::new(vec![at(2, 8000)]).timeout(Duration::from_millis(150));
    net.add_host("client", move || boxed(GetPoetry::new(client.clone())));
    assert!(net.run_until_exit(&["client"], Duration::from_secs(10)));
    net.run_for(Duration::from_secs(1));
    let transcript = net.transcript();
    assert_eq!(
        events_of(transcript, "proxy:40001 > poet:10000"),
        [&EventKind::Eof],
        "the server reads end-of-stream before anything else"
    );
    let proxy_side = events_of(transcript, "proxy:40001");
    assert!(
        proxy_side.contains(&&EventKind::Lost(Disconnect::Clean)),
        "{proxy_side:?}"
    );
    let time_of = |who: &str, what: &EventKind| {
        transcript
            .events()
            .iter()
            .find(|e| &*e.who == who && e.what == *what)
            .map(|e| e.at)
    };
    assert_eq!(
        events_of(transcript, "poet:10000"),
        [&EventKind::Open, &EventKind::Lost(Disconnect::Reset)],
        "the kernel's answer to a chunk after the close ends the server's connection"
    );
    let eof = time_of("proxy:40001 > poet:10000", &EventKind::Eof).expect("eof");
    let reset = time_of("poet:10000", &EventKind::Lost(Disconnect::Reset)).expect("reset");
    assert!(
        eof < reset,
        "end-of-stream at {eof}, the reset after it at {reset}"
    );
    assert!(
        proxy_side
            .iter()
            .any(|e| matches!(e, EventKind::Discarded(_))),
        "the chunk that crossed the close was discarded: {proxy_side:?}"
    );
    let last_chunk = transcript
        .events()
        .iter()
        .filter(|e| &*e.who == "poet:10000 > proxy:40001")
        .map(|e| e.at)
        .max()
        .expect("chunks");
    assert!(
        last_chunk < eof,
        "no chunk reaches the proxy's program after its close"
    );
}

/// Reads from `stream` until the peer's end: `Ok(0)` for end-of-stream, the error for a
/// reset. Bytes before it are skipped.
fn read_to_the_end(stream: &mut std::net::TcpStream) -> std::io::Result<usize> {
    use std::io::Read;
    stream.set_read_timeout(Some(support::process::PROCESS_TIMEOUT))?;
    let mut buf = [0; 4096];
    loop {
        match stream.read(&mut buf)? {
            0 => return Ok(0),
            _ => continue,
        }
    }
}

#[test]
fn on_real_tcp_a_get_poetry_timeout_sends_end_of_stream_not_a_reset() {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = listener
        .local_addr()
        .expect("an address")
        .port()
        .to_string();
    let client = std::thread::spawn(move || {
        support::process::weft(&["get-poetry", "--timeout", "0.3", &port])
    });
    let (mut server_side, _) = listener.accept().expect("the client connects");
    server_side.write_all(b"half a poem").expect("write");
    assert_eq!(
        read_to_the_end(&mut server_side).ok(),
        Some(0),
        "FIN, not RST"
    );
    let ran = client.join().expect("the client ran");
    assert_eq!(ran.code, 1);
    assert!(ran.stderr.contains("timed out after"), "{}", ran.stderr);
}

/// The upstream timeout runs only on a connected upstream, so the close is never the
/// withdrawal of a pending connect (which real TCP, and both drivers, answer with a
/// reset if the server's SYN-ACK is already on its way).
#[test]
fn on_real_tcp_the_proxys_upstream_timeout_sends_end_of_stream_to_the_upstream() {
    use std::io::Read;
    let upstream = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = upstream
        .local_addr()
        .expect("an address")
        .port()
        .to_string();
    let proxy = support::process::Server::weft(&["proxy", "--upstream-timeout", "0.3", &port]);
    let mut client = std::net::TcpStream::connect(("127.0.0.1", proxy.port)).expect("connect");
    let (mut fetch, _) = upstream.accept().expect("the proxy fetches");
    let end = read_to_the_end(&mut fetch);
    assert_eq!(end.as_ref().ok(), Some(&0), "FIN, not RST: {end:?}");
    client
        .set_read_timeout(Some(support::process::PROCESS_TIMEOUT))
        .expect("a timeout");
    let mut reply = Vec::new();
    assert_eq!(
        client.read_to_end(&mut reply).ok(),
        Some(0),
        "an empty close"
    );
    let log = proxy.stop();
    assert!(log.contains("(upstream-timeout)"), "{log}");
}
