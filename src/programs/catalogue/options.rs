//! The option tables of the built-in programs, as scenario files write them.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::host::HostPort;
use crate::programs::poetry::poems::DEFAULT_POEM;
use crate::programs::poetry::{
    DEFAULT_DELAY, DEFAULT_EXPIRY, DEFAULT_NUM_BYTES, DEFAULT_RETRY_DELAY, DEFAULT_TRANSFORM, Pace,
    Poem, ReportStyle,
};
use crate::scenario::{OptionDoc, ProgramOptions};
use crate::simnet::{format_duration, human_duration, opt_human_duration};

/// The interface a listening program of a scenario binds unless told: every one of its
/// host's addresses.
const ANY_INTERFACE: &str = "0.0.0.0";

fn any_interface() -> String {
    ANY_INTERFACE.to_owned()
}

/// The two options of every listening program.
fn listen_docs() -> [OptionDoc; 2] {
    [
        OptionDoc::required("port", "port"),
        OptionDoc::optional("iface", "address", ANY_INTERFACE),
    ]
}

fn addr(iface: &str, port: u16) -> HostPort {
    HostPort::new(iface, port)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct PingPongServer {
    port: u16,
    #[serde(default = "any_interface")]
    iface: String,
    #[serde(default)]
    pub(super) maximum: Option<u64>,
}

impl PingPongServer {
    pub(super) fn addr(&self) -> HostPort {
        addr(&self.iface, self.port)
    }
}

impl ProgramOptions for PingPongServer {
    fn describe() -> Vec<OptionDoc> {
        let mut docs = listen_docs().to_vec();
        docs.push(OptionDoc::optional("maximum", "integer", "none"));
        docs
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct PingPongClient {
    pub(super) connect: HostPort,
    #[serde(default = "default_maximum")]
    pub(super) maximum: u64,
}

fn default_maximum() -> u64 {
    100
}

impl ProgramOptions for PingPongClient {
    fn describe() -> Vec<OptionDoc> {
        vec![
            OptionDoc::required("connect", "host:port"),
            OptionDoc::optional("maximum", "integer", default_maximum().to_string()),
        ]
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct Connect {
    pub(super) connect: HostPort,
}

impl ProgramOptions for Connect {
    fn describe() -> Vec<OptionDoc> {
        vec![OptionDoc::required("connect", "host:port")]
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct Sink {
    port: u16,
    #[serde(default = "any_interface")]
    iface: String,
    #[serde(default, with = "opt_human_duration")]
    pub(super) read_pause: Option<Duration>,
}

impl Sink {
    pub(super) fn addr(&self) -> HostPort {
        addr(&self.iface, self.port)
    }
}

impl ProgramOptions for Sink {
    fn describe() -> Vec<OptionDoc> {
        let mut docs = listen_docs().to_vec();
        docs.push(OptionDoc::optional("read-pause", "duration", "none"));
        docs
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct Streaming {
    pub(super) connect: HostPort,
    #[serde(default)]
    pub(super) budget: Option<usize>,
}

impl ProgramOptions for Streaming {
    fn describe() -> Vec<OptionDoc> {
        vec![
            OptionDoc::required("connect", "host:port"),
            OptionDoc::optional("budget", "bytes", "none"),
        ]
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct PoetryServer {
    port: u16,
    #[serde(default = "any_interface")]
    iface: String,
    #[serde(default = "default_poem", deserialize_with = "builtin_poem")]
    pub(super) poem: Poem,
    #[serde(default = "default_num_bytes")]
    num_bytes: usize,
    #[serde(default = "default_delay", with = "human_duration")]
    delay: Duration,
}

fn default_poem() -> Poem {
    Poem::builtin(DEFAULT_POEM).expect("the default poem is built in")
}

/// A poem by name; an unknown name is refused when the file is checked.
fn builtin_poem<'de, D: Deserializer<'de>>(d: D) -> Result<Poem, D::Error> {
    let name = String::deserialize(d)?;
    Poem::builtin(&name)
        .ok_or_else(|| serde::de::Error::custom(format!("no built-in poem named {name:?}")))
}

fn default_num_bytes() -> usize {
    DEFAULT_NUM_BYTES
}

fn default_delay() -> Duration {
    DEFAULT_DELAY
}

impl PoetryServer {
    pub(super) fn addr(&self) -> HostPort {
        addr(&self.iface, self.port)
    }

    pub(super) fn pace(&self) -> Pace {
        Pace::new(self.num_bytes, self.delay)
    }
}

impl ProgramOptions for PoetryServer {
    fn describe() -> Vec<OptionDoc> {
        let mut docs = listen_docs().to_vec();
        docs.extend([
            OptionDoc::optional("poem", "loom, ten-bytes or clock", DEFAULT_POEM),
            OptionDoc::optional("num-bytes", "bytes", DEFAULT_NUM_BYTES.to_string()),
            OptionDoc::optional("delay", "duration", format_duration(DEFAULT_DELAY)),
        ]);
        docs
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct GetPoetryScenario {
    pub(super) servers: Vec<HostPort>,
    #[serde(default, with = "opt_human_duration")]
    pub(super) timeout: Option<Duration>,
    #[serde(default)]
    pub(super) report: Report,
    #[serde(default)]
    pub(super) sequential: bool,
    #[serde(default)]
    pub(super) accept_truncated: bool,
    #[serde(default, with = "opt_human_duration")]
    pub(super) connect_timeout: Option<Duration>,
    #[serde(default)]
    pub(super) retries: u32,
    #[serde(default = "default_retry_delay", with = "human_duration")]
    pub(super) retry_delay: Duration,
    #[serde(default)]
    pub(super) transform: Option<HostPort>,
    #[serde(default)]
    pub(super) transform_name: Option<String>,
    #[serde(default, with = "opt_human_duration")]
    pub(super) transform_timeout: Option<Duration>,
}

fn default_retry_delay() -> Duration {
    DEFAULT_RETRY_DELAY
}

impl ProgramOptions for GetPoetryScenario {
    fn describe() -> Vec<OptionDoc> {
        vec![
            OptionDoc::required("servers", "list of [host:]port"),
            OptionDoc::optional("timeout", "duration", "none"),
            OptionDoc::optional(
                "report",
                "tasks, as-arrived, as-arrived-terse, in-order, blocking or quiet",
                "tasks",
            ),
            OptionDoc::optional("sequential", "bool", "false"),
            OptionDoc::optional("accept-truncated", "bool", "false"),
            OptionDoc::optional(
                "connect-timeout",
                "duration",
                format_duration(crate::host::DEFAULT_CONNECT_TIMEOUT),
            ),
            OptionDoc::optional("retries", "integer", "0"),
            OptionDoc::optional(
                "retry-delay",
                "duration",
                format_duration(DEFAULT_RETRY_DELAY),
            ),
            OptionDoc::optional("transform", "[host:]port", "none"),
            OptionDoc::optional("transform-name", "text", DEFAULT_TRANSFORM),
            OptionDoc::optional("transform-timeout", "duration", "none"),
        ]
    }
}

#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(super) enum Report {
    #[default]
    Tasks,
    AsArrived,
    AsArrivedTerse,
    InOrder,
    Blocking,
    Quiet,
}

impl From<Report> for ReportStyle {
    fn from(report: Report) -> Self {
        match report {
            Report::Tasks => Self::Tasks,
            Report::AsArrived => Self::AsArrived,
            Report::AsArrivedTerse => Self::AsArrivedTerse,
            Report::InOrder => Self::InOrderAtEnd,
            Report::Blocking => Self::Blocking,
            Report::Quiet => Self::Quiet,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct Proxy {
    port: u16,
    #[serde(default = "any_interface")]
    iface: String,
    pub(super) upstream: HostPort,
    #[serde(default = "default_expiry", with = "human_duration::or_never")]
    pub(super) expiry: Option<Duration>,
}

fn default_expiry() -> Option<Duration> {
    Some(DEFAULT_EXPIRY)
}

impl Proxy {
    pub(super) fn addr(&self) -> HostPort {
        addr(&self.iface, self.port)
    }
}

impl ProgramOptions for Proxy {
    fn describe() -> Vec<OptionDoc> {
        let mut docs = listen_docs().to_vec();
        docs.extend([
            OptionDoc::required("upstream", "host:port"),
            OptionDoc::optional(
                "expiry",
                "duration or never",
                format_duration(DEFAULT_EXPIRY),
            ),
        ]);
        docs
    }
}

/// The options of the text's proxies: the command line of `poetry-proxy.py`, no more.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct TextProxy {
    port: u16,
    #[serde(default = "any_interface")]
    iface: String,
    pub(super) upstream: HostPort,
}

impl TextProxy {
    pub(super) fn addr(&self) -> HostPort {
        addr(&self.iface, self.port)
    }
}

impl ProgramOptions for TextProxy {
    fn describe() -> Vec<OptionDoc> {
        let mut docs = listen_docs().to_vec();
        docs.push(OptionDoc::required("upstream", "host:port"));
        docs
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct TransformServer {
    port: u16,
    #[serde(default = "any_interface")]
    iface: String,
}

impl TransformServer {
    pub(super) fn addr(&self) -> HostPort {
        addr(&self.iface, self.port)
    }
}

impl ProgramOptions for TransformServer {
    fn describe() -> Vec<OptionDoc> {
        listen_docs().to_vec()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct Raw {
    pub(super) connect: HostPort,
    #[serde(default)]
    pub(super) send: String,
    #[serde(default)]
    pub(super) half_close: bool,
    #[serde(default, with = "opt_human_duration")]
    pub(super) give_up_after: Option<Duration>,
}

impl ProgramOptions for Raw {
    fn describe() -> Vec<OptionDoc> {
        vec![
            OptionDoc::required("connect", "host:port"),
            OptionDoc::optional("send", "text", "\"\""),
            OptionDoc::optional("half-close", "bool", "false"),
            OptionDoc::optional("give-up-after", "duration", "none"),
        ]
    }
}

/// The options of a named client version (`get-poetry-3.0`): the original's command
/// line, nothing more.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct GetPoetryVersionScenario {
    pub(super) addresses: Vec<HostPort>,
}

impl ProgramOptions for GetPoetryVersionScenario {
    fn describe() -> Vec<OptionDoc> {
        vec![OptionDoc::required(
            "addresses",
            "list of [host:]port (6.0 to 8.0: the transform server first)",
        )]
    }
}

/// The options of clients 6.0 to 8.0 (`get-poetry-6.0`): the original's command line,
/// `xform-[host:]port [host:]port ...`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct GetPoetryXformScenario {
    pub(super) addresses: Vec<HostPort>,
}

impl ProgramOptions for GetPoetryXformScenario {
    fn describe() -> Vec<OptionDoc> {
        vec![OptionDoc::required(
            "addresses",
            "list of [host:]port, the transform server first",
        )]
    }

    fn check(&self) -> Result<(), String> {
        if self.addresses.len() < 2 {
            return Err(
                "addresses needs the transform server first, then at least one poetry server"
                    .to_owned(),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scenario_proxy_expiry_is_a_duration_a_number_of_seconds_or_never() {
        for (expiry, expected) in [
            ("\"never\"", None),
            ("\"90s\"", Some(Duration::from_secs(90))),
            ("60", Some(Duration::from_secs(60))),
            ("1.5", Some(Duration::from_millis(1500))),
        ] {
            let text = format!("port = 8000\nupstream = \"poet:10000\"\nexpiry = {expiry}");
            let proxy: Proxy = toml::from_str(&text).expect("parses");
            assert_eq!(proxy.expiry, expected, "expiry = {expiry}");
        }
    }

    #[test]
    fn a_bad_scenario_proxy_expiry_is_refused_with_its_key_and_the_forms_it_takes() {
        let table: toml::Table =
            toml::from_str("port = 8000\nupstream = \"poet:10000\"\nexpiry = \"soon\"")
                .expect("a table");
        let error = crate::programs::catalogue()
            .prepare("proxy", &table)
            .err()
            .expect("refused")
            .to_string();
        assert!(
            error.contains(
                "`expiry`: invalid duration \"soon\": expected a number and a unit, \
                 like 150ms, 1.5s, 2m, 1h, or \"never\""
            ),
            "{error}"
        );
    }
}
