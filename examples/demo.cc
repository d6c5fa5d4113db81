// gio-tls-gnutls demo: what the TLS backend GIO loaded can do, in words.
//
// Uses only the public GIO API, so it runs against any GIO TLS backend; run
// it with GIO_MODULE_DIR pointing at the directory holding our module
// (scripts/demo.sh does that) to see gio-tls-gnutls at work. It
//   1. names the TLS backend GIO loaded,
//   2. loads the test server's certificate chain and key and the test CA,
//   3. shows each certificate of the chain and verifies the chain against the
//      system trust store and against a GTlsFileDatabase holding the test CA,
//   4. runs a TLS exchange and a DTLS exchange over loopback, the server on a
//      thread of its own and the client on the main thread, and reports the
//      protocol version, cipher suite, ALPN and the verification result;
//   5. connects over TLS a second time to the same server identity and says
//      whether the session was resumed, and says how many times the DTLS
//      handshake retransmitted a flight.
// Step 5 reads properties GIO does not define (`session-resumed`,
// `retransmissions`, gio-tls-gnutls's own): they are looked up with
// g_object_class_find_property, and a backend without them is reported as
// such ("not reported by this backend").
// A step the backend says it does not support (G_IO_ERROR_NOT_SUPPORTED) is
// reported as such, and fails the demo only with --require-all; any other
// failure prints what failed and exits 1.
#include <gio/gio.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>

namespace {

// The test PKI (tests/files/make-files.sh): root CA, intermediate, server.
constexpr const char *kCaFile = "ca.pem";
constexpr const char *kServerCertFile = "server-chain.pem";  // server + intermediate CA
constexpr const char *kServerKeyFile = "server-key.pem";
constexpr const char *kServerIdentity = "localhost";

// ALPN: the client prefers h2, which the server does not offer, so the
// negotiation has to settle on the one protocol both know.
constexpr const char *kServerAlpn[] = {"gio-tls-demo/1", nullptr};
constexpr const char *kClientAlpn[] = {"h2", "gio-tls-demo/1", nullptr};

constexpr int kTimeoutSeconds = 20;

enum class Outcome { kPassed, kUnsupported, kFailed };

// --- Printing --------------------------------------------------------------

void heading(const char *title) { std::printf("\n%s\n", title); }

void field(const char *label, const char *value)
{
  std::printf("  %-22s %s\n", label, value ? value : "(none)");
}

void field(const char *label, const std::string &value) { field(label, value.c_str()); }

// Prints why `what` failed and returns kFailed, or kUnsupported when the
// backend says it does not implement it.
Outcome report_error(const char *what, const GError *error)
{
  if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED)) {
    field("result:", std::string("not available (") + what + "): " + error->message);
    return Outcome::kUnsupported;
  }
  std::fprintf(stderr, "demo: %s failed: %s\n", what, error ? error->message : "unknown error");
  return Outcome::kFailed;
}

std::string format_time(GDateTime *time)
{
  if (!time)
    return "(unknown)";
  g_autofree char *text = g_date_time_format(time, "%Y-%m-%d %H:%M:%S UTC");
  return text ? text : "(unknown)";
}

// GTlsCertificateFlags in words, one clause per flag.
std::string describe_flags(GTlsCertificateFlags flags)
{
  if (flags == 0)
    return "trusted: the chain leads to a trusted CA and names the server";
  struct Meaning {
    GTlsCertificateFlags flag;
    const char *words;
  };
  static constexpr Meaning meanings[] = {
      {G_TLS_CERTIFICATE_UNKNOWN_CA, "signed by an authority this database does not trust"},
      {G_TLS_CERTIFICATE_BAD_IDENTITY, "issued for another name"},
      {G_TLS_CERTIFICATE_NOT_ACTIVATED, "not valid yet"},
      {G_TLS_CERTIFICATE_EXPIRED, "expired"},
      {G_TLS_CERTIFICATE_REVOKED, "revoked"},
      {G_TLS_CERTIFICATE_INSECURE, "signed with an insecure algorithm"},
      {G_TLS_CERTIFICATE_GENERIC_ERROR, "unusable for another reason"},
  };
  std::string words = "rejected: ";
  bool first = true;
  for (const Meaning &m : meanings) {
    if (flags & m.flag) {
      words += first ? "" : "; ";
      words += m.words;
      first = false;
    }
  }
  return words;
}

const char *describe_protocol(GTlsProtocolVersion version)
{
  switch (version) {
  case G_TLS_PROTOCOL_VERSION_SSL_3_0: return "SSL 3.0";
  case G_TLS_PROTOCOL_VERSION_TLS_1_0: return "TLS 1.0";
  case G_TLS_PROTOCOL_VERSION_TLS_1_1: return "TLS 1.1";
  case G_TLS_PROTOCOL_VERSION_TLS_1_2: return "TLS 1.2";
  case G_TLS_PROTOCOL_VERSION_TLS_1_3: return "TLS 1.3";
  case G_TLS_PROTOCOL_VERSION_DTLS_1_0: return "DTLS 1.0";
  case G_TLS_PROTOCOL_VERSION_DTLS_1_2: return "DTLS 1.2";
  case G_TLS_PROTOCOL_VERSION_UNKNOWN: break;
  }
  return "unknown";
}

// --- Properties some backends add ------------------------------------------

// Whether `object` has a readable property `name` of type `type`: the
// properties below are gio-tls-gnutls's own, not GIO's.
bool has_property(gpointer object, const char *name, GType type)
{
  GParamSpec *pspec = g_object_class_find_property(G_OBJECT_GET_CLASS(object), name);
  return pspec && (pspec->flags & G_PARAM_READABLE) && G_PARAM_SPEC_VALUE_TYPE(pspec) == type;
}

constexpr const char *kNotReported = "not reported by this backend";

// "session resumed: yes/no", from the `session-resumed` property.
std::string describe_resumption(gpointer conn)
{
  if (!has_property(conn, "session-resumed", G_TYPE_BOOLEAN))
    return std::string("session resumed: ") + kNotReported;
  gboolean resumed = FALSE;
  g_object_get(conn, "session-resumed", &resumed, nullptr);
  return std::string("session resumed: ") + (resumed ? "yes" : "no");
}

// "DTLS retransmissions: N (client C, server S)", from the `retransmissions`
// property of both ends.
std::string describe_retransmissions(gpointer client, gpointer server)
{
  if (!has_property(client, "retransmissions", G_TYPE_UINT) ||
      !has_property(server, "retransmissions", G_TYPE_UINT))
    return std::string("DTLS retransmissions: ") + kNotReported;
  guint by_client = 0;
  guint by_server = 0;
  g_object_get(client, "retransmissions", &by_client, nullptr);
  g_object_get(server, "retransmissions", &by_server, nullptr);
  return "DTLS retransmissions: " + std::to_string(by_client + by_server) + " (client " +
         std::to_string(by_client) + ", server " + std::to_string(by_server) + ")";
}

// --- Backend and certificates ----------------------------------------------

// Prints the backend GIO loaded; false when there is none or, with
// `expected` set, when it is another one.
bool report_backend(const char *expected)
{
  heading("TLS backend");
  GTlsBackend *backend = g_tls_backend_get_default();
  const char *type_name = G_OBJECT_TYPE_NAME(backend);
  field("loaded:", type_name);
  field("GIO_MODULE_DIR:", g_getenv("GIO_MODULE_DIR"));
  field("supports TLS:", g_tls_backend_supports_tls(backend) ? "yes" : "no");
  field("supports DTLS:", g_tls_backend_supports_dtls(backend) ? "yes" : "no");
  if (!g_tls_backend_supports_tls(backend)) {
    std::fprintf(stderr, "demo: GIO found no TLS backend (%s); is GIO_MODULE_DIR right?\n",
                 type_name);
    return false;
  }
  if (expected && g_ascii_strcasecmp(type_name, expected) != 0) {
    std::fprintf(stderr, "demo: GIO loaded %s, not %s; check GIO_MODULE_DIR and GIO_USE_TLS\n",
                 type_name, expected);
    return false;
  }
  return true;
}

void show_certificate(GTlsCertificate *cert, int depth)
{
  g_autofree char *subject = g_tls_certificate_get_subject_name(cert);
  g_autofree char *issuer = g_tls_certificate_get_issuer_name(cert);
  g_autoptr(GDateTime) not_before = g_tls_certificate_get_not_valid_before(cert);
  g_autoptr(GDateTime) not_after = g_tls_certificate_get_not_valid_after(cert);
  g_autoptr(GPtrArray) dns_names = g_tls_certificate_get_dns_names(cert);
  g_autoptr(GPtrArray) ips = g_tls_certificate_get_ip_addresses(cert);

  std::printf("  [%d] %s\n", depth, subject ? subject : "(no subject)");
  field("    issuer:", issuer);
  field("    valid from:", format_time(not_before));
  field("    valid until:", format_time(not_after));
  std::string names;
  for (guint i = 0; dns_names && i < dns_names->len; i++) {
    gsize size = 0;
    auto *data = static_cast<const char *>(
        g_bytes_get_data(static_cast<GBytes *>(g_ptr_array_index(dns_names, i)), &size));
    names += (names.empty() ? "" : ", ") + std::string(data, size);
  }
  for (guint i = 0; ips && i < ips->len; i++) {
    g_autofree char *ip = g_inet_address_to_string(G_INET_ADDRESS(g_ptr_array_index(ips, i)));
    names += (names.empty() ? "" : ", ") + std::string(ip);
  }
  if (!names.empty())
    field("    names:", names);
}

// Verifies `chain` for a server called kServerIdentity; prints the result.
// Returns the flags, or G_TLS_CERTIFICATE_GENERIC_ERROR with *out_error set
// when the database could not verify at all.
GTlsCertificateFlags verify_with(const char *label, GTlsDatabase *database,
                                 GTlsCertificate *chain, GError **out_error)
{
  g_autoptr(GSocketConnectable) identity = g_network_address_new(kServerIdentity, 443);
  GTlsCertificateFlags flags = g_tls_database_verify_chain(
      database, chain, G_TLS_DATABASE_PURPOSE_AUTHENTICATE_SERVER, identity, nullptr,
      G_TLS_DATABASE_VERIFY_NONE, nullptr, out_error);
  if (*out_error)
    return G_TLS_CERTIFICATE_GENERIC_ERROR;
  field(label, describe_flags(flags));
  return flags;
}

// --- Loopback exchanges ----------------------------------------------------

// Cancels `cancellable` unless disarmed within kTimeoutSeconds, so a stuck
// handshake ends the demo with an error instead of hanging it.
class Watchdog {
public:
  explicit Watchdog(GCancellable *cancellable)
      : thread_([this, cancellable] {
          std::unique_lock lock(mutex_);
          if (!cv_.wait_for(lock, std::chrono::seconds(kTimeoutSeconds), [this] { return done_; }))
            g_cancellable_cancel(cancellable);
        })
  {
  }
  ~Watchdog()
  {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  Watchdog(const Watchdog &) = delete;
  Watchdog &operator=(const Watchdog &) = delete;

private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

// What a server thread reports back to the main thread.
struct ServerResult {
  GError *error = nullptr;  // (owned) (nullable)
  const char *step = nullptr;
  ~ServerResult() { g_clear_error(&error); }
};

// Reports the failure that came first when the client (`client_step`,
// `client_error`) or the server failed: one side's failure cancels the other,
// whose "cancelled" error is not worth reporting. False when neither failed.
bool first_failure(const char *client_step, const GError *client_error,
                   const ServerResult &server, Outcome *out_outcome)
{
  if (server.step &&
      (!client_step || g_error_matches(client_error, G_IO_ERROR, G_IO_ERROR_CANCELLED)))
    *out_outcome = report_error(server.step, server.error);
  else if (client_step)
    *out_outcome = report_error(client_step, client_error);
  else
    return false;
  return true;
}

// Reports the negotiated parameters a client connection sees.
void report_session(GTlsProtocolVersion version, char *cipher, const char *alpn,
                    GTlsCertificate *peer, GTlsCertificateFlags peer_errors)
{
  field("protocol:", describe_protocol(version));
  field("cipher suite:", cipher ? cipher : "(unknown)");
  field("ALPN:", alpn ? alpn : "(none negotiated)");
  if (peer) {
    g_autofree char *subject = g_tls_certificate_get_subject_name(peer);
    field("server certificate:", subject);
  }
  field("verification:", describe_flags(peer_errors));
  g_free(cipher);
}

// TLS: the server thread handshakes, reads one message and echoes it back.
void tls_server(GTlsConnection *conn, GCancellable *cancellable, ServerResult *result)
{
  char buffer[256];
  gsize n = 0;
  GInputStream *in = g_io_stream_get_input_stream(G_IO_STREAM(conn));
  GOutputStream *out = g_io_stream_get_output_stream(G_IO_STREAM(conn));
  if (!g_tls_connection_handshake(conn, cancellable, &result->error)) {
    result->step = "TLS server handshake";
  } else if (gssize got = g_input_stream_read(in, buffer, sizeof buffer, cancellable,
                                              &result->error);
             got < 0) {
    result->step = "TLS server read";
  } else if (!g_output_stream_write_all(out, buffer, static_cast<gsize>(got), &n, cancellable,
                                        &result->error)) {
    result->step = "TLS server write";
  } else if (!g_io_stream_close(G_IO_STREAM(conn), cancellable, &result->error)) {
    result->step = "TLS server close";
  }
  if (result->step)
    g_cancellable_cancel(cancellable);  // unblocks the client
}

// One TLS connection to the listener at `bound`: the client handshakes naming
// kServerIdentity, sends a message, reads the echo (which also takes in any
// TLS 1.3 session ticket the server sent, so that the next connection can
// resume). On kPassed, *out_conn is the client connection, still open, and
// *out_echoed says whether the echo matched.
Outcome run_tls_connection(GSocketListener *listener, GSocketAddress *bound,
                           GTlsCertificate *server_cert, GTlsDatabase *ca_database,
                           GIOStream **out_conn, bool *out_echoed)
{
  g_autoptr(GError) error = nullptr;
  g_autoptr(GCancellable) cancellable = g_cancellable_new();

  // Plain TCP first: connect to the listener and accept.
  g_autoptr(GSocketClient) client = g_socket_client_new();
  g_autoptr(GSocketConnection) client_tcp =
      g_socket_client_connect(client, G_SOCKET_CONNECTABLE(bound), cancellable, &error);
  if (!client_tcp)
    return report_error("connecting over loopback", error);
  g_autoptr(GSocketConnection) server_tcp =
      g_socket_listener_accept(listener, nullptr, cancellable, &error);
  if (!server_tcp)
    return report_error("accepting over loopback", error);

  // Then TLS on both ends.
  g_autoptr(GIOStream) server =
      g_tls_server_connection_new(G_IO_STREAM(server_tcp), server_cert, &error);
  if (!server)
    return report_error("creating a TLS server connection", error);
  g_autoptr(GSocketConnectable) identity = g_network_address_new(kServerIdentity, 443);
  g_autoptr(GIOStream) conn = g_tls_client_connection_new(G_IO_STREAM(client_tcp), identity, &error);
  if (!conn)
    return report_error("creating a TLS client connection", error);
  g_tls_connection_set_database(G_TLS_CONNECTION(conn), ca_database);
  g_tls_connection_set_advertised_protocols(G_TLS_CONNECTION(server), kServerAlpn);
  g_tls_connection_set_advertised_protocols(G_TLS_CONNECTION(conn), kClientAlpn);

  ServerResult server_result;
  const char *step = nullptr;
  const char message[] = "hello over TLS";
  char echo[sizeof message] = {};
  {
    Watchdog watchdog(cancellable);
    std::thread server_thread(tls_server, G_TLS_CONNECTION(server), cancellable, &server_result);
    gsize n = 0;
    if (!g_tls_connection_handshake(G_TLS_CONNECTION(conn), cancellable, &error))
      step = "TLS client handshake";
    else if (!g_output_stream_write_all(g_io_stream_get_output_stream(conn), message,
                                        sizeof message, &n, cancellable, &error))
      step = "TLS client write";
    else if (!g_input_stream_read_all(g_io_stream_get_input_stream(conn), echo, sizeof echo, &n,
                                      cancellable, &error))
      step = "TLS client read";
    if (step)
      g_cancellable_cancel(cancellable);  // unblocks the server
    server_thread.join();
  }
  if (Outcome failed; first_failure(step, error, server_result, &failed))
    return failed;

  *out_echoed = std::memcmp(message, echo, sizeof message) == 0;
  *out_conn = static_cast<GIOStream *>(g_steal_pointer(&conn));
  return Outcome::kPassed;
}

Outcome run_tls_exchange(GTlsCertificate *server_cert, GTlsDatabase *ca_database)
{
  heading("TLS exchange over loopback");
  g_autoptr(GError) error = nullptr;

  // Listen on an ephemeral loopback port.
  g_autoptr(GSocketListener) listener = g_socket_listener_new();
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any_port = g_inet_socket_address_new(loopback, 0);
  g_autoptr(GSocketAddress) bound = nullptr;
  if (!g_socket_listener_add_address(listener, any_port, G_SOCKET_TYPE_STREAM,
                                     G_SOCKET_PROTOCOL_TCP, nullptr, &bound, &error))
    return report_error("listening on loopback", error);

  g_autoptr(GIOStream) first = nullptr;
  bool echoed = false;
  if (Outcome o = run_tls_connection(listener, bound, server_cert, ca_database, &first, &echoed);
      o != Outcome::kPassed)
    return o;
  GTlsConnection *tls = G_TLS_CONNECTION(first);
  report_session(g_tls_connection_get_protocol_version(tls),
                 g_tls_connection_get_ciphersuite_name(tls),
                 g_tls_connection_get_negotiated_protocol(tls),
                 g_tls_connection_get_peer_certificate(tls),
                 g_tls_connection_get_peer_certificate_errors(tls));
  field("echo:", echoed ? "the server sent our message back" : "the echo differs");
  g_io_stream_close(first, nullptr, nullptr);
  if (!echoed)
    return Outcome::kFailed;

  // The same server identity again: the backend may resume the session.
  g_autoptr(GIOStream) second = nullptr;
  if (Outcome o = run_tls_connection(listener, bound, server_cert, ca_database, &second, &echoed);
      o != Outcome::kPassed)
    return o;
  field("second connection:", echoed ? describe_resumption(second) : "the echo differs");
  g_io_stream_close(second, nullptr, nullptr);
  return echoed ? Outcome::kPassed : Outcome::kFailed;
}

// A UDP socket bound to an ephemeral loopback port (transfer full).
GSocket *new_udp_socket(GError **error)
{
  g_autoptr(GSocket) socket =
      g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, error);
  if (!socket)
    return nullptr;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any_port = g_inet_socket_address_new(loopback, 0);
  if (!g_socket_bind(socket, any_port, FALSE, error))
    return nullptr;
  return static_cast<GSocket *>(g_steal_pointer(&socket));
}

bool send_datagram(GDatagramBased *conn, const void *data, gsize size,
                   GCancellable *cancellable, GError **error)
{
  GOutputVector vector = {data, size};
  GOutputMessage message = {nullptr, &vector, 1, 0, nullptr, 0};
  return g_datagram_based_send_messages(conn, &message, 1, 0, -1, cancellable, error) == 1;
}

gssize receive_datagram(GDatagramBased *conn, void *buffer, gsize size,
                        GCancellable *cancellable, GError **error)
{
  GInputVector vector = {buffer, size};
  GInputMessage message = {nullptr, &vector, 1, 0, 0, nullptr, nullptr};
  if (g_datagram_based_receive_messages(conn, &message, 1, 0, -1, cancellable, error) != 1)
    return -1;
  return static_cast<gssize>(message.bytes_received);
}

// DTLS: the server thread handshakes, receives one datagram and echoes it.
void dtls_server(GDtlsConnection *conn, GCancellable *cancellable, ServerResult *result)
{
  char buffer[256];
  if (!g_dtls_connection_handshake(conn, cancellable, &result->error)) {
    result->step = "DTLS server handshake";
  } else if (gssize got = receive_datagram(G_DATAGRAM_BASED(conn), buffer, sizeof buffer,
                                           cancellable, &result->error);
             got < 0) {
    result->step = "DTLS server receive";
  } else if (!send_datagram(G_DATAGRAM_BASED(conn), buffer, static_cast<gsize>(got),
                            cancellable, &result->error)) {
    result->step = "DTLS server send";
  } else if (!g_dtls_connection_close(conn, cancellable, &result->error)) {
    result->step = "DTLS server close";
  }
  if (result->step)
    g_cancellable_cancel(cancellable);  // unblocks the client
}

Outcome run_dtls_exchange(GTlsCertificate *server_cert, GTlsDatabase *ca_database)
{
  heading("DTLS exchange over loopback");
  if (!g_tls_backend_supports_dtls(g_tls_backend_get_default())) {
    field("result:", "not available: the backend does not support DTLS");
    return Outcome::kUnsupported;
  }
  g_autoptr(GError) error = nullptr;
  g_autoptr(GCancellable) cancellable = g_cancellable_new();

  // Two UDP sockets on loopback, each connected to the other.
  g_autoptr(GSocket) server_udp = new_udp_socket(&error);
  if (!server_udp)
    return report_error("creating a UDP socket", error);
  g_autoptr(GSocket) client_udp = new_udp_socket(&error);
  if (!client_udp)
    return report_error("creating a UDP socket", error);
  g_autoptr(GSocketAddress) server_addr = g_socket_get_local_address(server_udp, &error);
  g_autoptr(GSocketAddress) client_addr = server_addr ? g_socket_get_local_address(client_udp, &error) : nullptr;
  if (!server_addr || !client_addr || !g_socket_connect(server_udp, client_addr, nullptr, &error) ||
      !g_socket_connect(client_udp, server_addr, nullptr, &error))
    return report_error("connecting UDP sockets", error);

  g_autoptr(GDatagramBased) server =
      g_dtls_server_connection_new(G_DATAGRAM_BASED(server_udp), server_cert, &error);
  if (!server)
    return report_error("creating a DTLS server connection", error);
  g_autoptr(GSocketConnectable) identity = g_network_address_new(kServerIdentity, 443);
  g_autoptr(GDatagramBased) conn =
      g_dtls_client_connection_new(G_DATAGRAM_BASED(client_udp), identity, &error);
  if (!conn)
    return report_error("creating a DTLS client connection", error);
  g_dtls_connection_set_database(G_DTLS_CONNECTION(conn), ca_database);
  g_dtls_connection_set_advertised_protocols(G_DTLS_CONNECTION(server), kServerAlpn);
  g_dtls_connection_set_advertised_protocols(G_DTLS_CONNECTION(conn), kClientAlpn);

  ServerResult server_result;
  const char *step = nullptr;
  const char message[] = "hello over DTLS";
  char echo[sizeof message] = {};
  {
    Watchdog watchdog(cancellable);
    std::thread server_thread(dtls_server, G_DTLS_CONNECTION(server), cancellable,
                              &server_result);
    if (!g_dtls_connection_handshake(G_DTLS_CONNECTION(conn), cancellable, &error))
      step = "DTLS client handshake";
    else if (!send_datagram(conn, message, sizeof message, cancellable, &error))
      step = "DTLS client send";
    else if (receive_datagram(conn, echo, sizeof echo, cancellable, &error) < 0)
      step = "DTLS client receive";
    if (step)
      g_cancellable_cancel(cancellable);
    server_thread.join();
  }
  if (Outcome failed; first_failure(step, error, server_result, &failed))
    return failed;

  GDtlsConnection *dtls = G_DTLS_CONNECTION(conn);
  report_session(g_dtls_connection_get_protocol_version(dtls),
                 g_dtls_connection_get_ciphersuite_name(dtls),
                 g_dtls_connection_get_negotiated_protocol(dtls),
                 g_dtls_connection_get_peer_certificate(dtls),
                 g_dtls_connection_get_peer_certificate_errors(dtls));
  const bool echoed = std::memcmp(message, echo, sizeof message) == 0;
  field("echo:", echoed ? "the server sent our datagram back" : "the echo differs");
  field("handshake:", describe_retransmissions(conn, server));
  g_dtls_connection_close(dtls, nullptr, nullptr);
  return echoed ? Outcome::kPassed : Outcome::kFailed;
}

}  // namespace

int main(int argc, char **argv)
{
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // keep the report and errors in order
  g_autofree char *files_dir = g_strdup(DEMO_FILES_DIR);
  g_autofree char *expected_backend = nullptr;
  gboolean require_all = FALSE;
  const GOptionEntry entries[] = {
      {"files", 0, 0, G_OPTION_ARG_FILENAME, &files_dir,
       "Directory holding ca.pem, server-chain.pem and server-key.pem", "DIR"},
      {"expect-backend", 0, 0, G_OPTION_ARG_STRING, &expected_backend,
       "Fail unless GIO loaded the backend with this type name", "TYPE"},
      {"require-all", 0, 0, G_OPTION_ARG_NONE, &require_all,
       "Fail when the backend does not support a step (TLS or DTLS)", nullptr},
      {},
  };
  g_autoptr(GOptionContext) options =
      g_option_context_new("- show what the GIO TLS backend does");
  g_option_context_add_main_entries(options, entries, nullptr);
  g_autoptr(GError) error = nullptr;
  if (!g_option_context_parse(options, &argc, &argv, &error)) {
    std::fprintf(stderr, "demo: %s\n", error->message);
    return 2;
  }

  std::printf("gio-tls-gnutls demo (certificates from %s)\n", files_dir);
  if (!report_backend(expected_backend))
    return 1;

  // Load the server's certificate chain with its key, and the demo CA.
  heading("Certificates");
  g_autofree char *cert_path = g_build_filename(files_dir, kServerCertFile, nullptr);
  g_autofree char *key_path = g_build_filename(files_dir, kServerKeyFile, nullptr);
  g_autofree char *ca_path = g_build_filename(files_dir, kCaFile, nullptr);
  g_autoptr(GTlsCertificate) server_cert =
      g_tls_certificate_new_from_files(cert_path, key_path, &error);
  if (!server_cert) {
    std::fprintf(stderr, "demo: loading %s with key %s failed: %s\n", cert_path, key_path,
                 error->message);
    return 1;
  }
  int depth = 0;
  for (GTlsCertificate *c = server_cert; c; c = g_tls_certificate_get_issuer(c))
    show_certificate(c, depth++);

  g_autoptr(GTlsDatabase) ca_database = g_tls_file_database_new(ca_path, &error);
  if (!ca_database) {
    std::fprintf(stderr, "demo: loading the CA file %s failed: %s\n", ca_path, error->message);
    return 1;
  }

  heading("Verification of the server chain for \"localhost\"");
  g_autoptr(GTlsDatabase) system_database =
      g_tls_backend_get_default_database(g_tls_backend_get_default());
  if (!system_database) {
    std::fprintf(stderr, "demo: the backend has no system trust database\n");
    return 1;
  }
  verify_with("system trust store:", system_database, server_cert, &error);
  if (error) {
    std::fprintf(stderr, "demo: verification against the system store failed: %s\n",
                 error->message);
    return 1;
  }
  GTlsCertificateFlags ca_flags = verify_with("test root CA (ca.pem):", ca_database, server_cert, &error);
  if (error || ca_flags != 0) {
    std::fprintf(stderr, "demo: the test root CA should trust the server chain: %s\n",
                 error ? error->message : describe_flags(ca_flags).c_str());
    return 1;
  }

  const Outcome tls = run_tls_exchange(server_cert, ca_database);
  const Outcome dtls = run_dtls_exchange(server_cert, ca_database);
  const bool any_unsupported = tls == Outcome::kUnsupported || dtls == Outcome::kUnsupported;
  if (tls == Outcome::kFailed || dtls == Outcome::kFailed || (require_all && any_unsupported)) {
    std::printf("\nDemo failed: see the messages above.\n");
    return 1;
  }
  std::printf("\nDemo finished: %s.\n",
              tls == Outcome::kPassed && dtls == Outcome::kPassed
                  ? "every step worked"
                  : "every available step worked");
  return 0;
}
