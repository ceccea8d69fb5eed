//! `weft bench pingpong --vs-twisted`: the anchor measured beside weft's figure, Twisted's
//! `iosim` ping-pong (compat/twisted_pingpong_iosim.py, built into the binary), one
//! Python run after each of weft's so that both see the same machine.

use std::process::Command;
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

/// One run of Twisted's ping-pong over `exchanges` exchanges.
pub(super) fn run_once(exchanges: u64) -> Result<Measured, String> {
    let out = Command::new("python3")
        .args(["-c", SCRIPT, &exchanges.to_string(), "1"])
        .output()
        .map_err(|error| format!("python3 would not start: {error}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "the Twisted ping-pong failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let seconds = field(&stdout, "median_seconds")
        .ok_or_else(|| format!("the Twisted ping-pong printed no median_seconds: {stdout}"))?;
    Ok(Measured::new(exchanges, Duration::from_secs_f64(seconds)))
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
        let line = "twisted_iosim exchanges=200000 runs=1 median_seconds=0.246751 \
                    exchanges_per_s=810532";
        assert_eq!(field(line, "median_seconds"), Some(0.246751));
        assert_eq!(field(line, "exchanges_per_s"), Some(810532.0));
        assert_eq!(field(line, "seconds"), None);
        assert_eq!(field("median_seconds=0", "median_seconds"), None);
    }
}
