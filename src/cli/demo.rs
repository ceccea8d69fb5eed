//! The default job: run the bundled simulations and print a summary.

use std::time::Duration;

use crate::programs::heartbeat::Heartbeat;
use crate::programs::pingpong::PingPongFactory;
use crate::programs::streaming::{ReceivingServer, StreamingClient};
use crate::protocol::Factory;
use crate::testing::{EventKind, Pump, PumpOptions, connected_pair};
use crate::transport::ipv4;

pub(crate) fn run() -> i32 {
    println!("weft: chapter 1 programs over the in-memory pump (virtual time)");
    pingpong();
    heartbeat();
    streaming();
    0
}

fn pingpong() {
    let client = PingPongFactory::client(Some(100)).build_protocol(ipv4(127, 0, 0, 1, 1));
    let server = PingPongFactory::server(None).build_protocol(ipv4(127, 0, 0, 1, 2));
    let mut pump = connected_pair(client, server);
    pump.flush();
    println!(
        "  pingpong   client maximum 100: client wrote {} B, server wrote {} B; client {}, server {}",
        pump.client.written(),
        pump.server.written(),
        describe(pump.client_lost()),
        describe(pump.server_lost()),
    );
}

fn heartbeat() {
    let mut pump = connected_pair(Heartbeat::default(), ReceivingServer::default());
    let span = Duration::from_secs(300);
    pump.run_for(span);
    println!(
        "  heartbeat  {} s: {} beats written, {} B received",
        span.as_secs(),
        pump.client.beats(),
        pump.server.received(),
    );
}

fn streaming() {
    let options = PumpOptions {
        read_size: Some(65_536),
        ..PumpOptions::default()
    };
    let mut pump = Pump::new(
        options,
        StreamingClient::new(Some(1 << 21)),
        ReceivingServer::default(),
    );
    pump.run_for(Duration::from_secs(1));
    let count = |kind: &EventKind| {
        pump.transcript()
            .events()
            .iter()
            .filter(|e| &e.what == kind)
            .count()
    };
    println!(
        "  streaming  {} writes, {} B sent, {} B received in {} reads; {} pauses, {} resumes (first pause after write {})",
        pump.client.producer().writes(),
        pump.client.producer().written(),
        pump.server.received(),
        pump.server.reads(),
        count(&EventKind::Paused),
        count(&EventKind::Resumed),
        pump.client
            .first_pause_at_write()
            .map_or_else(|| "-".to_owned(), |w| w.to_string()),
    );
}

fn describe(lost: Option<crate::transport::Disconnect>) -> String {
    lost.map_or_else(|| "still open".to_owned(), |reason| reason.to_string())
}
