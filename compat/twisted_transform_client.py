"""A transform client written against Twisted's NetstringReceiver.

Usage: python3 twisted_transform_client.py [--name NAME] [HOST:]PORT POEM_FILE
Sends NAME.POEM as one netstring, writes the reply's payload, exactly, to stdout.
Exit status 0 with a reply, 1 if the connection ended without one.
"""

import argparse
import sys

from twisted.internet import protocol, reactor
from twisted.protocols.basic import NetstringReceiver


class TransformRequester(NetstringReceiver):
    def connectionMade(self):
        self.sendString(self.factory.name + b"." + self.factory.poem)

    def stringReceived(self, reply):
        self.factory.reply = reply
        self.transport.loseConnection()

    def connectionLost(self, reason):
        self.factory.done()


class TransformRequesterFactory(protocol.ClientFactory):
    protocol = TransformRequester
    reply = None

    def __init__(self, name, poem):
        self.name = name
        self.poem = poem

    def done(self):
        if self.reply is None:
            sys.stderr.write("no reply from the transform server\n")
        else:
            sys.stdout.buffer.write(self.reply)
            sys.stdout.buffer.flush()
        reactor.stop()

    def clientConnectionFailed(self, connector, reason):
        sys.stderr.write("connect failed: %s\n" % reason.getErrorMessage())
        reactor.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="cummingsify")
    parser.add_argument("address")
    parser.add_argument("poem")
    args = parser.parse_args()
    host, _, port = args.address.rpartition(":")
    with open(args.poem, "rb") as f:
        poem = f.read()
    factory = TransformRequesterFactory(args.name.encode("ascii"), poem)
    reactor.connectTCP(host or "127.0.0.1", int(port), factory)
    reactor.run()
    return 0 if factory.reply is not None else 1


if __name__ == "__main__":
    sys.exit(main())
