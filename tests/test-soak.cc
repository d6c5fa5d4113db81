// Load with nothing lost: many TLS connections at once in one process, each
// carrying random data both ways and checked with SHA-256 at the far end;
// then DTLS pairs over a network that drops 10% of the datagrams each way,
// with retransmission done by the test (stop-and-wait). At the end no byte is
// lost or changed, and the process has as many file descriptors open as when
// it started.
//
// Bounded in time: every wait has a deadline well inside the suite's timeout.
// GTG_SOAK_CONNECTIONS overrides the number of TLS connections (default
// 1000, fewer if the descriptor limit does not allow them).
#include "connection-harness.h"
#include "lossy-socket.h"

#include <dirent.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

using namespace conn_test;

namespace {

int open_fds()
{
  int n = 0;
  DIR *dir = opendir("/proc/self/fd");
  g_assert_nonnull(dir);
  while (struct dirent *e = readdir(dir))
    if (e->d_name[0] != '.')
      n++;
  closedir(dir);
  return n - 1;  // the directory itself
}

// Waits (iterating the main context) until the count settles back to `want`.
void expect_fds(int want)
{
  for (int i = 0; i < 100 && open_fds() != want; i++) {
    while (g_main_context_iteration(nullptr, FALSE)) {
    }
    g_usleep(10000);
  }
  g_assert_cmpint(open_fds(), ==, want);
}

std::string random_bytes(GRand *rand, size_t size)
{
  std::string out(size, '\0');
  for (char &c : out)
    c = static_cast<char>(g_rand_int_range(rand, 0, 256));
  return out;
}

std::string sha256(const std::string &data)
{
  char *hex = g_compute_checksum_for_data(G_CHECKSUM_SHA256,
                                          reinterpret_cast<const guchar *>(data.data()), data.size());
  std::string out(hex);
  g_free(hex);
  return out;
}

// ---------------------------------------------------------------------------
// TLS: many connections, both directions, one thread

constexpr size_t kTlsBytes = 16 * 1024;  // per direction per connection

// One end of a connection: writes its own random stream, reads and hashes
// the peer's.
struct Endpoint {
  GTlsConnection *conn = nullptr;  // (owned)
  std::string out;                 // what this end sends
  std::string out_digest;
  size_t sent = 0;
  GChecksum *in_sum = g_checksum_new(G_CHECKSUM_SHA256);
  size_t received = 0;
  char buf[4096];
  bool handshaken = false, write_done = false, read_done = false;
  GError *error = nullptr;
  Endpoint *peer = nullptr;
  GRand *chunks = nullptr;  // (unowned) chunk sizes

  ~Endpoint()
  {
    g_checksum_free(in_sum);
    g_clear_error(&error);
    g_clear_object(&conn);
  }

  void fail(GError *e)
  {
    if (!error)
      error = e;
    else
      g_error_free(e);
    write_done = read_done = true;
  }

  void start_write()
  {
    if (sent == out.size()) {
      write_done = true;
      return;
    }
    size_t n = std::min(out.size() - sent, size_t(g_rand_int_range(chunks, 1, 6000)));
    g_output_stream_write_async(g_io_stream_get_output_stream(G_IO_STREAM(conn)), out.data() + sent,
                                n, G_PRIORITY_DEFAULT, nullptr, &Endpoint::on_written, this);
  }
  static void on_written(GObject *source, GAsyncResult *result, gpointer data)
  {
    auto *self = static_cast<Endpoint *>(data);
    GError *e = nullptr;
    gssize n = g_output_stream_write_finish(G_OUTPUT_STREAM(source), result, &e);
    if (n <= 0)
      return self->fail(e ? e : g_error_new_literal(G_IO_ERROR, G_IO_ERROR_FAILED, "wrote 0"));
    self->sent += size_t(n);
    self->start_write();
  }

  void start_read()
  {
    if (received == kTlsBytes) {
      read_done = true;
      return;
    }
    g_input_stream_read_async(g_io_stream_get_input_stream(G_IO_STREAM(conn)), buf,
                              std::min(sizeof buf, kTlsBytes - received), G_PRIORITY_DEFAULT,
                              nullptr, &Endpoint::on_read, this);
  }
  static void on_read(GObject *source, GAsyncResult *result, gpointer data)
  {
    auto *self = static_cast<Endpoint *>(data);
    GError *e = nullptr;
    gssize n = g_input_stream_read_finish(G_INPUT_STREAM(source), result, &e);
    if (n <= 0)
      return self->fail(e ? e : g_error_new_literal(G_IO_ERROR, G_IO_ERROR_FAILED, "early EOF"));
    g_checksum_update(self->in_sum, reinterpret_cast<const guchar *>(self->buf), n);
    self->received += size_t(n);
    self->start_read();
  }

  static void on_handshake(GObject *source, GAsyncResult *result, gpointer data)
  {
    auto *self = static_cast<Endpoint *>(data);
    GError *e = nullptr;
    if (!g_tls_connection_handshake_finish(G_TLS_CONNECTION(source), result, &e))
      return self->fail(e);
    self->handshaken = true;
    self->start_read();
    self->start_write();
  }

  bool done() const { return write_done && read_done; }
};

void raise_fd_limit()
{
  rlimit l{};
  g_assert_cmpint(getrlimit(RLIMIT_NOFILE, &l), ==, 0);
  l.rlim_cur = l.rlim_max;
  setrlimit(RLIMIT_NOFILE, &l);
}

void test_tls_many_connections()
{
  raise_fd_limit();
  rlimit l{};
  getrlimit(RLIMIT_NOFILE, &l);
  int fds_before = open_fds();

  unsigned wanted = 1000;
  if (const char *env = g_getenv("GTG_SOAK_CONNECTIONS"))
    wanted = unsigned(atoi(env));
  // Two sockets per connection, and room for everything else.
  rlim_t room = l.rlim_cur > rlim_t(fds_before) + 64 ? l.rlim_cur - fds_before - 64 : 0;
  unsigned count = unsigned(std::min<rlim_t>(wanted, room / 2));
  g_assert_cmpuint(count, >, 0);
  g_test_message("%u TLS connections (descriptor limit %lu)", count, (unsigned long)l.rlim_cur);

  auto *listener_owner = new Listener();
  Listener &listener = *listener_owner;
  GTlsDatabase *db = ca_database();
  GTlsCertificate *cert = server_certificate();
  GRand *rand = g_rand_new_with_seed(20261122);
  std::vector<Endpoint> clients(count), servers(count);
  gint64 start = g_get_monotonic_time();
  for (unsigned i = 0; i < count; i++) {
    GIOStream *client_base = connect_loopback(listener.port);
    GIOStream *server_base = listener.accept();
    GSocketConnectable *identity = localhost_identity(listener.port);
    clients[i].conn = new_client(client_base, identity, db);
    servers[i].conn = new_server(server_base, cert);
    g_object_unref(identity);
    g_object_unref(client_base);
    g_object_unref(server_base);
    for (Endpoint *e : {&clients[i], &servers[i]}) {
      e->out = random_bytes(rand, kTlsBytes);
      e->out_digest = sha256(e->out);
      e->chunks = rand;
    }
    clients[i].peer = &servers[i];
    servers[i].peer = &clients[i];
  }
  for (unsigned i = 0; i < count; i++) {
    g_tls_connection_handshake_async(servers[i].conn, G_PRIORITY_DEFAULT, nullptr,
                                     &Endpoint::on_handshake, &servers[i]);
    g_tls_connection_handshake_async(clients[i].conn, G_PRIORITY_DEFAULT, nullptr,
                                     &Endpoint::on_handshake, &clients[i]);
  }
  auto all_done = [&] {
    for (unsigned i = 0; i < count; i++)
      if (!clients[i].done() || !servers[i].done())
        return false;
    return true;
  };
  bool finished = iterate_until(all_done, 100000);
  double seconds = double(g_get_monotonic_time() - start) / G_USEC_PER_SEC;

  unsigned failed = 0, corrupted = 0, unfinished = 0;
  size_t bytes = 0;
  for (std::vector<Endpoint> *side : {&clients, &servers}) {
    for (Endpoint &e : *side) {
      if (e.error) {
        if (failed++ < 5)
          g_test_message("connection failed: %s", e.error->message);
        continue;
      }
      if (!e.done()) {
        unfinished++;
        continue;
      }
      bytes += e.received;
      if (e.received != kTlsBytes || e.peer->out_digest != g_checksum_get_string(e.in_sum))
        corrupted++;
    }
  }
  g_test_message("%u connections, %zu bytes checked in %.1f s; %u failed, %u corrupted, "
                 "%u unfinished",
                 count, bytes, seconds, failed, corrupted, unfinished);
  g_assert_true(finished);
  g_assert_cmpuint(failed, ==, 0);
  g_assert_cmpuint(corrupted, ==, 0);
  g_assert_cmpuint(bytes, ==, size_t(count) * 2 * kTlsBytes);

  for (unsigned i = 0; i < count; i++) {
    close_stream(G_IO_STREAM(clients[i].conn));
    close_stream(G_IO_STREAM(servers[i].conn));
  }
  clients.clear();
  servers.clear();
  g_rand_free(rand);
  g_object_unref(cert);
  g_object_unref(db);
  delete listener_owner;
  expect_fds(fds_before);
}

// ---------------------------------------------------------------------------
// DTLS: lossy pairs, stop-and-wait retransmission by the application

constexpr unsigned kDtlsPairs = 8;
constexpr unsigned kDtlsMessages = 100;
constexpr size_t kDtlsChunk = 1000;
constexpr gint64 kRetransmitUs = 40 * 1000;

// A message is its 4-byte sequence number then its chunk.
std::string message(guint32 seq, const std::string &chunk)
{
  std::string m(4, '\0');
  for (int i = 0; i < 4; i++)
    m[size_t(i)] = static_cast<char>(seq >> (24 - 8 * i));
  return m + chunk;
}

guint32 message_seq(const std::string &m)
{
  guint32 seq = 0;
  for (size_t i = 0; i < 4 && i < m.size(); i++)
    seq = (seq << 8) | guint8(m[i]);
  return seq;
}

bool send_one(GDatagramBased *conn, const std::string &data, GError **error)
{
  GOutputVector v{data.data(), data.size()};
  GOutputMessage m{nullptr, &v, 1, 0, nullptr, 0};
  return g_datagram_based_send_messages(conn, &m, 1, 0, -1, nullptr, error) == 1;
}

// Receives one datagram, waiting at most `timeout_us`: false on timeout.
bool receive_one(GDatagramBased *conn, gint64 timeout_us, std::string *out, GError **error)
{
  char buf[2048];
  GInputVector v{buf, sizeof buf};
  GInputMessage m{nullptr, &v, 1, 0, 0, nullptr, nullptr};
  GError *local = nullptr;
  if (g_datagram_based_receive_messages(conn, &m, 1, 0, timeout_us, nullptr, &local) != 1) {
    if (g_error_matches(local, G_IO_ERROR, G_IO_ERROR_TIMED_OUT) ||
        g_error_matches(local, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
      g_error_free(local);
      return false;
    }
    g_propagate_error(error, local);
    return false;
  }
  out->assign(buf, m.bytes_received);
  return true;
}

struct DtlsSide {
  std::vector<std::string> chunks;  // what this side sends, per sequence number
  std::string received;             // the peer's chunks, in order
  GError *error = nullptr;
  bool ok = false;
  guint retransmissions = 0;
};

GSocket *udp_socket()
{
  GError *error = nullptr;
  GSocket *s =
      g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &error);
  g_assert_no_error(error);
  GInetAddress *lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
  GSocketAddress *any = g_inet_socket_address_new(lo, 0);
  g_assert_true(g_socket_bind(s, any, FALSE, &error));
  g_object_unref(any);
  g_object_unref(lo);
  return s;
}

void connect_udp(GSocket *s, GSocket *to)
{
  GSocketAddress *address = g_socket_get_local_address(to, nullptr);
  GError *error = nullptr;
  g_assert_true(g_socket_connect(s, address, nullptr, &error));
  g_object_unref(address);
}

// The client: for each sequence number, sends its chunk until the server's
// chunk with the same number comes back.
void dtls_client(GDatagramBased *conn, DtlsSide *side, gint64 deadline)
{
  if (!g_dtls_connection_handshake(G_DTLS_CONNECTION(conn), nullptr, &side->error))
    return;
  for (guint32 seq = 0; seq < side->chunks.size(); seq++) {
    const std::string m = message(seq, side->chunks[seq]);
    bool answered = false;
    for (unsigned attempt = 0; !answered; attempt++) {
      if (g_get_monotonic_time() > deadline) {
        g_set_error(&side->error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "message %u unanswered", seq);
        return;
      }
      if (attempt)
        side->retransmissions++;
      if (!send_one(conn, m, &side->error))
        return;
      gint64 until = g_get_monotonic_time() + kRetransmitUs;
      std::string reply;
      while (!answered && g_get_monotonic_time() < until) {
        if (!receive_one(conn, until - g_get_monotonic_time(), &reply, &side->error)) {
          if (side->error)
            return;
          break;
        }
        if (message_seq(reply) == seq) {
          side->received += reply.substr(4);
          answered = true;
        }
      }
    }
  }
  side->ok = true;
}

// The server: answers each new chunk with its own of the same number, and
// each repeated one (its answer was lost) with the same answer again; stops
// when the client has been quiet for a while after the last one.
void dtls_server(GDatagramBased *conn, DtlsSide *side, gint64 deadline)
{
  if (!g_dtls_connection_handshake(G_DTLS_CONNECTION(conn), nullptr, &side->error))
    return;
  guint32 expected = 0;
  const guint32 total = guint32(side->chunks.size());
  while (g_get_monotonic_time() < deadline) {
    std::string m;
    gint64 wait = expected == total ? 10 * kRetransmitUs : 500 * 1000;
    if (!receive_one(conn, wait, &m, &side->error)) {
      if (side->error)
        return;
      if (expected == total)
        break;  // quiet after the last message: the client has its answer
      continue;
    }
    guint32 seq = message_seq(m);
    if (m.size() < 4 || seq > expected || seq >= total)
      continue;  // not a message of this protocol
    if (seq == expected) {
      side->received += m.substr(4);
      expected++;
    } else {
      side->retransmissions++;
    }
    if (!send_one(conn, message(seq, side->chunks[seq]), &side->error))
      return;
  }
  side->ok = expected == total;
  if (!side->ok && !side->error)
    g_set_error(&side->error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "got %u of %u", expected, total);
}

void test_dtls_lossy_pairs()
{
  int fds_before = open_fds();
  GTlsDatabase *db = ca_database();
  GTlsCertificate *cert = server_certificate();
  GRand *rand = g_rand_new_with_seed(10);
  gtg_test::LossProfile profile;
  profile.drop = 0.10;

  struct Pair {
    GSocket *client_udp, *server_udp;
    GtgLossySocket *client_lossy, *server_lossy;
    GDatagramBased *client, *server;
    DtlsSide client_side, server_side;
  };
  std::vector<Pair> pairs(kDtlsPairs);
  for (unsigned i = 0; i < kDtlsPairs; i++) {
    Pair &p = pairs[i];
    p.client_udp = udp_socket();
    p.server_udp = udp_socket();
    connect_udp(p.client_udp, p.server_udp);
    connect_udp(p.server_udp, p.client_udp);
    p.client_lossy = gtg_test::lossy_socket_new(p.client_udp, profile, 1000 + 2 * i);
    p.server_lossy = gtg_test::lossy_socket_new(p.server_udp, profile, 1001 + 2 * i);
    GError *error = nullptr;
    GSocketConnectable *identity = g_network_address_new("localhost", 443);
    p.client = g_dtls_client_connection_new(G_DATAGRAM_BASED(p.client_lossy), identity, &error);
    g_assert_no_error(error);
    g_dtls_connection_set_database(G_DTLS_CONNECTION(p.client), db);
    g_object_unref(identity);
    p.server = g_dtls_server_connection_new(G_DATAGRAM_BASED(p.server_lossy), cert, &error);
    g_assert_no_error(error);
    for (unsigned k = 0; k < kDtlsMessages; k++) {
      p.client_side.chunks.push_back(random_bytes(rand, kDtlsChunk));
      p.server_side.chunks.push_back(random_bytes(rand, kDtlsChunk));
    }
  }

  gint64 start = g_get_monotonic_time();
  gint64 deadline = start + 60 * G_USEC_PER_SEC;
  std::vector<std::thread> threads;
  for (Pair &p : pairs) {
    threads.emplace_back(dtls_client, p.client, &p.client_side, deadline);
    threads.emplace_back(dtls_server, p.server, &p.server_side, deadline);
  }
  for (std::thread &t : threads)
    t.join();
  double seconds = double(g_get_monotonic_time() - start) / G_USEC_PER_SEC;

  guint dropped = 0, retransmissions = 0;
  for (Pair &p : pairs) {
    for (DtlsSide *s : {&p.client_side, &p.server_side}) {
      if (s->error)
        g_test_message("DTLS side failed: %s", s->error->message);
      g_assert_no_error(s->error);
      g_assert_true(s->ok);
      retransmissions += s->retransmissions;
    }
    std::string client_sent, server_sent;
    for (const std::string &c : p.client_side.chunks)
      client_sent += c;
    for (const std::string &c : p.server_side.chunks)
      server_sent += c;
    g_assert_cmpuint(p.server_side.received.size(), ==, client_sent.size());
    g_assert_true(sha256(p.server_side.received) == sha256(client_sent));
    g_assert_cmpuint(p.client_side.received.size(), ==, server_sent.size());
    g_assert_true(sha256(p.client_side.received) == sha256(server_sent));
    dropped += gtg_test::lossy_socket_stats(p.client_lossy).dropped +
               gtg_test::lossy_socket_stats(p.server_lossy).dropped;
  }
  g_test_message("%u DTLS pairs x %u messages x %zu bytes each way in %.1f s: %u datagrams "
                 "dropped, %u retransmissions or repeats, nothing lost",
                 kDtlsPairs, kDtlsMessages, kDtlsChunk, seconds, dropped, retransmissions);
  g_assert_cmpuint(dropped, >, 0);

  for (Pair &p : pairs) {
    // close_notify may be dropped too; closing must not fail either way.
    (void)g_dtls_connection_close(G_DTLS_CONNECTION(p.client), nullptr, nullptr);
    (void)g_dtls_connection_close(G_DTLS_CONNECTION(p.server), nullptr, nullptr);
    g_object_unref(p.client);
    g_object_unref(p.server);
    g_object_unref(p.client_lossy);
    g_object_unref(p.server_lossy);
    g_socket_close(p.client_udp, nullptr);
    g_socket_close(p.server_udp, nullptr);
    g_object_unref(p.client_udp);
    g_object_unref(p.server_udp);
  }
  g_rand_free(rand);
  g_object_unref(cert);
  g_object_unref(db);
  expect_fds(fds_before);
}

}  // namespace

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, nullptr);
  // Open what GLib and GnuTLS open once per process (the main context's
  // wakeup descriptor, the backend) before any test counts descriptors.
  {
    Listener listener;
    GTlsDatabase *db = ca_database();
    GTlsCertificate *cert = server_certificate();
    {
      Pair pair(listener, db, cert);
      handshake_both_ok(pair);
    }
    g_object_unref(cert);
    g_object_unref(db);
  }
  g_test_add_func("/soak/tls/many-connections", test_tls_many_connections);
  g_test_add_func("/soak/dtls/lossy-10", test_dtls_lossy_pairs);
  return g_test_run();
}
