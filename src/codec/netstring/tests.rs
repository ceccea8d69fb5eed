use super::*;
use crate::testing::strategies::assert_every_cut_decodes_alike;

/// Feeds `chunks` in turn; returns the frames and the first error (the decoder stops
/// being fed at an error, as a protocol closing its connection would).
fn decode_chunks(
    decoder: &mut NetstringDecoder,
    chunks: &[&[u8]],
) -> (Vec<Vec<u8>>, Option<NetstringError>) {
    let mut frames = Vec::new();
    for chunk in chunks {
        if let Err(error) = decoder.decode(chunk, |f| frames.push(f.to_vec())) {
            return (frames, Some(error));
        }
    }
    (frames, None)
}

fn decode_whole(stream: &[u8]) -> (Vec<Vec<u8>>, Option<NetstringError>, u64) {
    let mut decoder = NetstringDecoder::new();
    let (frames, error) = decode_chunks(&mut decoder, &[stream]);
    (frames, error, decoder.consumed())
}

const SEED_REQUEST: &[u8] = b"27:cummingsify.HERE IS MY POEM,";

#[test]
fn seed_vector_is_one_request() {
    let (frames, error, consumed) = decode_whole(SEED_REQUEST);
    assert_eq!(frames, vec![b"cummingsify.HERE IS MY POEM".to_vec()]);
    assert_eq!(error, None);
    assert_eq!(consumed, SEED_REQUEST.len() as u64);
    assert_eq!(encode(b"cummingsify.HERE IS MY POEM"), SEED_REQUEST);
    assert_eq!(encode(b"here is my poem"), b"15:here is my poem,");
}

#[test]
fn parts_encode_as_their_concatenation() {
    let mut out = Vec::new();
    encode_parts_into(&[b"cummingsify", b".", b"HERE IS MY POEM"], &mut out);
    assert_eq!(out, SEED_REQUEST);
}

#[test]
fn empty_payload_is_zero_colon_comma() {
    assert_eq!(encode(b""), b"0:,");
    assert_eq!(decode_whole(b"0:,0:,").0, vec![Vec::<u8>::new(); 2]);
}

#[test]
fn encoded_len_counts_every_digit() {
    for len in [0, 1, 9, 10, 99, 100, 99_999, 100_000, 1 << 20] {
        assert_eq!(encoded_len(len), encode(&vec![0; len]).len(), "{len}");
    }
}

#[test]
fn non_digit_in_length_is_rejected_where_it_stands() {
    assert_eq!(
        decode_whole(b"1x:a,"),
        (
            vec![],
            Some(NetstringError::NonDigitLength { found: b'x' }),
            1
        )
    );
    assert_eq!(
        decode_whole(b"-1:a,").1,
        Some(NetstringError::NonDigitLength { found: b'-' })
    );
}

#[test]
fn empty_length_is_a_non_digit_error() {
    assert_eq!(
        decode_whole(b":a,"),
        (
            vec![],
            Some(NetstringError::NonDigitLength { found: b':' }),
            0
        )
    );
}

#[test]
fn leading_zero_is_rejected_on_the_second_digit() {
    assert_eq!(
        decode_whole(b"007:abc.def,"),
        (vec![], Some(NetstringError::LeadingZero), 1)
    );
    assert_eq!(decode_whole(b"00:,").1, Some(NetstringError::LeadingZero));
}

#[test]
fn too_long_is_reported_before_the_colon_arrives() {
    let mut decoder = NetstringDecoder::new();
    assert_eq!(
        decoder.decode(b"99999", |_| {}),
        Ok(()),
        "the maximum itself"
    );
    let mut decoder = NetstringDecoder::new();
    assert_eq!(
        decoder.decode(b"100000", |_| {}),
        Err(NetstringError::TooLong { max: 99_999 })
    );
    assert_eq!(
        decoder.consumed(),
        5,
        "the sixth digit is the offending byte"
    );
}

#[test]
fn a_huge_length_never_overflows() {
    let digits = vec![b'9'; 60];
    let mut decoder = NetstringDecoder::with_max_length(usize::MAX);
    assert_eq!(
        decoder.decode(&digits, |_| {}),
        Err(NetstringError::TooLong { max: usize::MAX })
    );
    // As many nines as usize::MAX has digits no longer fit: the last of them is refused.
    let digits_of_max = usize::MAX.to_string().len() as u64;
    assert_eq!(decoder.consumed(), digits_of_max - 1);
}

#[test]
fn max_length_is_configurable() {
    let mut decoder = NetstringDecoder::with_max_length(3);
    let (frames, error) = decode_chunks(&mut decoder, &[b"3:abc,4:abcd,"]);
    assert_eq!(frames, vec![b"abc".to_vec()]);
    assert_eq!(error, Some(NetstringError::TooLong { max: 3 }));
    assert_eq!(decoder.consumed(), 6);
}

#[test]
fn missing_comma_is_rejected_at_the_byte_after_the_payload() {
    assert_eq!(
        decode_whole(b"5:a.bcdX"),
        (
            vec![],
            Some(NetstringError::MissingComma { found: b'X' }),
            7
        )
    );
}

#[test]
fn error_messages_are_lowercase_and_name_the_byte() {
    let messages = [
        NetstringError::NonDigitLength { found: b'\n' }.to_string(),
        NetstringError::LeadingZero.to_string(),
        NetstringError::TooLong { max: 99_999 }.to_string(),
        NetstringError::MissingComma { found: b'X' }.to_string(),
    ];
    assert_eq!(messages[0], "non-digit byte '\\n' in netstring length");
    assert_eq!(
        messages[2],
        "netstring length exceeds the maximum of 99999 bytes"
    );
    assert_eq!(messages[3], "netstring payload is followed by 'X', not ','");
    for m in messages {
        assert!(m.starts_with(|c: char| c.is_lowercase()), "{m}");
    }
}

#[test]
fn frames_before_an_error_in_the_same_chunk_are_delivered() {
    let (frames, error, consumed) = decode_whole(b"1:a,2:bc,x");
    assert_eq!(frames, vec![b"a".to_vec(), b"bc".to_vec()]);
    assert_eq!(error, Some(NetstringError::NonDigitLength { found: b'x' }));
    assert_eq!(consumed, 9);
}

#[test]
fn a_failed_decoder_stays_failed_and_reads_nothing_more() {
    let mut decoder = NetstringDecoder::new();
    let first = decoder.decode(b"01:", |_| panic!("no frame"));
    assert_eq!(first, Err(NetstringError::LeadingZero));
    let again = decoder.decode(b"1:a,", |_| panic!("no frame after an error"));
    assert_eq!(again, first);
    assert_eq!(decoder.consumed(), 1);
    assert_eq!(decoder.frames(), 0);
    assert_eq!(decoder.error(), Some(NetstringError::LeadingZero));
}

#[test]
fn check_tells_incomplete_from_invalid() {
    for partial in [&b""[..], b"2", b"27", b"27:", b"27:cumm", b"3:abc"] {
        assert_eq!(
            check(partial, 99),
            Err(CheckError::Incomplete),
            "{partial:?}"
        );
    }
    assert_eq!(
        check(b"3:abcd", 99),
        Err(CheckError::Invalid {
            error: NetstringError::MissingComma { found: b'd' },
            offset: 5
        })
    );
    assert_eq!(
        check(b"100:", 99),
        Err(CheckError::Invalid {
            error: NetstringError::TooLong { max: 99 },
            offset: 2
        })
    );
    assert_eq!(parse(b"3:abc,rest", 99), Ok((&b"abc"[..], 6)));
}

#[test]
fn a_frame_inside_the_chunk_is_lent_without_a_copy() {
    let chunk = b"5:hello,";
    let chunk_range = chunk.as_ptr_range();
    let mut decoder = NetstringDecoder::new();
    let mut lent = false;
    decoder
        .decode(chunk, |f| lent = chunk_range.contains(&f.as_ptr()))
        .unwrap();
    assert!(lent, "the payload points into the caller's chunk");
}

#[test]
fn a_frame_whose_header_straddles_is_still_lent_from_the_second_chunk() {
    let mut decoder = NetstringDecoder::new();
    decoder.decode(b"1", |_| panic!("not yet")).unwrap();
    let chunk = b"0:0123456789,";
    let range = chunk.as_ptr_range();
    let mut lent = false;
    decoder
        .decode(chunk, |f| {
            lent = range.contains(&f.as_ptr()) && f == b"0123456789"
        })
        .unwrap();
    assert!(lent);
    assert_eq!(decoder.buffered(), 0);
}

#[test]
fn a_straddling_payload_is_buffered_until_its_comma() {
    let mut decoder = NetstringDecoder::new();
    decoder.decode(b"5:he", |_| panic!("not yet")).unwrap();
    assert_eq!(decoder.buffered(), 2);
    decoder.decode(b"llo", |_| panic!("no comma yet")).unwrap();
    assert_eq!(decoder.buffered(), 5);
    assert!(!decoder.is_at_boundary());
    let mut got = Vec::new();
    decoder.decode(b",", |f| got = f.to_vec()).unwrap();
    assert_eq!(got, b"hello");
    assert!(decoder.is_at_boundary());
    assert_eq!((decoder.frames(), decoder.consumed()), (1, 8));
}

#[test]
fn empty_chunks_change_nothing() {
    let mut decoder = NetstringDecoder::new();
    decoder.decode(b"", |_| panic!()).unwrap();
    decoder.decode(b"3:a", |_| panic!()).unwrap();
    decoder.decode(b"", |_| panic!()).unwrap();
    assert_eq!((decoder.consumed(), decoder.buffered()), (3, 1));
}

#[test]
fn every_split_of_small_streams_matches_decoding_them_whole() {
    for stream in [
        &b"3:abc,0:,1:x,1"[..],
        b"2:ab,01:x,",
        b"12:cummingsify.,",
        b"1:a,3:bcdX",
    ] {
        assert_every_cut_decodes_alike(stream, |reads| {
            let mut decoder = NetstringDecoder::new();
            let (frames, error) = decode_chunks(&mut decoder, reads);
            (frames, error, decoder.consumed())
        });
    }
}
