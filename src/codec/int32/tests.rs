use super::*;
use crate::testing::strategies::assert_every_cut_decodes_alike;

/// Feeds `chunks` in turn; returns the payloads, the first error and `consumed`.
fn decode_chunks(max: usize, chunks: &[&[u8]]) -> (Vec<Vec<u8>>, Option<Int32Error>, u64) {
    let mut decoder = Int32Decoder::with_max_length(max);
    let mut payloads = Vec::new();
    for chunk in chunks {
        if let Err(error) = decoder.decode(chunk, |p| payloads.push(p.to_vec())) {
            return (payloads, Some(error), decoder.consumed());
        }
    }
    (payloads, None, decoder.consumed())
}

fn payloads(all: &[&[u8]]) -> Vec<Vec<u8>> {
    all.iter().map(|p| p.to_vec()).collect()
}

// The vectors below were run through Twisted 26.10.0's Int32StringReceiver.

#[test]
fn frames_and_an_empty_payload_decode_as_twisted_does() {
    let stream = b"\0\0\0\x03abc\0\0\0\0";
    assert_eq!(
        decode_chunks(DEFAULT_MAX_LENGTH, &[stream]),
        (payloads(&[b"abc", b""]), None, 11)
    );
    assert_eq!(encode(b"abc").unwrap(), &stream[..7]);
    assert_eq!(encode(b"").unwrap(), b"\0\0\0\0");
}

#[test]
fn the_maximum_itself_is_accepted_and_one_more_is_too_long() {
    // 99,999 = 0x0001869f: Twisted waits for the payload.
    assert_eq!(
        decode_chunks(DEFAULT_MAX_LENGTH, &[b"\x00\x01\x86\x9f"]),
        (vec![], None, 4)
    );
    // 100,000: lengthLimitExceeded(100000) as soon as the prefix is in.
    let too_long = Int32Error::TooLong {
        length: 100_000,
        max: DEFAULT_MAX_LENGTH,
    };
    assert_eq!(
        decode_chunks(DEFAULT_MAX_LENGTH, &[b"\x00\x01\x86\xa0"]),
        (vec![], Some(too_long), 0)
    );
}

#[test]
fn the_largest_prefix_is_refused_where_its_frame_starts() {
    let error = Int32Error::TooLong {
        length: u32::MAX,
        max: DEFAULT_MAX_LENGTH,
    };
    let stream = b"\0\0\0\x02ab\xff\xff\xff\xff";
    assert_eq!(
        decode_chunks(DEFAULT_MAX_LENGTH, &[stream]),
        (payloads(&[b"ab"]), Some(error), 6)
    );
    // The same when the prefix straddles reads.
    assert_eq!(
        decode_chunks(
            DEFAULT_MAX_LENGTH,
            &[&stream[..7], &stream[7..9], &stream[9..]]
        ),
        (payloads(&[b"ab"]), Some(error), 6)
    );
}

#[test]
fn an_empty_payload_whose_prefix_straddles_is_delivered_at_once() {
    let mut decoder = Int32Decoder::new();
    decoder.decode(b"\0\0", |_| panic!("not yet")).unwrap();
    assert_eq!(decoder.buffered(), 2);
    let mut got = Vec::new();
    decoder.decode(b"\0\0", |p| got.push(p.to_vec())).unwrap();
    assert_eq!(got, [Vec::<u8>::new()]);
    assert!(decoder.is_at_boundary());
}

#[test]
fn a_straddling_payload_is_buffered_up_to_its_length() {
    let mut decoder = Int32Decoder::with_max_length(5);
    decoder
        .decode(b"\0\0\0\x05he", |_| panic!("not yet"))
        .unwrap();
    assert_eq!(decoder.buffered(), 6);
    let mut got = Vec::new();
    decoder.decode(b"llo\0", |p| got = p.to_vec()).unwrap();
    assert_eq!(got, b"hello");
    assert_eq!(
        (decoder.frames(), decoder.consumed(), decoder.buffered()),
        (1, 10, 1)
    );
}

#[test]
fn a_payload_inside_the_chunk_is_lent_without_a_copy() {
    let chunk = b"\0\0\0\x05hello";
    let range = chunk.as_ptr_range();
    let mut lent = false;
    Int32Decoder::new()
        .decode(chunk, |p| lent = range.contains(&p.as_ptr()))
        .unwrap();
    assert!(lent);
}

#[test]
fn a_failed_decoder_stays_failed_and_reads_nothing_more() {
    let mut decoder = Int32Decoder::with_max_length(1);
    let first = decoder.decode(b"\0\0\0\x02", |_| panic!("no frame"));
    assert_eq!(first, Err(Int32Error::TooLong { length: 2, max: 1 }));
    assert_eq!(
        decoder.decode(b"\0\0\0\0", |_| panic!("nothing after")),
        first
    );
    assert_eq!(decoder.consumed(), 0);
    assert_eq!(
        decoder.error(),
        Some(Int32Error::TooLong { length: 2, max: 1 })
    );
}

#[test]
fn check_tells_incomplete_from_invalid() {
    for partial in [&b""[..], b"\0", b"\0\0\0", b"\0\0\0\x03ab"] {
        assert_eq!(
            check(partial, 10),
            Err(CheckError::Incomplete),
            "{partial:?}"
        );
    }
    assert_eq!(parse(b"\0\0\0\x01xrest", 10), Ok((&b"x"[..], 5)));
    assert_eq!(
        check(b"\0\0\x01\0", 255),
        Err(CheckError::Invalid {
            error: Int32Error::TooLong {
                length: 256,
                max: 255
            },
            offset: 0
        })
    );
}

#[test]
fn error_messages_are_lowercase_and_name_the_numbers() {
    assert_eq!(
        Int32Error::TooLong {
            length: 100_000,
            max: 99_999
        }
        .to_string(),
        "length prefix of 100000 bytes exceeds the maximum of 99999 bytes"
    );
    assert_eq!(
        EncodeError { len: 1 << 32 }.to_string(),
        "payload of 4294967296 bytes does not fit a 32-bit length prefix"
    );
}

#[test]
fn every_split_of_small_streams_matches_decoding_them_whole() {
    for stream in [
        &b"\0\0\0\x02ab\0\0\0\0\0\0\0\x01c\0\0"[..],
        b"\0\0\0\x01a\0\0\0\x04abcd",
    ] {
        assert_every_cut_decodes_alike(stream, |reads| decode_chunks(3, reads));
    }
}

#[test]
fn the_fuzz_entry_point_takes_any_bytes() {
    assert_eq!(fuzz(b""), (vec![], None));
    // Maximum 2, reads of 3 bytes.
    assert_eq!(
        fuzz(b"\x02\x02\0\0\0\x01a\0\0\0\x03"),
        (
            payloads(&[b"a"]),
            Some(Int32Error::TooLong { length: 3, max: 2 })
        )
    );
}
