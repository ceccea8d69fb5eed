//! The loop the streaming decoders share ([`NetstringDecoder`](super::NetstringDecoder),
//! [`LineDecoder`](super::LineDecoder), [`Int32Decoder`](super::Int32Decoder)): at a
//! frame boundary, a frame that lies wholly in the chunk is lent out in place; anything
//! else goes to the codec's own state machine, which gathers a frame that straddles
//! chunks; and the first error fails the decoder for good, at a stream offset.

use std::fmt::Debug;
use std::ops::Range;

/// A codec's own state machine, as [`Progress::decode`] drives it.
pub(crate) trait Reassembly {
    /// Why the stream is broken.
    type Error: Copy;

    /// Whether no frame is in progress: the next byte starts one.
    fn between_frames(&self) -> bool;

    /// What is at the front of `rest`.
    fn front(&self, rest: &[u8]) -> Front<Self::Error>;

    /// Takes bytes (at least one) from the front of `rest` towards the frame in
    /// progress, calling `on_frame` with any frame they complete, and returns how many
    /// it took. Between frames, it is called only once [`front`](Self::front) has found
    /// the frame at the front of `rest` incomplete. An error comes with where it counts
    /// from, in bytes from the start of `rest`: negative when that is where the frame
    /// in progress began, in an earlier chunk.
    fn gather(
        &mut self,
        rest: &[u8],
        on_frame: &mut impl FnMut(&[u8]),
    ) -> Result<usize, (Self::Error, i64)>;

    /// Forgets the frame in progress and frees its buffer: the stream broke.
    fn discard(&mut self);

    /// Bytes held for the frame in progress (the decoder's `buffered`).
    fn buffered(&self) -> usize;
}

/// What a buffer that starts at a frame boundary starts with.
pub(crate) enum Front<E> {
    /// A frame wholly there: its payload's range, and its length with the framing.
    Whole { payload: Range<usize>, len: usize },
    /// A frame that goes on past the buffer.
    Incomplete,
    /// Bytes that can never become a frame, broken `offset` bytes in.
    Broken { error: E, offset: usize },
}

/// [`Reassembly::front`] from what a codec's whole-buffer `check` says of `rest`: the
/// frame it finds is lent out, `Incomplete` waits for more bytes, `Invalid` breaks the
/// stream. `front_by_check!(check(rest, max), CheckError, payload_range)` names the
/// codec's error type and its `Frame`'s method for the payload's range. A macro, not a
/// function: each codec's `Frame` and `CheckError` are public types of its own, of one
/// shape.
macro_rules! front_by_check {
    ($checked:expr, $check_error:ident, $payload_range:ident) => {
        match $checked {
            Ok(frame) => $crate::codec::decoding::Front::Whole {
                payload: frame.$payload_range(),
                len: frame.total_len(),
            },
            Err($check_error::Incomplete) => $crate::codec::decoding::Front::Incomplete,
            Err($check_error::Invalid { error, offset }) => {
                $crate::codec::decoding::Front::Broken { error, offset }
            }
        }
    };
}
pub(crate) use front_by_check;

/// What a decoder counts around its [`Reassembly`], and the error that failed it.
#[derive(Clone, Debug)]
pub(crate) struct Progress<E> {
    consumed: u64,
    frames: u64,
    failed: Option<E>,
}

impl<E: Copy> Progress<E> {
    /// Nothing seen yet.
    pub(crate) const fn new() -> Self {
        Self {
            consumed: 0,
            frames: 0,
            failed: None,
        }
    }

    /// Bytes of the stream accepted: all bytes given, until an error; after one, the
    /// stream offset the error counts from.
    pub(crate) fn consumed(&self) -> u64 {
        self.consumed
    }

    /// Frames delivered.
    pub(crate) fn frames(&self) -> u64 {
        self.frames
    }

    /// The error the decoder failed with, if it has.
    pub(crate) fn error(&self) -> Option<E> {
        self.failed
    }

    /// Decodes the next chunk of the stream with `machine`, calling `on_frame` with
    /// each frame completed by it, in order. Frames before an error in the same chunk
    /// are delivered before the error is returned; after an error, every call returns
    /// it and looks at nothing.
    pub(crate) fn decode<R: Reassembly<Error = E>>(
        &mut self,
        machine: &mut R,
        chunk: &[u8],
        mut on_frame: impl FnMut(&[u8]),
    ) -> Result<(), E> {
        if let Some(error) = self.failed {
            return Err(error);
        }
        let mut frames = 0;
        let mut deliver = |frame: &[u8]| {
            frames += 1;
            on_frame(frame);
        };
        let mut pos = 0;
        let result = loop {
            let rest = &chunk[pos..];
            if rest.is_empty() {
                break Ok(());
            }
            if machine.between_frames() {
                match machine.front(rest) {
                    // A whole frame in this chunk: lend it out in place.
                    Front::Whole { payload, len } => {
                        deliver(&rest[payload]);
                        pos += len;
                        continue;
                    }
                    Front::Broken { error, offset } => {
                        break Err((error, pos as i64 + offset as i64));
                    }
                    Front::Incomplete => {}
                }
            }
            match machine.gather(rest, &mut deliver) {
                Ok(used) => pos += used,
                Err((error, offset)) => break Err((error, pos as i64 + offset)),
            }
        };
        self.frames += frames;
        match result {
            Ok(()) => {
                self.consumed += chunk.len() as u64;
                Ok(())
            }
            Err((error, offset)) => {
                self.consumed = self.consumed.saturating_add_signed(offset);
                self.failed = Some(error);
                machine.discard();
                Err(error)
            }
        }
    }
}

/// What a decoder made of a stream: its frames in order, the error that failed it, and
/// the bytes it accepted.
pub(crate) type Decoded<E> = (Vec<Vec<u8>>, Option<E>, u64);

/// The first rule a codec's `fuzz` checks: decoders starting as `machine` make the same
/// of `stream` given whole as given in reads of `read` bytes, and hold fewer than
/// `bound` bytes after every read. Returns what they made of it.
///
/// # Panics
/// If the two decodings differ or a read leaves `bound` bytes or more held.
pub(crate) fn decode_whole_and_cut<M>(
    machine: &M,
    stream: &[u8],
    read: usize,
    bound: usize,
) -> Decoded<M::Error>
where
    M: Reassembly + Clone,
    M::Error: PartialEq + Debug,
{
    let decode = |reads: &mut dyn Iterator<Item = &[u8]>| {
        let mut machine = machine.clone();
        let mut progress = Progress::new();
        let mut frames = Vec::new();
        let mut error = None;
        for chunk in reads {
            if let Err(e) = progress.decode(&mut machine, chunk, |f| frames.push(f.to_vec())) {
                error = Some(e);
                break;
            }
            assert!(machine.buffered() < bound, "buffer bound");
        }
        (frames, error, progress.consumed())
    };
    let whole = decode(&mut std::iter::once(stream));
    let cut = decode(&mut stream.chunks(read));
    assert_eq!(whole, cut, "a different cut changed the outcome");
    whole
}
