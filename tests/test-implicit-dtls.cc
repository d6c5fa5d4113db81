// Implicit DTLS handshakes and call timeouts (GDatagramBased semantics).
//
// - A client and a server sharing one thread and one main context, each
//   making only timeout-0 calls with a nonblocking iteration in between:
//   the handshakes that the first calls start progress from the context
//   alone (retransmissions included, over a lossy transport too).
// - A call's positive timeout bounds the call, its implicit handshake
//   included; timeouts of 0 and -1 never give G_IO_ERROR_TIMED_OUT (GIO
//   asserts so), even when the handshake runs out of its own time.
// - A server waiting for a ClientHello gives up after handshake-timeout.
// Through the public GIO API only.
#include "dtls-harness.h"
#include "lossy-socket.h"

#include <gio/gio.h>

#include <string>
#include <thread>

using namespace gtg_test;

namespace {

// One nonblocking receive: true with `out` when a datagram came, false on
// WOULD_BLOCK; any other error fails the test.
bool try_receive(GDatagramBased *conn, std::string *out)
{
  GError *error = nullptr;
  if (receive_datagram(conn, out, 0, nullptr, &error))
    return true;
  if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    g_error("nonblocking receive: %s", error->message);
  g_error_free(error);
  return false;
}

bool try_send(GDatagramBased *conn, const std::string &data)
{
  GError *error = nullptr;
  gint n = send_datagram(conn, data, 0, nullptr, &error);
  if (n == 1)
    return true;
  if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    g_error("nonblocking send: %s", error ? error->message : "nothing sent");
  g_error_free(error);
  return false;
}

// The exchange: the client sends "ping" (again every 200 ms until answered,
// the datagram may be lost), the server answers each with "pong".
void exchange_in_one_thread(GDatagramBased *client, GDatagramBased *server)
{
  gint64 start = g_get_monotonic_time();
  gint64 deadline = start + 30 * G_USEC_PER_SEC;
  gint64 last_ping = 0;
  bool got_ping = false;
  bool got_pong = false;
  int rounds = 0;
  while (!got_pong && g_get_monotonic_time() < deadline && rounds < 5000000) {
    rounds++;
    gint64 now = g_get_monotonic_time();
    if (now - last_ping > 200 * 1000 && try_send(client, "ping"))
      last_ping = now;
    std::string in;
    while (try_receive(server, &in)) {
      g_assert_cmpstr(in.c_str(), ==, "ping");
      got_ping = true;
      try_send(server, "pong");
    }
    while (try_receive(client, &in)) {
      g_assert_cmpstr(in.c_str(), ==, "pong");
      got_pong = true;
    }
    g_main_context_iteration(nullptr, FALSE);
  }
  g_assert_true(got_ping);
  g_assert_true(got_pong);
  GTlsProtocolVersion version = G_TLS_PROTOCOL_VERSION_UNKNOWN;
  g_object_get(client, "protocol-version", &version, nullptr);
  g_assert_cmpint(version, ==, G_TLS_PROTOCOL_VERSION_DTLS_1_2);
}

void test_one_thread_nonblocking()
{
  DtlsPair pair;
  exchange_in_one_thread(pair.client, pair.server);
}

void test_one_thread_nonblocking_lossy()
{
  for (guint32 seed = 1; seed <= 3; seed++) {
    LossProfile profile;
    profile.drop = 0.2;
    profile.duplicate = 0.1;
    profile.reorder = 0.1;
    UdpPair udp;
    GtgLossySocket *client_base = lossy_socket_new(udp.client, profile, seed);
    GtgLossySocket *server_base = lossy_socket_new(udp.server, profile, seed + 100);
    GTlsDatabase *db = ca_database();
    GTlsCertificate *cert = server_certificate();
    GDatagramBased *client = new_client(G_DATAGRAM_BASED(client_base), db);
    GDatagramBased *server = new_server(G_DATAGRAM_BASED(server_base), cert);
    exchange_in_one_thread(client, server);
    g_object_unref(client);
    g_object_unref(server);
    g_object_unref(client_base);
    g_object_unref(server_base);
    g_object_unref(cert);
    g_object_unref(db);
  }
}

// A client whose peer never answers: a UDP socket that receives and drops.
struct SilentPeer {
  UdpPair udp;
  GTlsDatabase *db = ca_database();
  GDatagramBased *client = new_client(G_DATAGRAM_BASED(udp.client), db);
  ~SilentPeer()
  {
    g_object_unref(client);
    g_object_unref(db);
  }
};

void test_receive_timeout_bounds_handshake()
{
  SilentPeer peer;
  for (int i = 0; i < 2; i++) {
    // The second call finds the handshake running in the background.
    gint64 start = g_get_monotonic_time();
    std::string out;
    GError *error = nullptr;
    g_assert_false(receive_datagram(peer.client, &out, 500 * 1000, nullptr, &error));
    gint64 took = g_get_monotonic_time() - start;
    g_assert_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
    g_clear_error(&error);
    g_assert_cmpint(took, >=, 450 * 1000);
    g_assert_cmpint(took, <, 3 * G_USEC_PER_SEC);
  }
  // Meanwhile the handshake went on, retransmitting from the context.
  gint64 until = g_get_monotonic_time() + 1500 * 1000;
  while (g_get_monotonic_time() < until)
    g_main_context_iteration(nullptr, FALSE), g_usleep(1000);
  guint retransmissions = 0;
  g_object_get(peer.client, "retransmissions", &retransmissions, nullptr);
  g_assert_cmpuint(retransmissions, >=, 1);
}

void test_zero_timeout_never_times_out()
{
  SilentPeer peer;
  g_object_set(peer.client, "handshake-timeout", 1000u, nullptr);
  gint64 start = g_get_monotonic_time();
  GError *error = nullptr;
  std::string out;
  int rounds = 0;
  while (rounds++ < 1000000 && g_get_monotonic_time() - start < 10 * G_USEC_PER_SEC) {
    if (receive_datagram(peer.client, &out, 0, nullptr, &error))
      g_error("received from a silent peer");
    if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
      break;
    g_clear_error(&error);
    g_main_context_iteration(nullptr, FALSE);
    g_usleep(1000);
  }
  g_assert_error(error, G_TLS_ERROR, G_TLS_ERROR_HANDSHAKE);
  g_clear_error(&error);
  gint64 took = g_get_monotonic_time() - start;
  g_assert_cmpint(took, >=, 900 * 1000);
  g_assert_cmpint(took, <, 5 * G_USEC_PER_SEC);
  // The failure stays: later calls report it too, still not as a timeout.
  g_assert_cmpint(send_datagram(peer.client, "x", 0, nullptr, &error), ==, -1);
  g_assert_error(error, G_TLS_ERROR, G_TLS_ERROR_HANDSHAKE);
  g_clear_error(&error);
}

void test_blocking_call_without_timeout()
{
  SilentPeer peer;
  g_object_set(peer.client, "handshake-timeout", 1000u, nullptr);
  gint64 start = g_get_monotonic_time();
  GError *error = nullptr;
  std::string out;
  g_assert_false(receive_datagram(peer.client, &out, -1, nullptr, &error));
  g_assert_error(error, G_TLS_ERROR, G_TLS_ERROR_HANDSHAKE);
  g_clear_error(&error);
  gint64 took = g_get_monotonic_time() - start;
  g_assert_cmpint(took, <, 5 * G_USEC_PER_SEC);
}

// handshake-timeout also bounds a server's wait for a ClientHello (with a
// valid cookie): nothing ever comes here.
void test_server_waits_for_hello_within_timeout()
{
  UdpPair udp;
  GTlsCertificate *cert = server_certificate();
  GDatagramBased *server = new_server(G_DATAGRAM_BASED(udp.server), cert);
  g_object_set(server, "handshake-timeout", 1000u, nullptr);
  gint64 start = g_get_monotonic_time();
  GError *error = nullptr;
  g_assert_false(g_dtls_connection_handshake(G_DTLS_CONNECTION(server), nullptr, &error));
  g_assert_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error(&error);
  gint64 took = g_get_monotonic_time() - start;
  g_assert_cmpint(took, >=, 900 * 1000);
  g_assert_cmpint(took, <, 5 * G_USEC_PER_SEC);
  g_object_unref(server);
  g_object_unref(cert);
}

// condition_wait on a connection that has not handshaken runs the
// handshake the operation needs (a wait on the socket alone would spin
// without ever seeing it end), within its timeout.
void test_condition_wait_handshakes()
{
  DtlsPair pair;
  std::thread server([&] {
    Watchdog watchdog(20000);
    GError *error = nullptr;
    g_assert_true(g_dtls_connection_handshake(G_DTLS_CONNECTION(pair.server), watchdog.cancellable(), &error));
    g_assert_no_error(error);
    expect_datagram(pair.server, "after the wait", watchdog.cancellable());
  });
  gint64 start = g_get_monotonic_time();
  GError *error = nullptr;
  g_assert_true(g_datagram_based_condition_wait(pair.client, G_IO_OUT, 10 * G_USEC_PER_SEC, nullptr, &error));
  g_assert_no_error(error);
  g_assert_cmpint(g_get_monotonic_time() - start, <, 10 * G_USEC_PER_SEC);
  GTlsProtocolVersion version = G_TLS_PROTOCOL_VERSION_UNKNOWN;
  g_object_get(pair.client, "protocol-version", &version, nullptr);
  g_assert_cmpint(version, ==, G_TLS_PROTOCOL_VERSION_DTLS_1_2);
  send_ok(pair.client, "after the wait", nullptr);
  server.join();
}

// With a silent peer, the wait ends at its timeout.
void test_condition_wait_times_out()
{
  SilentPeer peer;
  gint64 start = g_get_monotonic_time();
  GError *error = nullptr;
  g_assert_false(g_datagram_based_condition_wait(peer.client, G_IO_IN, 500 * 1000, nullptr, &error));
  g_assert_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error(&error);
  g_assert_cmpint(g_get_monotonic_time() - start, <, 3 * G_USEC_PER_SEC);
}

}  // namespace

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, nullptr);
  g_test_add_func("/implicit/dtls/one-thread-nonblocking", test_one_thread_nonblocking);
  g_test_add_func("/implicit/dtls/one-thread-nonblocking-lossy", test_one_thread_nonblocking_lossy);
  g_test_add_func("/implicit/dtls/receive-timeout-bounds-handshake", test_receive_timeout_bounds_handshake);
  g_test_add_func("/implicit/dtls/zero-timeout-never-times-out", test_zero_timeout_never_times_out);
  g_test_add_func("/implicit/dtls/blocking-without-timeout", test_blocking_call_without_timeout);
  g_test_add_func("/implicit/dtls/server-hello-wait-bounded", test_server_waits_for_hello_within_timeout);
  g_test_add_func("/implicit/dtls/condition-wait-handshakes", test_condition_wait_handshakes);
  g_test_add_func("/implicit/dtls/condition-wait-times-out", test_condition_wait_times_out);
  return g_test_run();
}
