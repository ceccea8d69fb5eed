//! Peer bytes never cause a panic: every program of the system, fed arbitrary bytes in
//! arbitrary reads by a peer that then leaves in any way, keeps working and still serves
//! the next peer properly.

use std::time::Duration;

use proptest::prelude::*;

use weft::host::{ConnId, FactoryProgram, HostPort, Program};
use weft::programs::pingpong::PingPongFactory;
use weft::programs::poetry::{
    FastPoetryFactory, GetPoetry, GetPoetryOptions, Pace, Poem, PoetryProxy, ProxyOptions,
    ReportStyle, SerialPoetryServer, SlowPoetryFactory,
};
use weft::programs::streaming::ReceivingServerFactory;
use weft::programs::transform::TransformFactory;
use weft::testing::MemoryReactor;
use weft::transport::{Disconnect, ipv4};

const POEM: &[u8] = b"a short poem\nfor a long fuzz\n";

/// What a hostile peer does: some reads, then a way to leave.
#[derive(Clone, Debug)]
struct Visit {
    reads: Vec<Vec<u8>>,
    leave: Leave,
}

#[derive(Clone, Copy, Debug)]
enum Leave {
    HalfClose,
    Close(Disconnect),
    Stay,
}

fn visit() -> impl Strategy<Value = Visit> {
    let leave = prop_oneof![
        Just(Leave::HalfClose),
        Just(Leave::Close(Disconnect::Clean)),
        Just(Leave::Close(Disconnect::Reset)),
        Just(Leave::Stay),
    ];
    // Netstring-ish bytes half the time, so the parsers get past their first check.
    let byte = prop_oneof![
        any::<u8>(),
        proptest::sample::select(b"0123456789:,.".to_vec())
    ];
    let read = proptest::collection::vec(byte, 0..40);
    (proptest::collection::vec(read, 0..6), leave).prop_map(|(reads, leave)| Visit { reads, leave })
}

/// Plays `visit` against connection `conn`, then lets a minute pass.
fn play<P: Program + 'static>(reactor: &mut MemoryReactor<P>, conn: ConnId, visit: &Visit) {
    for read in &visit.reads {
        reactor.data_received(conn, read);
    }
    match visit.leave {
        Leave::HalfClose => reactor.read_connection_lost(conn),
        Leave::Close(reason) => reactor.connection_lost(conn, reason),
        Leave::Stay => {}
    }
    for _ in 0..60 {
        reactor.advance(Duration::from_secs(1));
    }
}

/// A server survives a hostile client, then serves a well-behaved one: what the second
/// client receives is what `expected` says.
fn server_survives<P: Program + 'static>(program: P, visit: &Visit, expected: &[u8]) {
    let mut reactor = MemoryReactor::new(program);
    let hostile = reactor.accept(0, ipv4(192, 168, 1, 1, 50000));
    play(&mut reactor, hostile, visit);
    let polite = reactor.accept(0, ipv4(192, 168, 1, 2, 50001));
    for _ in 0..60 {
        reactor.advance(Duration::from_secs(1));
    }
    assert_eq!(reactor.value(polite), expected, "after {visit:?}");
}

fn addr(port: u16) -> HostPort {
    HostPort::new("127.0.0.1", port)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn poetry_servers_serve_the_next_client_after_any_bytes(visit in visit()) {
        let poem = || Poem::new(POEM);
        let pace = Pace::new(7, Duration::from_millis(100));
        server_survives(FactoryProgram::new(FastPoetryFactory::new(poem())).listen(addr(1)), &visit, POEM);
        server_survives(FactoryProgram::new(SlowPoetryFactory::new(poem(), pace)).listen(addr(1)), &visit, POEM);
        // The serial server is busy with the hostile client until it has its poem.
        server_survives(SerialPoetryServer::new(addr(1), poem(), pace), &visit, POEM);
    }

    #[test]
    fn the_transform_server_answers_the_next_client_after_any_bytes(visit in visit()) {
        let mut reactor = MemoryReactor::new(FactoryProgram::new(TransformFactory::default()).listen(addr(1)));
        let hostile = reactor.accept(0, ipv4(192, 168, 1, 1, 50000));
        play(&mut reactor, hostile, &visit);
        let polite = reactor.accept(0, ipv4(192, 168, 1, 2, 50001));
        reactor.data_received(polite, b"27:cummingsify.HERE IS MY POEM,");
        prop_assert_eq!(reactor.value(polite), b"15:here is my poem,");
    }

    #[test]
    fn pingpong_and_the_sink_take_any_bytes(visit in visit()) {
        let mut reactor = MemoryReactor::new(FactoryProgram::new(PingPongFactory::server(Some(50))).listen(addr(1)));
        let conn = reactor.accept(0, ipv4(192, 168, 1, 1, 50000));
        play(&mut reactor, conn, &visit);
        prop_assert!(reactor.value(conn).iter().all(|&b| b == b'*'));
        let mut reactor = MemoryReactor::new(FactoryProgram::new(ReceivingServerFactory::default()).listen(addr(1)));
        let conn = reactor.accept(0, ipv4(192, 168, 1, 1, 50000));
        play(&mut reactor, conn, &visit);
        prop_assert_eq!(reactor.value(conn), b"");
    }

    #[test]
    fn the_proxy_survives_any_upstream_and_any_client(upstream in visit(), client in visit()) {
        let mut reactor = MemoryReactor::new(PoetryProxy::new(ProxyOptions::new(addr(8000), addr(10000))));
        let first = reactor.accept(0, ipv4(192, 168, 1, 1, 50000));
        let fetch = reactor.complete_connect(0);
        play(&mut reactor, fetch, &upstream);
        play(&mut reactor, first, &client);
        let later = reactor.accept(0, ipv4(192, 168, 1, 2, 50001));
        let sent: Vec<u8> = upstream.reads.concat();
        match upstream.leave {
            // A clean end (or a half-close, which the proxy answers by closing) after
            // some bytes is a poem: cached, and served to the later client from the cache.
            Leave::HalfClose | Leave::Close(Disconnect::Clean) if !sent.is_empty() => {
                prop_assert_eq!(reactor.value(later), sent.as_slice());
                prop_assert!(!reactor.is_connected(later));
            }
            // A reset, or an empty poem, is not cached: the later client starts a
            // second fetch.
            Leave::HalfClose | Leave::Close(_) => {
                let second = reactor.complete_connect(1);
                reactor.data_received(second, POEM);
                reactor.connection_lost(second, Disconnect::Clean);
                prop_assert_eq!(reactor.value(later), POEM);
            }
            // Still fetching: the later client waits with the first.
            Leave::Stay => {
                prop_assert_eq!(reactor.value(later), b"");
                prop_assert!(reactor.is_connected(later));
            }
        }
    }

    #[test]
    fn get_poetry_ends_every_download_once_whatever_servers_send(
        poet in visit(),
        transformer in visit(),
    ) {
        let options = GetPoetryOptions::new(vec![addr(10000)])
            .transform(addr(11000))
            .timeout(Duration::from_secs(10))
            .report(ReportStyle::Quiet);
        let mut reactor = MemoryReactor::new(GetPoetry::new(options));
        let conn = reactor.complete_connect(0);
        play(&mut reactor, conn, &poet);
        // If the poem arrived, it went to the transform server.
        if reactor.tcp_clients().len() > 1 {
            let xform = reactor.complete_connect(1);
            play(&mut reactor, xform, &transformer);
        }
        for _ in 0..30 {
            reactor.advance(Duration::from_secs(1));
        }
        prop_assert!(reactor.exit_code().is_some(), "get-poetry always finishes");
        prop_assert!(reactor.program().results().is_done());
    }
}
