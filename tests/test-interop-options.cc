// Interoperation of our per-connection properties with other TLS stacks,
// over loopback TCP: pre-shared keys (TLS 1.2 and TLS 1.3 external PSK)
// against `gnutls-serv --pskpasswd` / `gnutls-cli --pskusername --pskkey`
// and `openssl s_server -psk` / `s_client -psk`, and a version range and a
// suite list honoured against gnutls-serv and openssl s_server. Through the
// public GIO API only. A missing program skips its test; programs die with
// this process; every wait is bounded (20 s watchdogs).
#include "connection-harness.h"
#include "test-peers.h"

#include <gio/gio.h>
#include <glib/gstdio.h>

#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

using namespace conn_test;

namespace {

enum class Version { Tls12, Tls13 };

const char kIdentity[] = "alice";
const char kHexKey[] = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";

GBytes *key_bytes()
{
  std::vector<guint8> key;
  for (const char *p = kHexKey; *p; p += 2)
    key.push_back(static_cast<guint8>(g_ascii_xdigit_value(p[0]) * 16 + g_ascii_xdigit_value(p[1])));
  return g_bytes_new(key.data(), key.size());
}

Version version_of(gconstpointer data)
{
  return static_cast<Version>(GPOINTER_TO_INT(data));
}

GTlsProtocolVersion gio_version(Version v)
{
  return v == Version::Tls12 ? G_TLS_PROTOCOL_VERSION_TLS_1_2 : G_TLS_PROTOCOL_VERSION_TLS_1_3;
}

// A GnuTLS priority for PSK peer programs at version `v`.
std::string peer_psk_priority(Version v)
{
  return std::string("NORMAL:-KX-ALL:+ECDHE-PSK:+DHE-PSK:+PSK:-VERS-ALL:") +
         (v == Version::Tls12 ? "+VERS-TLS1.2" : "+VERS-TLS1.3");
}

// Our client, offering the PSK at version `v` (and the test CA for a
// certificate), against a server program on `port` that echoes or reverses
// a line: sends "ping\n", expects `expected` back, and checks that the PSK
// authenticated the session.
void psk_client_against(guint16 port, Version v, const char *expected)
{
  GTlsDatabase *db = ca_database();
  GIOStream *base = connect_loopback(port);
  GSocketConnectable *identity = localhost_identity(port);
  GTlsConnection *client = new_client(base, identity, db);
  GBytes *key = key_bytes();
  g_object_set(client, "psk-identity", kIdentity, "psk-key", key, "min-protocol-version",
               gio_version(v), "max-protocol-version", gio_version(v), nullptr);
  g_bytes_unref(key);
  Watchdog watchdog(20000);
  GError *error = nullptr;
  g_assert_true(g_tls_connection_handshake(client, watchdog.cancellable(), &error));
  g_assert_no_error(error);
  g_assert_cmpint(g_tls_connection_get_protocol_version(client), ==, gio_version(v));
  g_assert_null(g_tls_connection_get_peer_certificate(client));
  g_assert_cmpuint(g_tls_connection_get_peer_certificate_errors(client), ==, 0);
  char *suite = g_tls_connection_get_ciphersuite_name(client);
  g_test_message("suite: %s", suite);
  if (v == Version::Tls12)
    g_assert_nonnull(strstr(suite, "PSK"));
  g_free(suite);
  write_all(G_IO_STREAM(client), "ping\n", 5);
  std::string back = read_exactly(G_IO_STREAM(client), strlen(expected), watchdog.cancellable());
  g_assert_cmpstr(back.c_str(), ==, expected);
  g_io_stream_close(G_IO_STREAM(client), nullptr, nullptr);
  g_object_unref(client);
  g_object_unref(identity);
  g_object_unref(base);
  g_object_unref(db);
}

GBytes *on_psk_lookup(GObject *, const char *identity, gpointer)
{
  return strcmp(identity, kIdentity) == 0 ? key_bytes() : nullptr;
}

// Our PSK-only server at version `v` for a client program: accept,
// handshake, send "pong\n", close. Returns the program's output.
std::string psk_serve(Listener &listener, PeerProcess &peer, Version v)
{
  Watchdog watchdog(20000);
  GIOStream *base = listener.accept(watchdog.cancellable());
  GError *error = nullptr;
  auto *server = G_TLS_CONNECTION(g_tls_server_connection_new(base, nullptr, &error));
  g_assert_no_error(error);
  g_object_set(server, "psk-identity-hint", "gio-tls-gnutls", "min-protocol-version", gio_version(v),
               "max-protocol-version", gio_version(v), nullptr);
  g_signal_connect(server, "psk-lookup", G_CALLBACK(on_psk_lookup), nullptr);
  gboolean ok = g_tls_connection_handshake(server, watchdog.cancellable(), &error);
  std::string out;
  if (ok) {
    g_assert_null(g_tls_connection_get_peer_certificate(server));
    write_all(G_IO_STREAM(server), "pong\n", 5);
    close_stream(G_IO_STREAM(server));
  }
  out = peer.read_stdout(watchdog.cancellable());
  g_test_message("peer said:\n%s", out.c_str());
  g_assert_no_error(error);
  g_assert_true(ok);
  g_object_unref(server);
  g_object_unref(base);
  return out;
}

bool need(const char *name, std::string *program)
{
  if (have_program(name, program))
    return true;
  g_test_skip((std::string(name) + " not installed").c_str());
  return false;
}

// ----- PSK -----

void test_psk_gnutls_serv(gconstpointer data)
{
  Version v = version_of(data);
  std::string program;
  if (!need("gnutls-serv", &program))
    return;
  char *passwd = nullptr;
  int fd = g_file_open_tmp("gtg-pskpasswd-XXXXXX", &passwd, nullptr);
  g_assert_cmpint(fd, >=, 0);
  std::string line = std::string(kIdentity) + ":" + kHexKey + "\n";
  g_assert_cmpint(write(fd, line.data(), line.size()), ==, static_cast<gssize>(line.size()));
  close(fd);
  guint16 port = free_port();
  {
    PeerProcess peer({program, "--port", std::to_string(port), "--echo", "--pskpasswd", passwd,
                      "--priority", peer_psk_priority(v)},
                     GSubprocessFlags(G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE));
    g_assert_true(wait_for_port(port));
    psk_client_against(port, v, "ping\n");
  }
  g_unlink(passwd);
  g_free(passwd);
}

void test_psk_openssl_s_server(gconstpointer data)
{
  Version v = version_of(data);
  std::string program;
  if (!need("openssl", &program))
    return;
  guint16 port = free_port();
  PeerProcess peer({program, "s_server", "-accept", std::to_string(port), "-nocert", "-psk", kHexKey,
                    "-psk_identity", kIdentity, v == Version::Tls12 ? "-tls1_2" : "-tls1_3", "-rev",
                    "-quiet"},
                   GSubprocessFlags(G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                                    G_SUBPROCESS_FLAGS_STDERR_SILENCE));
  g_assert_true(wait_for_port(port));
  psk_client_against(port, v, "gnip\n");
}

void test_psk_gnutls_cli(gconstpointer data)
{
  Version v = version_of(data);
  std::string program;
  if (!need("gnutls-cli", &program))
    return;
  Listener listener;
  // gnutls-cli 3.7.9 (Debian 12) crashes (SIGSEGV) after a TLS 1.2
  // handshake with ECDHE-PSK or DHE-PSK, against gnutls-serv too: it is
  // offered plain PSK there.
  std::string priority = v == Version::Tls12 ? "NORMAL:-KX-ALL:+PSK:-VERS-ALL:+VERS-TLS1.2"
                                             : peer_psk_priority(v);
  PeerProcess peer({program, "--port", std::to_string(listener.port), "--pskusername", kIdentity,
                    "--pskkey", kHexKey, "--priority", priority, "localhost"},
                   GSubprocessFlags(G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                    G_SUBPROCESS_FLAGS_STDERR_MERGE));
  std::string out = psk_serve(listener, peer, v);
  g_assert_nonnull(strstr(out.c_str(), "pong"));
  g_assert_nonnull(strstr(out.c_str(), v == Version::Tls12 ? "(TLS1.2" : "(TLS1.3"));
}

void test_psk_openssl_s_client(gconstpointer data)
{
  Version v = version_of(data);
  std::string program;
  if (!need("openssl", &program))
    return;
  Listener listener;
  // TLS 1.2: s_client offers PSK suites only when asked to.
  PeerProcess peer({program, "s_client", "-connect", "127.0.0.1:" + std::to_string(listener.port),
                    "-psk", kHexKey, "-psk_identity", kIdentity,
                    v == Version::Tls12 ? "-tls1_2" : "-tls1_3", "-cipher", "PSK"},
                   GSubprocessFlags(G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                    G_SUBPROCESS_FLAGS_STDERR_MERGE));
  std::string out = psk_serve(listener, peer, v);
  g_assert_nonnull(strstr(out.c_str(), "pong"));
  g_assert_nonnull(strstr(out.c_str(), v == Version::Tls12 ? "TLSv1.2" : "TLSv1.3"));
}

// ----- A version range and a suite list against other servers -----

// Our client capped at TLS 1.2 with one suite against a server program on
// `port` that allows TLS 1.3 and many suites: that version and suite.
void limited_client_against(guint16 port)
{
  GTlsDatabase *db = ca_database();
  GIOStream *base = connect_loopback(port);
  GSocketConnectable *identity = localhost_identity(port);
  GTlsConnection *client = new_client(base, identity, db);
  const char *const suites[] = {"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", nullptr};
  g_object_set(client, "max-protocol-version", G_TLS_PROTOCOL_VERSION_TLS_1_2, "ciphersuites", suites,
               nullptr);
  Watchdog watchdog(20000);
  GError *error = nullptr;
  g_assert_true(g_tls_connection_handshake(client, watchdog.cancellable(), &error));
  g_assert_no_error(error);
  g_assert_cmpint(g_tls_connection_get_protocol_version(client), ==, G_TLS_PROTOCOL_VERSION_TLS_1_2);
  char *suite = g_tls_connection_get_ciphersuite_name(client);
  g_assert_cmpstr(suite, ==, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384");
  g_free(suite);
  g_assert_cmpuint(g_tls_connection_get_peer_certificate_errors(client), ==, 0);
  g_io_stream_close(G_IO_STREAM(client), nullptr, nullptr);
  g_object_unref(client);
  g_object_unref(identity);
  g_object_unref(base);
  g_object_unref(db);
}

void test_limits_gnutls_serv()
{
  std::string program;
  if (!need("gnutls-serv", &program))
    return;
  guint16 port = free_port();
  PeerProcess peer({program, "--port", std::to_string(port), "--echo", "--disable-client-cert",
                    "--x509certfile", data_path("server-chain.pem"), "--x509keyfile",
                    data_path("server-key.pem")},
                   GSubprocessFlags(G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE));
  g_assert_true(wait_for_port(port));
  limited_client_against(port);
}

void test_limits_openssl_s_server()
{
  std::string program;
  if (!need("openssl", &program))
    return;
  guint16 port = free_port();
  PeerProcess peer({program, "s_server", "-accept", std::to_string(port), "-cert",
                    data_path("server.pem"), "-key", data_path("server-key.pem"), "-cert_chain",
                    data_path("intermediate-ca.pem"), "-rev", "-quiet"},
                   GSubprocessFlags(G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                                    G_SUBPROCESS_FLAGS_STDERR_SILENCE));
  g_assert_true(wait_for_port(port));
  limited_client_against(port);
}

// A minimum the server program cannot meet: our client fails, no fallback.
void test_limits_server_cannot_meet()
{
  std::string program;
  if (!need("gnutls-serv", &program))
    return;
  guint16 port = free_port();
  PeerProcess peer({program, "--port", std::to_string(port), "--echo", "--disable-client-cert",
                    "--x509certfile", data_path("server-chain.pem"), "--x509keyfile",
                    data_path("server-key.pem"), "--priority", "NORMAL:-VERS-TLS1.3"},
                   GSubprocessFlags(G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE));
  g_assert_true(wait_for_port(port));
  GTlsDatabase *db = ca_database();
  GIOStream *base = connect_loopback(port);
  GSocketConnectable *identity = localhost_identity(port);
  GTlsConnection *client = new_client(base, identity, db);
  g_object_set(client, "min-protocol-version", G_TLS_PROTOCOL_VERSION_TLS_1_3, nullptr);
  Watchdog watchdog(20000);
  GError *error = nullptr;
  g_assert_false(g_tls_connection_handshake(client, watchdog.cancellable(), &error));
  g_assert_nonnull(error);
  g_test_message("error: %s", error->message);
  g_assert_true(error->domain == G_TLS_ERROR);
  g_error_free(error);
  g_object_unref(client);
  g_object_unref(identity);
  g_object_unref(base);
  g_object_unref(db);
}

}  // namespace

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, nullptr);
  struct Case {
    const char *name;
    GTestDataFunc run;
  };
  const Case cases[] = {
      {"gnutls-serv", test_psk_gnutls_serv},
      {"openssl-s-server", test_psk_openssl_s_server},
      {"gnutls-cli", test_psk_gnutls_cli},
      {"openssl-s-client", test_psk_openssl_s_client},
  };
  for (Version v : {Version::Tls12, Version::Tls13}) {
    for (const Case &c : cases) {
      char *path = g_strdup_printf("/interop/psk/%s/%s", v == Version::Tls12 ? "tls1.2" : "tls1.3", c.name);
      g_test_add_data_func(path, GINT_TO_POINTER(static_cast<int>(v)), c.run);
      g_free(path);
    }
  }
  g_test_add_func("/interop/limits/gnutls-serv", test_limits_gnutls_serv);
  g_test_add_func("/interop/limits/openssl-s-server", test_limits_openssl_s_server);
  g_test_add_func("/interop/limits/server-cannot-meet", test_limits_server_cannot_meet);
  return g_test_run();
}
