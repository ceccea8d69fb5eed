use super::*;
use crate::testing::strategies::assert_every_cut_decodes_alike;

/// Feeds `chunks` in turn; returns the lines, the first error and `consumed`.
fn decode_chunks(format: &LineFormat, chunks: &[&[u8]]) -> (Vec<Vec<u8>>, Option<LineError>, u64) {
    let mut decoder = LineDecoder::new(format.clone());
    let mut lines = Vec::new();
    for chunk in chunks {
        if let Err(error) = decoder.decode(chunk, |l| lines.push(l.to_vec())) {
            return (lines, Some(error), decoder.consumed());
        }
    }
    (lines, None, decoder.consumed())
}

fn max4() -> LineFormat {
    LineFormat::new().with_max_length(4)
}

fn lines(all: &[&[u8]]) -> Vec<Vec<u8>> {
    all.iter().map(|l| l.to_vec()).collect()
}

const TOO_LONG: Option<LineError> = Some(LineError::TooLong { max: 4 });

#[test]
fn defaults_are_twisteds() {
    let format = LineFormat::default();
    assert_eq!(format.delimiter(), b"\r\n");
    assert_eq!(format.max_length(), 16_384);
    assert_eq!(format.encode(b"GET k").unwrap(), b"GET k\r\n");
}

// The cases below were run through Twisted 26.10.0's LineReceiver with MAX_LENGTH = 4:
// lineLengthExceeded fired exactly where TOO_LONG is expected.

#[test]
fn a_line_of_the_maximum_length_is_accepted() {
    assert_eq!(
        decode_chunks(&max4(), &[b"abcd\r\n"]),
        (lines(&[b"abcd"]), None, 6)
    );
    assert_eq!(
        decode_chunks(&max4(), &[b"abcd", b"\r", b"\n"]),
        (lines(&[b"abcd"]), None, 6)
    );
}

#[test]
fn a_complete_line_past_the_maximum_is_too_long() {
    assert_eq!(
        decode_chunks(&max4(), &[b"abcde\r\n"]),
        (vec![], TOO_LONG, 0)
    );
    assert_eq!(
        decode_chunks(&max4(), &[b"aaaaa", b"\r\n"]),
        (vec![], TOO_LONG, 0)
    );
}

#[test]
fn a_partial_line_trips_only_at_maximum_plus_delimiter_bytes() {
    // max + 1 bytes may still be `abcd` and the `\r` of its delimiter: Twisted waits.
    for waiting in [&b"abcde"[..], b"abcd\r"] {
        let (got, error, consumed) = decode_chunks(&max4(), &[waiting]);
        assert_eq!((got, error, consumed), (vec![], None, 5), "{waiting:?}");
    }
    assert_eq!(decode_chunks(&max4(), &[b"abcde\r"]), (vec![], TOO_LONG, 0));
    assert_eq!(decode_chunks(&max4(), &[b"abcdef"]), (vec![], TOO_LONG, 0));
    assert_eq!(
        decode_chunks(&max4(), &[b"abc", b"de", b"f"]),
        (vec![], TOO_LONG, 0)
    );
}

#[test]
fn lines_before_a_long_one_are_delivered_and_the_error_marks_its_start() {
    assert_eq!(
        decode_chunks(&max4(), &[b"ab\r\ncdefgh"]),
        (lines(&[b"ab"]), TOO_LONG, 4)
    );
    assert_eq!(
        decode_chunks(&max4(), &[b"ab\r\ncd", b"efgh"]),
        (lines(&[b"ab"]), TOO_LONG, 4)
    );
}

#[test]
fn the_decoder_never_buffers_past_its_bound() {
    let mut decoder = LineDecoder::new(max4());
    decoder.decode(b"abcd\r", |_| panic!("not yet")).unwrap();
    assert_eq!(decoder.buffered(), 5);
    assert_eq!(decoder.partial_line(), b"abcd\r");
    assert_eq!(
        decoder.decode(b"x", |_| panic!()),
        TOO_LONG.map(Err).unwrap()
    );
    assert_eq!(decoder.buffered(), 0, "the buffer is dropped on the error");
}

#[test]
fn empty_lines_are_lines() {
    assert_eq!(
        decode_chunks(&max4(), &[b"\r\n\r\n"]),
        (lines(&[b"", b""]), None, 4)
    );
}

#[test]
fn a_self_overlapping_delimiter_ends_at_its_first_occurrence() {
    let aa = LineFormat::new().with_delimiter(b"aa").unwrap();
    // As Python's bytes.split(b"aa", 1): b"xaaa" is b"x", then b"a" waits.
    assert_eq!(decode_chunks(&aa, &[b"xaaa"]), (lines(&[b"x"]), None, 4));
    assert_eq!(
        decode_chunks(&aa, &[b"xa", b"aa"]),
        (lines(&[b"x"]), None, 4)
    );
    let mut decoder = LineDecoder::new(aa);
    decoder.decode(b"xaaa", |_| {}).unwrap();
    assert_eq!(decoder.partial_line(), b"a");
}

#[test]
fn a_delimiter_split_across_many_reads_is_found() {
    let long = LineFormat::new().with_delimiter(b"\r\n\r\n").unwrap();
    let got = decode_chunks(&long, &[b"head", b"\r", b"\n\r", b"\n", b"body\r\n\r\n"]);
    assert_eq!(got, (lines(&[b"head", b"body"]), None, 16));
}

#[test]
fn the_empty_delimiter_is_refused() {
    assert_eq!(
        LineFormat::new().with_delimiter(b"").err(),
        Some(EmptyDelimiter)
    );
    assert_eq!(
        EmptyDelimiter.to_string(),
        "line delimiter must not be empty"
    );
}

#[test]
fn encoding_refuses_what_would_not_read_back() {
    let format = max4();
    assert_eq!(
        format.encode(b"a\r\nb"),
        Err(EncodeError::ContainsDelimiter { at: 1 })
    );
    assert_eq!(
        format.encode(b"abcde"),
        Err(EncodeError::TooLong { len: 5, max: 4 })
    );
    // `x` + `a` + `aa` would be read as `x`: the line's last byte starts the delimiter.
    let aa = LineFormat::new().with_delimiter(b"aa").unwrap();
    assert_eq!(
        aa.encode(b"xa"),
        Err(EncodeError::ContainsDelimiter { at: 1 })
    );
    // A lone `\r` at the end is fine with `\r\n`: `ab\r\r\n` reads back as `ab\r`.
    assert_eq!(format.encode(b"ab\r").unwrap(), b"ab\r\r\n");
    let mut out = b"kept".to_vec();
    assert!(format.encode_into(b"a\r\n", &mut out).is_err());
    assert_eq!(out, b"kept", "nothing is appended on an error");
}

#[test]
fn check_tells_incomplete_from_invalid_and_looks_no_further_than_the_bound() {
    let format = max4();
    for partial in [&b""[..], b"ab", b"abcd\r", b"abcde"] {
        assert_eq!(
            format.check(partial),
            Err(CheckError::Incomplete),
            "{partial:?}"
        );
    }
    let invalid = Err(CheckError::Invalid {
        error: LineError::TooLong { max: 4 },
        offset: 0,
    });
    assert_eq!(format.check(b"abcdef"), invalid);
    // The delimiter after a long line is beyond the window: still too long.
    assert_eq!(format.check(b"abcdefgh\r\n"), invalid);
    assert_eq!(format.parse(b"ab\r\ncd"), Ok((&b"ab"[..], 4)));
}

#[test]
fn a_line_inside_the_chunk_is_lent_without_a_copy() {
    let chunk = b"hello\r\n";
    let range = chunk.as_ptr_range();
    let mut lent = false;
    LineDecoder::default()
        .decode(chunk, |l| lent = range.contains(&l.as_ptr()))
        .unwrap();
    assert!(lent);
}

#[test]
fn a_failed_decoder_stays_failed_and_reads_nothing_more() {
    let mut decoder = LineDecoder::new(max4());
    let first = decoder.decode(b"ok\r\ntoo long", |_| {});
    assert_eq!(first, TOO_LONG.map(Err).unwrap());
    assert_eq!(
        decoder.decode(b"a\r\n", |_| panic!("nothing after an error")),
        first
    );
    assert_eq!((decoder.frames(), decoder.consumed()), (1, 4));
    assert_eq!(decoder.error(), Some(LineError::TooLong { max: 4 }));
    assert!(!decoder.is_at_boundary());
}

#[test]
fn the_error_message_is_lowercase_and_names_the_limit() {
    assert_eq!(
        LineError::TooLong { max: 16_384 }.to_string(),
        "line longer than the maximum of 16384 bytes"
    );
    assert_eq!(
        EncodeError::ContainsDelimiter { at: 3 }.to_string(),
        "line contains the delimiter at byte 3"
    );
}

#[test]
fn every_split_of_small_streams_matches_decoding_them_whole() {
    assert_every_cut_decodes_alike(b"ab\r\n\r\nabcd\r\nab", |reads| {
        decode_chunks(&max4(), reads)
    });
    assert_every_cut_decodes_alike(b"a\r\nabcd\rx\r\n", |reads| decode_chunks(&max4(), reads));
    let aa = LineFormat::new()
        .with_delimiter(b"aa")
        .unwrap()
        .with_max_length(3);
    assert_every_cut_decodes_alike(b"xaaabaaaaxyzaa", |reads| decode_chunks(&aa, reads));
    let crlf2 = LineFormat::new()
        .with_delimiter(b"\r\n\r\n")
        .unwrap()
        .with_max_length(3);
    assert_every_cut_decodes_alike(b"a\r\n\r\n\r\r\n\r\n\r\n", |reads| {
        decode_chunks(&crlf2, reads)
    });
}

#[test]
fn the_fuzz_entry_point_takes_any_bytes() {
    assert_eq!(fuzz(b""), (vec![], None));
    // Delimiter \r\n, maximum 4, reads of 2 bytes.
    assert_eq!(
        fuzz(b"\x00\x04\x01ab\r\nabcdef"),
        (lines(&[b"ab"]), TOO_LONG)
    );
}
