//! Wire compatibility with Twisted: weft's servers against small Twisted clients, and
//! weft's clients against small Twisted servers (compat/*.py, our own code on Twisted's
//! API), byte for byte, for the fast poetry protocol, the netstring transform protocol
//! and the caching proxy; and weft's line and int32 decoders against Twisted's
//! `LineReceiver` and `Int32StringReceiver` on the same reads.
//!
//! Needs `python3` with Twisted (`python3 -m pip install --user 'twisted==26.10.0'`;
//! .ci/run installs it). Without it every test here says on stderr that it was skipped
//! and why, and passes, unless `WEFT_REQUIRE_TWISTED` is set (as in CI), when it fails.

#[path = "compat/clock_ops.rs"]
mod clock_ops;
mod common;
mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use weft::codec::int32::Int32Decoder;
use weft::codec::line::{LineDecoder, LineFormat};
use weft::host::HostRng;
use weft::programs::poetry::poems::LOOM;
use weft::rand::Rng;

use support::process::{Server, closed_port, run, weft, weft_command};

/// Whether Twisted can be used; if not, says why (past the test harness's capture, so
/// a plain `cargo test` shows it) or fails when Twisted is required.
fn twisted_available(test: &str) -> bool {
    let probe = Command::new("python3")
        .args(["-c", "import twisted; print(twisted.__version__)"])
        .output();
    let why = match probe {
        Ok(out) if out.status.success() => return true,
        Ok(out) => String::from_utf8_lossy(&out.stderr)
            .lines()
            .last()
            .unwrap_or("import failed")
            .to_owned(),
        Err(error) => format!("cannot run python3: {error}"),
    };
    let message = format!(
        "compat: SKIPPED {test}: Twisted is not available (`python3 -c \"import twisted\"`: \
         {why}); install it with `python3 -m pip install --user 'twisted==26.10.0'`"
    );
    if std::env::var_os("WEFT_REQUIRE_TWISTED").is_some() {
        panic!("{message} (WEFT_REQUIRE_TWISTED is set)");
    }
    let _ = writeln!(std::io::stderr(), "{message}");
    false
}

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("compat")
        .join(name)
}

/// `python3 compat/NAME ARGS`.
fn python(name: &str, args: &[&str]) -> Command {
    let mut command = Command::new("python3");
    command.arg(script(name)).args(args);
    command
}

/// A poem file for this test: bytes that are not text, and longer than one read.
struct PoemFile(PathBuf);

impl PoemFile {
    fn new(test: &str, bytes: &[u8]) -> Self {
        let path = std::env::temp_dir().join(format!("weft-compat-{}-{test}", std::process::id()));
        std::fs::write(&path, bytes).expect("write the poem");
        Self(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().expect("utf-8 path")
    }
}

impl Drop for PoemFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn binary_poem() -> Vec<u8> {
    (0..=255u8).cycle().take(100_000).collect()
}

#[test]
fn twisted_poetry_client_reads_weft_fast_poetry_byte_for_byte() {
    if !twisted_available("twisted_poetry_client_reads_weft_fast_poetry_byte_for_byte") {
        return;
    }
    let poem = binary_poem();
    let file = PoemFile::new("client", &poem);
    for (args, want) in [
        (vec!["fast-poetry"], LOOM.as_bytes()),
        (vec!["fast-poetry", file.path()], poem.as_slice()),
    ] {
        let server = Server::weft(&args);
        let ran = run(&mut python("twisted_poetry_client.py", &[&server.port()]));
        assert_eq!(ran.code, 0, "{args:?}: {}", ran.stderr);
        assert!(ran.stdout == want, "{args:?}: {} bytes", ran.stdout.len());
    }
}

#[test]
fn weft_get_poetry_reads_twisted_fast_poetry_byte_for_byte() {
    if !twisted_available("weft_get_poetry_reads_twisted_fast_poetry_byte_for_byte") {
        return;
    }
    let poem = binary_poem();
    let file = PoemFile::new("server", &poem);
    let server = Server::spawn(&mut python("twisted_fastpoetry.py", &[file.path()]));
    let port = server.port();
    let ran = weft(&["get-poetry", "--report", "raw", &port, &port]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(ran.stdout == [poem.as_slice(), &poem].concat());
    let ran = weft(&["get-poetry", &port]);
    assert!(
        ran.out().contains("Task 1: 100000 bytes of poetry"),
        "{}",
        ran.out()
    );
}

#[test]
fn twisted_transform_client_gets_the_poem_from_weft_transform_server() {
    if !twisted_available("twisted_transform_client_gets_the_poem_from_weft_transform_server") {
        return;
    }
    let file = PoemFile::new("transform", LOOM.as_bytes());
    let server = Server::weft(&["transform-server"]);
    let ran = run(&mut python(
        "twisted_transform_client.py",
        &[&server.port(), file.path()],
    ));
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(ran.stdout == LOOM.to_ascii_lowercase().as_bytes());
    let ran = run(&mut python(
        "twisted_transform_client.py",
        &["--name", "rot13", &server.port(), file.path()],
    ));
    let once = ran.stdout.clone();
    assert!(once.len() == LOOM.len() && once != LOOM.as_bytes());
    let unknown = run(&mut python(
        "twisted_transform_client.py",
        &["--name", "bogus", &server.port(), file.path()],
    ));
    assert_eq!(unknown.code, 1, "no reply for an unknown transform");
}

#[test]
fn weft_transform_client_gets_the_poem_from_twisted_transform_server() {
    if !twisted_available("weft_transform_client_gets_the_poem_from_twisted_transform_server") {
        return;
    }
    let server = Server::spawn(&mut python("twisted_transform_server.py", &[]));
    let ran = weft(&["transform-client", &server.port(), "loom"]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(ran.stdout == LOOM.to_ascii_lowercase().as_bytes());
    let ran = weft(&["transform-client", "--name", "bogus", &server.port()]);
    assert_eq!(ran.code, 1);
    assert!(
        ran.stderr
            .contains("transform server closed the connection without a reply"),
        "{}",
        ran.stderr
    );
}

/// Sends `request` in one write and reads until the server closes (or resets).
fn exchange(port: u16, request: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let _ = stream.write_all(request);
    let mut reply = Vec::new();
    let _ = stream.read_to_end(&mut reply);
    reply
}

#[test]
fn weft_and_twisted_transform_servers_answer_every_request_with_the_same_bytes() {
    if !twisted_available(
        "weft_and_twisted_transform_servers_answer_every_request_with_the_same_bytes",
    ) {
        return;
    }
    let twisted = Server::spawn(&mut python("twisted_transform_server.py", &[]));
    let ours = Server::weft(&["transform-server"]);
    for &(request, expected) in common::transform::OBSERVED_REPLIES {
        let theirs = exchange(twisted.port, request);
        let mine = exchange(ours.port, request);
        let shown = request.escape_ascii();
        assert_eq!(
            theirs.escape_ascii().to_string(),
            expected.escape_ascii().to_string(),
            "twisted, {shown}"
        );
        assert_eq!(
            mine.escape_ascii().to_string(),
            theirs.escape_ascii().to_string(),
            "weft, {shown}"
        );
    }
}

#[test]
fn twisted_client_reads_through_weft_proxy_in_front_of_twisted_fast_poetry() {
    if !twisted_available("twisted_client_reads_through_weft_proxy_in_front_of_twisted_fast_poetry")
    {
        return;
    }
    let poem = binary_poem();
    let file = PoemFile::new("proxy", &poem);
    let upstream = Server::spawn(&mut python("twisted_fastpoetry.py", &[file.path()]));
    let proxy = Server::weft(&["proxy", &upstream.port()]);
    for _ in 0..2 {
        let ran = run(&mut python("twisted_poetry_client.py", &[&proxy.port()]));
        assert_eq!(ran.code, 0, "{}", ran.stderr);
        assert!(ran.stdout == poem);
    }
    let log = proxy.stop();
    assert_eq!(
        log.matches("Fetching poem from server.").count(),
        1,
        "{log}"
    );
    assert_eq!(log.matches("Using cached poem.").count(), 1, "{log}");
}

#[test]
fn weft_get_poetry_reads_through_twisted_proxy_in_front_of_weft_fast_poetry() {
    if !twisted_available(
        "weft_get_poetry_reads_through_twisted_proxy_in_front_of_weft_fast_poetry",
    ) {
        return;
    }
    let upstream = Server::weft(&["fast-poetry", "clock"]);
    let proxy = Server::spawn(&mut python("twisted_proxy.py", &[&upstream.port()]));
    let ran = weft(&["get-poetry", "--report", "raw", &proxy.port()]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let clock = weft::programs::poetry::poems::CLOCK.as_bytes();
    assert!(ran.stdout == clock);
    let ran = weft(&[
        "get-poetry",
        "--report",
        "raw",
        &proxy.port(),
        &proxy.port(),
    ]);
    assert!(ran.stdout == [clock, clock].concat());
    let log = upstream.stop();
    assert_eq!(
        log.matches("sending 653 bytes of poetry").count(),
        1,
        "{log}"
    );
}

/// One framing case for `compat/twisted_framing.py`: a codec, its settings, and the
/// reads of a stream drawn from bytes that make frames, near-frames and overlong ones.
fn framing_case(rng: &mut impl Rng, line: bool) -> (String, Vec<u8>, usize, Vec<Vec<u8>>) {
    let delimiters: [&[u8]; 5] = [b"\r\n", b"\n", b"aa", b"aba", b"\r\n\r\n"];
    let delimiter = if line {
        delimiters[rng.random_range(0..delimiters.len())].to_vec()
    } else {
        Vec::new()
    };
    let alphabet: &[u8] = if line {
        b"\r\nabx"
    } else {
        &[0, 0, 0, 1, 2, 3, 9, 255]
    };
    let max_length = rng.random_range(0..12);
    let len = rng.random_range(0..40);
    let stream: Vec<u8> = (0..len)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())])
        .collect();
    let mut cuts: Vec<usize> = (0..rng.random_range(0..6))
        .map(|_| rng.random_range(0..=len))
        .collect();
    cuts.sort_unstable();
    let mut chunks = Vec::new();
    let mut start = 0;
    for cut in cuts.into_iter().chain([len]) {
        chunks.push(stream[start..cut].to_vec());
        start = cut;
    }
    let kind = if line { "line" } else { "int32" };
    (kind.to_owned(), delimiter, max_length, chunks)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What weft's decoder makes of a case, in the script's output format.
fn weft_framing(kind: &str, delimiter: &[u8], max_length: usize, chunks: &[Vec<u8>]) -> String {
    let mut frames = Vec::new();
    let mut on_frame = |f: &[u8]| frames.push(hex(f));
    let exceeded = if kind == "line" {
        let format = LineFormat::new()
            .with_delimiter(delimiter)
            .expect("not empty")
            .with_max_length(max_length);
        let mut decoder = LineDecoder::new(format);
        chunks
            .iter()
            .any(|c| decoder.decode(c, &mut on_frame).is_err())
    } else {
        let mut decoder = Int32Decoder::with_max_length(max_length);
        chunks
            .iter()
            .any(|c| decoder.decode(c, &mut on_frame).is_err())
    };
    format!(
        "{}|{}|{}",
        frames.len(),
        frames.join(","),
        u8::from(exceeded)
    )
}

#[test]
fn line_and_int32_decoders_agree_with_twisteds_receivers_on_seeded_streams() {
    if !twisted_available("line_and_int32_decoders_agree_with_twisteds_receivers_on_seeded_streams")
    {
        return;
    }
    let mut rng = HostRng::new(0x0771_57ed, 0);
    let cases: Vec<_> = (0..4000)
        .map(|i| framing_case(&mut rng, i % 2 == 0))
        .collect();
    let input: String = cases
        .iter()
        .map(|(kind, delimiter, max, chunks)| {
            let chunks: Vec<String> = chunks.iter().map(|c| hex(c)).collect();
            format!("{kind}|{}|{max}|{}\n", hex(delimiter), chunks.join(","))
        })
        .collect();
    let mut child = python("twisted_framing.py", &[])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run python3");
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(input.as_bytes())
        .expect("write the cases");
    let out = child.wait_with_output().expect("the script's output");
    assert!(out.status.success(), "twisted_framing.py failed");
    let twisted = String::from_utf8(out.stdout).expect("utf-8");
    let twisted: Vec<&str> = twisted.lines().collect();
    assert_eq!(twisted.len(), cases.len());
    for ((kind, delimiter, max, chunks), expected) in cases.iter().zip(twisted) {
        assert_eq!(
            weft_framing(kind, delimiter, *max, chunks),
            expected,
            "{kind} delimiter {delimiter:?} max {max} reads {chunks:?}"
        );
    }
}

/// How many upstream fetches a proxy makes when four clients miss its empty cache at
/// once in front of a slow server, and what it says: the proxy's own lines (those of
/// the text), and the fetches counted at the server.
fn four_misses_then_a_hit(proxy: Server, upstream: Server) -> (Vec<String>, usize) {
    let poem = weft::programs::poetry::poems::TEN_BYTES.as_bytes();
    let port = proxy.port();
    let ran = weft(&["get-poetry", "--report", "raw", &port, &port, &port, &port]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(ran.stdout == poem.repeat(4), "{} bytes", ran.stdout.len());
    let ran = weft(&["get-poetry", "--report", "raw", &port]);
    assert!(ran.stdout == poem, "the cached poem");
    let (_, lines) = proxy.signal("TERM");
    let said = lines
        .into_iter()
        .filter(|l| l == "Fetching poem from server." || l == "Using cached poem.")
        .collect();
    (said, fetches_at(upstream))
}

/// A slow upstream (623 bytes in 0.2 s steps of 100): the four clients' connects all
/// land while the first fetch is still under way. Its log is merged into its stdout,
/// so its lines are counted wherever it writes them.
fn slow_upstream() -> Server {
    let mut command = Command::new("sh");
    command
        .args(["-c", "exec \"$0\" \"$@\" 2>&1", env!("CARGO_BIN_EXE_weft")])
        .args([
            "slow-poetry",
            "--num-bytes",
            "100",
            "--delay",
            "0.2",
            "ten-bytes",
        ])
        // The driver's own `listening on` record would come before the startup line.
        .env("RUST_LOG", "info,weft::net=warn");
    Server::spawn(&mut command)
}

/// The connections the server took: one `Somebody at ... wants poetry!` each.
fn fetches_at(upstream: Server) -> usize {
    let (_, lines) = upstream.signal("TERM");
    lines.iter().filter(|l| l.contains("wants poetry!")).count()
}

#[test]
fn original_proxy_1_0_and_weft_proxy_1_0_fetch_once_per_waiting_client() {
    if !twisted_available("original_proxy_1_0_and_weft_proxy_1_0_fetch_once_per_waiting_client") {
        return;
    }
    let fetching = "Fetching poem from server.";
    let text_lines = [fetching, fetching, fetching, fetching, "Using cached poem."];
    let upstream = slow_upstream();
    let mut original = python("twisted_proxy_1_0.py", &[&upstream.port()]);
    let original = Server::spawn(original.env("PYTHONUNBUFFERED", "1"));
    let weft_1_0 =
        |upstream: &Server| Server::weft(&["proxy", "--proxy-version", "1.0", &upstream.port()]);
    for proxy in [&original, &weft_1_0(&upstream)] {
        let announced = format!("Proxying ('127.0.0.1', {}) on IPv4Address(", upstream.port);
        assert!(
            proxy.first_line.starts_with(&announced),
            "{}",
            proxy.first_line
        );
    }
    let theirs = four_misses_then_a_hit(original, upstream);
    assert_eq!(
        theirs,
        (text_lines.map(String::from).to_vec(), 4),
        "Twisted"
    );
    let upstream = slow_upstream();
    let ours = four_misses_then_a_hit(weft_1_0(&upstream), upstream);
    assert_eq!(ours, theirs, "weft's proxy 1.0 against the original");
    // weft's own proxy, for contrast: one fetch in flight for all four.
    let upstream = slow_upstream();
    let proxy = Server::weft(&["proxy", &upstream.port()]);
    let (_, fetches) = four_misses_then_a_hit(proxy, upstream);
    assert_eq!(fetches, 1, "weft's proxy shares the fetch");
}

/// Starts `command` with its output piped; after `wait`, says whether it was still
/// running, then kills it (if it was) and returns that with its stdout and stderr.
fn still_running_after(command: &mut Command, wait: Duration) -> (bool, String, String) {
    let mut child = command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the client starts");
    std::thread::sleep(wait);
    let running = child.try_wait().expect("wait").is_none();
    let _ = child.kill();
    let out = child.wait_with_output().expect("the client's output");
    let text = |bytes: Vec<u8>| String::from_utf8_lossy(&bytes).into_owned();
    (running, text(out.stdout), text(out.stderr))
}

#[test]
fn client_3_0_hangs_on_a_failed_server_in_twisted_and_in_weft_and_3_1_exits_in_both() {
    if !twisted_available("client_3_0_hangs_on_a_failed_server") {
        return;
    }
    let server = Server::weft(&["fast-poetry", "ten-bytes"]);
    let (live, dead) = (server.port(), closed_port());
    // Long enough for both to connect, read the poem and hear of the refusal; a hang
    // never ends, so this bound only has to be generous, never exact.
    let wait = Duration::from_secs(3);
    let twisted = still_running_after(&mut python("twisted_client_3_0.py", &[&live, &dead]), wait);
    let mut ours = weft_command(&["get-poetry", "--client", "3.0", &live, &dead]);
    ours.env("RUST_LOG", "debug");
    let ours = still_running_after(&mut ours, wait);
    assert!(twisted.0, "Twisted's client 3.0 exited: {twisted:?}");
    assert!(ours.0, "weft's client 3.0 exited: {ours:?}");
    assert_eq!(
        ours.1, twisted.1,
        "the same output so far (none: poems print at the stop)"
    );
    assert_eq!(ours.1, "");
    assert!(
        ours.2.contains("poem received") && ours.2.contains("waiting forever"),
        "weft's got the poem and then waits, rather than being slow: {}",
        ours.2
    );

    let twisted = run(&mut python(
        "twisted_client_3_0.py",
        &["--errback", &live, &dead],
    ));
    let ours = weft(&["get-poetry", "--client", "3.1", &live, &dead]);
    assert_eq!((twisted.code, ours.code), (0, 0), "both stop their reactor");
    assert_eq!(
        ours.out().trim_end(),
        twisted.out().trim_end(),
        "the same poem, printed at the end"
    );
    assert!(
        twisted.stderr.starts_with("Poem failed: "),
        "{}",
        twisted.stderr
    );
    assert!(
        ours.stderr.lines().any(|l| l.starts_with("Poem failed: ")),
        "{}",
        ours.stderr
    );
}
