// gio-tls-gnutls DTLS ping client: a DTLS client that sends a ping every
// interval and prints the text the server echoes (pair it with
// gio-tls-gnutls-dtls-echo-server, like Qt's DTLS client and server examples).
//
// Everything runs on the main context: the handshake is asynchronous (its
// retransmissions are GLib timeouts), a timeout source sends the pings and a
// source on the connection prints the echoes. It stops after --count echoes
// (or --count pings plus a grace period), closes with close_notify and exits
// 0 if every ping came back.
//
// With --psk IDENTITY:HEXKEY it offers that pre-shared key (our module's
// `psk-identity` and `psk-key` properties, docs/user-guide.md, "Beyond GIO's
// API"), as Qt's DTLS client example does; a server that takes it sends no
// certificate.
//
// Uses only the public GIO API; run with GIO_MODULE_DIR pointing at the
// directory holding our module.
//
//   gio-tls-gnutls-dtls-ping-client [--host 127.0.0.1] [--port 4433]
//       [--name localhost] [--ca FILE] [--psk IDENTITY:HEXKEY]
//       [--interval MS] [--count N]
#include <gio/gio.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {

struct Client {
  GDatagramBased *dtls = nullptr;  // (owned) the GDtlsClientConnection
  GSource *readable = nullptr;   // (owned, nullable) prints the echoes
  GMainLoop *loop = nullptr;
  int interval_ms = 1000;
  int count = 5;
  int sent = 0;
  int echoed = 0;
  bool failed = false;
};

void finish(Client *client, bool failed)
{
  client->failed = client->failed || failed;
  g_main_loop_quit(client->loop);
}

// The server echoed something: print it.
gboolean on_readable(GDatagramBased *dtls, GIOCondition, gpointer data) noexcept
{
  auto *client = static_cast<Client *>(data);
  char buf[2048];
  GInputVector vector{buf, sizeof buf};
  GInputMessage message{nullptr, &vector, 1, 0, 0, nullptr, nullptr};
  GError *error = nullptr;
  gint n = g_datagram_based_receive_messages(dtls, &message, 1, 0, 0, nullptr, &error);
  if (n < 0 && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
    g_error_free(error);
    return G_SOURCE_CONTINUE;  // a record with no data for us
  }
  if (n < 0) {
    std::fprintf(stderr, "dtls-ping-client: receive: %s\n", error->message);
    g_error_free(error);
    finish(client, true);
    return G_SOURCE_REMOVE;
  }
  if (n == 0 || message.bytes_received == 0) {
    std::fprintf(stderr, "dtls-ping-client: the server closed the session\n");
    finish(client, true);
    return G_SOURCE_REMOVE;
  }
  std::printf("received \"%.*s\"\n", static_cast<int>(message.bytes_received), buf);
  if (++client->echoed >= client->count)
    finish(client, false);
  return G_SOURCE_CONTINUE;
}

void on_give_up(gpointer data) noexcept
{
  auto *client = static_cast<Client *>(data);
  std::fprintf(stderr, "dtls-ping-client: %d of %d pings came back\n", client->echoed, client->count);
  finish(client, true);
}

// Every interval: one ping, a datagram of its own. UDP may lose it; we do
// not resend, we just count what came back.
gboolean on_tick(gpointer data) noexcept
{
  auto *client = static_cast<Client *>(data);
  if (client->sent >= client->count) {
    // Every ping is out: the last echoes get a grace period, then we give up.
    g_timeout_add_once(3000, on_give_up, client);
    return G_SOURCE_REMOVE;
  }
  std::string ping = "ping " + std::to_string(++client->sent);
  GOutputVector vector{ping.data(), ping.size()};
  GOutputMessage message{nullptr, &vector, 1, 0, nullptr, 0};
  GError *error = nullptr;
  if (g_datagram_based_send_messages(client->dtls, &message, 1, 0, 0, nullptr, &error) < 0) {
    std::fprintf(stderr, "dtls-ping-client: send: %s\n", error->message);
    g_error_free(error);  // e.g. a full socket buffer: this ping is lost
  } else {
    std::printf("sent \"%s\"\n", ping.c_str());
  }
  return G_SOURCE_CONTINUE;
}

void on_handshake_done(GObject *source, GAsyncResult *result, gpointer data) noexcept
{
  auto *client = static_cast<Client *>(data);
  GError *error = nullptr;
  GDtlsConnection *conn = G_DTLS_CONNECTION(source);
  if (!g_dtls_connection_handshake_finish(conn, result, &error)) {
    std::fprintf(stderr, "dtls-ping-client: handshake: %s\n", error->message);
    g_error_free(error);
    finish(client, true);
    return;
  }
  char *suite = g_dtls_connection_get_ciphersuite_name(conn);  // (transfer full)
  std::printf("handshake done: %s, %s\n",
              g_dtls_connection_get_protocol_version(conn) == G_TLS_PROTOCOL_VERSION_DTLS_1_2
                  ? "DTLS 1.2" : "DTLS (other version)",
              suite);
  g_free(suite);
  client->readable = g_datagram_based_create_source(client->dtls, G_IO_IN, nullptr);
  g_source_set_callback(client->readable, G_SOURCE_FUNC(on_readable), client, nullptr);
  g_source_attach(client->readable, nullptr);
  on_tick(client);  // the first ping now, then one per interval
  g_timeout_add(static_cast<guint>(client->interval_ms), on_tick, client);
}

// "IDENTITY:HEXKEY" into its parts; false when it is not that.
bool parse_psk(const char *text, std::string *out_identity, GBytes **out_key)
{
  const char *colon = strrchr(text, ':');
  if (!colon || colon == text || strlen(colon + 1) % 2 != 0 || !colon[1])
    return false;
  std::vector<guint8> key;
  for (const char *p = colon + 1; *p; p += 2) {
    int hi = g_ascii_xdigit_value(p[0]), lo = g_ascii_xdigit_value(p[1]);
    if (hi < 0 || lo < 0)
      return false;
    key.push_back(static_cast<guint8>(hi * 16 + lo));
  }
  out_identity->assign(text, colon);
  *out_key = g_bytes_new(key.data(), key.size());
  return true;
}

}  // namespace

int main(int argc, char **argv)
{
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  g_autofree char *host = g_strdup("127.0.0.1");
  g_autofree char *name = g_strdup("localhost");
  g_autofree char *ca_file = g_strdup(DEMO_FILES_DIR "/ca.pem");
  g_autofree char *psk = nullptr;
  int port = 4433;
  Client client;
  const GOptionEntry entries[] = {
      {"host", 0, 0, G_OPTION_ARG_STRING, &host, "Server IP address", "ADDRESS"},
      {"port", 'p', 0, G_OPTION_ARG_INT, &port, "Server UDP port", "PORT"},
      {"name", 0, 0, G_OPTION_ARG_STRING, &name, "Name the server certificate must carry", "NAME"},
      {"ca", 0, 0, G_OPTION_ARG_FILENAME, &ca_file, "Trusted CA certificates (PEM)", "FILE"},
      {"psk", 0, 0, G_OPTION_ARG_STRING, &psk, "Offer this pre-shared key", "IDENTITY:HEXKEY"},
      {"interval", 'i', 0, G_OPTION_ARG_INT, &client.interval_ms, "Milliseconds between pings", "MS"},
      {"count", 'c', 0, G_OPTION_ARG_INT, &client.count, "Number of pings", "N"},
      {nullptr, 0, 0, G_OPTION_ARG_NONE, nullptr, nullptr, nullptr},
  };
  g_autoptr(GOptionContext) options = g_option_context_new("- send DTLS pings, print the echoes");
  g_option_context_add_main_entries(options, entries, nullptr);
  g_autoptr(GError) error = nullptr;
  if (!g_option_context_parse(options, &argc, &argv, &error) || port <= 0 || port > 65535 ||
      client.interval_ms <= 0 || client.count <= 0) {
    std::fprintf(stderr, "dtls-ping-client: %s\n", error ? error->message : "bad option value");
    return 2;
  }
  g_autoptr(GInetAddress) ip = g_inet_address_new_from_string(host);
  if (!ip) {
    std::fprintf(stderr, "dtls-ping-client: %s is not an IP address\n", host);
    return 2;
  }

  // A UDP socket connected to the server: the connection gets only its datagrams.
  g_autoptr(GSocket) socket =
      g_socket_new(g_inet_address_get_family(ip), G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &error);
  g_autoptr(GSocketAddress) server = g_inet_socket_address_new(ip, static_cast<guint16>(port));
  if (!socket || !g_socket_connect(socket, server, nullptr, &error)) {
    std::fprintf(stderr, "dtls-ping-client: %s\n", error->message);
    return 1;
  }
  g_autoptr(GTlsDatabase) database = g_tls_file_database_new(ca_file, &error);
  if (!database) {
    std::fprintf(stderr, "dtls-ping-client: %s\n", error->message);
    return 1;
  }
  // The identity the server's certificate is checked against.
  g_autoptr(GSocketConnectable) identity = g_network_address_new(name, static_cast<guint16>(port));
  client.dtls = g_dtls_client_connection_new(G_DATAGRAM_BASED(socket), identity, &error);
  if (!client.dtls) {
    std::fprintf(stderr, "dtls-ping-client: %s\n", error->message);
    return 1;
  }
  g_dtls_connection_set_database(G_DTLS_CONNECTION(client.dtls), database);
  if (psk) {
    std::string psk_identity;
    GBytes *psk_key = nullptr;
    if (!parse_psk(psk, &psk_identity, &psk_key)) {
      std::fprintf(stderr, "dtls-ping-client: --psk wants IDENTITY:HEXKEY\n");
      return 2;
    }
    // Beyond GIO's API: only where the backend has the properties.
    if (!g_object_class_find_property(G_OBJECT_GET_CLASS(client.dtls), "psk-key")) {
      std::fprintf(stderr, "dtls-ping-client: the TLS backend has no pre-shared keys\n");
      return 1;
    }
    g_object_set(client.dtls, "psk-identity", psk_identity.c_str(), "psk-key", psk_key, nullptr);
    g_bytes_unref(psk_key);
  }

  client.loop = g_main_loop_new(nullptr, FALSE);
  g_dtls_connection_handshake_async(G_DTLS_CONNECTION(client.dtls), G_PRIORITY_DEFAULT, nullptr,
                                    on_handshake_done, &client);
  g_main_loop_run(client.loop);
  if (client.readable) {
    g_source_destroy(client.readable);
    g_source_unref(client.readable);
  }

  // close_notify tells the server we are gone (it would forget us anyway
  // after a while); the socket is ours and closes when unreferenced.
  if (g_dtls_connection_get_protocol_version(G_DTLS_CONNECTION(client.dtls)) != G_TLS_PROTOCOL_VERSION_UNKNOWN)
    g_dtls_connection_close(G_DTLS_CONNECTION(client.dtls), nullptr, nullptr);
  g_object_unref(client.dtls);
  g_main_loop_unref(client.loop);
  std::printf("%d of %d pings echoed\n", client.echoed, client.count);
  return client.failed ? 1 : 0;
}
