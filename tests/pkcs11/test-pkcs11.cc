// Tests of PKCS#11 certificates and keys through the public GIO API, on a
// SoftHSM token the test sets up itself (softhsm_token.h): loading a
// certificate by URI, a key that stays on the token, and PIN requests that
// reach the connection's GTlsInteraction with the PKCS#11 flags, RETRY on a
// wrong PIN and a bounded number of tries. The PIN tests run real TLS
// handshakes over a socket pair, the only public path to the private key.
#include "softhsm_token.h"

#include <gio/gio.h>

#include <sys/socket.h>

#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace {

std::unique_ptr<SoftHsmToken> token;  // nullptr when SoftHSM is not installed

bool have_token()
{
  if (!token)
    g_test_skip("SoftHSM (softhsm2) is not installed");
  return token != nullptr;
}

std::string path_of(const char *name)
{
  return std::string(TEST_FILES_DIR) + "/" + name;
}

GTlsCertificate *load_cert(const char *name)
{
  GError *error = nullptr;
  GTlsCertificate *cert = g_tls_certificate_new_from_file(path_of(name).c_str(), &error);
  g_assert_no_error(error);
  g_assert_nonnull(cert);
  return cert;
}

void assert_subject_contains(GTlsCertificate *cert, const char *fragment)
{
  char *subject = g_tls_certificate_get_subject_name(cert);
  g_assert_nonnull(subject);
  if (!strstr(subject, fragment))
    g_error("subject %s does not contain %s", subject, fragment);
  g_free(subject);
}

void assert_error_mentions(const GError *error, const char *fragment)
{
  g_assert_nonnull(error);
  if (!strstr(error->message, fragment))
    g_error("error message \"%s\" does not mention \"%s\"", error->message, fragment);
}

void test_pkcs11_certificate()
{
  if (!have_token())
    return;
  GError *error = nullptr;
  GTlsCertificate *cert =
      g_tls_certificate_new_from_pkcs11_uris(SoftHsmToken::kCertUri, SoftHsmToken::kKeyUri, &error);
  g_assert_no_error(error);
  g_assert_nonnull(cert);

  GTlsCertificate *server = load_cert("server.pem");
  g_assert_true(g_tls_certificate_is_same(cert, server));
  g_object_unref(server);
  assert_subject_contains(cert, "CN=server.example.test");

  char *uri = nullptr;
  char *key_uri = nullptr;
  GByteArray *key = nullptr;
  char *key_pem = nullptr;
  g_object_get(cert, "pkcs11-uri", &uri, "private-key-pkcs11-uri", &key_uri, "private-key", &key,
               "private-key-pem", &key_pem, nullptr);
  g_assert_cmpstr(uri, ==, SoftHsmToken::kCertUri);
  g_assert_cmpstr(key_uri, ==, SoftHsmToken::kKeyUri);
  // The key stays on the token: it is never exported.
  g_assert_null(key);
  g_assert_null(key_pem);
  g_free(uri);
  g_free(key_uri);

  GTlsCertificate *intermediate = load_cert("intermediate-ca.pem");
  GSocketConnectable *identity = g_network_address_new("server.example.test", 443);
  g_assert_cmpuint(g_tls_certificate_verify(cert, identity, intermediate), ==, 0);
  g_object_unref(identity);
  g_object_unref(intermediate);
  g_object_unref(cert);
}

void test_pkcs11_missing_object()
{
  if (!have_token())
    return;
  GError *error = nullptr;
  GTlsCertificate *cert = g_tls_certificate_new_from_pkcs11_uris(
      "pkcs11:token=gtg-test;object=nothing;type=cert", nullptr, &error);
  g_assert_null(cert);
  g_assert_error(error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE);
  assert_error_mentions(error, "PKCS #11");
  g_clear_error(&error);

  cert = g_tls_certificate_new_from_pkcs11_uris("not a uri", nullptr, &error);
  g_assert_null(cert);
  g_assert_error(error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE);
  g_clear_error(&error);
}

// A GTlsInteraction that answers PIN requests from a script of PINs and
// records the flags of every request.
struct ScriptedInteraction {
  GTlsInteraction parent_instance;
  const char *const *pins;  // nullptr-terminated; asked past the end: unhandled
  std::vector<GTlsPasswordFlags> *requests;
};

struct ScriptedInteractionClass {
  GTlsInteractionClass parent_class;
};

G_DEFINE_TYPE(ScriptedInteraction, scripted_interaction, G_TYPE_TLS_INTERACTION)

void scripted_interaction_init(ScriptedInteraction *) {}

GTlsInteractionResult scripted_ask_password(GTlsInteraction *interaction, GTlsPassword *password,
                                            GCancellable *, GError **error)
{
  auto *self = reinterpret_cast<ScriptedInteraction *>(interaction);
  size_t index = self->requests->size();
  self->requests->push_back(g_tls_password_get_flags(password));
  g_assert_nonnull(g_tls_password_get_description(password));
  for (size_t i = 0; i <= index; i++) {
    if (!self->pins[i]) {
      g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "no more PINs");
      return G_TLS_INTERACTION_FAILED;
    }
  }
  g_tls_password_set_value(password, reinterpret_cast<const guchar *>(self->pins[index]), -1);
  return G_TLS_INTERACTION_HANDLED;
}

void scripted_interaction_class_init(ScriptedInteractionClass *klass)
{
  G_TLS_INTERACTION_CLASS(klass)->ask_password = scripted_ask_password;
}

GTlsInteraction *scripted_interaction_new(const char *const *pins,
                                          std::vector<GTlsPasswordFlags> *requests)
{
  auto *self =
      static_cast<ScriptedInteraction *>(g_object_new(scripted_interaction_get_type(), nullptr));
  self->pins = pins;
  self->requests = requests;
  return G_TLS_INTERACTION(self);
}

struct Handshake {
  GMainLoop *loop = nullptr;
  int pending = 2;
  GSocket *server_socket = nullptr;
  GError *server_error = nullptr;
  GError *client_error = nullptr;
  bool timed_out = false;
};

void server_handshake_done(GObject *object, GAsyncResult *result, gpointer data)
{
  auto *handshake = static_cast<Handshake *>(data);
  if (!g_tls_connection_handshake_finish(G_TLS_CONNECTION(object), result,
                                         &handshake->server_error))
    g_socket_close(handshake->server_socket, nullptr);  // lets the client see the failure
  if (--handshake->pending == 0)
    g_main_loop_quit(handshake->loop);
}

void client_handshake_done(GObject *object, GAsyncResult *result, gpointer data)
{
  auto *handshake = static_cast<Handshake *>(data);
  g_tls_connection_handshake_finish(G_TLS_CONNECTION(object), result, &handshake->client_error);
  if (--handshake->pending == 0)
    g_main_loop_quit(handshake->loop);
}

gboolean accept_any_certificate(GTlsConnection *, GTlsCertificate *, GTlsCertificateFlags, gpointer)
{
  return TRUE;
}

gboolean handshake_timed_out(gpointer data)
{
  auto *handshake = static_cast<Handshake *>(data);
  handshake->timed_out = true;
  g_main_loop_quit(handshake->loop);
  return G_SOURCE_REMOVE;
}

// Runs a TLS handshake in which the server uses `server_cert` (and
// `interaction` for its PINs). Returns the server's handshake error, or
// nullptr; on success checks that the client received the token's
// certificate.
GError *handshake_with_token_key(GTlsCertificate *server_cert, GTlsInteraction *interaction)
{
  int fds[2];
  g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
  GError *error = nullptr;
  GSocket *server_socket = g_socket_new_from_fd(fds[0], &error);
  g_assert_no_error(error);
  GSocket *client_socket = g_socket_new_from_fd(fds[1], &error);
  g_assert_no_error(error);
  GSocketConnection *server_base = g_socket_connection_factory_create_connection(server_socket);
  GSocketConnection *client_base = g_socket_connection_factory_create_connection(client_socket);

  GIOStream *server = g_tls_server_connection_new(G_IO_STREAM(server_base), server_cert, &error);
  g_assert_no_error(error);
  g_tls_connection_set_interaction(G_TLS_CONNECTION(server), interaction);
  GSocketConnectable *identity = g_network_address_new("server.example.test", 443);
  GIOStream *client = g_tls_client_connection_new(G_IO_STREAM(client_base), identity, &error);
  g_assert_no_error(error);
  g_signal_connect(client, "accept-certificate", G_CALLBACK(accept_any_certificate), nullptr);

  Handshake handshake;
  handshake.loop = g_main_loop_new(nullptr, FALSE);
  handshake.server_socket = server_socket;
  guint timeout = g_timeout_add_seconds(20, handshake_timed_out, &handshake);
  g_tls_connection_handshake_async(G_TLS_CONNECTION(server), G_PRIORITY_DEFAULT, nullptr,
                                   server_handshake_done, &handshake);
  g_tls_connection_handshake_async(G_TLS_CONNECTION(client), G_PRIORITY_DEFAULT, nullptr,
                                   client_handshake_done, &handshake);
  g_main_loop_run(handshake.loop);
  g_assert_false(handshake.timed_out);
  g_source_remove(timeout);

  if (!handshake.server_error) {
    g_assert_no_error(handshake.client_error);
    GTlsCertificate *peer = g_tls_connection_get_peer_certificate(G_TLS_CONNECTION(client));
    GTlsCertificate *expected = load_cert("server.pem");
    g_assert_true(g_tls_certificate_is_same(peer, expected));
    g_object_unref(expected);
  } else {
    g_assert_nonnull(handshake.client_error);
  }
  g_clear_error(&handshake.client_error);

  g_main_loop_unref(handshake.loop);
  g_object_unref(client);
  g_object_unref(server);
  g_object_unref(identity);
  g_object_unref(client_base);
  g_object_unref(server_base);
  g_object_unref(client_socket);
  g_object_unref(server_socket);
  return handshake.server_error;
}

// Each test uses a certificate of its own: the token stays logged in only
// while a key object of it is open, so the next test is asked again.
GTlsCertificate *token_certificate()
{
  GError *error = nullptr;
  GTlsCertificate *cert =
      g_tls_certificate_new_from_pkcs11_uris(SoftHsmToken::kCertUri, SoftHsmToken::kKeyUri, &error);
  g_assert_no_error(error);
  return cert;
}

void test_pkcs11_pin_retry()
{
  if (!have_token())
    return;
  const char *pins[] = {"0000", SoftHsmToken::kPin, nullptr};
  std::vector<GTlsPasswordFlags> requests;
  GTlsInteraction *interaction = scripted_interaction_new(pins, &requests);
  GTlsCertificate *cert = token_certificate();
  GError *error = handshake_with_token_key(cert, interaction);
  g_assert_no_error(error);
  g_assert_cmpuint(requests.size(), ==, 2);
  g_assert_true(requests[0] & G_TLS_PASSWORD_PKCS11_USER);
  g_assert_false(requests[0] & G_TLS_PASSWORD_RETRY);
  g_assert_true(requests[1] & G_TLS_PASSWORD_PKCS11_USER);
  g_assert_true(requests[1] & G_TLS_PASSWORD_RETRY);

  // The key is kept with the certificate: a second handshake asks nothing.
  error = handshake_with_token_key(cert, interaction);
  g_assert_no_error(error);
  g_assert_cmpuint(requests.size(), ==, 2);
  g_object_unref(cert);
  g_object_unref(interaction);
}

// Without private-key-pkcs11-uri, the key next to the certificate is used.
void test_pkcs11_key_beside_certificate()
{
  if (!have_token())
    return;
  const char *pins[] = {SoftHsmToken::kPin, nullptr};
  std::vector<GTlsPasswordFlags> requests;
  GTlsInteraction *interaction = scripted_interaction_new(pins, &requests);
  GError *error = nullptr;
  GTlsCertificate *cert =
      g_tls_certificate_new_from_pkcs11_uris(SoftHsmToken::kCertUri, nullptr, &error);
  g_assert_no_error(error);
  char *key_uri = nullptr;
  g_object_get(cert, "private-key-pkcs11-uri", &key_uri, nullptr);
  g_assert_null(key_uri);
  error = handshake_with_token_key(cert, interaction);
  g_assert_no_error(error);
  g_assert_cmpuint(requests.size(), ==, 1);
  g_object_unref(cert);
  g_object_unref(interaction);
}

void test_pkcs11_pin_bounded()
{
  if (!have_token())
    return;
  const char *pins[] = {"0000", "1111", "2222", "3333", "4444", "5555", "6666",
                        "7777", "8888", "9999", "0001", "0002", nullptr};
  std::vector<GTlsPasswordFlags> requests;
  GTlsInteraction *interaction = scripted_interaction_new(pins, &requests);
  GTlsCertificate *cert = token_certificate();
  GError *error = handshake_with_token_key(cert, interaction);
  g_assert_nonnull(error);
  g_clear_error(&error);

  // Each login asks at most three times: the first request of a login has
  // no RETRY flag, the following ones have it.
  g_assert_cmpuint(requests.size(), >=, 3);
  size_t in_a_row = 0;
  for (GTlsPasswordFlags flags : requests) {
    g_assert_true(flags & G_TLS_PASSWORD_PKCS11_USER);
    in_a_row = (flags & G_TLS_PASSWORD_RETRY) ? in_a_row + 1 : 1;
    g_assert_cmpuint(in_a_row, <=, 3);
  }
  g_assert_true(requests[1] & G_TLS_PASSWORD_RETRY);
  g_assert_true(requests[2] & G_TLS_PASSWORD_RETRY);
  g_object_unref(cert);
  g_object_unref(interaction);
}

void test_pkcs11_pin_without_interaction()
{
  if (!have_token())
    return;
  GTlsCertificate *cert = token_certificate();
  GError *error = handshake_with_token_key(cert, nullptr);
  g_assert_nonnull(error);
  g_clear_error(&error);
  g_object_unref(cert);
}
// An interaction that answers PIN requests only asynchronously, and only
// from the application's outermost main loop (never from a nested one):
// a timeout source of the test's checks for a pending request and answers
// it when it runs at main loop depth 1.
struct LaterPinInteraction {
  GTlsInteraction parent_instance;
  GTask *pending;  // (owned, nullable)
  GTlsPassword *password;  // (owned, nullable) of the pending request
  int requests;
};

struct LaterPinInteractionClass {
  GTlsInteractionClass parent_class;
};

G_DEFINE_TYPE(LaterPinInteraction, later_pin_interaction, G_TYPE_TLS_INTERACTION)

void later_pin_interaction_init(LaterPinInteraction *) {}

void later_ask_password_async(GTlsInteraction *interaction, GTlsPassword *password,
                              GCancellable *cancellable, GAsyncReadyCallback callback,
                              gpointer user_data)
{
  auto *self = reinterpret_cast<LaterPinInteraction *>(interaction);
  g_assert_null(self->pending);
  self->requests++;
  self->pending = g_task_new(interaction, cancellable, callback, user_data);
  self->password = G_TLS_PASSWORD(g_object_ref(password));
}

GTlsInteractionResult later_ask_password_finish(GTlsInteraction *, GAsyncResult *result,
                                                GError **error)
{
  gssize r = g_task_propagate_int(G_TASK(result), error);
  return r < 0 ? G_TLS_INTERACTION_FAILED : static_cast<GTlsInteractionResult>(r);
}

void later_pin_interaction_class_init(LaterPinInteractionClass *klass)
{
  G_TLS_INTERACTION_CLASS(klass)->ask_password_async = later_ask_password_async;
  G_TLS_INTERACTION_CLASS(klass)->ask_password_finish = later_ask_password_finish;
}

gboolean answer_pin_from_outer_loop(gpointer data)
{
  auto *self = static_cast<LaterPinInteraction *>(data);
  if (self->pending && g_main_depth() == 1) {
    GTask *task = std::exchange(self->pending, nullptr);
    g_tls_password_set_value(self->password, reinterpret_cast<const guchar *>(SoftHsmToken::kPin), -1);
    g_clear_object(&self->password);
    g_task_return_int(task, G_TLS_INTERACTION_HANDLED);
    g_object_unref(task);
  }
  return G_SOURCE_CONTINUE;
}

// A server's async handshake asks for its PKCS #11 PIN with the
// interaction's async API and waits without nesting the main loop.
void test_pkcs11_pin_asked_later()
{
  if (!have_token())
    return;
  auto *interaction =
      static_cast<LaterPinInteraction *>(g_object_new(later_pin_interaction_get_type(), nullptr));
  guint answerer = g_timeout_add(10, answer_pin_from_outer_loop, interaction);
  GTlsCertificate *cert = token_certificate();
  GError *error = handshake_with_token_key(cert, G_TLS_INTERACTION(interaction));
  g_assert_no_error(error);
  g_assert_cmpint(interaction->requests, ==, 1);
  g_source_remove(answerer);
  g_object_unref(cert);
  g_object_unref(interaction);
}

}  // namespace

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, nullptr);
  token = SoftHsmToken::create(TEST_FILES_DIR);

  const char *name = g_getenv("GTG_BACKEND_NAME");
  g_assert_nonnull(name);
  std::string expected =
      std::string("GTlsBackend") + static_cast<char>(g_ascii_toupper(name[0])) + (name + 1);
  g_assert_cmpstr(G_OBJECT_TYPE_NAME(g_tls_backend_get_default()), ==, expected.c_str());

  g_test_add_func("/pkcs11/certificate", test_pkcs11_certificate);
  g_test_add_func("/pkcs11/missing-object", test_pkcs11_missing_object);
  g_test_add_func("/pkcs11/pin-retry", test_pkcs11_pin_retry);
  g_test_add_func("/pkcs11/pin-bounded", test_pkcs11_pin_bounded);
  g_test_add_func("/pkcs11/key-beside-certificate", test_pkcs11_key_beside_certificate);
  g_test_add_func("/pkcs11/pin-without-interaction", test_pkcs11_pin_without_interaction);
  g_test_add_func("/pkcs11/pin-asked-later", test_pkcs11_pin_asked_later);

  int result = g_test_run();
  token.reset();
  return result;
}
