"""The anchor of `weft bench pingpong`: Expert Twisted's chapter 1 ping-pong over
Twisted's own in-memory pump, `iosim.connectedServerAndClient(greet=False)` driven by
`while pump.pump()`, the loop `weft bench pingpong` runs on weft's Pump.

Usage: python3 compat/twisted_pingpong_iosim.py [EXCHANGES] [RUNS]   (20000 5)
       python3 compat/twisted_pingpong_iosim.py --serve

Makes RUNS runs back to back and prints one `key=value` line in `weft bench`'s shape:
the median of the runs, the fastest (`min_seconds`), and the spread. With `--serve`
(how `weft bench pingpong --vs-twisted` runs it), reads a number of exchanges per
line and answers each with one run's `seconds=`, until its input ends.
"""

import sys
import time

from twisted.internet import protocol
from twisted.test import iosim


class PingPong(protocol.Protocol):
    """Writes `*` on connect; answers each read with one `*` until it has received
    `maximum` bytes, then closes (as weft's `programs::pingpong` does)."""

    def __init__(self, maximum):
        self.maximum = maximum
        self.received = 0

    def connectionMade(self):
        self.transport.write(b"*")

    def dataReceived(self, data):
        self.received += len(data)
        if self.maximum is not None and self.received >= self.maximum:
            self.transport.loseConnection()
        else:
            self.transport.write(b"*")


def once(exchanges):
    start = time.perf_counter()
    client, _server, pump = iosim.connectedServerAndClient(
        lambda: PingPong(None), lambda: PingPong(exchanges), greet=False
    )
    while pump.pump():
        pass
    elapsed = time.perf_counter() - start
    # iosim delivers the byte already in flight when the client closes: one extra.
    assert client.received in (exchanges, exchanges + 1), (client.received, exchanges)
    return elapsed


def serve():
    for line in sys.stdin:
        print(f"seconds={once(int(line)):.9f}", flush=True)


def main():
    if sys.argv[1:] == ["--serve"]:
        serve()
        return
    exchanges = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    runs = max(1, int(sys.argv[2]) if len(sys.argv) > 2 else 5)
    times = sorted(once(exchanges) for _ in range(runs))
    rates = [exchanges / t for t in times]
    median = times[len(times) // 2]
    print(
        f"twisted_iosim exchanges={exchanges} runs={runs} median_seconds={median:.6f} "
        f"min_seconds={times[0]:.9f} "
        f"exchanges_per_s={exchanges / median:.0f} min_exchanges_per_s={min(rates):.0f} "
        f"max_exchanges_per_s={max(rates):.0f}"
    )


if __name__ == "__main__":
    main()
