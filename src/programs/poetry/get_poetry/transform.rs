//! The transform stage of clients 6.0 to 8.0: a poem that has arrived goes to the
//! transform server over a connection of its own, and comes back transformed, or the
//! stage fails and the original poem is used.
//!
//! One `Transforming` value per poem drives a [`TransformClient`] through
//! [`HostContext::with_protocol`]: the program forwards the transform connection's
//! events, and the client's take-once outcome ends the stage exactly once. The
//! originals' "you make it, you fire it" (the factory's own deferred, fired by the reply
//! or by `clientConnectionLost`/`clientConnectionFailed`) is the outcome here; the
//! nested deferred of Part 13 (the outer chain paused on `proxy.xform`) is the download
//! staying in this stage until the outcome is in.

use std::time::Duration;

use crate::host::{ConnId, ConnectError, HostContext, HostPort};
use crate::programs::transform::{TransformClient, TransformError};
use crate::time::format_timedelta;
use crate::transport::Disconnect;

use super::super::client::no_timer;
use super::super::poems::Poem;
use super::GetPoetryTimer;

/// Why a poem was not transformed (the original was used instead).
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum TransformStepError {
    /// The transform request failed: refused or failed connect, a close without a
    /// reply, a reset, a malformed reply.
    #[error(transparent)]
    Request(#[from] TransformError),
    /// No reply within the stage's limit; the connection was closed.
    #[error("transform timed out after {}", format_timedelta(*.0))]
    TimedOut(Duration),
}

/// A transform connection's event, as forwarded by the program.
#[derive(Clone, Copy, Debug)]
pub(super) enum Event<'a> {
    Made,
    Data(&'a [u8]),
    ReadClosed,
    Lost(Disconnect),
}

/// The stage in progress for one poem.
#[derive(Debug)]
pub(super) struct Transforming {
    conn: ConnId,
    client: TransformClient,
    original: Poem,
}

impl Transforming {
    /// Connects to `server` to ask for transform `name` of `original`.
    pub(super) fn start(
        cx: &mut HostContext<'_, GetPoetryTimer>,
        server: &HostPort,
        name: &str,
        original: Poem,
        connect_timeout: Duration,
    ) -> Self {
        let conn = cx.connect(server.clone(), connect_timeout);
        Self {
            conn,
            client: TransformClient::new(name, original.as_bytes()),
            original,
        }
    }

    /// The transform connection.
    pub(super) fn conn(&self) -> ConnId {
        self.conn
    }

    /// The poem as it arrived.
    pub(super) fn into_original(self) -> Poem {
        self.original
    }

    /// Forwards `event` to the transform client; the outcome, once decided.
    pub(super) fn handle(
        &mut self,
        cx: &mut HostContext<'_, GetPoetryTimer>,
        event: Event<'_>,
    ) -> Option<Result<Poem, TransformStepError>> {
        use crate::protocol::Protocol;
        let client = &mut self.client;
        cx.with_protocol(self.conn, no_timer, |pcx| match event {
            Event::Made => client.connection_made(pcx),
            Event::Data(data) => client.data_received(pcx, data),
            Event::ReadClosed => client.read_connection_lost(pcx),
            Event::Lost(reason) => client.connection_lost(pcx, reason),
        });
        let outcome = self.client.take_outcome()?;
        Some(outcome.map(Poem::new).map_err(TransformStepError::from))
    }

    /// The connect failed: the stage fails.
    pub(super) fn connect_failed(error: ConnectError) -> TransformStepError {
        TransformStepError::Request(TransformError::ConnectFailed(error))
    }
}

/// The line printed on stderr when a transform fails: `Cummingsify failed!` for the
/// originals' transform, and likewise for any other name.
pub(crate) fn failed_line(name: &str) -> String {
    let mut chars = name.chars();
    let capital: String = chars
        .next()
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_default();
    format!("{capital}{} failed!", chars.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_failure_line_is_the_originals_for_cummingsify() {
        assert_eq!(failed_line("cummingsify"), "Cummingsify failed!");
        assert_eq!(failed_line("rot13"), "Rot13 failed!");
        assert_eq!(failed_line(""), " failed!");
    }
}
