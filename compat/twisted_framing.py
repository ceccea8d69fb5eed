"""Decodes framing cases with Twisted's LineReceiver and Int32StringReceiver.

Usage: python3 twisted_framing.py < CASES
Each input line is one case, `KIND|DELIMITER|MAX|CHUNKS`: KIND is `line` or `int32`,
DELIMITER the line delimiter in hex (empty for int32), MAX the receiver's MAX_LENGTH,
CHUNKS the reads in hex, comma-separated. Each output line is `COUNT|FRAMES|EXCEEDED`:
how many lines or strings the receiver delivered, them in hex (comma-separated), and 1
if lineLengthExceeded / lengthLimitExceeded was called (the receiver then reads no
more, as a protocol dropping its connection would), else 0.
"""

import sys

from twisted.internet.testing import StringTransport
from twisted.protocols.basic import Int32StringReceiver, LineReceiver


class Lines(LineReceiver):
    def __init__(self):
        self.frames = []
        self.exceeded = False

    def lineReceived(self, line):
        self.frames.append(line)

    def lineLengthExceeded(self, line):
        self.exceeded = True
        self.transport.loseConnection()


class Strings(Int32StringReceiver):
    def __init__(self):
        self.frames = []
        self.exceeded = False

    def stringReceived(self, string):
        self.frames.append(string)

    def lengthLimitExceeded(self, length):
        self.exceeded = True
        self.transport.loseConnection()


def decode(case):
    kind, delimiter, max_length, chunks = case.split("|")
    receiver = Lines() if kind == "line" else Strings()
    if kind == "line":
        receiver.delimiter = bytes.fromhex(delimiter)
    receiver.MAX_LENGTH = int(max_length)
    transport = StringTransport()
    receiver.makeConnection(transport)
    for chunk in chunks.split(","):
        if transport.disconnecting:
            break
        receiver.dataReceived(bytes.fromhex(chunk))
    frames = ",".join(frame.hex() for frame in receiver.frames)
    return f"{len(receiver.frames)}|{frames}|{int(receiver.exceeded)}"


for case in sys.stdin.read().splitlines():
    print(decode(case))
