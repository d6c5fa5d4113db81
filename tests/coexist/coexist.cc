// Coexistence with glib-networking in one process.
//
// Loads a copy of our module built with the backend name "gnutlsxx" and
// glib-networking's libgiognutls.so together (GIO_EXTRA_MODULES names both
// directories), then checks that both register on gio-tls-backend, that no
// two of their GTypes share a name, and that each backend builds a working
// GTlsCertificate of its own type. A GType name clash would show up as a
// critical from g_type_register_static (fatal under g_test) or as a missing
// extension. Finally a TLS handshake between the two backends, each side
// using its own types, shows that both work in the same process. Runs on the
// main thread, with a server thread in the handshake tests.
#include <gio/gio.h>
#include <sys/socket.h>

#include <array>
#include <cstring>
#include <thread>

namespace {

constexpr const char *kOurs = COEXIST_BACKEND_NAME;  // "gnutlsxx"
constexpr const char *kTheirs = "gnutls";            // glib-networking's name
constexpr const char *kTheirModule = GN_MODULE_DIR "/libgiognutls.so";

// Skips the current test when glib-networking's module is not installed.
bool have_glib_networking()
{
  if (g_file_test(kTheirModule, G_FILE_TEST_EXISTS))
    return true;
  g_test_skip("glib-networking's module is not installed (" GN_MODULE_DIR ")");
  return false;
}

// The extension `name` on gio-tls-backend, or nullptr. Loading the modules is
// triggered by asking GIO for the default backend first.
GIOExtension *tls_extension(const char *name)
{
  (void)g_tls_backend_get_default();
  GIOExtensionPoint *ep = g_io_extension_point_lookup(G_TLS_BACKEND_EXTENSION_POINT_NAME);
  return ep ? g_io_extension_point_get_extension_by_name(ep, name) : nullptr;
}

// A new instance of the backend registered as `name` (transfer full).
GTlsBackend *new_backend(const char *name)
{
  GIOExtension *ext = tls_extension(name);
  g_assert_nonnull(ext);
  return G_TLS_BACKEND(g_object_new(g_io_extension_get_type(ext), nullptr));
}

// Every type a backend hands out, in a fixed order.
std::array<GType, 7> backend_types(GTlsBackend *backend)
{
  return {
      G_OBJECT_TYPE(backend),
      g_tls_backend_get_certificate_type(backend),
      g_tls_backend_get_file_database_type(backend),
      g_tls_backend_get_client_connection_type(backend),
      g_tls_backend_get_server_connection_type(backend),
      g_tls_backend_get_dtls_client_connection_type(backend),
      g_tls_backend_get_dtls_server_connection_type(backend),
  };
}

void test_both_registered()
{
  if (!have_glib_networking())
    return;
  GIOExtension *ours = tls_extension(kOurs);
  GIOExtension *theirs = tls_extension(kTheirs);
  g_assert_nonnull(ours);
  g_assert_nonnull(theirs);
  g_assert_cmpstr(g_type_name(g_io_extension_get_type(ours)), ==,
                  "GTlsBackend" COEXIST_BACKEND_CAMEL);
  g_assert_cmpstr(g_type_name(g_io_extension_get_type(theirs)), ==, "GTlsBackendGnutls");
  g_assert_cmpint(g_io_extension_get_priority(ours), ==, 100);
}

void test_types_distinct()
{
  if (!have_glib_networking())
    return;
  GTlsBackend *ours = new_backend(kOurs);
  GTlsBackend *theirs = new_backend(kTheirs);
  const auto our_types = backend_types(ours);
  const auto their_types = backend_types(theirs);

  for (GType ot : our_types) {
    g_assert_true(ot != G_TYPE_INVALID);
    for (GType tt : their_types) {
      g_assert_true(tt != G_TYPE_INVALID);
      g_assert_true(ot != tt);
      g_assert_cmpstr(g_type_name(ot), !=, g_type_name(tt));
    }
  }
  g_assert_true(g_tls_backend_supports_tls(ours));
  g_object_unref(ours);
  g_object_unref(theirs);
}

// Builds the same PEM certificate through the certificate type of the backend
// registered as `name`.
GTlsCertificate *certificate_from(const char *name, const char *pem)
{
  GTlsBackend *backend = new_backend(name);
  GError *error = nullptr;
  auto *cert = static_cast<GTlsCertificate *>(
      g_initable_new(g_tls_backend_get_certificate_type(backend), nullptr, &error,
                     "certificate-pem", pem, nullptr));
  g_assert_no_error(error);
  g_assert_nonnull(cert);
  g_object_unref(backend);
  return cert;
}

void test_certificate_from_each()
{
  if (!have_glib_networking())
    return;
  char *pem = nullptr;
  GError *error = nullptr;
  g_file_get_contents(COEXIST_PEM, &pem, nullptr, &error);
  g_assert_no_error(error);

  GTlsCertificate *ours = certificate_from(kOurs, pem);
  GTlsCertificate *theirs = certificate_from(kTheirs, pem);
  g_assert_cmpstr(G_OBJECT_TYPE_NAME(ours), !=, G_OBJECT_TYPE_NAME(theirs));

  // Both parsed the same certificate.
  char *our_subject = g_tls_certificate_get_subject_name(ours);
  char *their_subject = g_tls_certificate_get_subject_name(theirs);
  g_assert_nonnull(our_subject);
  g_assert_nonnull(strstr(our_subject, "gio-tls-gnutls coexist test"));
  g_assert_nonnull(their_subject);
  g_assert_nonnull(strstr(their_subject, "gio-tls-gnutls coexist test"));
  g_assert_true(g_tls_certificate_is_same(ours, ours));

  g_free(our_subject);
  g_free(their_subject);
  g_object_unref(ours);
  g_object_unref(theirs);
  g_free(pem);
}

// One direction of the cross-backend handshake.
struct Pairing {
  const char *client;  // backend name of the client side
  const char *server;  // backend name of the server side
};

// `type` constructed through GInitable with the given properties (transfer full).
template <typename... Props>
GObject *new_initable(GType type, Props... props)
{
  GError *error = nullptr;
  auto *object = static_cast<GObject *>(g_initable_new(type, nullptr, &error, props..., nullptr));
  g_assert_no_error(error);
  g_assert_nonnull(object);
  return object;
}

// Two connected GSocketConnections (a UNIX socket pair).
void new_connected_pair(GIOStream **out_a, GIOStream **out_b)
{
  int fds[2];
  g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
  GIOStream *ends[2];
  for (int i = 0; i < 2; i++) {
    GError *error = nullptr;
    GSocket *socket = g_socket_new_from_fd(fds[i], &error);
    g_assert_no_error(error);
    ends[i] = G_IO_STREAM(g_socket_connection_factory_create_connection(socket));
    g_object_unref(socket);
  }
  *out_a = ends[0];
  *out_b = ends[1];
}

// The server side: handshake, then echo one message. Records the first error.
void echo_server(GTlsConnection *conn, GError **out_error)
{
  char buffer[16];
  gsize n = 0;
  if (!g_tls_connection_handshake(conn, nullptr, out_error))
    return;
  gssize got = g_input_stream_read(g_io_stream_get_input_stream(G_IO_STREAM(conn)), buffer,
                                   sizeof buffer, nullptr, out_error);
  if (got <= 0)
    return;
  if (!g_output_stream_write_all(g_io_stream_get_output_stream(G_IO_STREAM(conn)), buffer,
                                 static_cast<gsize>(got), &n, nullptr, out_error))
    return;
  g_io_stream_close(G_IO_STREAM(conn), nullptr, out_error);
}

void test_handshake_across(gconstpointer data)
{
  if (!have_glib_networking())
    return;
  const auto *pairing = static_cast<const Pairing *>(data);
  GTlsBackend *client_backend = new_backend(pairing->client);
  GTlsBackend *server_backend = new_backend(pairing->server);

  char *cert_pem = nullptr;
  char *key_pem = nullptr;
  GError *error = nullptr;
  g_file_get_contents(COEXIST_FILES "/server-root.pem", &cert_pem, nullptr, &error);
  g_assert_no_error(error);
  g_file_get_contents(COEXIST_FILES "/server-key.pem", &key_pem, nullptr, &error);
  g_assert_no_error(error);

  // Each side builds everything with its own backend's types.
  GObject *server_cert = new_initable(g_tls_backend_get_certificate_type(server_backend),
                                      "certificate-pem", cert_pem, "private-key-pem", key_pem);
  GObject *anchors = new_initable(g_tls_backend_get_file_database_type(client_backend),
                                  "anchors", COEXIST_FILES "/ca.pem");
  GIOStream *client_base = nullptr;
  GIOStream *server_base = nullptr;
  new_connected_pair(&client_base, &server_base);
  GSocketConnectable *identity = g_network_address_new("localhost", 443);
  auto *server = G_TLS_CONNECTION(
      new_initable(g_tls_backend_get_server_connection_type(server_backend), "base-io-stream",
                   server_base, "certificate", server_cert));
  auto *client = G_TLS_CONNECTION(
      new_initable(g_tls_backend_get_client_connection_type(client_backend), "base-io-stream",
                   client_base, "server-identity", identity));
  g_tls_connection_set_database(client, G_TLS_DATABASE(anchors));

  GError *server_error = nullptr;
  std::thread server_thread(echo_server, server, &server_error);
  const char message[] = "ping";
  char echo[sizeof message] = {};
  gsize n = 0;
  g_tls_connection_handshake(client, nullptr, &error);
  if (!error)
    g_output_stream_write_all(g_io_stream_get_output_stream(G_IO_STREAM(client)), message,
                              sizeof message, &n, nullptr, &error);
  if (!error)
    g_input_stream_read_all(g_io_stream_get_input_stream(G_IO_STREAM(client)), echo,
                            sizeof echo, &n, nullptr, &error);
  if (error)
    g_io_stream_close(client_base, nullptr, nullptr);  // unblocks the server
  server_thread.join();
  g_assert_no_error(error);
  g_assert_no_error(server_error);
  g_assert_cmpstr(echo, ==, message);

  // The client verified the chain with its own types.
  g_assert_cmpuint(g_tls_connection_get_peer_certificate_errors(client), ==, 0);
  GTlsCertificate *peer = g_tls_connection_get_peer_certificate(client);
  g_assert_nonnull(peer);
  g_assert_true(G_OBJECT_TYPE(peer) == g_tls_backend_get_certificate_type(client_backend));

  g_io_stream_close(G_IO_STREAM(client), nullptr, nullptr);
  g_object_unref(client);
  g_object_unref(server);
  g_object_unref(identity);
  g_object_unref(client_base);
  g_object_unref(server_base);
  g_object_unref(anchors);
  g_object_unref(server_cert);
  g_free(key_pem);
  g_free(cert_pem);
  g_object_unref(server_backend);
  g_object_unref(client_backend);
}

constexpr Pairing kOurClient = {kOurs, kTheirs};
constexpr Pairing kTheirClient = {kTheirs, kOurs};

}  // namespace

int main(int argc, char **argv)
{
  // Only our gnutlsxx copy and glib-networking's directory; the default
  // module of this build (also "gnutls") must not be loaded here.
  g_setenv("GIO_MODULE_DIR", COEXIST_MODULE_DIR, TRUE);
  g_setenv("GIO_EXTRA_MODULES", COEXIST_MODULE_DIR ":" GN_MODULE_DIR, TRUE);
  g_unsetenv("GIO_USE_TLS");

  g_test_init(&argc, &argv, nullptr);
  g_test_add_func("/coexist/both-registered", test_both_registered);
  g_test_add_func("/coexist/types-distinct", test_types_distinct);
  g_test_add_func("/coexist/certificate-from-each", test_certificate_from_each);
  g_test_add_data_func("/coexist/handshake/our-client-their-server", &kOurClient,
                       test_handshake_across);
  g_test_add_data_func("/coexist/handshake/their-client-our-server", &kTheirClient,
                       test_handshake_across);
  return g_test_run();
}
