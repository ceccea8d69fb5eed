//! `weft bench pingpong --vs-twisted`: the anchor measured beside weft's figure, Twisted's
//! `iosim` ping-pong (compat/twisted_pingpong_iosim.py, built into the binary). One
//! Python process serves the whole bench: it runs one ping-pong each time it is asked,
//! so weft's repetitions and Twisted's can take turns and see the same machine.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use super::Measured;

/// The script, run with `python3 -c`.
const SCRIPT: &str = include_str!("../../../compat/twisted_pingpong_iosim.py");

/// Why the anchor cannot be measured here, if it cannot: python3 must import Twisted.
pub(super) fn unavailable() -> Option<String> {
    let why = match Command::new("python3")
        .args(["-c", "import twisted"])
        .output()
    {
        Ok(out) if out.status.success() => return None,
        Ok(out) => String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        Err(error) => format!("python3 would not start: {error}"),
    };
    Some(format!(
        "--vs-twisted needs python3 with Twisted (`python3 -m pip install --user \
         'twisted==26.10.0'`): {why}"
    ))
}

/// The script in `--serve` mode: a line with a number of exchanges in, a
/// `seconds=` line out (the ping-pong's own timing, so the pipe costs nothing).
pub(super) struct TwistedPingPong {
    child: Child,
    requests: ChildStdin,
    answers: BufReader<ChildStdout>,
}

impl TwistedPingPong {
    /// Starts the Python process (Twisted is imported once, here).
    pub(super) fn start() -> Result<Self, String> {
        let mut child = Command::new("python3")
            .args(["-c", SCRIPT, "--serve"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|error| format!("python3 would not start: {error}"))?;
        let requests = child.stdin.take().expect("stdin was piped");
        let answers = BufReader::new(child.stdout.take().expect("stdout was piped"));
        Ok(Self {
            child,
            requests,
            answers,
        })
    }

    /// One run of Twisted's ping-pong over `exchanges` exchanges.
    pub(super) fn once(&mut self, exchanges: u64) -> Result<Measured, String> {
        let failed = |why: String| format!("the Twisted ping-pong failed: {why}");
        writeln!(self.requests, "{exchanges}")
            .and_then(|()| self.requests.flush())
            .map_err(|error| failed(error.to_string()))?;
        let mut line = String::new();
        match self.answers.read_line(&mut line) {
            Ok(0) => return Err(failed("python3 exited (its error is above)".into())),
            Ok(_) => {}
            Err(error) => return Err(failed(error.to_string())),
        }
        let seconds = field(&line, "seconds")
            .ok_or_else(|| failed(format!("it printed no seconds: {}", line.trim())))?;
        Ok(Measured::new(exchanges, Duration::from_secs_f64(seconds)))
    }
}

impl Drop for TwistedPingPong {
    fn drop(&mut self) {
        // The script ends at the end of its input; a stuck one is not waited for.
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// The number after ` key=` in a `key=value` line.
fn field(line: &str, key: &str) -> Option<f64> {
    let value = line
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))?;
    value
        .parse()
        .ok()
        .filter(|s: &f64| s.is_finite() && *s > 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_reads_the_named_value_of_a_bench_line() {
        let line = "twisted_iosim exchanges=200000 runs=3 median_seconds=0.246751 \
                    min_seconds=0.240001 exchanges_per_s=810532";
        assert_eq!(field(line, "median_seconds"), Some(0.246751));
        assert_eq!(field(line, "min_seconds"), Some(0.240001));
        assert_eq!(field(line, "exchanges_per_s"), Some(810532.0));
        assert_eq!(field(line, "seconds"), None);
        assert_eq!(field("seconds=0.012345678\n", "seconds"), Some(0.012345678));
        assert_eq!(field("median_seconds=0", "median_seconds"), None);
    }
}
