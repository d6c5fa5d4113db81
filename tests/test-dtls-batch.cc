// send_messages and receive_messages with several messages per call: on a
// plain connected socket they are batched (sendmmsg with UDP segmentation
// offload, recvmmsg, UDP GRO); on any other base one call per message. Each
// test checks the contents and order of what arrives, end to end, and the
// count and errors GIO's contract asks for.
#include "dtls-harness.h"
#include "lossy-socket.h"

#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

using namespace gtg_test;

namespace {

// The payload of message `index` of a test: its number, then filler up to
// `size` bytes (at least the number's length).
std::string payload(unsigned index, size_t size)
{
  std::string text = "m" + std::to_string(index) + ":";
  while (text.size() < size)
    text.push_back(static_cast<char>('a' + (index + text.size()) % 26));
  return text;
}

// The index a received payload names, checking its filler; -1 if damaged.
long index_of(const std::string &text)
{
  if (text.size() < 3 || text[0] != 'm')
    return -1;
  size_t colon = text.find(':');
  if (colon == std::string::npos)
    return -1;
  long index = atol(text.c_str() + 1);
  return payload(static_cast<unsigned>(index), text.size()) == text ? index : -1;
}

// How a test sizes its messages.
enum class Sizes {
  Equal,         // 1200 bytes each: segmentation offload applies
  ShorterLast,   // 1200 bytes, the last 500: one offload run
  Mixed,         // varied sizes: plain datagrams
};

size_t size_for(Sizes sizes, unsigned index, unsigned count)
{
  switch (sizes) {
  case Sizes::Equal:
    return 1200;
  case Sizes::ShorterLast:
    return index + 1 == count ? 500 : 1200;
  case Sizes::Mixed:
    return 10 + (index * 397) % 1300;
  }
  return 1200;
}

// `count` outgoing messages numbered from `first`, each split into
// `vectors` GOutputVectors.
struct Outgoing {
  std::vector<std::string> texts;
  std::vector<std::vector<GOutputVector>> vectors;
  std::vector<GOutputMessage> messages;

  Outgoing(unsigned first, unsigned count, Sizes sizes, unsigned per_message = 1)
  {
    for (unsigned i = 0; i < count; i++)
      texts.push_back(payload(first + i, size_for(sizes, first + i, first + count)));
    vectors.resize(count);
    for (unsigned i = 0; i < count; i++) {
      const std::string &t = texts[i];
      size_t at = 0;
      for (unsigned v = 0; v < per_message; v++) {
        size_t take = v + 1 == per_message ? t.size() - at : std::min(t.size() - at, t.size() / per_message);
        vectors[i].push_back({t.data() + at, take});
        at += take;
      }
    }
    for (unsigned i = 0; i < count; i++)
      messages.push_back({nullptr, vectors[i].data(), per_message, 0, nullptr, 0});
  }
};

// Receives into up to `batch` messages per call (each in `per_message`
// vectors) until `want` have come, a call fails, or `ms` pass; returns the
// payloads in the order received.
std::vector<std::string> receive_batches(GDatagramBased *conn, size_t want, unsigned batch,
                                         GCancellable *cancellable, unsigned ms = 10000,
                                         unsigned per_message = 1)
{
  std::vector<std::string> got;
  std::vector<std::vector<char>> buffers(static_cast<size_t>(batch) * per_message,
                                         std::vector<char>(2048 / per_message + 1));
  gint64 deadline = g_get_monotonic_time() + ms * 1000;
  for (int calls = 0; calls < 100000 && got.size() < want && g_get_monotonic_time() < deadline; calls++) {
    std::vector<GInputVector> vectors;
    for (auto &b : buffers)
      vectors.push_back({b.data(), b.size()});
    std::vector<GInputMessage> messages;
    for (unsigned i = 0; i < batch; i++)
      messages.push_back({nullptr, &vectors[static_cast<size_t>(i) * per_message], per_message, 0, 0, nullptr, nullptr});
    GError *error = nullptr;
    gint64 left = std::max<gint64>(deadline - g_get_monotonic_time(), 1);
    gint n = g_datagram_based_receive_messages(conn, messages.data(), batch, 0, left, cancellable, &error);
    if (n < 0) {
      g_assert_true(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT) ||
                    g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED));
      g_error_free(error);
      break;
    }
    g_assert_cmpint(n, >, 0);
    g_assert_cmpint(n, <=, static_cast<gint>(batch));
    for (gint i = 0; i < n; i++) {
      std::string text;
      size_t left_bytes = messages[i].bytes_received;
      for (unsigned v = 0; v < per_message && left_bytes > 0; v++) {
        size_t take = std::min(left_bytes, vectors[static_cast<size_t>(i) * per_message + v].size);
        text.append(static_cast<char *>(vectors[static_cast<size_t>(i) * per_message + v].buffer), take);
        left_bytes -= take;
      }
      got.push_back(text);
    }
  }
  return got;
}

// Asserts that `got` is exactly messages first .. first + count - 1 in order.
void expect_all_in_order(const std::vector<std::string> &got, unsigned first, unsigned count)
{
  g_assert_cmpuint(got.size(), ==, count);
  for (unsigned i = 0; i < count; i++) {
    g_assert_cmpint(index_of(got[i]), ==, static_cast<long>(first + i));
  }
}

// Asserts that `got` holds intact messages in increasing order (a lossy
// path may drop some).
void expect_increasing(const std::vector<std::string> &got)
{
  long last = -1;
  for (const std::string &text : got) {
    long index = index_of(text);
    g_assert_cmpint(index, >, last);
    last = index;
  }
}

void set_buffer(GSocket *socket, int option, int bytes)
{
  int fd = g_socket_get_fd(socket);
  g_assert_cmpint(setsockopt(fd, SOL_SOCKET, option, &bytes, sizeof bytes), ==, 0);
}

// A batch of `count` messages over loopback UDP, sent in one blocking call
// while the server receives in batches of `batch`.
void check_loopback(unsigned count, Sizes sizes, unsigned per_message = 1, unsigned batch = 32)
{
  DtlsPair pair;
  Watchdog watchdog(60000);
  GCancellable *c = watchdog.cancellable();
  // Room for a whole test's datagrams, so that loopback drops none.
  set_buffer(pair.udp.server, SO_RCVBUF, 4 << 20);
  handshake_both_ok(pair.client, pair.server, c);
  Outgoing out(0, count, sizes, per_message);
  std::vector<std::string> got;
  std::thread receiver([&] { got = receive_batches(pair.server, count, batch, c, 20000, per_message); });
  GError *error = nullptr;
  gint sent = g_datagram_based_send_messages(pair.client, out.messages.data(), count, 0, -1, c, &error);
  g_assert_no_error(error);
  g_assert_cmpint(sent, ==, static_cast<gint>(count));
  for (unsigned i = 0; i < count; i++)
    g_assert_cmpuint(out.messages[i].bytes_sent, ==, out.texts[i].size());
  receiver.join();
  expect_all_in_order(got, 0, count);
}

void test_loopback_1() { check_loopback(1, Sizes::Equal); }
void test_loopback_2() { check_loopback(2, Sizes::Equal); }
void test_loopback_31() { check_loopback(31, Sizes::Equal); }
void test_loopback_32() { check_loopback(32, Sizes::Equal); }
void test_loopback_33() { check_loopback(33, Sizes::ShorterLast); }
void test_loopback_1000() { check_loopback(1000, Sizes::Equal, 1, 64); }
void test_loopback_mixed_33() { check_loopback(33, Sizes::Mixed); }
void test_loopback_mixed_1000() { check_loopback(1000, Sizes::Mixed, 1, 7); }
void test_loopback_vectors() { check_loopback(32, Sizes::Equal, 3); }
void test_loopback_vectors_mixed() { check_loopback(33, Sizes::Mixed, 2, 5); }

// Both directions at once, each connection used by a reader thread and a
// writer thread: a batch collects only its own thread's records, and a
// receive batch's ring is the reader's alone.
void test_two_threads_each()
{
  DtlsPair pair;
  Watchdog watchdog(60000);
  GCancellable *c = watchdog.cancellable();
  set_buffer(pair.udp.server, SO_RCVBUF, 4 << 20);
  set_buffer(pair.udp.client, SO_RCVBUF, 4 << 20);
  handshake_both_ok(pair.client, pair.server, c);
  const unsigned rounds = 10, per_call = 32;
  auto writer = [&](GDatagramBased *conn, unsigned first) {
    for (unsigned r = 0; r < rounds; r++) {
      Outgoing out(first + r * per_call, per_call, r % 2 ? Sizes::Mixed : Sizes::Equal);
      GError *error = nullptr;
      g_assert_cmpint(g_datagram_based_send_messages(conn, out.messages.data(), per_call, 0, -1, c, &error), ==,
                      static_cast<gint>(per_call));
      g_assert_no_error(error);
    }
  };
  std::vector<std::string> at_server, at_client;
  std::thread server_reader([&] { at_server = receive_batches(pair.server, rounds * per_call, 16, c, 20000); });
  std::thread client_reader([&] { at_client = receive_batches(pair.client, rounds * per_call, 16, c, 20000); });
  std::thread server_writer([&] { writer(pair.server, 5000); });
  writer(pair.client, 0);
  server_writer.join();
  server_reader.join();
  client_reader.join();
  expect_all_in_order(at_server, 0, rounds * per_call);
  expect_all_in_order(at_client, 5000, rounds * per_call);
}

// UDP GRO on the server's socket: the client's segmented batch arrives as
// one coalesced buffer, which the ring splits into its records again.
void test_gro()
{
  DtlsPair pair;
  Watchdog watchdog(30000);
  GCancellable *c = watchdog.cancellable();
  int on = 1;
  if (setsockopt(g_socket_get_fd(pair.udp.server), SOL_UDP, UDP_GRO, &on, sizeof on) != 0) {
    g_test_skip("UDP_GRO is not available");
    return;
  }
  handshake_both_ok(pair.client, pair.server, c);
  for (unsigned round = 0; round < 3; round++) {
    Outgoing out(round * 40, 40, Sizes::ShorterLast);
    GError *error = nullptr;
    g_assert_cmpint(g_datagram_based_send_messages(pair.client, out.messages.data(), 40, 0, -1, c, &error), ==, 40);
    g_assert_no_error(error);
    expect_all_in_order(receive_batches(pair.server, 40, 16, c), round * 40, 40);
  }
}

// A socket that refuses segmentation offload (without UDP checksums the
// kernel fails a UDP_SEGMENT send with EINVAL): the batch falls back to
// plain datagrams and every message still arrives, in order.
void test_segmentation_refused()
{
  DtlsPair pair;
  Watchdog watchdog(30000);
  GCancellable *c = watchdog.cancellable();
  set_buffer(pair.udp.server, SO_RCVBUF, 4 << 20);
  handshake_both_ok(pair.client, pair.server, c);
  int on = 1;
  g_assert_cmpint(setsockopt(g_socket_get_fd(pair.udp.client), SOL_SOCKET, SO_NO_CHECK, &on, sizeof on), ==, 0);
  for (unsigned round = 0; round < 2; round++) {
    Outgoing out(round * 32, 32, Sizes::Equal);
    GError *error = nullptr;
    g_assert_cmpint(g_datagram_based_send_messages(pair.client, out.messages.data(), 32, 0, -1, c, &error), ==, 32);
    g_assert_no_error(error);
    expect_all_in_order(receive_batches(pair.server, 32, 32, c), round * 32, 32);
  }
}

// Corrupted and replayed datagrams among good ones in one receive batch
// are dropped; the good ones arrive, in order.
void test_bad_datagrams_in_batch()
{
  DtlsPair pair;
  Watchdog watchdog(30000);
  GCancellable *c = watchdog.cancellable();
  handshake_both_ok(pair.client, pair.server, c);
  // A record of the client's that the server's session has not seen yet,
  // taken off the server's socket raw.
  send_ok(pair.client, payload(100, 300), c);
  char raw[2048];
  GError *error = nullptr;
  g_assert_true(g_socket_condition_timed_wait(pair.udp.server, G_IO_IN, 5000000, c, &error));
  g_assert_no_error(error);
  gssize n = g_socket_receive(pair.udp.server, raw, sizeof raw, c, &error);
  g_assert_no_error(error);
  g_assert_cmpint(n, >, 13);
  std::string record(raw, static_cast<size_t>(n));
  std::string flipped_tag = record;
  flipped_tag.back() = static_cast<char>(flipped_tag.back() ^ 0x5a);
  std::string flipped_body = record;
  flipped_body[20] = static_cast<char>(flipped_body[20] ^ 0x01);
  auto inject = [&](const std::string &bytes) {
    g_assert_cmpint(g_socket_send(pair.udp.client, bytes.data(), bytes.size(), c, &error), ==,
                    static_cast<gssize>(bytes.size()));
    g_assert_no_error(error);
  };
  // Queued at the server, in this order: 0, bad, 1, record (100), the same
  // again (a replay), bad, 2, 3.
  send_ok(pair.client, payload(0, 1000), c);
  inject(flipped_tag);
  send_ok(pair.client, payload(1, 1000), c);
  inject(record);
  inject(record);
  inject(flipped_body);
  Outgoing out(2, 2, Sizes::Equal);
  g_assert_cmpint(g_datagram_based_send_messages(pair.client, out.messages.data(), 2, 0, -1, c, &error), ==, 2);
  g_assert_no_error(error);
  std::vector<std::string> got = receive_batches(pair.server, 5, 16, c, 5000);
  g_assert_cmpuint(got.size(), ==, 5);
  const long expected[] = {0, 1, 100, 2, 3};
  for (size_t i = 0; i < 5; i++)
    g_assert_cmpint(index_of(got[i]), ==, expected[i]);
  // Nothing else (the replay and the bad ones were dropped).
  std::string extra;
  g_assert_false(receive_datagram(pair.server, &extra, 200000, c, &error));
  g_assert_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error(&error);
}

// A datagram socket pair that blocks instead of dropping (AF_UNIX): a full
// receiver makes the sender's batch stop in the middle.
struct UnixPair {
  GSocket *client = nullptr;  // (owned)
  GSocket *server = nullptr;  // (owned)
  UnixPair()
  {
    int fds[2];
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, fds), ==, 0);
    GError *error = nullptr;
    client = g_socket_new_from_fd(fds[0], &error);
    g_assert_no_error(error);
    server = g_socket_new_from_fd(fds[1], &error);
    g_assert_no_error(error);
  }
  ~UnixPair()
  {
    g_object_unref(client);
    g_object_unref(server);
  }
  UnixPair(const UnixPair &) = delete;
  UnixPair &operator=(const UnixPair &) = delete;
};

void test_would_block_mid_batch()
{
  UnixPair sockets;
  GTlsCertificate *cert = server_certificate();
  GTlsDatabase *db = ca_database();
  GDatagramBased *client = new_client(G_DATAGRAM_BASED(sockets.client), db);
  GDatagramBased *server = new_server(G_DATAGRAM_BASED(sockets.server), cert);
  Watchdog watchdog(60000);
  GCancellable *c = watchdog.cancellable();
  handshake_both_ok(client, server, c);
  // A small send buffer: the pair holds a few datagrams at most.
  set_buffer(sockets.client, SO_SNDBUF, 16384);
  const unsigned total = 1000;
  Outgoing out(0, total, Sizes::Mixed);
  GError *error = nullptr;
  gint first = g_datagram_based_send_messages(client, out.messages.data(), total, 0, 0, c, &error);
  g_assert_no_error(error);
  g_assert_cmpint(first, >, 0);
  g_assert_cmpint(first, <, static_cast<gint>(total));
  for (gint i = 0; i < first; i++)
    g_assert_cmpuint(out.messages[i].bytes_sent, ==, out.texts[i].size());
  // Still full: nothing goes, and the call says so.
  GOutputMessage *rest = out.messages.data() + first;
  g_assert_cmpint(g_datagram_based_send_messages(client, rest, total - first, 0, 0, c, &error), ==, -1);
  g_assert_error(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  g_clear_error(&error);
  g_assert_cmpint(g_datagram_based_send_messages(client, rest, total - first, 0, 50000, c, &error), ==, -1);
  g_assert_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error(&error);
  // The reader drains everything while the rest is sent, blocking.
  std::vector<std::string> got;
  std::thread receiver([&] { got = receive_batches(server, total, 32, c, 30000); });
  gint second = g_datagram_based_send_messages(client, rest, total - first, 0, -1, c, &error);
  g_assert_no_error(error);
  g_assert_cmpint(second, ==, static_cast<gint>(total - first));
  receiver.join();
  expect_all_in_order(got, 0, total);
  // An empty socket: a nonblocking batch receive would block.
  std::vector<char> buf(2048);
  GInputVector v{buf.data(), buf.size()};
  GInputMessage ms[4] = {{nullptr, &v, 1, 0, 0, nullptr, nullptr}, {nullptr, &v, 1, 0, 0, nullptr, nullptr},
                         {nullptr, &v, 1, 0, 0, nullptr, nullptr}, {nullptr, &v, 1, 0, 0, nullptr, nullptr}};
  g_assert_cmpint(g_datagram_based_receive_messages(server, ms, 4, 0, 0, c, &error), ==, -1);
  g_assert_error(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  g_clear_error(&error);
  g_object_unref(client);
  g_object_unref(server);
  g_object_unref(db);
  g_object_unref(cert);
}

// A message too large in the middle: the ones before it are sent and
// counted, and the next call, starting with it, fails.
void test_too_large_mid_batch()
{
  DtlsPair pair;
  Watchdog watchdog(30000);
  GCancellable *c = watchdog.cancellable();
  handshake_both_ok(pair.client, pair.server, c);
  Outgoing out(0, 4, Sizes::Equal);
  std::string big(20000, 'x');
  GOutputVector big_vector{big.data(), big.size()};
  out.messages[2] = {nullptr, &big_vector, 1, 0, nullptr, 0};
  GError *error = nullptr;
  g_assert_cmpint(g_datagram_based_send_messages(pair.client, out.messages.data(), 4, 0, -1, c, &error), ==, 2);
  g_assert_no_error(error);
  g_assert_cmpint(g_datagram_based_send_messages(pair.client, out.messages.data() + 2, 2, 0, -1, c, &error), ==, -1);
  g_assert_error(error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
  g_clear_error(&error);
  g_assert_cmpint(g_datagram_based_send_messages(pair.client, out.messages.data() + 3, 1, 0, -1, c, &error), ==, 1);
  g_assert_no_error(error);
  std::vector<std::string> got = receive_batches(pair.server, 3, 8, c, 5000);
  g_assert_cmpuint(got.size(), ==, 3);
  g_assert_cmpint(index_of(got[0]), ==, 0);
  g_assert_cmpint(index_of(got[1]), ==, 1);
  g_assert_cmpint(index_of(got[2]), ==, 3);
}

// A nonblocking batch before the handshake starts it in the background and
// would block, as a single message does; once it is done the batch goes.
void test_batch_before_handshake()
{
  DtlsPair pair;
  Watchdog watchdog(30000);
  GCancellable *c = watchdog.cancellable();
  GMainContext *context = g_main_context_new();
  g_main_context_push_thread_default(context);
  Outgoing out(0, 8, Sizes::Equal);
  GError *error = nullptr;
  g_assert_cmpint(g_datagram_based_send_messages(pair.client, out.messages.data(), 8, 0, 0, c, &error), ==, -1);
  g_assert_error(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  g_clear_error(&error);
  std::vector<std::string> got;
  std::thread server([&] { got = receive_batches(pair.server, 8, 8, c, 20000); });
  gint sent = -1;
  iterate_until(context, [&] {
    sent = g_datagram_based_send_messages(pair.client, out.messages.data(), 8, 0, 0, c, &error);
    if (sent < 0) {
      g_assert_error(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
      g_clear_error(&error);
    }
    return sent == 8;
  });
  server.join();
  expect_all_in_order(got, 0, 8);
  g_main_context_pop_thread_default(context);
  g_main_context_unref(context);
}

// Loss on the batched path itself: a receive buffer of a few datagrams
// drops most of a 1000-message batch sent while nobody reads; what the
// batched receive then finds is intact and in order.
void test_kernel_drops()
{
  DtlsPair pair;
  Watchdog watchdog(30000);
  GCancellable *c = watchdog.cancellable();
  handshake_both_ok(pair.client, pair.server, c);
  set_buffer(pair.udp.server, SO_RCVBUF, 16384);
  Outgoing out(0, 1000, Sizes::Equal);
  GError *error = nullptr;
  g_assert_cmpint(g_datagram_based_send_messages(pair.client, out.messages.data(), 1000, 0, -1, c, &error), ==, 1000);
  g_assert_no_error(error);
  std::vector<std::string> got = receive_batches(pair.server, 1000, 32, c, 300);
  g_assert_cmpuint(got.size(), >, 0);
  g_assert_cmpuint(got.size(), <, 1000);
  expect_increasing(got);
  // The session goes on: a later batch arrives whole.
  set_buffer(pair.udp.server, SO_RCVBUF, 1 << 20);
  Outgoing more(1000, 33, Sizes::Mixed);
  g_assert_cmpint(g_datagram_based_send_messages(pair.client, more.messages.data(), 33, 0, -1, c, &error), ==, 33);
  g_assert_no_error(error);
  expect_all_in_order(receive_batches(pair.server, 33, 32, c), 1000, 33);
}

// Over a lossy transport (not a plain socket: one call per message) a
// batch sends every message and what arrives is intact and in order.
void test_lossy()
{
  UdpPair udp;
  GtgLossySocket *client_base = lossy_socket_new(udp.client, LossProfile{}, 17);
  GTlsCertificate *cert = server_certificate();
  GTlsDatabase *db = ca_database();
  GDatagramBased *client = new_client(G_DATAGRAM_BASED(client_base), db);
  GDatagramBased *server = new_server(G_DATAGRAM_BASED(udp.server), cert);
  Watchdog watchdog(60000);
  GCancellable *c = watchdog.cancellable();
  handshake_both_ok(client, server, c);
  LossProfile lossy;
  lossy.drop = 0.2;
  lossy_socket_set_profile(client_base, lossy);
  std::vector<std::string> got;
  for (unsigned round = 0; round < 4; round++) {
    Outgoing out(round * 33, 33, round % 2 ? Sizes::Mixed : Sizes::Equal, 1 + round % 3);
    GError *error = nullptr;
    g_assert_cmpint(g_datagram_based_send_messages(client, out.messages.data(), 33, 0, -1, c, &error), ==, 33);
    g_assert_no_error(error);
    std::vector<std::string> some = receive_batches(server, 33, 16, c, 300);
    got.insert(got.end(), some.begin(), some.end());
  }
  LossStats stats = lossy_socket_stats(client_base);
  g_assert_cmpuint(stats.dropped, >, 0);
  g_assert_cmpuint(got.size(), >, 0);
  g_assert_cmpuint(got.size(), <, 4 * 33);
  expect_increasing(got);
  g_object_unref(client);
  g_object_unref(server);
  g_object_unref(client_base);
  g_object_unref(db);
  g_object_unref(cert);
}

struct TestDef {
  const char *name;
  void (*run)();
};

const TestDef kTests[] = {
    {"loopback/1", test_loopback_1},
    {"loopback/2", test_loopback_2},
    {"loopback/31", test_loopback_31},
    {"loopback/32", test_loopback_32},
    {"loopback/33-shorter-last", test_loopback_33},
    {"loopback/1000", test_loopback_1000},
    {"loopback/mixed-33", test_loopback_mixed_33},
    {"loopback/mixed-1000", test_loopback_mixed_1000},
    {"loopback/vectors", test_loopback_vectors},
    {"loopback/vectors-mixed", test_loopback_vectors_mixed},
    {"two-threads-each", test_two_threads_each},
    {"gro", test_gro},
    {"segmentation-refused", test_segmentation_refused},
    {"bad-datagrams", test_bad_datagrams_in_batch},
    {"would-block-mid-batch", test_would_block_mid_batch},
    {"too-large-mid-batch", test_too_large_mid_batch},
    {"before-handshake", test_batch_before_handshake},
    {"lossy", test_lossy},
    {"kernel-drops", test_kernel_drops},
};

}  // namespace

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, nullptr);
  for (const TestDef &t : kTests)
    g_test_add_func((std::string("/dtls/batch/") + t.name).c_str(), t.run);
  return g_test_run();
}
