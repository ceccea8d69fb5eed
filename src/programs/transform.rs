//! The poetry transformation service (the poetry series, Parts 12 and 13): a server that
//! transforms poems on request, and the client that asks it to.
//!
//! ## Wire protocol
//!
//! The client sends one netstring, `<transform name>.<poem>`, split at the **first** `.`
//! (so a poem may contain dots, and may be empty). The server answers with one netstring,
//! the transformed poem, and closes: `27:cummingsify.HERE IS MY POEM,` is answered by
//! `15:here is my poem,`. Because the reply is length-prefixed, the client can tell a
//! complete reply from a connection that died partway through one.
//!
//! A request without a `.`, an unknown transform, or a transform that fails gets **no
//! reply**: the server logs why (a `warn!` event) and closes. So does a malformed or
//! oversized netstring (longer than 99,999 bytes, Twisted's `NetstringReceiver`
//! maximum). Each connection is independent; a bad client never affects another.
//!
//! ## Several requests on one connection
//!
//! The original (`TransformProtocol.stringReceived`) closes after each request, but
//! Twisted's `NetstringReceiver` goes on parsing the rest of the read it is in, and
//! `loseConnection` stops reading only from the next read on. So every request that
//! arrived in the same read as the first is answered (or refused) in turn, then the
//! connection closes; requests in later reads are never looked at. [`TransformProtocol`]
//! does exactly that, so two requests in one segment get two replies (`0:,1:a,` as
//! observed against Twisted) while the same bytes one at a time get one. A parse error
//! stops the read where it is, after any requests before it were handled.
//!
//! ## Transforms
//!
//! [`TransformService::standard`] registers these (names are case-sensitive):
//!
//! | name | what it does | fails |
//! |---|---|---|
//! | `cummingsify` | ASCII lower-case, as the original (`poem.lower()`) | never |
//! | `cummingsify-loudly` | ASCII upper-case | never |
//! | `reverse-lines` | the lines in reverse order (a final newline stays last) | never |
//! | `rot13` | ASCII letters rotated by 13 places; its own inverse | never |
//! | `reverse` | the characters in reverse order | if the poem is not UTF-8 |
//!
//! Like the original's `xform_` prefix, the registry is a whitelist: a client can only
//! name what was registered.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::codec::netstring::{self, NetstringDecoder, NetstringError};
use crate::host::ConnectError;
use crate::protocol::{Context, Factory, NoTimer, Protocol};
use crate::transport::Disconnect;

/// A transform: a poem in, a poem out, or a reason it cannot be done.
pub type TransformFn = fn(&[u8]) -> Result<Vec<u8>, TransformFailure>;

/// Why a transform could not be applied to a poem.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum TransformFailure {
    /// The transform works on characters and the poem is not UTF-8.
    #[error("poem is not valid utf-8 (from byte {valid_up_to})")]
    NotUtf8 {
        /// Length of the valid prefix.
        valid_up_to: usize,
    },
}

/// Why the server refused a request (it closes without a reply).
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum RequestError {
    /// No `.` separates the transform name from the poem.
    #[error("request has no '.' between transform name and poem")]
    MissingDot,
    /// No transform of that name is registered.
    #[error("no such transform: \"{name}\"")]
    UnknownTransform {
        /// The name asked for, escaped and cut to 64 bytes.
        name: String,
    },
    /// The transform failed on this poem.
    #[error("transform \"{name}\" failed: {source}")]
    TransformFailed {
        /// The transform.
        name: String,
        /// Its failure.
        source: TransformFailure,
    },
}

/// The transforms a server offers, by name (the original's `TransformService`). Shared
/// by all the connections of a [`TransformFactory`].
#[derive(Clone, Debug, Default)]
pub struct TransformService {
    transforms: BTreeMap<String, TransformFn>,
}

impl TransformService {
    /// A service with no transforms.
    pub fn empty() -> Self {
        Self::default()
    }

    /// The standard transforms (see the module docs).
    pub fn standard() -> Self {
        let mut service = Self::empty();
        service
            .register("cummingsify", cummingsify)
            .register("cummingsify-loudly", cummingsify_loudly)
            .register("reverse-lines", reverse_lines)
            .register("rot13", rot13)
            .register("reverse", reverse);
        service
    }

    /// Offers `transform` under `name`, replacing any transform of that name.
    pub fn register(&mut self, name: impl Into<String>, transform: TransformFn) -> &mut Self {
        self.transforms.insert(name.into(), transform);
        self
    }

    /// The names offered, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.transforms.keys().map(String::as_str)
    }

    /// Applies the transform called `name` to `poem`.
    pub fn transform(&self, name: &[u8], poem: &[u8]) -> Result<Vec<u8>, RequestError> {
        let shown = || {
            let cut = &name[..name.len().min(64)];
            cut.escape_ascii().to_string()
        };
        let transform = std::str::from_utf8(name)
            .ok()
            .and_then(|name| self.transforms.get(name))
            .ok_or_else(|| RequestError::UnknownTransform { name: shown() })?;
        transform(poem).map_err(|source| RequestError::TransformFailed {
            name: shown(),
            source,
        })
    }

    /// Answers one request, `<name>.<poem>`, split at the first `.`.
    pub fn handle(&self, request: &[u8]) -> Result<Vec<u8>, RequestError> {
        let dot = request
            .iter()
            .position(|&b| b == b'.')
            .ok_or(RequestError::MissingDot)?;
        self.transform(&request[..dot], &request[dot + 1..])
    }
}

/// `cummingsify`: ASCII lower-case.
pub fn cummingsify(poem: &[u8]) -> Result<Vec<u8>, TransformFailure> {
    Ok(poem.to_ascii_lowercase())
}

/// `cummingsify-loudly`: ASCII upper-case.
pub fn cummingsify_loudly(poem: &[u8]) -> Result<Vec<u8>, TransformFailure> {
    Ok(poem.to_ascii_uppercase())
}

/// `reverse-lines`: the lines of the poem in reverse order. A final newline ends the
/// last line rather than starting an empty one, so it stays at the end.
pub fn reverse_lines(poem: &[u8]) -> Result<Vec<u8>, TransformFailure> {
    let (body, newline) = match poem.strip_suffix(b"\n") {
        Some(body) => (body, true),
        None => (poem, false),
    };
    let mut out = Vec::with_capacity(poem.len());
    for (i, line) in body.rsplit(|&b| b == b'\n').enumerate() {
        if i > 0 {
            out.push(b'\n');
        }
        out.extend_from_slice(line);
    }
    if newline {
        out.push(b'\n');
    }
    Ok(out)
}

/// `rot13`: each ASCII letter moved 13 places along the alphabet; other bytes unchanged.
pub fn rot13(poem: &[u8]) -> Result<Vec<u8>, TransformFailure> {
    let rotate = |b: u8| match b {
        b'a'..=b'z' => (b - b'a' + 13) % 26 + b'a',
        b'A'..=b'Z' => (b - b'A' + 13) % 26 + b'A',
        _ => b,
    };
    Ok(poem.iter().copied().map(rotate).collect())
}

/// `reverse`: the poem's characters in reverse order; fails on a poem that is not UTF-8
/// (reversing bytes would break its multi-byte characters).
pub fn reverse(poem: &[u8]) -> Result<Vec<u8>, TransformFailure> {
    let text = std::str::from_utf8(poem).map_err(|e| TransformFailure::NotUtf8 {
        valid_up_to: e.valid_up_to(),
    })?;
    Ok(text.chars().rev().collect::<String>().into_bytes())
}

/// Builds a [`TransformProtocol`] per connection, all sharing one service (the
/// original's `TransformFactory`).
#[derive(Clone, Debug)]
pub struct TransformFactory {
    service: Arc<TransformService>,
    max_length: usize,
}

impl Default for TransformFactory {
    fn default() -> Self {
        Self::new(TransformService::standard())
    }
}

impl TransformFactory {
    /// A factory serving `service`, with Twisted's maximum request length.
    pub fn new(service: TransformService) -> Self {
        Self {
            service: Arc::new(service),
            max_length: netstring::DEFAULT_MAX_LENGTH,
        }
    }

    /// Sets the longest request (netstring payload) accepted.
    pub fn with_max_length(mut self, max_length: usize) -> Self {
        self.max_length = max_length;
        self
    }

    /// The service.
    pub fn service(&self) -> &TransformService {
        &self.service
    }
}

impl Factory for TransformFactory {
    type Protocol = TransformProtocol;

    fn build_protocol(&mut self, peer: SocketAddr) -> TransformProtocol {
        TransformProtocol {
            service: Arc::clone(&self.service),
            decoder: NetstringDecoder::with_max_length(self.max_length),
            peer,
            closing: false,
            replies: 0,
        }
    }
}

/// The server side of one connection (the original's `TransformProtocol`).
#[derive(Debug)]
pub struct TransformProtocol {
    service: Arc<TransformService>,
    decoder: NetstringDecoder,
    peer: SocketAddr,
    /// Asked to close: later reads are ignored, as Twisted stops reading.
    closing: bool,
    replies: u64,
}

impl TransformProtocol {
    /// Replies sent on this connection.
    pub fn replies(&self) -> u64 {
        self.replies
    }

    /// Whether the protocol has asked to close.
    pub fn is_closing(&self) -> bool {
        self.closing
    }
}

impl Protocol for TransformProtocol {
    type Timer = NoTimer;

    fn data_received(&mut self, cx: &mut Context<'_, NoTimer>, data: &[u8]) {
        if self.closing {
            return;
        }
        let Self {
            service,
            decoder,
            peer,
            closing,
            replies,
        } = self;
        let result = decoder.decode(data, |request| {
            match service.handle(request) {
                Ok(poem) => {
                    tracing::debug!(%peer, bytes = poem.len(), "sending a transformed poem");
                    cx.write(&netstring::encode(&poem));
                    *replies += 1;
                }
                Err(error) => {
                    tracing::warn!(%peer, %error, "refusing transform request; closing");
                }
            }
            *closing = true;
            cx.lose_connection();
        });
        if let Err(error) = result {
            tracing::warn!(%peer, %error, "malformed netstring; closing");
            *closing = true;
            cx.lose_connection();
        }
    }
}

/// Why a transform request got no transformed poem back.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum TransformError {
    /// The server closed the connection cleanly without sending anything (its answer
    /// to a bad request, an unknown transform or a failed one).
    #[error("transform server closed the connection without a reply")]
    NoReply,
    /// The server closed cleanly partway through its reply.
    #[error("transform server closed the connection partway through its reply")]
    TruncatedReply,
    /// The connection broke (reset, aborted, timed out) before the reply was complete.
    #[error("connection to the transform server was lost: {0}")]
    ConnectionLost(Disconnect),
    /// The reply is not a netstring.
    #[error("malformed reply from the transform server: {0}")]
    MalformedReply(#[from] NetstringError),
    /// There was no connection at all. The protocol never reports this itself (it only
    /// exists once connected); a program reports it for a connect that failed, so all
    /// failures of a request share one type.
    #[error("could not connect to the transform server: {0}")]
    ConnectFailed(#[from] ConnectError),
}

/// The outcome of a request, as [`TransformClient`] holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    Pending,
    Ready(Result<Vec<u8>, TransformError>),
    Taken,
}

/// The client side of one transform request (the original's `TransformClientProtocol`
/// and the deferred its factory fires).
///
/// On connect it sends `<name>.<poem>` as one netstring. The first complete netstring
/// back is the transformed poem; it then closes the connection itself, and ignores
/// anything after. Every request ends exactly once: the outcome is decided by the reply,
/// by a malformed reply (the client closes), or by the connection ending first.
///
/// A program that owns many connections keeps one client per connection, forwards the
/// connection's events to it with [`HostContext::with_protocol`], and after each event
/// calls [`take_outcome`](Self::take_outcome), which yields the outcome exactly once.
///
/// [`HostContext::with_protocol`]: crate::host::HostContext::with_protocol
#[derive(Debug)]
pub struct TransformClient {
    request: Vec<u8>,
    decoder: NetstringDecoder,
    outcome: Outcome,
}

impl TransformClient {
    /// A request to apply transform `name` to `poem`. The name should not contain a `.`:
    /// the server splits at the first one.
    pub fn new(name: &str, poem: &[u8]) -> Self {
        let mut request = Vec::with_capacity(netstring::encoded_len(name.len() + 1 + poem.len()));
        netstring::encode_parts_into(&[name.as_bytes(), b".", poem], &mut request);
        Self {
            request,
            decoder: NetstringDecoder::new(),
            outcome: Outcome::Pending,
        }
    }

    /// Sets the longest reply accepted (99,999 bytes by default).
    pub fn with_max_length(mut self, max_length: usize) -> Self {
        self.decoder = NetstringDecoder::with_max_length(max_length);
        self
    }

    /// The bytes sent on connect: the request as a netstring.
    pub fn request(&self) -> &[u8] {
        &self.request
    }

    /// The outcome, once decided and until taken.
    pub fn outcome(&self) -> Option<&Result<Vec<u8>, TransformError>> {
        match &self.outcome {
            Outcome::Ready(outcome) => Some(outcome),
            Outcome::Pending | Outcome::Taken => None,
        }
    }

    /// The outcome, once decided; `Some` exactly once.
    pub fn take_outcome(&mut self) -> Option<Result<Vec<u8>, TransformError>> {
        match std::mem::replace(&mut self.outcome, Outcome::Taken) {
            Outcome::Ready(outcome) => Some(outcome),
            other => {
                self.outcome = other;
                None
            }
        }
    }

    /// Whether the outcome has been decided (taken or not).
    pub fn is_finished(&self) -> bool {
        self.outcome != Outcome::Pending
    }

    fn decide(&mut self, outcome: Result<Vec<u8>, TransformError>) {
        if self.outcome == Outcome::Pending {
            self.outcome = Outcome::Ready(outcome);
        }
    }
}

impl Protocol for TransformClient {
    type Timer = NoTimer;

    fn connection_made(&mut self, cx: &mut Context<'_, NoTimer>) {
        cx.write(&self.request);
    }

    fn data_received(&mut self, cx: &mut Context<'_, NoTimer>, data: &[u8]) {
        if self.is_finished() {
            return;
        }
        let mut reply = None;
        let result = self.decoder.decode(data, |frame| {
            if reply.is_none() {
                reply = Some(frame.to_vec());
            }
        });
        match (reply, result) {
            (Some(poem), _) => self.decide(Ok(poem)),
            (None, Err(error)) => {
                tracing::warn!(peer = %cx.peer(), %error, "malformed reply from transform server");
                self.decide(Err(TransformError::MalformedReply(error)));
            }
            (None, Ok(())) => return,
        }
        cx.lose_connection();
    }

    fn connection_lost(&mut self, _cx: &mut Context<'_, NoTimer>, reason: Disconnect) {
        let error = match reason {
            Disconnect::Clean if self.decoder.consumed() == 0 => TransformError::NoReply,
            Disconnect::Clean => TransformError::TruncatedReply,
            other => TransformError::ConnectionLost(other),
        };
        self.decide(Err(error));
    }
}

/// Builds a [`TransformClient`] for each connection: the same request every time (the
/// original's `TransformClientFactory`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransformClientFactory {
    /// The transform to ask for.
    pub name: String,
    /// The poem to transform.
    pub poem: Vec<u8>,
}

impl TransformClientFactory {
    /// A factory for requests to apply `name` to `poem`.
    pub fn new(name: impl Into<String>, poem: impl Into<Vec<u8>>) -> Self {
        Self {
            name: name.into(),
            poem: poem.into(),
        }
    }
}

impl Factory for TransformClientFactory {
    type Protocol = TransformClient;

    fn build_protocol(&mut self, _peer: SocketAddr) -> TransformClient {
        TransformClient::new(&self.name, &self.poem)
    }
}
