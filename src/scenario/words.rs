//! Parser messages in the file's words: serde and toml describe what they expected by
//! Rust type (`expected u16`, `as i128`, `expected struct ...`); a scenario's author
//! wrote TOML, so those phrases are rewritten to say the shape a file can write.

/// The integer types serde names, and how a file would say each range.
const INTEGERS: [(&str, &str); 12] = [
    ("u8", "a whole number from 0 to 255"),
    ("u16", "a whole number from 0 to 65535"),
    ("u32", "a whole number from 0 to 4294967295"),
    ("u64", "a whole number from 0 to 18446744073709551615"),
    ("u128", "a whole number from 0 up"),
    ("usize", "a whole number from 0 to 18446744073709551615"),
    ("i8", "a whole number from -128 to 127"),
    ("i16", "a whole number from -32768 to 32767"),
    ("i32", "a whole number from -2147483648 to 2147483647"),
    ("i64", "a whole number"),
    ("i128", "a whole number"),
    ("isize", "a whole number"),
];

/// `message` with every Rust type name replaced by what a file would write.
pub(crate) fn in_file_words(message: &str) -> String {
    let mut text = message.replace(
        "u64 value was too large",
        "this number is too large for a TOML integer (at most 9223372036854775807)",
    );
    for ty in ["i128", "u128", "i64", "u64"] {
        text = text.replace(&format!(" as {ty},"), ",");
    }
    for (ty, words) in INTEGERS {
        text = text.replace(&format!("expected {ty}"), &format!("expected {words}"));
    }
    text = text
        .replace("expected f64", "expected a number")
        .replace("expected f32", "expected a number");
    for kind in ["struct", "enum"] {
        text = replace_named(&text, &format!("expected {kind} "), "expected a table");
    }
    text = replace_named(&text, "no variant of enum ", "no known form");
    text.replace(" found in flattened data", "")
}

/// Replaces `prefix` and the type name after it with `words`.
fn replace_named(text: &str, prefix: &str, words: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(prefix) {
        out.push_str(&rest[..at]);
        out.push_str(words);
        let after = &rest[at + prefix.len()..];
        let name_len = after
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        rest = &after[name_len..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_type_names_become_file_shapes() {
        assert_eq!(
            in_file_words("invalid value: integer `-1`, expected usize"),
            "invalid value: integer `-1`, expected a whole number from 0 to 18446744073709551615"
        );
        assert_eq!(
            in_file_words("invalid value: integer `70000`, expected u16"),
            "invalid value: integer `70000`, expected a whole number from 0 to 65535"
        );
        assert_eq!(
            in_file_words("invalid value: integer `18446744073709551616` as i128, expected u64"),
            "invalid value: integer `18446744073709551616`, expected a whole number from 0 to 18446744073709551615"
        );
        assert_eq!(
            in_file_words("invalid type: string \"a\", expected struct ClockJumpSpec"),
            "invalid type: string \"a\", expected a table"
        );
        assert_eq!(
            in_file_words("invalid type: string \"chunky\", expected enum Segmentation here"),
            "invalid type: string \"chunky\", expected a table here"
        );
    }
}
