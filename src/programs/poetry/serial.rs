//! The blocking slow server of Part 2, as a program: one client at a time.
//!
//! The original accepts a client, sends its poem with blocking `sendall` and `sleep`,
//! closes, and only then accepts the next. Clients that arrive meanwhile are connected at
//! the TCP level (the kernel completes their handshake into the listen backlog) but get
//! nothing until their turn.
//!
//! weft does the same with the listener's backlog: it listens with the original's
//! backlog of 5, stops accepting while it serves a client
//! ([`HostContext::pause_accepting`]), and accepts the next when it is done. Waiting
//! clients are connected (the kernel completed their handshake) but hear nothing; a
//! sixth waiting client's SYN goes unanswered until there is room. Each client is paced
//! exactly like the slow server ([`Pace`]), so three clients take the *sum* of their
//! times. Connections a driver hands over before the pause takes effect wait in an
//! arrival-ordered queue of the program's own. Choices, documented because the original
//! has none of them:
//! - a client that leaves mid-poem is noticed at once and the next client is served
//!   at once (the original notices on its next failed `sendall`, a chunk or two later);
//! - a waiting client that leaves is dropped from the queue without being served.

use crate::programs::STDOUT_TARGET;
use std::collections::VecDeque;
use std::net::SocketAddr;

use crate::clock::CallId;
use crate::host::{ConnId, ConnectError, HostContext, HostPort, ListenerId, Program};
use crate::transport::Disconnect;

use super::poems::Poem;
use super::server::{ChunkSender, Pace};

/// The original's `listen(5)`.
pub const SERIAL_BACKLOG: u32 = 5;

/// The serial server's one timer.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SerialTimer {
    /// Send the current client's next chunk (or close it, past the end).
    Send,
}

struct Serving {
    conn: ConnId,
    sender: ChunkSender,
    next: Option<CallId>,
}

/// Serves a poem slowly to one client at a time, the others waiting in arrival order.
pub struct SerialPoetryServer {
    addr: HostPort,
    poem: Poem,
    pace: Pace,
    current: Option<Serving>,
    /// The listener, once listening, to pause and resume accepting on.
    listener: Option<ListenerId>,
    backlog: VecDeque<ConnId>,
    served: Vec<ConnId>,
}

impl SerialPoetryServer {
    /// A server that will listen on `addr` and serve `poem` at `pace`.
    pub fn new(addr: HostPort, poem: Poem, pace: Pace) -> Self {
        Self {
            addr,
            poem,
            pace,
            current: None,
            listener: None,
            backlog: VecDeque::new(),
            served: Vec::new(),
        }
    }

    /// The client being served now.
    pub fn current(&self) -> Option<ConnId> {
        self.current.as_ref().map(|s| s.conn)
    }

    /// The clients waiting their turn, first in line first.
    pub fn waiting(&self) -> Vec<ConnId> {
        self.backlog.iter().copied().collect()
    }

    /// The clients whose service has started, in order.
    pub fn served(&self) -> &[ConnId] {
        &self.served
    }

    /// Starts the next waiting client if nobody is being served.
    fn serve_next(&mut self, cx: &mut HostContext<'_, SerialTimer>) {
        while self.current.is_none() {
            let Some(conn) = self.backlog.pop_front() else {
                // Idle: take the next client from the kernel's backlog.
                if let Some(listener) = self.listener {
                    cx.resume_accepting(listener);
                }
                return;
            };
            if !cx.is_connected(conn) {
                continue;
            }
            if let Some(peer) = cx.peer(conn) {
                tracing::info!(target: STDOUT_TARGET, "Somebody at {peer} wants poetry!");
            }
            self.served.push(conn);
            if let Some(listener) = self.listener {
                cx.pause_accepting(listener);
            }
            self.current = Some(Serving {
                conn,
                sender: ChunkSender::new(self.poem.clone(), self.pace.num_bytes),
                next: None,
            });
            self.send_next(cx);
        }
    }

    fn send_next(&mut self, cx: &mut HostContext<'_, SerialTimer>) {
        let Some(serving) = &mut self.current else {
            return;
        };
        serving.next = None;
        match serving.sender.next_chunk() {
            Some(chunk) => {
                tracing::debug!(target: STDOUT_TARGET, "Sending {} bytes", chunk.len());
                cx.write(serving.conn, chunk);
                serving.next = Some(cx.call_later(self.pace.delay, SerialTimer::Send));
            }
            None => {
                // Done with this client: close it and turn to the next at once.
                cx.lose_connection(serving.conn);
                self.current = None;
                self.serve_next(cx);
            }
        }
    }
}

impl Program for SerialPoetryServer {
    type Timer = SerialTimer;

    fn start(&mut self, cx: &mut HostContext<'_, SerialTimer>) {
        self.listener = Some(cx.listen_with_backlog(self.addr.clone(), SERIAL_BACKLOG));
    }

    fn listening(
        &mut self,
        cx: &mut HostContext<'_, SerialTimer>,
        _listener: ListenerId,
        addr: SocketAddr,
    ) {
        cx.print(format!("Serving poetry on port {}.", addr.port()));
    }

    fn connection_made(&mut self, cx: &mut HostContext<'_, SerialTimer>, conn: ConnId) {
        self.backlog.push_back(conn);
        self.serve_next(cx);
    }

    fn data_received(
        &mut self,
        _cx: &mut HostContext<'_, SerialTimer>,
        _conn: ConnId,
        _data: &[u8],
    ) {
    }

    fn connection_lost(
        &mut self,
        cx: &mut HostContext<'_, SerialTimer>,
        conn: ConnId,
        _reason: Disconnect,
    ) {
        self.backlog.retain(|&c| c != conn);
        if self.current.as_ref().is_some_and(|s| s.conn == conn) {
            if let Some(call) = self.current.take().and_then(|s| s.next) {
                let _ = cx.cancel(call);
            }
            self.serve_next(cx);
        }
    }

    fn connect_failed(
        &mut self,
        _cx: &mut HostContext<'_, SerialTimer>,
        _conn: ConnId,
        _error: ConnectError,
    ) {
        // A server makes no connections.
    }

    fn timer_fired(
        &mut self,
        cx: &mut HostContext<'_, SerialTimer>,
        SerialTimer::Send: SerialTimer,
    ) {
        self.send_next(cx);
    }
}
