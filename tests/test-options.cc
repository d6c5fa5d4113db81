// Tests of our per-connection protocol and cipher properties on TLS
// connections (`min-protocol-version`, `max-protocol-version`,
// `ciphersuites`, `priority`; docs/user-guide.md, "Beyond GIO's API"),
// through the public GIO API only: g_object_set / g_object_get on the
// connections GIO hands out, over loopback TCP. Each value GnuTLS cannot use
// must fail the handshake with G_TLS_ERROR_MISC naming the bad part.
//
// Every wait is bounded (the harness's 20 s per handshake).
#include "connection-harness.h"

#include <gio/gio.h>

#include <cstring>
#include <string>

using namespace conn_test;

namespace {

// A pair with a fresh listener, test CA and server certificate.
struct Fixture {
  Listener listener;
  GTlsDatabase *db = ca_database();
  GTlsCertificate *cert = server_certificate();
  Pair *pair = nullptr;

  Fixture() { pair = new Pair(listener, db, cert); }
  ~Fixture()
  {
    delete pair;
    g_object_unref(cert);
    g_object_unref(db);
  }
  GTlsConnection *client() { return pair->client; }
  GTlsConnection *server() { return pair->server; }
};

std::string suite_of(GTlsConnection *conn)
{
  char *suite = g_tls_connection_get_ciphersuite_name(conn);
  std::string s = suite ? suite : "";
  g_free(suite);
  return s;
}

// (A helper: g_assert_cmpstr keeps its arguments' pointers past the
// temporaries they came from.)
void assert_suite(GTlsConnection *conn, const char *expected)
{
  std::string suite = suite_of(conn);
  g_assert_cmpstr(suite.c_str(), ==, expected);
}

// A handshake of `conn` alone, expected to fail before any I/O with
// G_TLS_ERROR_MISC whose message contains `needle`.
void assert_config_error(GTlsConnection *conn, const char *needle)
{
  Watchdog watchdog(20000);
  GError *error = nullptr;
  g_assert_false(g_tls_connection_handshake(conn, watchdog.cancellable(), &error));
  g_assert_error(error, G_TLS_ERROR, G_TLS_ERROR_MISC);
  g_test_message("error: %s", error->message);
  g_assert_nonnull(strstr(error->message, needle));
  g_clear_error(&error);
  // Every later operation fails the same way.
  char buf[1];
  g_assert_cmpint(g_input_stream_read(g_io_stream_get_input_stream(G_IO_STREAM(conn)), buf, 1,
                                      watchdog.cancellable(), &error), ==, -1);
  g_assert_error(error, G_TLS_ERROR, G_TLS_ERROR_MISC);
  g_error_free(error);
}

void test_properties_defaults()
{
  Fixture f;
  for (GTlsConnection *conn : {f.client(), f.server()}) {
    GObjectClass *klass = G_OBJECT_GET_CLASS(conn);
    for (const char *name : {"min-protocol-version", "max-protocol-version", "ciphersuites", "priority"})
      g_assert_nonnull(g_object_class_find_property(klass, name));
    GTlsProtocolVersion min = G_TLS_PROTOCOL_VERSION_TLS_1_3, max = G_TLS_PROTOCOL_VERSION_TLS_1_3;
    char **suites = nullptr;
    char *priority = nullptr;
    g_object_get(conn, "min-protocol-version", &min, "max-protocol-version", &max, "ciphersuites",
                 &suites, "priority", &priority, nullptr);
    g_assert_cmpint(min, ==, G_TLS_PROTOCOL_VERSION_UNKNOWN);
    g_assert_cmpint(max, ==, G_TLS_PROTOCOL_VERSION_UNKNOWN);
    g_assert_null(suites);
    g_assert_null(priority);

    const char *const wanted[] = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", nullptr};
    g_object_set(conn, "min-protocol-version", G_TLS_PROTOCOL_VERSION_TLS_1_2, "max-protocol-version",
                 G_TLS_PROTOCOL_VERSION_TLS_1_3, "ciphersuites", wanted, "priority", "NORMAL", nullptr);
    g_object_get(conn, "min-protocol-version", &min, "max-protocol-version", &max, "ciphersuites",
                 &suites, "priority", &priority, nullptr);
    g_assert_cmpint(min, ==, G_TLS_PROTOCOL_VERSION_TLS_1_2);
    g_assert_cmpint(max, ==, G_TLS_PROTOCOL_VERSION_TLS_1_3);
    g_assert_nonnull(suites);
    g_assert_cmpstrv(suites, wanted);
    g_assert_cmpstr(priority, ==, "NORMAL");
    g_strfreev(suites);
    g_free(priority);
  }
}

// The client caps the version: TLS 1.2 is negotiated with a default server.
void test_max_version_client()
{
  Fixture f;
  g_object_set(f.client(), "max-protocol-version", G_TLS_PROTOCOL_VERSION_TLS_1_2, nullptr);
  handshake_both_ok(*f.pair);
  g_assert_cmpint(g_tls_connection_get_protocol_version(f.client()), ==, G_TLS_PROTOCOL_VERSION_TLS_1_2);
  g_assert_cmpint(g_tls_connection_get_protocol_version(f.server()), ==, G_TLS_PROTOCOL_VERSION_TLS_1_2);
  g_assert_cmpuint(g_tls_connection_get_peer_certificate_errors(f.client()), ==, 0);
}

// The server caps the version.
void test_max_version_server()
{
  Fixture f;
  g_object_set(f.server(), "max-protocol-version", G_TLS_PROTOCOL_VERSION_TLS_1_2, nullptr);
  handshake_both_ok(*f.pair);
  g_assert_cmpint(g_tls_connection_get_protocol_version(f.client()), ==, G_TLS_PROTOCOL_VERSION_TLS_1_2);
}

// A client asking for TLS 1.3 only against a server capped at TLS 1.2:
// both fail, neither falls back.
void test_version_range_peer_cannot_meet()
{
  Fixture f;
  g_object_set(f.client(), "min-protocol-version", G_TLS_PROTOCOL_VERSION_TLS_1_3, nullptr);
  g_object_set(f.server(), "max-protocol-version", G_TLS_PROTOCOL_VERSION_TLS_1_2, nullptr);
  AsyncResult c, s;
  handshake_both(f.client(), f.server(), c, s);
  g_assert_nonnull(c.error);
  g_assert_nonnull(s.error);
  g_test_message("client: %s; server: %s", c.error->message, s.error->message);
  g_assert_true(c.error->domain == G_TLS_ERROR);
  g_assert_true(s.error->domain == G_TLS_ERROR);
}

// An IANA TLS 1.2 suite on the client: that suite over TLS 1.2.
void test_ciphersuite_tls12()
{
  Fixture f;
  const char *const suites[] = {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", nullptr};
  g_object_set(f.client(), "ciphersuites", suites, nullptr);
  handshake_both_ok(*f.pair);
  g_assert_cmpint(g_tls_connection_get_protocol_version(f.client()), ==, G_TLS_PROTOCOL_VERSION_TLS_1_2);
  assert_suite(f.client(), "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256");
  assert_suite(f.server(), "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256");
}

// A TLS 1.3 suite on the server.
void test_ciphersuite_tls13_server()
{
  Fixture f;
  const char *const suites[] = {"TLS_AES_128_GCM_SHA256", nullptr};
  g_object_set(f.server(), "ciphersuites", suites, nullptr);
  handshake_both_ok(*f.pair);
  g_assert_cmpint(g_tls_connection_get_protocol_version(f.client()), ==, G_TLS_PROTOCOL_VERSION_TLS_1_3);
  assert_suite(f.client(), "TLS_AES_128_GCM_SHA256");
}

// The order of the list is the order of preference.
void test_ciphersuite_order()
{
  Fixture f;
  const char *const suites[] = {"TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", nullptr};
  const char *const reversed[] = {"TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_256_GCM_SHA384", nullptr};
  g_object_set(f.client(), "ciphersuites", reversed, nullptr);
  g_object_set(f.server(), "ciphersuites", suites, nullptr);
  handshake_both_ok(*f.pair);
  std::string chosen = suite_of(f.client());
  g_assert_true(chosen == suites[0] || chosen == suites[1]);
}

// The two ends share no suite: both fail.
void test_ciphersuite_no_overlap()
{
  Fixture f;
  const char *const a[] = {"TLS_AES_128_GCM_SHA256", nullptr};
  const char *const b[] = {"TLS_AES_256_GCM_SHA384", nullptr};
  g_object_set(f.client(), "ciphersuites", a, nullptr);
  g_object_set(f.server(), "ciphersuites", b, nullptr);
  AsyncResult c, s;
  handshake_both(f.client(), f.server(), c, s);
  g_assert_nonnull(c.error);
  g_assert_nonnull(s.error);
}

// A full priority string on the server replaces the default.
void test_priority_string()
{
  Fixture f;
  g_object_set(f.server(), "priority", "NORMAL:-VERS-TLS1.3", nullptr);
  handshake_both_ok(*f.pair);
  g_assert_cmpint(g_tls_connection_get_protocol_version(f.client()), ==, G_TLS_PROTOCOL_VERSION_TLS_1_2);
}

// A priority string and a version limit together: the limit applies on top.
void test_priority_and_version()
{
  Fixture f;
  g_object_set(f.client(), "priority", "NORMAL", "max-protocol-version",
               G_TLS_PROTOCOL_VERSION_TLS_1_2, nullptr);
  handshake_both_ok(*f.pair);
  g_assert_cmpint(g_tls_connection_get_protocol_version(f.client()), ==, G_TLS_PROTOCOL_VERSION_TLS_1_2);
}

void test_error_unknown_suite()
{
  Fixture f;
  const char *const suites[] = {"TLS_AES_128_GCM_SHA256", "TLS_NO_SUCH_SUITE", nullptr};
  g_object_set(f.client(), "ciphersuites", suites, nullptr);
  assert_config_error(f.client(), "TLS_NO_SUCH_SUITE");
}

void test_error_bad_priority()
{
  Fixture f;
  g_object_set(f.server(), "priority", "NORMAL:+NO-SUCH-THING", nullptr);
  assert_config_error(f.server(), "NO-SUCH-THING");
}

void test_error_empty_range()
{
  Fixture f;
  g_object_set(f.client(), "min-protocol-version", G_TLS_PROTOCOL_VERSION_TLS_1_3,
               "max-protocol-version", G_TLS_PROTOCOL_VERSION_TLS_1_2, nullptr);
  assert_config_error(f.client(), "min-protocol-version");
}

void test_error_dtls_version_on_tls()
{
  Fixture f;
  g_object_set(f.client(), "max-protocol-version", G_TLS_PROTOCOL_VERSION_DTLS_1_2, nullptr);
  assert_config_error(f.client(), "DTLS 1.2");
}

// Only TLS 1.3 suites, with TLS 1.3 ruled out.
void test_error_suites_versions_disjoint()
{
  Fixture f;
  const char *const suites[] = {"TLS_AES_128_GCM_SHA256", nullptr};
  g_object_set(f.client(), "ciphersuites", suites, "max-protocol-version",
               G_TLS_PROTOCOL_VERSION_TLS_1_2, nullptr);
  assert_config_error(f.client(), "ciphersuites");
}

// A range the priority string leaves nothing in.
void test_error_range_outside_priority()
{
  Fixture f;
  g_object_set(f.client(), "priority", "NORMAL:-VERS-ALL:+VERS-TLS1.2", "min-protocol-version",
               G_TLS_PROTOCOL_VERSION_TLS_1_3, nullptr);
  assert_config_error(f.client(), "TLS 1.3");
}

// The async and implicit handshakes fail the same way.
void test_error_async_and_implicit()
{
  {
    Fixture f;
    g_object_set(f.client(), "priority", "BOGUS", nullptr);
    AsyncResult r;
    g_tls_connection_handshake_async(f.client(), G_PRIORITY_DEFAULT, nullptr, on_handshake, &r);
    g_assert_true(iterate_until([&] { return r.done; }, 20000));
    g_assert_error(r.error, G_TLS_ERROR, G_TLS_ERROR_MISC);
    g_assert_nonnull(strstr(r.error->message, "BOGUS"));
  }
  {
    Fixture f;
    g_object_set(f.client(), "priority", "BOGUS", nullptr);
    GError *error = nullptr;
    GOutputStream *out = g_io_stream_get_output_stream(G_IO_STREAM(f.client()));
    g_assert_cmpint(g_output_stream_write(out, "x", 1, nullptr, &error), ==, -1);
    g_assert_error(error, G_TLS_ERROR, G_TLS_ERROR_MISC);
    g_assert_nonnull(strstr(error->message, "BOGUS"));
    g_error_free(error);
  }
}

}  // namespace

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, nullptr);
  g_test_add_func("/options/tls/properties", test_properties_defaults);
  g_test_add_func("/options/tls/max-version/client", test_max_version_client);
  g_test_add_func("/options/tls/max-version/server", test_max_version_server);
  g_test_add_func("/options/tls/version/peer-cannot-meet", test_version_range_peer_cannot_meet);
  g_test_add_func("/options/tls/ciphersuites/tls1.2", test_ciphersuite_tls12);
  g_test_add_func("/options/tls/ciphersuites/tls1.3-server", test_ciphersuite_tls13_server);
  g_test_add_func("/options/tls/ciphersuites/order", test_ciphersuite_order);
  g_test_add_func("/options/tls/ciphersuites/no-overlap", test_ciphersuite_no_overlap);
  g_test_add_func("/options/tls/priority/server", test_priority_string);
  g_test_add_func("/options/tls/priority/with-version", test_priority_and_version);
  g_test_add_func("/options/tls/error/unknown-suite", test_error_unknown_suite);
  g_test_add_func("/options/tls/error/bad-priority", test_error_bad_priority);
  g_test_add_func("/options/tls/error/empty-range", test_error_empty_range);
  g_test_add_func("/options/tls/error/dtls-version", test_error_dtls_version_on_tls);
  g_test_add_func("/options/tls/error/suites-versions-disjoint", test_error_suites_versions_disjoint);
  g_test_add_func("/options/tls/error/range-outside-priority", test_error_range_outside_priority);
  g_test_add_func("/options/tls/error/async-and-implicit", test_error_async_and_implicit);
  return g_test_run();
}
