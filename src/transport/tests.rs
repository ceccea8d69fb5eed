//! Tests of [`TransportState`](super::TransportState): writes, closes, producers.

use super::*;
use crate::flow::{Consumer, HIGH_WATER_MARK, Notice, ProducerError, ProducerKind};

fn state() -> TransportState {
    TransportState::new(ipv4(10, 0, 0, 1, 1), ipv4(10, 0, 0, 2, 2))
}

#[test]
fn push_producer_pauses_past_high_water_and_resumes_only_when_empty() {
    let mut t = state();
    t.register_producer(ProducerKind::Push).unwrap();
    t.write(&[0; HIGH_WATER_MARK]);
    assert_eq!(t.take_notice(), None, "exactly at the mark is not over it");
    t.write(b"x");
    assert_eq!(t.take_notice(), Some(Notice::PauseProducing));
    t.consume(HIGH_WATER_MARK);
    assert_eq!(
        t.take_notice(),
        None,
        "no low-water mark: one byte still queued"
    );
    t.consume(1);
    assert_eq!(t.take_notice(), Some(Notice::ResumeProducing));
}

#[test]
fn a_one_byte_write_still_pauses_a_push_producer_and_is_dropped_once_closed() {
    let mut t = state();
    t.set_high_water(0);
    t.write(b"*");
    t.register_producer(ProducerKind::Push).unwrap();
    t.write(b"*");
    assert_eq!(t.take_notice(), Some(Notice::PauseProducing));
    t.unregister_producer().unwrap();
    t.write(b"*");
    assert_eq!(t.pending(), b"***");
    t.lose_write_connection();
    t.write(b"!");
    assert_eq!(t.pending(), b"***", "nothing after a half-close");
    let mut t = state();
    t.abort_connection();
    t.write(b"!");
    assert!(t.pending().is_empty(), "nothing after an abort");
    assert!(!t.accepts_data());
}

#[test]
fn second_producer_is_an_error() {
    let mut t = state();
    t.register_producer(ProducerKind::Push).unwrap();
    assert_eq!(
        t.register_producer(ProducerKind::Push),
        Err(ProducerError::AlreadyRegistered)
    );
    t.unregister_producer().unwrap();
    assert_eq!(t.unregister_producer(), Err(ProducerError::NotRegistered));
}

#[test]
fn pull_producer_is_resumed_at_registration_and_on_each_drain() {
    let mut t = state();
    t.register_producer(ProducerKind::Pull).unwrap();
    assert_eq!(t.take_notice(), Some(Notice::ResumeProducing));
    t.write(b"abc");
    t.consume(3);
    assert_eq!(t.take_notice(), Some(Notice::ResumeProducing));
}

#[test]
fn lose_connection_waits_for_drain_and_producer() {
    let mut t = state();
    t.register_producer(ProducerKind::Push).unwrap();
    t.write(b"bye");
    t.lose_connection();
    assert!(!t.accepts_data());
    assert_eq!(t.close_action(), None);
    t.consume(3);
    assert_eq!(
        t.close_action(),
        None,
        "a registered producer holds the close"
    );
    t.unregister_producer().unwrap();
    assert_eq!(t.close_action(), Some(CloseAction::Close));
}

#[test]
fn abort_discards_queue_and_close_stops_producer() {
    let mut t = state();
    t.register_producer(ProducerKind::Push).unwrap();
    t.write(b"lost");
    t.abort_connection();
    assert!(t.pending().is_empty());
    assert_eq!(t.close_action(), Some(CloseAction::Abort));
    assert!(t.close());
    assert!(!t.close(), "a connection ends once");
    assert_eq!(t.take_notice(), Some(Notice::StopProducing));
    t.write(b"late");
    assert!(t.pending().is_empty());
}

#[test]
fn half_close_drops_later_writes_but_keeps_reading() {
    let mut t = state();
    t.write(b"req");
    t.lose_write_connection();
    t.write(b"dropped");
    assert_eq!(t.pending(), b"req");
    assert_eq!(t.close_action(), None);
    t.consume(3);
    assert_eq!(t.close_action(), Some(CloseAction::ShutdownWrite));
    t.write_shut_down();
    assert_eq!(t.close_action(), None);
    assert!(t.accepts_data());
}
