//! The values the servers' flags take, and the defaults they share with the services
//! file's options (`src/cli/servers.rs`): one constant per default.

use std::time::Duration;

use clap::Args;

use crate::host::HostPort;
use crate::programs::limits::{DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CONNECTIONS, ServerLimits};

/// The interface a server listens on unless told (`--iface`, `iface`).
pub(crate) const DEFAULT_IFACE: &str = "127.0.0.1";

/// The port a server listens on unless told (`--port`, `port`): a free one.
pub(crate) const DEFAULT_PORT: u16 = 0;

/// The poem a server serves unless told (`POEM`, `poem`), as a scenario file's.
pub(crate) use crate::programs::poetry::poems::DEFAULT_POEM;

/// Parses seconds as a float (`0.1`, `5`), as the originals' `--delay` and `--timeout`.
pub(crate) fn seconds(text: &str) -> Result<Duration, String> {
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("expected a number of seconds, got {text:?}"))?;
    Duration::try_from_secs_f64(value)
        .map_err(|_| format!("seconds must be a finite number of at least 0, got {text:?}"))
}

/// Like [`seconds`], but 0 is refused.
pub(crate) fn positive_seconds(text: &str) -> Result<Duration, String> {
    let duration = seconds(text)?;
    if duration.is_zero() {
        return Err(format!("must be more than 0 seconds, got {text:?}"));
    }
    Ok(duration)
}

/// A count of at least 1.
pub(super) fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!(
            "expected a whole number of at least 1, got {text:?}"
        )),
    }
}

/// Where a server listens: the originals' `--port` and `--iface`.
#[derive(Debug, Args)]
pub(crate) struct ListenArgs {
    /// Port to listen on; 0 picks a free one (printed at startup).
    #[arg(long, default_value_t = DEFAULT_PORT)]
    port: u16,
    /// Interface to listen on (0.0.0.0 for every interface).
    #[arg(long, default_value = DEFAULT_IFACE)]
    iface: String,
}

impl ListenArgs {
    pub(super) fn addr(&self) -> HostPort {
        HostPort::new(self.iface.clone(), self.port)
    }
}

/// The limits every server puts on its clients.
#[derive(Debug, Args)]
pub(crate) struct LimitArgs {
    /// Close a connection that sends nothing and takes nothing of what is sent to it
    /// for this many seconds (a float); `never` turns the timeout off.
    #[arg(
        long,
        default_value_t = IdleTimeout(Some(DEFAULT_IDLE_TIMEOUT)),
        value_parser = idle_timeout,
        value_name = "SECONDS"
    )]
    idle_timeout: IdleTimeout,
    /// Close new connections at once while this many are open.
    #[arg(long, default_value_t = DEFAULT_MAX_CONNECTIONS, value_parser = at_least_one)]
    max_connections: usize,
}

impl LimitArgs {
    pub(crate) fn limits(&self) -> ServerLimits {
        ServerLimits::default()
            .idle_timeout(self.idle_timeout.0)
            .max_connections(Some(self.max_connections))
    }
}

/// An idle timeout, or none.
#[derive(Clone, Copy, Debug)]
pub(crate) struct IdleTimeout(pub(crate) Option<Duration>);

/// As the flag takes it: seconds, or `never` (for clap's `[default: ...]`).
impl std::fmt::Display for IdleTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(d) => Seconds(d).fmt(f),
            None => f.write_str("never"),
        }
    }
}

/// A duration as the flags take it: seconds, a float.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Seconds(pub(crate) Duration);

impl std::fmt::Display for Seconds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.as_secs_f64().fmt(f)
    }
}

pub(super) fn delay(text: &str) -> Result<Seconds, String> {
    seconds(text).map(Seconds)
}

pub(super) fn idle_timeout(text: &str) -> Result<IdleTimeout, String> {
    if text == "never" {
        return Ok(IdleTimeout(None));
    }
    positive_seconds(text).map(|d| IdleTimeout(Some(d)))
}

/// How long the proxy keeps a poem.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Expiry(pub(super) Option<Duration>);

pub(super) fn expiry(text: &str) -> Result<Expiry, String> {
    if text == "never" {
        return Ok(Expiry(None));
    }
    seconds(text).map(|d| Expiry(Some(d)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_floats_and_not_negative() {
        assert_eq!(seconds("0.1"), Ok(Duration::from_millis(100)));
        assert_eq!(seconds("5"), Ok(Duration::from_secs(5)));
        assert!(seconds("-1").is_err());
        assert!(seconds("soon").is_err());
        assert!(positive_seconds("0").is_err());
    }

    #[test]
    fn a_duration_flag_shows_its_default_as_the_flag_takes_it() {
        for (value, text) in [
            (IdleTimeout(Some(Duration::from_secs(120))), "120"),
            (IdleTimeout(Some(Duration::from_millis(2500))), "2.5"),
            (IdleTimeout(None), "never"),
        ] {
            assert_eq!(value.to_string(), text);
            assert_eq!(idle_timeout(text).map(|t| t.0), Ok(value.0));
        }
        assert_eq!(Seconds(Duration::from_millis(100)).to_string(), "0.1");
        assert_eq!(delay("0.1").map(|s| s.0), Ok(Duration::from_millis(100)));
    }
}
