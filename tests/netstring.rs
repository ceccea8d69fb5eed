//! Property tests of the netstring codec: encoding round-trips, chunking never changes
//! the outcome, malformed input fails with the right error and never panics.
//!
//! Case budget: five properties at `CASES` = 4,096 cases each, 20,480 cases in all
//! (the codec's target is at least 20,000 per `cargo test`).

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::FileFailurePersistence;

use weft::codec::netstring::{self, CheckError, NetstringDecoder, NetstringError};
use weft::testing::strategies::cuts;

/// Cases per property; see the module docs for the total.
const CASES: u32 = 4096;

fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/netstring.txt",
        ))),
        ..ProptestConfig::with_cases(CASES)
    }
}

/// What a decoder made of a stream.
#[derive(Clone, PartialEq, Eq, Debug)]
struct Outcome {
    frames: Vec<Vec<u8>>,
    error: Option<NetstringError>,
    consumed: u64,
    buffered: usize,
}

/// Feeds `chunks` to a fresh decoder, stopping at the first error.
fn run(max_length: usize, chunks: &[&[u8]]) -> Outcome {
    let mut decoder = NetstringDecoder::with_max_length(max_length);
    let mut frames = Vec::new();
    let mut error = None;
    for chunk in chunks {
        if let Err(e) = decoder.decode(chunk, |f| frames.push(f.to_vec())) {
            error = Some(e);
            break;
        }
    }
    assert_eq!(decoder.frames(), frames.len() as u64);
    assert_eq!(decoder.error(), error);
    Outcome {
        frames,
        error,
        consumed: decoder.consumed(),
        buffered: decoder.buffered(),
    }
}

fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => prop::collection::vec(any::<u8>(), 0..16),
        1 => prop::collection::vec(any::<u8>(), 0..400),
    ]
}

fn payloads() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(payload(), 0..8)
}

fn encode_all(payloads: &[Vec<u8>]) -> Vec<u8> {
    let mut stream = Vec::new();
    for p in payloads {
        netstring::encode_into(p, &mut stream);
    }
    stream
}

/// Bytes that are often netstrings, often almost, sometimes nothing like one.
fn stream() -> impl Strategy<Value = Vec<u8>> {
    let alphabet = prop::sample::select(b"0123456789:,a".to_vec());
    prop_oneof![
        payloads().prop_map(|p| encode_all(&p)),
        (payloads(), any::<Index>(), any::<u8>()).prop_map(|(p, at, byte)| {
            let mut s = encode_all(&p);
            if !s.is_empty() {
                let i = at.index(s.len());
                s[i] = byte;
            }
            s
        }),
        (payloads(), any::<Index>()).prop_map(|(p, at)| {
            let s = encode_all(&p);
            let keep = at.index(s.len() + 1);
            s[..keep].to_vec()
        }),
        prop::collection::vec(alphabet, 0..48),
        prop::collection::vec(any::<u8>(), 0..48),
    ]
}

/// A way to break the `k`th netstring of a valid stream.
#[derive(Clone, Copy, Debug)]
enum Corruption {
    /// Replace a length digit with this non-digit, non-`:` byte.
    NonDigit(Index, u8),
    /// Put a `0` in front of the length.
    LeadingZero,
    /// Make the payload longer than the decoder's maximum by this much.
    TooLong(usize),
    /// Replace the comma with this byte.
    NoComma(u8),
}

fn corruption() -> impl Strategy<Value = Corruption> {
    let not_digit_or_colon =
        any::<u8>().prop_filter("not a length byte", |b| !b.is_ascii_digit() && *b != b':');
    prop_oneof![
        (any::<Index>(), not_digit_or_colon).prop_map(|(i, b)| Corruption::NonDigit(i, b)),
        Just(Corruption::LeadingZero),
        // One past the maximum is the boundary worth hitting often.
        prop_oneof![Just(1usize), 1usize..2000].prop_map(Corruption::TooLong),
        any::<u8>()
            .prop_filter("not a comma", |b| *b != b',')
            .prop_map(Corruption::NoComma),
    ]
}

/// The first prefix of `len`'s digits whose value exceeds `max`: the index of the digit
/// a decoder must reject.
fn first_digit_over(len: usize, max: usize) -> usize {
    let digits = len.to_string();
    (1..=digits.len())
        .find(|&n| digits[..n].parse::<usize>().unwrap() > max)
        .expect("len > max")
        - 1
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn encoded_frames_decode_to_themselves_however_cut(
        payloads in payloads(),
        cuts in cuts(),
    ) {
        let stream = encode_all(&payloads);
        // The longest payload sits exactly at the maximum, which is allowed.
        let max_length = payloads.iter().map(Vec::len).max().unwrap_or(0);
        let outcome = run(max_length, &cuts.apply(&stream));
        prop_assert_eq!(
            outcome,
            Outcome { frames: payloads, error: None, consumed: stream.len() as u64, buffered: 0 }
        );
    }

    #[test]
    fn any_cut_gives_the_frames_and_error_of_the_whole_stream(
        stream in stream(),
        cuts in cuts(),
        max_length in prop_oneof![Just(netstring::DEFAULT_MAX_LENGTH), 0usize..64],
    ) {
        let whole = run(max_length, &[&stream]);
        let split = run(max_length, &cuts.apply(&stream));
        prop_assert_eq!(split, whole);
    }

    #[test]
    fn arbitrary_bytes_never_panic_or_overreport(
        stream in stream(),
        cuts in cuts(),
        max_length in 0usize..200,
    ) {
        let chunks = cuts.apply(&stream);
        let mut decoder = NetstringDecoder::with_max_length(max_length);
        let mut framed = 0u64;
        let mut failed = None;
        for chunk in &chunks {
            let result = decoder.decode(chunk, |f| {
                framed += netstring::encoded_len(f.len()) as u64;
            });
            if let Err(e) = result {
                failed = Some(e);
                break;
            }
        }
        // Each frame accounts for its whole netstring; nothing beyond the input.
        prop_assert!(framed <= decoder.consumed());
        prop_assert!(decoder.consumed() <= stream.len() as u64);
        prop_assert!(decoder.frames() <= stream.len() as u64 / 3);
        match failed {
            None => prop_assert_eq!(decoder.consumed(), stream.len() as u64),
            Some(error) => {
                let consumed = decoder.consumed();
                let again = decoder.decode(&stream, |_| panic!("a frame after an error"));
                prop_assert_eq!(again, Err(error));
                prop_assert_eq!(decoder.consumed(), consumed);
            }
        }
    }

    #[test]
    fn corrupted_netstrings_fail_with_the_matching_error(
        payloads in prop::collection::vec(payload(), 1..6),
        victim in any::<Index>(),
        corruption in corruption(),
        cuts in cuts(),
    ) {
        let max_length = 400;
        let k = victim.index(payloads.len());
        let mut stream = encode_all(&payloads[..k]);
        let start = stream.len();
        let mut victim_payload = payloads[k].clone();
        if let Corruption::TooLong(extra) = corruption {
            victim_payload.resize(max_length + extra, b'x');
        }
        let mut frame = netstring::encode(&victim_payload);
        let digits = frame.iter().position(|&b| b == b':').unwrap();
        let (expected, offset) = match corruption {
            Corruption::NonDigit(at, found) => {
                let i = at.index(digits);
                frame[i] = found;
                (NetstringError::NonDigitLength { found }, start + i)
            }
            Corruption::LeadingZero => {
                frame.insert(0, b'0');
                (NetstringError::LeadingZero, start + 1)
            }
            Corruption::TooLong(_) => (
                NetstringError::TooLong { max: max_length },
                start + first_digit_over(victim_payload.len(), max_length),
            ),
            Corruption::NoComma(found) => {
                *frame.last_mut().unwrap() = found;
                (NetstringError::MissingComma { found }, start + frame.len() - 1)
            }
        };
        stream.extend_from_slice(&frame);
        stream.extend_from_slice(&encode_all(&payloads[k + 1..]));
        let outcome = run(max_length, &cuts.apply(&stream));
        prop_assert_eq!(&outcome.frames[..], &payloads[..k]);
        prop_assert_eq!(outcome.error, Some(expected));
        prop_assert_eq!(outcome.consumed, offset as u64);
    }

    #[test]
    fn check_and_parse_agree_with_the_decoder(
        stream in stream(),
        max_length in prop_oneof![Just(netstring::DEFAULT_MAX_LENGTH), 0usize..64],
    ) {
        let mut decoder = NetstringDecoder::with_max_length(max_length);
        let mut first = None;
        let result = decoder.decode(&stream, |f| {
            if first.is_none() {
                first = Some(f.to_vec());
            }
        });
        match netstring::check(&stream, max_length) {
            Ok(frame) => {
                let (payload, used) = netstring::parse(&stream, max_length).unwrap();
                prop_assert_eq!(used, frame.total_len());
                prop_assert_eq!(first.as_deref(), Some(payload));
            }
            Err(CheckError::Incomplete) => {
                prop_assert_eq!(first, None);
                prop_assert_eq!(result, Ok(()));
            }
            Err(CheckError::Invalid { error, offset }) => {
                prop_assert_eq!(first, None);
                prop_assert_eq!(result, Err(error));
                prop_assert_eq!(decoder.consumed(), offset as u64);
            }
        }
    }
}
