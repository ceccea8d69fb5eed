//! Part 3's small reactor programs (`basic-twisted/`), written as weft programs on a
//! memory reactor: countdown.py's timed callbacks and stop, and hello.py's loop that runs
//! on with nothing to do.

use std::time::Duration;

use weft::host::{ConnId, ConnectError, HostContext, Program, Stream};
use weft::transport::Disconnect;

/// The connection callbacks of a program that makes none.
macro_rules! no_connections {
    () => {
        fn connection_made(&mut self, _: &mut HostContext<'_, Count>, _: ConnId) {}

        fn data_received(&mut self, _: &mut HostContext<'_, Count>, _: ConnId, _: &[u8]) {}

        fn connection_lost(&mut self, _: &mut HostContext<'_, Count>, _: ConnId, _: Disconnect) {}

        fn connect_failed(&mut self, _: &mut HostContext<'_, Count>, _: ConnId, _: ConnectError) {}
    };
}
use weft::testing::MemoryReactor;
use weft::time::Instant;

/// countdown.py: prints `N ...` once a second from 5, and stops the loop at 0.
struct Countdown {
    counter: u32,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Count;

impl Countdown {
    fn count(&mut self, cx: &mut HostContext<'_, Count>) {
        if self.counter == 0 {
            cx.exit(0);
            return;
        }
        cx.print(format!("{} ...", self.counter));
        self.counter -= 1;
        cx.call_later(Duration::from_secs(1), Count);
    }
}

impl Program for Countdown {
    type Timer = Count;

    fn start(&mut self, cx: &mut HostContext<'_, Count>) {
        // callWhenRunning(count): the first count as the loop starts.
        self.count(cx);
    }

    no_connections!();

    fn timer_fired(&mut self, cx: &mut HostContext<'_, Count>, Count: Count) {
        self.count(cx);
    }
}

#[test]
fn part3_countdown_prints_one_line_a_second_and_stops_at_five_seconds() {
    let mut reactor = MemoryReactor::new(Countdown { counter: 5 });
    let mut seen = Vec::new();
    while reactor.exit_code().is_none() {
        seen.push((reactor.now(), reactor.lines(Stream::Stdout).len()));
        reactor.advance(Duration::from_secs(1));
    }
    assert_eq!(
        reactor.lines(Stream::Stdout),
        ["5 ...", "4 ...", "3 ...", "2 ...", "1 ..."],
        "with the 3 the text's copy lost"
    );
    assert_eq!(reactor.now(), Instant::from_millis(5_000));
    assert_eq!(reactor.exit_code(), Some(0));
    // A line at 0 s, then one a second.
    let counts: Vec<usize> = seen.iter().map(|&(_, n)| n).collect();
    assert_eq!(counts, [1, 2, 3, 4, 5]);
}

/// hello.py: one line from a callback as the loop starts; nothing stops the loop.
struct Hello;

impl Program for Hello {
    type Timer = Count;

    fn start(&mut self, cx: &mut HostContext<'_, Count>) {
        cx.print("Hello from the reactor loop!");
        cx.print("Lately I feel like I'm stuck in a rut.");
    }

    no_connections!();
}

#[test]
fn part3_hello_prints_and_the_loop_runs_on_with_nothing_to_wait_for() {
    let mut reactor = MemoryReactor::new(Hello);
    reactor.advance(Duration::from_secs(3600));
    assert_eq!(
        reactor.lines(Stream::Stdout),
        [
            "Hello from the reactor loop!",
            "Lately I feel like I'm stuck in a rut."
        ]
    );
    assert_eq!(reactor.exit_code(), None, "no stop: it runs forever");
    assert_eq!(
        reactor.next_deadline(),
        None,
        "and idles, with no timer due"
    );
}
