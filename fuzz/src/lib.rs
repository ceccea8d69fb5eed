//! Helpers the fuzz targets share: turning fuzz bytes into a stream, the cuts to read
//! it in, and how a peer leaves.

use weft::transport::Disconnect;

pub mod schedule;

/// A fuzz input split into the bytes a peer sends and the reads they arrive in.
///
/// Layout: one byte `n`, then `n % 16` cut bytes, then the stream. Each cut byte is a
/// read size (0 to 31 bytes; a 0 is an empty read), used in turn and cycled; with no
/// cut bytes the stream arrives whole.
#[derive(Debug)]
pub struct CutStream<'a> {
    /// Read sizes, cycled.
    pub cuts: &'a [u8],
    /// The bytes.
    pub stream: &'a [u8],
}

impl<'a> CutStream<'a> {
    /// Splits `data` as the type's docs say.
    pub fn new(data: &'a [u8]) -> Self {
        let Some((&n, rest)) = data.split_first() else {
            return Self {
                cuts: &[],
                stream: &[],
            };
        };
        let (cuts, stream) = rest.split_at(usize::from(n % 16).min(rest.len()));
        Self { cuts, stream }
    }

    /// The stream in its reads. Empty reads are kept (a driver may deliver one); a cut
    /// list of nothing but empty reads delivers the stream whole after one empty read.
    pub fn chunks(&self) -> Vec<&'a [u8]> {
        if self.cuts.iter().all(|&c| c % 32 == 0) {
            return match self.cuts.is_empty() {
                true => vec![self.stream],
                false => vec![&[][..], self.stream],
            };
        }
        let mut chunks = Vec::new();
        let mut rest = self.stream;
        for &cut in self.cuts.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (chunk, tail) = rest.split_at(usize::from(cut % 32).min(rest.len()));
            chunks.push(chunk);
            rest = tail;
        }
        chunks
    }
}

/// How a peer leaves once it has sent its bytes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Leave {
    /// It half-closes (`read_connection_lost` on our side).
    HalfClose,
    /// The connection ends for this reason.
    Close(Disconnect),
    /// It stays connected and silent.
    Stay,
}

impl Leave {
    /// The way of leaving that `byte` picks.
    pub fn from_byte(byte: u8) -> Self {
        match byte % 5 {
            0 => Self::HalfClose,
            1 => Self::Close(Disconnect::Clean),
            2 => Self::Close(Disconnect::Reset),
            3 => Self::Close(Disconnect::Aborted),
            _ => Self::Stay,
        }
    }
}

/// A peer's visit: how it leaves (the first byte), then a [`CutStream`].
#[derive(Debug)]
pub struct Visit<'a> {
    /// How it leaves.
    pub leave: Leave,
    /// What it sends, and in which reads.
    pub sent: CutStream<'a>,
}

impl<'a> Visit<'a> {
    /// Splits `data` as the type's docs say.
    pub fn new(data: &'a [u8]) -> Self {
        let (leave, rest) = match data.split_first() {
            Some((&b, rest)) => (Leave::from_byte(b), rest),
            None => (Leave::Stay, data),
        };
        Self {
            leave,
            sent: CutStream::new(rest),
        }
    }
}

/// Checks that an error message speaks the user's language: not empty, starting in
/// lower case, and, outside the user text it echoes (quoted, or the file's lines a TOML
/// error shows in its `NN | ...` gutter), naming no Rust type. (Not `::`: a TOML error's
/// caret line and message may still hold any text of the user's.)
pub fn assert_user_facing(message: &str) {
    assert!(!message.is_empty(), "an empty error message");
    let first = message.chars().next().unwrap_or(' ');
    assert!(
        !first.is_uppercase(),
        "error message starts in upper case: {message}"
    );
    let own_words = unquoted(&without_source_lines(message));
    for word in ["Error", "Some(", "None", "Ok(", "Err("] {
        assert!(
            !own_words.contains(word),
            "error message names a Rust type: {message}"
        );
    }
}

/// `message` without the lines a TOML error quotes from the file: those whose first
/// non-blank characters are a line number (or nothing) and then `|`.
fn without_source_lines(message: &str) -> String {
    let quoted = |line: &str| {
        let rest = line.trim_start().trim_start_matches(|c: char| c.is_ascii_digit());
        rest.trim_start().starts_with('|')
    };
    (message.lines().filter(|line| !quoted(line)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `message` without its quoted parts ("..." or '...', with backslash escapes).
fn unquoted(message: &str) -> String {
    let mut out = String::new();
    let mut quote = None;
    let mut escaped = false;
    for c in message.chars() {
        match quote {
            None if c == '"' || c == '\'' => quote = Some(c),
            None => out.push(c),
            Some(_) if escaped => escaped = false,
            Some(_) if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_toml_error_may_echo_any_text_of_the_users_file() {
        assert_user_facing(
            "bad scenario: TOML parse error at line 10, column 4\n   |\n10 | l = Errorxpert\n   |    ^\nunexpected key or value",
        );
    }

    #[test]
    #[should_panic(expected = "names a Rust type")]
    fn a_rust_type_in_the_message_itself_is_caught() {
        assert_user_facing("bad scenario: Some(3) is not a port");
    }
}
