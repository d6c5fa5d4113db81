#!/usr/bin/python3
"""A TLS client in Python with PyGObject: shows that GIO's TLS, and so this
module, works from any language with GObject introspection.

    tls-client.py HOST PORT [CA_FILE]

It connects with Gio.SocketClient and set_tls(True), verifies the server
against CA_FILE (or the system trust store), and prints the TLS backend GIO
loaded (GTlsBackendGnutls is this module when GIO_MODULE_DIR points at it),
the protocol version and the cipher suite. Debian: apt install python3-gi.
"""
import sys

import gi
gi.require_version('Gio', '2.0')
from gi.repository import Gio, GLib, GObject  # noqa: E402


def main(argv):
    if len(argv) not in (3, 4):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    host, port = argv[1], int(argv[2])

    backend = Gio.TlsBackend.get_default()
    print('TLS backend:', type(backend).__gtype__.name)

    client = Gio.SocketClient.new()
    client.set_tls(True)
    client.set_timeout(20)
    if len(argv) == 4:
        database = Gio.TlsFileDatabase.new(argv[3])

        # Set the trust database on the TLS connection just before its
        # handshake, the step GSocketClient announces with TLS_HANDSHAKING.
        def on_event(_client, event, _connectable, stream):
            if event == Gio.SocketClientEvent.TLS_HANDSHAKING:
                stream.set_database(database)
        # Gio.SocketClient.connect() opens a connection, so the signal is
        # connected through GObject.Object.connect.
        GObject.Object.connect(client, 'event', on_event)

    try:
        connection = client.connect_to_host(host, port, None)
    except GLib.Error as e:
        print('connection failed:', e.message)
        return 1

    # set_tls wraps the TLS connection in a Gio.TcpWrapperConnection.
    tls = connection.get_base_io_stream()
    print('TLS connection type:', type(tls).__gtype__.name)
    version = tls.get_protocol_version().value_nick  # such as "tls-1-3"
    print('protocol:', version.upper().replace('-', ' ', 1).replace('-', '.'))
    print('cipher suite:', tls.get_ciphersuite_name())
    peer = tls.get_peer_certificate()
    print('server certificate:', peer.get_subject_name())
    connection.close(None)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
