//! get-poetry as async programs: Twisted clients 7.0 (`inlineCallbacks`) and 8.0
//! (`DeferredList`) written as `async fn`s on a [`TaskProgram`].
//!
//! They take the state machine's [`GetPoetryOptions`] and print, log and send exactly
//! what [`GetPoetry`](super::GetPoetry) does — the differential test in
//! `tests/get_poetry_async.rs` holds them to the same transcripts on every get-poetry
//! scenario. Where the state machine moves a download from stage to stage, here a
//! download is one `async fn`, as `get_transformed_poem` is one generator:
//!
//! ```text
//! poem = timeout(download).await?      (retried after a pause while attempts are left)
//! poem = timeout(transform(poem)).await or, on failure, "Cummingsify failed!" and poem
//! ```
//!
//! A timed-out attempt drops its connection, which closes it cleanly, as the state
//! machine closes it (the originals' `connector.disconnect()`).

use crate::codec::netstring::NetstringDecoder;
use crate::host::HostPort;
use crate::programs::transform::{TransformClient, TransformError};
use crate::task::{ConnectionError, TaskProgram, Tasks, deferred_list};
use crate::time::{Instant, format_timedelta};
use crate::transport::Disconnect;

use super::client::{DownloadError, Failure, Received};
use super::get_poetry::report::{end_lines, result_lines};
use super::get_poetry::transform::failed_line;
use super::poems::Poem;
use super::{GetPoetryOptions, ReportStyle, TransformStepError};

/// One download's end: its result, and why its poem was not transformed (if so).
type Outcome = (Result<Poem, DownloadError>, Option<TransformStepError>);

/// Client 7.0: each download an `inlineCallbacks` generator of its own (here a spawned
/// task), results gathered as they end; the program exits when the last is in.
pub fn get_poetry_inline_callbacks(options: GetPoetryOptions) -> TaskProgram {
    TaskProgram::new(move |tasks: Tasks| async move {
        let started = tasks.now();
        let count = options.servers.len();
        let options = std::rc::Rc::new(options);
        let mut outcomes: Vec<Outcome> = Vec::with_capacity(count);
        if options.sequential {
            for i in 0..count {
                outcomes.push(get_transformed_poem(&tasks, &options, i).await);
            }
        } else {
            let handles: Vec<_> = (0..count)
                .map(|i| {
                    let (tasks, options) = (tasks.clone(), options.clone());
                    tasks
                        .clone()
                        .spawn(async move { get_transformed_poem(&tasks, &options, i).await })
                })
                .collect();
            for handle in handles {
                outcomes.push(handle.await.expect("download tasks are never cancelled"));
            }
        }
        finish(&tasks, &options, started, &outcomes);
    })
}

/// Client 8.0: every download's future in one `DeferredList(consumeErrors=True)`
/// ([`deferred_list`]); the program exits when the list fires.
pub fn get_poetry_deferred_list(options: GetPoetryOptions) -> TaskProgram {
    TaskProgram::new(move |tasks: Tasks| async move {
        let started = tasks.now();
        let count = options.servers.len();
        let outcomes: Vec<Outcome> = if options.sequential {
            let mut outcomes = Vec::with_capacity(count);
            for i in 0..count {
                outcomes.push(get_transformed_poem(&tasks, &options, i).await);
            }
            outcomes
        } else {
            let (tasks, options) = (&tasks, &options);
            let downloads = (0..count)
                .map(|i| async move { Ok::<_, ()>(get_transformed_poem(tasks, options, i).await) });
            deferred_list(downloads)
                .await
                .into_iter()
                .flatten()
                .collect()
        };
        finish(&tasks, &options, started, &outcomes);
    })
}

fn finish(tasks: &Tasks, options: &GetPoetryOptions, started: Instant, outcomes: &[Outcome]) {
    let results: Vec<_> = outcomes.iter().map(|(result, _)| result).collect();
    let failed: Vec<bool> = outcomes.iter().map(|(_, t)| t.is_some()).collect();
    let elapsed = tasks.now() - started;
    let name = &options.transform_name;
    end_lines(
        &mut { tasks },
        options.report,
        &results,
        &failed,
        name,
        elapsed,
    );
    tasks.exit(options.exit.status(results.iter().all(|r| r.is_ok())));
}

/// `get_transformed_poem`: download poem `i` (with its retries), then transform it.
async fn get_transformed_poem(tasks: &Tasks, options: &GetPoetryOptions, i: usize) -> Outcome {
    let server = &options.servers[i];
    if options.report == ReportStyle::Blocking {
        tasks.print(format!("Task {}: get poetry from: {server}", i + 1));
    }
    let started_at = tasks.now();
    let mut transform_error = None;
    let result = match download(tasks, options, i).await {
        Err(failure) => Err(DownloadError {
            server: server.clone(),
            failure,
        }),
        Ok(poem) => match &options.transform {
            None => Ok(poem),
            Some(transform_server) => {
                let limit = options.transform_limit();
                let step = transform(tasks, options, transform_server, &poem);
                let outcome = match limit {
                    Some(limit) => (tasks.timeout(limit, step).await)
                        .unwrap_or(Err(TransformStepError::TimedOut(limit))),
                    None => step.await,
                };
                match outcome {
                    Ok(transformed) => Ok(transformed),
                    Err(error) => {
                        tracing::warn!(task = i + 1, %error, "transform failed; using the original poem");
                        if !matches!(
                            options.report,
                            ReportStyle::Quiet | ReportStyle::InOrderAtEnd
                        ) {
                            tasks.eprint(failed_line(&options.transform_name));
                        }
                        transform_error = Some(error);
                        Ok(poem)
                    }
                }
            }
        },
    };
    let task = i + 1;
    match &result {
        Err(error) => tracing::warn!(task, %error, "download failed"),
        Ok(poem) => tracing::info!(task, bytes = poem.len(), "poem received"),
    }
    let took = tasks.now() - started_at;
    result_lines(&mut { tasks }, options.report, i, server, took, &result);
    (result, transform_error)
}

/// Downloads poem `i`: attempts under the per-stage limit, with a pause between them,
/// until one succeeds or none is left.
async fn download(tasks: &Tasks, options: &GetPoetryOptions, i: usize) -> Result<Poem, Failure> {
    let of_total = match options.attempts() {
        Some(total) => format!(" of {total}"),
        None => String::new(),
    };
    // Attempts started, this one included: once it fails, the policy's failure count.
    let mut started = 1;
    loop {
        let last = !options.retry.allows(started);
        let receiving = receive(tasks, options, i, last);
        let outcome = match options.timeout {
            Some(limit) => {
                (tasks.timeout(limit, receiving).await).unwrap_or(Err(Failure::TimedOut(limit)))
            }
            None => receiving.await,
        };
        let retry = match &outcome {
            Err(_) => tasks.with_rng(|rng| options.retry.delay(started, rng)),
            Ok(_) => None,
        };
        match (outcome, retry) {
            (Err(failure), Some(delay)) => {
                tracing::info!(
                    "Task {}: retrying {} in {} (attempt {}{of_total}): {failure}",
                    i + 1,
                    options.servers[i],
                    format_timedelta(delay),
                    started + 1,
                );
                tasks.sleep(delay).await;
                started += 1;
            }
            (outcome, _) => return outcome,
        }
    }
}

/// One attempt: connect, read to the close, judge the poem by how the connection ended.
async fn receive(
    tasks: &Tasks,
    options: &GetPoetryOptions,
    i: usize,
    last: bool,
) -> Result<Poem, Failure> {
    let server = &options.servers[i];
    let mut conn = (tasks.connect(server.clone()))
        .connect_timeout(options.connect_timeout)
        // Given up on (timed out), the dropped connection closes cleanly, as the state
        // machine closes it; what the server still sends is discarded.
        .await
        .map_err(Failure::Connect)?;
    let from = conn
        .peer()
        .map_or_else(|| server.to_string(), |p| p.to_string());
    let mut poem = Vec::new();
    let reason = loop {
        match conn.read().await {
            Ok(Some(chunk)) => {
                poem.extend_from_slice(&chunk);
                if options.report == ReportStyle::Tasks {
                    tasks.print(format!(
                        "Task {}: got {} bytes of poetry from {from}",
                        i + 1,
                        chunk.len()
                    ));
                }
            }
            Ok(None) | Err(ConnectionError::Closed) => break conn.close().await,
            Err(ConnectionError::Lost(reason)) => break reason,
        }
    };
    let verdict = options.truncation.judge(Received {
        poem: Poem::new(poem),
        reason,
    });
    // An attempt about to be retried has not finished the task.
    if options.report == ReportStyle::Tasks && (verdict.is_ok() || last) {
        tasks.print(format!("Task {} finished", i + 1));
    }
    verdict
}

/// `proxy.xform(name, poem)`: one request to the transform server on a connection of
/// its own; the first netstring back is the transformed poem.
async fn transform(
    tasks: &Tasks,
    options: &GetPoetryOptions,
    server: &HostPort,
    poem: &Poem,
) -> Result<Poem, TransformStepError> {
    let request = TransformClient::new(&options.transform_name, poem.as_bytes());
    let mut conn = (tasks.connect(server.clone()))
        .connect_timeout(options.connect_timeout)
        .await
        .map_err(TransformError::ConnectFailed)?;
    let _ = conn.write(request.request().to_vec()).await;
    let mut decoder = NetstringDecoder::new();
    let reason = loop {
        match conn.read().await {
            Ok(Some(chunk)) => {
                let mut reply = None;
                let decoded = decoder.decode(&chunk, |frame| {
                    reply.get_or_insert_with(|| frame.to_vec());
                });
                let outcome = match (reply, decoded) {
                    (Some(reply), _) => Ok(Poem::new(reply)),
                    (None, Err(error)) => {
                        let peer = conn.peer().map(|p| p.to_string()).unwrap_or_default();
                        tracing::warn!(%peer, %error, "malformed reply from transform server");
                        Err(TransformError::MalformedReply(error).into())
                    }
                    (None, Ok(())) => continue,
                };
                conn.lose_connection();
                return outcome;
            }
            Ok(None) | Err(ConnectionError::Closed) => break conn.close().await,
            Err(ConnectionError::Lost(reason)) => break reason,
        }
    };
    Err(match reason {
        Disconnect::Clean if decoder.consumed() == 0 => TransformError::NoReply,
        Disconnect::Clean => TransformError::TruncatedReply,
        other => TransformError::ConnectionLost(other),
    }
    .into())
}
