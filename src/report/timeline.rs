//! Reading a transcript's `who` column back into hosts, connection ends and directions,
//! and its fault lines back into faults: what every view of a run needs.
//!
//! SimNet labels events in four ways: `net` for faults, `HOST` for a host's lines and
//! failed connects, `HOST:PORT` for one end of a connection (opens, losses), and
//! `HOST:PORT > HOST:PORT` for what one end sent and the other read (data, end of
//! stream).

use std::fmt;

/// One end of a connection: a host and a port.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Endpoint {
    /// The host's name.
    pub host: String,
    /// The port.
    pub port: u16,
}

impl Endpoint {
    /// Parses `HOST:PORT`.
    pub fn parse(label: &str) -> Option<Self> {
        let (host, port) = label.rsplit_once(':')?;
        if host.is_empty() || host.contains(' ') {
            return None;
        }
        Some(Self {
            host: host.to_owned(),
            port: port.parse().ok()?,
        })
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// What a transcript event's `who` column names.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Subject {
    /// The network itself (faults).
    Net,
    /// A host (its output and log lines, failed connects, timers).
    Host(String),
    /// One end of a connection.
    End(Endpoint),
    /// A direction of a connection: what `from` sent and `to` read.
    Direction {
        /// The sending end.
        from: Endpoint,
        /// The receiving end.
        to: Endpoint,
    },
}

impl Subject {
    /// Classifies a `who` label.
    pub fn parse(who: &str) -> Self {
        if who == "net" {
            return Self::Net;
        }
        if let Some((from, to)) = who.split_once(" > ")
            && let (Some(from), Some(to)) = (Endpoint::parse(from), Endpoint::parse(to))
        {
            return Self::Direction { from, to };
        }
        match Endpoint::parse(who) {
            Some(end) => Self::End(end),
            None => Self::Host(who.to_owned()),
        }
    }

    /// The host whose lane the event belongs to (the receiver, for a direction).
    pub fn host(&self) -> Option<&str> {
        match self {
            Self::Net => None,
            Self::Host(host) => Some(host),
            Self::End(end) | Self::Direction { to: end, .. } => Some(&end.host),
        }
    }
}

/// A fault line of the transcript (`FAULT ...`), read back.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum FaultMark {
    /// Traffic between two hosts is cut (both ways unless `one_way`).
    Partition {
        /// One host.
        a: String,
        /// The other.
        b: String,
        /// Only `a` to `b` is cut.
        one_way: bool,
    },
    /// A partition ends.
    Heal {
        /// One host.
        a: String,
        /// The other.
        b: String,
        /// Only `a` to `b` heals.
        one_way: bool,
    },
    /// A host crashed.
    Crash(String),
    /// A crashed host restarted.
    Restart(String),
    /// Another fault touching one host at an instant (a reset, a clock jump).
    Instant {
        /// The host it touches.
        host: String,
        /// The transcript's description.
        text: String,
    },
    /// A fault touching the whole network (a latency change).
    Global(String),
}

impl FaultMark {
    /// Reads the description SimNet writes for a fault.
    pub fn parse(text: &str) -> Self {
        let words: Vec<&str> = text.split(' ').collect();
        let pair = |rest: &[&str]| match rest {
            [a, arrow @ ("<->" | "->"), b, ..] => {
                Some(((*a).to_owned(), (*b).to_owned(), *arrow == "->"))
            }
            _ => None,
        };
        match words.as_slice() {
            ["partition", rest @ ..] => {
                if let Some((a, b, one_way)) = pair(rest) {
                    return Self::Partition { a, b, one_way };
                }
            }
            ["heal", rest @ ..] => {
                if let Some((a, b, one_way)) = pair(rest) {
                    return Self::Heal { a, b, one_way };
                }
            }
            ["crash", host] => return Self::Crash((*host).to_owned()),
            ["restart", host] => return Self::Restart((*host).to_owned()),
            ["reset", "connections", "of", host, ..] | ["clock", "of", host, ..] => {
                return Self::Instant {
                    host: (*host).to_owned(),
                    text: text.to_owned(),
                };
            }
            ["latency", a, "<->", ..] => {
                return Self::Instant {
                    host: (*a).to_owned(),
                    text: text.to_owned(),
                };
            }
            _ => {}
        }
        Self::Global(text.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::simnet::{Between, ClockJumpSpec, Fault, FaultAction, PartitionMode, PartitionSpec};

    fn described(action: FaultAction) -> String {
        Fault {
            at: Some(Duration::ZERO),
            after: None,
            action,
        }
        .describe()
    }

    #[test]
    fn labels_name_the_net_hosts_ends_and_directions() {
        assert_eq!(Subject::parse("net"), Subject::Net);
        assert_eq!(Subject::parse("client"), Subject::Host("client".into()));
        let end = |host: &str, port| Endpoint {
            host: host.into(),
            port,
        };
        assert_eq!(
            Subject::parse("poet:10000"),
            Subject::End(end("poet", 10000))
        );
        assert_eq!(
            Subject::parse("poet:10000 > client:40001"),
            Subject::Direction {
                from: end("poet", 10000),
                to: end("client", 40001)
            }
        );
    }

    #[test]
    fn fault_descriptions_read_back_into_faults() {
        let partition = described(FaultAction::Partition(PartitionSpec {
            a: "a".into(),
            b: "b".into(),
            one_way: false,
            mode: PartitionMode::default(),
        }));
        assert_eq!(
            FaultMark::parse(&partition),
            FaultMark::Partition {
                a: "a".into(),
                b: "b".into(),
                one_way: false
            }
        );
        let heal = described(FaultAction::Heal(Between {
            a: "a".into(),
            b: "b".into(),
            one_way: true,
        }));
        assert_eq!(
            FaultMark::parse(&heal),
            FaultMark::Heal {
                a: "a".into(),
                b: "b".into(),
                one_way: true
            }
        );
        assert_eq!(
            FaultMark::parse(&described(FaultAction::Crash("poet".into()))),
            FaultMark::Crash("poet".into())
        );
        assert_eq!(
            FaultMark::parse(&described(FaultAction::Restart("poet".into()))),
            FaultMark::Restart("poet".into())
        );
        let jump = described(FaultAction::ClockJump(ClockJumpSpec {
            host: "h".into(),
            by: Duration::from_secs(5),
        }));
        assert!(matches!(FaultMark::parse(&jump), FaultMark::Instant { host, .. } if host == "h"));
    }
}
