"""Runs scripts of clock operations on Twisted's task.Clock and LoopingCall.withCount and
prints what happened, for tests/compat/clock_ops.rs to compare with weft's ManualClock
and LoopingCall.

Input (stdin): scripts separated by lines of `---`. One operation per line; times are
integers in units of 1/64 s, so that every sum and remainder is exact in floating point.

    call I D [{ OP; OP }]    schedule call cI at D units from now; the braces are what
                             it does when it fires (no braces inside)
    cancel I | reset I D | delay I D
    advance D
    start L INTERVAL now|later [{ OP; OP }]
                             start loop lL; the braces run on its first beat
    stop L | reset-loop L
    pending

Output (stdout): per script, the trace lines, then `---`.
"""

import sys

from twisted.internet import error, task


def parse(line):
    line = line.strip()
    actions = []
    if "{" in line:
        head, rest = line.split("{", 1)
        body = rest.rsplit("}", 1)[0]
        actions = [a.split() for a in body.split(";") if a.strip()]
        line = head
    return line.split(), actions


class Script:
    def __init__(self):
        self.clock = task.Clock()
        self.calls = {}
        self.loops = {}
        self.out = []

    def now(self):
        return int(self.clock.seconds() * 64)

    def log(self, text):
        self.out.append(f"t={self.now()} {text}")

    def name_of(self, delayed):
        for name, call in self.calls.items():
            if call is delayed:
                return name
        for name, lc in self.loops.items():
            if delayed.func is lc:
                return name
        return "?"

    def change(self, word, name, op):
        call = self.calls.get(name)
        if call is None:
            self.log(f"{word} {name}: unknown")
            return
        try:
            op(call)
            self.log(f"{word} {name}: ok")
        except error.AlreadyCalled:
            self.log(f"{word} {name}: called")
        except error.AlreadyCancelled:
            self.log(f"{word} {name}: cancelled")

    def loop(self, name):
        if name not in self.loops:
            state = {"first": False, "actions": []}

            def beat(count):
                self.log(f"beat {name} count={count}")
                if state["first"]:
                    state["first"] = False
                    for action in state["actions"]:
                        self.run(action, [])

            lc = task.LoopingCall.withCount(beat)
            lc.clock = self.clock
            lc.state = state
            self.loops[name] = lc
        return self.loops[name]

    def run(self, words, actions):
        op = words[0]
        if op == "call":
            name, delay = "c" + words[1], int(words[2]) / 64

            def fire():
                self.log(f"fire {name}")
                for action in actions:
                    self.run(action, [])

            self.calls[name] = self.clock.callLater(delay, fire)
        elif op == "cancel":
            self.change("cancel", "c" + words[1], lambda c: c.cancel())
        elif op == "reset":
            d = int(words[2]) / 64
            self.change("reset", "c" + words[1], lambda c: c.reset(d))
        elif op == "delay":
            d = int(words[2]) / 64
            self.change("delay", "c" + words[1], lambda c: c.delay(d))
        elif op == "advance":
            self.clock.advance(int(words[1]) / 64)
        elif op == "start":
            name = "l" + words[1]
            lc = self.loop(name)
            if lc.running:
                self.log(f"start {name}: running")
                return
            lc.state["first"] = True
            lc.state["actions"] = actions
            lc.start(int(words[2]) / 64, now=words[3] == "now")
        elif op == "stop":
            name = "l" + words[1]
            try:
                self.loop(name).stop()
                self.log(f"stop {name}: ok")
            except AssertionError:
                self.log(f"stop {name}: not running")
        elif op == "reset-loop":
            name = "l" + words[1]
            try:
                self.loop(name).reset()
                self.log(f"reset-loop {name}: ok")
            except AssertionError:
                self.log(f"reset-loop {name}: not running")
        elif op == "pending":
            calls = sorted(self.clock.getDelayedCalls(), key=lambda c: c.getTime())
            listed = " ".join(
                f"{self.name_of(c)}@{int(c.getTime() * 64)}" for c in calls
            )
            self.log(f"pending {listed}".rstrip())
        else:
            raise ValueError(f"unknown operation {op!r}")


def main():
    script = Script()
    for line in sys.stdin:
        if line.strip() == "---":
            print("\n".join(script.out + ["---"]))
            script = Script()
        elif line.strip():
            script.run(*parse(line))
    if script.out:
        print("\n".join(script.out + ["---"]))


main()
