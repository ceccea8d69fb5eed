//! Delimited lines, with the rules of Twisted's `LineReceiver`.
//!
//! - A line is the bytes before the delimiter, `\r\n` by default ([`DEFAULT_DELIMITER`])
//!   or any non-empty byte string; the delimiter is not part of the line. An empty line
//!   is a line. A delimiter that overlaps itself (`aa`, `\n\n`) ends a line at its first
//!   occurrence, as Python's `bytes.split(delimiter, 1)` does.
//! - A line may be at most 16,384 bytes long ([`DEFAULT_MAX_LENGTH`], Twisted's
//!   `MAX_LENGTH`). Twisted's `lineLengthExceeded` trips in two cases, and so does
//!   [`LineError::TooLong`]: a complete line longer than the maximum, or a partial line
//!   (no delimiter yet) of at least maximum + delimiter length bytes, which can no longer
//!   end in time. A partial line shorter than that may still be a line of the maximum
//!   length followed by part of its delimiter, so it is kept. The decoder therefore
//!   never holds more than maximum + delimiter length - 1 bytes, whatever a peer sends.
//!
//! Two ways in, in the style of mini-redis's frame parser (and of
//! [`netstring`](super::netstring)):
//!
//! - [`LineFormat::check`] tells a buffer that starts with a complete line from one that
//!   needs more bytes ([`CheckError::Incomplete`]) and from one that can never become a
//!   line ([`CheckError::Invalid`]); [`LineFormat::parse`] also slices out the line. They
//!   look at no more than maximum + delimiter length bytes.
//! - [`LineDecoder`] takes a stream in chunks of any size and lends each line that lies
//!   wholly inside a chunk without copying it. Splitting a stream differently never
//!   changes the lines or the error.
//!
//! [`fuzz`] is a whole-codec check for a libFuzzer target. Nothing here panics on any
//! input.
//!
//! ```
//! use weft::codec::line::{LineDecoder, LineFormat};
//!
//! let mut decoder = LineDecoder::new(LineFormat::new());
//! let mut lines = Vec::new();
//! decoder.decode(b"SET k v\r\nGET", |line| lines.push(line.to_vec()))?;
//! decoder.decode(b" k\r\n", |line| lines.push(line.to_vec()))?;
//! assert_eq!(lines, [b"SET k v".to_vec(), b"GET k".to_vec()]);
//!
//! let mut out = Vec::new();
//! LineFormat::new().encode_into(b"OK", &mut out)?;
//! assert_eq!(out, b"OK\r\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::ops::Range;

use memchr::memmem::Finder;

use super::decoding::{Front, Progress, Reassembly, decode_whole_and_cut, front_by_check};

/// Twisted's `LineReceiver.MAX_LENGTH`.
pub const DEFAULT_MAX_LENGTH: usize = 16_384;

/// Twisted's `LineReceiver.delimiter`.
pub const DEFAULT_DELIMITER: &[u8] = b"\r\n";

/// Why a byte stream is not a sequence of lines. The decoder that met one stays failed,
/// as Twisted drops the connection in `lineLengthExceeded`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum LineError {
    /// A line, complete or not, is longer than the maximum.
    #[error("line longer than the maximum of {max} bytes")]
    TooLong {
        /// The maximum in force.
        max: usize,
    },
}

/// Why a line cannot be sent in a [`LineFormat`].
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum EncodeError {
    /// The line holds the delimiter (or ends with the start of one that its own
    /// delimiter would complete), so the receiver would cut it at byte `at`.
    #[error("line contains the delimiter at byte {at}")]
    ContainsDelimiter {
        /// Where the receiver would end the line.
        at: usize,
    },
    /// The line is longer than the format's maximum; the receiver would refuse it.
    #[error("line of {len} bytes is longer than the maximum of {max} bytes")]
    TooLong {
        /// The line's length.
        len: usize,
        /// The format's maximum.
        max: usize,
    },
}

/// A delimiter of no bytes: no line could ever end.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
#[error("line delimiter must not be empty")]
pub struct EmptyDelimiter;

/// The outcome of [`LineFormat::check`] when the buffer does not start with a line.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum CheckError {
    /// No delimiter yet, and the bytes so far may still become a line.
    #[error("incomplete line")]
    Incomplete,
    /// The bytes can never become a line.
    #[error("{error} (at byte {offset})")]
    Invalid {
        /// What is wrong.
        error: LineError,
        /// Where the offending line starts in the buffer.
        offset: usize,
    },
}

/// Where a complete line lies, measured from the start of the buffer given to
/// [`LineFormat::check`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Frame {
    /// Length of the line, without its delimiter.
    pub line_len: usize,
    /// Length of the delimiter.
    pub delimiter_len: usize,
}

impl Frame {
    /// The line's bytes within the buffer.
    pub fn line_range(&self) -> Range<usize> {
        0..self.line_len
    }

    /// The line's length with its delimiter.
    pub fn total_len(&self) -> usize {
        self.line_len + self.delimiter_len
    }
}

/// A line format: a delimiter and a maximum line length (Twisted's `delimiter` and
/// `MAX_LENGTH` class attributes).
///
/// ```
/// use weft::codec::line::{CheckError, LineFormat};
///
/// let format = LineFormat::new().with_delimiter(b"\n")?.with_max_length(8);
/// assert_eq!(format.parse(b"hello\nrest"), Ok((&b"hello"[..], 6)));
/// assert_eq!(format.check(b"hel"), Err(CheckError::Incomplete));
/// assert!(matches!(format.check(b"123456789"), Err(CheckError::Invalid { .. })));
/// # Ok::<(), weft::codec::line::EmptyDelimiter>(())
/// ```
#[derive(Clone, Debug)]
pub struct LineFormat {
    finder: Finder<'static>,
    max_length: usize,
}

impl Default for LineFormat {
    fn default() -> Self {
        Self::new()
    }
}

impl LineFormat {
    /// Twisted's defaults: `\r\n`, at most 16,384 bytes a line.
    pub fn new() -> Self {
        Self {
            finder: Finder::new(DEFAULT_DELIMITER).into_owned(),
            max_length: DEFAULT_MAX_LENGTH,
        }
    }

    /// The same format with another delimiter.
    ///
    /// # Errors
    /// [`EmptyDelimiter`] for `b""`.
    pub fn with_delimiter(self, delimiter: impl AsRef<[u8]>) -> Result<Self, EmptyDelimiter> {
        let delimiter = delimiter.as_ref();
        if delimiter.is_empty() {
            return Err(EmptyDelimiter);
        }
        Ok(Self {
            finder: Finder::new(delimiter).into_owned(),
            ..self
        })
    }

    /// The same format with another maximum line length.
    pub fn with_max_length(self, max_length: usize) -> Self {
        Self { max_length, ..self }
    }

    /// The delimiter.
    pub fn delimiter(&self) -> &[u8] {
        self.finder.needle()
    }

    /// The longest line accepted.
    pub fn max_length(&self) -> usize {
        self.max_length
    }

    /// The fewest bytes without a delimiter that are surely too long a line: at this
    /// many, the line cannot end within the maximum any more.
    pub fn overflow_len(&self) -> usize {
        self.max_length.saturating_add(self.delimiter().len())
    }

    /// Whether `buf` starts with a complete line of at most the maximum length, and
    /// where it lies. Looks at no more than [`overflow_len`](Self::overflow_len) bytes.
    pub fn check(&self, buf: &[u8]) -> Result<Frame, CheckError> {
        let window = &buf[..buf.len().min(self.overflow_len())];
        let too_long = CheckError::Invalid {
            error: LineError::TooLong {
                max: self.max_length,
            },
            offset: 0,
        };
        // A delimiter that ends inside the window ends a line within the maximum.
        match self.finder.find(window) {
            Some(line_len) => Ok(Frame {
                line_len,
                delimiter_len: self.delimiter().len(),
            }),
            None if window.len() == self.overflow_len() => Err(too_long),
            None => Err(CheckError::Incomplete),
        }
    }

    /// The line at the start of `buf`, and the number of bytes it takes with its
    /// delimiter.
    pub fn parse<'b>(&self, buf: &'b [u8]) -> Result<(&'b [u8], usize), CheckError> {
        let frame = self.check(buf)?;
        Ok((&buf[frame.line_range()], frame.total_len()))
    }

    /// Appends `line` and the delimiter to `out` (Twisted's `sendLine`, which checks
    /// nothing; this refuses what the receiver would not read back as the same line).
    ///
    /// # Errors
    /// [`EncodeError::TooLong`] past the maximum; [`EncodeError::ContainsDelimiter`] if
    /// the receiver would end the line early. `out` is unchanged on an error.
    pub fn encode_into(&self, line: &[u8], out: &mut Vec<u8>) -> Result<(), EncodeError> {
        if line.len() > self.max_length {
            return Err(EncodeError::TooLong {
                len: line.len(),
                max: self.max_length,
            });
        }
        let start = out.len();
        out.reserve(line.len() + self.delimiter().len());
        out.extend_from_slice(line);
        out.extend_from_slice(self.delimiter());
        // The first delimiter the receiver finds must be the one just added.
        match self.finder.find(&out[start..]) {
            Some(at) if at < line.len() => {
                out.truncate(start);
                Err(EncodeError::ContainsDelimiter { at })
            }
            _ => Ok(()),
        }
    }

    /// `line` and its delimiter.
    ///
    /// # Errors
    /// As [`encode_into`](Self::encode_into).
    pub fn encode(&self, line: &[u8]) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::new();
        self.encode_into(line, &mut out)?;
        Ok(out)
    }
}

/// An incremental line decoder (Twisted's `LineReceiver` in line mode, without the
/// protocol around it).
///
/// Feed it the stream in chunks of any size with [`decode`](Self::decode); it calls
/// back once per complete line, in order. A line that lies wholly inside the chunk is
/// lent straight from it; only a line that straddles chunks is gathered in the
/// decoder's buffer, which never holds more than
/// [`LineFormat::overflow_len`] - 1 bytes.
///
/// After an error the decoder is failed for good: every later `decode` returns the same
/// error and looks at nothing. [`consumed`](Self::consumed) then tells where in the
/// stream the line that was too long started.
///
/// ```
/// use weft::codec::line::{LineDecoder, LineError, LineFormat};
///
/// let mut decoder = LineDecoder::new(LineFormat::new().with_max_length(4));
/// let mut lines = Vec::new();
/// let result = decoder.decode(b"ok\r\nmuch too long\r\n", |l| lines.push(l.to_vec()));
/// assert_eq!(lines, [b"ok".to_vec()]);
/// assert_eq!(result, Err(LineError::TooLong { max: 4 }));
/// assert_eq!(decoder.consumed(), 4, "the long line starts after `ok\\r\\n`");
/// ```
#[derive(Clone, Debug)]
pub struct LineDecoder {
    machine: Machine,
    progress: Progress<LineError>,
}

/// The decoder's state machine: a line that straddles chunks, gathered.
#[derive(Clone, Debug)]
struct Machine {
    format: LineFormat,
    /// The partial line: bytes after the last delimiter, holding no delimiter.
    buf: Vec<u8>,
}

impl Default for LineDecoder {
    fn default() -> Self {
        Self::new(LineFormat::new())
    }
}

impl LineDecoder {
    /// A decoder for `format`.
    pub fn new(format: LineFormat) -> Self {
        Self {
            machine: Machine {
                format,
                buf: Vec::new(),
            },
            progress: Progress::new(),
        }
    }

    /// The format it decodes.
    pub fn format(&self) -> &LineFormat {
        &self.machine.format
    }

    /// Bytes of the stream accepted so far (delivered lines, their delimiters, and the
    /// partial line); after an error, the stream offset where the long line started.
    pub fn consumed(&self) -> u64 {
        self.progress.consumed()
    }

    /// Lines delivered so far.
    pub fn frames(&self) -> u64 {
        self.progress.frames()
    }

    /// Bytes held for a line that is not complete yet (Twisted's line buffer).
    pub fn buffered(&self) -> usize {
        self.machine.buffered()
    }

    /// The partial line held, as Twisted's `clearLineBuffer` would return it.
    pub fn partial_line(&self) -> &[u8] {
        &self.machine.buf
    }

    /// Whether the stream so far ends exactly after a delimiter (a connection that
    /// closes here lost no partial line).
    pub fn is_at_boundary(&self) -> bool {
        self.machine.buf.is_empty() && self.progress.error().is_none()
    }

    /// The error the decoder failed with, if it has.
    pub fn error(&self) -> Option<LineError> {
        self.progress.error()
    }

    /// Decodes the next chunk of the stream, calling `on_line` with each line completed
    /// by it, in order. Lines before an error in the same chunk are delivered before the
    /// error is returned.
    pub fn decode(&mut self, chunk: &[u8], on_line: impl FnMut(&[u8])) -> Result<(), LineError> {
        self.progress.decode(&mut self.machine, chunk, on_line)
    }
}

impl Reassembly for Machine {
    type Error = LineError;

    fn between_frames(&self) -> bool {
        self.buf.is_empty()
    }

    fn front(&self, rest: &[u8]) -> Front<Self::Error> {
        front_by_check!(self.format.check(rest), CheckError, line_range)
    }

    /// An error counts from the start of the line.
    fn gather(
        &mut self,
        rest: &[u8],
        on_line: &mut impl FnMut(&[u8]),
    ) -> Result<usize, (LineError, i64)> {
        let too_long = LineError::TooLong {
            max: self.format.max_length,
        };
        if self.buf.is_empty() {
            // A line starts here, and `front` found no end for it within reach.
            self.buf.extend_from_slice(rest);
            return Ok(rest.len());
        }
        // Where the line began: before `rest`, by the part of it held.
        let line_start = -(self.buf.len() as i64);
        let Some(used) = self.finish_partial(rest) else {
            // Still no delimiter: keep the bytes, unless the line can no longer end.
            if self.buf.len() + rest.len() >= self.format.overflow_len() {
                return Err((too_long, line_start));
            }
            self.buf.extend_from_slice(rest);
            return Ok(rest.len());
        };
        if self.buf.len() > self.format.max_length {
            return Err((too_long, line_start));
        }
        on_line(&self.buf);
        self.buf.clear();
        Ok(used)
    }

    fn discard(&mut self) {
        self.buf = Vec::new();
    }

    fn buffered(&self) -> usize {
        self.buf.len()
    }
}

impl Machine {
    /// Looks for the delimiter that ends the partial line in `chunk` (possibly starting
    /// among the buffered bytes). If found, moves the rest of the line into the buffer,
    /// trims any delimiter bytes off it, and returns how many bytes of `chunk` the line
    /// and its delimiter took.
    fn finish_partial(&mut self, chunk: &[u8]) -> Option<usize> {
        let d = self.format.delimiter().len();
        // A delimiter that starts in the buffer ends within its first d - 1 bytes of
        // `chunk`; look at that seam first, since it is the earliest possible match.
        let tail_start = self.buf.len().saturating_sub(d - 1);
        let head = &chunk[..chunk.len().min(d - 1)];
        if !head.is_empty() {
            let mut seam = Vec::with_capacity(self.buf.len() - tail_start + head.len());
            seam.extend_from_slice(&self.buf[tail_start..]);
            seam.extend_from_slice(head);
            if let Some(at) = self.format.finder.find(&seam) {
                let line_len = tail_start + at;
                let used = line_len + d - self.buf.len();
                self.buf.truncate(line_len);
                return Some(used);
            }
        }
        // Only as far as the line could still be within the maximum, plus a delimiter.
        let room = self.format.overflow_len().saturating_sub(self.buf.len());
        let at = self.format.finder.find(&chunk[..chunk.len().min(room)])?;
        self.buf.extend_from_slice(&chunk[..at]);
        Some(at + d)
    }
}

/// A libFuzzer target's body: `fuzz_target!(|data: &[u8]| weft::codec::line::fuzz(data));`.
///
/// The first byte picks the delimiter (`\r\n`, `\n`, `aa` or `\r\n\r\n`), the second
/// the maximum (0 to 63) and the third a read size (1 to 16); the rest is the stream.
/// It decodes the stream whole and in those reads, and returns the lines and the error.
///
/// # Panics
/// Only if the codec breaks one of its own rules: the two decodings differ, a line is
/// longer than the maximum, the buffer passes its bound, [`LineFormat::check`] disagrees
/// with the decoder, or a decoded line does not encode back to the bytes it came from.
pub fn fuzz(data: &[u8]) -> (Vec<Vec<u8>>, Option<LineError>) {
    const DELIMITERS: [&[u8]; 4] = [b"\r\n", b"\n", b"aa", b"\r\n\r\n"];
    let (settings, stream) = data.split_at(data.len().min(3));
    let setting = |i: usize| settings.get(i).copied().unwrap_or(0);
    let format = LineFormat::new()
        .with_delimiter(DELIMITERS[usize::from(setting(0) % 4)])
        .expect("the delimiters are not empty")
        .with_max_length(usize::from(setting(1) % 64));
    let read = usize::from(setting(2) % 16) + 1;

    let decoder = LineDecoder::new(format.clone());
    let (lines, error, consumed) =
        decode_whole_and_cut(&decoder.machine, stream, read, format.overflow_len());

    // The lines, re-encoded, are the stream's first `consumed` bytes (less a partial
    // line), and `check` finds the same first line.
    let mut again = Vec::new();
    for line in &lines {
        assert!(line.len() <= format.max_length(), "line past the maximum");
        format
            .encode_into(line, &mut again)
            .expect("a decoded line encodes");
    }
    assert!(stream.starts_with(&again), "re-encoding changed the bytes");
    assert!(again.len() as u64 <= consumed);
    match format.parse(stream) {
        Ok((first, _)) => assert_eq!(Some(first), lines.first().map(Vec::as_slice)),
        Err(CheckError::Incomplete) => assert!(lines.is_empty() && error.is_none()),
        Err(CheckError::Invalid { error: e, offset }) => {
            assert!(lines.is_empty() && error == Some(e) && offset == 0);
        }
    }
    (lines, error)
}

#[cfg(test)]
mod tests;
