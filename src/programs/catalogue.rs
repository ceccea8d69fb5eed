//! weft's own programs in a [`Catalogue`], registered through the public API exactly as a
//! user's crate registers its programs.

mod options;

use options::{
    Connect, GetPoetryScenario, GetPoetryVersionScenario, GetPoetryXformScenario, PingPongClient,
    PingPongServer, PoetryServer, Proxy, Raw, Sink, Streaming, TextProxy, TransformServer,
};

use crate::host::{FactoryProgram, HostPort};
use crate::programs::heartbeat::HeartbeatFactory;
use crate::programs::pingpong::PingPongFactory;
use crate::programs::pingpong_async;
use crate::programs::poetry::get_poetry_async::{
    get_poetry_deferred_list, get_poetry_inline_callbacks,
};
use crate::programs::poetry::{
    ClientVersion, FastPoetryFactory, GetPoetry, GetPoetryOptions, PoetryProxy, ProxyOptions,
    SerialPoetryServer, SlowPoetryFactory, TruncationPolicy,
};
use crate::programs::raw::{RawClient, RawOptions};
use crate::programs::streaming::{ReceivingServerFactory, StreamingClientFactory};
use crate::programs::transform::TransformFactory;
use crate::scenario::Catalogue;

/// Every built-in program a scenario can name (`weft sim programs` lists them).
///
/// Add a crate's own programs to it, or start from [`Catalogue::new`] for only yours:
///
/// ```
/// let catalogue = weft::programs::catalogue();
/// assert!(catalogue.names().any(|name| name == "pingpong-server"));
/// ```
pub fn catalogue() -> Catalogue {
    client_versions(builtin())
}

/// The client ladder: `get-poetry-1.0` to `get-poetry-8.0`, each a [`ClientVersion`].
fn client_versions(mut catalogue: Catalogue) -> Catalogue {
    for version in ClientVersion::ALL {
        let (name, summary) = (version.program_name(), version.summary());
        catalogue = if !version.takes_transform_server() {
            catalogue.program(name, summary, move |o: &GetPoetryVersionScenario| {
                GetPoetry::new(version_options(version, o.addresses.clone()))
            })
        } else if version.is_async() {
            catalogue.program(name, summary, move |o: &GetPoetryXformScenario| {
                let options = version_options(version, o.addresses.clone());
                match version {
                    ClientVersion::V7_0 => get_poetry_inline_callbacks(options),
                    _ => get_poetry_deferred_list(options),
                }
            })
        } else {
            catalogue.program(name, summary, move |o: &GetPoetryXformScenario| {
                GetPoetry::new(version_options(version, o.addresses.clone()))
            })
        };
    }
    catalogue
}

fn version_options(version: ClientVersion, addresses: Vec<HostPort>) -> GetPoetryOptions {
    // The options' check has refused too few addresses already.
    version
        .options(addresses)
        .unwrap_or_else(|error| panic!("{error}"))
}

fn builtin() -> Catalogue {
    Catalogue::new()
        .listening(
            "pingpong-server",
            "ping-pong, accepting side",
            |o: &PingPongServer| (o.addr(), PingPongFactory::server(o.maximum)),
        )
        .connecting(
            "pingpong-client",
            "ping-pong, connecting side; exits when done",
            |o: &PingPongClient| (o.connect.clone(), PingPongFactory::client(Some(o.maximum))),
        )
        .program(
            "pingpong-server-async",
            "ping-pong, accepting side, as async tasks (the same bytes and lines)",
            |o: &PingPongServer| pingpong_async::server(o.addr(), o.maximum),
        )
        .program(
            "pingpong-client-async",
            "ping-pong, connecting side, as async tasks; exits when done",
            |o: &PingPongClient| pingpong_async::client(o.connect.clone(), Some(o.maximum)),
        )
        .program(
            "heartbeat",
            "writes * every 30 s to its peer",
            |o: &Connect| FactoryProgram::new(HeartbeatFactory).connect(o.connect.clone()),
        )
        .listening(
            "sink",
            "receives and counts bytes; read-pause makes it a slow consumer",
            |o: &Sink| {
                let factory = ReceivingServerFactory {
                    read_pause: o.read_pause,
                };
                (o.addr(), factory)
            },
        )
        .connecting(
            "streaming-client",
            "push producer doubling its writes every 1 ms; exits when done",
            |o: &Streaming| {
                let factory = StreamingClientFactory { budget: o.budget };
                (o.connect.clone(), factory)
            },
        )
        .listening(
            "fast-poetry",
            "sends a whole poem and closes",
            |o: &PoetryServer| (o.addr(), FastPoetryFactory::new(o.poem.clone())),
        )
        .listening(
            "slow-poetry",
            "sends a poem num-bytes every delay, each client on its own timer",
            |o: &PoetryServer| {
                let factory = SlowPoetryFactory::new(o.poem.clone(), o.pace());
                (o.addr(), factory)
            },
        )
        .program(
            "serial-poetry",
            "the blocking slow server, one client at a time",
            |o: &PoetryServer| SerialPoetryServer::new(o.addr(), o.poem.clone(), o.pace()),
        )
        .program(
            "get-poetry",
            "downloads a poem from each server, exits when all have ended",
            |o: &GetPoetryScenario| GetPoetry::new(get_poetry_options(o)),
        )
        .program(
            "get-poetry-inline-callbacks",
            "get-poetry as an async fn (client 7.0, inlineCallbacks): the same options and lines",
            |o: &GetPoetryScenario| get_poetry_inline_callbacks(get_poetry_options(o)),
        )
        .program(
            "get-poetry-deferred-list",
            "get-poetry as an async fn (client 8.0, DeferredList): the same options and lines",
            |o: &GetPoetryScenario| get_poetry_deferred_list(get_poetry_options(o)),
        )
        .program(
            "proxy",
            "caching poetry proxy with one upstream fetch in flight",
            |o: &Proxy| {
                PoetryProxy::new(ProxyOptions::new(o.addr(), o.upstream.clone()).expiry(o.expiry))
            },
        )
        .program(
            "proxy-1.0",
            "the text's proxy 1.0: a fetch per miss, whatever arrived cached, lines printed",
            |o: &TextProxy| {
                PoetryProxy::new(ProxyOptions::version_1_0(o.addr(), o.upstream.clone()))
            },
        )
        .program(
            "proxy-3.0",
            "the text's proxy 3.0: proxy 1.0 with a client's leaving cancelling its fetch",
            |o: &TextProxy| {
                PoetryProxy::new(ProxyOptions::version_3_0(o.addr(), o.upstream.clone()))
            },
        )
        .listening(
            "transform-server",
            "the netstring transform service (cummingsify, ...)",
            |o: &TransformServer| (o.addr(), TransformFactory::default()),
        )
        .program(
            "raw-client",
            "sends bytes, prints what comes back",
            |o: &Raw| {
                RawClient::new(RawOptions {
                    to: o.connect.clone(),
                    send: o.send.clone().into_bytes(),
                    half_close: o.half_close,
                    give_up_after: o.give_up_after,
                })
            },
        )
}

fn get_poetry_options(o: &GetPoetryScenario) -> GetPoetryOptions {
    let mut get = GetPoetryOptions::new(o.servers.clone())
        .report(o.report.into())
        .retries(o.retries)
        .retry_delay(o.retry_delay);
    if let Some(timeout) = o.timeout {
        get = get.timeout(timeout);
    }
    if let Some(timeout) = o.connect_timeout {
        get = get.connect_timeout(timeout);
    }
    if let Some(server) = &o.transform {
        get = get.transform(server.clone());
    }
    if let Some(name) = &o.transform_name {
        get = get.transform_name(name.clone());
    }
    if let Some(timeout) = o.transform_timeout {
        get = get.transform_timeout(timeout);
    }
    if o.sequential {
        get = get.sequential();
    }
    if o.accept_truncated {
        get = get.truncation(TruncationPolicy::Accept);
    }
    get
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::host::{Host, HostPort};
    use crate::programs::poetry::ReportStyle;

    fn table(options: &str) -> toml::Table {
        toml::from_str(options).expect("options parse")
    }

    fn get_poetry_options(options: &str) -> GetPoetryOptions {
        let make = catalogue()
            .prepare("get-poetry", &table(options))
            .expect("builds");
        let node = make();
        let any: &dyn std::any::Any = node.as_ref();
        any.downcast_ref::<Host<GetPoetry>>()
            .expect("a get-poetry host")
            .program()
            .options()
            .clone()
    }

    #[test]
    fn every_builtin_program_refuses_an_unknown_option() {
        let catalogue = catalogue();
        for name in catalogue.names() {
            let error = catalogue
                .prepare(name, &table("no-such-option = 1"))
                .err()
                .unwrap_or_else(|| panic!("{name} took an unknown option"));
            assert!(
                error.to_string().contains("no-such-option"),
                "{name}: {error}"
            );
        }
    }

    #[test]
    fn every_builtin_program_lists_its_options() {
        let catalogue = catalogue();
        let names: Vec<&str> = catalogue.names().collect();
        assert_eq!(names.len(), 18 + ClientVersion::ALL.len(), "{names:?}");
        for name in names {
            let (summary, _) = catalogue.describe(name).expect("described");
            assert!(!summary.is_empty(), "{name}");
        }
        let (_, options) = catalogue.describe("get-poetry").expect("described");
        let retries = options
            .iter()
            .find(|o| o.name == "retries")
            .expect("listed");
        assert_eq!(retries.default.as_deref(), Some("0"));
    }

    #[test]
    fn an_unknown_poem_is_refused_when_the_options_are_checked() {
        let error = catalogue()
            .prepare("fast-poetry", &table("port = 1\npoem = \"odyssey\""))
            .err()
            .expect("refused");
        assert!(
            error
                .to_string()
                .contains("no built-in poem named \"odyssey\""),
            "{error}"
        );
    }

    #[test]
    fn get_poetry_takes_retries_and_the_transform_stage() {
        let o = get_poetry_options(
            r#"
            servers = ["poet:10000"]
            report = "as-arrived-terse"
            retries = 3
            retry-delay = "250ms"
            connect-timeout = "2s"
            transform = "xform:11000"
            transform-name = "reverse-lines"
            transform-timeout = "3s"
            "#,
        );
        assert_eq!(o.report, ReportStyle::AsArrivedTerse);
        assert_eq!(
            (o.retry.max_retries(), o.retry.initial_delay()),
            (Some(3), Duration::from_millis(250))
        );
        assert_eq!(o.connect_timeout, Duration::from_secs(2));
        assert_eq!(o.transform, Some(HostPort::new("xform", 11000)));
        assert_eq!(o.transform_name, "reverse-lines");
        assert_eq!(o.transform_timeout, Some(Duration::from_secs(3)));
    }

    #[test]
    fn get_poetry_defaults_to_no_retries_and_no_transform() {
        let o = get_poetry_options(r#"servers = ["poet:10000"]"#);
        assert_eq!(o.retry.max_retries(), Some(0));
        assert_eq!(o.retry.initial_delay(), Duration::from_secs(1));
        assert_eq!(o.transform, None);
        assert_eq!(o.transform_name, "cummingsify");
    }

    #[test]
    fn a_misspelt_get_poetry_option_is_rejected() {
        let error = catalogue()
            .prepare("get-poetry", &table("servers = [10000]\nretry = 2"))
            .err()
            .expect("rejected");
        assert!(error.to_string().contains("retry"), "{error}");
    }
}
