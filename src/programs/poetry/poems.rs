//! Poems: the opaque byte strings the poetry servers serve.
//!
//! The series serves three public-domain poems whose sizes fix its timings: 3,003 bytes
//! (sent 30 at a time), 623 and 653 bytes (10 at a time), every 0.1 s. weft ships three
//! poems of its own, written for it, with exactly those sizes, so the text's figures
//! (10.1 s, 6.3 s, 6.6 s; 23.0 s served one by one, 10.1 s at once) come out exactly.

use std::fmt;
use std::path::Path;

use bytes::Bytes;

/// The largest poem weft's programs accept by default: from a peer (`get-poetry`, the
/// proxy's upstream) or as a server's poem file. 64 MiB.
pub const DEFAULT_MAX_POEM_BYTES: usize = 64 << 20;

/// A poem: bytes, shared cheaply between the connections that serve it.
///
/// The poetry protocol has no framing, so a poem is any byte string, not necessarily
/// UTF-8; [`text`](Self::text) is for printing only.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Poem(Bytes);

impl Poem {
    /// A poem of these bytes.
    pub fn new(bytes: impl Into<Bytes>) -> Self {
        Self(bytes.into())
    }

    /// Reads a poem from a file (the servers' `poetry-file` argument). The file is read
    /// once; later edits do not reach clients (the blocking original re-read it per
    /// client).
    pub fn from_file(path: impl AsRef<Path>) -> std::io::Result<Self> {
        std::fs::read(path).map(Self::new)
    }

    /// One of the built-in poems by name ([`BUILTIN_POEMS`]).
    pub fn builtin(name: &str) -> Option<Self> {
        BUILTIN_POEMS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, text)| Self::from_static(text))
    }

    /// A poem from static text, without copying.
    pub const fn from_static(text: &'static str) -> Self {
        Self(Bytes::from_static(text.as_bytes()))
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The bytes as a shared buffer.
    pub fn bytes(&self) -> Bytes {
        self.0.clone()
    }

    /// Size in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the poem has no bytes (what a proxy sends when its upstream failed).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The text for printing, with invalid UTF-8 replaced.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0).into_owned()
    }

    /// The lines for printing one by one: the poem's text split at line ends (a poem
    /// with no bytes is one empty line, as Python's `print` shows it).
    pub fn lines(&self) -> Vec<String> {
        if self.is_empty() {
            return vec![String::new()];
        }
        match std::str::from_utf8(self.as_bytes()) {
            Ok(text) => text.lines().map(str::to_owned).collect(),
            Err(_) => self.text().lines().map(str::to_owned).collect(),
        }
    }
}

impl fmt::Debug for Poem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let head: Vec<u8> = self.0.iter().take(24).copied().collect();
        write!(f, "Poem({} B, \"{}", self.len(), head.escape_ascii())?;
        f.write_str(if self.len() > 24 { "...\")" } else { "\")" })
    }
}

impl From<&'static str> for Poem {
    fn from(text: &'static str) -> Self {
        Self::from_static(text)
    }
}

impl From<Vec<u8>> for Poem {
    fn from(bytes: Vec<u8>) -> Self {
        Self::new(bytes)
    }
}

/// "The Loom of Wires", 3,003 bytes: the long poem, served 30 bytes at a time in the
/// Part 2 timings (101 chunks, 10.1 s at 0.1 s per chunk).
pub const LOOM: &str = include_str!("poems/loom.txt");

/// "Ten Bytes at a Time", 623 bytes (63 chunks of 10 bytes, 6.3 s).
pub const TEN_BYTES: &str = include_str!("poems/ten-bytes.txt");

/// "The Clock That Never Ticks Alone", 653 bytes (66 chunks of 10 bytes, 6.6 s).
pub const CLOCK: &str = include_str!("poems/clock.txt");

/// The built-in poem a poetry server serves unless told: a scenario file's `poem`, the
/// servers' `POEM` argument and a services file's `poem`, the transform client's `POEM`
/// and `weft bench tcp --poem`.
pub(crate) const DEFAULT_POEM: &str = "loom";

/// The built-in poems by name, for the command line (`--poem loom`).
pub const BUILTIN_POEMS: &[(&str, &str)] =
    &[("loom", LOOM), ("ten-bytes", TEN_BYTES), ("clock", CLOCK)];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_poems_have_the_sizes_of_the_texts_poems() {
        assert_eq!(LOOM.len(), 3003);
        assert_eq!(TEN_BYTES.len(), 623);
        assert_eq!(CLOCK.len(), 653);
        assert_eq!(Poem::builtin("clock").map(|p| p.len()), Some(653));
        assert_eq!(Poem::builtin("sonnet"), None);
    }

    #[test]
    fn lines_split_at_line_ends_and_an_empty_poem_is_one_empty_line() {
        assert_eq!(Poem::from("a\nb\n").lines(), ["a", "b"]);
        assert_eq!(Poem::default().lines(), [""]);
    }

    #[test]
    fn debug_shows_size_and_head() {
        assert_eq!(format!("{:?}", Poem::from("hi\n")), "Poem(3 B, \"hi\\n\")");
    }
}
