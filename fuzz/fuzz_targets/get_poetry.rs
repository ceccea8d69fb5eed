//! get-poetry against a poetry server that sends arbitrary bytes in arbitrary reads and
//! then leaves in any way, and a transform server that does the same, on a memory
//! reactor: the program always finishes, every download ends exactly once, and a poem
//! got without a transform is exactly the bytes the server sent.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use weft::host::{ConnId, HostPort, Program};
use weft::programs::poetry::{GetPoetry, GetPoetryOptions, ReportStyle};
use weft::testing::MemoryReactor;
use weft_fuzz::{Leave, Visit};

fn play<P: Program + 'static>(reactor: &mut MemoryReactor<P>, conn: ConnId, visit: &Visit<'_>) {
    for chunk in visit.sent.chunks() {
        reactor.data_received(conn, chunk);
    }
    match visit.leave {
        Leave::HalfClose => reactor.read_connection_lost(conn),
        Leave::Close(reason) => reactor.connection_lost(conn, reason),
        Leave::Stay => {}
    }
    reactor.advance(Duration::from_secs(1));
}

fuzz_target!(|data: &[u8]| {
    let Some((&setting, rest)) = data.split_first() else {
        return;
    };
    let transform = setting & 1 == 1;
    // The transform server's visit starts at the first 0xff (none: it sends nothing).
    let (poet, transformer) = match rest.iter().position(|&b| b == 0xff) {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (rest, &[][..]),
    };
    let (poet, transformer) = (Visit::new(poet), Visit::new(transformer));

    let mut options = GetPoetryOptions::new(vec![HostPort::new("127.0.0.1", 10000)])
        .timeout(Duration::from_secs(10))
        .report(ReportStyle::Quiet);
    if transform {
        options = options.transform(HostPort::new("127.0.0.1", 11000));
    }
    let mut reactor = MemoryReactor::new(GetPoetry::new(options));
    let conn = reactor.complete_connect(0);
    play(&mut reactor, conn, &poet);
    if reactor.tcp_clients().len() > 1 {
        let xform = reactor.complete_connect(1);
        play(&mut reactor, xform, &transformer);
    }
    for _ in 0..30 {
        reactor.advance(Duration::from_secs(1));
    }
    assert!(reactor.exit_code().is_some(), "get-poetry did not finish");
    let results = reactor.program().results();
    assert!(results.is_done(), "a download never ended");
    assert_eq!(
        results.settle_order(),
        [0],
        "a download ended other than once"
    );
    if let (false, Some(Ok(poem))) = (transform, results.get(0)) {
        assert_eq!(
            poem.as_bytes(),
            poet.sent.stream,
            "the poem is not what was sent"
        );
    }
});
