//! Wire codecs the seed programs frame their messages with.
//!
//! - [`netstring`]: `<length>:<payload>,`, with the rules of Twisted's
//!   `NetstringReceiver` (the transform server and its clients, Part 12 of the poetry
//!   series). A checking parser for whole buffers ([`netstring::check`],
//!   [`netstring::parse`]) and an incremental decoder that hands out frames without
//!   copying them when it can ([`NetstringDecoder`]).

pub mod netstring;

pub use netstring::{NetstringDecoder, NetstringError};
