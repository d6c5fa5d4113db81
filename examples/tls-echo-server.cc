// A TLS echo server: every line a client sends comes back to it.
//
//   gio-tls-gnutls-tls-echo-server [--port N] [--cert FILE --key FILE]
//                                  [--require-client-cert --ca-file FILE]
//                                  [--alpn PROTO]...
//
// It listens on the loopback interface (port 0 picks a free port) and prints
// "listening on port N" once it is ready, then one line per client: the
// negotiated protocol and cipher suite, and the client certificate when there
// is one. With --require-client-cert, clients must present a certificate that
// the CA file vouches for. Without --cert, it uses the test server
// certificate from tests/files. Stop it with Ctrl-C (or any signal).
//
// Only the public GIO API is used, all of it asynchronous on one main loop:
// GSocketService accepts, g_tls_server_connection_new wraps each connection,
// and reads and writes run on the main context.
#include <gio/gio.h>

#include <clocale>
#include <cstdio>
#include <string>

namespace {

struct Options {
  int port = 0;
  char *cert_file = nullptr;
  char *key_file = nullptr;
  char *ca_file = nullptr;
  gboolean require_client_cert = FALSE;
  char **alpn = nullptr;
};

struct Server {
  GTlsCertificate *certificate = nullptr;
  GTlsDatabase *client_ca = nullptr;  // (nullable) when clients are not checked
  bool require_client_cert = false;
  char **alpn = nullptr;  // (nullable) ALPN protocols offered, preferred first
  unsigned next_client_id = 1;
};

// One connected client: its TLS connection and the buffer that carries each
// chunk from the read back to the write.
struct Client {
  unsigned id;
  GTlsConnection *tls;  // (owned)
  char buffer[4096];
};

void client_free(Client *client)
{
  g_object_unref(client->tls);
  delete client;
}

void on_read(GObject *source, GAsyncResult *result, gpointer data);

void read_next(Client *client)
{
  GInputStream *in = g_io_stream_get_input_stream(G_IO_STREAM(client->tls));
  g_input_stream_read_async(in, client->buffer, sizeof client->buffer, G_PRIORITY_DEFAULT,
                            nullptr, on_read, client);
}

void on_written(GObject *source, GAsyncResult *result, gpointer data)
{
  auto *client = static_cast<Client *>(data);
  GError *error = nullptr;
  if (!g_output_stream_write_all_finish(G_OUTPUT_STREAM(source), result, nullptr, &error)) {
    std::printf("client %u: write failed: %s\n", client->id, error->message);
    g_error_free(error);
    client_free(client);
    return;
  }
  read_next(client);
}

void on_read(GObject *source, GAsyncResult *result, gpointer data)
{
  auto *client = static_cast<Client *>(data);
  GError *error = nullptr;
  gssize n = g_input_stream_read_finish(G_INPUT_STREAM(source), result, &error);
  if (n <= 0) {
    if (n < 0) {
      std::printf("client %u: read failed: %s\n", client->id, error->message);
      g_error_free(error);
    } else {
      std::printf("client %u: closed\n", client->id);
    }
    std::fflush(stdout);
    g_io_stream_close(G_IO_STREAM(client->tls), nullptr, nullptr);
    client_free(client);
    return;
  }
  // Echo exactly what arrived; the next read starts once it is all written.
  GOutputStream *out = g_io_stream_get_output_stream(G_IO_STREAM(client->tls));
  g_output_stream_write_all_async(out, client->buffer, static_cast<gsize>(n),
                                  G_PRIORITY_DEFAULT, nullptr, on_written, client);
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

void on_handshake(GObject *source, GAsyncResult *result, gpointer data)
{
  auto *client = static_cast<Client *>(data);
  GError *error = nullptr;
  if (!g_tls_connection_handshake_finish(client->tls, result, &error)) {
    std::printf("client %u: handshake failed: %s\n", client->id, error->message);
    std::fflush(stdout);
    g_error_free(error);
    client_free(client);
    return;
  }
  char *cipher = g_tls_connection_get_ciphersuite_name(client->tls);
  const char *alpn = g_tls_connection_get_negotiated_protocol(client->tls);
  std::printf("client %u: %s, %s, ALPN %s", client->id,
              protocol_name(g_tls_connection_get_protocol_version(client->tls)), cipher,
              alpn ? alpn : "none");
  g_free(cipher);
  if (GTlsCertificate *peer = g_tls_connection_get_peer_certificate(client->tls)) {
    char *subject = g_tls_certificate_get_subject_name(peer);
    std::printf(", client certificate %s", subject);
    g_free(subject);
  }
  std::printf("\n");
  std::fflush(stdout);
  read_next(client);
}

// GSocketService::incoming: wrap the plain connection in TLS and start the
// handshake. Returning TRUE tells the service that we took the connection.
gboolean on_incoming(GSocketService *, GSocketConnection *connection, GObject *,
                     gpointer data)
{
  auto *server = static_cast<Server *>(data);
  GError *error = nullptr;
  GIOStream *tls = g_tls_server_connection_new(G_IO_STREAM(connection), server->certificate,
                                               &error);
  if (!tls) {
    std::printf("cannot create a TLS server connection: %s\n", error->message);
    g_error_free(error);
    return FALSE;
  }
  if (server->require_client_cert) {
    g_object_set(tls, "authentication-mode", G_TLS_AUTHENTICATION_REQUIRED, nullptr);
    g_tls_connection_set_database(G_TLS_CONNECTION(tls), server->client_ca);
  }
  if (server->alpn)
    g_tls_connection_set_advertised_protocols(G_TLS_CONNECTION(tls), server->alpn);
  auto *client = new Client{server->next_client_id++, G_TLS_CONNECTION(tls), {}};
  g_tls_connection_handshake_async(client->tls, G_PRIORITY_DEFAULT, nullptr, on_handshake,
                                   client);
  return TRUE;
}

}  // namespace

int main(int argc, char **argv)
{
  setlocale(LC_ALL, "");  // messages, the module's too, in the user's language
  Options opt;
  const GOptionEntry entries[] = {
      {"port", 'p', 0, G_OPTION_ARG_INT, &opt.port, "Port to listen on (0: any free port)", "N"},
      {"cert", 0, 0, G_OPTION_ARG_FILENAME, &opt.cert_file, "Server certificate chain (PEM)",
       "FILE"},
      {"key", 0, 0, G_OPTION_ARG_FILENAME, &opt.key_file, "Server private key (PEM)", "FILE"},
      {"require-client-cert", 0, 0, G_OPTION_ARG_NONE, &opt.require_client_cert,
       "Reject clients without a certificate the CA file vouches for", nullptr},
      {"ca-file", 0, 0, G_OPTION_ARG_FILENAME, &opt.ca_file,
       "CA certificates that client certificates must chain to (PEM)", "FILE"},
      {"alpn", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt.alpn,
       "Accept this ALPN protocol (repeat for several, most preferred first)", "PROTO"},
      {},
  };
  GError *error = nullptr;
  GOptionContext *context = g_option_context_new("- TLS echo server");
  g_option_context_add_main_entries(context, entries, nullptr);
  bool parsed = g_option_context_parse(context, &argc, &argv, &error);
  g_option_context_free(context);
  if (!parsed) {
    std::fprintf(stderr, "%s\n", error->message);
    return 2;
  }
  if (opt.require_client_cert && !opt.ca_file) {
    std::fprintf(stderr, "--require-client-cert needs --ca-file\n");
    return 2;
  }

  // The server's identity: the test chain unless --cert/--key name another.
  std::string cert_file = opt.cert_file ? opt.cert_file : DEMO_FILES_DIR "/server-chain.pem";
  std::string key_file = opt.key_file ? opt.key_file
                         : opt.cert_file ? opt.cert_file
                                         : DEMO_FILES_DIR "/server-key.pem";
  Server server;
  server.alpn = opt.alpn;
  server.certificate = g_tls_certificate_new_from_files(cert_file.c_str(), key_file.c_str(),
                                                        &error);
  if (!server.certificate) {
    std::fprintf(stderr, "cannot load the server certificate: %s\n", error->message);
    return 1;
  }
  if (opt.require_client_cert) {
    server.require_client_cert = true;
    server.client_ca = g_tls_file_database_new(opt.ca_file, &error);
    if (!server.client_ca) {
      std::fprintf(stderr, "cannot load the CA file: %s\n", error->message);
      return 1;
    }
  }

  // Listen on 127.0.0.1 only: this is an example, not a public service.
  GSocketService *service = g_socket_service_new();
  GInetAddress *loopback = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
  GSocketAddress *address = g_inet_socket_address_new(loopback, static_cast<guint16>(opt.port));
  GSocketAddress *bound = nullptr;
  bool listening = g_socket_listener_add_address(G_SOCKET_LISTENER(service), address,
                                                 G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                                 nullptr, &bound, &error);
  g_object_unref(address);
  g_object_unref(loopback);
  if (!listening) {
    std::fprintf(stderr, "cannot listen on port %d: %s\n", opt.port, error->message);
    return 1;
  }
  std::printf("listening on port %u\n",
              g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound)));
  std::fflush(stdout);
  g_object_unref(bound);

  g_signal_connect(service, "incoming", G_CALLBACK(on_incoming), &server);
  g_socket_service_start(service);
  GMainLoop *loop = g_main_loop_new(nullptr, FALSE);
  g_main_loop_run(loop);  // until the process is killed
  return 0;
}
