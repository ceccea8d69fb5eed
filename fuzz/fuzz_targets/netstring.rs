//! The netstring decoder: the same frames, error and offset whatever the cuts; the
//! buffer never holds more than the maximum; frames re-encode to the bytes they came
//! from; `decode(encode(x)) == x`; `check` agrees with the decoder; errors are typed,
//! sticky and readable.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weft::codec::netstring::{self, CheckError, NetstringDecoder, NetstringError};
use weft_fuzz::{CutStream, assert_user_facing};

/// The maxima tried: the boundary cases and Twisted's.
const MAXIMA: [usize; 6] = [0, 1, 9, 10, 100, netstring::DEFAULT_MAX_LENGTH];

type Decoded = (Vec<Vec<u8>>, Option<NetstringError>, u64);

fn decode(max: usize, chunks: &[&[u8]]) -> Decoded {
    let mut decoder = NetstringDecoder::with_max_length(max);
    let mut frames = Vec::new();
    let mut error = None;
    for chunk in chunks {
        let result = decoder.decode(chunk, |f| frames.push(f.to_vec()));
        assert!(decoder.buffered() <= max, "buffered past the maximum");
        if let Err(e) = result {
            error = Some(e);
            // Failed for good: the same error, nothing more delivered or consumed.
            let consumed = decoder.consumed();
            let again = decoder.decode(b"0:,", |_| panic!("a frame after an error"));
            assert_eq!(again, Err(e), "the error is not sticky");
            assert_eq!(decoder.consumed(), consumed);
            assert_eq!(decoder.error(), Some(e));
            break;
        }
    }
    assert_eq!(decoder.frames(), frames.len() as u64);
    (frames, error, decoder.consumed())
}

fuzz_target!(|data: &[u8]| {
    let Some((&setting, rest)) = data.split_first() else {
        return;
    };
    let max = MAXIMA[usize::from(setting) % MAXIMA.len()];
    let input = CutStream::new(rest);
    let stream = input.stream;

    let whole = decode(max, &[stream]);
    let cut = decode(max, &input.chunks());
    assert_eq!(whole, cut, "a different cut changed the outcome");
    let bytewise: Vec<&[u8]> = stream.chunks(1).collect();
    assert_eq!(
        whole,
        decode(max, &bytewise),
        "byte-at-a-time reads changed the outcome"
    );
    let (frames, error, consumed) = whole;

    // Accepted bytes re-encode to themselves.
    let mut again = Vec::new();
    for frame in &frames {
        assert!(frame.len() <= max, "a frame past the maximum");
        netstring::encode_into(frame, &mut again);
    }
    assert!(stream.starts_with(&again), "re-encoding changed the bytes");
    match error {
        None => assert_eq!(consumed, stream.len() as u64),
        Some(e) => {
            assert!(
                consumed < stream.len() as u64,
                "the offending byte is in the stream"
            );
            assert!(again.len() as u64 <= consumed);
            assert_user_facing(&e.to_string());
        }
    }

    // `check` and `parse` agree with the decoder about the first frame.
    match netstring::parse(stream, max) {
        Ok((payload, used)) => {
            assert_eq!(Some(payload), frames.first().map(Vec::as_slice));
            assert_eq!(used, netstring::encoded_len(payload.len()));
        }
        Err(CheckError::Incomplete) => assert!(frames.is_empty() && error.is_none()),
        Err(CheckError::Invalid { error: e, offset }) => {
            assert!(frames.is_empty());
            assert_eq!(error, Some(e));
            assert_eq!(offset as u64, consumed);
            assert_user_facing(&CheckError::Invalid { error: e, offset }.to_string());
        }
    }

    // decode(encode(x)) == x, for the stream as a payload, whole and cut.
    let encoded = netstring::encode(stream);
    assert_eq!(encoded.len(), netstring::encoded_len(stream.len()));
    let mut parts = Vec::new();
    let (a, b) = stream.split_at(stream.len() / 2);
    netstring::encode_parts_into(&[a, b"", b], &mut parts);
    assert_eq!(parts, encoded, "encoding in parts differs");
    let roomy = stream.len().max(max);
    let expected: Decoded = (vec![stream.to_vec()], None, encoded.len() as u64);
    let encoded_cuts = CutStream {
        cuts: input.cuts,
        stream: &encoded,
    };
    assert_eq!(decode(roomy, &encoded_cuts.chunks()), expected);
    if stream.len() > max {
        let (frames, error, _) = decode(max, &[&encoded]);
        assert!(frames.is_empty());
        assert_eq!(error, Some(NetstringError::TooLong { max }));
    }
});
