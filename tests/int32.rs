//! Property tests of the int32 length-prefixed codec: encoding round-trips, chunking
//! never changes the outcome, accepted bytes re-encode to themselves, the buffer stays
//! within its bound, and no input panics.
//!
//! Case budget: six properties at `CASES` = 2,048 cases each.

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::FileFailurePersistence;

use weft::codec::int32::{self, CheckError, Int32Decoder, Int32Error, PREFIX_LEN};
use weft::testing::strategies::cuts;

const CASES: u32 = 2048;

fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/int32.txt",
        ))),
        ..ProptestConfig::with_cases(CASES)
    }
}

/// What a decoder made of a stream.
#[derive(Clone, PartialEq, Eq, Debug)]
struct Outcome {
    payloads: Vec<Vec<u8>>,
    error: Option<Int32Error>,
    consumed: u64,
    buffered: usize,
}

/// Feeds `chunks` to a fresh decoder, stopping at the first error, and checks the
/// buffer bound after every chunk.
fn run(max_length: usize, chunks: &[&[u8]]) -> Outcome {
    let mut decoder = Int32Decoder::with_max_length(max_length);
    let mut payloads = Vec::new();
    let mut error = None;
    for chunk in chunks {
        if let Err(e) = decoder.decode(chunk, |p| payloads.push(p.to_vec())) {
            error = Some(e);
            break;
        }
        assert!(decoder.buffered() < PREFIX_LEN + max_length.max(1));
    }
    assert_eq!(decoder.frames(), payloads.len() as u64);
    assert_eq!(decoder.error(), error);
    Outcome {
        payloads,
        error,
        consumed: decoder.consumed(),
        buffered: decoder.buffered(),
    }
}

fn payloads() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let payload = prop_oneof![
        4 => prop::collection::vec(any::<u8>(), 0..16),
        1 => prop::collection::vec(any::<u8>(), 0..400),
    ];
    prop::collection::vec(payload, 0..8)
}

fn encode_all(payloads: &[Vec<u8>]) -> Vec<u8> {
    let mut stream = Vec::new();
    for p in payloads {
        int32::encode_into(p, &mut stream).expect("small payloads fit");
    }
    stream
}

/// Bytes that are often frames, often almost, sometimes nothing like one: small
/// prefixes are common among zero bytes.
fn stream() -> impl Strategy<Value = Vec<u8>> {
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
        prop::collection::vec(prop::sample::select(vec![0u8, 0, 0, 1, 2, 3, 0xff]), 0..48),
        prop::collection::vec(any::<u8>(), 0..48),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn encoded_frames_decode_to_themselves_however_cut(
        payloads in payloads(),
        cuts in cuts(),
    ) {
        let stream = encode_all(&payloads);
        let max_length = payloads.iter().map(Vec::len).max().unwrap_or(0);
        let outcome = run(max_length, &cuts.apply(&stream));
        prop_assert_eq!(
            outcome,
            Outcome { payloads, error: None, consumed: stream.len() as u64, buffered: 0 }
        );
    }

    #[test]
    fn any_cut_gives_the_frames_and_error_of_the_whole_stream(
        stream in stream(),
        cuts in cuts(),
        max_length in prop_oneof![Just(int32::DEFAULT_MAX_LENGTH), 0usize..64],
    ) {
        prop_assert_eq!(run(max_length, &cuts.apply(&stream)), run(max_length, &[&stream]));
    }

    #[test]
    fn accepted_bytes_re_encode_to_themselves(
        stream in stream(),
        cuts in cuts(),
        max_length in 0usize..64,
    ) {
        let outcome = run(max_length, &cuts.apply(&stream));
        let again = encode_all(&outcome.payloads);
        prop_assert!(stream.starts_with(&again));
        match outcome.error {
            None => {
                prop_assert_eq!(outcome.buffered, stream.len() - again.len());
                prop_assert_eq!(outcome.consumed, stream.len() as u64);
            }
            // The bad prefix starts right after the last frame delivered.
            Some(Int32Error::TooLong { length, max }) => {
                prop_assert_eq!(outcome.consumed, again.len() as u64);
                prop_assert_eq!(max, max_length);
                let prefix: [u8; 4] = stream[again.len()..again.len() + 4].try_into().unwrap();
                prop_assert_eq!(u32::from_be_bytes(prefix), length);
                prop_assert!(length as usize > max_length);
            }
        }
    }

    #[test]
    fn an_oversized_prefix_fails_before_its_payload_arrives(
        payloads in payloads(),
        victim in any::<Index>(),
        length in prop_oneof![Just(401u32), 401u32..=u32::MAX],
        cuts in cuts(),
    ) {
        let max_length = 400;
        let k = victim.index(payloads.len() + 1);
        let mut stream = encode_all(&payloads[..k]);
        let start = stream.len();
        // Only the prefix: the decoder must not wait for the payload it announces.
        stream.extend_from_slice(&length.to_be_bytes());
        let outcome = run(max_length, &cuts.apply(&stream));
        prop_assert_eq!(&outcome.payloads[..], &payloads[..k]);
        prop_assert_eq!(outcome.error, Some(Int32Error::TooLong { length, max: max_length }));
        prop_assert_eq!(outcome.consumed, start as u64);
    }

    #[test]
    fn check_and_parse_agree_with_the_decoder(
        stream in stream(),
        max_length in prop_oneof![Just(int32::DEFAULT_MAX_LENGTH), 0usize..64],
    ) {
        let outcome = run(max_length, &[&stream]);
        match int32::check(&stream, max_length) {
            Ok(frame) => {
                let (first, used) = int32::parse(&stream, max_length).unwrap();
                prop_assert_eq!(used, frame.total_len());
                prop_assert_eq!(outcome.payloads.first().map(Vec::as_slice), Some(first));
            }
            Err(CheckError::Incomplete) => {
                prop_assert!(outcome.payloads.is_empty());
                prop_assert_eq!(outcome.error, None);
            }
            Err(CheckError::Invalid { error, offset }) => {
                prop_assert!(outcome.payloads.is_empty());
                prop_assert_eq!(outcome.error, Some(error));
                prop_assert_eq!(offset, 0);
            }
        }
    }

    #[test]
    fn the_fuzz_entry_point_holds_for_any_bytes(data in prop::collection::vec(any::<u8>(), 0..96)) {
        // It asserts the codec's rules itself; here, that it returns rather than panics.
        let (payloads, _) = int32::fuzz(&data);
        prop_assert!(payloads.len() * PREFIX_LEN <= data.len());
    }
}
