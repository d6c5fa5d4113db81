// A TLS client as a GApplication: connects, shows what was negotiated and
// who the peer is, and optionally exchanges one line.
//
//   gio-tls-gnutls-tls-client HOST PORT [--ca-file FILE] [--alpn PROTO]...
//                             [--cert FILE [--key FILE]] [--send TEXT]
//                             [--min-version 1.2|1.3] [--ciphers SUITE,...]
//
// --min-version and --ciphers (IANA suite names, most preferred first) go
// beyond GIO's API: they set our module's `min-protocol-version` and
// `ciphersuites` properties (docs/user-guide.md, "Beyond GIO's API") where
// the backend has them, and are ignored with a note on other backends.
//
// It prints the TLS backend GIO loaded, the protocol version, cipher suite,
// negotiated ALPN protocol, the peer's certificate chain and the result of
// verifying it, in words. The certificate is verified against the system
// trust store, or against --ca-file. A certificate that fails verification is
// reported and the connection refused (exit status 1).
//
// Everything runs asynchronously on the application's main context:
// GSocketClient connects and does the TLS handshake (set_tls); its "event"
// signal is where the TLS connection is configured before the handshake.
#include <gio/gio.h>

#include <clocale>
#include <cstdio>
#include <cstring>

namespace {

// Command line. GApplication stores options with arg_data set directly here.
char **positional = nullptr;  // HOST PORT
char *ca_file = nullptr;
char **alpn = nullptr;
char *cert_file = nullptr;
char *key_file = nullptr;
char *send_text = nullptr;
char *min_version = nullptr;
char *ciphers = nullptr;

int exit_status = 0;

struct Session {
  GApplication *app;
  GTlsDatabase *database = nullptr;           // (owned) (nullable): --ca-file
  GTlsCertificate *certificate = nullptr;     // (owned) (nullable): --cert
  GTlsCertificateFlags rejected_errors{};     // what accept-certificate saw
  GSocketConnection *connection = nullptr;    // (owned) once connected
  char reply[4096];
};

// Every GTlsCertificateFlags bit, in words a user understands.
void print_certificate_errors(GTlsCertificateFlags errors)
{
  static const struct {
    GTlsCertificateFlags flag;
    const char *words;
  } kFlags[] = {
      {G_TLS_CERTIFICATE_UNKNOWN_CA, "not signed by a trusted certificate authority"},
      {G_TLS_CERTIFICATE_BAD_IDENTITY, "not issued for the host name that was dialled"},
      {G_TLS_CERTIFICATE_NOT_ACTIVATED, "not valid yet"},
      {G_TLS_CERTIFICATE_EXPIRED, "expired"},
      {G_TLS_CERTIFICATE_REVOKED, "revoked"},
      {G_TLS_CERTIFICATE_INSECURE, "uses an insecure algorithm"},
      {G_TLS_CERTIFICATE_GENERIC_ERROR, "failed verification for another reason"},
  };
  if (errors == 0) {
    std::printf("  verification: trusted (chain, host name and dates all check out)\n");
    return;
  }
  std::printf("  verification: NOT trusted:\n");
  for (const auto &f : kFlags)
    if (errors & f.flag)
      std::printf("    - %s\n", f.words);
}

void print_chain(GTlsCertificate *cert)
{
  for (int depth = 0; cert; cert = g_tls_certificate_get_issuer(cert), depth++) {
    char *subject = g_tls_certificate_get_subject_name(cert);
    char *issuer = g_tls_certificate_get_issuer_name(cert);
    GDateTime *until = g_tls_certificate_get_not_valid_after(cert);
    char *until_text = until ? g_date_time_format_iso8601(until) : g_strdup("?");
    std::printf("  certificate %d: %s\n    issued by %s, valid until %s\n", depth, subject,
                issuer, until_text);
    g_free(subject);
    g_free(issuer);
    g_free(until_text);
    if (until)
      g_date_time_unref(until);
  }
}

const char *protocol_name(GTlsProtocolVersion version)
{
  switch (version) {
  case G_TLS_PROTOCOL_VERSION_TLS_1_0: return "TLS 1.0";
  case G_TLS_PROTOCOL_VERSION_TLS_1_1: return "TLS 1.1";
  case G_TLS_PROTOCOL_VERSION_TLS_1_2: return "TLS 1.2";
  case G_TLS_PROTOCOL_VERSION_TLS_1_3: return "TLS 1.3";
  default: return "another protocol";
  }
}

void finish(Session *session, int status)
{
  exit_status = status;
  if (session->connection)
    g_io_stream_close(G_IO_STREAM(session->connection), nullptr, nullptr);
  g_clear_object(&session->connection);
  g_clear_object(&session->database);
  g_clear_object(&session->certificate);
  g_application_release(session->app);
  delete session;
}

// The peer's certificate failed verification: remember why, and refuse it
// (returning TRUE would accept it anyway; a real application asks the user).
gboolean on_accept_certificate(GTlsConnection *, GTlsCertificate *, GTlsCertificateFlags errors,
                               gpointer data)
{
  static_cast<Session *>(data)->rejected_errors = errors;
  return FALSE;
}

// GSocketClient reports each connection step; just before the handshake is
// the moment to set the trust database, ALPN and client certificate.
void on_client_event(GSocketClient *, GSocketClientEvent event, GSocketConnectable *,
                     GIOStream *stream, gpointer data)
{
  if (event != G_SOCKET_CLIENT_TLS_HANDSHAKING)
    return;
  auto *session = static_cast<Session *>(data);
  GTlsConnection *tls = G_TLS_CONNECTION(stream);
  if (session->database)
    g_tls_connection_set_database(tls, session->database);
  if (alpn)
    g_tls_connection_set_advertised_protocols(tls, alpn);
  if (session->certificate)
    g_tls_connection_set_certificate(tls, session->certificate);
  g_signal_connect(tls, "accept-certificate", G_CALLBACK(on_accept_certificate), session);

  // Beyond GIO's API: only where the backend has the property.
  GObjectClass *klass = G_OBJECT_GET_CLASS(tls);
  if (min_version && g_object_class_find_property(klass, "min-protocol-version")) {
    g_object_set(tls, "min-protocol-version",
                 std::strcmp(min_version, "1.3") == 0 ? G_TLS_PROTOCOL_VERSION_TLS_1_3
                                                      : G_TLS_PROTOCOL_VERSION_TLS_1_2,
                 nullptr);
  } else if (min_version) {
    std::fprintf(stderr, "note: this TLS backend cannot limit versions; --min-version ignored\n");
  }
  if (ciphers && g_object_class_find_property(klass, "ciphersuites")) {
    char **suites = g_strsplit(ciphers, ",", -1);
    g_object_set(tls, "ciphersuites", suites, nullptr);
    g_strfreev(suites);
  } else if (ciphers) {
    std::fprintf(stderr, "note: this TLS backend cannot choose cipher suites; --ciphers ignored\n");
  }
}

void on_reply(GObject *source, GAsyncResult *result, gpointer data)
{
  auto *session = static_cast<Session *>(data);
  GError *error = nullptr;
  gsize n = 0;
  if (!g_input_stream_read_all_finish(G_INPUT_STREAM(source), result, &n, &error)) {
    std::printf("reading the reply failed: %s\n", error->message);
    g_error_free(error);
    finish(session, 1);
    return;
  }
  std::printf("received: %.*s\n", static_cast<int>(n > 0 ? n - 1 : 0), session->reply);
  finish(session, 0);
}

void on_sent(GObject *source, GAsyncResult *result, gpointer data)
{
  auto *session = static_cast<Session *>(data);
  GError *error = nullptr;
  if (!g_output_stream_write_all_finish(G_OUTPUT_STREAM(source), result, nullptr, &error)) {
    std::printf("sending failed: %s\n", error->message);
    g_error_free(error);
    finish(session, 1);
    return;
  }
  // An echo server sends back exactly as many bytes as it got.
  GInputStream *in = g_io_stream_get_input_stream(G_IO_STREAM(session->connection));
  g_input_stream_read_all_async(in, session->reply, std::strlen(send_text) + 1,
                                G_PRIORITY_DEFAULT, nullptr, on_reply, session);
}

void on_connected(GObject *source, GAsyncResult *result, gpointer data)
{
  auto *session = static_cast<Session *>(data);
  GError *error = nullptr;
  session->connection = g_socket_client_connect_to_host_finish(G_SOCKET_CLIENT(source), result,
                                                               &error);
  if (!session->connection) {
    std::printf("connection failed: %s\n", error->message);
    if (session->rejected_errors)
      print_certificate_errors(session->rejected_errors);
    g_error_free(error);
    finish(session, 1);
    return;
  }

  // With set_tls(TRUE) the connection is a GTcpWrapperConnection around the
  // GTlsClientConnection that did the handshake.
  GIOStream *base = g_tcp_wrapper_connection_get_base_io_stream(
      G_TCP_WRAPPER_CONNECTION(session->connection));
  GTlsConnection *tls = G_TLS_CONNECTION(base);
  char *cipher = g_tls_connection_get_ciphersuite_name(tls);
  const char *negotiated = g_tls_connection_get_negotiated_protocol(tls);
  std::printf("connected\n  protocol: %s\n  cipher suite: %s\n  ALPN: %s\n",
              protocol_name(g_tls_connection_get_protocol_version(tls)), cipher,
              negotiated ? negotiated : "(none negotiated)");
  g_free(cipher);
  print_chain(g_tls_connection_get_peer_certificate(tls));
  print_certificate_errors(g_tls_connection_get_peer_certificate_errors(tls));

  if (!send_text) {
    finish(session, 0);
    return;
  }
  // The same string is written with a newline and expected back.
  char *line = g_strconcat(send_text, "\n", nullptr);
  GOutputStream *out = g_io_stream_get_output_stream(G_IO_STREAM(session->connection));
  g_output_stream_write_all_async(out, line, std::strlen(line), G_PRIORITY_DEFAULT, nullptr,
                                  on_sent, session);
  // write_all_async copies nothing: keep the line until the call completes.
  g_object_set_data_full(G_OBJECT(session->connection), "line", line, g_free);
}

void on_activate(GApplication *app, gpointer)
{
  if (!positional || g_strv_length(positional) != 2) {
    std::fprintf(stderr, "usage: gio-tls-gnutls-tls-client HOST PORT [OPTION...]\n");
    exit_status = 2;
    return;
  }
  const char *host = positional[0];
  guint64 port = 0;
  if (!g_ascii_string_to_unsigned(positional[1], 10, 1, 65535, &port, nullptr)) {
    std::fprintf(stderr, "not a port number: %s\n", positional[1]);
    exit_status = 2;
    return;
  }

  if (send_text && std::strlen(send_text) >= sizeof Session::reply) {
    std::fprintf(stderr, "--send: at most %zu bytes\n", sizeof Session::reply - 1);
    exit_status = 2;
    return;
  }

  if (min_version && std::strcmp(min_version, "1.2") != 0 && std::strcmp(min_version, "1.3") != 0) {
    std::fprintf(stderr, "--min-version: 1.2 or 1.3\n");
    exit_status = 2;
    return;
  }

  auto *session = new Session{app};
  GError *error = nullptr;
  if (ca_file && !(session->database = g_tls_file_database_new(ca_file, &error))) {
    std::fprintf(stderr, "cannot load the CA file: %s\n", error->message);
    g_error_free(error);
    delete session;
    exit_status = 1;
    return;
  }
  if (cert_file && !(session->certificate = g_tls_certificate_new_from_files(
                         cert_file, key_file ? key_file : cert_file, &error))) {
    std::fprintf(stderr, "cannot load the client certificate: %s\n", error->message);
    g_error_free(error);
    g_clear_object(&session->database);
    delete session;
    exit_status = 1;
    return;
  }

  std::printf("TLS backend: %s\n", G_OBJECT_TYPE_NAME(g_tls_backend_get_default()));
  GSocketClient *client = g_socket_client_new();
  g_socket_client_set_tls(client, TRUE);
  g_socket_client_set_timeout(client, 20);
  g_signal_connect(client, "event", G_CALLBACK(on_client_event), session);
  g_application_hold(app);  // released in finish()
  g_socket_client_connect_to_host_async(client, host, static_cast<guint16>(port), nullptr,
                                        on_connected, session);
  g_object_unref(client);
}

}  // namespace

int main(int argc, char **argv)
{
  setlocale(LC_ALL, "");  // messages, the module's too, in the user's language
  const GOptionEntry entries[] = {
      {"ca-file", 0, 0, G_OPTION_ARG_FILENAME, &ca_file,
       "Trust these CA certificates (PEM) instead of the system store", "FILE"},
      {"alpn", 0, 0, G_OPTION_ARG_STRING_ARRAY, &alpn,
       "Offer this ALPN protocol (repeat for several, most preferred first)", "PROTO"},
      {"cert", 0, 0, G_OPTION_ARG_FILENAME, &cert_file, "Client certificate (PEM)", "FILE"},
      {"key", 0, 0, G_OPTION_ARG_FILENAME, &key_file,
       "Client private key (PEM; default: the --cert file)", "FILE"},
      {"send", 0, 0, G_OPTION_ARG_STRING, &send_text,
       "Send this line and print the line that comes back", "TEXT"},
      {"min-version", 0, 0, G_OPTION_ARG_STRING, &min_version,
       "The lowest TLS version to accept (1.2 or 1.3)", "VERSION"},
      {"ciphers", 0, 0, G_OPTION_ARG_STRING, &ciphers,
       "Offer only these cipher suites (IANA names, comma-separated, most preferred first)",
       "SUITE,..."},
      {G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &positional, nullptr, "HOST PORT"},
      {},
  };
  // NON_UNIQUE: each run is its own instance, with no D-Bus registration.
  GApplication *app = g_application_new("org.gnome.GioTlsGnutls.TlsClient",
                                        G_APPLICATION_NON_UNIQUE);
  g_application_add_main_option_entries(app, entries);
  g_application_set_option_context_parameter_string(app, "HOST PORT");
  g_signal_connect(app, "activate", G_CALLBACK(on_activate), nullptr);
  int status = g_application_run(app, argc, argv);
  g_object_unref(app);
  return status != 0 ? status : exit_status;
}
