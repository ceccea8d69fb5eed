//! The server and a scripted client joined in memory (Twisted's `iosim`), the bytes of
//! both directions reviewed as an insta snapshot in this crate's `snapshots/`.

use std::cell::RefCell;
use std::rc::Rc;

use weft::protocol::{Context, NoTimer, Protocol};
use weft::testing::{Pump, PumpOptions, Segmentation, connected_pair};
use weft_kv::{KvSession, Store};

/// Sends every line at once, closes after as many replies.
struct Script {
    lines: &'static [&'static str],
    replies: usize,
}

impl Protocol for Script {
    type Timer = NoTimer;

    fn connection_made(&mut self, cx: &mut Context<'_, NoTimer>) {
        for line in self.lines {
            cx.write(format!("{line}\r\n").as_bytes());
        }
    }

    fn data_received(&mut self, cx: &mut Context<'_, NoTimer>, data: &[u8]) {
        self.replies += data.iter().filter(|b| **b == b'\n').count();
        if self.replies == self.lines.len() {
            cx.lose_connection();
        }
    }
}

const LINES: &[&str] = &["SET colour teal", "GET colour", "GET shape", "DEL colour"];

fn server() -> KvSession {
    KvSession::new(Rc::new(RefCell::new(Store::default())), None)
}

fn snapshot(name: &str, transcript: &str) {
    insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!(name, transcript);
    });
}

#[test]
fn a_scripted_session_matches_its_transcript() {
    let mut pump = connected_pair(
        Script {
            lines: LINES,
            replies: 0,
        },
        server(),
    );
    pump.flush();
    assert_eq!(pump.client.replies, 4);
    snapshot("pump_scripted_session", &pump.transcript().render());
}

#[test]
fn replies_cut_into_one_byte_reads_are_the_same_bytes() {
    let options = PumpOptions {
        to_server: Segmentation::Fixed(1),
        to_client: Segmentation::Fixed(1),
        ..PumpOptions::default()
    };
    let mut whole = connected_pair(
        Script {
            lines: LINES,
            replies: 0,
        },
        server(),
    );
    whole.flush();
    let mut cut = Pump::new(
        options,
        Script {
            lines: LINES,
            replies: 0,
        },
        server(),
    );
    cut.flush();
    let server_bytes = |p: &Pump<Script, KvSession>| p.transcript().bytes("server > client");
    assert_eq!(server_bytes(&cut), server_bytes(&whole));
    assert!(!server_bytes(&whole).is_empty());
}
