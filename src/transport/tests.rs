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

#[test]
fn a_few_bytes_stay_inline_and_later_writes_follow_them_in_order() {
    let mut t = state();
    t.write(b"ab");
    t.write(b"c");
    assert_eq!(t.pending(), b"abc");
    assert_eq!(t.small_len, 3, "inline");
    t.consume(1);
    assert_eq!(t.pending(), b"bc");
    // Too long to fit beside them: everything moves to the queue, in order.
    t.write(b"0123456");
    assert_eq!((t.small_len, t.pending()), (0, &b"bc0123456"[..]));
    t.write(b"7");
    assert_eq!(t.pending(), b"bc01234567");
    t.consume(10);
    assert_eq!(t.pending(), b"");
    assert_eq!(t.bytes_sent(), 11);
    // Empty again: small writes go inline again.
    t.write(b"x");
    assert_eq!((t.small_len, t.pending()), (1, &b"x"[..]));
    let mut out = Vec::new();
    assert!(t.take_pending(&mut out));
    assert_eq!((out.as_slice(), t.pending()), (&b"x"[..], &b""[..]));
    assert_eq!(t.bytes_sent(), 12);
}

#[test]
fn inline_bytes_are_dropped_by_an_abort_and_a_producer_spills_them() {
    let mut t = state();
    t.write(b"ab");
    t.abort_connection();
    assert_eq!(t.pending(), b"");
    let mut t = state();
    t.write(b"ab");
    t.register_producer(ProducerKind::Push).unwrap();
    t.write(b"c");
    assert_eq!((t.small_len, t.pending()), (0, &b"abc"[..]));
    // A drain of inline bytes resumes a pull producer, as a drain of the queue does.
    let mut t = state();
    t.write(b"ab");
    t.register_producer(ProducerKind::Pull).unwrap();
    assert_eq!(t.take_notice(), Some(Notice::ResumeProducing));
    t.consume(2);
    assert_eq!(t.take_notice(), Some(Notice::ResumeProducing));
}

/// Random writes, consumes and takes against a plain byte queue.
#[test]
fn pending_bytes_agree_with_a_plain_queue_under_random_use() {
    let mut rng = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    let mut t = state();
    let mut model: Vec<u8> = Vec::new();
    let mut sent = 0u64;
    let mut byte = 0u8;
    for _ in 0..20_000 {
        match next(4) {
            0 | 1 => {
                let len = [0, 1, 1, 2, 3, 6, 7, 8, 20][next(9) as usize];
                let data: Vec<u8> = (0..len)
                    .map(|_| {
                        byte = byte.wrapping_add(1);
                        byte
                    })
                    .collect();
                t.write(&data);
                model.extend(&data);
            }
            2 => {
                let n = next(model.len() as u64 + 1) as usize;
                t.consume(n);
                model.drain(..n);
                sent += n as u64;
            }
            _ => {
                let mut out = vec![9];
                assert_eq!(t.take_pending(&mut out), !model.is_empty());
                assert_eq!(out, model);
                sent += model.len() as u64;
                model.clear();
            }
        }
        assert_eq!(t.pending(), model.as_slice());
        assert_eq!(t.bytes_sent(), sent);
    }
}

#[test]
fn move_pending_moves_what_fits_and_consumes_it() {
    use std::collections::VecDeque;
    let mut t = state();
    let mut out = VecDeque::from([b'>']);
    t.write(b"*");
    assert_eq!(t.move_pending(0, &mut out), 0, "no room");
    assert_eq!(t.move_pending(5, &mut out), 1, "the lone inline byte");
    assert_eq!(t.move_pending(5, &mut out), 0, "nothing left");
    t.write(b"abc");
    assert_eq!(t.move_pending(2, &mut out), 2);
    t.write(&[b'.'; 20]);
    assert_eq!(t.move_pending(usize::MAX, &mut out), 21);
    let want: Vec<u8> = [&b">*ab"[..], b"c", &[b'.'; 20]].concat();
    assert_eq!(out, want);
    assert_eq!((t.pending(), t.bytes_sent()), (&b""[..], 24));
    // A pull producer hears of the drain, however it came.
    t.register_producer(ProducerKind::Pull).unwrap();
    assert_eq!(t.take_notice(), Some(Notice::ResumeProducing));
    t.write(b"x");
    assert_eq!(t.move_pending(1, &mut out), 1);
    assert_eq!(t.take_notice(), Some(Notice::ResumeProducing));
}

/// `plain_writes` stands for an empty queue too: off while the queue holds bytes (a
/// one-byte write then queues behind them rather than going inline), on again once it
/// has drained, whichever way it drained.
#[test]
fn plain_writes_are_off_while_the_queue_holds_bytes() {
    let mut t = state();
    assert!(t.plain_writes);
    t.write(&[b'a'; 20]);
    assert!(!t.plain_writes);
    t.write(b"b");
    assert_eq!(t.small_len, 0, "behind the queued bytes, not inline");
    t.consume(21);
    assert!(t.plain_writes, "drained by a consume");
    t.write(b"c");
    assert_eq!((t.pending(), t.small_len), (&b"c"[..], 1));
    t.write(&[b'd'; 20]);
    assert!(!t.plain_writes, "the inline byte spilled into the queue");
    let mut out = Vec::new();
    assert!(t.take_pending(&mut out));
    assert!(t.plain_writes, "drained by a take");
    t.write(&[b'e'; 20]);
    t.consume(5);
    assert!(t.take_pending(&mut out));
    assert_eq!(out.len(), 15);
    assert!(t.plain_writes, "drained by a take after a partial consume");
    t.register_producer(ProducerKind::Push).unwrap();
    assert!(!t.plain_writes);
    t.write(&[b'f'; 20]);
    t.unregister_producer().unwrap();
    assert!(
        !t.plain_writes,
        "no producer, but the queue still holds bytes"
    );
    t.consume(20);
    assert!(t.plain_writes);
    t.lose_write_connection();
    assert!(!t.plain_writes, "not writable");
}
