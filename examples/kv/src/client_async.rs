//! The same client as an async program: where [`KvClient`](crate::KvClient) keeps its
//! place in fields and timers, this keeps it in local variables across `.await`s.

use std::collections::VecDeque;

use weft::codec::line::LineDecoder;
use weft::simnet::format_duration;
use weft::task::{Connection, ConnectionError, TaskProgram, Tasks};
use weft::transport::Disconnect;

use crate::client::{ClientOptions, giving_up, seconds};
use crate::server::line_format;

/// `kv-client` as a [`TaskProgram`]: the same commands, timeouts, retries and output.
pub fn kv_client_async(options: ClientOptions) -> TaskProgram {
    TaskProgram::new(move |tasks: Tasks| async move {
        let policy = options.policy();
        let (mut next, mut failures, mut attempts) = (0, 0, 0);
        loop {
            attempts += 1;
            let why = match attempt(&tasks, &options, &mut next, &mut failures).await {
                Ok(()) => return tasks.exit(0),
                Err(why) => why,
            };
            failures += 1;
            match tasks.with_rng(|rng| policy.delay(failures, rng)) {
                Some(wait) => {
                    tasks.eprint(format!("{why}; retrying in {}", seconds(wait)));
                    tasks.sleep(wait).await;
                }
                None => {
                    tasks.eprint(giving_up(attempts, &why));
                    return tasks.exit(1);
                }
            }
        }
    })
}

/// One connection: sends the commands from `next` on until all are answered (`Ok`) or
/// the attempt fails (`Err`, saying why). Each reply moves `next` on and clears
/// `failures`.
async fn attempt(
    tasks: &Tasks,
    options: &ClientOptions,
    next: &mut usize,
    failures: &mut u32,
) -> Result<(), String> {
    let mut conn = tasks
        .connect(options.connect.clone())
        .connect_timeout(options.reply_timeout)
        // A connection given up on (a timeout) is aborted, as the state machine aborts it.
        .abort_on_drop()
        .await
        .map_err(|error| format!("connect failed: {error}"))?;
    let mut replies = Replies::default();
    while let Some(command) = options.commands.get(*next) {
        let line = line_format()
            .encode(command.as_bytes())
            .map_err(|error| format!("command {}: {error}", *next + 1))?;
        conn.write(line).await.map_err(lost)?;
        let late = || format!("no reply within {}", format_duration(options.reply_timeout));
        let reply = tasks.timeout(options.reply_timeout, replies.next(&mut conn));
        let reply = reply.await.map_err(|_| late())??;
        tasks.print(format!("{command} -> {reply}"));
        *next += 1;
        *failures = 0;
    }
    conn.lose_connection();
    Ok(())
}

/// The reply lines of one connection.
#[derive(Default)]
struct Replies {
    decoder: Option<LineDecoder>,
    ready: VecDeque<String>,
}

impl Replies {
    async fn next(&mut self, conn: &mut Connection) -> Result<String, String> {
        let decoder = self
            .decoder
            .get_or_insert_with(|| LineDecoder::new(line_format()));
        loop {
            if let Some(line) = self.ready.pop_front() {
                return Ok(line);
            }
            let chunk = conn.read().await.map_err(lost)?;
            let Some(chunk) = chunk else {
                return Err(lost(ConnectionError::Lost(Disconnect::Clean)));
            };
            decoder
                .decode(&chunk, |line| {
                    self.ready
                        .push_back(String::from_utf8_lossy(line).into_owned())
                })
                .map_err(|error| format!("bad reply: {error}"))?;
        }
    }
}

fn lost(error: ConnectionError) -> String {
    match error {
        ConnectionError::Lost(reason) => format!("connection lost: {reason}"),
        ConnectionError::Closed => format!("connection lost: {error}"),
    }
}
