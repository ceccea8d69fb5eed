//! Tests of the connection ends' queues and buffers.

use super::*;
use crate::host::ConnId;

#[test]
fn frame_counter_counts_whole_netstrings_across_chunks() {
    let stream = b"3:abc,0:,11:hello world,";
    for cut in 1..stream.len() {
        let mut counter = FrameCounter::default();
        counter.feed(&stream[..cut]);
        counter.feed(&stream[cut..]);
        assert_eq!(counter.frames, 3, "cut at {cut}");
    }
}

#[test]
fn receive_buffer_reads_slice_and_join_segments_in_order() {
    let mut buf = RecvBuffer::default();
    buf.push(Payload::copy_of(b"abc"));
    buf.push(Payload::EMPTY);
    buf.push(Payload::Shared(Bytes::from_static(b"defg")));
    assert_eq!(buf.len(), 7);
    assert_eq!(&buf.take(2)[..], b"ab");
    assert_eq!(&buf.take(3)[..], b"cde", "joined across segments");
    assert_eq!(&buf.take(10)[..], b"fg", "no more than is there");
    assert!(buf.is_empty());
    assert_eq!(&buf.take(1)[..], b"");
}

#[test]
fn fifo_keeps_the_order_across_its_inline_head() {
    let mut fifo = Fifo::default();
    fifo.push_back(1);
    assert_eq!(fifo.pop_front(), Some(1));
    for i in 2..6 {
        fifo.push_back(i);
    }
    assert_eq!(fifo.pop_front(), Some(2));
    fifo.push_back(6);
    let rest: Vec<i32> = std::iter::from_fn(|| fifo.pop_front()).collect();
    assert_eq!(rest, [3, 4, 5, 6]);
    assert_eq!(fifo.pop_front(), None);
}

#[test]
fn receive_buffer_splits_and_joins_inline_and_shared_segments_alike() {
    let mut buf = RecvBuffer::default();
    buf.push(Payload::copy_of(b"hello"));
    buf.push(Payload::Shared(Bytes::from(vec![b'x'; 30])));
    buf.push(Payload::copy_of(b"!"));
    assert_eq!(&buf.take(2)[..], b"he", "a slice of an inline segment");
    assert_eq!(&buf.take(3)[..], b"llo", "and its rest, whole");
    assert_eq!(
        &buf.take(10)[..],
        &[b'x'; 10][..],
        "a slice of a shared one"
    );
    let joined = buf.take(21);
    assert_eq!(joined.len(), 21);
    assert_eq!(
        &joined[..],
        b"xxxxxxxxxxxxxxxxxxxx!",
        "joined across segments"
    );
    assert!(buf.is_empty());
}

#[test]
fn pair_fifo_keeps_the_order_across_its_two_inline_items() {
    let mut fifo = PairFifo::default();
    let mut popped = Vec::new();
    let mut next = 0;
    // Fill levels of 0 to 4 items, so every slot is filled and drained in turn.
    for round in 0..20 {
        for _ in 0..round % 5 {
            fifo.push_back(next);
            next += 1;
        }
        for _ in 0..(round % 3) + 1 {
            popped.extend(fifo.pop_front());
        }
    }
    popped.extend(std::iter::from_fn(|| fifo.pop_front()));
    assert_eq!(popped, (0..next).collect::<Vec<_>>());
    assert_eq!(fifo.pop_front(), None);
}

#[test]
fn frame_counter_stops_at_garbage() {
    let mut counter = FrameCounter::default();
    counter.feed(b"1:a,x:b,1:c,");
    assert_eq!(counter.frames, 1);
}

#[test]
fn what_a_packet_touches_of_a_connection_shares_the_lines_the_layout_says() {
    use std::mem::{align_of, offset_of, size_of};
    // The line of each of a field's bytes, from its first to its last.
    let lines = |offset: usize, size: usize| (offset / 64, (offset + size - 1) / 64);
    assert_eq!(align_of::<Conn>(), 64);
    assert_eq!(align_of::<End>(), 64);
    assert_eq!(lines(offset_of!(Conn, packets), 4), (0, 0));
    assert_eq!(lines(offset_of!(Conn, hosts), 8), (0, 0));
    assert_eq!(lines(offset_of!(Conn, sent_by), 32), (0, 0));
    assert_eq!(offset_of!(Conn, ends), 64);
    for (offset, size, line) in [
        (offset_of!(End, phase), 8, 0),
        (offset_of!(End, in_flight), 8, 0),
        (offset_of!(End, recv_buf), size_of::<RecvBuffer>(), 0),
        (offset_of!(End, send_buf), size_of::<VecDeque<u8>>(), 0),
        (offset_of!(End, read_state), 8, 1),
        (offset_of!(End, host), 8, 1),
        (offset_of!(End, last_arrival), 8, 1),
        (offset_of!(End, stall), 8, 1),
        (offset_of!(End, bytes_delivered), 8, 1),
        (offset_of!(End, frames), size_of::<FrameCounter>(), 1),
        // The oldest packet, and the first word of the second.
        (offset_of!(End, wire), size_of::<Option<Packet>>() + 8, 2),
        (offset_of!(End, conn), size_of::<Option<ConnId>>(), 3),
        (offset_of!(End, reads), size_of::<Segmenter>(), 3),
    ] {
        assert_eq!(
            lines(offset, size),
            (line, line),
            "at {offset}, {size} bytes"
        );
    }
}
