//! `weft bench line` and `weft bench int32`: the line and int32 decoders over a seeded
//! stream in seeded random-sized reads, as `weft bench netstring` does for netstrings.
#![allow(clippy::disallowed_methods)]

use std::time::Instant;

use clap::Args;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::bench::{Measured, report, sorted};
use crate::codec::int32::{self, Int32Decoder};
use crate::codec::line::{self, LineDecoder, LineFormat};

/// The stream a codec benchmark decodes.
#[derive(Debug, Args)]
pub(crate) struct StreamArgs {
    /// Size of the stream.
    #[arg(long, default_value_t = 64 << 20)]
    bytes: usize,
    /// Make every frame this long; by default a seeded mix of large frames (one in
    /// eight: 16 KiB lines, the default maximum; 64 KiB int32 payloads) and small ones
    /// (0 to 512 bytes).
    #[arg(long)]
    frame_size: Option<usize>,
    /// Largest read; read sizes are uniform from 1 to this.
    #[arg(long, default_value_t = 128 << 10)]
    max_read: usize,
    /// Seed of the frame sizes and read sizes.
    #[arg(long, default_value_t = 0x5eed)]
    seed: u64,
}

/// Which codec.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Codec {
    Line,
    Int32,
}

/// A benchmark's input, built before the clock starts.
pub(super) struct CodecInput {
    codec: Codec,
    stream: Vec<u8>,
    /// Where each read ends.
    read_ends: Vec<usize>,
    frames: u64,
    payload_bytes: u64,
    max_length: usize,
}

impl CodecInput {
    const LARGE_LINE: usize = line::DEFAULT_MAX_LENGTH;
    const LARGE_PAYLOAD: usize = 64 << 10;

    pub(super) fn new(codec: Codec, args: &StreamArgs) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
        let large = match codec {
            Codec::Line => Self::LARGE_LINE,
            Codec::Int32 => Self::LARGE_PAYLOAD,
        };
        let format = LineFormat::new().with_max_length(usize::MAX);
        let mut stream = Vec::with_capacity(args.bytes + large + 8);
        let (mut frames, mut payload_bytes, mut max_length) = (0u64, 0u64, 0usize);
        let mut payload = Vec::new();
        while stream.len() < args.bytes {
            let len = args.frame_size.unwrap_or_else(|| {
                if rng.random_ratio(1, 8) {
                    large
                } else {
                    rng.random_range(0..=512)
                }
            });
            // Letters: never a delimiter, and the line decoder must look at each one.
            payload.clear();
            payload.resize(len, b'a' + (frames % 26) as u8);
            match codec {
                Codec::Line => format.encode_into(&payload, &mut stream).expect("letters"),
                Codec::Int32 => int32::encode_into(&payload, &mut stream).expect("small"),
            }
            frames += 1;
            payload_bytes += len as u64;
            max_length = max_length.max(len);
        }
        let mut read_ends = Vec::new();
        let mut end = 0;
        while end < stream.len() {
            end = (end + rng.random_range(1..=args.max_read.max(1))).min(stream.len());
            read_ends.push(end);
        }
        Self {
            codec,
            stream,
            read_ends,
            frames,
            payload_bytes,
            max_length,
        }
    }

    /// One timed decode of the whole stream.
    pub(super) fn decode(&self) -> Measured {
        let (mut frames, mut payload_bytes) = (0u64, 0u64);
        let mut count = |frame: &[u8]| {
            frames += 1;
            payload_bytes += std::hint::black_box(frame).len() as u64;
        };
        let start = Instant::now();
        match self.codec {
            Codec::Line => {
                let format = LineFormat::new().with_max_length(self.max_length);
                let mut decoder = LineDecoder::new(format);
                self.each_read(|read| decoder.decode(read, &mut count).is_ok());
            }
            Codec::Int32 => {
                let mut decoder = Int32Decoder::with_max_length(self.max_length);
                self.each_read(|read| decoder.decode(read, &mut count).is_ok());
            }
        }
        let elapsed = start.elapsed();
        assert_eq!(
            (frames, payload_bytes),
            (self.frames, self.payload_bytes),
            "every frame was decoded"
        );
        Measured::new(self.stream.len() as u64, elapsed)
    }

    fn each_read(&self, mut decode: impl FnMut(&[u8]) -> bool) {
        let mut from = 0;
        for &end in &self.read_ends {
            assert!(
                decode(&self.stream[from..end]),
                "the benchmark stream is valid"
            );
            from = end;
        }
    }
}

/// Runs the benchmark `runs` times and prints its `key=value` line.
pub(super) fn run(codec: Codec, args: &StreamArgs, runs: usize) {
    let input = CodecInput::new(codec, args);
    let rates = sorted((0..runs).map(|_| input.decode()).collect());
    let sizes = args
        .frame_size
        .map_or("mixed".to_owned(), |n| n.to_string());
    report(
        &format!(
            "bytes={} frames={} frame_size={sizes} max_read={}",
            input.stream.len(),
            input.frames,
            args.max_read
        ),
        "bytes_per_s",
        &rates,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(frame_size: Option<usize>, max_read: usize) -> StreamArgs {
        StreamArgs {
            bytes: 1 << 20,
            frame_size,
            max_read,
            seed: 7,
        }
    }

    #[test]
    fn codec_bench_inputs_are_seeded_and_decode_completely() {
        // Each codec's large frame, and what framing adds to a payload.
        for (codec, large, overhead) in [
            (Codec::Line, CodecInput::LARGE_LINE, 2),
            (Codec::Int32, CodecInput::LARGE_PAYLOAD, 4),
        ] {
            let input = CodecInput::new(codec, &args(None, 4096));
            assert!(input.stream.len() >= 1 << 20);
            assert_eq!(input.read_ends.last(), Some(&input.stream.len()));
            assert_eq!(input.max_length, large, "the mix has large frames");
            let again = CodecInput::new(codec, &args(None, 4096));
            assert_eq!(
                (&again.stream, &again.read_ends),
                (&input.stream, &input.read_ends)
            );
            // Asserts internally that every frame and payload byte came out.
            input.decode();
            let fixed = CodecInput::new(codec, &args(Some(1000), 1 << 17));
            assert_eq!(fixed.frames, (1u64 << 20).div_ceil(1000 + overhead));
            fixed.decode();
        }
    }
}
