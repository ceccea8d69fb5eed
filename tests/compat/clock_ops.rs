//! weft's `ManualClock` and `LoopingCall` against Twisted's `task.Clock` and
//! `LoopingCall.withCount`: seeded random scripts of operations (schedule, cancel,
//! reset, delay, advance, loops started, stopped and reset, some of them from inside
//! calls and beats) run on both, and the traces compared line for line
//! (compat/twisted_clock_ops.py is the Twisted side; its docstring has the format).

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::process::Stdio;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use weft::clock::{CallError, CallId, Clock, LoopingCall, ManualClock, Tick};

/// The scripts' time unit, 1/64 s: exact in Twisted's floating-point seconds.
const UNIT_NANOS: u64 = 15_625_000;

fn units(n: u64) -> Duration {
    Duration::from_nanos(n * UNIT_NANOS)
}

#[derive(Clone, Debug)]
enum Op {
    Call {
        id: usize,
        delay: u64,
        then: Vec<Self>,
    },
    Cancel(usize),
    Reset(usize, u64),
    Delay(usize, u64),
    Advance(u64),
    Start {
        id: usize,
        interval: u64,
        now: bool,
        then: Vec<Self>,
    },
    Stop(usize),
    ResetLoop(usize),
    Pending,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let then = |f: &mut fmt::Formatter<'_>, then: &[Self]| {
            if then.is_empty() {
                return Ok(());
            }
            let body: Vec<String> = then.iter().map(Self::to_string).collect();
            write!(f, " {{ {} }}", body.join("; "))
        };
        match self {
            Self::Call { id, delay, then: t } => {
                write!(f, "call {id} {delay}")?;
                then(f, t)
            }
            Self::Cancel(id) => write!(f, "cancel {id}"),
            Self::Reset(id, d) => write!(f, "reset {id} {d}"),
            Self::Delay(id, d) => write!(f, "delay {id} {d}"),
            Self::Advance(d) => write!(f, "advance {d}"),
            Self::Start {
                id,
                interval,
                now,
                then: t,
            } => {
                let when = if *now { "now" } else { "later" };
                write!(f, "start {id} {interval} {when}")?;
                then(f, t)
            }
            Self::Stop(id) => write!(f, "stop {id}"),
            Self::ResetLoop(id) => write!(f, "reset-loop {id}"),
            Self::Pending => write!(f, "pending"),
        }
    }
}

const LOOPS: usize = 2;

/// A random script: small delays and intervals, so that many calls fall due together.
fn random_script(rng: &mut ChaCha8Rng) -> Vec<Op> {
    let mut next_call = 0;
    let mut ops = Vec::new();
    for _ in 0..rng.random_range(4..28) {
        let op = match rng.random_range(0..100) {
            0..30 => {
                let then = actions(rng, &mut next_call, None);
                new_call(rng, &mut next_call, then)
            }
            30..55 => change(rng, next_call),
            55..72 => Op::Advance(if rng.random_bool(0.2) {
                rng.random_range(0..200)
            } else {
                rng.random_range(0..12)
            }),
            72..82 => {
                let id = rng.random_range(0..LOOPS);
                let then = actions(rng, &mut next_call, Some(id));
                Op::Start {
                    id,
                    interval: rng.random_range(1..9),
                    now: rng.random_bool(0.5),
                    then,
                }
            }
            82..88 => Op::Stop(rng.random_range(0..LOOPS)),
            88..94 => Op::ResetLoop(rng.random_range(0..LOOPS)),
            _ => Op::Pending,
        };
        ops.push(op);
    }
    ops.push(Op::Advance(rng.random_range(0..100)));
    ops.push(Op::Pending);
    ops
}

/// What a call does when it fires (`in_loop: None`), or a loop on its first beat.
fn actions(rng: &mut ChaCha8Rng, next_call: &mut usize, in_loop: Option<usize>) -> Vec<Op> {
    let mut then = Vec::new();
    for _ in 0..rng.random_range(0..3) {
        if rng.random_bool(0.5) {
            then.push(nested(rng, next_call, in_loop));
        }
    }
    then
}

fn new_call(rng: &mut ChaCha8Rng, next_call: &mut usize, then: Vec<Op>) -> Op {
    *next_call += 1;
    Op::Call {
        id: *next_call - 1,
        delay: rng.random_range(0..13),
        then,
    }
}

fn change(rng: &mut ChaCha8Rng, next_call: usize) -> Op {
    // Now and then a call that does not exist yet.
    let id = rng.random_range(0..next_call + 2);
    match rng.random_range(0..3) {
        0 => Op::Cancel(id),
        1 => Op::Reset(id, rng.random_range(0..13)),
        _ => Op::Delay(id, rng.random_range(0..13)),
    }
}

/// An operation run inside a call (`in_loop: None`) or a loop's beat. A beat does not
/// start its own loop: Twisted's loop would then schedule its next beat twice.
fn nested(rng: &mut ChaCha8Rng, next_call: &mut usize, in_loop: Option<usize>) -> Op {
    let other_loop = |rng: &mut ChaCha8Rng| rng.random_range(0..LOOPS);
    match rng.random_range(0..100) {
        0..45 => change(rng, *next_call),
        45..65 => new_call(rng, next_call, Vec::new()),
        65..75 => Op::Stop(in_loop.unwrap_or_else(|| other_loop(rng))),
        75..85 => Op::ResetLoop(in_loop.unwrap_or_else(|| other_loop(rng))),
        85..92 => match in_loop {
            Some(id) => Op::Stop((id + 1) % LOOPS),
            None => Op::Start {
                id: other_loop(rng),
                interval: rng.random_range(1..9),
                now: rng.random_bool(0.5),
                then: Vec::new(),
            },
        },
        _ => Op::Pending,
    }
}

#[derive(Clone, Copy, Debug)]
enum Timer {
    Call(usize),
    Loop(usize),
}

struct Loop {
    lc: LoopingCall<Timer>,
    first: bool,
    then: Vec<Op>,
}

/// The script's world on weft's side: everything but the clock, which `advance` lends.
#[derive(Default)]
struct Weft {
    calls: BTreeMap<usize, CallId>,
    then: BTreeMap<usize, Vec<Op>>,
    loops: BTreeMap<usize, Loop>,
    out: Vec<String>,
}

impl Weft {
    fn log(&mut self, clock: &ManualClock<Timer>, text: impl fmt::Display) {
        let t = clock.now().as_nanos() / UNIT_NANOS;
        self.out.push(format!("t={t} {text}"));
    }

    fn change(
        &mut self,
        clock: &mut ManualClock<Timer>,
        word: &str,
        id: usize,
        op: impl FnOnce(&mut ManualClock<Timer>, CallId) -> Result<(), CallError>,
    ) {
        let result = match self.calls.get(&id) {
            None => "unknown",
            Some(&call) => match op(clock, call) {
                Ok(()) => "ok",
                Err(CallError::AlreadyCalled) => "called",
                Err(CallError::AlreadyCancelled) => "cancelled",
                Err(CallError::Expired) => "expired",
            },
        };
        self.log(clock, format!("{word} c{id}: {result}"));
    }

    fn the_loop(&mut self, id: usize) -> &mut Loop {
        self.loops.entry(id).or_insert_with(|| Loop {
            lc: LoopingCall::new(Timer::Loop(id)),
            first: false,
            then: Vec::new(),
        })
    }

    fn run(&mut self, clock: &mut ManualClock<Timer>, op: &Op) {
        match op {
            Op::Call { id, delay, then } => {
                let call = clock.call_later(units(*delay), Timer::Call(*id));
                self.calls.insert(*id, call);
                self.then.insert(*id, then.clone());
            }
            Op::Cancel(id) => self.change(clock, "cancel", *id, |c, call| c.cancel(call)),
            Op::Reset(id, d) => {
                self.change(clock, "reset", *id, |c, call| c.reset(call, units(*d)))
            }
            Op::Delay(id, d) => {
                self.change(clock, "delay", *id, |c, call| c.delay(call, units(*d)))
            }
            Op::Advance(d) => clock.advance(units(*d), |clock, timer| self.fire(clock, timer)),
            Op::Start {
                id,
                interval,
                now,
                then,
            } => {
                if self.the_loop(*id).lc.running() {
                    return self.log(clock, format!("start l{id}: running"));
                }
                let state = self.the_loop(*id);
                state.first = true;
                state.then = then.clone();
                if let Some(tick) = state.lc.start(clock, units(*interval), *now) {
                    self.beat(clock, *id, tick);
                }
            }
            Op::Stop(id) => {
                let was_running = self.the_loop(*id).lc.stop(clock);
                let result = if was_running { "ok" } else { "not running" };
                self.log(clock, format!("stop l{id}: {result}"));
            }
            Op::ResetLoop(id) => {
                let state = self.the_loop(*id);
                let result = if state.lc.running() {
                    "ok"
                } else {
                    "not running"
                };
                state.lc.reset(clock);
                self.log(clock, format!("reset-loop l{id}: {result}"));
            }
            Op::Pending => {
                let mut line = String::from("pending");
                for (_, at, timer) in clock.pending_calls() {
                    let at = at.as_nanos() / UNIT_NANOS;
                    match timer {
                        Timer::Call(id) => write!(line, " c{id}@{at}"),
                        Timer::Loop(id) => write!(line, " l{id}@{at}"),
                    }
                    .expect("writing to a string");
                }
                self.log(clock, line);
            }
        }
    }

    fn fire(&mut self, clock: &mut ManualClock<Timer>, timer: Timer) {
        match timer {
            Timer::Call(id) => {
                self.log(clock, format!("fire c{id}"));
                for op in self.then.get(&id).cloned().unwrap_or_default() {
                    self.run(clock, &op);
                }
            }
            Timer::Loop(id) => {
                if let Some(tick) = self.the_loop(id).lc.fired(clock) {
                    self.beat(clock, id, tick);
                }
            }
        }
    }

    /// One beat, as `LoopingCall.withCount` runs it: no call at all for a count of 0.
    fn beat(&mut self, clock: &mut ManualClock<Timer>, id: usize, tick: Tick) {
        if tick.count > 0 {
            self.log(clock, format!("beat l{id} count={}", tick.count));
            let state = self.the_loop(id);
            if std::mem::take(&mut state.first) {
                for op in state.then.clone() {
                    self.run(clock, &op);
                }
            }
        }
        self.the_loop(id).lc.finish(clock, tick);
    }
}

fn run_on_weft(script: &[Op]) -> Vec<String> {
    let mut clock = ManualClock::new();
    let mut weft = Weft::default();
    for op in script {
        weft.run(&mut clock, op);
    }
    weft.out
}

fn run_on_twisted(scripts: &[Vec<Op>]) -> Vec<Vec<String>> {
    let mut input = String::new();
    for script in scripts {
        for op in script {
            writeln!(input, "{op}").expect("writing to a string");
        }
        input.push_str("---\n");
    }
    let mut child = super::python("twisted_clock_ops.py", &[])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start python3");
    let mut stdin = child.stdin.take().expect("piped stdin");
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().expect("python3 ran");
    writer
        .join()
        .expect("writer thread")
        .expect("wrote the scripts");
    assert!(
        out.status.success(),
        "twisted_clock_ops.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).expect("utf-8 trace");
    let mut traces = vec![Vec::new()];
    for line in stdout.lines() {
        if line == "---" {
            traces.push(Vec::new());
        } else {
            traces
                .last_mut()
                .expect("one trace at least")
                .push(line.to_owned());
        }
    }
    traces.pop();
    traces
}

#[test]
fn clock_and_looping_call_match_twisted_on_random_scripts() {
    if !super::twisted_available("clock_and_looping_call_match_twisted_on_random_scripts") {
        return;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(0xc10c);
    let scripts: Vec<Vec<Op>> = (0..1000).map(|_| random_script(&mut rng)).collect();
    let twisted = run_on_twisted(&scripts);
    assert_eq!(twisted.len(), scripts.len(), "a trace per script");
    for (n, (script, want)) in scripts.iter().zip(&twisted).enumerate() {
        let got = run_on_weft(script);
        if &got != want {
            let text: Vec<String> = script.iter().map(Op::to_string).collect();
            panic!(
                "script {n} differs from Twisted\n--- script\n{}\n--- Twisted\n{}\n--- weft\n{}",
                text.join("\n"),
                want.join("\n"),
                got.join("\n")
            );
        }
    }
}
