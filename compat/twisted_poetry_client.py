"""A poetry client written against Twisted: reads one poem until the server closes.

Usage: python3 twisted_poetry_client.py [HOST:]PORT
Writes the poem's bytes, exactly, to stdout. Exit status 0 after a clean close,
1 if the connect failed or the connection was lost uncleanly.
"""

import sys

from twisted.internet import error, protocol, reactor


class PoemReader(protocol.Protocol):
    def connectionMade(self):
        self.chunks = []

    def dataReceived(self, data):
        self.chunks.append(data)

    def connectionLost(self, reason):
        self.factory.finish(b"".join(self.chunks), reason)


class PoemReaderFactory(protocol.ClientFactory):
    protocol = PoemReader
    status = 1

    def finish(self, poem, reason):
        sys.stdout.buffer.write(poem)
        sys.stdout.buffer.flush()
        if reason.check(error.ConnectionDone):
            self.status = 0
        else:
            sys.stderr.write("connection lost: %s\n" % reason.getErrorMessage())
        reactor.stop()

    def clientConnectionFailed(self, connector, reason):
        sys.stderr.write("connect failed: %s\n" % reason.getErrorMessage())
        reactor.stop()


def parse_address(text):
    host, _, port = text.rpartition(":")
    if not port.isdigit():
        raise SystemExit("ports must be integers: %r" % text)
    return host or "127.0.0.1", int(port)


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    host, port = parse_address(sys.argv[1])
    factory = PoemReaderFactory()
    reactor.connectTCP(host, port, factory)
    reactor.run()
    return factory.status


if __name__ == "__main__":
    sys.exit(main())
