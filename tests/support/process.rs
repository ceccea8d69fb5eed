//! Processes for the command-line tests: servers that are killed when dropped, and
//! runs that are killed if they outlive their timeout.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

/// How long a process may run (or a server take to start).
pub const PROCESS_TIMEOUT: Duration = Duration::from_secs(30);

/// `weft ARGS`.
pub fn weft_command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_weft"));
    command.args(args);
    command
}

/// A server process, killed when dropped.
pub struct Server {
    child: Child,
    /// The port from its startup line.
    pub port: u16,
    /// Its startup line.
    pub first_line: String,
    stderr: Option<JoinHandle<String>>,
    lines: mpsc::Receiver<String>,
}

impl Server {
    /// Starts `weft ARGS` (logging at info) and waits for its startup line.
    pub fn weft(args: &[&str]) -> Self {
        let mut command = weft_command(args);
        command.env("RUST_LOG", "info");
        Self::spawn(&mut command)
    }

    /// Starts `command` and waits for its first line on stdout; the port is the last
    /// number in it (`Serving loom on 127.0.0.1:PORT.`, `port=PORT`).
    pub fn spawn(command: &mut Command) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the server starts");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let mut stderr = child.stderr.take().expect("stderr");
        let stderr = Some(std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        }));
        let mut server = Self {
            child,
            port: 0,
            first_line: String::new(),
            stderr,
            lines: rx,
        };
        match server.lines.recv_timeout(PROCESS_TIMEOUT) {
            Ok(line) => server.first_line = line,
            Err(error) => {
                let log = server.stop();
                panic!("{command:?} printed no startup line ({error}); stderr:\n{log}");
            }
        }
        let digits: String = server
            .first_line
            .trim_end_matches(|c: char| !c.is_ascii_digit())
            .chars()
            .rev()
            .take_while(char::is_ascii_digit)
            .collect();
        server.port = digits
            .chars()
            .rev()
            .collect::<String>()
            .parse()
            .unwrap_or_else(|_| panic!("no port in {:?}", server.first_line));
        server
    }

    /// The port, as an argument.
    pub fn port(&self) -> String {
        self.port.to_string()
    }

    /// Sends the server `signal` (`TERM`, `INT`) with `kill(1)` and waits for it to
    /// end; returns its exit status and the lines it printed after the startup line.
    pub fn signal(mut self, signal: &str) -> (Option<i32>, Vec<String>) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args([format!("-{signal}"), pid])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "kill -{signal} failed");
        let status = self.child.wait().expect("the server ends");
        let lines = std::iter::from_fn(|| self.lines.recv_timeout(PROCESS_TIMEOUT).ok()).collect();
        (status.code(), lines)
    }

    /// Kills the server; returns the lines it printed on stdout after the startup
    /// line, and what it wrote on stderr.
    #[allow(dead_code)]
    pub fn stop_with_stdout(mut self) -> (Vec<String>, String) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The reader ends at the pipe's end, which ends the channel.
        let lines = std::iter::from_fn(|| self.lines.recv_timeout(PROCESS_TIMEOUT).ok()).collect();
        let stderr = (self.stderr.take())
            .and_then(|t| t.join().ok())
            .unwrap_or_default();
        (lines, stderr)
    }

    /// Kills the server; returns what it wrote on stderr.
    pub fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.stderr
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a finished process left.
pub struct Ran {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Ran {
    /// Stdout as text.
    pub fn out(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

/// Runs `weft ARGS` (logging at warn) to its end.
pub fn weft(args: &[&str]) -> Ran {
    let mut command = weft_command(args);
    command.env("RUST_LOG", "warn");
    run(&mut command)
}

/// Runs `command` to its end, killing it after [`PROCESS_TIMEOUT`].
pub fn run(command: &mut Command) -> Ran {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the process starts");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stdout.read_to_end(&mut bytes);
        bytes
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let poll = Duration::from_millis(10);
    let mut waited = Duration::ZERO;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if waited > PROCESS_TIMEOUT {
            let _ = child.kill();
            panic!("{command:?} did not finish");
        }
        std::thread::sleep(poll);
        waited += poll;
    };
    Ran {
        code: status.code().expect("exited"),
        stdout: out.join().expect("stdout"),
        stderr: err.join().expect("stderr"),
    }
}

/// A port nobody listens on (bound, read, released).
pub fn closed_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port().to_string()
}
