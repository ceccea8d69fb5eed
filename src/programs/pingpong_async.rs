//! Ping-pong as async tasks: the same game as [`pingpong`](super::pingpong), written as
//! `async fn`s on a [`TaskProgram`]. Both sides write `*` once connected; each read is
//! answered with exactly one `*`, however many bytes it carried; a side closes once the
//! total it has received reaches its maximum.

use crate::host::HostPort;
use crate::programs::STDOUT_TARGET;
use crate::task::{Connection, ConnectionError, TaskProgram, Tasks};
use crate::transport::Disconnect;

/// What one side did on its connection.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Played {
    /// Bytes received.
    pub received: u64,
    /// Bytes written.
    pub written: u64,
    /// How the connection ended.
    pub reason: Disconnect,
}

/// Plays one connection to its end; `identity` (`"Client"`, `"Server"`) is for the log
/// lines, the state machine's.
pub async fn play(mut conn: Connection, identity: &str, maximum: Option<u64>) -> Played {
    let mut played = Played {
        received: 0,
        written: 0,
        reason: Disconnect::Clean,
    };
    if conn.write(b"*".to_vec()).await.is_ok() {
        played.written += 1;
    }
    played.reason = loop {
        match conn.read().await {
            Ok(Some(chunk)) => {
                played.received += chunk.len() as u64;
                if maximum.is_some_and(|max| played.received >= max) {
                    tracing::info!("{identity} is closing the connection");
                    break conn.close().await;
                }
                if conn.write(b"*".to_vec()).await.is_ok() {
                    played.written += 1;
                    tracing::trace!(target: STDOUT_TARGET, "{identity} wrote a byte");
                }
            }
            Ok(None) => break conn.close().await,
            Err(ConnectionError::Lost(reason)) => break reason,
            Err(ConnectionError::Closed) => break conn.close().await,
        }
    };
    tracing::info!("{identity} lost the connection: {}", played.reason);
    played
}

/// The accepting side: listens on `addr` and plays every connection, each in a task of
/// its own. Exits 1 if it cannot listen.
pub fn server(addr: HostPort, maximum: Option<u64>) -> TaskProgram {
    TaskProgram::new(move |tasks: Tasks| async move {
        let mut listener = tasks.listen(addr);
        loop {
            match listener.accept().await {
                Ok(conn) => {
                    tasks.spawn(async move {
                        play(conn, "Server", maximum).await;
                    });
                }
                Err(error) => {
                    tasks.eprint(format!("error: {error}"));
                    return tasks.exit(1);
                }
            }
        }
    })
}

/// The connecting side: connects to `to`, plays, and exits 0 if the connection was made
/// and closed cleanly, 1 otherwise (as the state-machine client with `exit_when_done`).
pub fn client(to: HostPort, maximum: Option<u64>) -> TaskProgram {
    TaskProgram::new(move |tasks: Tasks| async move {
        let code = match tasks.connect(to).await {
            Ok(conn) => i32::from(!play(conn, "Client", maximum).await.reason.is_clean()),
            Err(error) => {
                tracing::warn!(%error, "connect failed");
                tasks.eprint(format!("connection failed: {error}"));
                1
            }
        };
        tasks.exit(code);
    })
}
