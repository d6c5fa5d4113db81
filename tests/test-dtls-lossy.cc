// DTLS over a lossy network: both directions lose 10, 20 or 30% of their
// datagrams (and some are duplicated, reordered and delayed) through
// GtgLossySocket (lossy-socket.h). The handshake must complete with
// `handshake-timeout` raised to 60 s, and application messages, each resent
// by the test until acknowledged, must arrive intact. Sync with the server
// in a thread of its own, and async with both ends on one main context.
// Then the `retransmissions` property and the debug lines of the
// retransmission timer: a lost first flight is retransmitted and counted,
// and a handshake nobody answers times out with a line saying so.
//
// The seeds are printed; GTG_DTLS_SEED=N replays a run with seed N (the
// server's is N + 1). Every wait is bounded.
#include "dtls-harness.h"
#include "lossy-socket.h"

#include <gio/gio.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace gtg_test;

using gtg_test::LossProfile;

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
  guint client_retransmissions = 0;
  guint server_retransmissions = 0;
  g_object_get(client, "retransmissions", &client_retransmissions, nullptr);
  g_object_get(server, "retransmissions", &server_retransmissions, nullptr);
  g_test_message("retransmitted flights: client %u, server %u", client_retransmissions,
                 server_retransmissions);
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
    // One side's handshake may finish first (the server's in a full
    // handshake, the client's in a resumed one: the client resumes a session
    // an earlier test cached) while the other still needs it to answer its
    // retransmissions: each side starts reading (which answers them) as soon
    // as its own handshake is done, as an application does.
    GSource *server_source = nullptr;
    GSource *client_source = nullptr;
    auto done = [](GDatagramBased *conn) {
      return g_dtls_connection_get_protocol_version(G_DTLS_CONNECTION(conn)) != G_TLS_PROTOCOL_VERSION_UNKNOWN;
    };
    iterate_until(context, [&] {
      if (!server_source && st.handshakes_left < 2 && !st.error && done(st.server)) {
        server_source = g_datagram_based_create_source(st.server, G_IO_IN, nullptr);
        g_source_set_callback(server_source, G_SOURCE_FUNC(on_lossy_server_readable), &st, nullptr);
        g_source_attach(server_source, context);
      }
      if (!client_source && st.handshakes_left < 2 && !st.error && done(st.client)) {
        client_source = g_datagram_based_create_source(st.client, G_IO_IN, nullptr);
        g_source_set_callback(client_source, G_SOURCE_FUNC(on_lossy_client_readable), &st, nullptr);
        g_source_attach(client_source, context);
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
    if (!client_source) {
      client_source = g_datagram_based_create_source(st.client, G_IO_IN, nullptr);
      g_source_set_callback(client_source, G_SOURCE_FUNC(on_lossy_client_readable), &st, nullptr);
      g_source_attach(client_source, context);
    }
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
// 5. Retransmissions: the property and the debug lines

// The messages of the module's log domain, captured while a LogCapture
// lives. A log writer sees debug messages whether or not G_MESSAGES_DEBUG
// lets GLib print them; connections log from more than one thread.
std::mutex log_mutex;
std::vector<std::string> *log_lines = nullptr;  // guarded by log_mutex

GLogWriterOutput capture_writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields,
                                gpointer data)
{
  const char *domain = nullptr;
  const char *message = nullptr;
  for (gsize i = 0; i < n_fields; i++) {
    if (strcmp(fields[i].key, "GLIB_DOMAIN") == 0)
      domain = static_cast<const char *>(fields[i].value);
    else if (strcmp(fields[i].key, "MESSAGE") == 0)
      message = static_cast<const char *>(fields[i].value);
  }
  if (domain && message && strcmp(domain, "GioTlsGnutls") == 0) {
    std::lock_guard lock(log_mutex);
    if (log_lines)
      log_lines->push_back(message);
  }
  return g_log_writer_default(level, fields, n_fields, data);
}

class LogCapture {
public:
  LogCapture()
  {
    std::lock_guard lock(log_mutex);
    log_lines = &lines_;
  }
  ~LogCapture()
  {
    std::lock_guard lock(log_mutex);
    log_lines = nullptr;
  }
  LogCapture(const LogCapture &) = delete;
  LogCapture &operator=(const LogCapture &) = delete;

  // The captured lines that contain `text`.
  std::vector<std::string> matching(const char *text)
  {
    std::lock_guard lock(log_mutex);
    std::vector<std::string> found;
    for (const std::string &line : lines_)
      if (line.find(text) != std::string::npos)
        found.push_back(line);
    return found;
  }

private:
  std::vector<std::string> lines_;  // guarded by log_mutex
};

constexpr const char *kRetransmittedLine = "retransmitted a handshake flight";

// Asserts that every retransmission line names its connection and the new
// timer, and returns how many there are.
guint count_retransmission_lines(LogCapture &log)
{
  std::vector<std::string> lines = log.matching(kRetransmittedLine);
  for (const std::string &line : lines) {
    g_test_message("%s", line.c_str());
    g_assert_true(g_str_has_prefix(line.c_str(), "Connection "));
    g_assert_nonnull(strstr(line.c_str(), "next retransmission in "));
  }
  return static_cast<guint>(lines.size());
}

guint retransmissions_of(GDatagramBased *conn)
{
  guint n = G_MAXUINT;
  g_object_get(conn, "retransmissions", &n, nullptr);
  return n;
}

// The first ClientHello (handshake record, epoch 0, type 1) that goes out is
// lost: the client's first flight.
std::atomic<bool> client_hello_dropped{false};

bool drop_first_client_hello(const guint8 *data, gsize size)
{
  bool client_hello = size > 13 && data[0] == 22 && data[3] == 0 && data[4] == 0 && data[13] == 1;
  return client_hello && !client_hello_dropped.exchange(true);
}

// The client's first flight is lost: its retransmission timer expires and it
// sends the ClientHello again. That is counted (once, however many
// datagrams), and logged; the server, whose flights all arrive, retransmits
// nothing. The cookie exchange is logged on the server side.
void test_retransmission_of_lost_first_flight()
{
  LogCapture log;
  client_hello_dropped = false;
  UdpPair udp;
  LossProfile lose_first_hello;
  lose_first_hello.drop_if = drop_first_client_hello;
  GtgLossySocket *client_base = gtg_test::lossy_socket_new(udp.client, lose_first_hello, 1);
  GTlsDatabase *db = ca_database();
  GTlsCertificate *cert = server_certificate();
  GDatagramBased *client = new_client(G_DATAGRAM_BASED(client_base), db);
  GDatagramBased *server = new_server(G_DATAGRAM_BASED(udp.server), cert);
  g_assert_cmpuint(retransmissions_of(client), ==, 0);
  {
    Watchdog watchdog(30000);
    handshake_both_ok(client, server, watchdog.cancellable());
  }
  gtg_test::LossStats stats = gtg_test::lossy_socket_stats(client_base);
  guint by_client = retransmissions_of(client);
  guint by_server = retransmissions_of(server);
  g_test_message("client sent %u datagrams (%u dropped); retransmitted flights: client %u, server %u",
                 stats.sent, stats.dropped, by_client, by_server);
  g_assert_cmpuint(stats.dropped, ==, 1);
  g_assert_cmpuint(by_client, >=, 1);
  g_assert_cmpuint(count_retransmission_lines(log), ==, by_client + by_server);
  g_assert_cmpuint(log.matching("sent a HelloVerifyRequest").size(), >=, 1);
  g_assert_cmpuint(log.matching("accepted a ClientHello with a valid cookie").size(), ==, 1);

  g_object_unref(server);
  g_object_unref(client);
  g_object_unref(cert);
  g_object_unref(db);
  g_object_unref(client_base);
}

// Nobody answers: every flight is lost. The client retransmits on its timer
// (after 1 s, then 2 s more) until `handshake-timeout` (2.5 s) ends the
// handshake, and says so in the log.
void test_retransmissions_until_timeout()
{
  LogCapture log;
  UdpPair udp;  // nobody reads udp.server
  GTlsDatabase *db = ca_database();
  GDatagramBased *client = new_client(G_DATAGRAM_BASED(udp.client), db);
  g_object_set(client, "handshake-timeout", 2500u, nullptr);
  GError *error = nullptr;
  gint64 start = g_get_monotonic_time();
  {
    Watchdog watchdog(30000);
    g_assert_false(g_dtls_connection_handshake(G_DTLS_CONNECTION(client), watchdog.cancellable(), &error));
  }
  // On time: GnuTLS alone would notice only at its next retransmission (3 s).
  gint64 elapsed_ms = (g_get_monotonic_time() - start) / 1000;
  g_test_message("timed out after %" G_GINT64_FORMAT " ms", elapsed_ms);
  g_assert_cmpint(elapsed_ms, >=, 2500);
  g_assert_cmpint(elapsed_ms, <, 2900);
  g_assert_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error(&error);
  guint retransmissions = retransmissions_of(client);
  g_test_message("retransmitted flights: %u", retransmissions);
  g_assert_cmpuint(retransmissions, >=, 1);
  g_assert_cmpuint(count_retransmission_lines(log), ==, retransmissions);
  std::vector<std::string> timed_out = log.matching("DTLS handshake timed out after");
  g_assert_cmpuint(timed_out.size(), ==, 1);
  g_test_message("%s", timed_out[0].c_str());
  g_assert_nonnull(strstr(timed_out[0].c_str(), "handshake-timeout 2500 ms"));
  g_object_unref(client);
  g_object_unref(db);
}

// ---------------------------------------------------------------------------

struct TestDef {
  const char *name;
  void (*run)();
};

const TestDef kTests[] = {
    {"lossy/10", test_lossy_10},
    {"lossy/20", test_lossy_20},
    {"lossy/30", test_lossy_30},
    {"lossy/async-20", test_lossy_async_20},
    {"retransmissions/lost-first-flight", test_retransmission_of_lost_first_flight},
    {"retransmissions/until-timeout", test_retransmissions_until_timeout},
};

}  // namespace

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, nullptr);
  g_log_set_writer_func(capture_writer, nullptr, nullptr);
  const char *name = g_getenv("GTG_BACKEND_NAME");
  g_assert_nonnull(name);
  std::string expected = std::string("GTlsBackend") + static_cast<char>(g_ascii_toupper(name[0])) + (name + 1);
  g_assert_cmpstr(G_OBJECT_TYPE_NAME(g_tls_backend_get_default()), ==, expected.c_str());
  g_assert_true(g_tls_backend_supports_dtls(g_tls_backend_get_default()));
  for (const TestDef &t : kTests)
    g_test_add_func((std::string("/dtls/") + t.name).c_str(), t.run);
  return g_test_run();
}
