//! The README's chapter "Testing your own protocol" quotes this crate: every `rust`
//! block there that starts with `// examples/kv/FILE` must be lines of FILE, in order
//! and unchanged, so the guide shows code that compiles.

use std::path::Path;

/// Each quoting block of the README: the file it names and its lines.
fn quotes(readme: &str) -> Vec<(String, Vec<&str>)> {
    let mut quotes = Vec::new();
    let mut lines = readme.lines();
    while let Some(line) = lines.next() {
        if line != "```rust" {
            continue;
        }
        let block: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
        if let Some(file) = block
            .first()
            .and_then(|l| l.strip_prefix("// examples/kv/"))
        {
            quotes.push((file.to_owned(), block[1..].to_vec()));
        }
    }
    quotes
}

#[test]
fn every_snippet_of_the_readme_guide_is_in_the_file_it_names() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("../../README.md")).expect("weft's README");
    let quotes = quotes(&readme);
    assert!(quotes.len() >= 8, "only {} quoting blocks", quotes.len());
    for (file, snippet) in quotes {
        let text = std::fs::read_to_string(root.join(&file))
            .unwrap_or_else(|e| panic!("README quotes {file}, which cannot be read: {e}"));
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines
                .windows(snippet.len())
                .any(|w| w == snippet.as_slice()),
            "the README's quote of {file} is not in it any more:\n{}",
            snippet.join("\n")
        );
    }
}
