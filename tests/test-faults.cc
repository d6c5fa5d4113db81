// Faults and bad input through the public GIO API: a peer that closes or
// resets the TCP connection at each stage of the handshake and in the middle
// of a record, truncated and oversized records, alerts, a peer that stops
// answering, cancellation at several stages (sync and async), objects
// finalised while an operation is pending, the main context iterated from a
// callback, and verification of cyclic and long chains.
//
// Every case must end with a GError (or the documented outcome), bounded in
// time, and leave as many file descriptors open as it found.
//
// The misbehaving peers are raw sockets driven from a thread: they replay a
// prefix of a real handshake (recorded from our own client or server over an
// in-memory stream, in answer to what the connection under test sent), then
// close, or reset with SO_LINGER 0.
#include "connection-harness.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <string>

using namespace conn_test;

namespace {

// ---------------------------------------------------------------------------
// File descriptors

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

// Runs a test body and checks that it left no descriptor open. The check is
// retried briefly: a closed connection's socket may be released by a source
// that runs on the next iteration.
void run_counting_fds(gconstpointer data)
{
  auto body = reinterpret_cast<void (*)()>(const_cast<gpointer>(data));
  int before = open_fds();
  body();
  for (int i = 0; i < 50 && open_fds() != before; i++) {
    while (g_main_context_iteration(nullptr, FALSE)) {
    }
    g_usleep(10000);
  }
  g_assert_cmpint(open_fds(), ==, before);
}

// ---------------------------------------------------------------------------
// Raw peers

// A listening TCP socket on 127.0.0.1.
struct RawListener {
  int fd = -1;
  guint16 port = 0;

  RawListener()
  {
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    g_assert_cmpint(fd, >=, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    g_assert_cmpint(bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr), ==, 0);
    g_assert_cmpint(listen(fd, 16), ==, 0);
    socklen_t len = sizeof addr;
    getsockname(fd, reinterpret_cast<sockaddr *>(&addr), &len);
    port = ntohs(addr.sin_port);
  }
  ~RawListener() { close(fd); }
  RawListener(const RawListener &) = delete;
  RawListener &operator=(const RawListener &) = delete;

  int accept_one()
  {
    int c = accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
    g_assert_cmpint(c, >=, 0);
    return c;
  }
};

int raw_connect(guint16 port)
{
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  g_assert_cmpint(connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr), ==, 0);
  return fd;
}

// Closes `fd` gracefully (FIN) or with a reset (RST, SO_LINGER 0).
void raw_close(int fd, bool reset)
{
  if (reset) {
    linger l{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
  close(fd);
}

void raw_write(int fd, const std::string &data)
{
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0)
      return;
    off += size_t(n);
  }
}

// Reads one whole TLS record (header and body) within 10 s; empty on EOF.
std::string raw_read_record(int fd)
{
  std::string out;
  size_t want = 5;
  while (out.size() < want) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 10000) <= 0)
      return {};
    char buf[4096];
    ssize_t n = recv(fd, buf, std::min(sizeof buf, want - out.size()), 0);
    if (n <= 0)
      return {};
    out.append(buf, size_t(n));
    if (out.size() == 5)
      want = 5 + ((guint8(out[3]) << 8) | guint8(out[4]));
  }
  return out;
}

// The stream under `conn` (unowned: the connection keeps it).
GIOStream *base_stream(GTlsConnection *conn)
{
  GIOStream *base = nullptr;
  g_object_get(conn, "base-io-stream", &base, nullptr);
  g_object_unref(base);
  return base;
}

// A GIOStream over memory: `input` then end-of-file in, memory out.
GIOStream *memory_stream(const std::string &input)
{
  GInputStream *in = g_memory_input_stream_new_from_data(g_memdup2(input.data(), input.size()),
                                                         gssize(input.size()), g_free);
  GOutputStream *out = g_memory_output_stream_new_resizable();
  GIOStream *stream = g_simple_io_stream_new(in, out);
  g_object_unref(in);
  g_object_unref(out);
  return stream;
}

std::string memory_output(GIOStream *stream)
{
  auto *out = G_MEMORY_OUTPUT_STREAM(g_io_stream_get_output_stream(stream));
  return std::string(static_cast<const char *>(g_memory_output_stream_get_data(out)),
                     g_memory_output_stream_get_data_size(out));
}

// What our server answers to `client_hello`: its first flight, real.
std::string server_flight(const std::string &client_hello)
{
  GIOStream *base = memory_stream(client_hello);
  GTlsCertificate *cert = server_certificate();
  GTlsConnection *server = new_server(base, cert);
  (void)g_tls_connection_handshake(server, nullptr, nullptr);
  std::string out = memory_output(base);
  g_object_unref(server);
  g_object_unref(cert);
  g_object_unref(base);
  return out;
}

// A real ClientHello from our client.
std::string client_hello()
{
  GIOStream *base = memory_stream("");
  GSocketConnectable *identity = g_network_address_new("localhost", 443);
  GTlsConnection *client = new_client(base, identity, nullptr);
  (void)g_tls_connection_handshake(client, nullptr, nullptr);
  std::string out = memory_output(base);
  g_object_unref(client);
  g_object_unref(identity);
  g_object_unref(base);
  return out;
}

// The client against `listener`'s peer must fail with an error that is not a
// cancellation, within the watchdog's bound: its handshake, or (when the
// peer sent a whole real flight) its first read, as the peer went away
// without a close_notify.
void expect_client_fails(RawListener &listener, const char *what)
{
  Watchdog watchdog(15000);
  // A peer that resets right after accept can do so before GSocketClient
  // has checked the connect result: then the failure is the connect's, with
  // its own clear error, and TLS never starts.
  GSocketClient *socket_client = g_socket_client_new();
  GError *connect_error = nullptr;
  GSocketConnection *connection = g_socket_client_connect_to_host(
      socket_client, "127.0.0.1", listener.port, nullptr, &connect_error);
  g_object_unref(socket_client);
  if (!connection) {
    g_assert_error(connect_error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
    g_test_message("%s: reset before TLS started: %s", what, connect_error->message);
    g_error_free(connect_error);
    return;
  }
  GIOStream *base = G_IO_STREAM(connection);
  GSocketConnectable *identity = localhost_identity(listener.port);
  GTlsDatabase *db = ca_database();
  GTlsConnection *client = new_client(base, identity, db);
  GError *error = nullptr;
  if (g_tls_connection_handshake(client, watchdog.cancellable(), &error)) {
    char buf[16];
    g_assert_cmpint(g_input_stream_read(g_io_stream_get_input_stream(G_IO_STREAM(client)), buf,
                                        sizeof buf, watchdog.cancellable(), &error),
                    ==, -1);
  }
  g_assert_nonnull(error);
  g_assert_false(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED));
  g_test_message("%s: %s", what, error->message);
  g_error_free(error);
  g_object_unref(client);
  g_object_unref(db);
  g_object_unref(identity);
  g_object_unref(base);
}

// ---------------------------------------------------------------------------
// The peer goes away during the handshake

// Server side of the handshake, replayed: the peer reads the ClientHello,
// sends the first `prefix` bytes of a real answer (npos: all of it), then
// closes or resets.
void test_server_peer_goes_away()
{
  const size_t kAll = std::string::npos;
  struct Stage {
    const char *name;
    size_t prefix;     // of the server's flight; 0 with read_hello false: at once
    bool read_hello;
  };
  const Stage stages[] = {
      {"on accept", 0, false},       {"after the ClientHello", 0, true},
      {"mid record header", 3, true}, {"after a record header", 5, true},
      {"mid ServerHello", 40, true},  {"after the whole flight", kAll, true},
  };
  for (const Stage &stage : stages) {
    for (bool reset : {false, true}) {
      RawListener listener;
      PeerThread peer([&] {
        int fd = listener.accept_one();
        if (stage.read_hello) {
          std::string hello = raw_read_record(fd);
          g_assert_false(hello.empty());
          std::string flight = server_flight(hello);
          g_assert_cmpuint(flight.size(), >, 40);
          raw_write(fd, flight.substr(0, std::min(stage.prefix, flight.size())));
          if (stage.prefix == kAll) {
            // Wait for the client's answer before going away.
            (void)raw_read_record(fd);
          }
        }
        raw_close(fd, reset);
      });
      std::string what = std::string(stage.name) + (reset ? ", reset" : ", closed");
      expect_client_fails(listener, what.c_str());
    }
  }
}

// Client side, replayed: the peer sends the first `prefix` bytes of a real
// ClientHello (npos: all, then reads the server's answer), then goes away.
void test_client_peer_goes_away()
{
  const std::string hello = client_hello();
  g_assert_cmpuint(hello.size(), >, 100);
  const size_t prefixes[] = {0, 2, 5, 60, hello.size()};
  GTlsCertificate *cert = server_certificate();
  for (size_t prefix : prefixes) {
    for (bool reset : {false, true}) {
      Listener listener;
      PeerThread peer([&] {
        int fd = raw_connect(listener.port);
        raw_write(fd, hello.substr(0, prefix));
        if (prefix == hello.size())
          g_assert_false(raw_read_record(fd).empty());  // the ServerHello
        raw_close(fd, reset);
      });
      Watchdog watchdog(15000);
      GIOStream *base = listener.accept();
      GTlsConnection *server = new_server(base, cert);
      GError *error = nullptr;
      g_assert_false(g_tls_connection_handshake(server, watchdog.cancellable(), &error));
      g_assert_nonnull(error);
      g_assert_false(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED));
      g_test_message("prefix %zu%s: %s", prefix, reset ? ", reset" : "", error->message);
      g_error_free(error);
      g_object_unref(server);
      g_object_unref(base);
    }
  }
  g_object_unref(cert);
}

// The server answers the ClientHello with a fatal alert, one GnuTLS knows
// (handshake_failure) and one it has no name for (229): a clear error each.
// The fuzz target found the second (tests/fuzz/regressions/tls-client/
// unknown-alert-229): the error mapping used to read it as a
// gnutls_alert_description_t, which it is not a value of (clang's
// -fsanitize=enum), until 200bb1c.
void test_server_sends_alert()
{
  for (guint8 description : {guint8(40), guint8(229)}) {
    RawListener listener;
    PeerThread peer([&] {
      int fd = listener.accept_one();
      g_assert_false(raw_read_record(fd).empty());
      std::string alert("\x15\x03\x03\x00\x02\x02", 6);
      alert += char(description);
      raw_write(fd, alert);
      (void)raw_read_record(fd);  // until the client goes
      raw_close(fd, false);
    });
    std::string what = "alert " + std::to_string(description);
    expect_client_fails(listener, what.c_str());
  }
}

// A fatal alert in the middle of the handshake: the client rejects the
// server's certificate (no database trusts it) and says so.
void test_alert_during_handshake()
{
  Listener listener;
  GTlsCertificate *cert = server_certificate();
  GIOStream *client_base = connect_loopback(listener.port);
  GIOStream *server_base = listener.accept();
  GSocketConnectable *identity = localhost_identity(listener.port);
  GTlsDatabase *empty = nullptr;
  GTlsConnection *client = new_client(client_base, identity, empty);
  GTlsConnection *server = new_server(server_base, cert);
  AsyncResult c, s;
  handshake_both(client, server, c, s);
  g_assert_error(c.error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE);
  g_assert_nonnull(s.error);
  g_test_message("server saw: %s", s.error->message);
  g_object_unref(client);
  g_object_unref(server);
  g_object_unref(identity);
  g_object_unref(client_base);
  g_object_unref(server_base);
  g_object_unref(cert);
}

// ---------------------------------------------------------------------------
// Bad records after the handshake

// A connected pair, handshake done; `raw` is the fd under the server, for
// writing bytes the client reads as if the server had sent them.
struct Established {
  Listener listener;
  GTlsDatabase *db = ca_database();
  GTlsCertificate *cert = server_certificate();
  Pair pair{listener, db, cert};
  GSocket *raw_socket = nullptr;  // (unowned)
  int raw = -1;

  Established()
  {
    handshake_both_ok(pair);
    GIOStream *base = base_stream(pair.server);
    raw_socket = g_socket_connection_get_socket(G_SOCKET_CONNECTION(base));
    raw = g_socket_get_fd(raw_socket);
  }

  // Ends the server's TCP connection under its TLS: FIN, or RST.
  void end_raw(bool reset)
  {
    if (!reset) {
      shutdown(raw, SHUT_WR);
      return;
    }
    linger l{1, 0};
    setsockopt(raw, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    g_socket_close(raw_socket, nullptr);
  }
  ~Established()
  {
    g_object_unref(db);
    g_object_unref(cert);
  }
  Established(const Established &) = delete;
  Established &operator=(const Established &) = delete;

  // Reads on the client until an error; returns it (asserts there is one).
  GError *client_read_error()
  {
    Watchdog watchdog(10000);
    GError *error = nullptr;
    char buf[1024];
    for (int i = 0; i < 100; i++) {
      gssize n = g_input_stream_read(g_io_stream_get_input_stream(G_IO_STREAM(pair.client)), buf,
                                     sizeof buf, watchdog.cancellable(), &error);
      if (n < 0)
        break;
      g_assert_cmpint(n, >, 0);  // no clean end-of-file without close_notify
    }
    g_assert_nonnull(error);
    g_assert_false(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED));
    return error;
  }
};

std::string record(guint8 type, size_t length, size_t body)
{
  std::string r;
  r += char(type);
  r += "\x03\x03";
  r += char(length >> 8);
  r += char(length & 0xff);
  r.append(body, '\x5a');
  return r;
}

void test_record_truncated()
{
  for (bool reset : {false, true}) {
    Established e;
    raw_write(e.raw, record(23, 100, 30));  // 30 of its 100 bytes
    e.end_raw(reset);
    GError *error = e.client_read_error();
    g_test_message("truncated record%s: %s", reset ? ", reset" : "", error->message);
    g_error_free(error);
  }
}

void test_record_oversized()
{
  Established e;
  raw_write(e.raw, record(23, 0x4801, 64));  // longer than any record may be
  GError *error = e.client_read_error();
  g_test_message("oversized record: %s", error->message);
  g_error_free(error);
}

void test_record_garbage()
{
  Established e;
  raw_write(e.raw, record(23, 64, 64));  // fails authentication
  GError *error = e.client_read_error();
  g_test_message("forged record: %s", error->message);
  g_error_free(error);
}

void test_alert_mid_stream()
{
  // A plaintext fatal alert where only protected records may come.
  Established e;
  raw_write(e.raw, std::string("\x15\x03\x03\x00\x02\x02\x28", 7));
  GError *error = e.client_read_error();
  g_test_message("plaintext alert: %s", error->message);
  g_error_free(error);
}

void test_close_notify_mid_stream()
{
  // The documented outcome of a peer's close_notify: the data before it,
  // then end-of-file (a read of 0), not an error.
  Established e;
  write_all(G_IO_STREAM(e.pair.server), "partial", 7);
  close_stream(G_IO_STREAM(e.pair.server));
  g_assert_true(read_exactly(G_IO_STREAM(e.pair.client), 7) == "partial");
  GError *error = nullptr;
  char buf[16];
  g_assert_cmpint(g_input_stream_read(g_io_stream_get_input_stream(G_IO_STREAM(e.pair.client)),
                                      buf, sizeof buf, nullptr, &error),
                  ==, 0);
  g_assert_no_error(error);
}

void test_reset_mid_stream()
{
  Established e;
  write_all(G_IO_STREAM(e.pair.server), "partial", 7);
  g_assert_true(read_exactly(G_IO_STREAM(e.pair.client), 7) == "partial");
  e.end_raw(true);
  GError *error = e.client_read_error();
  g_test_message("reset: %s", error->message);
  // What GIO's socket streams report for ECONNRESET, with their wording.
  g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
  g_assert_true(g_str_has_prefix(error->message, "Error receiving data: "));
  g_error_free(error);
}

void test_reset_while_writing()
{
  Established e;
  e.end_raw(true);
  // The first writes may still be taken by the kernel; one soon fails with
  // the error GIO's socket streams report for EPIPE or ECONNRESET.
  Watchdog watchdog(10000);
  GOutputStream *out = g_io_stream_get_output_stream(G_IO_STREAM(e.pair.client));
  std::string chunk(4096, 'w');
  GError *error = nullptr;
  for (int i = 0; i < 100 && !error; i++) {
    if (g_output_stream_write(out, chunk.data(), chunk.size(), watchdog.cancellable(), &error) < 0)
      break;
    g_usleep(1000);
  }
  g_assert_nonnull(error);
  g_test_message("write after reset: %s", error->message);
  g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);  // == G_IO_ERROR_BROKEN_PIPE
  g_assert_true(g_str_has_prefix(error->message, "Error sending data: "));
  g_error_free(error);
}

// ---------------------------------------------------------------------------
// A peer that stops answering

void test_silent_peer_times_out()
{
  // During the handshake: the peer accepts and never answers.
  RawListener listener;
  GIOStream *base = connect_loopback(listener.port);
  int peer_fd = listener.accept_one();
  g_socket_set_timeout(g_socket_connection_get_socket(G_SOCKET_CONNECTION(base)), 1);
  GSocketConnectable *identity = localhost_identity(listener.port);
  GTlsConnection *client = new_client(base, identity, nullptr);
  GError *error = nullptr;
  gint64 start = g_get_monotonic_time();
  g_assert_false(g_tls_connection_handshake(client, nullptr, &error));
  g_assert_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_cmpint(g_get_monotonic_time() - start, <, 5 * G_USEC_PER_SEC);
  g_clear_error(&error);
  g_object_unref(client);
  g_object_unref(identity);
  g_object_unref(base);
  close(peer_fd);

  // After the handshake: a read times out, and the connection still works.
  Established e;
  GSocket *socket = g_socket_connection_get_socket(
      G_SOCKET_CONNECTION(base_stream(e.pair.client)));
  g_socket_set_timeout(socket, 1);
  char buf[16];
  g_assert_cmpint(g_input_stream_read(g_io_stream_get_input_stream(G_IO_STREAM(e.pair.client)),
                                      buf, sizeof buf, nullptr, &error),
                  ==, -1);
  g_assert_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error(&error);
  write_all(G_IO_STREAM(e.pair.server), "late", 4);
  g_assert_true(read_exactly(G_IO_STREAM(e.pair.client), 4) == "late");
}

// ---------------------------------------------------------------------------
// Cancellation

// Sync handshake, cancelled before it starts and while waiting for the peer.
void test_cancel_sync_stages()
{
  for (unsigned delay_ms : {0u, 50u, 300u}) {
    RawListener listener;
    GIOStream *base = connect_loopback(listener.port);
    int peer_fd = listener.accept_one();
    GSocketConnectable *identity = localhost_identity(listener.port);
    GTlsConnection *client = new_client(base, identity, nullptr);
    GCancellable *cancellable = g_cancellable_new();
    if (delay_ms == 0)
      g_cancellable_cancel(cancellable);
    PeerThread canceller([&] {
      if (delay_ms) {
        g_usleep(delay_ms * 1000);
        g_cancellable_cancel(cancellable);
      }
    });
    GError *error = nullptr;
    g_assert_false(g_tls_connection_handshake(client, cancellable, &error));
    g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_clear_error(&error);
    canceller.join();
    g_object_unref(cancellable);
    g_object_unref(client);
    g_object_unref(identity);
    g_object_unref(base);
    close(peer_fd);
  }
}

// Async handshake, read and write, each cancelled before and during.
void test_cancel_async_stages()
{
  for (bool immediately : {true, false}) {
    // Handshake against a silent peer.
    RawListener listener;
    GIOStream *base = connect_loopback(listener.port);
    int peer_fd = listener.accept_one();
    GSocketConnectable *identity = localhost_identity(listener.port);
    GTlsConnection *client = new_client(base, identity, nullptr);
    GCancellable *cancellable = g_cancellable_new();
    if (immediately)
      g_cancellable_cancel(cancellable);
    AsyncResult r;
    g_tls_connection_handshake_async(client, G_PRIORITY_DEFAULT, cancellable, on_handshake, &r);
    if (!immediately) {
      iterate_until([] { return false; }, 50);
      g_cancellable_cancel(cancellable);
    }
    g_assert_true(iterate_until([&] { return r.done; }, 5000));
    g_assert_error(r.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_object_unref(cancellable);
    g_object_unref(client);
    g_object_unref(identity);
    g_object_unref(base);
    close(peer_fd);

    // A read with nothing to read.
    Established e;
    cancellable = g_cancellable_new();
    if (immediately)
      g_cancellable_cancel(cancellable);
    AsyncResult rr;
    char buf[16];
    g_input_stream_read_async(
        g_io_stream_get_input_stream(G_IO_STREAM(e.pair.client)), buf, sizeof buf,
        G_PRIORITY_DEFAULT, cancellable,
        [](GObject *source, GAsyncResult *result, gpointer data) {
          auto *res = static_cast<AsyncResult *>(data);
          g_assert_cmpint(g_input_stream_read_finish(G_INPUT_STREAM(source), result, &res->error),
                          ==, -1);
          res->done = true;
        },
        &rr);
    if (!immediately) {
      iterate_until([] { return false; }, 50);
      g_cancellable_cancel(cancellable);
    }
    g_assert_true(iterate_until([&] { return rr.done; }, 5000));
    g_assert_error(rr.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_object_unref(cancellable);
    // The connection still works after a cancelled read.
    write_all(G_IO_STREAM(e.pair.server), "after", 5);
    g_assert_true(read_exactly(G_IO_STREAM(e.pair.client), 5) == "after");
  }
}

// ---------------------------------------------------------------------------
// Finalised while pending; re-entrancy

// The application drops its references while an async handshake and an
// async read are pending: the operations keep what they need, complete with
// an error when the peer goes away, and everything is freed.
void test_unref_while_pending()
{
  {
    RawListener listener;
    GIOStream *base = connect_loopback(listener.port);
    int peer_fd = listener.accept_one();
    GSocketConnectable *identity = localhost_identity(listener.port);
    GTlsConnection *client = new_client(base, identity, nullptr);
    AsyncResult r;
    g_tls_connection_handshake_async(client, G_PRIORITY_DEFAULT, nullptr, on_handshake, &r);
    g_object_unref(client);
    g_object_unref(identity);
    g_object_unref(base);
    iterate_until([] { return false; }, 20);
    raw_close(peer_fd, true);
    g_assert_true(iterate_until([&] { return r.done; }, 5000));
    g_assert_nonnull(r.error);
  }
  {
    // The connection itself goes while its stream has a read pending.
    Listener listener;
    GTlsDatabase *db = ca_database();
    GTlsCertificate *cert = server_certificate();
    GIOStream *client_base = connect_loopback(listener.port);
    GIOStream *server_base = listener.accept();
    GSocketConnectable *identity = localhost_identity(listener.port);
    GTlsConnection *client = new_client(client_base, identity, db);
    GTlsConnection *server = new_server(server_base, cert);
    g_object_unref(identity);
    g_object_unref(client_base);
    g_object_unref(server_base);
    AsyncResult c, s;
    handshake_both(client, server, c, s);
    g_assert_no_error(c.error);
    g_assert_no_error(s.error);
    GInputStream *in = G_INPUT_STREAM(
        g_object_ref(g_io_stream_get_input_stream(G_IO_STREAM(client))));
    AsyncResult rr;
    static char buf[16];
    g_input_stream_read_async(
        in, buf, sizeof buf, G_PRIORITY_DEFAULT, nullptr,
        [](GObject *source, GAsyncResult *result, gpointer data) {
          auto *res = static_cast<AsyncResult *>(data);
          (void)g_input_stream_read_finish(G_INPUT_STREAM(source), result, &res->error);
          res->done = true;
        },
        &rr);
    g_object_unref(client);
    g_object_unref(in);
    iterate_until([] { return false; }, 20);
    // The peer ends the connection: the read completes, one way or another.
    g_io_stream_close(G_IO_STREAM(server), nullptr, nullptr);
    g_object_unref(server);
    g_assert_true(iterate_until([&] { return rr.done; }, 5000));
    g_object_unref(cert);
    g_object_unref(db);
  }
}

// A callback iterates the main context and starts the next operation from
// inside it; the connection copes with being entered from its own callback.
void test_iterate_from_callback()
{
  Established e;
  struct State {
    GTlsConnection *client;
    bool first = false, second = false;
    char buf[8];
  } state{e.pair.client};
  write_all(G_IO_STREAM(e.pair.server), "onetwo", 6);
  g_input_stream_read_async(
      g_io_stream_get_input_stream(G_IO_STREAM(e.pair.client)), state.buf, 3, G_PRIORITY_DEFAULT,
      nullptr,
      [](GObject *source, GAsyncResult *result, gpointer data) {
        auto *st = static_cast<State *>(data);
        g_assert_cmpint(g_input_stream_read_finish(G_INPUT_STREAM(source), result, nullptr), ==, 3);
        st->first = true;
        while (g_main_context_iteration(nullptr, FALSE)) {
        }
        g_input_stream_read_async(
            G_INPUT_STREAM(source), st->buf + 3, 3, G_PRIORITY_DEFAULT, nullptr,
            [](GObject *src, GAsyncResult *res, gpointer d) {
              auto *s = static_cast<State *>(d);
              g_assert_cmpint(g_input_stream_read_finish(G_INPUT_STREAM(src), res, nullptr), ==, 3);
              s->second = true;
            },
            st);
        // Nested iteration until the second read is done, inside the first's callback.
        g_assert_true(iterate_until([&] { return st->second; }, 5000));
      },
      &state);
  g_assert_true(iterate_until([&] { return state.first && state.second; }, 5000));
  g_assert_cmpmem(state.buf, 6, "onetwo", 6);
}

// Async reads from main contexts that come and go: each read waits on the
// context that is thread-default when it starts, also after the context an
// earlier read waited on is gone.
void test_successive_contexts()
{
  Established e;
  GInputStream *in = g_io_stream_get_input_stream(G_IO_STREAM(e.pair.client));
  for (int i = 0; i < 3; i++) {
    GMainContext *context = g_main_context_new();
    g_main_context_push_thread_default(context);
    struct Read {
      char buf[4];
      gssize n = -2;
    } read;
    g_input_stream_read_async(
        in, read.buf, sizeof read.buf, G_PRIORITY_DEFAULT, nullptr,
        [](GObject *source, GAsyncResult *result, gpointer data) {
          static_cast<Read *>(data)->n = g_input_stream_read_finish(G_INPUT_STREAM(source), result, nullptr);
        },
        &read);
    // The read must be waiting on the socket before the data is sent.
    for (int spins = 0; spins < 10; spins++)
      g_main_context_iteration(context, FALSE);
    g_assert_cmpint(read.n, ==, -2);
    write_all(G_IO_STREAM(e.pair.server), "abcd", 4);
    gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    while (read.n == -2 && g_get_monotonic_time() < deadline)
      g_main_context_iteration(context, FALSE);
    g_assert_cmpint(read.n, ==, 4);
    g_assert_cmpmem(read.buf, 4, "abcd", 4);
    g_main_context_pop_thread_default(context);
    g_main_context_unref(context);
  }
}

// An idle connection whose peer hangs up after an async read: the next async
// read ends (with the end of the stream) instead of waiting forever.
void test_hangup_while_idle()
{
  Established e;
  GInputStream *in = g_io_stream_get_input_stream(G_IO_STREAM(e.pair.client));
  AsyncResult first;
  char buf[4];
  write_all(G_IO_STREAM(e.pair.server), "x", 1);
  g_input_stream_read_async(
      in, buf, 1, G_PRIORITY_DEFAULT, nullptr,
      [](GObject *source, GAsyncResult *result, gpointer data) {
        auto *r = static_cast<AsyncResult *>(data);
        g_assert_cmpint(g_input_stream_read_finish(G_INPUT_STREAM(source), result, &r->error), ==, 1);
        r->done = true;
      },
      &first);
  g_assert_true(iterate_until([&] { return first.done; }, 5000));
  e.end_raw(true);
  // Let the main context see the hang-up while no operation waits.
  for (int spins = 0; spins < 20; spins++)
    g_main_context_iteration(nullptr, FALSE);
  AsyncResult second;
  g_input_stream_read_async(
      in, buf, sizeof buf, G_PRIORITY_DEFAULT, nullptr,
      [](GObject *source, GAsyncResult *result, gpointer data) {
        auto *r = static_cast<AsyncResult *>(data);
        g_assert_cmpint(g_input_stream_read_finish(G_INPUT_STREAM(source), result, &r->error), <=, 0);
        r->done = true;
      },
      &second);
  g_assert_true(iterate_until([&] { return second.done; }, 5000));
}

// ---------------------------------------------------------------------------
// Verification that must terminate

void verify_quickly(const char *anchors, const char *chain_file, bool expect_ok)
{
  GError *error = nullptr;
  GTlsDatabase *db =
      g_tls_file_database_new((std::string(TEST_FILES_DIR "/chains/") + anchors).c_str(), &error);
  g_assert_no_error(error);
  GTlsCertificate *chain = g_tls_certificate_new_from_file(
      (std::string(TEST_FILES_DIR "/chains/") + chain_file).c_str(), &error);
  g_assert_no_error(error);
  gint64 start = g_get_monotonic_time();
  GTlsCertificateFlags flags = g_tls_database_verify_chain(
      db, chain, G_TLS_DATABASE_PURPOSE_AUTHENTICATE_SERVER, nullptr, nullptr,
      G_TLS_DATABASE_VERIFY_NONE, nullptr, &error);
  gint64 elapsed = g_get_monotonic_time() - start;
  g_assert_no_error(error);
  g_test_message("%s against %s: flags 0x%x in %" G_GINT64_FORMAT " us", chain_file, anchors,
                 flags, elapsed);
  g_assert_cmpint(elapsed, <, G_USEC_PER_SEC);
  if (expect_ok)
    g_assert_cmpint(flags, ==, 0);
  else
    g_assert_cmpint(flags, !=, 0);
  g_object_unref(chain);
  g_object_unref(db);
}

void test_verify_terminates()
{
  verify_quickly("anchors-cycle.pem", "chain-cycle.pem", true);
  verify_quickly("anchors-root.pem", "chain-cycle.pem", false);
  verify_quickly("anchors-root.pem", "chain-long.pem", true);
  verify_quickly("anchors-root.pem", "chain-huge.pem", true);
  verify_quickly("anchors-several.pem", "chain-stranger.pem", false);
}

struct TestDef {
  const char *path;
  void (*run)();
};

const TestDef kTests[] = {
    {"/faults/handshake/server-goes-away", test_server_peer_goes_away},
    {"/faults/handshake/client-goes-away", test_client_peer_goes_away},
    {"/faults/handshake/alert", test_alert_during_handshake},
    {"/faults/handshake/server-alert", test_server_sends_alert},
    {"/faults/record/truncated", test_record_truncated},
    {"/faults/record/oversized", test_record_oversized},
    {"/faults/record/forged", test_record_garbage},
    {"/faults/record/plaintext-alert", test_alert_mid_stream},
    {"/faults/record/close-notify", test_close_notify_mid_stream},
    {"/faults/record/reset", test_reset_mid_stream},
    {"/faults/record/reset-while-writing", test_reset_while_writing},
    {"/faults/timeout/silent-peer", test_silent_peer_times_out},
    {"/faults/cancel/sync-stages", test_cancel_sync_stages},
    {"/faults/cancel/async-stages", test_cancel_async_stages},
    {"/faults/lifetime/unref-while-pending", test_unref_while_pending},
    {"/faults/lifetime/iterate-from-callback", test_iterate_from_callback},
    {"/faults/lifetime/successive-contexts", test_successive_contexts},
    {"/faults/lifetime/hangup-while-idle", test_hangup_while_idle},
    {"/faults/verify/terminates", test_verify_terminates},
};

}  // namespace

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, nullptr);
  // Open what GLib and GnuTLS open once per process (the main context's
  // wakeup fd, the random device, worker threads) before counting.
  {
    Established warm_up;
    write_all(G_IO_STREAM(warm_up.pair.client), "x", 1);
    g_assert_true(read_exactly(G_IO_STREAM(warm_up.pair.server), 1) == "x");
    (void)client_hello();
  }
  for (const TestDef &t : kTests)
    g_test_add_data_func(t.path, reinterpret_cast<gconstpointer>(t.run), run_counting_fds);
  return g_test_run();
}
