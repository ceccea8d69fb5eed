//! The key-value service: a [`Factory`] whose [`KvSession`] serves one connection, all
//! sessions of a host sharing one [`Store`].

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use serde::Deserialize;
use weft::clock::CallId;
use weft::codec::line::{LineDecoder, LineFormat};
use weft::protocol::{Context, Factory, Protocol};
use weft::scenario::{OptionDoc, ProgramOptions};
use weft::transport::Disconnect;

/// The longest line the service reads: a peer cannot make it buffer more.
pub const MAX_LINE: usize = 1024;

/// The line format both ends speak: `\r\n`-terminated lines of at most [`MAX_LINE`] bytes.
pub fn line_format() -> LineFormat {
    LineFormat::new().with_max_length(MAX_LINE)
}

/// The keys and values, in key order.
#[derive(Debug, Default)]
pub struct Store {
    entries: BTreeMap<String, String>,
}

impl Store {
    /// The reply to one request line: `SET k v` → `OK`, `GET k` → `VALUE v` or
    /// `NOT_FOUND`, anything else → `ERROR ...`.
    pub fn apply(&mut self, line: &[u8]) -> String {
        let Ok(line) = std::str::from_utf8(line) else {
            return "ERROR request is not utf-8".to_owned();
        };
        let mut words = line.splitn(3, ' ');
        match (words.next(), words.next(), words.next()) {
            (Some("SET"), Some(key), Some(value)) if !key.is_empty() => {
                self.entries.insert(key.to_owned(), value.to_owned());
                "OK".to_owned()
            }
            (Some("GET"), Some(key), None) => match self.entries.get(key) {
                Some(value) => format!("VALUE {value}"),
                None => "NOT_FOUND".to_owned(),
            },
            _ => "ERROR expected SET key value or GET key".to_owned(),
        }
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.get(key).map(String::as_str)
    }
}

/// A session's timers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SessionTimer {
    /// Nothing arrived for the idle timeout (Twisted's `TimeoutMixin`).
    Idle,
}

/// One client's connection: reads request lines, answers each with one line.
#[derive(Debug)]
pub struct KvSession {
    store: Rc<RefCell<Store>>,
    decoder: LineDecoder,
    idle_timeout: Option<Duration>,
    idle: Option<CallId>,
}

impl KvSession {
    /// A session answering from `store`, closing after `idle_timeout` without a byte.
    pub fn new(store: Rc<RefCell<Store>>, idle_timeout: Option<Duration>) -> Self {
        Self {
            store,
            decoder: LineDecoder::new(line_format()),
            idle_timeout,
            idle: None,
        }
    }

    fn restart_idle_timer(&mut self, cx: &mut Context<'_, SessionTimer>) {
        if let Some(call) = self.idle.take() {
            // Already fired or cancelled: nothing to undo.
            let _ = cx.cancel(call);
        }
        if let Some(timeout) = self.idle_timeout {
            self.idle = Some(cx.call_later(timeout, SessionTimer::Idle));
        }
    }
}

impl Protocol for KvSession {
    type Timer = SessionTimer;

    fn connection_made(&mut self, cx: &mut Context<'_, SessionTimer>) {
        self.restart_idle_timer(cx);
    }

    fn data_received(&mut self, cx: &mut Context<'_, SessionTimer>, data: &[u8]) {
        self.restart_idle_timer(cx);
        let mut replies = Vec::new();
        let format = line_format();
        let decoded = self.decoder.decode(data, |line| {
            let reply = self.store.borrow_mut().apply(line);
            // A reply is a key's value, which arrived within a line: never too long.
            let _ = format.encode_into(reply.as_bytes(), &mut replies);
        });
        cx.write(&replies);
        if let Err(error) = decoded {
            cx.write(format!("ERROR {error}\r\n").as_bytes());
            cx.lose_connection();
        }
    }

    fn connection_lost(&mut self, cx: &mut Context<'_, SessionTimer>, _: Disconnect) {
        if let Some(call) = self.idle.take() {
            let _ = cx.cancel(call);
        }
    }

    fn timer_fired(&mut self, cx: &mut Context<'_, SessionTimer>, _: SessionTimer) {
        self.idle = None;
        cx.lose_connection();
    }
}

/// Builds a [`KvSession`] for every connection, all sharing one store.
#[derive(Debug, Default)]
pub struct KvFactory {
    store: Rc<RefCell<Store>>,
    idle_timeout: Option<Duration>,
}

impl KvFactory {
    /// A factory with an empty store.
    pub fn new(idle_timeout: Option<Duration>) -> Self {
        Self {
            store: Rc::default(),
            idle_timeout,
        }
    }

    /// The shared store, for tests to look into.
    pub fn store(&self) -> std::cell::Ref<'_, Store> {
        self.store.borrow()
    }
}

impl Factory for KvFactory {
    type Protocol = KvSession;

    fn build_protocol(&mut self, _peer: SocketAddr) -> KvSession {
        KvSession::new(self.store.clone(), self.idle_timeout)
    }
}

/// `kv-server`'s options in a scenario file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ServerOptions {
    /// The port to listen on.
    pub port: u16,
    /// Close a connection that sends nothing for this long.
    #[serde(default, with = "weft::simnet::opt_human_duration")]
    pub idle_timeout: Option<Duration>,
}

impl ProgramOptions for ServerOptions {
    fn describe() -> Vec<OptionDoc> {
        vec![
            OptionDoc::required("port", "port"),
            OptionDoc::optional("idle-timeout", "duration", "none"),
        ]
    }
}
