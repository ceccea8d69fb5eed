//! Property tests of the line codec: encoding round-trips, chunking never changes the
//! outcome, accepted bytes re-encode to themselves, the buffer stays within its bound,
//! and no input panics.
//!
//! Case budget: six properties at `CASES` = 2,048 cases each.

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::FileFailurePersistence;

use weft::codec::line::{self, CheckError, LineDecoder, LineError, LineFormat};
use weft::testing::strategies::cuts;

const CASES: u32 = 2048;

fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/line.txt",
        ))),
        ..ProptestConfig::with_cases(CASES)
    }
}

/// Delimiters worth testing: Twisted's default, one byte, self-overlapping ones.
fn delimiter() -> impl Strategy<Value = &'static [u8]> {
    prop::sample::select(vec![&b"\r\n"[..], b"\n", b"aa", b"aba", b"\r\n\r\n"])
}

fn format(max_length: usize, delimiter: &[u8]) -> LineFormat {
    LineFormat::new()
        .with_delimiter(delimiter)
        .expect("not empty")
        .with_max_length(max_length)
}

/// What a decoder made of a stream.
#[derive(Clone, PartialEq, Eq, Debug)]
struct Outcome {
    lines: Vec<Vec<u8>>,
    error: Option<LineError>,
    consumed: u64,
    buffered: usize,
}

/// Feeds `chunks` to a fresh decoder, stopping at the first error, and checks the
/// buffer bound after every chunk.
fn run(format: &LineFormat, chunks: &[&[u8]]) -> Outcome {
    let mut decoder = LineDecoder::new(format.clone());
    let mut lines = Vec::new();
    let mut error = None;
    for chunk in chunks {
        if let Err(e) = decoder.decode(chunk, |l| lines.push(l.to_vec())) {
            error = Some(e);
            break;
        }
        assert!(
            decoder.buffered() < format.overflow_len(),
            "buffered {} with a bound of {}",
            decoder.buffered(),
            format.overflow_len() - 1
        );
    }
    assert_eq!(decoder.frames(), lines.len() as u64);
    assert_eq!(decoder.error(), error);
    Outcome {
        lines,
        error,
        consumed: decoder.consumed(),
        buffered: decoder.buffered(),
    }
}

/// Bytes rich in delimiter bytes, so lines, partial delimiters and overlaps are common.
fn stream() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(prop::sample::select(b"\r\nab".to_vec()), 0..64),
        prop::collection::vec(any::<u8>(), 0..64),
    ]
}

/// Lines that a format can carry: the delimiter's bytes removed, so none contains it.
fn lines_for(delimiter: &[u8]) -> impl Strategy<Value = Vec<Vec<u8>>> {
    let delimiter = delimiter.to_vec();
    let line = prop::collection::vec(prop::sample::select(b"\r\nabxy".to_vec()), 0..24).prop_map(
        move |mut l| {
            l.retain(|b| !delimiter.contains(b));
            l
        },
    );
    prop::collection::vec(line, 0..8)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn encoded_lines_decode_to_themselves_however_cut(
        (delimiter, lines) in delimiter().prop_flat_map(|d| (Just(d), lines_for(d))),
        cuts in cuts(),
    ) {
        // The longest line sits exactly at the maximum, which is allowed.
        let max_length = lines.iter().map(Vec::len).max().unwrap_or(0);
        let format = format(max_length, delimiter);
        let mut stream = Vec::new();
        for l in &lines {
            format.encode_into(l, &mut stream).expect("lines without the delimiter encode");
        }
        let outcome = run(&format, &cuts.apply(&stream));
        prop_assert_eq!(
            outcome,
            Outcome { lines, error: None, consumed: stream.len() as u64, buffered: 0 }
        );
    }

    #[test]
    fn any_cut_gives_the_lines_and_error_of_the_whole_stream(
        stream in stream(),
        cuts in cuts(),
        delimiter in delimiter(),
        max_length in prop_oneof![Just(line::DEFAULT_MAX_LENGTH), 0usize..16],
    ) {
        let format = format(max_length, delimiter);
        prop_assert_eq!(run(&format, &cuts.apply(&stream)), run(&format, &[&stream]));
    }

    #[test]
    fn accepted_bytes_re_encode_to_themselves(
        stream in stream(),
        cuts in cuts(),
        delimiter in delimiter(),
        max_length in 0usize..16,
    ) {
        let format = format(max_length, delimiter);
        let outcome = run(&format, &cuts.apply(&stream));
        let mut again = Vec::new();
        for l in &outcome.lines {
            prop_assert!(l.len() <= max_length);
            format.encode_into(l, &mut again).expect("a decoded line encodes");
        }
        match outcome.error {
            // Lines, then the partial line the decoder still holds: the whole stream.
            None => {
                prop_assert!(stream.starts_with(&again));
                prop_assert_eq!(outcome.buffered, stream.len() - again.len());
                prop_assert_eq!(outcome.consumed, stream.len() as u64);
            }
            // The long line starts right after the last line delivered.
            Some(_) => {
                prop_assert_eq!(&stream[..again.len()], &again[..]);
                prop_assert_eq!(outcome.consumed, again.len() as u64);
            }
        }
    }

    #[test]
    fn a_long_line_fails_with_too_long_at_its_start(
        (delimiter, lines) in delimiter().prop_flat_map(|d| (Just(d), lines_for(d))),
        victim in any::<Index>(),
        extra in prop_oneof![Just(1usize), 1usize..40],
        terminated in any::<bool>(),
        cuts in cuts(),
    ) {
        let max_length = 8;
        let format = format(max_length, delimiter);
        let lines: Vec<Vec<u8>> = lines.into_iter().map(|mut l| { l.truncate(max_length); l }).collect();
        let k = victim.index(lines.len() + 1);
        let mut stream = Vec::new();
        for l in &lines[..k] {
            format.encode_into(l, &mut stream).unwrap();
        }
        let start = stream.len();
        // `x` is in no delimiter, so the long line holds none.
        stream.resize(start + max_length + extra, b'x');
        // Unterminated, it must be long enough that no delimiter could still save it.
        if terminated {
            stream.extend_from_slice(delimiter);
        } else {
            stream.resize(start + format.overflow_len().max(max_length + extra), b'x');
        }
        let outcome = run(&format, &cuts.apply(&stream));
        prop_assert_eq!(&outcome.lines[..], &lines[..k]);
        prop_assert_eq!(outcome.error, Some(LineError::TooLong { max: max_length }));
        prop_assert_eq!(outcome.consumed, start as u64);
    }

    #[test]
    fn check_and_parse_agree_with_the_decoder(
        stream in stream(),
        delimiter in delimiter(),
        max_length in 0usize..16,
    ) {
        let format = format(max_length, delimiter);
        let outcome = run(&format, &[&stream]);
        match format.check(&stream) {
            Ok(frame) => {
                let (first, used) = format.parse(&stream).unwrap();
                prop_assert_eq!(used, frame.total_len());
                prop_assert_eq!(outcome.lines.first().map(Vec::as_slice), Some(first));
            }
            Err(CheckError::Incomplete) => {
                prop_assert!(outcome.lines.is_empty());
                prop_assert_eq!(outcome.error, None);
            }
            Err(CheckError::Invalid { error, offset }) => {
                prop_assert!(outcome.lines.is_empty());
                prop_assert_eq!(outcome.error, Some(error));
                prop_assert_eq!(offset, 0);
            }
        }
    }

    #[test]
    fn the_fuzz_entry_point_holds_for_any_bytes(data in prop::collection::vec(any::<u8>(), 0..96)) {
        // It asserts the codec's rules itself; here, that it returns rather than panics.
        let (lines, _) = line::fuzz(&data);
        prop_assert!(lines.len() <= data.len());
    }
}
