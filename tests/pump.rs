//! The pump's two paths (with a transcript, and the benchmark's short path without one)
//! call the protocols in one order.

use std::cell::RefCell;
use std::rc::Rc;

use weft::flow::ProducerKind;
use weft::protocol::{Context, NoTimer, Protocol};
use weft::testing::{Pump, PumpOptions};
use weft::transport::Disconnect;

/// Every protocol call of both sides, in the order they happened.
type Log = Rc<RefCell<Vec<String>>>;

/// A pull producer that writes one chunk each time its queue drains, answers every
/// read with a byte, and closes after its last chunk: so each round has drains,
/// reads and writes on both sides at once.
struct Chatter {
    name: &'static str,
    chunks_left: u32,
    log: Log,
}

impl Chatter {
    fn new(name: &'static str, chunks: u32, log: &Log) -> Self {
        Self {
            name,
            chunks_left: chunks,
            log: Rc::clone(log),
        }
    }

    fn note(&self, what: String) {
        self.log.borrow_mut().push(format!("{} {what}", self.name));
    }
}

impl Protocol for Chatter {
    type Timer = NoTimer;

    fn connection_made(&mut self, cx: &mut Context<'_, NoTimer>) {
        self.note("connection_made".into());
        cx.register_producer(ProducerKind::Pull).unwrap();
    }

    fn data_received(&mut self, cx: &mut Context<'_, NoTimer>, data: &[u8]) {
        self.note(format!("read {}", data.escape_ascii()));
        cx.write(b".");
    }

    fn resume_producing(&mut self, cx: &mut Context<'_, NoTimer>) {
        self.note("resume_producing".into());
        if self.chunks_left > 0 {
            self.chunks_left -= 1;
            cx.write(format!("<{}{}>", self.name, self.chunks_left).as_bytes());
        } else {
            cx.unregister_producer().unwrap();
            cx.lose_connection();
        }
    }

    fn connection_lost(&mut self, _cx: &mut Context<'_, NoTimer>, reason: Disconnect) {
        self.note(format!("connection_lost {reason:?}"));
    }
}

fn chatter_log(options: PumpOptions) -> Vec<String> {
    let log = Log::default();
    let mut pump = Pump::new(
        options,
        Chatter::new("client", 3, &log),
        Chatter::new("server", 2, &log),
    );
    pump.flush();
    assert_eq!(pump.client_lost(), Some(Disconnect::Clean));
    assert_eq!(pump.server_lost(), Some(Disconnect::Clean));
    log.take()
}

#[test]
fn producer_notices_and_reads_come_in_one_order_with_or_without_a_transcript() {
    let recorded = chatter_log(PumpOptions::default());
    let short_path = chatter_log(PumpOptions {
        transcript: false,
        ..PumpOptions::default()
    });
    assert_eq!(short_path, recorded);
}

#[test]
fn a_senders_producer_hears_its_queue_drained_before_the_peer_reads_it() {
    for transcript in [true, false] {
        let log = chatter_log(PumpOptions {
            transcript,
            ..PumpOptions::default()
        });
        // After both connection_made calls and their first resume: the first round.
        let first_round: Vec<&str> = log.iter().skip(4).take(4).map(String::as_str).collect();
        assert_eq!(
            first_round,
            [
                "client resume_producing",
                "server resume_producing",
                "server read <client2>",
                "client read <server1>",
            ],
            "transcript: {transcript}; whole log: {log:#?}"
        );
    }
}

#[test]
fn a_read_size_smaller_than_the_queue_leaves_the_producer_unresumed_until_it_drains() {
    let log = chatter_log(PumpOptions {
        read_size: Some(4),
        ..PumpOptions::default()
    });
    let client_resumes = log
        .iter()
        .filter(|line| *line == "client resume_producing")
        .count();
    // One at registration, one per chunk drained (3), the last of which closes.
    assert_eq!(client_resumes, 4, "{log:#?}");
}

/// Greets on connect; on its first read, records it and then aborts or answers.
struct Greeter {
    greeting: &'static [u8],
    abort_on_read: bool,
    heard: Vec<u8>,
    lost: Option<Disconnect>,
}

impl Greeter {
    fn new(greeting: &'static [u8], abort_on_read: bool) -> Self {
        Self {
            greeting,
            abort_on_read,
            heard: Vec::new(),
            lost: None,
        }
    }
}

impl Protocol for Greeter {
    type Timer = NoTimer;

    fn connection_made(&mut self, cx: &mut Context<'_, NoTimer>) {
        cx.write(self.greeting);
    }

    fn data_received(&mut self, cx: &mut Context<'_, NoTimer>, data: &[u8]) {
        self.heard.extend_from_slice(data);
        if self.abort_on_read {
            cx.write(b" and more");
            cx.abort_connection();
        }
    }

    fn connection_lost(&mut self, _cx: &mut Context<'_, NoTimer>, reason: Disconnect) {
        self.lost = Some(reason);
    }
}

#[test]
fn bytes_taken_in_a_round_reach_the_peer_even_if_their_sender_aborts_while_reading() {
    for transcript in [true, false] {
        let mut pump = Pump::new(
            PumpOptions {
                transcript,
                ..PumpOptions::default()
            },
            Greeter::new(b"hi", false),
            Greeter::new(b"hello", true),
        );
        pump.flush();
        assert_eq!(pump.server.heard, b"hi", "transcript: {transcript}");
        // Taken before the server read (and aborted): on the wire already.
        assert_eq!(pump.client.heard, b"hello", "transcript: {transcript}");
        assert_eq!(pump.server.lost, Some(Disconnect::Aborted));
        assert_eq!(pump.client.lost, Some(Disconnect::Reset));
    }
}
