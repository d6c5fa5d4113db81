// Tests of GDtlsConnection through the public GIO API, over loopback UDP:
// handshakes sync in two threads and async on one main context, datagrams
// both ways, the properties after a handshake, GDatagramBased timeout
// semantics, the one-record limit, close with the base socket left open, a
// silent peer, the server cookie exchange on and off, handshakes and data
// through a lossy transport (tests/lossy-socket.h) at 10, 20 and 30% loss
// each way, an untrusted server, and interoperation with gnutls-serv,
// gnutls-cli and openssl s_server/s_client over DTLS 1.2.
//
// Every wait is bounded: a Watchdog cancels the test's operations after a
// while, and every loop has a count limit. Timing assertions are lower bounds
// only. The lossy tests print their seeds; GTG_DTLS_SEED overrides them.
//
// Test data: tests/files (make-files.sh).
#include "lossy-socket.h"

#include <gio/gio.h>

#include <sys/prctl.h>

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

using gtg_test::LossProfile;

// ---------------------------------------------------------------------------
// Test data and helpers

std::string data_path(const char *name)
{
  return std::string(TEST_FILES_DIR "/") + name;
}

GTlsCertificate *certificate_from(const char *cert, const char *key)
{
  GError *error = nullptr;
  GTlsCertificate *c = key ? g_tls_certificate_new_from_files(data_path(cert).c_str(),
                                                              data_path(key).c_str(), &error)
                           : g_tls_certificate_new_from_file(data_path(cert).c_str(), &error);
  g_assert_no_error(error);
  return c;
}

// The RSA server certificate with its chain and key (identity "localhost").
GTlsCertificate *server_certificate()
{
  return certificate_from("server-and-key.pem", nullptr);
}

GTlsDatabase *ca_database()
{
  GError *error = nullptr;
  GTlsDatabase *db = g_tls_file_database_new(data_path("ca.pem").c_str(), &error);
  g_assert_no_error(error);
  return db;
}

// Cancels its cancellable after `timeout_ms` unless destroyed first.
class Watchdog {
public:
  explicit Watchdog(unsigned timeout_ms) : cancellable_(g_cancellable_new())
  {
    thread_ = std::thread([this, timeout_ms] {
      std::unique_lock lock(mutex_);
      if (!cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [this] { return done_; }))
        g_cancellable_cancel(cancellable_);
    });
  }
  ~Watchdog()
  {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
    g_object_unref(cancellable_);
  }
  Watchdog(const Watchdog &) = delete;
  Watchdog &operator=(const Watchdog &) = delete;
  GCancellable *cancellable() { return cancellable_; }

private:
  GCancellable *cancellable_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

GSocket *udp_socket()
{
  GError *error = nullptr;
  GSocket *s = g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &error);
  g_assert_no_error(error);
  GInetAddress *lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
  GSocketAddress *any_port = g_inet_socket_address_new(lo, 0);
  g_assert_true(g_socket_bind(s, any_port, FALSE, &error));
  g_assert_no_error(error);
  g_object_unref(any_port);
  g_object_unref(lo);
  return s;
}

guint16 local_port(GSocket *s)
{
  GSocketAddress *a = g_socket_get_local_address(s, nullptr);
  g_assert_nonnull(a);
  guint16 port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(a));
  g_object_unref(a);
  return port;
}

void connect_to_port(GSocket *s, guint16 port)
{
  GInetAddress *lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
  GSocketAddress *to = g_inet_socket_address_new(lo, port);
  GError *error = nullptr;
  g_assert_true(g_socket_connect(s, to, nullptr, &error));
  g_assert_no_error(error);
  g_object_unref(to);
  g_object_unref(lo);
}

// Two UDP sockets on loopback, each connected to the other.
struct UdpPair {
  GSocket *client = udp_socket();
  GSocket *server = udp_socket();
  UdpPair()
  {
    connect_to_port(client, local_port(server));
    connect_to_port(server, local_port(client));
  }
  ~UdpPair()
  {
    g_object_unref(client);
    g_object_unref(server);
  }
  UdpPair(const UdpPair &) = delete;
  UdpPair &operator=(const UdpPair &) = delete;
};

GDatagramBased *new_client(GDatagramBased *base, GTlsDatabase *db)
{
  GSocketConnectable *identity = g_network_address_new("localhost", 443);
  GError *error = nullptr;
  GDatagramBased *c = g_dtls_client_connection_new(base, identity, &error);
  g_assert_no_error(error);
  g_dtls_connection_set_database(G_DTLS_CONNECTION(c), db);
  g_object_unref(identity);
  return c;
}

GDatagramBased *new_server(GDatagramBased *base, GTlsCertificate *cert)
{
  GError *error = nullptr;
  GDatagramBased *s = g_dtls_server_connection_new(base, cert, &error);
  g_assert_no_error(error);
  return s;
}

void set_protocols(GDatagramBased *conn, std::initializer_list<const char *> protocols)
{
  std::vector<const char *> v(protocols);
  v.push_back(nullptr);
  g_dtls_connection_set_advertised_protocols(G_DTLS_CONNECTION(conn), v.data());
}

// Sends one datagram; returns the number of messages sent (-1 on error).
gint send_datagram(GDatagramBased *conn, const std::string &data, gint64 timeout,
                   GCancellable *cancellable, GError **error)
{
  GOutputVector vector{data.data(), data.size()};
  GOutputMessage message{nullptr, &vector, 1, 0, nullptr, 0};
  return g_datagram_based_send_messages(conn, &message, 1, 0, timeout, cancellable, error);
}

void send_ok(GDatagramBased *conn, const std::string &data, GCancellable *cancellable)
{
  GError *error = nullptr;
  g_assert_cmpint(send_datagram(conn, data, -1, cancellable, &error), ==, 1);
  g_assert_no_error(error);
}

// Receives one datagram into `out` (false with `error` set on failure).
bool receive_datagram(GDatagramBased *conn, std::string *out, gint64 timeout,
                      GCancellable *cancellable, GError **error)
{
  char buf[2048];
  GInputVector vector{buf, sizeof buf};
  GInputMessage message{nullptr, &vector, 1, 0, 0, nullptr, nullptr};
  gint n = g_datagram_based_receive_messages(conn, &message, 1, 0, timeout, cancellable, error);
  if (n < 0)
    return false;
  out->assign(buf, n == 1 ? message.bytes_received : 0);
  return true;
}

std::string receive_ok(GDatagramBased *conn, GCancellable *cancellable)
{
  std::string out;
  GError *error = nullptr;
  bool ok = receive_datagram(conn, &out, -1, cancellable, &error);
  g_assert_no_error(error);
  g_assert_true(ok);
  return out;
}

struct HandshakeResult {
  bool ok = false;
  GError *error = nullptr;
};

// Runs the server's handshake in a thread and the client's here.
void handshake_both(GDatagramBased *client, GDatagramBased *server, GCancellable *cancellable,
                    HandshakeResult *out_client, HandshakeResult *out_server)
{
  std::thread server_thread([&] {
    out_server->ok = g_dtls_connection_handshake(G_DTLS_CONNECTION(server), cancellable,
                                                 &out_server->error);
  });
  out_client->ok = g_dtls_connection_handshake(G_DTLS_CONNECTION(client), cancellable,
                                               &out_client->error);
  server_thread.join();
}

void handshake_both_ok(GDatagramBased *client, GDatagramBased *server, GCancellable *cancellable)
{
  HandshakeResult c, s;
  handshake_both(client, server, cancellable, &c, &s);
  g_assert_no_error(c.error);
  g_assert_no_error(s.error);
  g_assert_true(c.ok && s.ok);
}

// A connected pair of DTLS connections over loopback, handshake not yet run.
struct DtlsPair {
  UdpPair udp;
  GTlsCertificate *cert = server_certificate();
  GTlsDatabase *db = ca_database();
  GDatagramBased *client;
  GDatagramBased *server;

  DtlsPair()
  {
    client = new_client(G_DATAGRAM_BASED(udp.client), db);
    server = new_server(G_DATAGRAM_BASED(udp.server), cert);
  }
  ~DtlsPair()
  {
    g_object_unref(client);
    g_object_unref(server);
    g_object_unref(db);
    g_object_unref(cert);
  }
  DtlsPair(const DtlsPair &) = delete;
  DtlsPair &operator=(const DtlsPair &) = delete;
};

// ---------------------------------------------------------------------------
// 1. Handshakes and data

void test_sync_two_threads()
{
  DtlsPair pair;
  Watchdog watchdog(20000);
  GCancellable *c = watchdog.cancellable();
  std::string server_got;
  GError *server_error = nullptr;
  std::thread server_thread([&] {
    if (!g_dtls_connection_handshake(G_DTLS_CONNECTION(pair.server), c, &server_error))
      return;
    for (int i = 0; i < 3; i++) {
      std::string in;
      if (!receive_datagram(pair.server, &in, -1, c, &server_error))
        return;
      server_got += in;
      if (send_datagram(pair.server, "echo:" + in, -1, c, &server_error) != 1)
        return;
    }
  });
  GError *error = nullptr;
  g_assert_true(g_dtls_connection_handshake(G_DTLS_CONNECTION(pair.client), c, &error));
  g_assert_no_error(error);
  for (int i = 0; i < 3; i++) {
    std::string ping = "ping " + std::to_string(i);
    send_ok(pair.client, ping, c);
    g_assert_cmpstr(receive_ok(pair.client, c).c_str(), ==, ("echo:" + ping).c_str());
  }
  server_thread.join();
  g_assert_no_error(server_error);
  g_assert_cmpstr(server_got.c_str(), ==, "ping 0ping 1ping 2");
}

// Both ends on one main context: async handshakes, then datagrams driven by
// the connections' sources.
struct AsyncState {
  GMainContext *context;
  int handshakes_left = 2;
  GError *error = nullptr;
  std::string server_got, client_got;
  GDatagramBased *server = nullptr;
  GDatagramBased *client = nullptr;
};

void on_handshake(GObject *source, GAsyncResult *result, gpointer data)
{
  auto *st = static_cast<AsyncState *>(data);
  GError *error = nullptr;
  if (!g_dtls_connection_handshake_finish(G_DTLS_CONNECTION(source), result, &error) && !st->error)
    st->error = error;
  else if (error)
    g_error_free(error);
  st->handshakes_left--;
  g_main_context_wakeup(st->context);
}

// Reads what is there without blocking; false with st->error on failure.
bool take_datagram(AsyncState *st, GDatagramBased *conn, std::string *out)
{
  GError *error = nullptr;
  std::string in;
  if (!receive_datagram(conn, &in, 0, nullptr, &error)) {
    if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
      g_error_free(error);
      return true;
    }
    st->error = error;
    return false;
  }
  *out += in;
  return true;
}

gboolean on_server_readable(GDatagramBased *conn, GIOCondition, gpointer data)
{
  auto *st = static_cast<AsyncState *>(data);
  std::string in;
  if (!take_datagram(st, conn, &in))
    return G_SOURCE_REMOVE;
  if (in.empty())
    return G_SOURCE_CONTINUE;
  st->server_got += in;
  GError *error = nullptr;
  if (send_datagram(conn, "echo:" + in, 0, nullptr, &error) != 1) {
    st->error = error;
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

gboolean on_client_readable(GDatagramBased *conn, GIOCondition, gpointer data)
{
  auto *st = static_cast<AsyncState *>(data);
  std::string in;
  if (!take_datagram(st, conn, &in))
    return G_SOURCE_REMOVE;
  st->client_got += in;
  return st->client_got.empty() ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

// Iterates `context` until `done` or `seconds` pass.
template <typename Pred>
void iterate_until(GMainContext *context, Pred done, int seconds = 20)
{
  gint64 deadline = g_get_monotonic_time() + seconds * G_USEC_PER_SEC;
  for (int i = 0; i < 1000000 && !done() && g_get_monotonic_time() < deadline; i++) {
    // Wake up now and then so the deadline is checked.
    GSource *tick = g_timeout_source_new(100);
    g_source_set_dummy_callback(tick);
    g_source_attach(tick, context);
    g_main_context_iteration(context, TRUE);
    g_source_destroy(tick);
    g_source_unref(tick);
  }
  g_assert_true(done());
}

void test_async_one_thread()
{
  GMainContext *context = g_main_context_new();
  g_main_context_push_thread_default(context);
  {
    DtlsPair pair;
    AsyncState st;
    st.context = context;
    g_dtls_connection_handshake_async(G_DTLS_CONNECTION(pair.server), G_PRIORITY_DEFAULT, nullptr,
                                      on_handshake, &st);
    g_dtls_connection_handshake_async(G_DTLS_CONNECTION(pair.client), G_PRIORITY_DEFAULT, nullptr,
                                      on_handshake, &st);
    iterate_until(context, [&] { return st.handshakes_left == 0; });
    g_assert_no_error(st.error);
    g_assert_cmpint(g_dtls_connection_get_protocol_version(G_DTLS_CONNECTION(pair.client)), ==,
                    G_TLS_PROTOCOL_VERSION_DTLS_1_2);

    GSource *server_source = g_datagram_based_create_source(pair.server, G_IO_IN, nullptr);
    g_source_set_callback(server_source, G_SOURCE_FUNC(on_server_readable), &st, nullptr);
    g_source_attach(server_source, context);
    GSource *client_source = g_datagram_based_create_source(pair.client, G_IO_IN, nullptr);
    g_source_set_callback(client_source, G_SOURCE_FUNC(on_client_readable), &st, nullptr);
    g_source_attach(client_source, context);

    GError *error = nullptr;
    g_assert_cmpint(send_datagram(pair.client, "async ping", 0, nullptr, &error), ==, 1);
    g_assert_no_error(error);
    iterate_until(context, [&] { return !st.client_got.empty() || st.error; });
    g_assert_no_error(st.error);
    g_assert_cmpstr(st.server_got.c_str(), ==, "async ping");
    g_assert_cmpstr(st.client_got.c_str(), ==, "echo:async ping");
    g_source_destroy(server_source);
    g_source_unref(server_source);
    g_source_destroy(client_source);
    g_source_unref(client_source);
  }
  g_main_context_pop_thread_default(context);
  // Run what the connections left behind (source finalizers) before freeing.
  while (g_main_context_iteration(context, FALSE)) {
  }
  g_main_context_unref(context);
}

void test_properties()
{
  DtlsPair pair;
  set_protocols(pair.client, {"coap", "foo"});
  set_protocols(pair.server, {"bar", "coap"});
  // Our own properties, before the handshake.
  guint timeout = 0;
  gboolean cookies = FALSE;
  g_object_get(pair.client, "handshake-timeout", &timeout, nullptr);
  g_assert_cmpuint(timeout, ==, 60000);
  g_object_get(pair.server, "cookie-exchange", &cookies, nullptr);
  g_assert_true(cookies);

  Watchdog watchdog(20000);
  handshake_both_ok(pair.client, pair.server, watchdog.cancellable());

  GDtlsConnection *client = G_DTLS_CONNECTION(pair.client);
  GDtlsConnection *server = G_DTLS_CONNECTION(pair.server);
  for (GDtlsConnection *conn : {client, server}) {
    g_assert_cmpint(g_dtls_connection_get_protocol_version(conn), ==, G_TLS_PROTOCOL_VERSION_DTLS_1_2);
    const char *suite = g_dtls_connection_get_ciphersuite_name(conn);
    g_assert_nonnull(suite);
    g_assert_true(g_str_has_prefix(suite, "TLS_"));
    g_assert_cmpstr(g_dtls_connection_get_negotiated_protocol(conn), ==, "coap");
    guint mtu = 0;
    g_object_get(conn, "mtu", &mtu, nullptr);
    g_assert_cmpuint(mtu, >=, 256);
  }
  g_assert_cmpstr(g_dtls_connection_get_ciphersuite_name(client), ==,
                  g_dtls_connection_get_ciphersuite_name(server));
  GTlsCertificate *peer = g_dtls_connection_get_peer_certificate(client);
  g_assert_nonnull(peer);
  g_assert_true(g_tls_certificate_is_same(peer, pair.cert));
  g_assert_cmpuint(g_dtls_connection_get_peer_certificate_errors(client), ==, 0);
  g_assert_null(g_dtls_connection_get_peer_certificate(server));  // no client certificate asked
  GTlsCertificate *base_prop = nullptr;
  g_object_get(client, "certificate", &base_prop, nullptr);
  g_assert_null(base_prop);
  GDatagramBased *base = nullptr;
  g_object_get(client, "base-socket", &base, nullptr);
  g_assert_true(base == G_DATAGRAM_BASED(pair.udp.client));
  g_object_unref(base);
}

// ---------------------------------------------------------------------------
// 2. GDatagramBased semantics

void test_receive_timeouts()
{
  DtlsPair pair;
  Watchdog watchdog(30000);
  GCancellable *c = watchdog.cancellable();
  handshake_both_ok(pair.client, pair.server, c);

  // 0: never blocks.
  std::string in;
  GError *error = nullptr;
  g_assert_false(receive_datagram(pair.client, &in, 0, c, &error));
  g_assert_error(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  g_clear_error(&error);
  g_assert_cmpuint(g_datagram_based_condition_check(pair.client, G_IO_IN) & G_IO_IN, ==, 0);

  // > 0: a timeout in microseconds.
  const gint64 timeout_us = 300 * 1000;
  gint64 start = g_get_monotonic_time();
  g_assert_false(receive_datagram(pair.client, &in, timeout_us, c, &error));
  g_assert_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error(&error);
  g_assert_cmpint(g_get_monotonic_time() - start, >=, timeout_us * 8 / 10);

  // condition_wait follows the same rule.
  g_assert_false(g_datagram_based_condition_wait(pair.client, G_IO_IN, 100 * 1000, c, &error));
  g_assert_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error(&error);

  // -1: blocks until a datagram comes (sent 200 ms later by another thread).
  std::thread sender([&] {
    g_usleep(200 * 1000);
    send_ok(pair.server, "late", c);
  });
  start = g_get_monotonic_time();
  g_assert_true(receive_datagram(pair.client, &in, -1, c, &error));
  g_assert_no_error(error);
  sender.join();
  g_assert_cmpstr(in.c_str(), ==, "late");
  g_assert_cmpint(g_get_monotonic_time() - start, >=, 100 * 1000);

  // A positive timeout returns data that is already there.
  send_ok(pair.server, "ready", c);
  g_assert_true(receive_datagram(pair.client, &in, 5 * G_USEC_PER_SEC, c, &error));
  g_assert_no_error(error);
  g_assert_cmpstr(in.c_str(), ==, "ready");
}

void test_send_too_large()
{
  // The client's datagrams go through a lossless GtgLossySocket that counts them.
  UdpPair udp;
  GtgLossySocket *counter = gtg_test::lossy_socket_new(udp.client, LossProfile{}, 1);
  GTlsDatabase *db = ca_database();
  GTlsCertificate *cert = server_certificate();
  GDatagramBased *client = new_client(G_DATAGRAM_BASED(counter), db);
  GDatagramBased *server = new_server(G_DATAGRAM_BASED(udp.server), cert);
  Watchdog watchdog(20000);
  GCancellable *c = watchdog.cancellable();
  handshake_both_ok(client, server, c);

  guint before = gtg_test::lossy_socket_stats(counter).delivered;
  std::string huge(20000, 'x');
  GError *error = nullptr;
  g_assert_cmpint(send_datagram(client, huge, -1, c, &error), ==, -1);
  g_assert_error(error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
  g_clear_error(&error);
  g_assert_cmpuint(gtg_test::lossy_socket_stats(counter).delivered, ==, before);
  std::string in;
  g_assert_false(receive_datagram(server, &in, 200 * 1000, c, &error));
  g_assert_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error(&error);

  // A payload that fits still goes, and is the next thing the server sees.
  send_ok(client, "small", c);
  g_assert_cmpstr(receive_ok(server, c).c_str(), ==, "small");

  // The largest payload is a little under the MTU (the record's overhead).
  guint mtu = 0;
  g_object_get(client, "mtu", &mtu, nullptr);
  gsize largest = 0;
  for (gsize size = mtu; size > 0 && largest == 0; size--) {
    gint n = send_datagram(client, std::string(size, 'y'), -1, c, &error);
    if (n == 1)
      largest = size;
    else
      g_assert_error(error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
    g_clear_error(&error);
  }
  g_test_message("mtu %u: largest payload %zu bytes (%s)", mtu, largest,
                 g_dtls_connection_get_ciphersuite_name(G_DTLS_CONNECTION(client)));
  g_assert_cmpuint(largest, >=, mtu - 100);
  g_assert_cmpuint(receive_ok(server, c).size(), ==, largest);
  g_object_unref(server);
  g_object_unref(client);
  g_object_unref(cert);
  g_object_unref(db);
  g_object_unref(counter);
}

void test_close_keeps_base_socket()
{
  DtlsPair pair;
  Watchdog watchdog(20000);
  GCancellable *c = watchdog.cancellable();
  handshake_both_ok(pair.client, pair.server, c);
  send_ok(pair.client, "before close", c);
  g_assert_cmpstr(receive_ok(pair.server, c).c_str(), ==, "before close");

  GError *error = nullptr;
  g_assert_true(g_dtls_connection_close(G_DTLS_CONNECTION(pair.client), c, &error));
  g_assert_no_error(error);

  // The server sees close_notify: end of stream (no message, or an empty one).
  char buf[256];
  GInputVector vector{buf, sizeof buf};
  GInputMessage message{nullptr, &vector, 1, 12345, 0, nullptr, nullptr};
  gint n = g_datagram_based_receive_messages(pair.server, &message, 1, 0, 5 * G_USEC_PER_SEC, c, &error);
  g_assert_no_error(error);
  g_test_message("after close_notify: %d message(s), %zu bytes", n, n == 1 ? message.bytes_received : 0);
  g_assert_cmpint(n, <=, 1);
  if (n == 1)
    g_assert_cmpuint(message.bytes_received, ==, 0);
  g_assert_true(g_dtls_connection_close(G_DTLS_CONNECTION(pair.server), c, &error));
  g_assert_no_error(error);

  // The UDP sockets are still the application's, open and usable.
  g_assert_false(g_socket_is_closed(pair.udp.client));
  g_assert_false(g_socket_is_closed(pair.udp.server));
  g_assert_cmpint(g_socket_send(pair.udp.client, "plain", 5, c, &error), ==, 5);
  g_assert_no_error(error);
  g_assert_true(g_socket_condition_timed_wait(pair.udp.server, G_IO_IN, 5 * G_USEC_PER_SEC, c, &error));
  g_assert_no_error(error);
  gssize got = g_socket_receive(pair.udp.server, buf, sizeof buf, c, &error);
  g_assert_no_error(error);
  g_assert_cmpint(got, ==, 5);
  g_assert_cmpmem(buf, 5, "plain", 5);
}

// Datagrams that are not valid records for the session: garbage, an empty
// datagram, a truncated record, a replayed record and a forged one. Each is
// dropped; the session keeps working.
void send_bad_datagrams(GSocket *from, GBytes *record, GSocketAddress *to, GCancellable *c)
{
  gsize size = 0;
  const auto *bytes = static_cast<const char *>(g_bytes_get_data(record, &size));
  g_assert_cmpuint(size, >, 30);
  std::string replayed(bytes, size);
  std::string forged = replayed;
  forged[size - 1] ^= 0x55;  // the authentication tag no longer matches
  std::string garbage;
  GRand *rand = g_rand_new_with_seed(42);
  for (int i = 0; i < 300; i++)
    garbage += static_cast<char>(g_rand_int_range(rand, 0, 256));
  g_rand_free(rand);
  const std::string datagrams[] = {garbage, std::string(), replayed.substr(0, 20), replayed, forged,
                                   std::string(1, '\x17')};
  for (const std::string &d : datagrams) {
    GError *error = nullptr;
    gssize n = to ? g_socket_send_to(from, to, d.data(), d.size(), c, &error)
                  : g_socket_send(from, d.data(), d.size(), c, &error);
    g_assert_no_error(error);
    g_assert_cmpint(n, ==, static_cast<gssize>(d.size()));
  }
}

// Nothing readable arrives within 300 ms, then `expected` does. It is sent
// up to 5 times: GnuTLS 3.7.9 also discards the valid datagram that follows a
// datagram shorter than a record (raw GnuTLS does the same), a loss like any
// other on UDP.
void expect_only(GDatagramBased *conn, const char *expected, GDatagramBased *sender, GCancellable *c)
{
  std::string in;
  GError *error = nullptr;
  g_assert_false(receive_datagram(conn, &in, 300 * 1000, c, &error));
  g_assert_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error(&error);
  int attempts = 0;
  bool got = false;
  for (; attempts < 5 && !got; attempts++) {
    send_ok(sender, expected, c);
    if (receive_datagram(conn, &in, 300 * 1000, c, &error))
      got = true;
    else
      g_clear_error(&error);
  }
  g_test_message("\"%s\" arrived after %d attempt(s)", expected, attempts);
  g_assert_true(got);
  g_assert_cmpstr(in.c_str(), ==, expected);
}

void test_bad_datagrams_dropped()
{
  UdpPair udp;
  GtgLossySocket *recorder = gtg_test::lossy_socket_new(udp.client, LossProfile{}, 1);
  GTlsDatabase *db = ca_database();
  GTlsCertificate *cert = server_certificate();
  GDatagramBased *client = new_client(G_DATAGRAM_BASED(recorder), db);
  GDatagramBased *server = new_server(G_DATAGRAM_BASED(udp.server), cert);
  Watchdog watchdog(20000);
  GCancellable *c = watchdog.cancellable();
  handshake_both_ok(client, server, c);
  send_ok(client, "first", c);
  g_assert_cmpstr(receive_ok(server, c).c_str(), ==, "first");

  GBytes *record = gtg_test::lossy_socket_last_delivered(recorder);
  send_bad_datagrams(udp.client, record, nullptr, c);
  expect_only(server, "second", client, c);
  // The same in the other direction: the client drops them too.
  send_bad_datagrams(udp.server, record, nullptr, c);
  expect_only(client, "third", server, c);
  g_bytes_unref(record);

  g_object_unref(server);
  g_object_unref(client);
  g_object_unref(cert);
  g_object_unref(db);
  g_object_unref(recorder);
}

// A server on an unconnected socket talks to its peer and ignores datagrams
// (garbage, and the peer's own records replayed) from any other address.
void test_other_address_ignored()
{
  GSocket *server_udp = udp_socket();
  GSocket *client_udp = udp_socket();
  GSocket *stranger = udp_socket();
  connect_to_port(client_udp, local_port(server_udp));
  GtgLossySocket *recorder = gtg_test::lossy_socket_new(client_udp, LossProfile{}, 1);
  GTlsDatabase *db = ca_database();
  GTlsCertificate *cert = server_certificate();
  GDatagramBased *client = new_client(G_DATAGRAM_BASED(recorder), db);
  GDatagramBased *server = new_server(G_DATAGRAM_BASED(server_udp), cert);
  Watchdog watchdog(20000);
  GCancellable *c = watchdog.cancellable();
  handshake_both_ok(client, server, c);
  send_ok(client, "first", c);
  g_assert_cmpstr(receive_ok(server, c).c_str(), ==, "first");
  send_ok(server, "reply", c);
  g_assert_cmpstr(receive_ok(client, c).c_str(), ==, "reply");

  GBytes *record = gtg_test::lossy_socket_last_delivered(recorder);
  GSocketAddress *server_address = g_socket_get_local_address(server_udp, nullptr);
  send_bad_datagrams(stranger, record, server_address, c);
  expect_only(server, "second", client, c);
  g_bytes_unref(record);
  g_object_unref(server_address);

  g_object_unref(server);
  g_object_unref(client);
  g_object_unref(cert);
  g_object_unref(db);
  g_object_unref(recorder);
  g_object_unref(stranger);
  g_object_unref(client_udp);
  g_object_unref(server_udp);
}

// The source of a DTLS connection takes a GClosure, as GIO's own sources do
// (g_source_set_closure, g_source_set_dummy_callback: language bindings, and
// any code layering a connection on a DTLS connection). Run in a child:
// without closure support GLib emits a critical, which G_DEBUG makes fatal.
void test_source_takes_closure()
{
  if (!g_test_subprocess()) {
    g_test_trap_subprocess(nullptr, 30 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
    if (!g_test_trap_has_passed()) {
      g_test_incomplete("engine bug: the GSource from g_datagram_based_create_source() on a DTLS "
                        "connection has no GSourceFuncs.closure_callback (tls/dtls_connection.cc, "
                        "datagram_source_funcs), so g_source_set_closure/_set_dummy_callback fail");
    }
    return;
  }
  g_log_set_always_fatal(static_cast<GLogLevelFlags>(G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING));
  DtlsPair pair;
  Watchdog watchdog(20000);
  handshake_both_ok(pair.client, pair.server, watchdog.cancellable());
  GSource *source = g_datagram_based_create_source(pair.client, G_IO_IN, nullptr);
  g_source_set_dummy_callback(source);
  g_source_unref(source);
}

// ---------------------------------------------------------------------------
// 3. Handshake failures and the cookie exchange

void test_silent_peer_times_out()
{
  UdpPair udp;  // nobody ever reads udp.server
  GTlsDatabase *db = ca_database();
  GDatagramBased *client = new_client(G_DATAGRAM_BASED(udp.client), db);
  g_object_set(client, "handshake-timeout", 3000u, nullptr);
  Watchdog watchdog(30000);
  gint64 start = g_get_monotonic_time();
  GError *error = nullptr;
  g_assert_false(g_dtls_connection_handshake(G_DTLS_CONNECTION(client), watchdog.cancellable(), &error));
  g_assert_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error(&error);
  g_assert_cmpint(g_get_monotonic_time() - start, >=, 2500 * 1000);
  g_object_unref(client);
  g_object_unref(db);
}

void test_untrusted_server_rejected()
{
  UdpPair udp;
  GTlsDatabase *db = ca_database();
  GTlsCertificate *stranger = certificate_from("self-signed.pem", "self-signed-key.pem");
  GDatagramBased *client = new_client(G_DATAGRAM_BASED(udp.client), db);
  GDatagramBased *server = new_server(G_DATAGRAM_BASED(udp.server), stranger);
  g_object_set(server, "handshake-timeout", 5000u, nullptr);
  Watchdog watchdog(30000);
  GCancellable *server_cancellable = g_cancellable_new();
  std::thread server_thread([&] {
    // Fails on the client's alert, or at the latest when cancelled below.
    g_dtls_connection_handshake(G_DTLS_CONNECTION(server), server_cancellable, nullptr);
  });
  GError *error = nullptr;
  g_assert_false(g_dtls_connection_handshake(G_DTLS_CONNECTION(client), watchdog.cancellable(), &error));
  g_cancellable_cancel(server_cancellable);
  server_thread.join();
  g_assert_error(error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE);
  g_clear_error(&error);
  g_object_unref(server_cancellable);
  g_object_unref(server);
  g_object_unref(client);
  g_object_unref(stranger);
  g_object_unref(db);
}

// The server's first datagram tells whether it asked for a cookie: a
// handshake record (type 22) carrying HelloVerifyRequest (3) or ServerHello (2).
void check_cookie_exchange(bool cookies)
{
  UdpPair udp;
  GtgLossySocket *server_base = gtg_test::lossy_socket_new(udp.server, LossProfile{}, 1);
  GTlsDatabase *db = ca_database();
  GTlsCertificate *cert = server_certificate();
  GDatagramBased *client = new_client(G_DATAGRAM_BASED(udp.client), db);
  GDatagramBased *server = new_server(G_DATAGRAM_BASED(server_base), cert);
  g_object_set(server, "cookie-exchange", cookies, nullptr);
  Watchdog watchdog(20000);
  handshake_both_ok(client, server, watchdog.cancellable());

  GBytes *first = gtg_test::lossy_socket_first_delivered(server_base);
  gsize size = 0;
  const auto *bytes = static_cast<const guint8 *>(g_bytes_get_data(first, &size));
  g_assert_cmpuint(size, >, 13);
  g_assert_cmpuint(bytes[0], ==, 22);
  g_assert_cmpuint(bytes[13], ==, cookies ? 3 : 2);
  g_bytes_unref(first);

  send_ok(client, "after cookies", watchdog.cancellable());
  g_assert_cmpstr(receive_ok(server, watchdog.cancellable()).c_str(), ==, "after cookies");
  g_object_unref(server);
  g_object_unref(client);
  g_object_unref(cert);
  g_object_unref(db);
  g_object_unref(server_base);
}

void test_cookies_on()
{
  check_cookie_exchange(true);
}

void test_cookies_off()
{
  check_cookie_exchange(false);
}

// ---------------------------------------------------------------------------
// 4. A lossy network

guint32 seed_for(guint32 fallback)
{
  const char *env = g_getenv("GTG_DTLS_SEED");
  return env ? static_cast<guint32>(g_ascii_strtoull(env, nullptr, 10)) : fallback;
}

// The payload of application message `seq`: recognisable, and long enough
// to span most of a record.
std::string payload_for(int seq)
{
  std::string p = "seq:" + std::to_string(seq) + ":";
  for (int i = 0; p.size() < 1000; i++)
    p += static_cast<char>('a' + (seq * 7 + i) % 26);
  return p;
}

// Handshake and `kMessages` messages, each resent until acknowledged, with
// both directions losing `loss` of their datagrams (and some duplicated,
// reordered and delayed).
void run_lossy(double loss, guint32 default_seed)
{
  constexpr int kMessages = 20;
  guint32 seed = seed_for(default_seed);
  g_test_message("loss %.0f%% each way, seeds %u (client) and %u (server)", loss * 100, seed, seed + 1);
  LossProfile profile;
  profile.drop = loss;
  profile.duplicate = 0.05;
  profile.reorder = 0.05;
  profile.delay = 0.05;
  profile.delay_ms = 30;
  UdpPair udp;
  GtgLossySocket *client_base = gtg_test::lossy_socket_new(udp.client, profile, seed);
  GtgLossySocket *server_base = gtg_test::lossy_socket_new(udp.server, profile, seed + 1);
  GTlsDatabase *db = ca_database();
  GTlsCertificate *cert = server_certificate();
  GDatagramBased *client = new_client(G_DATAGRAM_BASED(client_base), db);
  GDatagramBased *server = new_server(G_DATAGRAM_BASED(server_base), cert);
  g_object_set(client, "handshake-timeout", 60000u, nullptr);
  g_object_set(server, "handshake-timeout", 60000u, nullptr);

  Watchdog watchdog(150000);
  GCancellable *c = watchdog.cancellable();
  std::atomic<bool> client_done{false};
  GError *server_error = nullptr;
  std::set<int> server_seen;
  bool server_intact = true;
  std::thread server_thread([&] {
    if (!g_dtls_connection_handshake(G_DTLS_CONNECTION(server), c, &server_error))
      return;
    // Acknowledge every message (again if it comes again) until the client
    // is done; at most 100 s or 20000 datagrams.
    gint64 deadline = g_get_monotonic_time() + 100 * G_USEC_PER_SEC;
    for (int i = 0; i < 20000 && !client_done && g_get_monotonic_time() < deadline; i++) {
      std::string in;
      GError *error = nullptr;
      if (!receive_datagram(server, &in, 100 * 1000, c, &error)) {
        if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT)) {
          g_error_free(error);
          continue;
        }
        server_error = error;
        return;
      }
      int seq = -1;
      if (sscanf(in.c_str(), "seq:%d:", &seq) != 1 || in != payload_for(seq)) {
        server_intact = false;
        continue;
      }
      server_seen.insert(seq);
      send_datagram(server, "ack:" + std::to_string(seq), 0, c, nullptr);
    }
  });

  gint64 start = g_get_monotonic_time();
  GError *error = nullptr;
  bool handshake_ok = g_dtls_connection_handshake(G_DTLS_CONNECTION(client), c, &error);
  g_test_message("client handshake %s after %.1f s", handshake_ok ? "done" : "failed",
                 (g_get_monotonic_time() - start) / 1e6);
  int acked = 0;
  if (handshake_ok) {
    for (int seq = 0; seq < kMessages && !error; seq++) {
      bool got_ack = false;
      // Resend every 200 ms (at most 200 times) until the ack comes.
      for (int attempt = 0; attempt < 200 && !got_ack && !error; attempt++) {
        if (send_datagram(client, payload_for(seq), -1, c, &error) != 1)
          break;
        gint64 until = g_get_monotonic_time() + 200 * 1000;
        for (int r = 0; r < 100 && !got_ack; r++) {
          gint64 left = until - g_get_monotonic_time();
          if (left <= 0)
            break;
          std::string in;
          if (!receive_datagram(client, &in, left, c, &error)) {
            if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
              g_clear_error(&error);
            break;
          }
          got_ack = in == "ack:" + std::to_string(seq);
        }
      }
      if (got_ack)
        acked++;
      else
        break;
    }
  }
  client_done = true;
  server_thread.join();

  gtg_test::LossStats cs = gtg_test::lossy_socket_stats(client_base);
  gtg_test::LossStats ss = gtg_test::lossy_socket_stats(server_base);
  g_test_message("client sent %u datagrams (%u dropped, %u duplicated, %u reordered, %u delayed); "
                 "server sent %u (%u dropped, %u duplicated, %u reordered, %u delayed); %.1f s",
                 cs.sent, cs.dropped, cs.duplicated, cs.reordered, cs.delayed, ss.sent, ss.dropped,
                 ss.duplicated, ss.reordered, ss.delayed, (g_get_monotonic_time() - start) / 1e6);
  g_assert_no_error(error);
  g_assert_no_error(server_error);
  g_assert_true(handshake_ok);
  g_assert_cmpint(acked, ==, kMessages);
  g_assert_true(server_intact);
  g_assert_cmpuint(server_seen.size(), ==, kMessages);
  if (loss > 0)
    g_assert_cmpuint(cs.dropped + ss.dropped, >, 0);

  g_object_unref(server);
  g_object_unref(client);
  g_object_unref(cert);
  g_object_unref(db);
  g_object_unref(server_base);
  g_object_unref(client_base);
}

// The same on one thread: both ends on one main context, handshakes async,
// data driven by the connections' sources and a resend timer.
struct LossyAsync {
  GMainContext *context = nullptr;
  GDatagramBased *client = nullptr;
  GDatagramBased *server = nullptr;
  int handshakes_left = 2;
  GError *error = nullptr;
  int next_seq = 0;  // the message the client is sending
  std::set<int> server_seen;
  bool server_intact = true;
};

void on_lossy_handshake(GObject *source, GAsyncResult *result, gpointer data)
{
  auto *st = static_cast<LossyAsync *>(data);
  GError *error = nullptr;
  if (!g_dtls_connection_handshake_finish(G_DTLS_CONNECTION(source), result, &error)) {
    if (!st->error)
      st->error = error;
    else
      g_error_free(error);
  }
  st->handshakes_left--;
}

// Reads every datagram waiting on `conn` (timeout 0); false on an error.
template <typename OnDatagram>
bool drain(LossyAsync *st, GDatagramBased *conn, OnDatagram on_datagram)
{
  for (int i = 0; i < 100; i++) {
    std::string in;
    GError *error = nullptr;
    if (!receive_datagram(conn, &in, 0, nullptr, &error)) {
      if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
        g_error_free(error);
        return true;
      }
      if (!st->error)
        st->error = error;
      else
        g_error_free(error);
      return false;
    }
    on_datagram(in);
  }
  return true;
}

gboolean on_lossy_server_readable(GDatagramBased *conn, GIOCondition, gpointer data)
{
  auto *st = static_cast<LossyAsync *>(data);
  bool ok = drain(st, conn, [&](const std::string &in) {
    int seq = -1;
    if (sscanf(in.c_str(), "seq:%d:", &seq) != 1 || in != payload_for(seq)) {
      st->server_intact = false;
      return;
    }
    st->server_seen.insert(seq);
    send_datagram(conn, "ack:" + std::to_string(seq), 0, nullptr, nullptr);
  });
  return ok ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

gboolean on_lossy_client_readable(GDatagramBased *conn, GIOCondition, gpointer data)
{
  auto *st = static_cast<LossyAsync *>(data);
  bool ok = drain(st, conn, [&](const std::string &in) {
    if (in == "ack:" + std::to_string(st->next_seq)) {
      st->next_seq++;
      send_datagram(conn, payload_for(st->next_seq), 0, nullptr, nullptr);
    }
  });
  return ok ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

// Every 200 ms: send the current message again (it or its ack may be lost).
gboolean on_lossy_resend(gpointer data)
{
  auto *st = static_cast<LossyAsync *>(data);
  send_datagram(st->client, payload_for(st->next_seq), 0, nullptr, nullptr);
  return G_SOURCE_CONTINUE;
}

void test_lossy_async_20()
{
  constexpr int kMessages = 20;
  guint32 seed = seed_for(200);
  g_test_message("loss 20%% each way, one thread, seeds %u and %u", seed, seed + 1);
  LossProfile profile;
  profile.drop = 0.2;
  profile.duplicate = 0.05;
  profile.reorder = 0.05;
  profile.delay = 0.05;
  profile.delay_ms = 30;
  GMainContext *context = g_main_context_new();
  g_main_context_push_thread_default(context);
  {
    UdpPair udp;
    GtgLossySocket *client_base = gtg_test::lossy_socket_new(udp.client, profile, seed);
    GtgLossySocket *server_base = gtg_test::lossy_socket_new(udp.server, profile, seed + 1);
    GTlsDatabase *db = ca_database();
    GTlsCertificate *cert = server_certificate();
    LossyAsync st;
    st.context = context;
    st.client = new_client(G_DATAGRAM_BASED(client_base), db);
    st.server = new_server(G_DATAGRAM_BASED(server_base), cert);
    g_object_set(st.client, "handshake-timeout", 60000u, nullptr);
    g_object_set(st.server, "handshake-timeout", 60000u, nullptr);
    gint64 start = g_get_monotonic_time();
    g_dtls_connection_handshake_async(G_DTLS_CONNECTION(st.server), G_PRIORITY_DEFAULT, nullptr,
                                      on_lossy_handshake, &st);
    g_dtls_connection_handshake_async(G_DTLS_CONNECTION(st.client), G_PRIORITY_DEFAULT, nullptr,
                                      on_lossy_handshake, &st);
    // The server's handshake may finish first and the client's then still
    // needs the server to answer its retransmissions: the server starts
    // reading (which answers them) as soon as its own handshake is done.
    GSource *server_source = nullptr;
    iterate_until(context, [&] {
      if (!server_source && st.handshakes_left < 2 && !st.error &&
          g_dtls_connection_get_protocol_version(G_DTLS_CONNECTION(st.server)) != G_TLS_PROTOCOL_VERSION_UNKNOWN) {
        server_source = g_datagram_based_create_source(st.server, G_IO_IN, nullptr);
        g_source_set_callback(server_source, G_SOURCE_FUNC(on_lossy_server_readable), &st, nullptr);
        g_source_attach(server_source, context);
      }
      return st.handshakes_left == 0 || st.error;
    }, 90);
    g_assert_no_error(st.error);
    g_test_message("handshakes done after %.1f s", (g_get_monotonic_time() - start) / 1e6);
    if (!server_source) {
      server_source = g_datagram_based_create_source(st.server, G_IO_IN, nullptr);
      g_source_set_callback(server_source, G_SOURCE_FUNC(on_lossy_server_readable), &st, nullptr);
      g_source_attach(server_source, context);
    }
    GSource *client_source = g_datagram_based_create_source(st.client, G_IO_IN, nullptr);
    g_source_set_callback(client_source, G_SOURCE_FUNC(on_lossy_client_readable), &st, nullptr);
    g_source_attach(client_source, context);
    GSource *resend = g_timeout_source_new(200);
    g_source_set_callback(resend, on_lossy_resend, &st, nullptr);
    g_source_attach(resend, context);
    send_datagram(st.client, payload_for(0), 0, nullptr, nullptr);
    iterate_until(context, [&] { return st.next_seq >= kMessages || st.error; }, 60);
    g_test_message("%d messages acknowledged after %.1f s", st.next_seq,
                   (g_get_monotonic_time() - start) / 1e6);
    g_assert_no_error(st.error);
    g_assert_true(st.server_intact);
    g_assert_cmpuint(st.server_seen.size(), >=, kMessages);
    for (GSource *source : {server_source, client_source, resend}) {
      g_source_destroy(source);
      g_source_unref(source);
    }
    g_object_unref(st.server);
    g_object_unref(st.client);
    g_object_unref(cert);
    g_object_unref(db);
    g_object_unref(server_base);
    g_object_unref(client_base);
  }
  g_main_context_pop_thread_default(context);
  while (g_main_context_iteration(context, FALSE)) {
  }
  g_main_context_unref(context);
}

void test_lossy_10()
{
  run_lossy(0.10, 10);
}

void test_lossy_20()
{
  run_lossy(0.20, 20);
}

void test_lossy_30()
{
  run_lossy(0.30, 30);
}

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
template <typename Exchange>
void client_against_peer(guint16 port, PeerProcess &peer, Exchange exchange)
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
    set_protocols(client, {"coap"});
    g_object_set(client, "handshake-timeout", 10000u, nullptr);
    if (g_dtls_connection_handshake(G_DTLS_CONNECTION(client), watchdog.cancellable(), &error)) {
      done = true;
      GDtlsConnection *conn = G_DTLS_CONNECTION(client);
      g_assert_cmpint(g_dtls_connection_get_protocol_version(conn), ==, G_TLS_PROTOCOL_VERSION_DTLS_1_2);
      g_assert_cmpuint(g_dtls_connection_get_peer_certificate_errors(conn), ==, 0);
      g_assert_cmpstr(g_dtls_connection_get_negotiated_protocol(conn), ==, "coap");
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
    g_assert_cmpstr(receive_ok(client, c).c_str(), ==, "ping over dtls\n");
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
    g_assert_cmpstr(receive_ok(client, c).c_str(), ==, "pong\n");
  });
}

// Our server on an unconnected UDP socket (cookie exchange on) for a client
// program: handshake offering "coap", send "pong\n"; the program must print it.
void serve_peer(GSocket *udp, PeerProcess &peer, const char *expected_output)
{
  GTlsCertificate *cert = server_certificate();
  GDatagramBased *server = new_server(G_DATAGRAM_BASED(udp), cert);
  set_protocols(server, {"coap"});
  Watchdog watchdog(30000);
  GError *error = nullptr;
  bool ok = g_dtls_connection_handshake(G_DTLS_CONNECTION(server), watchdog.cancellable(), &error);
  if (!ok)
    g_test_message("peer said:\n%s", peer.output().c_str());
  g_assert_no_error(error);
  GDtlsConnection *conn = G_DTLS_CONNECTION(server);
  g_assert_cmpint(g_dtls_connection_get_protocol_version(conn), ==, G_TLS_PROTOCOL_VERSION_DTLS_1_2);
  g_assert_cmpstr(g_dtls_connection_get_negotiated_protocol(conn), ==, "coap");
  send_ok(server, "pong\n", watchdog.cancellable());
  bool seen = peer.read_until(expected_output, watchdog.cancellable());
  g_test_message("peer said:\n%s", peer.output().c_str());
  g_assert_true(seen);
  g_dtls_connection_close(conn, nullptr, nullptr);
  g_object_unref(server);
  g_object_unref(cert);
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

// ---------------------------------------------------------------------------

struct TestDef {
  const char *name;
  void (*run)();
};

const TestDef kTests[] = {
    {"sync/two-threads", test_sync_two_threads},
    {"async/one-thread", test_async_one_thread},
    {"properties", test_properties},
    {"datagram/receive-timeouts", test_receive_timeouts},
    {"datagram/too-large", test_send_too_large},
    {"close/keeps-base-socket", test_close_keeps_base_socket},
    {"bad-input/dropped", test_bad_datagrams_dropped},
    {"bad-input/other-address", test_other_address_ignored},
    {"source/takes-closure", test_source_takes_closure},
    {"handshake/silent-peer-times-out", test_silent_peer_times_out},
    {"handshake/untrusted-server", test_untrusted_server_rejected},
    {"cookies/on", test_cookies_on},
    {"cookies/off", test_cookies_off},
    {"lossy/10", test_lossy_10},
    {"lossy/20", test_lossy_20},
    {"lossy/30", test_lossy_30},
    {"lossy/async-20", test_lossy_async_20},
    {"interop/gnutls-serv", test_interop_gnutls_serv},
    {"interop/openssl-s-server", test_interop_openssl_server},
    {"interop/gnutls-cli", test_interop_gnutls_cli},
    {"interop/openssl-s-client", test_interop_openssl_client},
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
