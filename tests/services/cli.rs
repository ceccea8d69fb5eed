//! `weft serve` as a process.

use std::io::{BufRead, BufReader, Read};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

use weft::programs::poetry::poems::{CLOCK, TEN_BYTES};

use super::{TIMEOUT, exchange, folder, port_of, refused};

/// `weft serve FILE` run in `dir`, its output read line by line; killed when dropped.
struct Served {
    child: Child,
    stdout: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
    stderr_seen: Vec<String>,
}

fn lines(stream: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

impl Served {
    fn start(dir: &Path, file: &str) -> Self {
        let path = dir.join("services.toml");
        std::fs::write(&path, file).expect("write the services file");
        let mut child = Command::new(env!("CARGO_BIN_EXE_weft"))
            .args(["serve", "services.toml"])
            .current_dir(dir)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("weft serve starts");
        let stdout = lines(child.stdout.take().expect("stdout"));
        let stderr = lines(child.stderr.take().expect("stderr"));
        Self {
            child,
            stdout,
            stderr,
            stderr_seen: Vec::new(),
        }
    }

    /// The next stdout line.
    fn line(&mut self) -> String {
        match self.stdout.recv_timeout(TIMEOUT) {
            Ok(line) => line,
            Err(error) => panic!("no line on stdout ({error}); stderr: {:?}", self.stderr()),
        }
    }

    /// The port at the end of the next stdout line (`Serving loom on 127.0.0.1:PORT.`).
    fn port(&mut self) -> u16 {
        port_of(&self.line())
    }

    /// The ports of the next startup lines, one per prefix, in the prefixes' order
    /// (services start side by side: their lines may come in any order).
    fn ports(&mut self, prefixes: &[&str]) -> Vec<u16> {
        let lines: Vec<String> = prefixes.iter().map(|_| self.line()).collect();
        prefixes
            .iter()
            .map(|prefix| {
                let line = lines
                    .iter()
                    .find(|line| line.starts_with(prefix))
                    .unwrap_or_else(|| panic!("no line starts with {prefix:?}: {lines:?}"));
                port_of(line)
            })
            .collect()
    }

    /// Waits for a stderr line containing `text`.
    fn wait_stderr(&mut self, text: &str) {
        while !self.stderr_seen.iter().any(|line| line.contains(text)) {
            match self.stderr.recv_timeout(TIMEOUT) {
                Ok(line) => self.stderr_seen.push(line),
                Err(_) => panic!("no {text:?} on stderr: {:?}", self.stderr_seen),
            }
        }
    }

    /// Everything on stderr so far.
    fn stderr(&mut self) -> Vec<String> {
        self.stderr_seen.extend(self.stderr.try_iter());
        self.stderr_seen.clone()
    }

    /// Sends `signal` (`TERM`, `INT`); returns the exit status, the rest of stdout and
    /// all of stderr.
    fn signal(mut self, signal: &str) -> (Option<i32>, Vec<String>, Vec<String>) {
        let sent = Command::new("kill")
            .args([format!("-{signal}"), self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "kill -{signal} failed");
        let status = self.child.wait().expect("weft serve ends");
        let rest = std::iter::from_fn(|| self.stdout.recv_timeout(TIMEOUT).ok()).collect();
        self.stderr_seen.extend(std::iter::from_fn(|| {
            self.stderr.recv_timeout(TIMEOUT).ok()
        }));
        (status.code(), rest, self.stderr_seen.clone())
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `weft serve ARGS` to its end: status, stdout, stderr.
fn serve_once(args: &[&str], dir: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_weft"))
        .arg("serve")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("weft serve runs");
    (
        out.status.code().expect("exited"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const FAST_AND_TRANSFORM: &str = r#"
[[service]]
name = "fast"
program = "fast-poetry"
poem = "clock"

[[service]]
name = "xform"
program = "transform-server"
idle-timeout = 5
"#;

#[test]
fn two_services_serve_at_once_from_one_process() {
    let dir = folder("two");
    let mut served = Served::start(&dir, FAST_AND_TRANSFORM);
    let ports = served.ports(&[
        "Serving clock on 127.0.0.1:",
        "Serving transforms on 127.0.0.1:",
    ]);
    let (fast_port, xform_port) = (ports[0], ports[1]);
    assert!(exchange(fast_port, b"") == CLOCK.as_bytes());
    let reply = exchange(xform_port, b"27:cummingsify.HERE IS MY POEM,");
    assert_eq!(reply, b"15:here is my poem,");

    let (code, rest, stderr) = served.signal("TERM");
    assert_eq!(code, Some(0), "{stderr:?}");
    assert_eq!(rest, ["Stopped by SIGTERM; closing 0 connections."]);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_service_whose_port_is_taken_is_reported_while_the_other_serves() {
    let dir = folder("taken");
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let taken_port = taken.local_addr().expect("addr").port();
    let file = format!(
        r#"
        [[service]]
        name = "busy"
        program = "fast-poetry"
        port = {taken_port}

        [[service]]
        name = "free"
        program = "fast-poetry"
        poem = "ten-bytes"
        "#
    );
    let mut served = Served::start(&dir, &file);
    let free_port = served.port();
    served.wait_stderr("service \"busy\" exited with status 1; 1 service goes on.");
    assert!(exchange(free_port, b"") == TEN_BYTES.as_bytes());

    let (code, rest, stderr) = served.signal("TERM");
    assert_eq!(
        code,
        Some(1),
        "a failed service fails the process: {stderr:?}"
    );
    assert_eq!(rest, ["Stopped by SIGTERM; closing 0 connections."]);
    let listen_error = format!("127.0.0.1:{taken_port}");
    assert!(
        stderr
            .iter()
            .any(|l| l.starts_with("error: ") && l.contains(&listen_error)),
        "{stderr:?}"
    );
    assert_eq!(
        stderr.last().map(String::as_str),
        Some("1 of 2 services failed: \"busy\" (exit status 1)")
    );
    drop(taken);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn every_service_failing_ends_the_process_at_once_with_status_1() {
    let dir = folder("all-fail");
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let file =
        format!("[[service]]\nname = \"only\"\nprogram = \"transform-server\"\nport = {port}\n");
    std::fs::write(dir.join("services.toml"), file).expect("write");
    let (code, stdout, stderr) = serve_once(&["services.toml"], &dir);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(stdout, "");
    assert!(
        stderr.contains("service \"only\" exited with status 1; no service is left."),
        "{stderr}"
    );
    assert!(
        stderr.ends_with("1 of 1 services failed: \"only\" (exit status 1)\n"),
        "{stderr}"
    );
    drop(taken);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn sigterm_closes_every_listener_and_connection_and_exits_0() {
    let dir = folder("sigterm");
    // One byte every 10 ms of a 653-byte poem: the download is open for seconds.
    let file = r#"
        [[service]]
        name = "slow"
        program = "slow-poetry"
        num-bytes = 1
        delay = "10ms"
        poem = "clock"

        [[service]]
        name = "fast"
        program = "fast-poetry"
    "#;
    let mut served = Served::start(&dir, file);
    let ports = served.ports(&["Serving clock on", "Serving loom on"]);
    let (slow_port, fast_port) = (ports[0], ports[1]);
    let mut download = TcpStream::connect(("127.0.0.1", slow_port)).expect("connects");
    download.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    let mut first = [0; 1];
    download.read_exact(&mut first).expect("the first byte");

    let (code, rest, stderr) = served.signal("TERM");
    assert_eq!(code, Some(0), "{stderr:?}");
    assert_eq!(rest, ["Stopped by SIGTERM; closing 1 connections."]);
    // The download ends (closed or reset) short of the poem, and both ports are shut.
    let mut got = Vec::new();
    let _ = download.read_to_end(&mut got);
    assert!(got.len() + 1 < CLOCK.len(), "{} bytes", got.len());
    assert!(refused(slow_port) && refused(fast_port));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn sigint_stops_the_services_as_sigterm_does() {
    let dir = folder("sigint");
    let mut served = Served::start(&dir, FAST_AND_TRANSFORM);
    let (fast, xform) = (served.port(), served.port());
    let (code, rest, stderr) = served.signal("INT");
    assert_eq!(code, Some(0), "{stderr:?}");
    assert_eq!(rest, ["Stopped by SIGINT; closing 0 connections."]);
    assert!(refused(fast) && refused(xform));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_bad_file_is_refused_with_a_message_naming_its_key() {
    let dir = folder("bad");
    let service = "[[service]]\nname = \"slow\"\nprogram = \"slow-poetry\"\n";
    let cases = [
        (
            format!("{service}num-byte = 3"),
            "error: services.toml: service \"slow\": bad options for slow-poetry: unknown field `num-byte`, expected one of",
        ),
        (
            format!("{service}delay = \"soon\""),
            "bad options for slow-poetry: `delay`: invalid duration \"soon\"",
        ),
        (
            format!("{service}port = 70000"),
            "`port`: invalid value: integer `70000`, expected a whole number from 0 to 65535",
        ),
        (
            format!("{service}poem = \"no-such-poem.txt\""),
            "`poem`: no such file or built-in poem: no-such-poem.txt",
        ),
        (
            "[[services]]\nname = \"slow\"".to_owned(),
            "unknown field `services`, expected `log` or `service`",
        ),
        (
            format!("[log]\nfile = \"w.log\"\nrotate = \"dialy\"\n{service}"),
            "unknown variant `dialy`, expected one of `never`, `minutely`, `hourly`, `daily`, `weekly`",
        ),
        (
            format!("{service}port = 7001\n{service}"),
            "two services are named \"slow\"",
        ),
        (
            format!(
                "{service}port = 7001\n[[service]]\nname = \"fast\"\nprogram = \"fast-poetry\"\nport = 7001"
            ),
            "services \"slow\" and \"fast\" both listen on port 7001",
        ),
        (
            "[[service]]\nname = \"x\"\nprogram = \"slow-poem\"".to_owned(),
            "service \"x\": unknown program \"slow-poem\"; known programs: fast-poetry, proxy, slow-poetry, transform-server",
        ),
    ];
    for (file, message) in cases {
        std::fs::write(dir.join("services.toml"), &file).expect("write");
        let (code, stdout, stderr) = serve_once(&["services.toml"], &dir);
        assert_eq!(code, 2, "{file}\n{stderr}");
        assert_eq!(stdout, "");
        assert!(stderr.contains(message), "{file}\n{stderr}");
        for rust in ["u16", "usize", "struct ", "enum ", "Option<"] {
            assert!(!stderr.contains(rust), "{file}\n{stderr}");
        }
    }
    let (code, _, stderr) = serve_once(&["missing.toml"], &dir);
    assert_eq!(code, 2);
    assert!(
        stderr.starts_with("error: cannot read missing.toml: "),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_log_goes_to_the_file_of_the_log_table_and_not_to_stderr() {
    let dir = folder("log");
    let file =
        format!("[log]\nfile = \"poetry.log\"\nrotate = \"daily\"\nkeep = 2\n{FAST_AND_TRANSFORM}");
    let mut served = Served::start(&dir, &file);
    let ports = served.ports(&["Serving clock on", "Serving transforms on"]);
    let (fast, xform) = (ports[0], ports[1]);
    assert!(exchange(fast, b"") == CLOCK.as_bytes());
    let (code, _, stderr) = served.signal("TERM");
    assert_eq!(code, Some(0), "{stderr:?}");
    assert!(stderr.is_empty(), "log records went to stderr: {stderr:?}");

    // poetry.log links to the newest of poetry.log.DATE.
    let log = std::fs::read_to_string(dir.join("poetry.log")).expect("the log, through its link");
    assert!(
        log.contains(&format!(
            "service{{name=fast}}: weft::net::driver: listening on 127.0.0.1:{fast}"
        )),
        "{log}"
    );
    assert!(
        log.contains(&format!(
            "service{{name=xform}}: weft::net::driver: listening on 127.0.0.1:{xform}"
        )),
        "{log}"
    );
    assert!(log.contains("sending 653 bytes of poetry"), "{log}");
    let dated: Vec<String> = std::fs::read_dir(&dir)
        .expect("list")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.starts_with("poetry.log."))
        .collect();
    assert_eq!(dated.len(), 1, "{dated:?}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn an_unrotated_log_is_the_file_itself() {
    let dir = folder("log-never");
    let file = format!("[log]\nfile = \"logs/serve.log\"\nlevel = \"warn\"\n{FAST_AND_TRANSFORM}");
    std::fs::create_dir(dir.join("logs")).expect("mkdir");
    let mut served = Served::start(&dir, &file);
    let _ = (served.port(), served.port());
    let (code, _, stderr) = served.signal("TERM");
    assert_eq!(code, Some(0), "{stderr:?}");
    let log = std::fs::read_to_string(dir.join("logs/serve.log")).expect("the log");
    assert!(
        !log.contains("listening on"),
        "level warn leaves out info: {log}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_sample_services_file_checks_out() {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/services.toml");
    let sample = sample.to_str().expect("utf-8 path");
    let dir = folder("sample");
    let (code, stdout, stderr) = serve_once(&["--check", sample], &dir);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout,
        "slow: slow-poetry\nserial: slow-poetry\nfast: fast-poetry\ntransform: transform-server\n\
         proxy: proxy\n5 services; logs to poetry.log (rotate: daily)\n"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_sample_services_file_serves_every_server_of_the_series() {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/services.toml");
    let text = std::fs::read_to_string(sample).expect("the sample");
    // Free ports instead of the text's, which another program may hold.
    let text: String = text
        .lines()
        .map(|line| {
            if line.starts_with("port = ") {
                "port = 0"
            } else {
                line
            }
        })
        .map(|line| format!("{line}\n"))
        .collect();
    let dir = folder("sample-run");
    let mut served = Served::start(&dir, &text);
    let ports = served.ports(&[
        "Serving loom on 127.0.0.1:",
        "Serving ten-bytes one client at a time on 127.0.0.1:",
        "Serving clock on 127.0.0.1:",
        "Serving transforms on 127.0.0.1:",
        "Proxying 127.0.0.1:10001 on 127.0.0.1:",
    ]);
    assert!(exchange(ports[2], b"") == CLOCK.as_bytes());
    let (code, rest, stderr) = served.signal("TERM");
    assert_eq!(code, Some(0), "{stderr:?}");
    assert_eq!(rest, ["Stopped by SIGTERM; closing 0 connections."]);
    let log = std::fs::read_to_string(dir.join("poetry.log")).expect("the sample's log");
    assert!(log.contains("service{name=fast}"), "{log}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_poem_file_is_read_from_the_current_directory() {
    let dir = folder("poem-file");
    std::fs::write(dir.join("mine.txt"), "a poem of my own\n").expect("write");
    let file = "[[service]]\nname = \"mine\"\nprogram = \"fast-poetry\"\npoem = \"mine.txt\"\n";
    let mut served = Served::start(&dir, file);
    let line = served.line();
    assert!(line.starts_with("Serving mine.txt on 127.0.0.1:"), "{line}");
    assert_eq!(exchange(port_of(&line), b""), b"a poem of my own\n");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn serve_lists_the_programs_a_service_can_run() {
    let (code, stdout, _) = serve_once(&["--programs"], &std::env::temp_dir());
    assert_eq!(code, 0);
    for line in [
        "slow-poetry",
        "    num-bytes            bytes                        default 10",
        "    upstream             [host:]port                  required",
        "    idle-timeout         seconds or never             default 2m",
    ] {
        assert!(stdout.lines().any(|l| l == line), "{line:?} in\n{stdout}");
    }
}
