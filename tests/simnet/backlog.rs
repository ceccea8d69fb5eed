//! Listen backlogs and paused accepting.

use super::*;

/// Listens with a backlog, does not accept until `open_at`, and records when each
/// connection reached it and what it read.
struct Gatekeeper {
    backlog: u32,
    open_at: Duration,
    listener: Option<weft::host::ListenerId>,
    accepted: Vec<(Instant, Vec<u8>)>,
}

impl weft::host::Program for Gatekeeper {
    type Timer = ();
    fn start(&mut self, cx: &mut weft::host::HostContext<'_, ()>) {
        let listener = cx.listen_with_backlog(HostPort::new("", 80), self.backlog);
        cx.pause_accepting(listener);
        self.listener = Some(listener);
        weft::clock::Clock::call_later(cx, self.open_at, ());
    }
    fn timer_fired(&mut self, cx: &mut weft::host::HostContext<'_, ()>, (): ()) {
        cx.resume_accepting(self.listener.unwrap());
    }
    fn connection_made(&mut self, cx: &mut weft::host::HostContext<'_, ()>, _: weft::host::ConnId) {
        self.accepted
            .push((weft::clock::Clock::now(cx), Vec::new()));
    }
    fn data_received(
        &mut self,
        _: &mut weft::host::HostContext<'_, ()>,
        _: weft::host::ConnId,
        data: &[u8],
    ) {
        self.accepted.last_mut().unwrap().1.extend_from_slice(data);
    }
    fn connection_lost(
        &mut self,
        _: &mut weft::host::HostContext<'_, ()>,
        _: weft::host::ConnId,
        _: Disconnect,
    ) {
    }
    fn connect_failed(
        &mut self,
        _: &mut weft::host::HostContext<'_, ()>,
        _: weft::host::ConnId,
        _: ConnectError,
    ) {
    }
}

fn gate_net(backlog: u32, clients: &[&'static str]) -> SimNet {
    let mut net = SimNet::new(NetConfig::default(), 1);
    net.add_host("gate", move || {
        boxed(Gatekeeper {
            backlog,
            open_at: secs(5),
            listener: None,
            accepted: Vec::new(),
        })
    });
    for &name in clients {
        let talker = Recorder {
            greeting: name.as_bytes(),
            ..Recorder::default()
        };
        net.add_host(name, move || {
            boxed(
                FactoryProgram::new(RecorderFactory(talker.clone()))
                    .connect(HostPort::new("gate", 80)),
            )
        });
    }
    net
}

fn accepted(net: &SimNet) -> Vec<(Instant, Vec<u8>)> {
    net.program::<Gatekeeper>("gate").unwrap().accepted.clone()
}

#[test]
fn a_paused_listener_holds_connections_in_its_backlog_until_it_accepts() {
    let mut net = gate_net(5, &["early"]);
    net.run_until(Instant::from_secs(4));
    // The kernel completed the handshake: the client is connected and has written...
    let client_open = net
        .transcript()
        .events()
        .iter()
        .any(|e| e.who.starts_with("early:") && e.what == EventKind::Open);
    assert!(client_open);
    // ...but the server's program has heard nothing yet.
    assert!(accepted(&net).is_empty());
    net.run_until(Instant::from_secs(6));
    assert_eq!(
        accepted(&net),
        [(Instant::from_secs(5), b"early".to_vec())],
        "accepted at the resume, with its buffered bytes"
    );
}

#[test]
fn a_full_backlog_leaves_a_syn_unanswered_until_there_is_room() {
    let mut net = gate_net(1, &["first", "second"]);
    net.run_until(Instant::from_secs(20));
    let accepted = accepted(&net);
    assert_eq!(accepted.len(), 2);
    assert_eq!(accepted[0], (Instant::from_secs(5), b"first".to_vec()));
    // The second SYN found the backlog full and was retransmitted (0.2, 0.6, 1.4, 3.0,
    // 6.2 s after a doubling 200 ms timeout): it gets in on the try after the resume.
    let (at, data) = &accepted[1];
    assert!(
        *at > Instant::from_secs(5) && *at < Instant::from_secs(7),
        "{at}"
    );
    assert_eq!(data, b"second");
}
