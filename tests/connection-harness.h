// Loopback harness for the connection tests (test-connection.cc): the test
// PKI, bounded waiting, TCP pairs of GTlsConnections on 127.0.0.1, and the
// stream helpers the tests share. Everything goes through the public GIO
// API; failures are g_assert failures. Main thread unless a comment says
// otherwise.
#pragma once

#include <gio/gio.h>

#include <atomic>
#include <functional>

#include <string>
#include <vector>

namespace conn_test {

// ---------------------------------------------------------------------------
// Test data (tests/files, see make-files.sh)

// The path of `name` in tests/files.
std::string data_path(const char *name);

// The server certificate (RSA, signed by the intermediate; SAN localhost and
// 127.0.0.1) with its chain and key.
GTlsCertificate *server_certificate();

// The client certificate (clientAuth, signed by the root) with its key.
GTlsCertificate *client_certificate();

// A GTlsFileDatabase trusting only the test root CA.
GTlsDatabase *ca_database();

// ---------------------------------------------------------------------------
// Waiting, bounded

// Iterates the default main context until `done()` or `timeout_ms` passed;
// returns `done()`.
template <typename Done>
bool iterate_until(Done done, unsigned timeout_ms)
{
  bool timed_out = false;
  guint id = g_timeout_add(
      timeout_ms,
      [](gpointer p) -> gboolean {
        *static_cast<bool *>(p) = true;
        return G_SOURCE_REMOVE;
      },
      &timed_out);
  while (!done() && !timed_out)
    g_main_context_iteration(nullptr, TRUE);
  if (!timed_out)
    g_source_remove(id);
  return done();
}

// Cancels its cancellable from its own thread after `timeout_ms`, unless
// destroyed first. Bounds blocking calls.
class Watchdog {
 public:
  explicit Watchdog(unsigned timeout_ms);
  ~Watchdog();
  Watchdog(const Watchdog &) = delete;
  Watchdog &operator=(const Watchdog &) = delete;

  GCancellable *cancellable() const { return cancellable_; }

 private:
  static gpointer main(gpointer data);

  GCancellable *cancellable_;
  gint64 deadline_;
  GMutex mutex_;
  GCond cond_;
  // Atomic as well as under mutex_: ThreadSanitizer does not see GLib's
  // futex-based GMutex as synchronization.
  std::atomic<bool> stop_{false};
  GThread *thread_ = nullptr;
};

// Runs `peer` (a raw peer's part of a test) on a thread of its own;
// join(), or the destructor, waits for it.
class PeerThread {
 public:
  explicit PeerThread(std::function<void()> peer);
  ~PeerThread() { join(); }
  PeerThread(const PeerThread &) = delete;
  PeerThread &operator=(const PeerThread &) = delete;
  void join();

 private:
  static gpointer main(gpointer data);
  std::function<void()> peer_;
  GThread *thread_ = nullptr;
};

// The number of threads of this process (/proc/self/status).
int thread_count();

// ---------------------------------------------------------------------------
// Loopback transport

// A listener on 127.0.0.1 at a kernel-chosen port.
struct Listener {
  GSocketListener *listener = nullptr;
  guint16 port = 0;

  Listener();
  ~Listener();
  Listener(const Listener &) = delete;
  Listener &operator=(const Listener &) = delete;

  // The next connection (transfer full); asserts on error or cancellation.
  GIOStream *accept(GCancellable *cancellable = nullptr);
};

// A TCP connection to 127.0.0.1:`port` (transfer full).
GIOStream *connect_loopback(guint16 port);

// The identity "localhost:`port`" (transfer full).
GSocketConnectable *localhost_identity(guint16 port);

// A client connection over `base` naming `identity`, with `db` (nullable:
// none) as its database (transfer full).
GTlsConnection *new_client(GIOStream *base, GSocketConnectable *identity, GTlsDatabase *db);

// A server connection over `base` with `cert` (transfer full).
GTlsConnection *new_server(GIOStream *base, GTlsCertificate *cert);

// A connected client/server pair of TLS connections over loopback TCP, the
// client using `db` and naming "localhost:port", the server using `cert`.
struct Pair {
  GTlsConnection *client = nullptr;
  GTlsConnection *server = nullptr;

  Pair(Listener &listener, GTlsDatabase *db, GTlsCertificate *cert);
  ~Pair();
  Pair(const Pair &) = delete;
  Pair &operator=(const Pair &) = delete;
};

// The outcome of an async operation, filled in by its callback.
struct AsyncResult {
  bool done = false;
  GError *error = nullptr;
  ~AsyncResult() { g_clear_error(&error); }
};

// GAsyncReadyCallback for g_tls_connection_handshake_async; `data` is an
// AsyncResult.
void on_handshake(GObject *source, GAsyncResult *result, gpointer data);

// Runs both handshakes asynchronously on this thread's main context (20 s
// bound each). If the client fails first, closes its transport so the
// server's handshake ends too.
void handshake_both(GTlsConnection *client, GTlsConnection *server, AsyncResult &client_result,
                    AsyncResult &server_result);

// handshake_both, asserting that both succeed.
void handshake_both_ok(Pair &pair);

// Sets the ALPN protocols `conn` advertises.
void set_protocols(GTlsConnection *conn, std::vector<const char *> protocols);

// Writes all of `data`; asserts on error.
void write_all(GIOStream *stream, const void *data, gsize size);

// Reads exactly `size` bytes; asserts on error or early EOF.
std::string read_exactly(GIOStream *stream, gsize size, GCancellable *cancellable = nullptr);

// Closes `stream` (for TLS: sends close_notify); asserts on error.
void close_stream(GIOStream *stream);

}  // namespace conn_test
