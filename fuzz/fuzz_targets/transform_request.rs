//! The transform server's request handling, on a string transport, with arbitrary bytes
//! in arbitrary reads. Its replies are exactly what the documented rule predicts: the
//! requests completed in the read that completes the first one are answered in turn
//! (a refused one gets nothing), later reads are ignored, and the connection closes
//! once a request or a parse error is seen. Nothing else is ever written.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weft::codec::netstring::{self, NetstringDecoder};
use weft::programs::transform::{TransformFactory, TransformService};
use weft::protocol::Factory;
use weft::testing::StringTransport;
use weft::transport::{Disconnect, ipv4};
use weft_fuzz::{CutStream, assert_user_facing};

/// What the server should write, and whether it should have closed.
fn predicted(service: &TransformService, chunks: &[&[u8]]) -> (Vec<u8>, bool) {
    let mut decoder = NetstringDecoder::new();
    let mut written = Vec::new();
    for chunk in chunks {
        let mut requests = Vec::new();
        let result = decoder.decode(chunk, |r| requests.push(r.to_vec()));
        for request in &requests {
            match service.handle(request) {
                Ok(poem) => written.extend_from_slice(&netstring::encode(&poem)),
                Err(error) => assert_user_facing(&error.to_string()),
            }
        }
        if !requests.is_empty() || result.is_err() {
            return (written, true);
        }
    }
    (written, false)
}

fuzz_target!(|data: &[u8]| {
    let input = CutStream::new(data);
    let chunks = input.chunks();
    let factory = TransformFactory::default();
    let (expected, closes) = predicted(factory.service(), &chunks);

    let protocol = TransformFactory::default().build_protocol(ipv4(192, 168, 1, 1, 50000));
    let mut conn = StringTransport::with_disconnection().make_connection(protocol);
    for chunk in &chunks {
        conn.data_received(chunk);
    }
    assert_eq!(conn.value(), expected.as_slice(), "the replies differ");
    assert_eq!(conn.lost(), closes.then_some(Disconnect::Clean));
    assert_eq!(conn.protocol.is_closing(), closes);

    // The service itself: a request without a dot is refused as such; rot13 is its own
    // inverse; cummingsify lower-cases.
    let stream = input.stream;
    if let Ok(once) = factory.service().transform(b"rot13", stream) {
        let twice = factory
            .service()
            .transform(b"rot13", &once)
            .expect("rot13 never fails");
        assert_eq!(twice, stream);
    }
    let lower = factory
        .service()
        .transform(b"cummingsify", stream)
        .expect("never fails");
    assert_eq!(lower, stream.to_ascii_lowercase());
});
