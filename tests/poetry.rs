//! The poetry servers, the client protocol and the fan-in, on the test doubles and the
//! pump.

mod common;

use std::time::Duration;

use weft::clock::Clock;
use weft::host::{FactoryProgram, HostPort, Program};
use weft::programs::poetry::poems::{CLOCK, LOOM, TEN_BYTES};
use weft::programs::poetry::{
    FanIn, FastPoetryFactory, FireOn, Fired, Pace, Poem, PoetryClient, SerialPoetryServer,
    SettleError, SlowPoetry, SlowPoetryFactory,
};
use weft::protocol::Factory;
use weft::testing::{MemoryReactor, Pump, PumpOptions, StringTransport};
use weft::time::Instant;
use weft::transport::{Disconnect, ipv4};

const TENTH: Duration = Duration::from_millis(100);

/// Runs `reactor` to `end`, timer by timer. (`advance` alone is Twisted's: it moves time
/// first, so a call scheduled while it runs counts from the new time.)
fn run_until<P: Program + 'static>(reactor: &mut MemoryReactor<P>, end: Instant) {
    while let Some(next) = reactor.next_deadline().filter(|&t| t <= end) {
        reactor.advance(next - reactor.now());
    }
    reactor.advance(end - reactor.now());
}

#[test]
fn fast_server_writes_the_whole_poem_then_closes() {
    let protocol = FastPoetryFactory::new(Poem::from(LOOM)).build_protocol(ipv4(127, 0, 0, 1, 1));
    let conn = StringTransport::with_disconnection().make_connection(protocol);
    assert_eq!(conn.value(), LOOM.as_bytes());
    assert_eq!(conn.lost(), Some(Disconnect::Clean));
}

#[test]
fn fast_server_serves_many_clients_at_once_and_ignores_input() {
    let program = FactoryProgram::new(FastPoetryFactory::new(Poem::from(CLOCK)))
        .listen(HostPort::new("127.0.0.1", 10000));
    let mut reactor = MemoryReactor::new(program);
    let a = reactor.accept(0, ipv4(127, 0, 0, 1, 50001));
    let b = reactor.accept(0, ipv4(127, 0, 0, 1, 50002));
    reactor.data_received(a, b"hello?");
    for conn in [a, b] {
        assert_eq!(reactor.value(conn), CLOCK.as_bytes());
        assert_eq!(reactor.lost(conn), Some(Disconnect::Clean));
    }
}

#[test]
fn pace_gives_the_texts_chunk_counts_and_durations() {
    let by_30 = Pace::new(30, TENTH);
    let by_10 = Pace::default();
    assert_eq!(by_10, Pace::new(10, TENTH), "the text's defaults");
    assert_eq!(by_30.chunks(LOOM.len()), 101);
    assert_eq!(by_10.chunks(TEN_BYTES.len()), 63);
    assert_eq!(by_10.chunks(CLOCK.len()), 66);
    assert_eq!(by_30.duration(LOOM.len()), Duration::from_millis(10_100));
    assert_eq!(
        by_10.duration(TEN_BYTES.len()),
        Duration::from_millis(6_300)
    );
    assert_eq!(by_10.duration(CLOCK.len()), Duration::from_millis(6_600));
}

#[test]
fn slow_server_sends_a_chunk_per_delay_and_closes_one_delay_after_the_last() {
    let slow = SlowPoetry::new(Poem::from(LOOM), Pace::new(30, TENTH));
    let mut conn = StringTransport::with_disconnection().make_connection(slow);
    assert_eq!(conn.value(), &LOOM.as_bytes()[..30], "first chunk at once");
    for k in 1..=100 {
        conn.advance(TENTH);
        let expected = (30 * (k + 1)).min(LOOM.len());
        assert_eq!(conn.value().len(), expected, "chunk {k}");
    }
    assert_eq!(conn.clock.now(), Instant::from_millis(10_000));
    assert_eq!(conn.protocol.chunks_sent(), 101);
    assert_eq!(conn.value(), LOOM.as_bytes());
    assert_eq!(conn.lost(), None, "still open after the last chunk");
    conn.advance(TENTH);
    assert_eq!(conn.lost(), Some(Disconnect::Clean), "closed at 10.1 s");
    assert_eq!(conn.clock.pending_count(), 0);
}

#[test]
fn slow_server_stops_its_sender_when_the_client_leaves_early() {
    let slow = SlowPoetry::new(Poem::from(TEN_BYTES), Pace::default());
    let mut conn = StringTransport::with_disconnection().make_connection(slow);
    conn.pump(&[TENTH; 3]);
    assert_eq!(conn.value().len(), 40);
    assert!(conn.protocol.is_sending());
    conn.connection_lost(Disconnect::Reset);
    assert!(!conn.protocol.is_sending());
    assert_eq!(
        conn.clock.pending_count(),
        0,
        "no timer left for the client"
    );
    conn.advance(Duration::from_secs(10));
    assert_eq!(conn.value().len(), 40);
}

#[test]
fn slow_server_serves_clients_at_once_each_on_its_own_timer() {
    let program = FactoryProgram::new(SlowPoetryFactory::new(
        Poem::from("0123456789"),
        Pace::new(2, TENTH),
    ))
    .listen(HostPort::new("127.0.0.1", 10000));
    let mut reactor = MemoryReactor::new(program);
    let early = reactor.accept(0, ipv4(127, 0, 0, 1, 50001));
    reactor.advance(Duration::from_millis(50));
    let late = reactor.accept(0, ipv4(127, 0, 0, 1, 50002));
    assert_eq!(
        reactor.value(late),
        b"01",
        "no waiting for the other client"
    );
    run_until(&mut reactor, Instant::from_millis(150));
    reactor.connection_lost(early, Disconnect::Reset);
    assert_eq!(reactor.value(early), b"0123");
    // Only the late client's sender is left: its deadlines fall on 0.05 + k * 0.1.
    assert_eq!(reactor.next_deadline(), Some(Instant::from_millis(250)));
    run_until(&mut reactor, Instant::from_secs(1));
    assert_eq!(reactor.value(early), b"0123");
    assert_eq!(reactor.value(late), b"0123456789");
    assert_eq!(reactor.lost(late), Some(Disconnect::Clean));
    assert_eq!(reactor.next_deadline(), None);
}

#[test]
fn serial_server_makes_later_clients_wait_in_arrival_order() {
    let server = SerialPoetryServer::new(
        HostPort::new("127.0.0.1", 10000),
        Poem::from("abcd"),
        Pace::new(2, TENTH),
    );
    let mut reactor = MemoryReactor::new(server);
    let clients: Vec<_> = (1..=3)
        .map(|i| reactor.accept(0, ipv4(127, 0, 0, 1, 50000 + i)))
        .collect();
    assert!(
        clients.iter().all(|&c| reactor.is_connected(c)),
        "accepted at once"
    );
    assert_eq!(reactor.value(clients[0]), b"ab");
    assert_eq!(reactor.value(clients[1]), b"", "waiting its turn");
    assert_eq!(reactor.program().waiting(), [clients[1], clients[2]]);
    run_until(&mut reactor, Instant::from_millis(199));
    assert_eq!(reactor.lost(clients[0]), None);
    run_until(&mut reactor, Instant::from_millis(200));
    assert_eq!(
        reactor.lost(clients[0]),
        Some(Disconnect::Clean),
        "done at 0.2 s"
    );
    assert_eq!(reactor.value(clients[1]), b"ab", "the next starts at once");
    assert_eq!(reactor.value(clients[2]), b"");
    run_until(&mut reactor, Instant::from_millis(400));
    assert_eq!(reactor.value(clients[2]), b"ab");
    assert_eq!(reactor.program().served(), clients.as_slice());
}

#[test]
fn serial_server_moves_on_when_the_current_client_leaves_and_drops_leavers_in_line() {
    let server = SerialPoetryServer::new(
        HostPort::new("127.0.0.1", 10000),
        Poem::from("abcdef"),
        Pace::new(2, TENTH),
    );
    let mut reactor = MemoryReactor::new(server);
    let a = reactor.accept(0, ipv4(127, 0, 0, 1, 50001));
    let b = reactor.accept(0, ipv4(127, 0, 0, 1, 50002));
    let c = reactor.accept(0, ipv4(127, 0, 0, 1, 50003));
    reactor.connection_lost(b, Disconnect::Reset);
    reactor.advance(TENTH);
    reactor.connection_lost(a, Disconnect::Reset);
    assert_eq!(reactor.value(a), b"abcd");
    assert_eq!(reactor.program().current(), Some(c), "b left while waiting");
    assert_eq!(reactor.value(c), b"ab");
    assert_eq!(reactor.value(b), b"");
    run_until(&mut reactor, Instant::from_millis(400));
    assert_eq!(reactor.value(c), b"abcdef");
    assert_eq!(reactor.lost(c), Some(Disconnect::Clean));
    assert_eq!(reactor.next_deadline(), None);
}

#[test]
fn client_keeps_the_close_reason_with_the_poem() {
    let mut conn = StringTransport::with_disconnection().make_connection(PoetryClient::new());
    conn.data_received(b"Roses ");
    conn.data_received(b"are ");
    assert_eq!(conn.protocol.bytes(), 10);
    assert_eq!(conn.protocol.take_received(), None, "not before the close");
    conn.connection_lost(Disconnect::Reset);
    let received = conn.protocol.take_received().expect("delivered at close");
    assert_eq!(received.poem.as_bytes(), b"Roses are ");
    assert_eq!(received.reason, Disconnect::Reset);
    assert!(!received.is_complete());
    assert_eq!(conn.protocol.take_received(), None, "delivered once");
    assert_eq!(conn.value(), b"", "the client sends nothing");
}

#[test]
fn client_and_slow_server_over_the_pump_get_the_whole_poem_at_ten_point_one_seconds() {
    let server = SlowPoetry::new(Poem::from(LOOM), Pace::new(30, TENTH));
    let mut pump = Pump::new(PumpOptions::default(), PoetryClient::new(), server);
    pump.run_for(Duration::from_millis(10_099));
    assert_eq!(pump.client_lost(), None);
    pump.run_for(Duration::from_millis(1));
    assert_eq!(pump.client_lost(), Some(Disconnect::Clean));
    let received = pump.client.take_received().expect("poem");
    assert_eq!(received.poem.as_bytes(), LOOM.as_bytes());
    assert!(received.is_complete());
    assert_eq!(pump.client.chunks(), 101);
}

#[test]
fn slow_server_chunks() {
    let poem = &TEN_BYTES[..200];
    let server = SlowPoetry::new(Poem::from(poem), Pace::new(50, TENTH));
    let mut pump = Pump::new(PumpOptions::default(), PoetryClient::new(), server);
    pump.run_for(Duration::from_secs(1));
    assert_eq!(
        pump.client.take_received().map(|r| r.poem),
        Some(Poem::from(poem))
    );
    assert_snapshot!("slow_server_chunks", pump.transcript().render());
}

#[test]
fn fan_in_keeps_input_order_and_never_short_circuits() {
    let mut fan: FanIn<&str, &str> = FanIn::new(3);
    fan.settle(2, Ok("c")).unwrap();
    fan.settle(1, Err("b failed")).unwrap();
    assert!(!fan.is_done(), "a failure does not end it");
    assert_eq!(fan.fired(FireOn::All), None);
    assert_eq!(fan.results(), None);
    fan.settle(0, Ok("a")).unwrap();
    assert_eq!(fan.fired(FireOn::All), Some(Fired::All));
    assert_eq!(fan.settle_order(), [2, 1, 0]);
    assert_eq!(
        fan.clone().into_results().ok(),
        Some(vec![Ok("a"), Err("b failed"), Ok("c")])
    );
    assert!(!fan.all_succeeded());
}

#[test]
fn fan_in_settles_each_item_once() {
    let mut fan: FanIn<u8, u8> = FanIn::new(2);
    fan.settle(0, Ok(1)).unwrap();
    assert_eq!(fan.settle(0, Err(9)), Err(SettleError::AlreadySettled(0)));
    assert_eq!(fan.get(0), Some(&Ok(1)), "the first result stays");
    assert_eq!(fan.settle(5, Ok(1)), Err(SettleError::NoSuchItem(5)));
    assert_eq!(fan.pending(), 1);
    assert!(fan.into_results().is_err(), "not done yet");
}

#[test]
fn fan_in_first_success_and_first_failure_follow_time_not_input_order() {
    let mut fan: FanIn<&str, &str> = FanIn::new(3);
    assert_eq!(fan.fired(FireOn::FirstSuccess), None);
    fan.settle(2, Err("c failed")).unwrap();
    assert_eq!(fan.fired(FireOn::FirstFailure), Some(Fired::Failure(2)));
    assert_eq!(fan.fired(FireOn::FirstSuccess), None);
    fan.settle(1, Ok("b")).unwrap();
    fan.settle(0, Ok("a")).unwrap();
    assert_eq!(fan.first_success(), Some((1, &"b")));
    assert_eq!(fan.first_failure(), Some((2, &"c failed")));
    assert_eq!(fan.fired(FireOn::FirstSuccess), Some(Fired::Success(1)));
}

#[test]
fn fan_in_with_one_flag_fires_with_everything_when_the_flagged_outcome_never_comes() {
    let mut all_fail: FanIn<(), &str> = FanIn::new(2);
    all_fail.settle(0, Err("x")).unwrap();
    assert_eq!(all_fail.fired(FireOn::FirstSuccess), None);
    all_fail.settle(1, Err("y")).unwrap();
    assert_eq!(all_fail.fired(FireOn::FirstSuccess), Some(Fired::All));

    let mut all_ok: FanIn<u8, ()> = FanIn::new(1);
    all_ok.settle(0, Ok(7)).unwrap();
    assert_eq!(all_ok.fired(FireOn::FirstFailure), Some(Fired::All));
}

#[test]
fn empty_fan_in_fires_at_once_except_on_first_success() {
    let fan: FanIn<(), ()> = FanIn::new(0);
    assert_eq!(fan.fired(FireOn::All), Some(Fired::All));
    assert_eq!(fan.fired(FireOn::FirstFailure), Some(Fired::All));
    assert_eq!(
        fan.fired(FireOn::FirstSuccess),
        None,
        "as Twisted's DeferredList"
    );
    assert_eq!(fan.results(), Some(vec![]));
}

#[test]
fn poems_load_from_files() {
    let path = std::env::temp_dir().join(format!("weft-poem-{}.txt", std::process::id()));
    std::fs::write(&path, b"a poem\x00 with any bytes\n").unwrap();
    let poem = Poem::from_file(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(poem.as_bytes(), b"a poem\x00 with any bytes\n");
    assert!(Poem::from_file(&path).is_err());
}
