//! [`ManualClock`] against a model of Twisted's `task.Clock` as Twisted writes it: a list
//! sorted stably by time on every `callLater` and before every call `advance` runs.
//!
//! `tests/compat/clock_ops.rs` checks the same rules against Twisted itself, on scripts
//! of a few dozen operations. These scripts hold hundreds of pending calls with many
//! ties, so that the timer queue's heap is merged into its sorted run, stale entries
//! are swept, and moved calls meet both halves.

use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{CallError, CallId, Clock, ManualClock};
use crate::time::Instant;

/// What a call does when it fires.
#[derive(Clone, Copy, Debug)]
enum Then {
    Nothing,
    Schedule(u64),
    Cancel(usize),
    Reset(usize, u64),
    Delay(usize, u64),
}

/// Twisted's `Clock`: the calls in a list, in the order the next sort leaves them.
#[derive(Default)]
struct Model {
    now: u64,
    calls: Vec<(usize, u64)>,
    ended: Vec<Option<CallError>>,
}

impl Model {
    fn sort(&mut self) {
        // Stable, as Python's `list.sort` is.
        self.calls.sort_by_key(|&(_, time)| time);
    }

    fn call_later(&mut self, delay: u64) -> usize {
        let id = self.ended.len();
        self.ended.push(None);
        self.calls.push((id, self.now + delay));
        self.sort();
        id
    }

    fn find(&self, id: usize) -> Result<usize, CallError> {
        match self.ended[id] {
            Some(how) => Err(how),
            None => Ok(self.calls.iter().position(|&(c, _)| c == id).unwrap()),
        }
    }

    fn cancel(&mut self, id: usize) -> Result<(), CallError> {
        let at = self.find(id)?;
        self.calls.remove(at);
        self.ended[id] = Some(CallError::AlreadyCancelled);
        Ok(())
    }

    fn reset(&mut self, id: usize, delay: u64) -> Result<(), CallError> {
        let at = self.find(id)?;
        self.calls[at].1 = self.now + delay;
        Ok(())
    }

    fn delay(&mut self, id: usize, by: u64) -> Result<(), CallError> {
        let at = self.find(id)?;
        self.calls[at].1 += by;
        Ok(())
    }

    /// The calls in the order they would fire.
    fn pending(&self) -> Vec<(usize, u64)> {
        let mut calls = self.calls.clone();
        calls.sort_by_key(|&(_, time)| time);
        calls
    }
}

/// One script run on both clocks, step by step, with everything each step returns.
struct Run {
    model: Model,
    clock: ManualClock<usize>,
    ids: Vec<CallId>,
    then: Vec<Then>,
    log: Vec<String>,
    model_log: Vec<String>,
}

fn random_then(rng: &mut ChaCha8Rng, calls: usize) -> Then {
    let target = rng.random_range(0..calls.max(1));
    match rng.random_range(0..10) {
        0 | 1 => Then::Schedule(rng.random_range(0..4)),
        2 => Then::Cancel(target),
        3 => Then::Reset(target, rng.random_range(0..6)),
        4 => Then::Delay(target, rng.random_range(0..3)),
        _ => Then::Nothing,
    }
}

fn ns(units: u64) -> Duration {
    Duration::from_nanos(units)
}

impl Run {
    fn new() -> Self {
        Self {
            model: Model::default(),
            clock: ManualClock::new(),
            ids: Vec::new(),
            then: Vec::new(),
            log: Vec::new(),
            model_log: Vec::new(),
        }
    }

    fn schedule(&mut self, delay: u64, then: Then) {
        let id = self.model.call_later(delay);
        self.then.push(then);
        self.ids.push(self.clock.call_later(ns(delay), id));
    }

    fn step(&mut self, rng: &mut ChaCha8Rng) {
        let calls = self.ids.len();
        let target = rng.random_range(0..calls.max(1));
        match rng.random_range(0..12) {
            0..=3 => {
                for _ in 0..rng.random_range(1..120) {
                    let then = random_then(rng, self.ids.len() + 1);
                    self.schedule(rng.random_range(0..40), then);
                }
            }
            4 | 5 if calls > 0 => {
                let want = self.model.cancel(target);
                let got = self.clock.cancel(self.ids[target]);
                self.compare("cancel", want, got);
            }
            6 | 7 if calls > 0 => {
                let delay = rng.random_range(0..40);
                let want = self.model.reset(target, delay);
                let got = self.clock.reset(self.ids[target], ns(delay));
                self.compare("reset", want, got);
            }
            8 if calls > 0 => {
                let by = rng.random_range(0..10);
                let want = self.model.delay(target, by);
                let got = self.clock.delay(self.ids[target], ns(by));
                self.compare("delay", want, got);
            }
            9 => self.pending(),
            _ => self.advance(rng.random_range(0..6)),
        }
    }

    fn compare(&mut self, what: &str, want: Result<(), CallError>, got: Result<(), CallError>) {
        self.model_log.push(format!("{what} {want:?}"));
        self.log.push(format!("{what} {got:?}"));
    }

    fn pending(&mut self) {
        let want: Vec<_> = self.model.pending();
        let got: Vec<_> = (self.clock.pending_calls().into_iter())
            .map(|(id, at, &call)| {
                assert_eq!(self.ids[call], id);
                (call, at.as_nanos())
            })
            .collect();
        self.model_log.push(format!("pending {want:?}"));
        self.log.push(format!("pending {got:?}"));
    }

    fn advance(&mut self, by: u64) {
        self.model.now += by;
        self.model.sort();
        while let Some(&(id, time)) = self.model.calls.first() {
            if time > self.model.now {
                break;
            }
            self.model.calls.remove(0);
            self.model.ended[id] = Some(CallError::AlreadyCalled);
            self.model_log
                .push(format!("fire {id} at {}", self.model.now));
            let then = self.then[id];
            let outcome = match then {
                Then::Nothing => None,
                Then::Schedule(delay) => {
                    let new = self.model.call_later(delay);
                    self.then.push(Then::Nothing);
                    Some(format!("scheduled {new}"))
                }
                Then::Cancel(t) => Some(format!("{:?}", self.model.cancel(t))),
                Then::Reset(t, d) => Some(format!("{:?}", self.model.reset(t, d))),
                Then::Delay(t, b) => Some(format!("{:?}", self.model.delay(t, b))),
            };
            self.model_log.extend(outcome);
            self.model.sort();
        }

        let Self {
            clock,
            ids,
            then,
            log,
            ..
        } = self;
        let mut fired = Vec::new();
        clock.advance(ns(by), |clock, id| {
            fired.push(id);
            log.push(format!("fire {id} at {}", clock.now().as_nanos()));
            let id_of = |t: usize| ids[t];
            let outcome = match then[id] {
                Then::Nothing => None,
                Then::Schedule(delay) => {
                    let new = ids.len();
                    ids.push(clock.call_later(ns(delay), new));
                    Some(format!("scheduled {new}"))
                }
                Then::Cancel(t) => Some(format!("{:?}", clock.cancel(id_of(t)))),
                Then::Reset(t, d) => Some(format!("{:?}", clock.reset(id_of(t), ns(d)))),
                Then::Delay(t, b) => Some(format!("{:?}", clock.delay(id_of(t), ns(b)))),
            };
            log.extend(outcome);
        });
        assert_eq!(self.clock.now(), Instant::from_nanos(self.model.now));
    }
}

#[test]
fn the_clock_runs_hundreds_of_tied_and_moved_calls_in_twisteds_order() {
    for seed in 0..40 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut run = Run::new();
        for _ in 0..400 {
            run.step(&mut rng);
        }
        run.advance(1_000);
        run.pending();
        for (n, (got, want)) in run.log.iter().zip(&run.model_log).enumerate() {
            assert_eq!(got, want, "seed {seed}, line {n}");
        }
        assert_eq!(run.log.len(), run.model_log.len(), "seed {seed}");
        // Calls reset from inside the last advance are still pending, on both.
        assert_eq!(
            run.clock.pending_count(),
            run.model.calls.len(),
            "seed {seed}"
        );
    }
}
