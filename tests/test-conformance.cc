// Protocol conformance against raw peers, through the public GIO API:
// - the alert discipline: after a fatal alert, sent or received, nothing
//   more is written (no second alert, no close_notify), later reads and
//   writes fail with the same error, and closing still closes the base
//   (sync, async, and through the streams; TLS 1.2, TLS 1.3 and DTLS 1.2);
// - the default priority: Extended Master Secret and Encrypt-then-MAC are
//   negotiated, and are not with G_TLS_GNUTLS_PRIORITY=NORMAL:%COMPAT;
// - TLS 1.2 DHE with a client that offers no supported groups.
//
// The peers are raw GnuTLS sessions on plain sockets, each on its own
// thread. A TLS peer (raw-tls-peer.h) logs every byte it receives, so that
// after sending a bad record it can parse what came back at the record
// layer: exactly one fatal alert of the expected kind, then end of stream.
// Bad records are sealed with the peer's own write keys for AES-128-GCM, the
// one cipher these peers offer. Every wait is bounded.
#include "connection-harness.h"
#include "dtls-harness.h"
#include "raw-tls-peer.h"
#include "test-peers.h"

#include <gnutls/dtls.h>
#include <gnutls/gnutls.h>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

namespace {

using conn_test::RawTls;
using conn_test::Record;

constexpr int kWaitMs = conn_test::kRawPeerWaitMs;

enum class Version { Tls12, Tls13 };

// What the raw peer sends once the connection is established.
enum class Bad {
  Mac,        // an application data record whose tag is wrong
  Oversized,  // a record header longer than the version allows
  KeyUpdate,  // a TLS 1.3 KeyUpdate with request_update 2
  Finished,   // a second Finished, under the application keys
  Alert,      // a fatal alert (internal_error): the module must answer nothing
};

// How the module's side closes after the failure.
enum class Close { Sync, Async, Streams };

const char *priority_of(Version v)
{
  return v == Version::Tls13 ? "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM"
                             : "NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-GCM";
}

// A connection of the module over loopback TCP with a raw peer at the other
// end, neither handshake run yet: the module is the server (the raw peer a
// client) or the client (naming localhost, trusting the test CA).
struct ModuleSide {
  conn_test::Listener *listener = nullptr;  // (owned) when the module is the server
  int listen_fd = -1;                       // when the module is the client
  GIOStream *base = nullptr;
  GTlsCertificate *cert = nullptr;
  GTlsDatabase *db = nullptr;
  GSocketConnectable *identity = nullptr;
  GTlsConnection *conn = nullptr;
  RawTls *raw = nullptr;  // (owned)

  ModuleSide(bool module_is_server, const char *raw_priority, GCancellable *cancellable)
  {
    if (module_is_server) {
      listener = new conn_test::Listener();
      raw = new RawTls(conn_test::posix_connect(listener->port), false, raw_priority);
      base = listener->accept(cancellable);
      cert = conn_test::server_certificate();
      conn = conn_test::new_server(base, cert);
      return;
    }
    guint16 port = 0;
    listen_fd = conn_test::posix_listen(&port);
    base = conn_test::connect_loopback(port);
    int fd = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    g_assert_cmpint(fd, >=, 0);
    raw = new RawTls(fd, true, raw_priority);
    identity = conn_test::localhost_identity(port);
    db = conn_test::ca_database();
    conn = conn_test::new_client(base, identity, db);
  }
  ~ModuleSide()
  {
    delete raw;
    g_object_unref(conn);
    g_object_unref(base);
    g_clear_object(&cert);
    g_clear_object(&db);
    g_clear_object(&identity);
    if (listen_fd >= 0)
      close(listen_fd);
    delete listener;
  }
  ModuleSide(const ModuleSide &) = delete;
  ModuleSide &operator=(const ModuleSide &) = delete;
};

// ---------------------------------------------------------------------------
// The alert discipline over TLS

struct AlertCase {
  std::string path;
  bool module_is_server;
  Version version;
  Bad bad;
  Close close;
  int alert;  // the alert the module must send; -1: none
};

// What the raw peer saw, read after it joined.
struct PeerOutcome {
  std::string failure;  // "" when the peer did its part
  int alert = -1;       // the fatal alert received, -1: none
  bool parsed = false;   // what came after the bad record ends on a record boundary
  bool eof = false;      // and then the stream ended
  std::vector<Record> records;  // what came after the bad record
};

// The raw peer's part: handshake, read "ready", send the bad record, read
// the module's answer through GnuTLS, then the raw socket to its end.
void raw_peer_part(RawTls &raw, const AlertCase &c, PeerOutcome *out)
{
  int ret = raw.handshake();
  if (ret < 0) {
    out->failure = std::string("handshake: ") + gnutls_strerror(ret);
    shutdown(raw.fd(), SHUT_RDWR);  // the module's side fails too
    return;
  }
  char buf[64];
  ssize_t n = GNUTLS_E_AGAIN;
  for (int i = 0; i < 100 && (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED); i++)
    n = gnutls_record_recv(raw.session(), buf, sizeof buf);
  if (n != 5 || memcmp(buf, "ready", 5) != 0) {
    out->failure = "no \"ready\" from the module: " +
                   (n < 0 ? std::string(gnutls_strerror(int(n))) : std::to_string(n));
    shutdown(raw.fd(), SHUT_RDWR);
    return;
  }
  if (gnutls_record_check_pending(raw.session()) != 0) {
    out->failure = "unread data before the bad record";
    shutdown(raw.fd(), SHUT_RDWR);
    return;
  }
  size_t mark = raw.log().size();
  std::string bytes;
  switch (c.bad) {
  case Bad::Mac:
    raw.corrupt_next_record();
    gnutls_record_send(raw.session(), "x", 1);
    break;
  case Bad::Oversized:
    // Over 2^14 + 256 (TLS 1.3) or 2^14 + 2048 (TLS 1.2): the header alone
    // is wrong, and the module must not wait for a body.
    bytes = conn_test::record_header(23, c.version == Version::Tls13 ? 16384 + 256 + 1 : 16384 + 2048 + 1);
    break;
  case Bad::KeyUpdate:
    bytes = conn_test::seal(raw.session(), c.version == Version::Tls13, 22,
                            conn_test::handshake_message(24, std::string(1, '\x02')));
    break;
  case Bad::Finished:
    bytes = conn_test::seal(raw.session(), c.version == Version::Tls13, 22,
                            conn_test::handshake_message(20, raw.own_finished()));
    break;
  case Bad::Alert:
    gnutls_alert_send(raw.session(), GNUTLS_AL_FATAL, GNUTLS_A_INTERNAL_ERROR);
    break;
  }
  if (!bytes.empty() && send(raw.fd(), bytes.data(), bytes.size(), MSG_NOSIGNAL) != ssize_t(bytes.size())) {
    out->failure = "could not send the bad record";
    shutdown(raw.fd(), SHUT_RDWR);
    return;
  }
  if (c.bad != Bad::Alert) {
    n = gnutls_record_recv(raw.session(), buf, sizeof buf);
    if (n == GNUTLS_E_FATAL_ALERT_RECEIVED)
      out->alert = int(gnutls_alert_get(raw.session()));
    else
      g_test_message("raw peer: %s instead of an alert", n < 0 ? gnutls_strerror(int(n)) : "data");
  }
  out->eof = raw.read_to_eof();
  out->parsed = conn_test::parse_records(raw.log().substr(mark), &out->records);
}

GError *read_error(GIOStream *conn, GCancellable *cancellable)
{
  char buf[64];
  GError *error = nullptr;
  gssize n = g_input_stream_read(g_io_stream_get_input_stream(conn), buf, sizeof buf, cancellable,
                                 &error);
  g_assert_cmpint(n, ==, -1);
  g_assert_nonnull(error);
  return error;
}

void close_module_side(GIOStream *conn, Close how)
{
  GError *error = nullptr;
  switch (how) {
  case Close::Sync:
    g_assert_true(g_io_stream_close(conn, nullptr, &error));
    break;
  case Close::Async: {
    conn_test::AsyncResult result;
    g_io_stream_close_async(
        conn, G_PRIORITY_DEFAULT, nullptr,
        [](GObject *source, GAsyncResult *res, gpointer data) {
          auto *r = static_cast<conn_test::AsyncResult *>(data);
          g_io_stream_close_finish(G_IO_STREAM(source), res, &r->error);
          r->done = true;
        },
        &result);
    g_assert_true(conn_test::iterate_until([&] { return result.done; }, kWaitMs));
    g_assert_no_error(result.error);
    break;
  }
  case Close::Streams:
    g_assert_true(g_output_stream_close(g_io_stream_get_output_stream(conn), nullptr, &error));
    g_assert_true(g_input_stream_close(g_io_stream_get_input_stream(conn), nullptr, &error));
    g_assert_true(g_io_stream_close(conn, nullptr, &error));
    break;
  }
  g_assert_no_error(error);
}

void test_alert_discipline(gconstpointer data)
{
  const auto &c = *static_cast<const AlertCase *>(data);
  conn_test::Watchdog watchdog(20000);
  PeerOutcome outcome;
  ModuleSide side(c.module_is_server, priority_of(c.version), watchdog.cancellable());
  RawTls *raw = side.raw;
  GTlsConnection *conn = side.conn;
  {
    conn_test::PeerThread peer([&] { raw_peer_part(*raw, c, &outcome); });
    GError *error = nullptr;
    g_tls_connection_handshake(conn, watchdog.cancellable(), &error);
    if (error) {
      peer.join();
      g_test_message("raw peer: %s", outcome.failure.c_str());
    }
    g_assert_no_error(error);
    conn_test::write_all(G_IO_STREAM(conn), "ready", 5);

    GError *first = read_error(G_IO_STREAM(conn), watchdog.cancellable());
    g_test_message("%s: the read failed: %s", c.path.c_str(), first->message);
    g_assert_false(g_error_matches(first, G_IO_ERROR, G_IO_ERROR_CANCELLED));
    // The session is over: later reads and writes fail the same way and
    // send nothing.
    GError *again = read_error(G_IO_STREAM(conn), watchdog.cancellable());
    g_assert_error(again, first->domain, first->code);
    g_assert_cmpstr(again->message, ==, first->message);
    g_clear_error(&again);
    g_assert_cmpint(g_output_stream_write(g_io_stream_get_output_stream(G_IO_STREAM(conn)), "more", 4,
                                          watchdog.cancellable(), &again),
                    ==, -1);
    g_assert_error(again, first->domain, first->code);
    g_clear_error(&again);
    // A pollable stream is ready at once, and fails the same way.
    auto *in = G_POLLABLE_INPUT_STREAM(g_io_stream_get_input_stream(G_IO_STREAM(conn)));
    auto *out = G_POLLABLE_OUTPUT_STREAM(g_io_stream_get_output_stream(G_IO_STREAM(conn)));
    g_assert_true(g_pollable_input_stream_is_readable(in));
    g_assert_true(g_pollable_output_stream_is_writable(out));
    char buf[16];
    g_assert_cmpint(g_pollable_input_stream_read_nonblocking(in, buf, sizeof buf, nullptr, &again), ==, -1);
    g_assert_error(again, first->domain, first->code);
    g_clear_error(&again);
    // An explicit handshake (a renegotiation or key update) too.
    g_assert_false(g_tls_connection_handshake(conn, watchdog.cancellable(), &again));
    g_assert_error(again, first->domain, first->code);
    g_clear_error(&again);
    g_error_free(first);

    close_module_side(G_IO_STREAM(conn), c.close);
    g_assert_true(g_io_stream_is_closed(side.base));
    peer.join();
  }

  g_assert_cmpstr(outcome.failure.c_str(), ==, "");
  g_assert_cmpint(outcome.alert, ==, c.alert);
  g_assert_true(outcome.parsed);
  g_assert_true(outcome.eof);
  // Exactly the one alert (protected: TLS 1.2 shows type 21, TLS 1.3 hides
  // it in application_data), or nothing at all after a received alert.
  g_assert_cmpuint(outcome.records.size(), ==, c.alert >= 0 ? 1 : 0);
  if (c.alert >= 0) {
    const Record &r = outcome.records[0];
    if (c.version == Version::Tls13) {
      g_assert_cmpuint(r.type, ==, 23);
      g_assert_cmpuint(r.body.size(), ==, 2 + 1 + 16);
    } else {
      g_assert_cmpuint(r.type, ==, 21);
      g_assert_cmpuint(r.body.size(), ==, 8 + 2 + 16);
    }
  }
}

// ---------------------------------------------------------------------------
// Defaults: Extended Master Secret, Encrypt-then-MAC, DHE without groups

struct Negotiated {
  std::string failure;
  bool ems = false;
  bool etm = false;
  gnutls_kx_algorithm_t kx = GNUTLS_KX_UNKNOWN;
  unsigned dh_bits = 0;
};

// A raw peer with `priority` and the module's side handshake, then the
// module's side closes; returns what the raw peer saw negotiated.
Negotiated negotiate(bool module_is_server, const char *priority)
{
  conn_test::Watchdog watchdog(20000);
  Negotiated got;
  ModuleSide side(module_is_server, priority, watchdog.cancellable());
  RawTls *raw = side.raw;
  GTlsConnection *conn = side.conn;
  {
    conn_test::PeerThread peer([&] {
      int ret = raw->handshake();
      if (ret < 0) {
        got.failure = std::string("handshake: ") + gnutls_strerror(ret);
        shutdown(raw->fd(), SHUT_RDWR);  // the module's side fails too
        return;
      }
      got.ems = gnutls_session_ext_master_secret_status(raw->session()) != 0;
      got.etm = gnutls_session_etm_status(raw->session()) != 0;
      got.kx = gnutls_kx_get(raw->session());
      got.dh_bits = got.kx == GNUTLS_KX_DHE_RSA ? unsigned(gnutls_dh_get_prime_bits(raw->session())) : 0;
      raw->read_to_eof();
    });
    GError *error = nullptr;
    bool ok = g_tls_connection_handshake(conn, watchdog.cancellable(), &error);
    if (!ok)
      g_test_message("the module's handshake failed: %s", error->message);
    g_clear_error(&error);
    g_io_stream_close(G_IO_STREAM(conn), nullptr, nullptr);
    peer.join();
  }
  return got;
}

// TLS 1.2 with a CBC suite, where Encrypt-then-MAC applies.
const char kTls12Cbc[] = "NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-CBC:+AES-256-CBC";

void check_ems_etm(bool expected)
{
  for (bool module_is_server : {true, false}) {
    Negotiated got = negotiate(module_is_server, kTls12Cbc);
    g_assert_cmpstr(got.failure.c_str(), ==, "");
    g_assert_cmpint(got.ems, ==, expected);
    g_assert_cmpint(got.etm, ==, expected);
  }
}

void test_ems_etm_by_default()
{
  check_ems_etm(true);
}

// %COMPAT, asked for: neither (a subprocess, as the priority is read once).
void test_ems_etm_with_compat()
{
  if (g_test_subprocess()) {
    g_setenv("G_TLS_GNUTLS_PRIORITY", "NORMAL:%COMPAT", TRUE);
    check_ems_etm(false);
    return;
  }
  g_test_trap_subprocess(nullptr, 60 * G_USEC_PER_SEC, GTestSubprocessFlags(0));
  g_test_trap_assert_passed();
}

// A TLS 1.2 client offering only DHE-RSA suites and no supported groups:
// the server uses the RFC 7919 parameters of its level.
void test_dhe_without_groups()
{
  Negotiated got =
      negotiate(true, "NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+DHE-RSA:-GROUP-ALL");
  g_assert_cmpstr(got.failure.c_str(), ==, "");
  g_assert_cmpint(got.kx, ==, GNUTLS_KX_DHE_RSA);
  g_assert_cmpuint(got.dh_bits, >=, 2048);
}

// ---------------------------------------------------------------------------
// DTLS: after a fatal alert from the peer, closing sends nothing

struct DtlsCase {
  bool module_is_server;
  bool async_close;
};

void test_dtls_alert_then_silence(gconstpointer data)
{
  const auto &c = *static_cast<const DtlsCase *>(data);
  gtg_test::Watchdog watchdog(20000);
  gtg_test::UdpPair udp;
  GTlsCertificate *cert = gtg_test::server_certificate();
  GTlsDatabase *db = gtg_test::ca_database();
  // The module's connection (named `server` whichever its role) is on one
  // socket of the pair, the raw peer on the other.
  GDatagramBased *server = c.module_is_server ? gtg_test::new_server(G_DATAGRAM_BASED(udp.server), cert)
                                              : gtg_test::new_client(G_DATAGRAM_BASED(udp.server), db);
  int fd = g_socket_get_fd(udp.client);
  std::atomic<bool> closed{false};
  std::string failure;
  size_t datagrams_after = 0;

  conn_test::PeerThread peer([&] {
    gnutls_certificate_credentials_t creds = nullptr;
    gnutls_certificate_allocate_credentials(&creds);
    if (!c.module_is_server)  // the raw peer is the server
      gnutls_certificate_set_x509_key_file(creds, gtg_test::data_path("server-chain.pem").c_str(),
                                           gtg_test::data_path("server-key.pem").c_str(),
                                           GNUTLS_X509_FMT_PEM);
    gnutls_session_t s = nullptr;
    gnutls_init(&s, (c.module_is_server ? GNUTLS_CLIENT : GNUTLS_SERVER) | GNUTLS_DATAGRAM);
    const char *err = nullptr;
    gnutls_priority_set_direct(s, "NORMAL:-VERS-ALL:+VERS-DTLS1.2", &err);
    gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, creds);
    gnutls_transport_set_int(s, fd);
    gnutls_handshake_set_timeout(s, kWaitMs);
    gnutls_record_set_timeout(s, kWaitMs);
    int ret = GNUTLS_E_AGAIN;
    for (int i = 0; i < 1000 && ret < 0 && !gnutls_error_is_fatal(ret); i++)
      ret = gnutls_handshake(s);
    char buf[64];
    ssize_t n = ret < 0 ? ret : GNUTLS_E_AGAIN;
    for (int i = 0; i < 100 && (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED); i++)
      n = gnutls_record_recv(s, buf, sizeof buf);
    if (ret < 0)
      failure = std::string("handshake: ") + gnutls_strerror(ret);
    else if (n != 5)
      failure = "no \"ready\" from the module";
    else
      gnutls_alert_send(s, GNUTLS_AL_FATAL, GNUTLS_A_INTERNAL_ERROR);
    // Whatever arrives until the module has closed and 300 ms after.
    gint64 deadline = g_get_monotonic_time() + kWaitMs * gint64(1000);
    gint64 quiet_until = -1;
    for (int i = 0; i < 1000; i++) {
      gint64 now = g_get_monotonic_time();
      if (quiet_until < 0 && closed.load())
        quiet_until = now + 300000;
      if ((quiet_until >= 0 && now >= quiet_until) || now >= deadline)
        break;
      pollfd pfd{fd, POLLIN, 0};
      if (poll(&pfd, 1, 50) == 1 && recv(fd, buf, sizeof buf, 0) >= 0)
        datagrams_after++;
    }
    gnutls_deinit(s);
    gnutls_certificate_free_credentials(creds);
  });

  GError *error = nullptr;
  g_assert_true(g_dtls_connection_handshake(G_DTLS_CONNECTION(server), watchdog.cancellable(), &error));
  g_assert_no_error(error);
  gtg_test::send_ok(server, "ready", watchdog.cancellable());
  std::string got;
  g_assert_false(gtg_test::receive_datagram(server, &got, -1, watchdog.cancellable(), &error));
  g_assert_nonnull(error);
  g_test_message("the receive failed: %s", error->message);
  GError *again = nullptr;
  g_assert_false(gtg_test::receive_datagram(server, &got, -1, watchdog.cancellable(), &again));
  g_assert_error(again, error->domain, error->code);
  g_clear_error(&again);
  g_assert_cmpint(gtg_test::send_datagram(server, "more", -1, watchdog.cancellable(), &again), ==, -1);
  g_assert_error(again, error->domain, error->code);
  g_clear_error(&again);
  g_clear_error(&error);

  if (c.async_close) {
    conn_test::AsyncResult result;
    g_dtls_connection_close_async(
        G_DTLS_CONNECTION(server), G_PRIORITY_DEFAULT, nullptr,
        [](GObject *source, GAsyncResult *res, gpointer d) {
          auto *r = static_cast<conn_test::AsyncResult *>(d);
          g_dtls_connection_close_finish(G_DTLS_CONNECTION(source), res, &r->error);
          r->done = true;
        },
        &result);
    g_assert_true(conn_test::iterate_until([&] { return result.done; }, kWaitMs));
    g_assert_no_error(result.error);
  } else {
    g_assert_true(g_dtls_connection_close(G_DTLS_CONNECTION(server), nullptr, &error));
    g_assert_no_error(error);
  }
  closed.store(true);
  peer.join();
  g_assert_cmpstr(failure.c_str(), ==, "");
  g_assert_cmpuint(datagrams_after, ==, 0);
  g_object_unref(server);
  g_object_unref(db);
  g_object_unref(cert);
}

}  // namespace

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, nullptr);

  static std::vector<AlertCase> cases;
  struct Kind {
    const char *name;
    Bad bad;
    int alert;
    bool tls13_only;
  };
  const Kind kinds[] = {
      {"bad-mac", Bad::Mac, GNUTLS_A_BAD_RECORD_MAC, false},
      {"oversized", Bad::Oversized, GNUTLS_A_RECORD_OVERFLOW, false},
      {"key-update-2", Bad::KeyUpdate, GNUTLS_A_ILLEGAL_PARAMETER, true},
      {"second-finished", Bad::Finished, GNUTLS_A_UNEXPECTED_MESSAGE, false},
      {"alert-received", Bad::Alert, -1, false},
  };
  const std::pair<Close, const char *> closes[] = {
      {Close::Sync, "close"}, {Close::Async, "close-async"}, {Close::Streams, "close-streams"}};
  cases.reserve(64);
  for (bool server : {true, false})
    for (Version v : {Version::Tls13, Version::Tls12})
      for (const Kind &k : kinds) {
        if (k.tls13_only && v != Version::Tls13)
          continue;
        for (const auto &[how, close_name] : closes) {
          std::string path = std::string("/conformance/alert/") + (server ? "server/" : "client/") +
                             (v == Version::Tls13 ? "tls1.3/" : "tls1.2/") + k.name + "/" + close_name;
          cases.push_back({path, server, v, k.bad, how, k.alert});
        }
      }
  for (const AlertCase &c : cases)
    g_test_add_data_func(c.path.c_str(), &c, test_alert_discipline);
  g_test_add_func("/conformance/defaults/ems-etm", test_ems_etm_by_default);
  g_test_add_func("/conformance/defaults/ems-etm-compat", test_ems_etm_with_compat);
  g_test_add_func("/conformance/defaults/dhe-without-groups", test_dhe_without_groups);
  static const DtlsCase dtls_cases[] = {{true, false}, {true, true}, {false, false}, {false, true}};
  for (const DtlsCase &c : dtls_cases) {
    std::string path = std::string("/conformance/dtls/") + (c.module_is_server ? "server" : "client") +
                       "/alert-received/" + (c.async_close ? "close-async" : "close");
    g_test_add_data_func(path.c_str(), &c, test_dtls_alert_then_silence);
  }
  return g_test_run();
}
