"""A transform server written against Twisted's NetstringReceiver.

Usage: python3 twisted_transform_server.py [--port N] [--iface HOST]
A request is one netstring, NAME.POEM (split at the first dot); the reply is the
transformed poem as a netstring, then the server closes. Unknown transforms and bad
requests get no reply. Knows one transform, cummingsify (lower-case). Prints
"port=N", then serves until killed.
"""

import argparse
import sys

from twisted.internet import protocol, reactor
from twisted.protocols.basic import NetstringReceiver

TRANSFORMS = {b"cummingsify": lambda poem: poem.lower()}


class TransformAnswerer(NetstringReceiver):
    def stringReceived(self, request):
        name, dot, poem = request.partition(b".")
        transform = TRANSFORMS.get(name) if dot else None
        if transform is not None:
            self.sendString(transform(poem))
        self.transport.loseConnection()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--iface", default="127.0.0.1")
    args = parser.parse_args()
    factory = protocol.ServerFactory.forProtocol(TransformAnswerer)
    port = reactor.listenTCP(args.port, factory, interface=args.iface)
    print("port=%d" % port.getHost().port, flush=True)
    reactor.run()


if __name__ == "__main__":
    sys.exit(main())
