//! The caching proxy against an upstream poetry server that sends arbitrary bytes in
//! arbitrary reads and leaves in any way, on a memory reactor: the client waiting for
//! the fetch gets the poem (or is closed), a poem ended cleanly is cached and served
//! byte-exact to the next client, and a failed fetch is retried for the next client.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use weft::host::HostPort;
use weft::programs::poetry::{PoetryProxy, ProxyOptions};
use weft::testing::MemoryReactor;
use weft::transport::{Disconnect, ipv4};
use weft_fuzz::{Leave, Visit};

const POEM: &[u8] = b"a short poem\nfor a long fuzz\n";

fuzz_target!(|data: &[u8]| {
    let upstream = Visit::new(data);
    let options = ProxyOptions::new(
        HostPort::new("127.0.0.1", 8000),
        HostPort::new("127.0.0.1", 10000),
    );
    let mut reactor = MemoryReactor::new(PoetryProxy::new(options));
    let first = reactor.accept(0, ipv4(192, 168, 1, 1, 50000));
    let fetch = reactor.complete_connect(0);
    for chunk in upstream.sent.chunks() {
        reactor.data_received(fetch, chunk);
    }
    match upstream.leave {
        Leave::HalfClose => reactor.read_connection_lost(fetch),
        Leave::Close(reason) => reactor.connection_lost(fetch, reason),
        Leave::Stay => {}
    }
    reactor.advance(Duration::from_secs(1));
    let sent = upstream.sent.stream;
    let later = reactor.accept(0, ipv4(192, 168, 1, 2, 50001));
    reactor.advance(Duration::from_secs(1));
    match upstream.leave {
        Leave::HalfClose | Leave::Close(Disconnect::Clean) if !sent.is_empty() => {
            assert_eq!(reactor.value(first), sent, "the waiting client's poem");
            assert_eq!(reactor.value(later), sent, "the cached poem");
            assert!(!reactor.is_connected(later));
            assert_eq!(
                reactor.tcp_clients().len(),
                1,
                "a cached poem fetched again"
            );
        }
        Leave::HalfClose | Leave::Close(_) => {
            assert_eq!(reactor.tcp_clients().len(), 2, "a failed fetch not retried");
            let second = reactor.complete_connect(1);
            reactor.data_received(second, POEM);
            reactor.connection_lost(second, Disconnect::Clean);
            assert_eq!(reactor.value(later), POEM);
        }
        Leave::Stay => {
            assert_eq!(reactor.value(later), b"");
            assert!(reactor.is_connected(later), "a waiting client was dropped");
        }
    }
});
