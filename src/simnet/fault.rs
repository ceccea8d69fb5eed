//! Fault schedules as data: what goes wrong, and when.
//!
//! A fault happens at a virtual time (`at`), or when a connection has carried a number
//! of bytes or netstrings (`after`). Seeded [`RandomFaults`](super::RandomFaults)
//! expand, with the run's seed, into an explicit list, so every schedule can be
//! printed, replayed and shrunk.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::config::{Latency, human_duration};

/// How a partition treats packets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", expecting = "\"drop\" or \"hold\"")]
pub enum PartitionMode {
    /// Packets are lost; TCP retransmits them until the partition heals or the
    /// connection times out.
    #[default]
    Drop,
    /// Packets wait at the partition and are all released, in order, when it heals.
    Hold,
}

/// Two hosts, and whether only the `a` to `b` direction is meant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "kebab-case",
    expecting = "a table like { a = \"client\", b = \"server\" }"
)]
pub struct Between {
    /// First host.
    pub a: String,
    /// Second host.
    pub b: String,
    /// Only packets from `a` to `b`.
    #[serde(default)]
    pub one_way: bool,
}

/// A partition between two hosts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "kebab-case",
    expecting = "a table like { a = \"client\", b = \"server\", mode = \"hold\" }"
)]
pub struct PartitionSpec {
    /// First host.
    pub a: String,
    /// Second host.
    pub b: String,
    /// Only packets from `a` to `b`.
    #[serde(default)]
    pub one_way: bool,
    /// Drop or hold.
    #[serde(default)]
    pub mode: PartitionMode,
}

/// Connections to reset: every open connection of `host`, or only those with `port` at
/// either end.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a table like { host = \"server\" } or { host = \"server\", port = 10000 }"
)]
pub struct ResetSpec {
    /// The host whose connections are reset.
    pub host: String,
    /// Only connections with this port at one end.
    #[serde(default)]
    pub port: Option<u16>,
}

/// A new latency, between two hosts or (with neither given) for every link.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a table like { a = \"client\", b = \"server\", latency = { fixed = \"5ms\" } }"
)]
pub struct LatencySpec {
    /// First host (both ways with `b`).
    #[serde(default)]
    pub a: Option<String>,
    /// Second host.
    #[serde(default)]
    pub b: Option<String>,
    /// The new latency.
    pub latency: Latency,
}

/// A host's clock jumping forward (an NTP step): its timers inside the jump fire at once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a table like { host = \"client\", by = \"1m\" }"
)]
pub struct ClockJumpSpec {
    /// Whose clock.
    pub host: String,
    /// How far forward.
    #[serde(with = "human_duration")]
    pub by: Duration,
}

/// What goes wrong.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultAction {
    /// Cut the link between two hosts.
    Partition(PartitionSpec),
    /// Restore it (and release held packets).
    Heal(Between),
    /// The host stops: its program and connections vanish without a word.
    Crash(String),
    /// A crashed host starts again with a fresh program.
    Restart(String),
    /// Reset connections, as a middlebox would.
    Reset(ResetSpec),
    /// Change latency.
    Latency(LatencySpec),
    /// Jump a host's clock forward.
    ClockJump(ClockJumpSpec),
}

/// A count of traffic on one direction that triggers a fault.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a table like { from = \"client\", to = \"server\", netstrings = 3 }"
)]
pub struct Trigger {
    /// Sending host.
    pub from: String,
    /// Receiving host.
    pub to: String,
    /// Fire once this many bytes have been delivered on one connection from `from` to `to`.
    #[serde(default)]
    pub bytes: Option<u64>,
    /// Fire once this many netstrings have been delivered on one connection.
    #[serde(default)]
    pub netstrings: Option<u64>,
}

/// One fault of a schedule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "FaultEntry")]
pub struct Fault {
    /// When, in virtual time (exclusive with `after`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::config::opt_human_duration"
    )]
    pub at: Option<Duration>,
    /// On a traffic count (exclusive with `at`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Trigger>,
    /// What happens.
    #[serde(flatten)]
    pub action: FaultAction,
}

/// A `[[faults]]` entry as written: its time or trigger, and every action key, so
/// that a missing or second action is an error rather than silently dropped.
#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "kebab-case",
    expecting = "a fault table such as { at = \"1s\", crash = \"server\" }"
)]
struct FaultEntry {
    #[serde(default, with = "super::config::opt_human_duration")]
    at: Option<Duration>,
    #[serde(default)]
    after: Option<Trigger>,
    partition: Option<PartitionSpec>,
    heal: Option<Between>,
    crash: Option<String>,
    restart: Option<String>,
    reset: Option<ResetSpec>,
    latency: Option<LatencySpec>,
    clock_jump: Option<ClockJumpSpec>,
}

/// The action keys of a fault, as the file spells them.
const ACTION_KEYS: &str = "partition, heal, crash, restart, reset, latency or clock-jump";

impl TryFrom<FaultEntry> for Fault {
    type Error = String;

    fn try_from(entry: FaultEntry) -> Result<Self, String> {
        let mut actions: Vec<(&str, FaultAction)> = Vec::new();
        let mut add = |key, action: Option<FaultAction>| actions.extend(action.map(|a| (key, a)));
        add("partition", entry.partition.map(FaultAction::Partition));
        add("heal", entry.heal.map(FaultAction::Heal));
        add("crash", entry.crash.map(FaultAction::Crash));
        add("restart", entry.restart.map(FaultAction::Restart));
        add("reset", entry.reset.map(FaultAction::Reset));
        add("latency", entry.latency.map(FaultAction::Latency));
        add("clock-jump", entry.clock_jump.map(FaultAction::ClockJump));
        if actions.len() > 1 {
            let keys: Vec<&str> = actions.iter().map(|(key, _)| *key).collect();
            return Err(format!(
                "a fault has one action, this one has {}: split it into one [[faults]] entry each",
                keys.join(" and ")
            ));
        }
        let Some((_, action)) = actions.pop() else {
            return Err(format!("a fault needs one action: {ACTION_KEYS}"));
        };
        Ok(Self {
            at: entry.at,
            after: entry.after,
            action,
        })
    }
}

impl Fault {
    /// A fault at virtual time `at`; say which with a method of [`When`]:
    ///
    /// ```
    /// # use std::time::Duration;
    /// use weft::simnet::Fault;
    /// let cut = Fault::at(Duration::from_secs(2)).partition("client", "server").hold();
    /// let heal = Fault::at(Duration::from_secs(5)).heal("client", "server");
    /// # let _ = (cut, heal);
    /// ```
    pub fn at(at: Duration) -> When {
        When {
            at: Some(at),
            after: None,
        }
    }

    /// A fault when `trigger` fires (a count of bytes or netstrings delivered):
    ///
    /// ```
    /// use weft::simnet::{Fault, Trigger};
    /// let reset = Fault::after(Trigger::netstrings("client", "server", 3)).reset("server");
    /// # let _ = reset;
    /// ```
    pub fn after(trigger: Trigger) -> When {
        When {
            at: None,
            after: Some(trigger),
        }
    }

    /// Only the `a` to `b` direction, for a partition or a heal (no effect on other
    /// faults).
    pub fn one_way(mut self) -> Self {
        match &mut self.action {
            FaultAction::Partition(p) => p.one_way = true,
            FaultAction::Heal(b) => b.one_way = true,
            _ => {}
        }
        self
    }

    /// A partition that holds packets until it heals, instead of dropping them (no
    /// effect on other faults).
    pub fn hold(self) -> Self {
        self.mode(PartitionMode::Hold)
    }

    /// A partition's mode (no effect on other faults).
    pub fn mode(mut self, mode: PartitionMode) -> Self {
        if let FaultAction::Partition(p) = &mut self.action {
            p.mode = mode;
        }
        self
    }

    /// A one-line description for transcripts.
    pub fn describe(&self) -> String {
        describe(&self.action)
    }
}

/// When a fault happens, waiting to be told what happens: made by [`Fault::at`] or
/// [`Fault::after`], turned into a [`Fault`] by one of its methods, one per thing a
/// scenario file's `[[faults]]` can say.
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use = "a `When` is not a fault until one of its methods says what happens"]
pub struct When {
    at: Option<Duration>,
    after: Option<Trigger>,
}

impl When {
    /// Any action, spelled out.
    pub fn then(self, action: FaultAction) -> Fault {
        Fault {
            at: self.at,
            after: self.after,
            action,
        }
    }

    /// Cuts the link between `a` and `b`, both ways, dropping packets (see
    /// [`Fault::one_way`] and [`Fault::hold`]).
    pub fn partition(self, a: impl Into<String>, b: impl Into<String>) -> Fault {
        self.then(FaultAction::Partition(PartitionSpec {
            a: a.into(),
            b: b.into(),
            one_way: false,
            mode: PartitionMode::Drop,
        }))
    }

    /// Restores the link between `a` and `b`, both ways, releasing held packets.
    pub fn heal(self, a: impl Into<String>, b: impl Into<String>) -> Fault {
        self.then(FaultAction::Heal(Between {
            a: a.into(),
            b: b.into(),
            one_way: false,
        }))
    }

    /// Crashes `host`: its program and connections vanish without a word.
    pub fn crash(self, host: impl Into<String>) -> Fault {
        self.then(FaultAction::Crash(host.into()))
    }

    /// Starts a crashed `host` again with a fresh program.
    pub fn restart(self, host: impl Into<String>) -> Fault {
        self.then(FaultAction::Restart(host.into()))
    }

    /// Resets every connection of `host`.
    pub fn reset(self, host: impl Into<String>) -> Fault {
        self.then(FaultAction::Reset(ResetSpec {
            host: host.into(),
            port: None,
        }))
    }

    /// Resets the connections of `host` with `port` at either end.
    pub fn reset_on_port(self, host: impl Into<String>, port: u16) -> Fault {
        self.then(FaultAction::Reset(ResetSpec {
            host: host.into(),
            port: Some(port),
        }))
    }

    /// Sets the latency between `a` and `b`, both ways.
    pub fn latency(self, a: impl Into<String>, b: impl Into<String>, latency: Latency) -> Fault {
        self.then(FaultAction::Latency(LatencySpec {
            a: Some(a.into()),
            b: Some(b.into()),
            latency,
        }))
    }

    /// Sets the latency of every link.
    pub fn latency_everywhere(self, latency: Latency) -> Fault {
        self.then(FaultAction::Latency(LatencySpec {
            a: None,
            b: None,
            latency,
        }))
    }

    /// Jumps `host`'s clock forward by `by`.
    pub fn clock_jump(self, host: impl Into<String>, by: Duration) -> Fault {
        self.then(FaultAction::ClockJump(ClockJumpSpec {
            host: host.into(),
            by,
        }))
    }
}

impl Trigger {
    /// Fires once `n` bytes from `from` have been delivered to `to` on one connection.
    pub fn bytes(from: impl Into<String>, to: impl Into<String>, n: u64) -> Self {
        Self {
            from: from.into(),
            to: to.into(),
            bytes: Some(n),
            netstrings: None,
        }
    }

    /// Fires once `n` netstrings from `from` have been delivered to `to` on one
    /// connection.
    pub fn netstrings(from: impl Into<String>, to: impl Into<String>, n: u64) -> Self {
        Self {
            from: from.into(),
            to: to.into(),
            bytes: None,
            netstrings: Some(n),
        }
    }
}

/// A one-line description of an action.
pub(super) fn describe(action: &FaultAction) -> String {
    match action {
        FaultAction::Partition(p) => format!(
            "partition {} {} {} ({:?})",
            p.a,
            if p.one_way { "->" } else { "<->" },
            p.b,
            p.mode
        ),
        FaultAction::Heal(b) => {
            format!(
                "heal {} {} {}",
                b.a,
                if b.one_way { "->" } else { "<->" },
                b.b
            )
        }
        FaultAction::Crash(h) => format!("crash {h}"),
        FaultAction::Restart(h) => format!("restart {h}"),
        FaultAction::Reset(r) => match r.port {
            Some(port) => format!("reset connections of {} on port {port}", r.host),
            None => format!("reset connections of {}", r.host),
        },
        FaultAction::Latency(l) => match (&l.a, &l.b) {
            (Some(a), Some(b)) => format!("latency {a} <-> {b} = {:?}", l.latency),
            _ => format!("latency everywhere = {:?}", l.latency),
        },
        FaultAction::ClockJump(j) => format!("clock of {} jumps {:?}", j.host, j.by),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fault_a_file_can_say_has_a_constructor_that_reads_the_same() {
        #[derive(Deserialize)]
        struct File {
            faults: Vec<Fault>,
        }
        let file: File = toml::from_str(
            r#"
            [[faults]]
            at = "1s"
            partition = { a = "a", b = "b" }
            [[faults]]
            at = "1s"
            partition = { a = "a", b = "b", one-way = true, mode = "hold" }
            [[faults]]
            at = "2s"
            heal = { a = "a", b = "b", one-way = true }
            [[faults]]
            at = "3s"
            crash = "a"
            [[faults]]
            at = "4s"
            restart = "a"
            [[faults]]
            after = { from = "a", to = "b", bytes = 10 }
            reset = { host = "b" }
            [[faults]]
            after = { from = "a", to = "b", netstrings = 2 }
            reset = { host = "b", port = 7 }
            [[faults]]
            at = "5s"
            latency = { a = "a", b = "b", latency = { fixed = "5ms" } }
            [[faults]]
            at = "5s"
            latency = { latency = { fixed = "1ms" } }
            [[faults]]
            at = "6s"
            clock-jump = { host = "a", by = "1m" }
            "#,
        )
        .unwrap();
        let s = Duration::from_secs;
        let fixed = |ms| Latency::Fixed(Duration::from_millis(ms));
        let built = vec![
            Fault::at(s(1)).partition("a", "b"),
            Fault::at(s(1)).partition("a", "b").one_way().hold(),
            Fault::at(s(2)).heal("a", "b").one_way(),
            Fault::at(s(3)).crash("a"),
            Fault::at(s(4)).restart("a"),
            Fault::after(Trigger::bytes("a", "b", 10)).reset("b"),
            Fault::after(Trigger::netstrings("a", "b", 2)).reset_on_port("b", 7),
            Fault::at(s(5)).latency("a", "b", fixed(5)),
            Fault::at(s(5)).latency_everywhere(fixed(1)),
            Fault::at(s(6)).clock_jump("a", s(60)),
        ];
        assert_eq!(file.faults, built);
    }

    #[test]
    fn partition_modifiers_leave_other_faults_alone() {
        let crash = Fault::at(Duration::ZERO).crash("a");
        assert_eq!(crash.clone().one_way().hold(), crash);
    }

    #[test]
    fn faults_read_from_toml() {
        #[derive(Deserialize)]
        struct File {
            faults: Vec<Fault>,
        }
        let file: File = toml::from_str(
            r#"
            [[faults]]
            at = "1.5s"
            partition = { a = "client", b = "server", mode = "hold" }

            [[faults]]
            after = { from = "client", to = "server", netstrings = 3 }
            reset = { host = "server", port = 11000 }

            [[faults]]
            at = "4s"
            crash = "server"
            "#,
        )
        .unwrap();
        assert_eq!(file.faults[0].at, Some(Duration::from_millis(1500)));
        assert!(
            matches!(&file.faults[0].action, FaultAction::Partition(p) if p.mode == PartitionMode::Hold)
        );
        assert_eq!(file.faults[1].after.as_ref().unwrap().netstrings, Some(3));
        assert_eq!(file.faults[2].action, FaultAction::Crash("server".into()));
    }
}
