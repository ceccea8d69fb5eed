//! The fuzz targets' seed corpora (fuzz/corpus/) still reach what they were made to
//! reach, replayed through the public API the targets call.

use std::collections::BTreeSet;
use std::path::PathBuf;

use weft::codec::netstring::{self, NetstringDecoder, NetstringError};

/// The maxima the netstring target picks from with its first byte.
const MAXIMA: [usize; 6] = [0, 1, 9, 10, 100, netstring::DEFAULT_MAX_LENGTH];

/// The decoder error a netstring target input ends in, read as the target reads it:
/// a byte choosing the maximum, a byte `n` then `n % 16` read sizes, then the stream
/// (the target checks that the reads do not change the outcome, so it is fed whole).
fn netstring_error(input: &[u8]) -> Option<NetstringError> {
    let (&setting, rest) = input.split_first()?;
    let max = MAXIMA[usize::from(setting) % MAXIMA.len()];
    let stream = match rest.split_first() {
        Some((&n, rest)) => &rest[usize::from(n % 16).min(rest.len())..],
        None => rest,
    };
    NetstringDecoder::with_max_length(max)
        .decode(stream, |_| {})
        .err()
}

/// The error variants, by name.
fn variant(error: NetstringError) -> &'static str {
    match error {
        NetstringError::NonDigitLength { .. } => "NonDigitLength",
        NetstringError::LeadingZero => "LeadingZero",
        NetstringError::TooLong { .. } => "TooLong",
        NetstringError::MissingComma { .. } => "MissingComma",
    }
}

/// The corpus to replay: `WEFT_NETSTRING_CORPUS` (a grown corpus, say), else the
/// seeds in the repository.
fn netstring_corpus() -> PathBuf {
    std::env::var_os("WEFT_NETSTRING_CORPUS").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/netstring"),
        PathBuf::from,
    )
}

#[test]
fn the_netstring_corpus_reaches_every_decoder_error() {
    let dir = netstring_corpus();
    let mut inputs = 0;
    let mut reached = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let input = std::fs::read(entry.unwrap().path()).unwrap();
        inputs += 1;
        reached.extend(netstring_error(&input).map(variant));
    }
    let every = ["LeadingZero", "MissingComma", "NonDigitLength", "TooLong"];
    eprintln!("{} inputs in {} reach {reached:?}", inputs, dir.display());
    assert_eq!(reached, BTreeSet::from(every));
}
