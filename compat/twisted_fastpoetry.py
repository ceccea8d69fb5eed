"""A fast poetry server written against Twisted, for comparing weft's with.

On each connection it writes the whole poem, then closes once the poem has been
sent. Usage: python3 twisted_fastpoetry.py [--port N] [--iface HOST] POEM_FILE.
Prints the port it listens on (one line, "port=N"), then serves until killed.
"""

import argparse
import sys

from twisted.internet import protocol, reactor


class PoemSender(protocol.Protocol):
    def connectionMade(self):
        self.transport.write(self.factory.poem)
        self.transport.loseConnection()


class PoemSenderFactory(protocol.ServerFactory):
    protocol = PoemSender

    def __init__(self, poem):
        self.poem = poem


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--iface", default="127.0.0.1")
    parser.add_argument("poem")
    args = parser.parse_args()
    with open(args.poem, "rb") as f:
        poem = f.read()
    port = reactor.listenTCP(args.port, PoemSenderFactory(poem), interface=args.iface)
    print("port=%d" % port.getHost().port, flush=True)
    reactor.run()


if __name__ == "__main__":
    sys.exit(main())
