// DTLS interoperation over loopback UDP: our client against
// `gnutls-serv --udp` and `openssl s_server -dtls1_2 -listen` (cookies), our
// server (cookie exchange on, unconnected socket) against `gnutls-cli --udp`
// and `openssl s_client -dtls1_2`, all with ALPN. A missing program skips
// its test. The same with pre-shared keys (our psk-identity, psk-key and
// psk-lookup; no certificates) against gnutls-serv --pskpasswd, openssl
// s_server -psk, gnutls-cli --pskusername and openssl s_client -psk.
// Programs run under GSubprocess, die with us, and are killed at the end of
// each test; every wait is bounded and our client retries its
// handshake (3 times) while a server program starts.
#include "dtls-harness.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <unistd.h>

#include <sys/prctl.h>

#include <csignal>
#include <cstring>
#include <string>
#include <vector>

namespace {

using namespace gtg_test;

// ---------------------------------------------------------------------------
// 5. Interoperation over loopback UDP

void die_with_parent(gpointer)
{
  prctl(PR_SET_PDEATHSIG, SIGKILL);
}

// A peer program, killed when this object goes (or this process dies).
class PeerProcess {
public:
  PeerProcess(const std::vector<std::string> &argv)
  {
    GSubprocessLauncher *launcher = g_subprocess_launcher_new(
        GSubprocessFlags(G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                         G_SUBPROCESS_FLAGS_STDERR_MERGE));
    g_subprocess_launcher_set_child_setup(launcher, die_with_parent, nullptr, nullptr);
    std::vector<const char *> args;
    for (const std::string &a : argv)
      args.push_back(a.c_str());
    args.push_back(nullptr);
    GError *error = nullptr;
    process_ = g_subprocess_launcher_spawnv(launcher, args.data(), &error);
    g_assert_no_error(error);
    g_object_unref(launcher);
  }
  ~PeerProcess()
  {
    g_subprocess_force_exit(process_);
    g_subprocess_wait(process_, nullptr, nullptr);
    g_object_unref(process_);
  }
  PeerProcess(const PeerProcess &) = delete;
  PeerProcess &operator=(const PeerProcess &) = delete;

  // Writes `text` to the program's stdin.
  void write(const std::string &text)
  {
    GOutputStream *in = g_subprocess_get_stdin_pipe(process_);
    g_output_stream_write_all(in, text.data(), text.size(), nullptr, nullptr, nullptr);
    g_output_stream_flush(in, nullptr, nullptr);
  }

  // Reads stdout until it contains `needle`, EOF, or `cancellable` fires;
  // returns everything read so far (also kept in output()).
  bool read_until(const char *needle, GCancellable *cancellable)
  {
    GInputStream *out = g_subprocess_get_stdout_pipe(process_);
    for (int i = 0; i < 10000 && output_.find(needle) == std::string::npos; i++) {
      char buf[1024];
      gssize n = g_input_stream_read(out, buf, sizeof buf, cancellable, nullptr);
      if (n <= 0)
        return false;
      output_.append(buf, n);
    }
    return output_.find(needle) != std::string::npos;
  }
  const std::string &output() const { return output_; }

private:
  GSubprocess *process_ = nullptr;
  std::string output_;
};

bool find_program(const char *name, std::string *out_path)
{
  char *path = g_find_program_in_path(name);
  if (!path)
    return false;
  *out_path = path;
  g_free(path);
  return true;
}

// A UDP port that was free a moment ago.
guint16 free_udp_port()
{
  GSocket *s = udp_socket();
  guint16 port = local_port(s);
  g_object_unref(s);
  return port;
}

// Our client against a DTLS server program on `port`, up to 3 attempts (the
// program may still be starting): handshake offering ALPN "coap", check the
// session, then `exchange` with the connection.
const char kPskIdentity[] = "alice";
const char kPskHex[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

GBytes *psk_bytes()
{
  std::vector<guint8> key;
  for (const char *p = kPskHex; *p; p += 2)
    key.push_back(static_cast<guint8>(g_ascii_xdigit_value(p[0]) * 16 + g_ascii_xdigit_value(p[1])));
  return g_bytes_new(key.data(), key.size());
}

// With `psk`: our client offers the pre-shared key, no ALPN, and the
// server must send no certificate.
template <typename Exchange>
void client_against_peer(guint16 port, PeerProcess &peer, Exchange exchange, bool psk = false)
{
  GTlsDatabase *db = ca_database();
  Watchdog watchdog(40000);
  GError *error = nullptr;
  bool done = false;
  for (int attempt = 0; attempt < 3 && !done; attempt++) {
    g_clear_error(&error);
    GSocket *udp = udp_socket();
    connect_to_port(udp, port);
    GDatagramBased *client = new_client(G_DATAGRAM_BASED(udp), db);
    if (psk) {
      GBytes *key = psk_bytes();
      g_object_set(client, "psk-identity", kPskIdentity, "psk-key", key, nullptr);
      g_bytes_unref(key);
    } else {
      set_protocols(client, {"coap"});
    }
    g_object_set(client, "handshake-timeout", 10000u, nullptr);
    if (g_dtls_connection_handshake(G_DTLS_CONNECTION(client), watchdog.cancellable(), &error)) {
      done = true;
      GDtlsConnection *conn = G_DTLS_CONNECTION(client);
      g_assert_cmpint(g_dtls_connection_get_protocol_version(conn), ==, G_TLS_PROTOCOL_VERSION_DTLS_1_2);
      g_assert_cmpuint(g_dtls_connection_get_peer_certificate_errors(conn), ==, 0);
      if (psk) {
        g_assert_null(g_dtls_connection_get_peer_certificate(conn));
        char *suite = g_dtls_connection_get_ciphersuite_name(conn);
        g_test_message("suite: %s", suite);
        g_assert_nonnull(strstr(suite, "PSK"));
        g_free(suite);
      } else {
        g_assert_cmpstr(g_dtls_connection_get_negotiated_protocol(conn), ==, "coap");
      }
      exchange(client, watchdog.cancellable());
      g_dtls_connection_close(conn, nullptr, nullptr);
    }
    g_object_unref(client);
    g_object_unref(udp);
  }
  if (!done)
    g_test_message("peer said:\n%s", peer.output().c_str());
  g_assert_no_error(error);
  g_assert_true(done);
  g_object_unref(db);
}

void test_interop_gnutls_serv()
{
  std::string program;
  if (!find_program("gnutls-serv", &program)) {
    g_test_skip("gnutls-serv not installed");
    return;
  }
  guint16 port = free_udp_port();
  PeerProcess peer({program, "--udp", "--port", std::to_string(port), "--echo",
                    "--disable-client-cert", "--x509certfile", data_path("server-chain.pem"),
                    "--x509keyfile", data_path("server-key.pem"), "--alpn", "coap"});
  client_against_peer(port, peer, [](GDatagramBased *client, GCancellable *c) {
    send_ok(client, "ping over dtls\n", c);
    expect_datagram(client, "ping over dtls\n", c);
  });
}

void test_interop_openssl_server()
{
  std::string program;
  if (!find_program("openssl", &program)) {
    g_test_skip("openssl not installed");
    return;
  }
  guint16 port = free_udp_port();
  // -listen: the server runs the cookie exchange (DTLSv1_listen).
  PeerProcess peer({program, "s_server", "-dtls1_2", "-listen", "-accept", std::to_string(port),
                    "-cert", data_path("server.pem"), "-key", data_path("server-key.pem"),
                    "-cert_chain", data_path("intermediate-ca.pem"), "-alpn", "coap"});
  client_against_peer(port, peer, [&peer](GDatagramBased *client, GCancellable *c) {
    // s_server prints what it receives and sends what it reads on stdin.
    send_ok(client, "ping over dtls\n", c);
    g_assert_true(peer.read_until("ping over dtls", c));
    peer.write("pong\n");
    expect_datagram(client, "pong\n", c);
  });
}

GBytes *on_psk_lookup(GObject *, const char *identity, gpointer)
{
  return strcmp(identity, kPskIdentity) == 0 ? psk_bytes() : nullptr;
}

// Our server on an unconnected UDP socket (cookie exchange on) for a client
// program: handshake offering "coap" (with `psk`: no certificate, the
// pre-shared key, no ALPN), send "pong\n"; the program must print it.
void serve_peer(GSocket *udp, PeerProcess &peer, const char *expected_output, bool psk = false)
{
  GTlsCertificate *cert = psk ? nullptr : server_certificate();
  GDatagramBased *server = nullptr;
  if (psk) {
    GError *new_error = nullptr;
    server = G_DATAGRAM_BASED(g_dtls_server_connection_new(G_DATAGRAM_BASED(udp), nullptr, &new_error));
    g_assert_no_error(new_error);
    g_signal_connect(server, "psk-lookup", G_CALLBACK(on_psk_lookup), nullptr);
  } else {
    server = new_server(G_DATAGRAM_BASED(udp), cert);
    set_protocols(server, {"coap"});
  }
  Watchdog watchdog(30000);
  GError *error = nullptr;
  bool ok = g_dtls_connection_handshake(G_DTLS_CONNECTION(server), watchdog.cancellable(), &error);
  if (!ok)
    g_test_message("peer said:\n%s", peer.output().c_str());
  g_assert_no_error(error);
  GDtlsConnection *conn = G_DTLS_CONNECTION(server);
  g_assert_cmpint(g_dtls_connection_get_protocol_version(conn), ==, G_TLS_PROTOCOL_VERSION_DTLS_1_2);
  if (!psk)
    g_assert_cmpstr(g_dtls_connection_get_negotiated_protocol(conn), ==, "coap");
  send_ok(server, "pong\n", watchdog.cancellable());
  bool seen = peer.read_until(expected_output, watchdog.cancellable());
  g_test_message("peer said:\n%s", peer.output().c_str());
  g_assert_true(seen);
  g_dtls_connection_close(conn, nullptr, nullptr);
  g_object_unref(server);
  g_clear_object(&cert);
}

void test_interop_gnutls_cli()
{
  std::string program;
  if (!find_program("gnutls-cli", &program)) {
    g_test_skip("gnutls-cli not installed");
    return;
  }
  GSocket *udp = udp_socket();
  PeerProcess peer({program, "--udp", "--port", std::to_string(local_port(udp)), "--x509cafile",
                    data_path("ca.pem"), "--alpn", "coap", "--sni-hostname", "localhost",
                    "--verify-hostname", "localhost", "127.0.0.1"});
  serve_peer(udp, peer, "pong");
  g_assert_nonnull(strstr(peer.output().c_str(), "The certificate is trusted"));
  g_assert_nonnull(strstr(peer.output().c_str(), "Application protocol: coap"));
  g_assert_nonnull(strstr(peer.output().c_str(), "DTLS1.2"));
  g_object_unref(udp);
}

void test_interop_openssl_client()
{
  std::string program;
  if (!find_program("openssl", &program)) {
    g_test_skip("openssl not installed");
    return;
  }
  GSocket *udp = udp_socket();
  PeerProcess peer({program, "s_client", "-dtls1_2", "-connect",
                    "127.0.0.1:" + std::to_string(local_port(udp)), "-servername", "localhost",
                    "-verify_hostname", "localhost", "-CAfile", data_path("ca.pem"),
                    "-verify_return_error", "-alpn", "coap"});
  serve_peer(udp, peer, "pong");
  g_assert_nonnull(strstr(peer.output().c_str(), "Verify return code: 0 (ok)"));
  g_assert_nonnull(strstr(peer.output().c_str(), "ALPN protocol: coap"));
  g_object_unref(udp);
}

// ----- Pre-shared keys -----

void test_psk_gnutls_serv()
{
  std::string program;
  if (!find_program("gnutls-serv", &program)) {
    g_test_skip("gnutls-serv not installed");
    return;
  }
  char *passwd = nullptr;
  GError *error = nullptr;
  int fd = g_file_open_tmp("gtg-pskpasswd-XXXXXX", &passwd, &error);
  g_assert_no_error(error);
  close(fd);
  std::string line = std::string(kPskIdentity) + ":" + kPskHex + "\n";
  g_assert_true(g_file_set_contents(passwd, line.c_str(), -1, nullptr));
  guint16 port = free_udp_port();
  {
    PeerProcess peer({program, "--udp", "--port", std::to_string(port), "--echo", "--pskpasswd", passwd,
                      "--priority", "NORMAL:-KX-ALL:+ECDHE-PSK:+DHE-PSK:+PSK"});
    client_against_peer(port, peer, [](GDatagramBased *client, GCancellable *c) {
      send_ok(client, "psk ping\n", c);
      expect_datagram(client, "psk ping\n", c);
    }, true);
  }
  g_unlink(passwd);
  g_free(passwd);
}

void test_psk_openssl_server()
{
  std::string program;
  if (!find_program("openssl", &program)) {
    g_test_skip("openssl not installed");
    return;
  }
  guint16 port = free_udp_port();
  PeerProcess peer({program, "s_server", "-dtls1_2", "-listen", "-accept", std::to_string(port), "-nocert",
                    "-psk", kPskHex, "-psk_identity", kPskIdentity});
  client_against_peer(port, peer, [&peer](GDatagramBased *client, GCancellable *c) {
    send_ok(client, "psk ping\n", c);
    g_assert_true(peer.read_until("psk ping", c));
    peer.write("pong\n");
    expect_datagram(client, "pong\n", c);
  }, true);
}

void test_psk_gnutls_cli()
{
  std::string program;
  if (!find_program("gnutls-cli", &program)) {
    g_test_skip("gnutls-cli not installed");
    return;
  }
  GSocket *udp = udp_socket();
  // gnutls-cli 3.7.9 (Debian 12) crashes after a (D)TLS 1.2 handshake with
  // ECDHE-PSK or DHE-PSK: it is offered plain PSK.
  PeerProcess peer({program, "--udp", "--port", std::to_string(local_port(udp)), "--pskusername",
                    kPskIdentity, "--pskkey", kPskHex, "--priority", "NORMAL:-KX-ALL:+PSK", "127.0.0.1"});
  serve_peer(udp, peer, "pong", true);
  g_assert_nonnull(strstr(peer.output().c_str(), "DTLS1.2"));
  g_object_unref(udp);
}

void test_psk_openssl_client()
{
  std::string program;
  if (!find_program("openssl", &program)) {
    g_test_skip("openssl not installed");
    return;
  }
  GSocket *udp = udp_socket();
  // s_client offers PSK suites in (D)TLS 1.2 only when asked to.
  PeerProcess peer({program, "s_client", "-dtls1_2", "-connect",
                    "127.0.0.1:" + std::to_string(local_port(udp)), "-psk", kPskHex, "-psk_identity",
                    kPskIdentity, "-cipher", "PSK"});
  serve_peer(udp, peer, "pong", true);
  g_object_unref(udp);
}

// ---------------------------------------------------------------------------

struct TestDef {
  const char *name;
  void (*run)();
};

const TestDef kTests[] = {
    {"interop/gnutls-serv", test_interop_gnutls_serv},
    {"interop/openssl-s-server", test_interop_openssl_server},
    {"interop/gnutls-cli", test_interop_gnutls_cli},
    {"interop/openssl-s-client", test_interop_openssl_client},
    {"interop/psk/gnutls-serv", test_psk_gnutls_serv},
    {"interop/psk/openssl-s-server", test_psk_openssl_server},
    {"interop/psk/gnutls-cli", test_psk_gnutls_cli},
    {"interop/psk/openssl-s-client", test_psk_openssl_client},
};

}  // namespace

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, nullptr);
  const char *name = g_getenv("GTG_BACKEND_NAME");
  g_assert_nonnull(name);
  std::string expected = std::string("GTlsBackend") + static_cast<char>(g_ascii_toupper(name[0])) + (name + 1);
  g_assert_cmpstr(G_OBJECT_TYPE_NAME(g_tls_backend_get_default()), ==, expected.c_str());
  g_assert_true(g_tls_backend_supports_dtls(g_tls_backend_get_default()));
  for (const TestDef &t : kTests)
    g_test_add_func((std::string("/dtls/") + t.name).c_str(), t.run);
  return g_test_run();
}
