// Tests of our per-connection properties on DTLS connections
// (docs/user-guide.md, "Beyond GIO's API"): `min-protocol-version`,
// `max-protocol-version`, `ciphersuites` and `priority`, through the public
// GIO API only, over loopback UDP. Every wait is bounded: a watchdog cancels
// each handshake after 20 s, and a server whose client gave up stops after
// its handshake-timeout.
#include "dtls-harness.h"

#include <gio/gio.h>

#include <cstring>
#include <string>

using namespace gtg_test;

namespace {

std::string suite_of(GDatagramBased *conn)
{
  char *suite = nullptr;
  g_object_get(conn, "ciphersuite-name", &suite, nullptr);
  std::string s = suite ? suite : "";
  g_free(suite);
  return s;
}

// (A helper: g_assert_cmpstr keeps its arguments' pointers past the
// temporaries they came from.)
void assert_suite(GDatagramBased *conn, const char *expected)
{
  std::string suite = suite_of(conn);
  g_assert_cmpstr(suite.c_str(), ==, expected);
}

// A handshake of `conn` alone, expected to fail before any I/O with
// G_TLS_ERROR_MISC whose message contains `needle`.
void assert_config_error(GDatagramBased *conn, const char *needle)
{
  Watchdog watchdog(20000);
  GError *error = nullptr;
  g_assert_false(g_dtls_connection_handshake(G_DTLS_CONNECTION(conn), watchdog.cancellable(), &error));
  g_assert_error(error, G_TLS_ERROR, G_TLS_ERROR_MISC);
  g_test_message("error: %s", error->message);
  g_assert_nonnull(strstr(error->message, needle));
  g_error_free(error);
}

void test_properties()
{
  DtlsPair pair;
  for (GDatagramBased *conn : {pair.client, pair.server}) {
    GObjectClass *klass = G_OBJECT_GET_CLASS(conn);
    for (const char *name : {"min-protocol-version", "max-protocol-version", "ciphersuites", "priority"})
      g_assert_nonnull(g_object_class_find_property(klass, name));
    GTlsProtocolVersion min = G_TLS_PROTOCOL_VERSION_TLS_1_3;
    g_object_get(conn, "min-protocol-version", &min, nullptr);
    g_assert_cmpint(min, ==, G_TLS_PROTOCOL_VERSION_UNKNOWN);
  }
}

// A suite and a version range on the client are honoured.
void test_suite_and_version()
{
  DtlsPair pair;
  const char *const suites[] = {"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", nullptr};
  g_object_set(pair.client, "ciphersuites", suites, "min-protocol-version",
               G_TLS_PROTOCOL_VERSION_DTLS_1_2, "max-protocol-version", G_TLS_PROTOCOL_VERSION_DTLS_1_2,
               nullptr);
  Watchdog watchdog(20000);
  handshake_both_ok(pair.client, pair.server, watchdog.cancellable());
  assert_suite(pair.client, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384");
  assert_suite(pair.server, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384");
  GTlsProtocolVersion version = G_TLS_PROTOCOL_VERSION_UNKNOWN;
  g_object_get(pair.client, "protocol-version", &version, nullptr);
  g_assert_cmpint(version, ==, G_TLS_PROTOCOL_VERSION_DTLS_1_2);
}

// A priority string on the server.
void test_priority()
{
  DtlsPair pair;
  g_object_set(pair.server, "priority", "NORMAL:-CIPHER-ALL:+CHACHA20-POLY1305", nullptr);
  Watchdog watchdog(20000);
  handshake_both_ok(pair.client, pair.server, watchdog.cancellable());
  assert_suite(pair.client, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256");
}

void test_error_tls_version()
{
  DtlsPair pair;
  g_object_set(pair.client, "min-protocol-version", G_TLS_PROTOCOL_VERSION_TLS_1_2, nullptr);
  assert_config_error(pair.client, "TLS 1.2");
}

void test_error_tls13_suites()
{
  DtlsPair pair;
  const char *const suites[] = {"TLS_AES_128_GCM_SHA256", nullptr};
  g_object_set(pair.server, "ciphersuites", suites, nullptr);
  assert_config_error(pair.server, "DTLS");
}

void test_error_unknown_suite()
{
  DtlsPair pair;
  const char *const suites[] = {"TLS_FOO", nullptr};
  g_object_set(pair.client, "ciphersuites", suites, nullptr);
  assert_config_error(pair.client, "TLS_FOO");
}

void test_error_bad_priority()
{
  DtlsPair pair;
  g_object_set(pair.client, "priority", "NORMAL:%NO_SUCH_FLAG", nullptr);
  assert_config_error(pair.client, "NO_SUCH_FLAG");
}

}  // namespace

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, nullptr);
  g_test_add_func("/options/dtls/properties", test_properties);
  g_test_add_func("/options/dtls/suite-and-version", test_suite_and_version);
  g_test_add_func("/options/dtls/priority", test_priority);
  g_test_add_func("/options/dtls/error/tls-version", test_error_tls_version);
  g_test_add_func("/options/dtls/error/tls1.3-suites", test_error_tls13_suites);
  g_test_add_func("/options/dtls/error/unknown-suite", test_error_unknown_suite);
  g_test_add_func("/options/dtls/error/bad-priority", test_error_bad_priority);
  return g_test_run();
}
