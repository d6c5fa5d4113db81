#!/usr/bin/python3
"""Runs the Python snippets of docs/user-guide.md ("Beyond GIO's API") through
PyGObject against the module GIO_MODULE_DIR points at: a client and a server
over a socket pair on one main context, the client capped at TLS 1.2 with one
suite and answering psk-required, the server answering psk-lookup; then a
refused identity. Exits 77 (skip) without PyGObject or with a sanitized
module (GTG_SANITIZED); every wait is bounded
(10 s per handshake pair).
"""
import os
import socket
import sys

if os.environ.get('GTG_SANITIZED'):
    # An interpreter that is not built with the sanitizer cannot load a
    # sanitized module (its runtime must come first in the process).
    print('the module is built with a sanitizer')
    sys.exit(77)

try:
    import gi
    gi.require_version('Gio', '2.0')
    from gi.repository import Gio, GLib, GObject
except (ImportError, ValueError):
    print('PyGObject is not installed')
    sys.exit(77)

KEY = bytes(range(32))


def has_property(obj, name):
    return obj.find_property(name) is not None


def pair(keys, identity_offered):
    a, b = socket.socketpair()
    base_a = Gio.Socket.new_from_fd(a.detach()).connection_factory_create_connection()
    base_b = Gio.Socket.new_from_fd(b.detach()).connection_factory_create_connection()
    conn = Gio.TlsClientConnection.new(base_a, Gio.NetworkAddress.new('localhost', 1))
    seen = {}
    # The snippet of the guide, client side.
    if has_property(conn, 'max-protocol-version'):
        conn.set_property('max-protocol-version', Gio.TlsProtocolVersion.TLS_1_2)
        conn.set_property('ciphersuites', ['TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256'])
    if has_property(conn, 'psk-key'):
        def on_psk_required(conn, hint):
            seen['hint'] = hint
            conn.set_property('psk-identity', identity_offered)
            conn.set_property('psk-key', GLib.Bytes.new(KEY))
        conn.connect('psk-required', on_psk_required)
    # Server side.
    server = Gio.TlsServerConnection.new(base_b, None)
    server.set_property('psk-identity-hint', 'guide')
    if GObject.signal_lookup('psk-lookup', type(server)):
        server.connect('psk-lookup',
                       lambda conn, identity: GLib.Bytes.new(keys[identity]) if identity in keys else None)
    results = {}
    loop = GLib.MainLoop()

    def finished(source, result, name):
        try:
            source.handshake_finish(result)
            results[name] = None
        except GLib.Error as e:
            results[name] = e
        if len(results) == 2:
            loop.quit()
    server.handshake_async(GLib.PRIORITY_DEFAULT, None, finished, 'server')
    conn.handshake_async(GLib.PRIORITY_DEFAULT, None, finished, 'client')
    timeout = GLib.timeout_add_seconds(10, loop.quit)
    loop.run()
    GLib.source_remove(timeout)
    return conn, server, results, seen


def main():
    conn, server, results, seen = pair({'sensor-17': KEY}, 'sensor-17')
    assert results == {'client': None, 'server': None}, results
    assert seen['hint'] == 'guide', seen
    assert conn.get_protocol_version() == Gio.TlsProtocolVersion.TLS_1_2
    assert conn.get_ciphersuite_name() == 'TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256'
    assert conn.get_peer_certificate() is None
    print('ok: PSK handshake,', conn.get_ciphersuite_name())

    conn, server, results, seen = pair({'sensor-17': KEY}, 'intruder')
    assert results.get('server') is not None and results.get('client') is not None, results
    assert 'intruder' in results['server'].message, results['server'].message
    print('ok: refused identity:', results['server'].message)
    return 0


if __name__ == '__main__':
    sys.exit(main())
