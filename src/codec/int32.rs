//! Length-prefixed strings, with the rules of Twisted's `Int32StringReceiver`.
//!
//! - Each frame is a 4-byte big-endian unsigned length, then that many payload bytes.
//!   Nothing follows the payload; every length is a valid start, `0` included.
//! - A length above the maximum, 99,999 by default ([`DEFAULT_MAX_LENGTH`], Twisted's
//!   `MAX_LENGTH`), is [`Int32Error::TooLong`], reported as soon as the 4 bytes of the
//!   prefix are in (Twisted's `lengthLimitExceeded(length)`), before any payload, so a
//!   peer cannot make the decoder wait for or hold 4 GiB.
//! - Sending refuses a payload of 2^32 bytes or more, which the prefix cannot say
//!   (Twisted's `StringTooLongError`).
//!
//! Two ways in, in the style of mini-redis's frame parser (and of
//! [`netstring`](super::netstring)): [`check`] and [`parse`] over a buffer that starts
//! at a frame boundary, telling [`CheckError::Incomplete`] from [`CheckError::Invalid`];
//! and [`Int32Decoder`] over a stream in chunks of any size, which lends a payload that
//! lies wholly inside a chunk without copying it and buffers at most the maximum. [`fuzz`]
//! is a whole-codec check for a libFuzzer target. Nothing here panics on any input.
//!
//! ```
//! use weft::codec::int32::{self, Int32Decoder};
//!
//! let stream = int32::encode(b"hello")?;
//! assert_eq!(stream, b"\0\0\0\x05hello");
//!
//! let mut decoder = Int32Decoder::new();
//! let mut payloads = Vec::new();
//! decoder.decode(&stream[..3], |p| payloads.push(p.to_vec()))?;
//! decoder.decode(&stream[3..], |p| payloads.push(p.to_vec()))?;
//! assert_eq!(payloads, [b"hello".to_vec()]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::ops::Range;

use super::decoding::{Front, Progress, Reassembly, decode_whole_and_cut, front_by_check};

/// Twisted's `IntNStringReceiver.MAX_LENGTH`.
pub const DEFAULT_MAX_LENGTH: usize = 99_999;

/// Bytes in the length prefix.
pub const PREFIX_LEN: usize = 4;

/// Why a byte stream is not a sequence of int32 strings. The decoder that met one stays
/// failed, as Twisted drops the connection in `lengthLimitExceeded`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum Int32Error {
    /// A length prefix above the maximum.
    #[error("length prefix of {length} bytes exceeds the maximum of {max} bytes")]
    TooLong {
        /// The length the prefix said.
        length: u32,
        /// The maximum in force.
        max: usize,
    },
}

/// A payload too long for a 32-bit length prefix.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
#[error("payload of {len} bytes does not fit a 32-bit length prefix")]
pub struct EncodeError {
    /// The payload's length.
    pub len: usize,
}

/// The outcome of [`check`] when the buffer does not start with a complete frame.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum CheckError {
    /// More bytes are needed: the prefix or the payload is not all there.
    #[error("incomplete length-prefixed string")]
    Incomplete,
    /// The bytes can never become a frame.
    #[error("{error} (at byte {offset})")]
    Invalid {
        /// What is wrong.
        error: Int32Error,
        /// Where the offending prefix starts in the buffer.
        offset: usize,
    },
}

/// Where a complete frame lies, measured from the start of the buffer given to
/// [`check`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Frame {
    /// Length of the payload.
    pub payload_len: usize,
}

impl Frame {
    /// The payload's bytes within the buffer.
    pub fn payload_range(&self) -> Range<usize> {
        PREFIX_LEN..PREFIX_LEN + self.payload_len
    }

    /// The whole frame's length, prefix included.
    pub fn total_len(&self) -> usize {
        PREFIX_LEN + self.payload_len
    }
}

/// The payload length a prefix says, if it is within `max_length`.
fn length(prefix: [u8; PREFIX_LEN], max_length: usize) -> Result<usize, Int32Error> {
    let length = u32::from_be_bytes(prefix);
    match usize::try_from(length) {
        Ok(len) if len <= max_length => Ok(len),
        _ => Err(Int32Error::TooLong {
            length,
            max: max_length,
        }),
    }
}

/// Whether `buf` starts with a complete frame whose payload is at most `max_length`
/// bytes, and where it lies. Looks only at the prefix and the buffer's length.
///
/// ```
/// use weft::codec::int32::{check, CheckError, Int32Error};
///
/// assert_eq!(check(b"\0\0\0\x02a", 10), Err(CheckError::Incomplete));
/// assert_eq!(check(b"\0\0\0\x02ab", 10).map(|f| f.total_len()), Ok(6));
/// assert_eq!(
///     check(b"\0\0\0\x0b", 10),
///     Err(CheckError::Invalid { error: Int32Error::TooLong { length: 11, max: 10 }, offset: 0 })
/// );
/// ```
pub fn check(buf: &[u8], max_length: usize) -> Result<Frame, CheckError> {
    let Some((prefix, rest)) = buf.split_first_chunk::<PREFIX_LEN>() else {
        return Err(CheckError::Incomplete);
    };
    let payload_len =
        length(*prefix, max_length).map_err(|error| CheckError::Invalid { error, offset: 0 })?;
    if rest.len() < payload_len {
        return Err(CheckError::Incomplete);
    }
    Ok(Frame { payload_len })
}

/// The payload of the frame at the start of `buf`, and the number of bytes the whole
/// frame takes.
pub fn parse(buf: &[u8], max_length: usize) -> Result<(&[u8], usize), CheckError> {
    let frame = check(buf, max_length)?;
    Ok((&buf[frame.payload_range()], frame.total_len()))
}

/// Appends the frame of `payload` to `out` (Twisted's `sendString`).
///
/// # Errors
/// [`EncodeError`] for a payload of 2^32 bytes or more; `out` is then unchanged.
pub fn encode_into(payload: &[u8], out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let len = u32::try_from(payload.len()).map_err(|_| EncodeError { len: payload.len() })?;
    out.reserve(PREFIX_LEN + payload.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(payload);
    Ok(())
}

/// The frame of `payload`.
///
/// # Errors
/// As [`encode_into`].
pub fn encode(payload: &[u8]) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::new();
    encode_into(payload, &mut out)?;
    Ok(out)
}

/// Where the decoder is in the stream.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    /// `have` bytes of a prefix seen, kept in `prefix` (not in the payload buffer).
    Prefix {
        prefix: [u8; PREFIX_LEN],
        have: usize,
    },
    /// In a payload of `len` bytes; the buffer holds the part seen so far.
    Payload { len: usize },
}

const START: State = State::Prefix {
    prefix: [0; PREFIX_LEN],
    have: 0,
};

/// An incremental decoder of int32-prefixed strings (Twisted's `Int32StringReceiver`
/// without the protocol around it).
///
/// Feed it the stream in chunks of any size with [`decode`](Self::decode); it calls
/// back once per complete payload, in order. A payload that lies wholly inside the
/// chunk is lent straight from it; one that straddles chunks is gathered in a buffer of
/// at most the maximum length (a partial prefix is kept apart, in 4 bytes).
///
/// After an error the decoder is failed for good: every later `decode` returns the same
/// error and looks at nothing. [`consumed`](Self::consumed) then tells where in the
/// stream the offending prefix started.
///
/// ```
/// use weft::codec::int32::{Int32Decoder, Int32Error};
///
/// let mut decoder = Int32Decoder::with_max_length(4);
/// let result = decoder.decode(b"\0\0\0\x01a\0\0\0\x05", |_| {});
/// assert_eq!(result, Err(Int32Error::TooLong { length: 5, max: 4 }));
/// assert_eq!((decoder.frames(), decoder.consumed()), (1, 5));
/// ```
#[derive(Clone, Debug)]
pub struct Int32Decoder {
    machine: Machine,
    progress: Progress<Int32Error>,
}

/// The decoder's state machine: a frame that straddles chunks, gathered.
#[derive(Clone, Debug)]
struct Machine {
    max_length: usize,
    state: State,
    buf: Vec<u8>,
}

impl Default for Int32Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Int32Decoder {
    /// A decoder with Twisted's maximum payload length, 99,999 bytes.
    pub fn new() -> Self {
        Self::with_max_length(DEFAULT_MAX_LENGTH)
    }

    /// A decoder that rejects payloads longer than `max_length` bytes.
    pub fn with_max_length(max_length: usize) -> Self {
        Self {
            machine: Machine {
                max_length,
                state: START,
                buf: Vec::new(),
            },
            progress: Progress::new(),
        }
    }

    /// The largest payload accepted.
    pub fn max_length(&self) -> usize {
        self.machine.max_length
    }

    /// Bytes of the stream accepted so far: all bytes given, until an error; after one,
    /// the stream offset where the offending prefix started.
    pub fn consumed(&self) -> u64 {
        self.progress.consumed()
    }

    /// Payloads delivered so far.
    pub fn frames(&self) -> u64 {
        self.progress.frames()
    }

    /// Bytes held for a frame that is not complete yet, prefix bytes included.
    pub fn buffered(&self) -> usize {
        self.machine.buffered()
    }

    /// Whether the stream so far ends exactly at a frame boundary.
    pub fn is_at_boundary(&self) -> bool {
        self.machine.state == START && self.progress.error().is_none()
    }

    /// The error the decoder failed with, if it has.
    pub fn error(&self) -> Option<Int32Error> {
        self.progress.error()
    }

    /// Decodes the next chunk of the stream, calling `on_frame` with each payload
    /// completed by it, in order. Payloads before an error in the same chunk are
    /// delivered before the error is returned.
    pub fn decode(&mut self, chunk: &[u8], on_frame: impl FnMut(&[u8])) -> Result<(), Int32Error> {
        self.progress.decode(&mut self.machine, chunk, on_frame)
    }
}

impl Reassembly for Machine {
    type Error = Int32Error;

    fn between_frames(&self) -> bool {
        self.state == START
    }

    fn front(&self, rest: &[u8]) -> Front<Self::Error> {
        front_by_check!(check(rest, self.max_length), CheckError, payload_range)
    }

    fn gather(
        &mut self,
        rest: &[u8],
        on_frame: &mut impl FnMut(&[u8]),
    ) -> Result<usize, (Int32Error, i64)> {
        match self.state {
            State::Prefix { prefix, have } => self.take_prefix(prefix, have, rest, on_frame),
            State::Payload { len } => {
                let take = (len - self.buf.len()).min(rest.len());
                self.buf.extend_from_slice(&rest[..take]);
                if self.buf.len() == len {
                    on_frame(&self.buf);
                    self.buf.clear();
                    self.state = START;
                }
                Ok(take)
            }
        }
    }

    fn discard(&mut self) {
        self.state = START;
        self.buf = Vec::new();
    }

    fn buffered(&self) -> usize {
        match self.state {
            State::Prefix { have, .. } => have,
            State::Payload { .. } => PREFIX_LEN + self.buf.len(),
        }
    }
}

impl Machine {
    /// Reads prefix bytes from the front of `rest`; once all four are in, checks the
    /// length and moves on to the payload (or delivers an empty one at once, so it does
    /// not wait for the next chunk). A length past the maximum counts from the prefix's
    /// first byte, `have` bytes before `rest`.
    fn take_prefix(
        &mut self,
        mut prefix: [u8; PREFIX_LEN],
        have: usize,
        rest: &[u8],
        on_frame: &mut impl FnMut(&[u8]),
    ) -> Result<usize, (Int32Error, i64)> {
        let take = (PREFIX_LEN - have).min(rest.len());
        prefix[have..have + take].copy_from_slice(&rest[..take]);
        if have + take < PREFIX_LEN {
            self.state = State::Prefix {
                prefix,
                have: have + take,
            };
            return Ok(take);
        }
        let len = length(prefix, self.max_length).map_err(|e| (e, -(have as i64)))?;
        self.buf.clear();
        if len == 0 {
            on_frame(&[]);
            self.state = START;
        } else {
            self.state = State::Payload { len };
        }
        Ok(take)
    }
}

/// A libFuzzer target's body: `fuzz_target!(|data: &[u8]| weft::codec::int32::fuzz(data));`.
///
/// The first byte picks the maximum (0 to 255) and the second a read size (1 to 16); the
/// rest is the stream. It decodes the stream whole and in those reads, and returns the
/// payloads and the error.
///
/// # Panics
/// Only if the codec breaks one of its own rules: the two decodings differ, a payload
/// is longer than the maximum, the buffer passes its bound, [`check`] disagrees with the
/// decoder, or the payloads do not encode back to the bytes they came from.
pub fn fuzz(data: &[u8]) -> (Vec<Vec<u8>>, Option<Int32Error>) {
    let (settings, stream) = data.split_at(data.len().min(2));
    let setting = |i: usize| settings.get(i).copied().unwrap_or(0);
    let max_length = usize::from(setting(0));
    let read = usize::from(setting(1) % 16) + 1;

    let decoder = Int32Decoder::with_max_length(max_length);
    let (payloads, error, consumed) =
        decode_whole_and_cut(&decoder.machine, stream, read, PREFIX_LEN + max_length);

    let mut again = Vec::new();
    for payload in &payloads {
        assert!(payload.len() <= max_length, "payload past the maximum");
        encode_into(payload, &mut again).expect("a decoded payload fits a prefix");
    }
    assert!(stream.starts_with(&again), "re-encoding changed the bytes");
    assert!(again.len() as u64 <= consumed);
    match parse(stream, max_length) {
        Ok((first, _)) => assert_eq!(Some(first), payloads.first().map(Vec::as_slice)),
        Err(CheckError::Incomplete) => assert!(payloads.is_empty() && error.is_none()),
        Err(CheckError::Invalid { error: e, offset }) => {
            assert!(payloads.is_empty() && error == Some(e) && offset == 0);
        }
    }
    (payloads, error)
}

#[cfg(test)]
mod tests;
