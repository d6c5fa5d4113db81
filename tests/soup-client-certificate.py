#!/usr/bin/python3
"""libsoup 3 asks for a client certificate and the application answers
later, from its own main loop (what libsoup's users do: its
request-certificate signal may be answered after the handler returned).

A real HTTPS server that requires a client certificate (gnutls-serv --http
--require-client-cert) on loopback; a Soup.Session whose message handler
keeps the request and supplies the certificate from a timeout of the
application's outermost loop 200 ms later. Meanwhile the main loop must keep
running (a ticker counts). The request must succeed with status 200.

Second case: libsoup pre-connects, and the certificate request of that
handshake waits until the next request's handler answers it.

With a backend that iterates the caller's main context itself while it waits
(a nested main loop), the answer is never given (the outermost loop never
regains control) and the request fails on the 20 s bound.

Prints TAP. Skips when gnutls-serv or libsoup 3's introspection data are
missing.
"""
import os
import shutil
import socket
import subprocess
import sys
import time

FILES = os.environ.get("TEST_FILES_DIR") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "files")


def skip(why):
    print("1..0 # SKIP " + why)
    sys.exit(0)


try:
    import gi
    gi.require_version("Soup", "3.0")
    gi.require_version("Gio", "2.0")
    from gi.repository import Gio, GLib, Soup
except (ImportError, ValueError) as e:
    skip("libsoup 3 from PyGObject is not available: %s" % e)
if not shutil.which("gnutls-serv"):
    skip("gnutls-serv is not installed")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port):
    server = subprocess.Popen(
        ["gnutls-serv", "--http", "--port", str(port), "--require-client-cert", "--verify-client-cert",
         "--x509certfile", os.path.join(FILES, "server-chain.pem"),
         "--x509keyfile", os.path.join(FILES, "server-key.pem"),
         "--x509cafile", os.path.join(FILES, "ca.pem")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server
        except OSError:
            time.sleep(0.05)
    server.kill()
    raise RuntimeError("gnutls-serv did not start")


def run(tap_number):
    port = free_port()
    server = start_server(port)
    try:
        backend = Gio.TlsBackend.get_default()
        db = Gio.TlsFileDatabase.new(os.path.join(FILES, "ca.pem"))
        cert = Gio.TlsCertificate.new_from_files(os.path.join(FILES, "client.pem"),
                                                 os.path.join(FILES, "client-key.pem"))
        session = Soup.Session(tls_database=db, timeout=20)
        loop = GLib.MainLoop()
        state = {"asked": 0, "answered_at_depth": None, "ticks_while_pending": 0, "pending": None,
                 "status": None, "error": None}

        def on_request_certificate(msg, conn):
            state["asked"] += 1
            state["pending"] = msg
            state["asked_at"] = time.monotonic()
            return True  # answered later

        def tick():
            # The application's own loop: counts its turns while the request
            # is pending, and answers 200 ms after it came.
            if state["pending"] is None:
                return GLib.SOURCE_CONTINUE
            if time.monotonic() - state["asked_at"] < 0.2:
                state["ticks_while_pending"] += 1
                return GLib.SOURCE_CONTINUE
            state["answered_at_depth"] = GLib.main_depth()
            state["pending"].set_tls_client_certificate(cert)
            state["pending"] = None
            return GLib.SOURCE_CONTINUE

        msg = Soup.Message.new("GET", "https://localhost:%d/" % port)
        msg.connect("request-certificate", on_request_certificate)

        def on_done(sess, result):
            try:
                sess.send_and_read_finish(result)
                state["status"] = msg.get_status()
            except GLib.Error as e:
                state["error"] = e.message
            loop.quit()

        GLib.timeout_add(10, tick)
        GLib.timeout_add_seconds(20, loop.quit)
        session.send_and_read_async(msg, GLib.PRIORITY_DEFAULT, None, on_done)
        loop.run()
        ok = (state["status"] == 200 and state["asked"] == 1 and state["answered_at_depth"] == 1
              and state["ticks_while_pending"] >= 5)
        print("%s %d /soup/client-certificate-answered-later # backend %s, status %s, error %s, "
              "asked %d, answered at main loop depth %s, %d ticks while pending"
              % ("ok" if ok else "not ok", tap_number, type(backend).__name__, state["status"],
                 state["error"], state["asked"], state["answered_at_depth"], state["ticks_while_pending"]))
        return ok
    finally:
        server.kill()
        server.wait()


def run_preconnected(tap_number):
    """libsoup pre-connects; the server asks for a certificate during that
    handshake, and libsoup keeps the request pending until a message uses
    the connection: the next request's handler supplies the certificate."""
    port = free_port()
    server = start_server(port)
    try:
        db = Gio.TlsFileDatabase.new(os.path.join(FILES, "ca.pem"))
        cert = Gio.TlsCertificate.new_from_files(os.path.join(FILES, "client.pem"),
                                                 os.path.join(FILES, "client-key.pem"))
        session = Soup.Session(tls_database=db, timeout=20)
        loop = GLib.MainLoop()
        state = {"preconnect": None, "asked": 0, "status": None, "error": None}
        url = "https://localhost:%d/" % port

        def preconnected(sess, result):
            try:
                sess.preconnect_finish(result)
                state["preconnect"] = "ok"
            except GLib.Error as e:
                state["preconnect"] = e.message

        session.preconnect_async(Soup.Message.new("GET", url), GLib.PRIORITY_DEFAULT, None, preconnected)

        def send():
            msg = Soup.Message.new("GET", url)

            def on_request_certificate(m, conn):
                state["asked"] += 1
                m.set_tls_client_certificate(cert)
                return True

            def on_done(sess, result):
                try:
                    sess.send_and_read_finish(result)
                    state["status"] = msg.get_status()
                except GLib.Error as e:
                    state["error"] = e.message
                loop.quit()

            msg.connect("request-certificate", on_request_certificate)
            session.send_and_read_async(msg, GLib.PRIORITY_DEFAULT, None, on_done)
            return GLib.SOURCE_REMOVE

        GLib.timeout_add(300, send)
        GLib.timeout_add_seconds(20, loop.quit)
        loop.run()
        ok = state["status"] == 200 and state["asked"] == 1 and state["preconnect"] == "ok"
        print("%s %d /soup/preconnected-client-certificate # status %s, error %s, asked %d, preconnect %s"
              % ("ok" if ok else "not ok", tap_number, state["status"], state["error"], state["asked"],
                 state["preconnect"]))
        return ok
    finally:
        server.kill()
        server.wait()


print("1..2")
results = [run(1), run_preconnected(2)]
sys.exit(0 if all(results) else 1)
