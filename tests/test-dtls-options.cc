// Tests of our per-connection properties and signals on DTLS connections
// (docs/user-guide.md, "Beyond GIO's API"): `min-protocol-version`,
// `max-protocol-version`, `ciphersuites` and `priority`; pre-shared keys
// (DTLS 1.2: `psk-identity`, `psk-key`, `psk-required`, `psk-identity-hint`,
// `psk-lookup`); the server's `cookie-secret`, shown shared by two server
// connections behind a relay that hands a client's retried ClientHello to
// the other server. Through the public GIO API only, over loopback UDP.
// Every wait is bounded: a watchdog cancels each handshake after 20 s, a
// server whose client gave up stops after its handshake-timeout, and the
// relay's loop stops after 20 s.
#include "dtls-harness.h"

#include <gio/gio.h>

#include <poll.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>

using namespace gtg_test;

namespace {

std::string suite_of(GDatagramBased *conn)
{
  char *suite = nullptr;
  g_object_get(conn, "ciphersuite-name", &suite, nullptr);
  std::string s = suite ? suite : "";
  g_free(suite);
  return s;
}

// (A helper: g_assert_cmpstr keeps its arguments' pointers past the
// temporaries they came from.)
void assert_suite(GDatagramBased *conn, const char *expected)
{
  std::string suite = suite_of(conn);
  g_assert_cmpstr(suite.c_str(), ==, expected);
}

// A handshake of `conn` alone, expected to fail before any I/O with
// G_TLS_ERROR_MISC whose message contains `needle`.
void assert_config_error(GDatagramBased *conn, const char *needle)
{
  Watchdog watchdog(20000);
  GError *error = nullptr;
  g_assert_false(g_dtls_connection_handshake(G_DTLS_CONNECTION(conn), watchdog.cancellable(), &error));
  g_assert_error(error, G_TLS_ERROR, G_TLS_ERROR_MISC);
  g_test_message("error: %s", error->message);
  g_assert_nonnull(strstr(error->message, needle));
  g_error_free(error);
}

void test_properties()
{
  DtlsPair pair;
  for (GDatagramBased *conn : {pair.client, pair.server}) {
    GObjectClass *klass = G_OBJECT_GET_CLASS(conn);
    for (const char *name : {"min-protocol-version", "max-protocol-version", "ciphersuites", "priority"})
      g_assert_nonnull(g_object_class_find_property(klass, name));
    GTlsProtocolVersion min = G_TLS_PROTOCOL_VERSION_TLS_1_3;
    g_object_get(conn, "min-protocol-version", &min, nullptr);
    g_assert_cmpint(min, ==, G_TLS_PROTOCOL_VERSION_UNKNOWN);
  }
}

// A suite and a version range on the client are honoured.
void test_suite_and_version()
{
  DtlsPair pair;
  const char *const suites[] = {"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", nullptr};
  g_object_set(pair.client, "ciphersuites", suites, "min-protocol-version",
               G_TLS_PROTOCOL_VERSION_DTLS_1_2, "max-protocol-version", G_TLS_PROTOCOL_VERSION_DTLS_1_2,
               nullptr);
  Watchdog watchdog(20000);
  handshake_both_ok(pair.client, pair.server, watchdog.cancellable());
  assert_suite(pair.client, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384");
  assert_suite(pair.server, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384");
  GTlsProtocolVersion version = G_TLS_PROTOCOL_VERSION_UNKNOWN;
  g_object_get(pair.client, "protocol-version", &version, nullptr);
  g_assert_cmpint(version, ==, G_TLS_PROTOCOL_VERSION_DTLS_1_2);
}

// A priority string on the server.
void test_priority()
{
  DtlsPair pair;
  g_object_set(pair.server, "priority", "NORMAL:-CIPHER-ALL:+CHACHA20-POLY1305", nullptr);
  Watchdog watchdog(20000);
  handshake_both_ok(pair.client, pair.server, watchdog.cancellable());
  assert_suite(pair.client, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256");
}

void test_error_tls_version()
{
  DtlsPair pair;
  g_object_set(pair.client, "min-protocol-version", G_TLS_PROTOCOL_VERSION_TLS_1_2, nullptr);
  assert_config_error(pair.client, "TLS 1.2");
}

void test_error_tls13_suites()
{
  DtlsPair pair;
  const char *const suites[] = {"TLS_AES_128_GCM_SHA256", nullptr};
  g_object_set(pair.server, "ciphersuites", suites, nullptr);
  assert_config_error(pair.server, "DTLS");
}

void test_error_unknown_suite()
{
  DtlsPair pair;
  const char *const suites[] = {"TLS_FOO", nullptr};
  g_object_set(pair.client, "ciphersuites", suites, nullptr);
  assert_config_error(pair.client, "TLS_FOO");
}

void test_error_bad_priority()
{
  DtlsPair pair;
  g_object_set(pair.client, "priority", "NORMAL:%NO_SUCH_FLAG", nullptr);
  assert_config_error(pair.client, "NO_SUCH_FLAG");
}

// ----- Pre-shared keys -----

const guint8 kKey[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                         17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

GBytes *on_psk_lookup(GObject *, const char *identity, gpointer known)
{
  return strcmp(identity, static_cast<const char *>(known)) == 0 ? g_bytes_new_static(kKey, sizeof kKey)
                                                                   : nullptr;
}

void on_psk_required(GObject *conn, const char *hint, gpointer seen_hint)
{
  *static_cast<std::string *>(seen_hint) = hint ? hint : "(none)";
  GBytes *key = g_bytes_new_static(kKey, sizeof kKey);
  g_object_set(conn, "psk-identity", "alice", "psk-key", key, nullptr);
  g_bytes_unref(key);
}

// A PSK-only server (no certificate) over a UdpPair.
struct PskPair {
  UdpPair udp;
  GDatagramBased *client;
  GDatagramBased *server;
  PskPair(const char *known)
  {
    GTlsDatabase *db = ca_database();
    client = new_client(G_DATAGRAM_BASED(udp.client), db);
    g_object_unref(db);
    GError *error = nullptr;
    server = G_DATAGRAM_BASED(g_dtls_server_connection_new(G_DATAGRAM_BASED(udp.server), nullptr, &error));
    g_assert_no_error(error);
    g_object_set(server, "psk-identity-hint", "dtls-hint", "handshake-timeout", 2000u, nullptr);
    g_signal_connect(server, "psk-lookup", G_CALLBACK(on_psk_lookup), const_cast<char *>(known));
  }
  ~PskPair()
  {
    g_object_unref(client);
    g_object_unref(server);
  }
};

void test_psk_basic()
{
  PskPair pair("alice");
  std::string hint;
  g_signal_connect(pair.client, "psk-required", G_CALLBACK(on_psk_required), &hint);
  Watchdog watchdog(20000);
  handshake_both_ok(pair.client, pair.server, watchdog.cancellable());
  g_assert_cmpstr(hint.c_str(), ==, "dtls-hint");
  std::string suite = suite_of(pair.client);
  g_test_message("suite: %s", suite.c_str());
  g_assert_true(g_str_has_prefix(suite.c_str(), "TLS_ECDHE_PSK_"));
  GTlsCertificate *peer = nullptr;
  g_object_get(pair.client, "peer-certificate", &peer, nullptr);
  g_assert_null(peer);
  send_ok(pair.client, "ping", watchdog.cancellable());
  expect_datagram(pair.server, "ping", watchdog.cancellable());
}

void test_psk_refused()
{
  PskPair pair("bob");
  std::string hint;
  g_signal_connect(pair.client, "psk-required", G_CALLBACK(on_psk_required), &hint);
  Watchdog watchdog(20000);
  HandshakeResult c, s;
  handshake_both(pair.client, pair.server, watchdog.cancellable(), &c, &s);
  g_assert_false(c.ok);
  g_assert_false(s.ok);
  g_test_message("client: %s; server: %s", c.error->message, s.error->message);
  g_assert_error(s.error, G_TLS_ERROR, G_TLS_ERROR_HANDSHAKE);
  g_assert_nonnull(strstr(s.error->message, "alice"));
  g_assert_error(c.error, G_TLS_ERROR, G_TLS_ERROR_HANDSHAKE);
  g_error_free(c.error);
  g_error_free(s.error);
}

void test_psk_wrong_key()
{
  PskPair pair("alice");
  guint8 other[32] = {0};
  GBytes *wrong = g_bytes_new(other, sizeof other);
  // DTLS drops records that do not decrypt: the Finished of a wrong key
  // is never answered, and both ends time out.
  g_object_set(pair.client, "psk-identity", "alice", "psk-key", wrong, "handshake-timeout", 2000u, nullptr);
  g_bytes_unref(wrong);
  Watchdog watchdog(20000);
  HandshakeResult c, s;
  handshake_both(pair.client, pair.server, watchdog.cancellable(), &c, &s);
  g_assert_false(c.ok);
  g_assert_false(s.ok);
  g_test_message("client: %s; server: %s", c.error->message, s.error->message);
  g_assert_false(g_error_matches(c.error, G_IO_ERROR, G_IO_ERROR_CANCELLED));
  g_clear_error(&c.error);
  g_clear_error(&s.error);
}

// ----- cookie-secret -----

// Relays datagrams between one client socket and two servers: the client's
// first datagram goes to the first server, every later one to the second;
// both servers see the relay's one address. Counts the HelloVerifyRequests
// the second server sends.
struct Relay {
  GSocket *front = udp_socket();  // the client talks to this
  GSocket *back = udp_socket();   // the servers talk to this
  guint16 server_ports[2] = {0, 0};
  std::atomic<bool> stop{false};
  std::atomic<int> second_server_hvr{0};
  std::thread thread;

  void start()
  {
    thread = std::thread([this] { run(); });
  }
  ~Relay()
  {
    stop = true;
    if (thread.joinable())
      thread.join();
    g_object_unref(front);
    g_object_unref(back);
  }

  static bool is_hello_verify_request(const guint8 *d, gssize n)
  {
    return n > 13 && d[0] == 22 && d[13] == 3;  // handshake record, hello_verify_request
  }

  void run()
  {
    GSocketAddress *client = nullptr;
    int forwarded = 0;
    gint64 deadline = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
    guint8 buf[65536];
    while (!stop && g_get_monotonic_time() < deadline) {
      struct pollfd fds[2] = {{g_socket_get_fd(front), POLLIN, 0}, {g_socket_get_fd(back), POLLIN, 0}};
      if (poll(fds, 2, 50) <= 0)
        continue;
      if (fds[0].revents & POLLIN) {
        GSocketAddress *from = nullptr;
        gssize n = g_socket_receive_from(front, &from, reinterpret_cast<char *>(buf), sizeof buf, nullptr, nullptr);
        if (n > 0) {
          if (!client)
            client = G_SOCKET_ADDRESS(g_object_ref(from));
          GInetAddress *lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
          GSocketAddress *to = g_inet_socket_address_new(lo, server_ports[forwarded++ == 0 ? 0 : 1]);
          g_socket_send_to(back, to, reinterpret_cast<char *>(buf), n, nullptr, nullptr);
          g_object_unref(to);
          g_object_unref(lo);
        }
        g_clear_object(&from);
      }
      if (fds[1].revents & POLLIN) {
        GSocketAddress *from = nullptr;
        gssize n = g_socket_receive_from(back, &from, reinterpret_cast<char *>(buf), sizeof buf, nullptr, nullptr);
        if (n > 0 && client) {
          guint16 port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(from));
          if (port == server_ports[1] && is_hello_verify_request(buf, n))
            second_server_hvr++;
          g_socket_send_to(front, client, reinterpret_cast<char *>(buf), n, nullptr, nullptr);
        }
        g_clear_object(&from);
      }
    }
    g_clear_object(&client);
  }
};

// Two servers behind a relay: the first answers the ClientHello with a
// HelloVerifyRequest, the second gets the retried ClientHello. Returns how
// many HelloVerifyRequests the second sent; asserts that the handshake of
// the client and the second server succeeds or (within 3 s) fails, as
// `expect_ok` says. (A GnuTLS client does not answer a second
// HelloVerifyRequest.)
int handshake_across_two_servers(GBytes *secret_a, GBytes *secret_b, bool expect_ok)
{
  Relay relay;
  GSocket *server_sockets[2] = {udp_socket(), udp_socket()};
  GTlsCertificate *cert = server_certificate();
  GTlsDatabase *db = ca_database();
  GDatagramBased *servers[2];
  for (int i = 0; i < 2; i++) {
    relay.server_ports[i] = local_port(server_sockets[i]);
    connect_to_port(server_sockets[i], local_port(relay.back));
    servers[i] = new_server(G_DATAGRAM_BASED(server_sockets[i]), cert);
    g_object_set(servers[i], "cookie-secret", i == 0 ? secret_a : secret_b, "handshake-timeout", 3000u,
                 nullptr);
  }
  GSocket *client_socket = udp_socket();
  connect_to_port(client_socket, local_port(relay.front));
  GDatagramBased *client = new_client(G_DATAGRAM_BASED(client_socket), db);
  g_object_set(client, "handshake-timeout", 3000u, nullptr);
  relay.start();

  Watchdog watchdog(20000);
  GCancellable *first_cancel = g_cancellable_new();
  std::thread first([&] {
    GError *error = nullptr;
    g_dtls_connection_handshake(G_DTLS_CONNECTION(servers[0]), first_cancel, &error);
    g_clear_error(&error);  // it never sees the retried ClientHello
  });
  bool second_ok = false;
  std::thread second([&] {
    GError *error = nullptr;
    second_ok = g_dtls_connection_handshake(G_DTLS_CONNECTION(servers[1]), watchdog.cancellable(), &error);
    if (error)
      g_test_message("second server: %s", error->message);
    g_clear_error(&error);
  });
  GError *error = nullptr;
  gboolean ok = g_dtls_connection_handshake(G_DTLS_CONNECTION(client), watchdog.cancellable(), &error);
  if (expect_ok) {
    g_assert_no_error(error);
    g_assert_true(ok);
  } else {
    g_assert_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
    g_clear_error(&error);
  }
  second.join();
  g_cancellable_cancel(first_cancel);
  first.join();
  g_assert_true(second_ok == expect_ok);
  int hvr = relay.second_server_hvr;
  g_object_unref(first_cancel);
  g_object_unref(client);
  g_object_unref(client_socket);
  for (int i = 0; i < 2; i++) {
    g_object_unref(servers[i]);
    g_object_unref(server_sockets[i]);
  }
  g_object_unref(cert);
  g_object_unref(db);
  return hvr;
}

GBytes *secret_of(guint8 fill, gsize size)
{
  guint8 bytes[64];
  memset(bytes, fill, sizeof bytes);
  return g_bytes_new(bytes, size);
}

// The second server accepts the first one's cookie: the handshake completes
// (a second server that sent a cookie of its own would stall it, see
// below). Usually it sends no HelloVerifyRequest at all; it may send one
// when the client retransmitted its first ClientHello, with the same cookie.
void test_cookie_secret_shared()
{
  GBytes *secret = secret_of(0x5a, 32);
  int hvr = handshake_across_two_servers(secret, secret, true);
  g_test_message("HelloVerifyRequests from the second server: %d", hvr);
  g_bytes_unref(secret);
}

// The control: with different secrets the second server does not accept
// the first one's cookie and sends one of its own.
void test_cookie_secret_different()
{
  GBytes *a = secret_of(0x5a, 32);
  GBytes *b = secret_of(0xa5, 48);
  g_assert_cmpint(handshake_across_two_servers(a, b, false), >=, 1);
  g_bytes_unref(a);
  g_bytes_unref(b);
}

void test_cookie_secret_property()
{
  DtlsPair pair;
  GObjectClass *klass = G_OBJECT_GET_CLASS(pair.server);
  g_assert_nonnull(g_object_class_find_property(klass, "cookie-secret"));
  g_assert_null(g_object_class_find_property(G_OBJECT_GET_CLASS(pair.client), "cookie-secret"));
  GBytes *secret = secret_of(1, 32);
  GBytes *got = nullptr;
  g_object_get(pair.server, "cookie-secret", &got, nullptr);
  g_assert_null(got);
  g_object_set(pair.server, "cookie-secret", secret, nullptr);
  g_object_get(pair.server, "cookie-secret", &got, nullptr);
  g_assert_true(g_bytes_equal(got, secret));
  g_bytes_unref(got);
  g_bytes_unref(secret);
}

void test_error_short_cookie_secret()
{
  DtlsPair pair;
  GBytes *secret = secret_of(1, 16);
  g_object_set(pair.server, "cookie-secret", secret, nullptr);
  g_bytes_unref(secret);
  assert_config_error(pair.server, "cookie-secret");
}

}  // namespace

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, nullptr);
  g_test_add_func("/options/dtls/properties", test_properties);
  g_test_add_func("/options/dtls/suite-and-version", test_suite_and_version);
  g_test_add_func("/options/dtls/priority", test_priority);
  g_test_add_func("/options/dtls/error/tls-version", test_error_tls_version);
  g_test_add_func("/options/dtls/error/tls1.3-suites", test_error_tls13_suites);
  g_test_add_func("/options/dtls/error/unknown-suite", test_error_unknown_suite);
  g_test_add_func("/options/dtls/error/bad-priority", test_error_bad_priority);
  g_test_add_func("/psk/dtls/basic", test_psk_basic);
  g_test_add_func("/psk/dtls/refused", test_psk_refused);
  g_test_add_func("/psk/dtls/wrong-key", test_psk_wrong_key);
  g_test_add_func("/options/dtls/cookie-secret/property", test_cookie_secret_property);
  g_test_add_func("/options/dtls/cookie-secret/shared", test_cookie_secret_shared);
  g_test_add_func("/options/dtls/cookie-secret/different", test_cookie_secret_different);
  g_test_add_func("/options/dtls/error/short-cookie-secret", test_error_short_cookie_secret);
  return g_test_run();
}
