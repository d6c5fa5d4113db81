// Tests of pre-shared keys on TLS connections (docs/user-guide.md, "Beyond
// GIO's API"): the client's `psk-identity`, `psk-key` and `psk-required`
// (also emitted from a handshake running on a HandshakeFiber),
// the server's `psk-identity-hint` and `psk-lookup`, through the public GIO
// API only (g_object_set, g_signal_connect), over loopback TCP. Every test
// runs under TLS 1.2 and TLS 1.3 (external PSK), chosen per connection with
// our `max-protocol-version` / `min-protocol-version`.
//
// Every wait is bounded (the harness's 20 s per handshake).
#include "connection-harness.h"

#include <gio/gio.h>

#include <cstring>
#include <string>

using namespace conn_test;

namespace {

enum class Version { Tls12, Tls13 };

const guint8 kKey[32] = {0x1f, 0x2e, 0x3d, 0x4c, 0x5b, 0x6a, 0x79, 0x88, 0x97, 0xa6, 0xb5,
                         0xc4, 0xd3, 0xe2, 0xf1, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66,
                         0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x01};

GBytes *key_bytes()
{
  return g_bytes_new_static(kKey, sizeof kKey);
}

// What the server's psk-lookup handler saw and answers.
struct Lookup {
  std::string known = "alice";  // the identity it knows ("" none)
  int calls = 0;
  std::string last;
};

GBytes *on_psk_lookup(GObject *, const char *identity, gpointer data)
{
  auto *lookup = static_cast<Lookup *>(data);
  lookup->calls++;
  lookup->last = identity;
  return lookup->known == identity ? key_bytes() : nullptr;
}

// What the client's psk-required handler saw and does.
struct Required {
  bool supply = true;
  int calls = 0;
  bool hint_seen = false;
  std::string hint;
};

void on_psk_required(GObject *conn, const char *hint, gpointer data)
{
  auto *required = static_cast<Required *>(data);
  required->calls++;
  required->hint_seen = hint != nullptr;
  required->hint = hint ? hint : "";
  if (!required->supply)
    return;
  GBytes *key = key_bytes();
  g_object_set(conn, "psk-identity", "alice", "psk-key", key, nullptr);
  g_bytes_unref(key);
}

// A client (trusting the test CA) and a server over loopback; the server
// has the test certificate only when `server_cert`.
struct Fixture {
  Listener listener;
  GTlsDatabase *db = ca_database();
  GTlsCertificate *cert = nullptr;
  GTlsConnection *client = nullptr;
  GTlsConnection *server = nullptr;

  Fixture(Version v, bool server_cert)
  {
    GIOStream *client_base = connect_loopback(listener.port);
    GIOStream *server_base = listener.accept();
    GSocketConnectable *identity = localhost_identity(listener.port);
    client = new_client(client_base, identity, db);
    if (server_cert)
      cert = server_certificate();
    GError *error = nullptr;
    server = G_TLS_CONNECTION(g_tls_server_connection_new(server_base, cert, &error));
    g_assert_no_error(error);
    if (v == Version::Tls12)
      g_object_set(client, "max-protocol-version", G_TLS_PROTOCOL_VERSION_TLS_1_2, nullptr);
    else
      g_object_set(client, "min-protocol-version", G_TLS_PROTOCOL_VERSION_TLS_1_3, nullptr);
    g_object_unref(identity);
    g_object_unref(client_base);
    g_object_unref(server_base);
  }
  ~Fixture()
  {
    g_object_unref(client);
    g_object_unref(server);
    g_clear_object(&cert);
    g_object_unref(db);
  }
  // The server knows alice (hint "our-hint"); the client offers alice's key.
  void both_psk(Lookup &lookup)
  {
    g_object_set(server, "psk-identity-hint", "our-hint", nullptr);
    g_signal_connect(server, "psk-lookup", G_CALLBACK(on_psk_lookup), &lookup);
    GBytes *key = key_bytes();
    g_object_set(client, "psk-identity", "alice", "psk-key", key, nullptr);
    g_bytes_unref(key);
  }
};

std::string suite_of(GTlsConnection *conn)
{
  char *suite = g_tls_connection_get_ciphersuite_name(conn);
  std::string s = suite ? suite : "";
  g_free(suite);
  return s;
}

// Both ends authenticated by the PSK: no certificates, no errors, data flows.
void assert_psk_established(Version v, GTlsConnection *client, GTlsConnection *server)
{
  for (GTlsConnection *conn : {client, server}) {
    g_assert_null(g_tls_connection_get_peer_certificate(conn));
    g_assert_cmpuint(g_tls_connection_get_peer_certificate_errors(conn), ==, 0);
    g_assert_cmpint(g_tls_connection_get_protocol_version(conn), ==,
                    v == Version::Tls12 ? G_TLS_PROTOCOL_VERSION_TLS_1_2 : G_TLS_PROTOCOL_VERSION_TLS_1_3);
  }
  std::string suite = suite_of(client);
  g_test_message("suite: %s", suite.c_str());
  if (v == Version::Tls12)
    g_assert_true(g_str_has_prefix(suite.c_str(), "TLS_ECDHE_PSK_"));  // (EC)DHE-PSK preferred
  write_all(G_IO_STREAM(client), "ping", 4);
  std::string got = read_exactly(G_IO_STREAM(server), 4);
  g_assert_cmpstr(got.c_str(), ==, "ping");
  write_all(G_IO_STREAM(server), "pong", 4);
  got = read_exactly(G_IO_STREAM(client), 4);
  g_assert_cmpstr(got.c_str(), ==, "pong");
}

void test_properties_and_signals()
{
  Fixture f(Version::Tls13, true);
  GObjectClass *client_class = G_OBJECT_GET_CLASS(f.client);
  GObjectClass *server_class = G_OBJECT_GET_CLASS(f.server);
  g_assert_nonnull(g_object_class_find_property(client_class, "psk-identity"));
  g_assert_nonnull(g_object_class_find_property(client_class, "psk-key"));
  g_assert_null(g_object_class_find_property(client_class, "psk-identity-hint"));
  g_assert_nonnull(g_object_class_find_property(server_class, "psk-identity-hint"));
  g_assert_null(g_object_class_find_property(server_class, "psk-key"));
  g_assert_cmpuint(g_signal_lookup("psk-required", G_OBJECT_TYPE(f.client)), !=, 0);
  g_assert_cmpuint(g_signal_lookup("psk-lookup", G_OBJECT_TYPE(f.server)), !=, 0);
  g_assert_cmpuint(g_signal_lookup("psk-lookup", G_OBJECT_TYPE(f.client)), ==, 0);

  char *identity = nullptr;
  GBytes *key = nullptr;
  g_object_get(f.client, "psk-identity", &identity, "psk-key", &key, nullptr);
  g_assert_null(identity);
  g_assert_null(key);
  GBytes *set = key_bytes();
  g_object_set(f.client, "psk-identity", "bob", "psk-key", set, nullptr);
  g_object_get(f.client, "psk-identity", &identity, "psk-key", &key, nullptr);
  g_assert_cmpstr(identity, ==, "bob");
  g_assert_true(g_bytes_equal(key, set));
  g_free(identity);
  g_bytes_unref(key);
  g_bytes_unref(set);
  char *hint = nullptr;
  g_object_set(f.server, "psk-identity-hint", "h", nullptr);
  g_object_get(f.server, "psk-identity-hint", &hint, nullptr);
  g_assert_cmpstr(hint, ==, "h");
  g_free(hint);
}

// A PSK-only server (no certificate) and a client with identity and key.
void test_basic(gconstpointer data)
{
  Version v = static_cast<Version>(GPOINTER_TO_INT(data));
  Fixture f(v, false);
  Lookup lookup;
  f.both_psk(lookup);
  AsyncResult c, s;
  handshake_both(f.client, f.server, c, s);
  g_assert_no_error(c.error);
  g_assert_no_error(s.error);
  g_assert_cmpint(lookup.calls, >=, 1);
  g_assert_cmpstr(lookup.last.c_str(), ==, "alice");
  assert_psk_established(v, f.client, f.server);
}

// A server with a certificate and a PSK: a client offering the PSK uses it.
void test_server_with_certificate(gconstpointer data)
{
  Version v = static_cast<Version>(GPOINTER_TO_INT(data));
  Fixture f(v, true);
  Lookup lookup;
  f.both_psk(lookup);
  AsyncResult c, s;
  handshake_both(f.client, f.server, c, s);
  g_assert_no_error(c.error);
  g_assert_no_error(s.error);
  assert_psk_established(v, f.client, f.server);
}

// The key comes from psk-required, with the server's hint in TLS 1.2.
void test_required_signal(gconstpointer data)
{
  Version v = static_cast<Version>(GPOINTER_TO_INT(data));
  Fixture f(v, false);
  Lookup lookup;
  g_object_set(f.server, "psk-identity-hint", "our-hint", nullptr);
  g_signal_connect(f.server, "psk-lookup", G_CALLBACK(on_psk_lookup), &lookup);
  Required required;
  g_signal_connect(f.client, "psk-required", G_CALLBACK(on_psk_required), &required);
  AsyncResult c, s;
  handshake_both(f.client, f.server, c, s);
  g_assert_no_error(c.error);
  g_assert_no_error(s.error);
  g_assert_cmpint(required.calls, ==, 1);
  if (v == Version::Tls12) {
    g_assert_true(required.hint_seen);
    g_assert_cmpstr(required.hint.c_str(), ==, "our-hint");
  } else {
    g_assert_false(required.hint_seen);  // TLS 1.3 has no hint
  }
  assert_psk_established(v, f.client, f.server);
}

// The same with an interaction on the client: its async handshake then runs
// on a HandshakeFiber (docs/architecture.md), and psk-required is emitted
// from there, on the caller's thread all the same.
void test_required_signal_on_fiber(gconstpointer data)
{
  Version v = static_cast<Version>(GPOINTER_TO_INT(data));
  Fixture f(v, false);
  Lookup lookup;
  g_signal_connect(f.server, "psk-lookup", G_CALLBACK(on_psk_lookup), &lookup);
  auto *interaction = static_cast<GTlsInteraction *>(g_object_new(G_TYPE_TLS_INTERACTION, nullptr));
  g_tls_connection_set_interaction(f.client, interaction);
  g_object_unref(interaction);
  Required required;
  g_signal_connect(f.client, "psk-required", G_CALLBACK(on_psk_required), &required);
  AsyncResult c, s;
  handshake_both(f.client, f.server, c, s);
  g_assert_no_error(c.error);
  g_assert_no_error(s.error);
  g_assert_cmpint(required.calls, ==, 1);
  assert_psk_established(v, f.client, f.server);
}

// A handler that sets no key: the client fails, saying so.
void test_no_key(gconstpointer data)
{
  Version v = static_cast<Version>(GPOINTER_TO_INT(data));
  Fixture f(v, false);
  Lookup lookup;
  g_signal_connect(f.server, "psk-lookup", G_CALLBACK(on_psk_lookup), &lookup);
  Required required;
  required.supply = false;
  g_signal_connect(f.client, "psk-required", G_CALLBACK(on_psk_required), &required);
  AsyncResult c, s;
  handshake_both(f.client, f.server, c, s);
  g_assert_cmpint(required.calls, ==, 1);
  g_assert_error(c.error, G_TLS_ERROR, G_TLS_ERROR_HANDSHAKE);
  g_test_message("client: %s", c.error->message);
  g_assert_nonnull(strstr(c.error->message, "psk-key"));
  g_assert_nonnull(s.error);
}

// The server refuses the identity: both fail; the server names it.
void test_refused(gconstpointer data)
{
  Version v = static_cast<Version>(GPOINTER_TO_INT(data));
  Fixture f(v, true);
  Lookup lookup;
  f.both_psk(lookup);
  lookup.known = "";
  AsyncResult c, s;
  handshake_both(f.client, f.server, c, s);
  g_assert_nonnull(c.error);
  g_assert_error(s.error, G_TLS_ERROR, G_TLS_ERROR_HANDSHAKE);
  g_test_message("client: %s; server: %s", c.error->message, s.error->message);
  g_assert_nonnull(strstr(s.error->message, "alice"));
  g_assert_true(c.error->domain == G_TLS_ERROR);
  g_assert_nonnull(strstr(c.error->message, "identity"));
}

// A wrong key: both fail.
void test_wrong_key(gconstpointer data)
{
  Version v = static_cast<Version>(GPOINTER_TO_INT(data));
  Fixture f(v, false);
  Lookup lookup;
  f.both_psk(lookup);
  guint8 other[32];
  memcpy(other, kKey, sizeof other);
  other[0] ^= 1;
  GBytes *wrong = g_bytes_new(other, sizeof other);
  g_object_set(f.client, "psk-key", wrong, nullptr);
  g_bytes_unref(wrong);
  AsyncResult c, s;
  handshake_both(f.client, f.server, c, s);
  g_assert_nonnull(c.error);
  g_assert_nonnull(s.error);
  g_test_message("client: %s; server: %s", c.error->message, s.error->message);
  g_assert_true(c.error->domain == G_TLS_ERROR);
  g_assert_true(s.error->domain == G_TLS_ERROR);
}

// A client offering a PSK to a server that has none: the server's
// certificate is verified as always.
void test_certificate_suite(gconstpointer data)
{
  Version v = static_cast<Version>(GPOINTER_TO_INT(data));
  Fixture f(v, true);
  GBytes *key = key_bytes();
  g_object_set(f.client, "psk-identity", "alice", "psk-key", key, nullptr);
  g_bytes_unref(key);
  AsyncResult c, s;
  handshake_both(f.client, f.server, c, s);
  g_assert_no_error(c.error);
  g_assert_no_error(s.error);
  GTlsCertificate *peer = g_tls_connection_get_peer_certificate(f.client);
  g_assert_nonnull(peer);
  g_assert_true(g_tls_certificate_is_same(peer, f.cert));
  g_assert_cmpuint(g_tls_connection_get_peer_certificate_errors(f.client), ==, 0);
}

// The same with an untrusted certificate: it is rejected as always.
void test_certificate_suite_untrusted(gconstpointer data)
{
  Version v = static_cast<Version>(GPOINTER_TO_INT(data));
  Fixture f(v, true);
  g_tls_connection_set_database(f.client, nullptr);
  GBytes *key = key_bytes();
  g_object_set(f.client, "psk-identity", "alice", "psk-key", key, nullptr);
  g_bytes_unref(key);
  AsyncResult c, s;
  handshake_both(f.client, f.server, c, s);
  g_assert_error(c.error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE);
}

}  // namespace

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, nullptr);
  g_test_add_func("/psk/tls/properties-and-signals", test_properties_and_signals);
  struct Case {
    const char *name;
    GTestDataFunc run;
  };
  const Case cases[] = {
      {"basic", test_basic},
      {"server-with-certificate", test_server_with_certificate},
      {"required-signal", test_required_signal},
      {"required-signal-on-fiber", test_required_signal_on_fiber},
      {"no-key", test_no_key},
      {"refused", test_refused},
      {"wrong-key", test_wrong_key},
      {"certificate-suite", test_certificate_suite},
      {"certificate-suite-untrusted", test_certificate_suite_untrusted},
  };
  for (Version v : {Version::Tls12, Version::Tls13}) {
    for (const Case &c : cases) {
      char *path = g_strdup_printf("/psk/tls/%s/%s", v == Version::Tls12 ? "tls1.2" : "tls1.3", c.name);
      g_test_add_data_func(path, GINT_TO_POINTER(static_cast<int>(v)), c.run);
      g_free(path);
    }
  }
  return g_test_run();
}
