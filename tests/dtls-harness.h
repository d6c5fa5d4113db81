// Helpers shared by the DTLS test programs (test-dtls, test-dtls-lossy,
// test-dtls-interop): the test PKI, loopback UDP sockets, DTLS connections
// through the public GIO API, datagram send/receive wrappers, a watchdog that
// bounds every wait, and a bounded main-context loop.
//
// The helpers assert (g_assert_*) on setup failures; the send/receive
// wrappers return errors to the caller, which decides what is expected.
// Test data: tests/files (make-files.sh), found through TEST_FILES_DIR.
#pragma once

#include <gio/gio.h>

#include <condition_variable>
#include <initializer_list>
#include <mutex>
#include <string>
#include <thread>

namespace gtg_test {

// ----- Test data -----

// The path of `name` in tests/files.
std::string data_path(const char *name);
// A certificate from a PEM file, with its key from `key` (nullptr: the same file).
GTlsCertificate *certificate_from(const char *cert, const char *key);
// The RSA server certificate with its chain and key (identity "localhost").
GTlsCertificate *server_certificate();
// A GTlsFileDatabase holding the test root CA.
GTlsDatabase *ca_database();

// ----- Sockets and connections -----

// A UDP socket bound to 127.0.0.1 on a free port.
GSocket *udp_socket();
guint16 local_port(GSocket *s);
// Connects `s` to 127.0.0.1:`port`.
void connect_to_port(GSocket *s, guint16 port);
// A DTLS client for identity "localhost" trusting `db`.
GDatagramBased *new_client(GDatagramBased *base, GTlsDatabase *db);
GDatagramBased *new_server(GDatagramBased *base, GTlsCertificate *cert);
void set_protocols(GDatagramBased *conn, std::initializer_list<const char *> protocols);

// ----- Datagrams -----

// Sends one datagram; returns the number of messages sent (-1 on error).
gint send_datagram(GDatagramBased *conn, const std::string &data, gint64 timeout,
                   GCancellable *cancellable, GError **error);
// Sends one datagram, blocking, and asserts it went.
void send_ok(GDatagramBased *conn, const std::string &data, GCancellable *cancellable);
// Receives one datagram into `out` (false with `error` set on failure; an
// empty `out` at the end of the session).
bool receive_datagram(GDatagramBased *conn, std::string *out, gint64 timeout,
                      GCancellable *cancellable, GError **error);
// Receives one datagram, blocking, and asserts it came.
std::string receive_ok(GDatagramBased *conn, GCancellable *cancellable);
// Receives one datagram, blocking, and asserts it is `expected`.
void expect_datagram(GDatagramBased *conn, const std::string &expected, GCancellable *cancellable);

// ----- Handshakes -----

struct HandshakeResult {
  bool ok = false;
  GError *error = nullptr;  // (owned, nullable)
};

// Runs the server's handshake in a thread and the client's on this one.
void handshake_both(GDatagramBased *client, GDatagramBased *server, GCancellable *cancellable,
                    HandshakeResult *out_client, HandshakeResult *out_server);
// The same, asserting both succeed.
void handshake_both_ok(GDatagramBased *client, GDatagramBased *server, GCancellable *cancellable);

// Cancels its cancellable after `timeout_ms` unless destroyed first.
class Watchdog {
public:
  explicit Watchdog(unsigned timeout_ms);
  ~Watchdog();
  Watchdog(const Watchdog &) = delete;
  Watchdog &operator=(const Watchdog &) = delete;
  GCancellable *cancellable() { return cancellable_; }

private:
  GCancellable *cancellable_;  // (owned)
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;  // guarded by mutex_
  std::thread thread_;
};

// Two UDP sockets on loopback, each connected to the other.
struct UdpPair {
  GSocket *client = udp_socket();  // (owned)
  GSocket *server = udp_socket();  // (owned)
  UdpPair();
  ~UdpPair();
  UdpPair(const UdpPair &) = delete;
  UdpPair &operator=(const UdpPair &) = delete;
};

// A DTLS client and server over a UdpPair, handshake not yet run.
struct DtlsPair {
  UdpPair udp;
  GTlsCertificate *cert = server_certificate();  // (owned)
  GTlsDatabase *db = ca_database();              // (owned)
  GDatagramBased *client;                        // (owned)
  GDatagramBased *server;                        // (owned)
  DtlsPair();
  ~DtlsPair();
  DtlsPair(const DtlsPair &) = delete;
  DtlsPair &operator=(const DtlsPair &) = delete;
};

// Iterates `context` until `done()` or `seconds` pass, then asserts `done()`.
template <typename Pred>
void iterate_until(GMainContext *context, Pred done, int seconds = 20)
{
  gint64 deadline = g_get_monotonic_time() + seconds * G_USEC_PER_SEC;
  for (int i = 0; i < 100000000 && !done() && g_get_monotonic_time() < deadline; i++) {
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

}  // namespace gtg_test
