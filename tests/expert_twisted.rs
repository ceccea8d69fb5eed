//! The tests of "Expert Twisted", chapter 1, one for one, plus the derived vectors of
//! the catalogue (TV-09, TV-11, TV-13, TV-14, TV-15).

mod common;

use std::time::Duration;

use weft::clock::ManualClock;
use weft::flow::PushProducer;
use weft::host::{FactoryProgram, HostPort};
use weft::programs::heartbeat::{HEARTBEAT_INTERVAL, HeartbeatFactory};
use weft::programs::pingpong::{PingPong, PingPongFactory};
use weft::programs::streaming::{
    ReceivingServer, STREAMING_INTERVAL, StreamingClient, StreamingProducer,
};
use weft::protocol::Factory;
use weft::testing::{
    EventKind, MemoryReactor, Pump, PumpOptions, RecordingConsumer, StringTransport,
    TestConnection, connected_pair,
};
use weft::transport::{Disconnect, ipv4};

const MAXIMUM: u64 = 100;

/// The book's `setUp`: a client protocol built by its factory, on a string transport
/// with disconnection.
fn pingpong_client() -> TestConnection<PingPong> {
    let mut factory = PingPongFactory::client(Some(MAXIMUM));
    let protocol = factory.build_protocol(ipv4(127, 0, 0, 1, 1234));
    StringTransport::with_disconnection().make_connection(protocol)
}

#[test]
fn pingpong_first_byte_written() {
    assert_eq!(pingpong_client().value(), b"*");
}

#[test]
fn pingpong_byte_written_for_byte() {
    let mut conn = pingpong_client();
    conn.data_received(b"*");
    assert_eq!(conn.value(), b"**");
}

#[test]
fn pingpong_answers_each_read_with_one_byte_whatever_its_size() {
    let mut conn = pingpong_client();
    conn.data_received(b"***");
    assert_eq!(conn.value(), b"**");
}

#[test]
fn pingpong_receiving_maximum_loses_connection() {
    let mut conn = pingpong_client();
    conn.data_received(&[b'*'; MAXIMUM as usize]);
    assert!(!conn.transport.connected);
    assert_eq!(conn.lost(), Some(Disconnect::Clean));
    assert_eq!(
        conn.value(),
        b"*",
        "no answer to the read that reached the maximum"
    );
}

#[test]
fn pingpong_built_through_a_factory_recorded_by_memory_reactor() {
    let program = FactoryProgram::new(PingPongFactory::client(Some(MAXIMUM)))
        .connect(HostPort::new("localhost", 1234));
    let mut reactor = MemoryReactor::new(program);
    let call = &reactor.tcp_clients()[0];
    assert_eq!((call.host.as_str(), call.port), ("localhost", 1234));
    assert_eq!(call.timeout, Duration::from_secs(30));
    assert_eq!(call.bind_address, None);

    let conn = reactor.complete_connect(0);
    assert_eq!(reactor.value(conn), b"*");
    reactor.data_received(conn, b"*");
    assert_eq!(reactor.value(conn), b"**");
    reactor.data_received(conn, &[b'*'; MAXIMUM as usize]);
    assert!(!reactor.is_connected(conn));
    assert_eq!(reactor.lost(conn), Some(Disconnect::Clean));
}

#[test]
fn pingpong_over_the_pump_client_writes_100_and_server_101() {
    // TV-13: lockstep pump, client maximum 100, server unlimited. The server's 101st
    // byte reaches a client that has stopped reading and is discarded.
    let mut pump = connected_pair(
        PingPongFactory::client(Some(MAXIMUM)).build_protocol(ipv4(127, 0, 0, 1, 1)),
        PingPongFactory::server(None).build_protocol(ipv4(127, 0, 0, 1, 2)),
    );
    pump.flush();
    assert_eq!((pump.client.written(), pump.client.received()), (100, 100));
    assert_eq!((pump.server.written(), pump.server.received()), (101, 100));
    assert_eq!(pump.client_lost(), Some(Disconnect::Clean));
    assert_eq!(pump.server_lost(), Some(Disconnect::Clean));
    let discarded = pump
        .transcript()
        .events()
        .iter()
        .filter(|e| e.what == EventKind::Discarded(1))
        .count();
    assert_eq!(discarded, 1);
}

#[test]
fn pingpong_transcript_with_maximum_10() {
    let mut pump = connected_pair(
        PingPongFactory::client(Some(10)).build_protocol(ipv4(127, 0, 0, 1, 1)),
        PingPongFactory::server(None).build_protocol(ipv4(127, 0, 0, 1, 2)),
    );
    pump.flush();
    assert_snapshot!("pingpong_max_10", pump.transcript().render());
}

#[test]
fn heartbeat_written() {
    // TV-11: one byte at once, two (not three) after advance(60) with interval 30.
    let mut conn = StringTransport::with_disconnection()
        .make_connection(HeartbeatFactory.build_protocol(ipv4(127, 0, 0, 1, 1234)));
    assert_eq!(conn.value().len(), 1);
    conn.advance(Duration::from_secs(60));
    assert_eq!(conn.value().len(), 2);
    conn.advance(Duration::from_secs(30));
    assert_eq!(conn.value().len(), 3);
}

#[test]
fn heartbeat_interval_is_thirty_seconds() {
    let mut conn = StringTransport::new()
        .make_connection(HeartbeatFactory.build_protocol(ipv4(127, 0, 0, 1, 1)));
    conn.advance(HEARTBEAT_INTERVAL - Duration::from_nanos(1));
    assert_eq!(conn.value().len(), 1);
    conn.advance(Duration::from_nanos(1));
    assert_eq!(conn.value().len(), 2);
}

#[test]
fn heartbeat_lost_connection_stops_heartbeater() {
    let mut conn = StringTransport::with_disconnection()
        .make_connection(HeartbeatFactory.build_protocol(ipv4(127, 0, 0, 1, 1234)));
    assert!(conn.protocol.is_beating());
    conn.connection_lost(Disconnect::Clean);
    assert!(!conn.protocol.is_beating());
    assert_eq!(conn.clock.pending_count(), 0);
    conn.advance(Duration::from_secs(300));
    assert_eq!(conn.value().len(), 1);
}

/// The book's `StreamingProducerTests` fixture: a producer on a fake clock writing to a
/// consumer that records each write.
fn streaming_fixture() -> (ManualClock<()>, RecordingConsumer, StreamingProducer<()>) {
    (
        ManualClock::new(),
        RecordingConsumer::default(),
        StreamingProducer::new(()),
    )
}

fn advance_producer(
    clock: &mut ManualClock<()>,
    consumer: &mut RecordingConsumer,
    producer: &mut StreamingProducer<()>,
) {
    clock.advance(STREAMING_INTERVAL, |clock, ()| {
        producer.timer_fired(consumer, clock)
    });
}

#[test]
fn streaming_resume_producing_schedules_writes() {
    let (mut clock, mut consumer, mut producer) = streaming_fixture();
    assert!(consumer.writes.is_empty());
    producer.resume_producing(&mut consumer, &mut clock);
    assert_eq!(consumer.writes, vec![b"**".to_vec()]);
    advance_producer(&mut clock, &mut consumer, &mut producer);
    assert_eq!(consumer.writes, vec![b"**".to_vec(), b"****".to_vec()]);
}

#[test]
fn streaming_pause_producing_stops_writes() {
    let (mut clock, mut consumer, mut producer) = streaming_fixture();
    producer.resume_producing(&mut consumer, &mut clock);
    producer.pause_producing(&mut consumer, &mut clock);
    advance_producer(&mut clock, &mut consumer, &mut producer);
    assert_eq!(consumer.writes.len(), 1);
}

#[test]
fn streaming_stop_producing_stops_writes() {
    let (mut clock, mut consumer, mut producer) = streaming_fixture();
    producer.resume_producing(&mut consumer, &mut clock);
    producer.stop_producing(&mut consumer, &mut clock);
    advance_producer(&mut clock, &mut consumer, &mut producer);
    assert_eq!(consumer.writes.len(), 1);
}

#[test]
fn streaming_writes_double_each_time() {
    let (mut clock, mut consumer, mut producer) = streaming_fixture();
    producer.resume_producing(&mut consumer, &mut clock);
    for _ in 0..9 {
        advance_producer(&mut clock, &mut consumer, &mut producer);
    }
    let sizes: Vec<usize> = consumer.writes.iter().map(Vec::len).collect();
    assert_eq!(sizes, (1..=10).map(|k| 1 << k).collect::<Vec<_>>());
    assert_eq!(producer.written(), (1 << 11) - 2);
}

/// The streaming client against a receiver that reads 64 KiB per round, as Twisted's
/// transports do.
fn streaming_pump(budget: usize) -> Pump<StreamingClient, ReceivingServer> {
    let options = PumpOptions {
        read_size: Some(65_536),
        ..PumpOptions::default()
    };
    let mut pump = Pump::new(
        options,
        StreamingClient::new(Some(budget)),
        ReceivingServer::default(),
    );
    pump.run_for(Duration::from_secs(1));
    pump
}

#[test]
fn streaming_back_pressure_pauses_and_resumes_the_producer() {
    // TV-15/15b: the first pause comes no later than the 17th write (131072 bytes is
    // over the 64 KiB mark on its own); reads are 65536 bytes; every resume writes at
    // once, and that write pauses again.
    let pump = streaming_pump(1 << 21);
    let events = pump.transcript().events();
    let first_pause_write = pump.client.first_pause_at_write().expect("paused");
    assert!(
        first_pause_write <= 17,
        "first pause at write {first_pause_write}"
    );
    let first_pause = events
        .iter()
        .position(|e| e.what == EventKind::Paused)
        .expect("paused");
    let sizes_before: Vec<usize> = events[..first_pause]
        .iter()
        .filter_map(|e| match &e.what {
            EventKind::Data(d) => Some(d.len()),
            _ => None,
        })
        .collect();
    assert!(sizes_before.iter().all(|&n| n <= 65_536));
    assert!(pump.client.pauses() >= 1);
    // After a pause, the next producer event is a resume, and the write it makes is
    // the next double.
    let producer_events: Vec<&EventKind> = events
        .iter()
        .map(|e| &e.what)
        .filter(|w| matches!(w, EventKind::Paused | EventKind::Resumed))
        .collect();
    assert!(
        producer_events.windows(2).all(|w| w[0] != w[1]),
        "pause and resume alternate"
    );
    // Everything written arrived.
    assert_eq!(pump.server.received(), pump.client.producer().written());
    assert_eq!(pump.client_lost(), Some(Disconnect::Clean));
}

#[test]
fn streaming_transcript_with_pauses_and_resumes() {
    let pump = streaming_pump(1 << 19);
    assert_snapshot!("streaming_back_pressure", pump.transcript().render());
}
