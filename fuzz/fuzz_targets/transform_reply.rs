//! The transform client's reply handling, on a string transport: arbitrary reply bytes
//! in arbitrary reads, then the server leaves in some way. The request ends exactly
//! once, with the outcome the reply decides: its first netstring if one completes
//! before any framing error, else that error, else how the connection ended.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weft::codec::netstring::NetstringDecoder;
use weft::programs::transform::{TransformClient, TransformError};
use weft::testing::StringTransport;
use weft::transport::Disconnect;
use weft_fuzz::{Leave, Visit, assert_user_facing};

fuzz_target!(|data: &[u8]| {
    let visit = Visit::new(data);
    let stream = visit.sent.stream;
    let client = TransformClient::new("cummingsify", b"HERE IS MY POEM");
    let request = client.request().to_vec();
    let mut conn = StringTransport::with_disconnection().make_connection(client);
    assert_eq!(
        conn.value(),
        request.as_slice(),
        "the request is sent on connect"
    );

    for chunk in visit.sent.chunks() {
        conn.data_received(chunk);
    }
    match visit.leave {
        Leave::HalfClose => conn.read_connection_lost(),
        Leave::Close(reason) => conn.connection_lost(reason),
        Leave::Stay => {}
    }

    let mut decoder = NetstringDecoder::new();
    let mut frames = Vec::new();
    let result = decoder.decode(stream, |f| frames.push(f.to_vec()));
    // A half-close is answered by closing (the default), so it ends like a clean close.
    let ended = match visit.leave {
        Leave::HalfClose => Leave::Close(Disconnect::Clean),
        other => other,
    };
    let expected = match (frames.first(), result, ended) {
        (Some(first), _, _) => Some(Ok(first.clone())),
        (None, Err(error), _) => Some(Err(TransformError::MalformedReply(error))),
        (None, Ok(()), Leave::Close(Disconnect::Clean)) if stream.is_empty() => {
            Some(Err(TransformError::NoReply))
        }
        (None, Ok(()), Leave::Close(Disconnect::Clean)) => {
            Some(Err(TransformError::TruncatedReply))
        }
        (None, Ok(()), Leave::Close(reason)) => Some(Err(TransformError::ConnectionLost(reason))),
        (None, Ok(()), Leave::Stay | Leave::HalfClose) => None,
    };
    let outcome = conn.protocol.take_outcome();
    assert_eq!(outcome, expected, "the outcome differs");
    assert!(
        conn.protocol.take_outcome().is_none(),
        "an outcome taken twice"
    );
    assert_eq!(conn.protocol.is_finished(), outcome.is_some());
    if let Some(Err(error)) = &outcome {
        assert_user_facing(&error.to_string());
    }
    // A decided reply closes the connection; the request is all it ever wrote.
    if matches!(
        outcome,
        Some(Ok(_)) | Some(Err(TransformError::MalformedReply(_)))
    ) {
        assert!(
            conn.lost().is_some(),
            "the client did not close after its reply"
        );
    }
    assert_eq!(conn.value(), request.as_slice());
});
