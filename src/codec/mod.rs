//! Wire codecs the seed programs frame their messages with.
//!
//! - [`netstring`]: `<length>:<payload>,`, with the rules of Twisted's
//!   `NetstringReceiver` (the transform server and its clients, Part 12 of the poetry
//!   series). A checking parser for whole buffers ([`netstring::check`],
//!   [`netstring::parse`]) and an incremental decoder that hands out frames without
//!   copying them when it can ([`NetstringDecoder`]).
//! - [`line`](mod@line): delimited lines, with the rules of Twisted's `LineReceiver` (a
//!   configurable delimiter, a maximum length and its "line too long" error):
//!   [`LineFormat`] and [`LineDecoder`].
//! - [`int32`]: 4-byte big-endian length prefixes, with the rules of Twisted's
//!   `Int32StringReceiver`: [`Int32Decoder`].
//!
//! All three share a shape: a `check`/`parse` pair for whole buffers that tells
//! `Incomplete` from `Invalid`, a streaming decoder whose memory is bounded by its
//! maximum frame, an encoder, and (for the two new ones) a `fuzz` function a libFuzzer
//! target can call.

mod decoding;
pub mod int32;
pub mod line;
pub mod netstring;

pub use int32::{Int32Decoder, Int32Error};
pub use line::{LineDecoder, LineError, LineFormat};
pub use netstring::{NetstringDecoder, NetstringError};
