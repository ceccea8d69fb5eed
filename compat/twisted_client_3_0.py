"""Client 3.0 of the poetry series (Part 6), rewritten from the text's description.

Usage: python3 twisted_client_3_0.py [--errback] [HOST:]PORT ...

get_poetry(host, port, callback) starts one download; the factory hands the poem to
the callback when the connection is lost, whatever the reason. There is no errback,
and the factory keeps ClientFactory's clientConnectionFailed, which does nothing: a
refused connect is never heard of, the count of poems never reaches the count of
addresses, and the reactor is never stopped. The poems are printed (in the order they
were completed) only after the reactor stops.

With --errback it is client 3.1: get_poetry also takes an errback, the factory's
clientConnectionFailed calls it, the failure is printed on stderr ("Poem failed:"),
and the client stops once every address has given a poem or an error.
"""

import sys

from twisted.internet import protocol, reactor


class PoemCollector(protocol.Protocol):
    def connectionMade(self):
        self.received = []

    def dataReceived(self, data):
        self.received.append(data)

    def connectionLost(self, reason):
        # The protocol's only end marker is the close: what came is the poem.
        self.factory.deliver(b"".join(self.received))


class CallbackFactory(protocol.ClientFactory):
    """Client 3.0's factory: a callback, nothing for failures."""

    protocol = PoemCollector

    def __init__(self, callback):
        self.callback = callback

    def deliver(self, poem):
        self.callback(poem)


class CallbackErrbackFactory(CallbackFactory):
    """Client 3.1's factory: connect failures go to the errback."""

    def __init__(self, callback, errback):
        CallbackFactory.__init__(self, callback)
        self.errback = errback

    def clientConnectionFailed(self, connector, reason):
        self.errback(reason)


def parse_address(text):
    host, sep, port = text.partition(":")
    if not sep:
        host, port = "127.0.0.1", text
    if not port.isdigit():
        raise SystemExit("Ports must be integers.")
    return host, int(port)


def main(argv):
    with_errback = "--errback" in argv
    addresses = [parse_address(a) for a in argv if a != "--errback"]
    if not addresses:
        print(__doc__)
        return 0
    poems, errors = [], []

    def maybe_stop():
        if len(poems) + len(errors) == len(addresses):
            reactor.stop()

    def got_poem(poem):
        poems.append(poem)
        maybe_stop()

    def poem_failed(err):
        print("Poem failed:", err, file=sys.stderr, flush=True)
        errors.append(err)
        maybe_stop()

    for host, port in addresses:
        if with_errback:
            factory = CallbackErrbackFactory(got_poem, poem_failed)
        else:
            factory = CallbackFactory(got_poem)
        reactor.connectTCP(host, port, factory)
    reactor.run()
    for poem in poems:
        print(poem.decode("utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
