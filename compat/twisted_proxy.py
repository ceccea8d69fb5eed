"""A caching poetry proxy written against Twisted.

Usage: python3 twisted_proxy.py [--port N] [--iface HOST] [HOST:]PORT
The first client makes it fetch the poem from the upstream server; the poem is then
kept and every client gets it, after which the connection closes. A failed fetch is
not kept: its client gets an empty close. Prints "port=N", then serves until killed.
"""

import argparse
import sys

from twisted.internet import defer, error, protocol, reactor


class UpstreamReader(protocol.Protocol):
    def connectionMade(self):
        self.chunks = []

    def dataReceived(self, data):
        self.chunks.append(data)

    def connectionLost(self, reason):
        if reason.check(error.ConnectionDone):
            self.factory.finished.callback(b"".join(self.chunks))
        else:
            self.factory.finished.errback(reason)


class UpstreamFactory(protocol.ClientFactory):
    protocol = UpstreamReader

    def __init__(self):
        self.finished = defer.Deferred()

    def clientConnectionFailed(self, connector, reason):
        self.finished.errback(reason)


class PoemCache:
    def __init__(self, host, port):
        self.host, self.port = host, port
        self.poem = None

    def get(self):
        if self.poem is not None:
            return defer.succeed(self.poem)
        factory = UpstreamFactory()
        reactor.connectTCP(self.host, self.port, factory)
        return factory.finished.addCallback(self.keep)

    def keep(self, poem):
        self.poem = poem
        return poem


class ProxyServer(protocol.Protocol):
    def connectionMade(self):
        d = self.factory.cache.get()
        d.addCallback(self.transport.write)
        d.addBoth(lambda _: self.transport.loseConnection())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--iface", default="127.0.0.1")
    parser.add_argument("upstream")
    args = parser.parse_args()
    host, _, port = args.upstream.rpartition(":")
    factory = protocol.ServerFactory.forProtocol(ProxyServer)
    factory.cache = PoemCache(host or "127.0.0.1", int(port))
    port = reactor.listenTCP(args.port, factory, interface=args.iface)
    print("port=%d" % port.getHost().port, flush=True)
    reactor.run()


if __name__ == "__main__":
    sys.exit(main())
