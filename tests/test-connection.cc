// Tests of GTlsConnection through the public GIO API, over loopback TCP:
// sync and async handshakes with data both ways, many concurrent async
// handshakes on one thread, ALPN, certificate rejection and acceptance,
// client authentication, SNI, session resumption, cancellation, channel
// binding, and interoperation with gnutls-serv/gnutls-cli and
// openssl s_server/s_client.
//
// Every test runs twice: /connection/tls1.3/... with the default priority and
// /connection/tls1.2/... in a child process (g_test_trap_subprocess) whose
// G_TLS_GNUTLS_PRIORITY disables TLS 1.3, since the module reads the priority
// once per process. A child reports a skip or an incomplete test to the
// parent through the file named by GTG_CHILD_REPORT.
//
// GnuTLS is used directly only as an independent peer (a raw server that
// reports the SNI it received and whether a session was resumed, and a raw
// client that resumes against our server). Every wait is bounded.
//
// Test data: tests/files (make-files.sh).
#include "connection-harness.h"
#include "test-peers.h"

#include <gio/gio.h>
#include <glib/gstdio.h>

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

using namespace conn_test;

// A pollable input stream that yields `prefix` and then its base's bytes:
// what a STARTTLS reader leaves behind when it read past its line. (GObject
// type code outside the anonymous namespace: G_DEFINE_TYPE declares
// functions with external names.)
struct PrefixInputStream {
  GInputStream parent_instance;
  GInputStream *base;  // (owned) pollable
  std::string *prefix;  // (owned) the bytes still to serve first
};
struct PrefixInputStreamClass {
  GInputStreamClass parent_class;
};
static void prefix_pollable_init(GPollableInputStreamInterface *iface);
G_DEFINE_TYPE_WITH_CODE(PrefixInputStream, prefix_input_stream, G_TYPE_INPUT_STREAM,
                        G_IMPLEMENT_INTERFACE(G_TYPE_POLLABLE_INPUT_STREAM, prefix_pollable_init))

static gssize prefix_take(PrefixInputStream *self, void *buffer, gsize count)
{
  gsize n = std::min(count, self->prefix->size());
  memcpy(buffer, self->prefix->data(), n);
  self->prefix->erase(0, n);
  return static_cast<gssize>(n);
}

static gssize prefix_read(GInputStream *stream, void *buffer, gsize count, GCancellable *cancellable,
                          GError **error)
{
  auto *self = reinterpret_cast<PrefixInputStream *>(stream);
  if (!self->prefix->empty())
    return prefix_take(self, buffer, count);
  return g_input_stream_read(self->base, buffer, count, cancellable, error);
}

static gssize prefix_read_nonblocking(GPollableInputStream *stream, void *buffer, gsize count,
                                      GError **error)
{
  auto *self = reinterpret_cast<PrefixInputStream *>(stream);
  if (!self->prefix->empty())
    return prefix_take(self, buffer, count);
  return g_pollable_input_stream_read_nonblocking(G_POLLABLE_INPUT_STREAM(self->base), buffer,
                                                  count, nullptr, error);
}

static gboolean prefix_is_readable(GPollableInputStream *stream)
{
  auto *self = reinterpret_cast<PrefixInputStream *>(stream);
  return !self->prefix->empty() ||
         g_pollable_input_stream_is_readable(G_POLLABLE_INPUT_STREAM(self->base));
}

static GSource *prefix_create_source(GPollableInputStream *stream, GCancellable *cancellable)
{
  auto *self = reinterpret_cast<PrefixInputStream *>(stream);
  GSource *base_source = g_pollable_input_stream_create_source(G_POLLABLE_INPUT_STREAM(self->base), nullptr);
  GSource *source = g_pollable_source_new_full(stream, base_source, cancellable);
  g_source_unref(base_source);
  if (!self->prefix->empty())
    g_source_set_ready_time(source, 0);
  return source;
}

static gboolean prefix_can_poll(GPollableInputStream *)
{
  return TRUE;
}

static void prefix_pollable_init(GPollableInputStreamInterface *iface)
{
  iface->can_poll = prefix_can_poll;
  iface->is_readable = prefix_is_readable;
  iface->create_source = prefix_create_source;
  iface->read_nonblocking = prefix_read_nonblocking;
}

static void prefix_input_stream_finalize(GObject *object)
{
  auto *self = reinterpret_cast<PrefixInputStream *>(object);
  g_clear_object(&self->base);
  delete self->prefix;
  G_OBJECT_CLASS(prefix_input_stream_parent_class)->finalize(object);
}

static void prefix_input_stream_class_init(PrefixInputStreamClass *klass)
{
  G_OBJECT_CLASS(klass)->finalize = prefix_input_stream_finalize;
  G_INPUT_STREAM_CLASS(klass)->read_fn = prefix_read;
}

static void prefix_input_stream_init(PrefixInputStream *self)
{
  self->prefix = new std::string;
}

namespace {

// ---------------------------------------------------------------------------
// Protocol version parameterisation

enum class Version { Tls13, Tls12 };

const char *const kTls12Priority = "NORMAL:!VERS-TLS1.3";
const char *const kReportEnv = "GTG_CHILD_REPORT";

Version current_version = Version::Tls13;
bool priority_overridden = false;  // G_TLS_GNUTLS_PRIORITY set by whoever ran us

GTlsProtocolVersion expected_protocol()
{
  return current_version == Version::Tls13 ? G_TLS_PROTOCOL_VERSION_TLS_1_3
                                           : G_TLS_PROTOCOL_VERSION_TLS_1_2;
}

// In a child, a skip or incomplete is written to the report file and the
// test returns normally; the parent turns it into g_test_skip/_incomplete.
void report_to_parent(const char *kind, const char *message)
{
  const char *path = g_getenv(kReportEnv);
  g_assert_nonnull(path);
  std::string line = std::string(kind) + ":" + message;
  GError *error = nullptr;
  g_file_set_contents(path, line.c_str(), -1, &error);
  g_assert_no_error(error);
}

void skip(const char *message)
{
  if (g_test_subprocess())
    report_to_parent("skip", message);
  else
    g_test_skip(message);
}

[[maybe_unused]] void incomplete(const char *message)
{
  if (g_test_subprocess())
    report_to_parent("incomplete", message);
  else
    g_test_incomplete(message);
}

struct Case {
  std::string path;
  void (*run)();
  Version version;
};

void run_case(gconstpointer data)
{
  const auto *c = static_cast<const Case *>(data);
  current_version = c->version;
  if (c->version == Version::Tls13) {
    if (priority_overridden) {
      g_test_skip("G_TLS_GNUTLS_PRIORITY is set in the environment");
      return;
    }
    c->run();
    return;
  }
  if (g_test_subprocess()) {
    g_assert_cmpstr(g_getenv("G_TLS_GNUTLS_PRIORITY"), ==, kTls12Priority);
    c->run();
    return;
  }
  char *report = nullptr;
  GError *error = nullptr;
  int fd = g_file_open_tmp("gtg-test-connection-XXXXXX", &report, &error);
  g_assert_no_error(error);
  close(fd);
  g_setenv("G_TLS_GNUTLS_PRIORITY", kTls12Priority, TRUE);
  g_setenv(kReportEnv, report, TRUE);
  g_test_trap_subprocess(nullptr, 120 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_unsetenv("G_TLS_GNUTLS_PRIORITY");
  g_unsetenv(kReportEnv);
  char *contents = nullptr;
  g_file_get_contents(report, &contents, nullptr, nullptr);
  g_unlink(report);
  g_free(report);
  g_test_trap_assert_passed();
  if (contents && g_str_has_prefix(contents, "skip:"))
    g_test_skip(contents + 5);
  else if (contents && g_str_has_prefix(contents, "incomplete:"))
    g_test_incomplete(contents + 11);
  g_free(contents);
}

void assert_negotiated(GTlsConnection *conn)
{
  g_assert_cmpint(g_tls_connection_get_protocol_version(conn), ==, expected_protocol());
  char *suite = g_tls_connection_get_ciphersuite_name(conn);
  g_assert_nonnull(suite);
  g_assert_cmpstr(suite, !=, "");
  if (current_version == Version::Tls13)
    g_assert_true(g_str_has_prefix(suite, "TLS_AES_") || g_str_has_prefix(suite, "TLS_CHACHA20_"));
  g_free(suite);
}

// ---------------------------------------------------------------------------
// Sync handshake and echo

constexpr gsize kChunk = 16384;
constexpr int kChunks = 64;

struct EchoServer {
  GTlsConnection *conn;
  GError *error = nullptr;
  gsize echoed = 0;
};

// Handshakes, then echoes every byte until the peer's close_notify.
gpointer echo_server_main(gpointer data)
{
  auto *job = static_cast<EchoServer *>(data);
  GIOStream *stream = G_IO_STREAM(job->conn);
  if (!g_tls_connection_handshake(job->conn, nullptr, &job->error))
    return nullptr;
  std::vector<char> buf(kChunk);
  for (;;) {
    gssize n = g_input_stream_read(g_io_stream_get_input_stream(stream), buf.data(), buf.size(),
                                   nullptr, &job->error);
    if (n <= 0)
      break;
    if (!g_output_stream_write_all(g_io_stream_get_output_stream(stream), buf.data(), n, nullptr,
                                   nullptr, &job->error))
      break;
    job->echoed += n;
  }
  if (!job->error)
    g_io_stream_close(stream, nullptr, &job->error);
  return nullptr;
}

void test_sync_echo()
{
  Listener listener;
  GTlsDatabase *db = ca_database();
  GTlsCertificate *cert = server_certificate();
  Pair pair(listener, db, cert);

  EchoServer job{pair.server};
  GThread *server = g_thread_new("echo-server", echo_server_main, &job);

  GError *error = nullptr;
  g_assert_true(g_tls_connection_handshake(pair.client, nullptr, &error));
  g_assert_no_error(error);
  assert_negotiated(pair.client);
  g_assert_cmpuint(g_tls_connection_get_peer_certificate_errors(pair.client), ==, 0);
  GTlsCertificate *peer = g_tls_connection_get_peer_certificate(pair.client);
  g_assert_nonnull(peer);
  g_assert_true(g_tls_certificate_is_same(peer, cert));

  // Chunks of distinct content, each read back before the next is sent.
  std::string chunk(kChunk, '\0');
  for (int i = 0; i < kChunks; i++) {
    for (gsize j = 0; j < kChunk; j++)
      chunk[j] = static_cast<char>((i * 31 + j * 7) & 0xff);
    write_all(G_IO_STREAM(pair.client), chunk.data(), chunk.size());
    std::string back = read_exactly(G_IO_STREAM(pair.client), kChunk);
    g_assert_true(back == chunk);
  }
  close_stream(G_IO_STREAM(pair.client));
  g_thread_join(server);
  g_assert_no_error(job.error);
  g_assert_cmpuint(job.echoed, ==, kChunk * kChunks);
  assert_negotiated(pair.server);
  g_assert_null(g_tls_connection_get_peer_certificate(pair.server));

  g_object_unref(cert);
  g_object_unref(db);
}

// ---------------------------------------------------------------------------
// Streams kept after their connection

struct BlockedReader {
  GInputStream *in;
  gssize n = 0;
  GError *error = nullptr;
};

gpointer blocked_reader_main(gpointer data)
{
  auto *r = static_cast<BlockedReader *>(data);
  char buf[16];
  r->n = g_input_stream_read(r->in, buf, sizeof buf, nullptr, &r->error);
  return nullptr;
}

// The application keeps the client's streams and drops its last reference
// to the connection while another thread is blocked reading. That read holds
// the connection: it gets the server's byte. The connection goes when the
// read returns (its close_notify reaches the server), and the kept streams
// then fail with G_IO_ERROR_CLOSED instead of touching freed memory.
void test_streams_outlive_connection()
{
  Listener listener;
  GTlsDatabase *db = ca_database();
  GTlsCertificate *cert = server_certificate();
  Pair pair(listener, db, cert);
  handshake_both_ok(pair);
  GInputStream *in = G_INPUT_STREAM(g_object_ref(g_io_stream_get_input_stream(G_IO_STREAM(pair.client))));
  GOutputStream *out = G_OUTPUT_STREAM(g_object_ref(g_io_stream_get_output_stream(G_IO_STREAM(pair.client))));

  BlockedReader reader{in};
  GThread *thread = g_thread_new("blocked-reader", blocked_reader_main, &reader);
  g_usleep(100 * 1000);  // let it block (if it starts late, its read fails CLOSED: see below)
  g_clear_object(&pair.client);
  write_all(G_IO_STREAM(pair.server), "x", 1);
  g_thread_join(thread);
  if (reader.error) {
    g_test_message("the reader started after the connection went: %s", reader.error->message);
    g_assert_error(reader.error, G_IO_ERROR, G_IO_ERROR_CLOSED);
    g_clear_error(&reader.error);
  } else {
    g_assert_cmpint(reader.n, ==, 1);
  }

  // The connection is gone and was closed: the server sees close_notify.
  char buf[16];
  GError *error = nullptr;
  Watchdog watchdog(20000);
  g_assert_cmpint(g_input_stream_read(g_io_stream_get_input_stream(G_IO_STREAM(pair.server)), buf, sizeof buf,
                                      watchdog.cancellable(), &error),
                  ==, 0);
  g_assert_no_error(error);

  g_assert_cmpint(g_input_stream_read(in, buf, sizeof buf, nullptr, &error), ==, -1);
  g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_clear_error(&error);
  g_assert_cmpint(g_output_stream_write(out, "y", 1, nullptr, &error), ==, -1);
  g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_clear_error(&error);
  g_assert_true(g_pollable_input_stream_is_readable(G_POLLABLE_INPUT_STREAM(in)));
  g_assert_cmpint(g_pollable_input_stream_read_nonblocking(G_POLLABLE_INPUT_STREAM(in), buf, sizeof buf, nullptr,
                                                           &error),
                  ==, -1);
  g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_clear_error(&error);

  g_object_unref(in);
  g_object_unref(out);
  g_object_unref(cert);
  g_object_unref(db);
}

// ---------------------------------------------------------------------------
// STARTTLS over a wrapper connection whose input is already buffered

// Both ends of a loopback pair after the client sent a plaintext
// "STARTTLS" line and made its TLS connection (not yet handshaking); the
// server end is still plain, for a test to wrap its own way.
struct StarttlsPeers {
  Listener listener;
  GTlsDatabase *db = ca_database();
  GTlsCertificate *cert = server_certificate();
  GIOStream *client_base = connect_loopback(listener.port);
  GIOStream *server_base = listener.accept();
  GSocket *server_socket = g_socket_connection_get_socket(G_SOCKET_CONNECTION(server_base));
  GSocketConnectable *identity = localhost_identity(listener.port);
  GTlsConnection *client = nullptr;
  GTlsConnection *server = nullptr;

  StarttlsPeers()
  {
    write_all(client_base, "STARTTLS\n", 9);
    client = new_client(client_base, identity, db);
  }
  ~StarttlsPeers()
  {
    g_clear_object(&server);
    g_object_unref(client);
    g_object_unref(identity);
    g_object_unref(server_base);
    g_object_unref(client_base);
    g_object_unref(cert);
    g_object_unref(db);
  }
  StarttlsPeers(const StarttlsPeers &) = delete;
  StarttlsPeers &operator=(const StarttlsPeers &) = delete;

  // Whether the ClientHello (at least its record header) is behind the line.
  bool client_hello_arrived() const { return g_socket_get_available_bytes(server_socket) >= 9 + 5; }

  // The server over `base`; then data both ways once both handshakes are done.
  void make_server(GIOStream *base) { server = new_server(base, cert); }
  void exchange()
  {
    write_all(G_IO_STREAM(server), "after starttls", 14);
    g_assert_true(read_exactly(G_IO_STREAM(client), 14) == "after starttls");
    write_all(G_IO_STREAM(client), "and back", 8);
    g_assert_true(read_exactly(G_IO_STREAM(server), 8) == "and back");
  }
};

// The server reads the line through a GBufferedInputStream, which also takes
// the ClientHello that followed it; TLS then runs over a
// GTcpWrapperConnection of that buffered stream. A GBufferedInputStream is
// not pollable, so the server runs sync; the client handshakes on a thread.
struct ClientJob {
  GTlsConnection *client;
  GCancellable *cancellable;
  GError *error = nullptr;
};

gpointer client_handshake_main(gpointer data)
{
  auto *job = static_cast<ClientJob *>(data);
  g_tls_connection_handshake(job->client, job->cancellable, &job->error);
  return nullptr;
}

void test_starttls_buffered_wrapper()
{
  StarttlsPeers peers;
  Watchdog watchdog(20000);
  ClientJob job{peers.client, watchdog.cancellable()};
  GThread *client_thread = g_thread_new("starttls-client", client_handshake_main, &job);
  for (int i = 0; i < 500 && !peers.client_hello_arrived(); i++)
    g_usleep(10000);
  g_assert_true(peers.client_hello_arrived());

  GInputStream *buffered = g_buffered_input_stream_new(g_io_stream_get_input_stream(peers.server_base));
  GError *error = nullptr;
  g_assert_cmpint(g_buffered_input_stream_fill(G_BUFFERED_INPUT_STREAM(buffered), -1, nullptr, &error), >, 9);
  g_assert_no_error(error);
  char line[9];
  gsize got = 0;
  g_assert_true(g_input_stream_read_all(buffered, line, sizeof line, &got, nullptr, &error));
  g_assert_cmpmem(line, got, "STARTTLS\n", 9);
  g_assert_cmpuint(g_buffered_input_stream_get_available(G_BUFFERED_INPUT_STREAM(buffered)), >=, 5);

  GIOStream *simple = g_simple_io_stream_new(buffered, g_io_stream_get_output_stream(peers.server_base));
  GSocketConnection *wrapper = g_tcp_wrapper_connection_new(simple, peers.server_socket);
  peers.make_server(G_IO_STREAM(wrapper));
  gboolean server_ok = g_tls_connection_handshake(peers.server, watchdog.cancellable(), &error);
  g_assert_no_error(error);
  g_assert_true(server_ok);
  g_thread_join(client_thread);
  g_assert_no_error(job.error);
  peers.exchange();

  g_object_unref(wrapper);
  g_object_unref(simple);
  g_object_unref(buffered);
}

// The same with a pollable base that serves the bytes read past the line
// first, and async handshakes on both ends: the connection must read
// through the wrapper's stream, not from the socket under it, although that
// socket could be read directly. Fails if the transport bypasses a wrapper.
void test_starttls_pollable_wrapper()
{
  StarttlsPeers peers;
  AsyncResult client_result, server_result;
  g_tls_connection_handshake_async(peers.client, G_PRIORITY_DEFAULT, nullptr, on_handshake, &client_result);
  g_assert_true(iterate_until([&] { return peers.client_hello_arrived(); }, 5000));

  // The server's line reader takes everything there is, line and ClientHello.
  char data[4096];
  GError *error = nullptr;
  gssize got = g_socket_receive(peers.server_socket, data, sizeof data, nullptr, &error);
  g_assert_no_error(error);
  g_assert_cmpint(got, >, 9 + 5);
  g_assert_cmpmem(data, 9, "STARTTLS\n", 9);
  auto *prefixed = static_cast<PrefixInputStream *>(g_object_new(prefix_input_stream_get_type(), nullptr));
  prefixed->base = G_INPUT_STREAM(g_object_ref(g_io_stream_get_input_stream(peers.server_base)));
  prefixed->prefix->assign(data + 9, static_cast<size_t>(got) - 9);

  GIOStream *simple = g_simple_io_stream_new(G_INPUT_STREAM(prefixed), g_io_stream_get_output_stream(peers.server_base));
  GSocketConnection *wrapper = g_tcp_wrapper_connection_new(simple, peers.server_socket);
  peers.make_server(G_IO_STREAM(wrapper));
  g_tls_connection_handshake_async(peers.server, G_PRIORITY_DEFAULT, nullptr, on_handshake, &server_result);
  g_assert_true(iterate_until([&] { return client_result.done && server_result.done; }, 10000));
  g_assert_no_error(client_result.error);
  g_assert_no_error(server_result.error);
  peers.exchange();

  g_object_unref(wrapper);
  g_object_unref(simple);
  g_object_unref(prefixed);
}

// ---------------------------------------------------------------------------
// Async handshakes on one thread

void test_async_handshake()
{
  Listener listener;
  GTlsDatabase *db = ca_database();
  GTlsCertificate *cert = server_certificate();
  Pair pair(listener, db, cert);
  handshake_both_ok(pair);
  assert_negotiated(pair.client);
  assert_negotiated(pair.server);
  g_assert_cmpuint(g_tls_connection_get_peer_certificate_errors(pair.client), ==, 0);

  // Data both ways, async, still on this thread.
  struct Io {
    bool done = false;
    gssize n = 0;
    GError *error = nullptr;
  } wrote, read;
  char buf[16] = {};
  g_output_stream_write_async(g_io_stream_get_output_stream(G_IO_STREAM(pair.server)), "hello", 5,
                              G_PRIORITY_DEFAULT, nullptr,
                              [](GObject *s, GAsyncResult *r, gpointer d) {
                                auto *io = static_cast<Io *>(d);
                                io->n = g_output_stream_write_finish(G_OUTPUT_STREAM(s), r, &io->error);
                                io->done = true;
                              },
                              &wrote);
  g_input_stream_read_async(g_io_stream_get_input_stream(G_IO_STREAM(pair.client)), buf, 5,
                            G_PRIORITY_DEFAULT, nullptr,
                            [](GObject *s, GAsyncResult *r, gpointer d) {
                              auto *io = static_cast<Io *>(d);
                              io->n = g_input_stream_read_finish(G_INPUT_STREAM(s), r, &io->error);
                              io->done = true;
                            },
                            &read);
  g_assert_true(iterate_until([&] { return wrote.done && read.done; }, 20000));
  g_assert_no_error(wrote.error);
  g_assert_no_error(read.error);
  g_assert_cmpint(wrote.n, ==, 5);
  g_assert_cmpint(read.n, ==, 5);
  g_assert_cmpstr(buf, ==, "hello");

  g_object_unref(cert);
  g_object_unref(db);
}

void test_many_async_handshakes()
{
  constexpr int kPairs = 50;
  Listener listener;
  GTlsDatabase *db = ca_database();
  GTlsCertificate *cert = server_certificate();

  // Warm up: one full handshake so any lazily started GLib helper thread
  // already exists before counting.
  {
    Pair warm(listener, db, cert);
    handshake_both_ok(warm);
  }
  int threads_before = thread_count();

  std::vector<Pair *> pairs;
  std::vector<AsyncResult> client_results(kPairs), server_results(kPairs);
  for (int i = 0; i < kPairs; i++)
    pairs.push_back(new Pair(listener, db, cert));
  for (int i = 0; i < kPairs; i++) {
    g_tls_connection_handshake_async(pairs[i]->server, G_PRIORITY_DEFAULT, nullptr, on_handshake,
                                     &server_results[i]);
    g_tls_connection_handshake_async(pairs[i]->client, G_PRIORITY_DEFAULT, nullptr, on_handshake,
                                     &client_results[i]);
  }
  int threads_max = thread_count();
  auto all_done = [&] {
    threads_max = MAX(threads_max, thread_count());
    for (int i = 0; i < kPairs; i++)
      if (!client_results[i].done || !server_results[i].done)
        return false;
    return true;
  };
  g_assert_true(iterate_until(all_done, 60000));
  for (int i = 0; i < kPairs; i++) {
    g_assert_no_error(client_results[i].error);
    g_assert_no_error(server_results[i].error);
    assert_negotiated(pairs[i]->client);
    g_assert_cmpuint(g_tls_connection_get_peer_certificate_errors(pairs[i]->client), ==, 0);
  }
  int threads_after = thread_count();
  g_test_message("threads: before %d, max during %d, after %d", threads_before, threads_max,
                 threads_after);
  // No thread per handshake: 100 handshakes ran, the count barely moved.
  g_assert_cmpint(threads_max, <=, threads_before + 4);
  g_assert_cmpint(threads_after, <=, threads_before + 4);

  for (Pair *p : pairs)
    delete p;
  g_object_unref(cert);
  g_object_unref(db);
}

// ---------------------------------------------------------------------------
// Peer certificates

// Each client sees the chain its own server sent, also when connections to
// servers with different chains alternate in one process.
void test_peer_chain_per_server()
{
  GTlsDatabase *db = ca_database();
  GError *error = nullptr;
  GTlsCertificate *rsa = server_certificate();
  GTlsCertificate *ecdsa = g_tls_certificate_new_from_files(
      data_path("server-ecdsa-chain.pem").c_str(), data_path("server-ecdsa-key.pem").c_str(), &error);
  g_assert_no_error(error);
  GTlsCertificate *servers[] = {rsa, ecdsa, rsa, ecdsa};
  for (GTlsCertificate *cert : servers) {
    // A listener (so a server identity) each: one identity's cached session
    // would resume with the chain of the server that made it.
    Listener listener;
    Pair pair(listener, db, cert);
    handshake_both_ok(pair);
    GTlsCertificate *peer = g_tls_connection_get_peer_certificate(pair.client);
    g_assert_nonnull(peer);
    g_assert_true(g_tls_certificate_is_same(peer, cert));
    GTlsCertificate *other = cert == rsa ? ecdsa : rsa;
    g_assert_false(g_tls_certificate_is_same(peer, other));
    // The issuer came with the chain, and is the server's too.
    GTlsCertificate *issuer = g_tls_certificate_get_issuer(peer);
    g_assert_nonnull(issuer);
    g_assert_true(g_tls_certificate_is_same(issuer, g_tls_certificate_get_issuer(cert)));
    g_assert_cmpuint(g_tls_connection_get_peer_certificate_errors(pair.client), ==, 0);
  }
  g_object_unref(ecdsa);
  g_object_unref(rsa);
  g_object_unref(db);
}

// ---------------------------------------------------------------------------
// ALPN

void test_alpn_match()
{
  Listener listener;
  GTlsDatabase *db = ca_database();
  GTlsCertificate *cert = server_certificate();
  Pair pair(listener, db, cert);
  set_protocols(pair.client, {"h2", "http/1.1"});
  set_protocols(pair.server, {"foo", "http/1.1"});
  handshake_both_ok(pair);
  g_assert_cmpstr(g_tls_connection_get_negotiated_protocol(pair.client), ==, "http/1.1");
  g_assert_cmpstr(g_tls_connection_get_negotiated_protocol(pair.server), ==, "http/1.1");
  g_object_unref(cert);
  g_object_unref(db);
}

void test_alpn_no_match()
{
  Listener listener;
  GTlsDatabase *db = ca_database();
  GTlsCertificate *cert = server_certificate();
  {
    // Disjoint lists: the handshake completes without a protocol.
    Pair pair(listener, db, cert);
    set_protocols(pair.client, {"h2"});
    set_protocols(pair.server, {"foo", "bar"});
    handshake_both_ok(pair);
    g_assert_null(g_tls_connection_get_negotiated_protocol(pair.client));
    g_assert_null(g_tls_connection_get_negotiated_protocol(pair.server));
  }
  {
    // Only the client advertises.
    Pair pair(listener, db, cert);
    set_protocols(pair.client, {"h2"});
    handshake_both_ok(pair);
    g_assert_null(g_tls_connection_get_negotiated_protocol(pair.client));
    g_assert_null(g_tls_connection_get_negotiated_protocol(pair.server));
  }
  {
    // Only the server advertises.
    Pair pair(listener, db, cert);
    set_protocols(pair.server, {"h2"});
    handshake_both_ok(pair);
    g_assert_null(g_tls_connection_get_negotiated_protocol(pair.client));
    g_assert_null(g_tls_connection_get_negotiated_protocol(pair.server));
  }
  g_object_unref(cert);
  g_object_unref(db);
}

// ---------------------------------------------------------------------------
// Untrusted server

struct AcceptLog {
  int calls = 0;
  GTlsCertificateFlags errors = GTlsCertificateFlags(0);
  gboolean answer = FALSE;
};

gboolean on_accept_certificate(GTlsConnection *, GTlsCertificate *peer, GTlsCertificateFlags errors,
                               gpointer data)
{
  auto *log = static_cast<AcceptLog *>(data);
  g_assert_nonnull(peer);
  log->calls++;
  log->errors = errors;
  return log->answer;
}

void test_untrusted_rejected()
{
  Listener listener;
  GTlsCertificate *cert = server_certificate();
  {
    // No database at all.
    Pair pair(listener, nullptr, cert);
    AsyncResult c, s;
    handshake_both(pair.client, pair.server, c, s);
    g_assert_error(c.error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE);
    g_assert_nonnull(s.error);
    g_assert_true(g_tls_connection_get_peer_certificate_errors(pair.client) & G_TLS_CERTIFICATE_UNKNOWN_CA);
  }
  {
    // The system database does not know the test CA either; a handler that
    // says no changes nothing.
    GIOStream *client_base = connect_loopback(listener.port);
    GIOStream *server_base = listener.accept();
    GSocketConnectable *identity = localhost_identity(listener.port);
    GError *error = nullptr;
    GIOStream *client = g_tls_client_connection_new(client_base, identity, &error);
    g_assert_no_error(error);
    GTlsConnection *server = new_server(server_base, cert);
    AcceptLog log;
    g_signal_connect(client, "accept-certificate", G_CALLBACK(on_accept_certificate), &log);
    AsyncResult c, s;
    handshake_both(G_TLS_CONNECTION(client), server, c, s);
    g_assert_error(c.error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE);
    g_assert_cmpint(log.calls, ==, 1);
    g_assert_true(log.errors & G_TLS_CERTIFICATE_UNKNOWN_CA);
    g_object_unref(server);
    g_object_unref(client);
    g_object_unref(identity);
    g_object_unref(client_base);
    g_object_unref(server_base);
  }
  g_object_unref(cert);
}

void test_untrusted_accepted()
{
  Listener listener;
  GTlsCertificate *cert = server_certificate();
  Pair pair(listener, nullptr, cert);
  AcceptLog log;
  log.answer = TRUE;
  g_signal_connect(pair.client, "accept-certificate", G_CALLBACK(on_accept_certificate), &log);
  handshake_both_ok(pair);
  g_assert_cmpint(log.calls, ==, 1);
  g_assert_true(log.errors & G_TLS_CERTIFICATE_UNKNOWN_CA);
  g_assert_true(g_tls_connection_get_peer_certificate_errors(pair.client) & G_TLS_CERTIFICATE_UNKNOWN_CA);
  g_assert_true(g_tls_certificate_is_same(g_tls_connection_get_peer_certificate(pair.client), cert));
  assert_negotiated(pair.client);
  g_object_unref(cert);
}

void test_wrong_identity_rejected()
{
  Listener listener;
  GTlsDatabase *db = ca_database();
  GTlsCertificate *cert = server_certificate();
  GIOStream *client_base = connect_loopback(listener.port);
  GIOStream *server_base = listener.accept();
  GSocketConnectable *identity = g_network_address_new("other.example.test", listener.port);
  GTlsConnection *client = new_client(client_base, identity, db);
  GTlsConnection *server = new_server(server_base, cert);
  AsyncResult c, s;
  handshake_both(client, server, c, s);
  g_assert_error(c.error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE);
  g_assert_cmpuint(g_tls_connection_get_peer_certificate_errors(client), ==, G_TLS_CERTIFICATE_BAD_IDENTITY);
  g_object_unref(client);
  g_object_unref(server);
  g_object_unref(identity);
  g_object_unref(client_base);
  g_object_unref(server_base);
  g_object_unref(cert);
  g_object_unref(db);
}

// ---------------------------------------------------------------------------
// Client authentication

void test_client_auth()
{
  Listener listener;
  GTlsDatabase *db = ca_database();
  GTlsCertificate *cert = server_certificate();
  GTlsCertificate *client_cert = client_certificate();
  {
    Pair pair(listener, db, cert);
    g_tls_connection_set_database(pair.server, db);
    g_object_set(pair.server, "authentication-mode", G_TLS_AUTHENTICATION_REQUIRED, nullptr);
    g_tls_connection_set_certificate(pair.client, client_cert);
    handshake_both_ok(pair);
    GTlsCertificate *seen = g_tls_connection_get_peer_certificate(pair.server);
    g_assert_nonnull(seen);
    g_assert_true(g_tls_certificate_is_same(seen, client_cert));
    g_assert_cmpuint(g_tls_connection_get_peer_certificate_errors(pair.server), ==, 0);
  }
  {
    // Required but not given: the server refuses.
    Pair pair(listener, db, cert);
    g_tls_connection_set_database(pair.server, db);
    g_object_set(pair.server, "authentication-mode", G_TLS_AUTHENTICATION_REQUIRED, nullptr);
    AsyncResult c, s;
    handshake_both(pair.client, pair.server, c, s);
    g_assert_error(s.error, G_TLS_ERROR, G_TLS_ERROR_CERTIFICATE_REQUIRED);
    g_assert_null(g_tls_connection_get_peer_certificate(pair.server));
    // In TLS 1.3 the client's handshake is over before the server decides;
    // the refusal then arrives with the first read.
    if (!c.error) {
      char byte;
      GError *error = nullptr;
      gssize n = g_input_stream_read(g_io_stream_get_input_stream(G_IO_STREAM(pair.client)), &byte,
                                     1, nullptr, &error);
      g_assert_cmpint(n, <=, 0);
      if (n < 0)
        g_clear_error(&error);
    }
  }
  g_object_unref(client_cert);
  g_object_unref(cert);
  g_object_unref(db);
}

// Our client: connect, handshake naming `identity`, read "hi\n", close.
void client_session_against(guint16 port, GSocketConnectable *identity, GTlsDatabase *db)
{
  GIOStream *base = connect_loopback(port);
  GTlsConnection *client = new_client(base, identity, db);
  Watchdog watchdog(20000);
  GError *error = nullptr;
  g_assert_true(g_tls_connection_handshake(client, watchdog.cancellable(), &error));
  g_assert_no_error(error);
  g_assert_cmpint(g_tls_connection_get_protocol_version(client), ==, expected_protocol());
  g_assert_cmpuint(g_tls_connection_get_peer_certificate_errors(client), ==, 0);
  std::string hi = read_exactly(G_IO_STREAM(client), 3, watchdog.cancellable());
  g_assert_cmpstr(hi.c_str(), ==, "hi\n");
  close_stream(G_IO_STREAM(client));
  g_object_unref(client);
  g_object_unref(base);
}

// ---------------------------------------------------------------------------
// SNI

void test_sni()
{
  GTlsDatabase *db = ca_database();
  RawServer server(3);
  GSocketConnectable *by_name = localhost_identity(server.port);
  GSocketConnectable *by_ip = G_SOCKET_CONNECTABLE(g_inet_socket_address_new_from_string("127.0.0.1", server.port));
  GSocketConnectable *by_ip_name = g_network_address_new("127.0.0.1", server.port);
  client_session_against(server.port, by_name, db);
  client_session_against(server.port, by_ip, db);
  client_session_against(server.port, by_ip_name, db);
  server.join();
  g_assert_cmpstr(server.failure.c_str(), ==, "");
  g_assert_cmpuint(server.sni.size(), ==, 3);
  g_assert_cmpstr(server.sni[0].c_str(), ==, "localhost");
  g_assert_cmpstr(server.sni[1].c_str(), ==, "");
  g_assert_cmpstr(server.sni[2].c_str(), ==, "");
  g_object_unref(by_name);
  g_object_unref(by_ip);
  g_object_unref(by_ip_name);
  g_object_unref(db);
}

// ---------------------------------------------------------------------------
// Session resumption

// Our client resumes with the same server identity; the raw GnuTLS server
// reports whether it did.
void test_resumption_client()
{
  GTlsDatabase *db = ca_database();
  RawServer server(3);
  GSocketConnectable *identity = localhost_identity(server.port);
  client_session_against(server.port, identity, db);
  client_session_against(server.port, identity, db);
  client_session_against(server.port, identity, db);
  server.join();
  g_assert_cmpstr(server.failure.c_str(), ==, "");
  g_assert_cmpuint(server.resumed.size(), ==, 3);
  g_assert_false(server.resumed[0]);
  g_assert_true(server.resumed[1]);
  g_assert_true(server.resumed[2]);
  g_object_unref(identity);
  g_object_unref(db);
}

void test_resumption_server()
{
  constexpr int kConnections = 3;
  Listener listener;
  GTlsCertificate *cert = server_certificate();
  RawClient client(listener.port, kConnections);
  for (int i = 0; i < kConnections; i++) {
    Watchdog watchdog(20000);
    GIOStream *base = listener.accept(watchdog.cancellable());
    GTlsConnection *server = new_server(base, cert);
    GError *error = nullptr;
    g_assert_true(g_tls_connection_handshake(server, watchdog.cancellable(), &error));
    g_assert_no_error(error);
    write_all(G_IO_STREAM(server), "hi\n", 3);
    close_stream(G_IO_STREAM(server));
    g_object_unref(server);
    g_object_unref(base);
  }
  client.join();
  g_assert_cmpstr(client.failure.c_str(), ==, "");
  g_assert_cmpuint(client.resumed.size(), ==, kConnections);
  for (int i = 0; i < kConnections; i++)
    g_assert_cmpstr(client.received[i].c_str(), ==, "hi\n");
  g_assert_false(client.resumed[0]);
  g_assert_true(client.resumed[1]);
  g_assert_true(client.resumed[2]);
  g_object_unref(cert);
}

void count_notify(GObject *, GParamSpec *, gpointer data)
{
  ++*static_cast<int *>(data);
}

// Both ends ours: repeated connections to one identity keep working (the
// resumed path verifies and reports the peer certificate as the full one did).
// Our `session-resumed` is FALSE after the first handshake and TRUE after the
// resumed ones, on both ends, and notified when it changes (FALSE to TRUE).
void test_resumption_pair()
{
  Listener listener;
  GTlsDatabase *db = ca_database();
  GTlsCertificate *cert = server_certificate();
  for (int i = 0; i < 3; i++) {
    int client_notified = 0;  // outlive the pair, whose handlers count into them
    int server_notified = 0;
    Pair pair(listener, db, cert);
    g_signal_connect(pair.client, "notify::session-resumed", G_CALLBACK(count_notify), &client_notified);
    g_signal_connect(pair.server, "notify::session-resumed", G_CALLBACK(count_notify), &server_notified);
    handshake_both_ok(pair);
    gboolean client_resumed = i == 0;
    gboolean server_resumed = i == 0;
    g_object_get(pair.client, "session-resumed", &client_resumed, nullptr);
    g_object_get(pair.server, "session-resumed", &server_resumed, nullptr);
    g_assert_cmpint(client_resumed, ==, i > 0);
    g_assert_cmpint(server_resumed, ==, i > 0);
    g_assert_cmpint(client_notified, ==, i > 0 ? 1 : 0);
    g_assert_cmpint(server_notified, ==, i > 0 ? 1 : 0);
    // Let the client take in any TLS 1.3 ticket before the next round.
    write_all(G_IO_STREAM(pair.server), "x", 1);
    std::string byte = read_exactly(G_IO_STREAM(pair.client), 1);
    g_assert_cmpstr(byte.c_str(), ==, "x");
    assert_negotiated(pair.client);
    g_assert_cmpuint(g_tls_connection_get_peer_certificate_errors(pair.client), ==, 0);
    GTlsCertificate *peer = g_tls_connection_get_peer_certificate(pair.client);
    g_assert_nonnull(peer);
    g_assert_true(g_tls_certificate_is_same(peer, cert));
  }
  g_object_unref(cert);
  g_object_unref(db);
}

// ---------------------------------------------------------------------------
// Cancellation

struct DelayedCancel {
  GCancellable *cancellable;
  unsigned delay_ms;
};

gpointer delayed_cancel_main(gpointer data)
{
  auto *job = static_cast<DelayedCancel *>(data);
  g_usleep(job->delay_ms * 1000);
  g_cancellable_cancel(job->cancellable);
  return nullptr;
}

void test_cancel_sync_handshake()
{
  Listener listener;
  GTlsDatabase *db = ca_database();
  // The kernel completes the TCP handshake; nobody ever accepts or answers.
  GIOStream *base = connect_loopback(listener.port);
  GSocketConnectable *identity = localhost_identity(listener.port);
  GTlsConnection *client = new_client(base, identity, db);
  GCancellable *cancellable = g_cancellable_new();
  DelayedCancel job{cancellable, 200};
  GThread *canceller = g_thread_new("canceller", delayed_cancel_main, &job);
  gint64 start = g_get_monotonic_time();
  GError *error = nullptr;
  g_assert_false(g_tls_connection_handshake(client, cancellable, &error));
  gint64 elapsed_ms = (g_get_monotonic_time() - start) / 1000;
  g_thread_join(canceller);
  g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_error_free(error);
  g_assert_cmpint(elapsed_ms, <, 5000);
  g_object_unref(cancellable);
  g_object_unref(client);
  g_object_unref(identity);
  g_object_unref(base);
  g_object_unref(db);
}

void test_cancel_async_handshake()
{
  Listener listener;
  GTlsDatabase *db = ca_database();
  GIOStream *base = connect_loopback(listener.port);
  GSocketConnectable *identity = localhost_identity(listener.port);
  GTlsConnection *client = new_client(base, identity, db);
  GCancellable *cancellable = g_cancellable_new();
  AsyncResult result;
  g_tls_connection_handshake_async(client, G_PRIORITY_DEFAULT, cancellable, on_handshake, &result);
  g_timeout_add(
      100,
      [](gpointer c) -> gboolean {
        g_cancellable_cancel(G_CANCELLABLE(c));
        return G_SOURCE_REMOVE;
      },
      cancellable);
  g_assert_true(iterate_until([&] { return result.done; }, 5000));
  g_assert_error(result.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_object_unref(cancellable);
  g_object_unref(client);
  g_object_unref(identity);
  g_object_unref(base);
  g_object_unref(db);
}

// ---------------------------------------------------------------------------
// Channel binding

GByteArray *binding(GTlsConnection *conn, GTlsChannelBindingType type, GError **error)
{
  GByteArray *data = g_byte_array_new();
  if (!g_tls_connection_get_channel_binding_data(conn, type, data, error)) {
    g_byte_array_unref(data);
    return nullptr;
  }
  return data;
}

void assert_same_binding(Pair &pair, GTlsChannelBindingType type)
{
  GError *error = nullptr;
  GByteArray *c = binding(pair.client, type, &error);
  g_assert_no_error(error);
  GByteArray *s = binding(pair.server, type, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(c->len, >, 0);
  g_assert_cmpmem(c->data, c->len, s->data, s->len);
  g_byte_array_unref(c);
  g_byte_array_unref(s);
}

// tls-server-end-point: the same on both sides, the SHA-256 of the server
// certificate (RFC 5929 §4.1: its signature uses SHA-256). Three rounds to
// one server identity, so the later ones are resumed sessions, where the
// server sends no Certificate but still knows its own.
void test_channel_binding_server_end_point()
{
  Listener listener;
  GTlsDatabase *db = ca_database();
  GTlsCertificate *cert = server_certificate();
  GByteArray *der = nullptr;
  g_object_get(cert, "certificate", &der, nullptr);
  char *expected = g_compute_checksum_for_data(G_CHECKSUM_SHA256, der->data, der->len);
  g_byte_array_unref(der);
  for (int round = 0; round < 3; round++) {
    Pair pair(listener, db, cert);
    handshake_both_ok(pair);
    // Let the client take in a TLS 1.3 ticket for the next round.
    write_all(G_IO_STREAM(pair.server), "x", 1);
    std::string byte = read_exactly(G_IO_STREAM(pair.client), 1);
    g_assert_cmpstr(byte.c_str(), ==, "x");

    GError *error = nullptr;
    GByteArray *c = binding(pair.client, G_TLS_CHANNEL_BINDING_TLS_SERVER_END_POINT, &error);
    g_assert_no_error(error);
    GString *hex = g_string_new(nullptr);
    for (guint i = 0; i < c->len; i++)
      g_string_append_printf(hex, "%02x", c->data[i]);
    g_assert_cmpstr(hex->str, ==, expected);
    g_string_free(hex, TRUE);

    GByteArray *s = binding(pair.server, G_TLS_CHANNEL_BINDING_TLS_SERVER_END_POINT, &error);
    g_assert_no_error(error);
    g_assert_cmpmem(c->data, c->len, s->data, s->len);
    g_byte_array_unref(s);
    g_byte_array_unref(c);
  }
  g_free(expected);
  g_object_unref(cert);
  g_object_unref(db);
}

// TLS 1.3: tls-exporter equal on both sides, fresh per connection, and
// tls-unique refused. TLS 1.2: tls-unique equal on both sides.
void test_channel_binding_session()
{
  Listener listener;
  GTlsDatabase *db = ca_database();
  GTlsCertificate *cert = server_certificate();
  GByteArray *first = nullptr;
  GTlsChannelBindingType type = current_version == Version::Tls13 ? G_TLS_CHANNEL_BINDING_TLS_EXPORTER
                                                                  : G_TLS_CHANNEL_BINDING_TLS_UNIQUE;
  for (int round = 0; round < 2; round++) {
    Pair pair(listener, db, cert);
    handshake_both_ok(pair);
    assert_same_binding(pair, type);
    GError *error = nullptr;
    GByteArray *data = binding(pair.client, type, &error);
    g_assert_no_error(error);
    if (type == G_TLS_CHANNEL_BINDING_TLS_EXPORTER)
      g_assert_cmpuint(data->len, ==, 32);
    else
      g_assert_cmpuint(data->len, ==, 12);  // the first Finished's verify_data
    // Fresh keys per connection: the binding differs between connections.
    if (first) {
      g_assert_false(data->len == first->len && memcmp(data->data, first->data, data->len) == 0);
      g_byte_array_unref(data);
    } else {
      first = data;
    }
    if (current_version == Version::Tls13) {
      // tls-unique is not defined for TLS 1.3 (RFC 8446 §C.5).
      GByteArray *unique = binding(pair.client, G_TLS_CHANNEL_BINDING_TLS_UNIQUE, &error);
      g_assert_null(unique);
      g_assert_true(g_error_matches(error, G_TLS_CHANNEL_BINDING_ERROR, G_TLS_CHANNEL_BINDING_ERROR_NOT_SUPPORTED) ||
                    g_error_matches(error, G_TLS_CHANNEL_BINDING_ERROR, G_TLS_CHANNEL_BINDING_ERROR_NOT_AVAILABLE));
      g_clear_error(&error);
    }
  }
  g_byte_array_unref(first);
  g_object_unref(cert);
  g_object_unref(db);
}

void test_channel_binding_before_handshake()
{
  Listener listener;
  GTlsDatabase *db = ca_database();
  GTlsCertificate *cert = server_certificate();
  Pair pair(listener, db, cert);
  GError *error = nullptr;
  GByteArray *data = binding(pair.client, G_TLS_CHANNEL_BINDING_TLS_SERVER_END_POINT, &error);
  g_assert_null(data);
  g_assert_error(error, G_TLS_CHANNEL_BINDING_ERROR, G_TLS_CHANNEL_BINDING_ERROR_INVALID_STATE);
  g_clear_error(&error);
  g_object_unref(cert);
  g_object_unref(db);
}

// ---------------------------------------------------------------------------
// Interoperation with gnutls-serv, gnutls-cli, openssl

// Our client against an echoing server program on `port`: handshake with
// ALPN, send a line, expect `expected` back.
void client_against_peer(guint16 port, const char *line, const char *expected)
{
  GTlsDatabase *db = ca_database();
  GIOStream *base = connect_loopback(port);
  GSocketConnectable *identity = localhost_identity(port);
  GTlsConnection *client = new_client(base, identity, db);
  set_protocols(client, {"h2"});
  Watchdog watchdog(20000);
  GError *error = nullptr;
  g_assert_true(g_tls_connection_handshake(client, watchdog.cancellable(), &error));
  g_assert_no_error(error);
  assert_negotiated(client);
  g_assert_cmpuint(g_tls_connection_get_peer_certificate_errors(client), ==, 0);
  g_assert_cmpstr(g_tls_connection_get_negotiated_protocol(client), ==, "h2");
  write_all(G_IO_STREAM(client), line, strlen(line));
  std::string back = read_exactly(G_IO_STREAM(client), strlen(expected), watchdog.cancellable());
  g_assert_cmpstr(back.c_str(), ==, expected);
  g_io_stream_close(G_IO_STREAM(client), nullptr, nullptr);
  g_object_unref(client);
  g_object_unref(identity);
  g_object_unref(base);
  g_object_unref(db);
}

void test_interop_gnutls_serv()
{
  std::string program;
  if (!have_program("gnutls-serv", &program)) {
    skip("gnutls-serv not installed");
    return;
  }
  guint16 port = free_port();
  PeerProcess peer({program, "--port", std::to_string(port), "--echo", "--disable-client-cert",
                    "--x509certfile", data_path("server-chain.pem"), "--x509keyfile",
                    data_path("server-key.pem"), "--alpn", "h2"},
                   GSubprocessFlags(G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE));
  g_assert_true(wait_for_port(port));
  client_against_peer(port, "ping\n", "ping\n");
}

void test_interop_openssl_server()
{
  std::string program;
  if (!have_program("openssl", &program)) {
    skip("openssl not installed");
    return;
  }
  guint16 port = free_port();
  // -rev: each line comes back reversed.
  PeerProcess peer({program, "s_server", "-accept", std::to_string(port), "-cert",
                    data_path("server.pem"), "-key", data_path("server-key.pem"), "-cert_chain",
                    data_path("intermediate-ca.pem"), "-alpn", "h2", "-rev", "-quiet"},
                   GSubprocessFlags(G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                                    G_SUBPROCESS_FLAGS_STDERR_SILENCE));
  g_assert_true(wait_for_port(port));
  client_against_peer(port, "ping\n", "gnip\n");
}

// Our server for a client program: accept, handshake offering h2, send
// "pong\n", close. Returns the client program's stdout.
std::string serve_peer(Listener &listener, PeerProcess &peer)
{
  GTlsCertificate *cert = server_certificate();
  Watchdog watchdog(20000);
  GIOStream *base = listener.accept(watchdog.cancellable());
  GTlsConnection *server = new_server(base, cert);
  set_protocols(server, {"h2"});
  GError *error = nullptr;
  g_assert_true(g_tls_connection_handshake(server, watchdog.cancellable(), &error));
  g_assert_no_error(error);
  assert_negotiated(server);
  g_assert_cmpstr(g_tls_connection_get_negotiated_protocol(server), ==, "h2");
  write_all(G_IO_STREAM(server), "pong\n", 5);
  close_stream(G_IO_STREAM(server));
  std::string out = peer.read_stdout(watchdog.cancellable());
  g_object_unref(server);
  g_object_unref(base);
  g_object_unref(cert);
  return out;
}

void test_interop_gnutls_cli()
{
  std::string program;
  if (!have_program("gnutls-cli", &program)) {
    skip("gnutls-cli not installed");
    return;
  }
  Listener listener;
  // stdin stays open (a pipe we never write) so the client does not quit
  // before the server speaks.
  PeerProcess peer({program, "--port", std::to_string(listener.port), "--x509cafile",
                    data_path("ca.pem"), "--alpn", "h2", "localhost"},
                   GSubprocessFlags(G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                    G_SUBPROCESS_FLAGS_STDERR_MERGE));
  std::string out = serve_peer(listener, peer);
  g_test_message("gnutls-cli said:\n%s", out.c_str());
  g_assert_nonnull(strstr(out.c_str(), "pong"));
  g_assert_nonnull(strstr(out.c_str(), "The certificate is trusted"));
  g_assert_nonnull(strstr(out.c_str(), "Application protocol: h2"));
  g_assert_nonnull(strstr(out.c_str(), current_version == Version::Tls13 ? "(TLS1.3" : "(TLS1.2"));
}

void test_interop_openssl_client()
{
  std::string program;
  if (!have_program("openssl", &program)) {
    skip("openssl not installed");
    return;
  }
  Listener listener;
  PeerProcess peer({program, "s_client", "-connect", "127.0.0.1:" + std::to_string(listener.port),
                    "-servername", "localhost", "-verify_hostname", "localhost", "-CAfile",
                    data_path("ca.pem"), "-verify_return_error", "-alpn", "h2"},
                   GSubprocessFlags(G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                    G_SUBPROCESS_FLAGS_STDERR_MERGE));
  std::string out = serve_peer(listener, peer);
  g_test_message("openssl s_client said:\n%s", out.c_str());
  g_assert_nonnull(strstr(out.c_str(), "pong"));
  g_assert_nonnull(strstr(out.c_str(), "Verify return code: 0 (ok)"));
  g_assert_nonnull(strstr(out.c_str(), "ALPN protocol: h2"));
  g_assert_nonnull(strstr(out.c_str(), current_version == Version::Tls13 ? "TLSv1.3" : "TLSv1.2"));
}

// Resumption seen by gnutls-cli --resume against our server.
void test_interop_gnutls_cli_resume()
{
  std::string program;
  if (!have_program("gnutls-cli", &program)) {
    skip("gnutls-cli not installed");
    return;
  }
  Listener listener;
  PeerProcess peer({program, "--port", std::to_string(listener.port), "--x509cafile",
                    data_path("ca.pem"), "--resume", "localhost"},
                   GSubprocessFlags(G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                    G_SUBPROCESS_FLAGS_STDERR_MERGE));
  GTlsCertificate *cert = server_certificate();
  Watchdog watchdog(20000);
  for (int i = 0; i < 2; i++) {
    GIOStream *base = listener.accept(watchdog.cancellable());
    GTlsConnection *server = new_server(base, cert);
    GError *error = nullptr;
    g_assert_true(g_tls_connection_handshake(server, watchdog.cancellable(), &error));
    g_assert_no_error(error);
    if (i == 1)
      write_all(G_IO_STREAM(server), "pong\n", 5);
    // The first connection: gnutls-cli closes after its handshake (TLS 1.3:
    // after reading the ticket); wait for that before accepting again.
    if (i == 0) {
      char buf[64];
      g_input_stream_read(g_io_stream_get_input_stream(G_IO_STREAM(server)), buf, sizeof buf,
                          watchdog.cancellable(), nullptr);
    }
    g_io_stream_close(G_IO_STREAM(server), nullptr, nullptr);
    g_object_unref(server);
    g_object_unref(base);
  }
  std::string out = peer.read_stdout(watchdog.cancellable());
  g_test_message("gnutls-cli said:\n%s", out.c_str());
  g_assert_nonnull(strstr(out.c_str(), "This is a resumed session"));
  g_object_unref(cert);
}

// ---------------------------------------------------------------------------

struct TestDef {
  const char *name;
  void (*run)();
};

const TestDef kTests[] = {
    {"sync-echo", test_sync_echo},
    {"streams-outlive-connection", test_streams_outlive_connection},
    {"starttls/buffered-wrapper", test_starttls_buffered_wrapper},
    {"starttls/pollable-wrapper", test_starttls_pollable_wrapper},
    {"async-handshake", test_async_handshake},
    {"many-async-handshakes", test_many_async_handshakes},
    {"peer-certificate/chain-per-server", test_peer_chain_per_server},
    {"alpn/match", test_alpn_match},
    {"alpn/no-match", test_alpn_no_match},
    {"untrusted/rejected", test_untrusted_rejected},
    {"untrusted/accepted", test_untrusted_accepted},
    {"untrusted/wrong-identity", test_wrong_identity_rejected},
    {"client-auth", test_client_auth},
    {"sni", test_sni},
    {"resumption/client", test_resumption_client},
    {"resumption/server", test_resumption_server},
    {"resumption/pair", test_resumption_pair},
    {"cancel/sync-handshake", test_cancel_sync_handshake},
    {"cancel/async-handshake", test_cancel_async_handshake},
    {"channel-binding/server-end-point", test_channel_binding_server_end_point},
    {"channel-binding/exporter-or-unique", test_channel_binding_session},
    {"channel-binding/before-handshake", test_channel_binding_before_handshake},
    {"interop/gnutls-serv", test_interop_gnutls_serv},
    {"interop/openssl-s-server", test_interop_openssl_server},
    {"interop/gnutls-cli", test_interop_gnutls_cli},
    {"interop/gnutls-cli-resume", test_interop_gnutls_cli_resume},
    {"interop/openssl-s-client", test_interop_openssl_client},
};

}  // namespace

int main(int argc, char **argv)
{
  // Decide before g_test_init: a TLS 1.2 child has the variable set by us.
  priority_overridden = g_getenv("G_TLS_GNUTLS_PRIORITY") != nullptr && !g_getenv(kReportEnv);
  g_test_init(&argc, &argv, nullptr);

  const char *name = g_getenv("GTG_BACKEND_NAME");
  g_assert_nonnull(name);
  std::string expected = std::string("GTlsBackend") + static_cast<char>(g_ascii_toupper(name[0])) + (name + 1);
  g_assert_cmpstr(G_OBJECT_TYPE_NAME(g_tls_backend_get_default()), ==, expected.c_str());

  static std::vector<Case> cases;
  cases.reserve(2 * G_N_ELEMENTS(kTests));
  for (Version v : {Version::Tls13, Version::Tls12})
    for (const TestDef &t : kTests)
      cases.push_back({std::string("/connection/") + (v == Version::Tls13 ? "tls1.3/" : "tls1.2/") + t.name,
                       t.run, v});
  for (const Case &c : cases)
    g_test_add_data_func(c.path.c_str(), &c, run_case);
  return g_test_run();
}
