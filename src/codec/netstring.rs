//! Netstrings: `<decimal length>:<payload>,` (D. J. Bernstein's format, with the rules
//! of Twisted's `NetstringReceiver`).
//!
//! - The length is ASCII decimal with no leading zeros: `0:,` is the empty payload and
//!   `01:a,` is an error.
//! - The length may not exceed a maximum, 99,999 by default ([`DEFAULT_MAX_LENGTH`]).
//!   The error is reported on the digit that takes the length past the maximum, so a
//!   peer cannot make the decoder wait for a `:` that never comes.
//! - The payload must be followed by `,`.
//!
//! Two ways in, in the style of mini-redis's frame parser:
//!
//! - [`check`] looks at a buffer that starts at a frame boundary and tells a complete
//!   frame from one that needs more bytes ([`CheckError::Incomplete`]) and from bytes
//!   that can never become a frame ([`CheckError::Invalid`]). It allocates nothing.
//!   [`parse`] is `check` plus slicing out the payload.
//! - [`NetstringDecoder`] takes a stream in chunks of any size. A frame that lies wholly
//!   inside one chunk is handed to the caller as a slice of that chunk, without a copy;
//!   only a frame that straddles chunks is gathered in the decoder's buffer. Splitting a
//!   stream differently never changes the frames or the error.
//!
//! Nothing here panics on any input.

use std::ops::Range;

use super::decoding::{Front, Progress, Reassembly, front_by_check};

/// Twisted's `NetstringReceiver.MAX_LENGTH`.
pub const DEFAULT_MAX_LENGTH: usize = 99_999;

/// Why a byte stream is not a sequence of netstrings. The decoder that met one stays
/// failed: the stream has lost its framing and cannot be resynchronised.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum NetstringError {
    /// A byte other than a digit where the length (or its `:`) should be. An empty
    /// length (`:` first) is one of these.
    #[error("non-digit byte '{}' in netstring length", .found.escape_ascii())]
    NonDigitLength {
        /// The offending byte.
        found: u8,
    },
    /// A length of more than one digit that starts with `0`.
    #[error("netstring length has a leading zero")]
    LeadingZero,
    /// The length's digits already exceed the maximum.
    #[error("netstring length exceeds the maximum of {max} bytes")]
    TooLong {
        /// The maximum in force.
        max: usize,
    },
    /// The byte after the payload is not `,`.
    #[error("netstring payload is followed by '{}', not ','", .found.escape_ascii())]
    MissingComma {
        /// The byte found instead.
        found: u8,
    },
}

/// The outcome of [`check`] when the buffer does not start with a complete netstring.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum CheckError {
    /// Everything so far is a valid start of a netstring; more bytes are needed.
    #[error("incomplete netstring")]
    Incomplete,
    /// The bytes can never become a netstring.
    #[error("{error} (at byte {offset})")]
    Invalid {
        /// What is wrong.
        error: NetstringError,
        /// Index of the offending byte in the buffer.
        offset: usize,
    },
}

/// Where a complete netstring lies, measured from the start of the buffer given to
/// [`check`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Frame {
    /// Length of `<digits>:`.
    pub header_len: usize,
    /// Length of the payload.
    pub payload_len: usize,
}

impl Frame {
    /// The payload's bytes within the buffer.
    pub fn payload_range(&self) -> Range<usize> {
        self.header_len..self.header_len + self.payload_len
    }

    /// The whole netstring's length, header and trailing comma included.
    pub fn total_len(&self) -> usize {
        self.header_len + self.payload_len + 1
    }
}

/// Progress through a length prefix: `None` before the first digit, then the value of
/// the digits so far. Small enough to carry across chunks instead of buffering digits.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct LengthScan(Option<usize>);

impl LengthScan {
    const START: Self = Self(None);

    /// Reads length bytes from the front of `bytes`. Returns how many bytes were used
    /// and, if the `:` was among them, the length. On an error the count is the index of
    /// the offending byte.
    #[inline]
    fn feed(&mut self, bytes: &[u8], max: usize) -> (usize, Result<Option<usize>, NetstringError>) {
        for (i, &byte) in bytes.iter().enumerate() {
            match (byte, self.0) {
                (b'0'..=b'9', Some(0)) => return (i, Err(NetstringError::LeadingZero)),
                (b'0'..=b'9', value) => {
                    let digit = usize::from(byte - b'0');
                    let next = value
                        .unwrap_or(0)
                        .checked_mul(10)
                        .and_then(|v| v.checked_add(digit));
                    match next {
                        Some(next) if next <= max => self.0 = Some(next),
                        _ => return (i, Err(NetstringError::TooLong { max })),
                    }
                }
                (b':', Some(len)) => return (i + 1, Ok(Some(len))),
                (found, _) => return (i, Err(NetstringError::NonDigitLength { found })),
            }
        }
        (bytes.len(), Ok(None))
    }
}

/// Whether `buf` starts with a complete netstring whose payload is at most `max_length`
/// bytes, and where it lies. Looks only at the header and the byte after the payload.
pub fn check(buf: &[u8], max_length: usize) -> Result<Frame, CheckError> {
    let mut scan = LengthScan::START;
    let (header_len, payload_len) = match scan.feed(buf, max_length) {
        (used, Ok(Some(len))) => (used, len),
        (_, Ok(None)) => return Err(CheckError::Incomplete),
        (offset, Err(error)) => return Err(CheckError::Invalid { error, offset }),
    };
    let frame = Frame {
        header_len,
        payload_len,
    };
    let comma_at = frame.total_len() - 1;
    match buf.get(comma_at) {
        None => Err(CheckError::Incomplete),
        Some(b',') => Ok(frame),
        Some(&found) => Err(CheckError::Invalid {
            error: NetstringError::MissingComma { found },
            offset: comma_at,
        }),
    }
}

/// The payload of the netstring at the start of `buf`, and the number of bytes the
/// whole netstring takes.
pub fn parse(buf: &[u8], max_length: usize) -> Result<(&[u8], usize), CheckError> {
    let frame = check(buf, max_length)?;
    Ok((&buf[frame.payload_range()], frame.total_len()))
}

/// The length of `payload` as a netstring.
pub fn encoded_len(payload_len: usize) -> usize {
    let mut digits = 1;
    let mut n = payload_len;
    while n >= 10 {
        n /= 10;
        digits += 1;
    }
    digits + payload_len + 2
}

/// Appends the netstring of `payload` to `out`.
pub fn encode_into(payload: &[u8], out: &mut Vec<u8>) {
    encode_parts_into(&[payload], out);
}

/// Appends one netstring whose payload is the concatenation of `parts` (a request
/// `name.poem` without building it first).
pub fn encode_parts_into(parts: &[&[u8]], out: &mut Vec<u8>) {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    // usize::MAX has 20 digits.
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    let mut n = len;
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.reserve(digits.len() - start + len + 2);
    out.extend_from_slice(&digits[start..]);
    out.push(b':');
    for part in parts {
        out.extend_from_slice(part);
    }
    out.push(b',');
}

/// The netstring of `payload`.
pub fn encode(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(encoded_len(payload.len()));
    encode_into(payload, &mut out);
    out
}

/// Where the decoder is in the stream.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    /// In (or before) a length prefix.
    Length(LengthScan),
    /// In a payload of `len` bytes; `buf` holds the part seen so far.
    Payload { len: usize },
    /// After a payload (whole in `buf`), waiting for its comma.
    Comma,
}

const START: State = State::Length(LengthScan::START);

/// An incremental netstring decoder (Twisted's `NetstringReceiver` without the
/// protocol around it).
///
/// Feed it the stream in chunks of any size with [`decode`](Self::decode); it calls
/// back once per complete netstring, in order. A payload that lies wholly inside the
/// chunk is lent straight from the chunk; one that straddles chunks is gathered in an
/// internal buffer (which it keeps, so a stream of large frames allocates once). Only
/// payload bytes are ever buffered: a partial length is kept as a number.
///
/// After an error the decoder is failed for good: every later `decode` returns the same
/// error and looks at nothing. [`consumed`](Self::consumed) then tells where in the
/// stream the offending byte was.
#[derive(Clone, Debug)]
pub struct NetstringDecoder {
    machine: Machine,
    progress: Progress<NetstringError>,
}

/// The decoder's state machine: a netstring that straddles chunks, gathered.
#[derive(Clone, Debug)]
struct Machine {
    max_length: usize,
    state: State,
    buf: Vec<u8>,
}

impl Default for NetstringDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl NetstringDecoder {
    /// A decoder with Twisted's maximum payload length, 99,999 bytes.
    pub fn new() -> Self {
        Self::with_max_length(DEFAULT_MAX_LENGTH)
    }

    /// A decoder that rejects payloads longer than `max_length` bytes. The buffer for a
    /// frame that straddles chunks grows up to this size.
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
    /// the stream offset of the offending byte.
    pub fn consumed(&self) -> u64 {
        self.progress.consumed()
    }

    /// Netstrings delivered so far.
    pub fn frames(&self) -> u64 {
        self.progress.frames()
    }

    /// Payload bytes held for a netstring that is not complete yet.
    pub fn buffered(&self) -> usize {
        self.machine.buffered()
    }

    /// Whether the stream so far ends exactly at a netstring boundary (a connection that
    /// closes here lost nothing in the middle of a frame).
    pub fn is_at_boundary(&self) -> bool {
        self.machine.state == START && self.progress.error().is_none()
    }

    /// The error the decoder failed with, if it has.
    pub fn error(&self) -> Option<NetstringError> {
        self.progress.error()
    }

    /// Decodes the next chunk of the stream, calling `on_frame` with each netstring's
    /// payload completed by it, in order. Frames before an error in the same chunk are
    /// delivered before the error is returned.
    pub fn decode(
        &mut self,
        chunk: &[u8],
        on_frame: impl FnMut(&[u8]),
    ) -> Result<(), NetstringError> {
        self.progress.decode(&mut self.machine, chunk, on_frame)
    }
}

impl Reassembly for Machine {
    type Error = NetstringError;

    fn between_frames(&self) -> bool {
        self.state == START
    }

    fn front(&self, rest: &[u8]) -> Front<Self::Error> {
        front_by_check!(check(rest, self.max_length), CheckError, payload_range)
    }

    /// An error counts from the offending byte.
    fn gather(
        &mut self,
        rest: &[u8],
        on_frame: &mut impl FnMut(&[u8]),
    ) -> Result<usize, (NetstringError, i64)> {
        match self.state {
            State::Length(mut scan) => {
                let (used, result) = scan.feed(rest, self.max_length);
                self.state = match result.map_err(|e| (e, used as i64))? {
                    Some(len) => {
                        self.buf.clear();
                        State::Payload { len }
                    }
                    None => State::Length(scan),
                };
                Ok(used)
            }
            State::Payload { len } if self.buf.is_empty() && rest.len() > len => {
                // The header straddled, but payload and comma are all here.
                comma(rest[len]).map_err(|e| (e, len as i64))?;
                on_frame(&rest[..len]);
                self.state = START;
                Ok(len + 1)
            }
            State::Payload { len } => {
                let take = (len - self.buf.len()).min(rest.len());
                self.buf.extend_from_slice(&rest[..take]);
                if self.buf.len() == len {
                    self.state = State::Comma;
                }
                Ok(take)
            }
            State::Comma => {
                comma(rest[0]).map_err(|e| (e, 0))?;
                on_frame(&self.buf);
                self.buf.clear();
                self.state = START;
                Ok(1)
            }
        }
    }

    fn discard(&mut self) {
        self.state = START;
        self.buf = Vec::new();
    }

    fn buffered(&self) -> usize {
        match self.state {
            State::Payload { .. } | State::Comma => self.buf.len(),
            State::Length(_) => 0,
        }
    }
}

/// Checks the byte after a payload.
#[inline]
fn comma(byte: u8) -> Result<(), NetstringError> {
    if byte == b',' {
        Ok(())
    } else {
        Err(NetstringError::MissingComma { found: byte })
    }
}

#[cfg(test)]
mod tests;
