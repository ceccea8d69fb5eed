"""The text's poetry proxy 1.0 (Part 14) written against Twisted, for comparing weft's
proxy-1.0 with.

Usage: python3 twisted_proxy_1_0.py [--port N] [--iface HOST] [HOST:]PORT
A cached poem is served at once ("Using cached poem."). Otherwise the client starts a
fetch of its own ("Fetching poem from server."): clients that miss at the same time
each make the proxy fetch. Whatever a fetch received before its connection ended,
however it ended, is the poem: it is cached (replacing what was there) and written to
the client, and the client's connection is closed. A failed connect closes the client
with nothing written and caches nothing. The cache never expires, and a client that
leaves cancels nothing. Prints "Proxying (HOST, PORT) on ADDRESS.", then serves until
killed.
"""

import argparse
import sys

from twisted.internet import defer, protocol, reactor


class PoemDownload(protocol.Protocol):
    """Collects the upstream's bytes; the close, for any reason, ends the poem."""

    def connectionMade(self):
        self.received = []

    def dataReceived(self, data):
        self.received.append(data)

    def connectionLost(self, reason):
        self.factory.finished(b"".join(self.received))


class PoemDownloadFactory(protocol.ClientFactory):
    protocol = PoemDownload

    def __init__(self):
        self.pending = defer.Deferred()

    def _settle(self):
        # Hand the deferred over once: whoever settles it first is the only one.
        pending, self.pending = self.pending, None
        return pending

    def finished(self, poem):
        pending = self._settle()
        if pending is not None:
            pending.callback(poem)

    def clientConnectionFailed(self, connector, reason):
        pending = self._settle()
        if pending is not None:
            pending.errback(reason)


class PoemCache:
    """Gives the cached poem as a plain value, or a deferred fetch that fills the cache."""

    def __init__(self, host, port):
        self.host, self.port = host, port
        self.poem = None

    def poem_or_fetch(self):
        if self.poem is not None:
            print("Using cached poem.", flush=True)
            return self.poem
        print("Fetching poem from server.", flush=True)
        factory = PoemDownloadFactory()
        fetched = factory.pending
        fetched.addCallback(self.keep)
        reactor.connectTCP(self.host, self.port, factory)
        return fetched

    def keep(self, poem):
        self.poem = poem
        return poem


class ProxyClientSide(protocol.Protocol):
    def connectionMade(self):
        # Sometimes a value, sometimes a deferred: maybeDeferred makes both a deferred.
        result = defer.maybeDeferred(self.factory.cache.poem_or_fetch)
        result.addCallback(self.transport.write)
        result.addBoth(lambda _: self.transport.loseConnection())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--iface", default="127.0.0.1")
    parser.add_argument("upstream")
    args = parser.parse_args()
    host, _, port = args.upstream.rpartition(":")
    server_addr = (host or "127.0.0.1", int(port))
    factory = protocol.ServerFactory.forProtocol(ProxyClientSide)
    factory.cache = PoemCache(*server_addr)
    listening = reactor.listenTCP(args.port, factory, interface=args.iface)
    print("Proxying %s on %s." % (server_addr, listening.getHost()), flush=True)
    reactor.run()


if __name__ == "__main__":
    sys.exit(main())
