// Tests of the module's GTlsCertificate through the public GIO API: PEM and
// DER certificates, private keys in every form, chains, every property,
// verify(), PKCS#12 and inputs that must be rejected (PKCS#11 is in
// pkcs11/test-pkcs11.cc). The module is loaded through GIO_MODULE_DIR,
// which the meson test environment sets; test PKI: tests/files/make-files.sh.
#include <gio/gio.h>

#include <cstring>
#include <string>

namespace {

std::string path_of(const char *name)
{
  return std::string(TEST_FILES_DIR) + "/" + name;
}

GBytes *load_bytes(const char *name)
{
  char *contents = nullptr;
  gsize length = 0;
  GError *error = nullptr;
  g_file_get_contents(path_of(name).c_str(), &contents, &length, &error);
  g_assert_no_error(error);
  return g_bytes_new_take(contents, length);
}

std::string load_text(const char *name)
{
  GBytes *bytes = load_bytes(name);
  gsize size = 0;
  const char *data = static_cast<const char *>(g_bytes_get_data(bytes, &size));
  std::string text(data, size);
  g_bytes_unref(bytes);
  return text;
}

void assert_equals_file(const char *actual, const char *name)
{
  std::string expected = load_text(name);
  g_assert_cmpstr(actual, ==, expected.c_str());
}

GByteArray *load_array(const char *name)
{
  return g_bytes_unref_to_array(load_bytes(name));
}

GType certificate_type()
{
  return g_tls_backend_get_certificate_type(g_tls_backend_get_default());
}

GTlsCertificate *load_cert(const char *name)
{
  GError *error = nullptr;
  GTlsCertificate *cert = g_tls_certificate_new_from_file(path_of(name).c_str(), &error);
  g_assert_no_error(error);
  g_assert_nonnull(cert);
  return cert;
}

// Builds a certificate from a PEM certificate and a key given as PEM text or
// DER bytes (by file name: a .der key goes through "private-key").
GTlsCertificate *new_with_key(const char *cert_name, const char *key_name, GError **error)
{
  std::string cert_pem = load_text(cert_name);
  if (g_str_has_suffix(key_name, ".der")) {
    GByteArray *key = load_array(key_name);
    auto *cert = static_cast<GTlsCertificate *>(g_initable_new(certificate_type(), nullptr, error,
                                                               "certificate-pem", cert_pem.c_str(),
                                                               "private-key", key, nullptr));
    g_byte_array_unref(key);
    return cert;
  }
  std::string key_pem = load_text(key_name);
  return static_cast<GTlsCertificate *>(
      g_initable_new(certificate_type(), nullptr, error, "certificate-pem", cert_pem.c_str(),
                     "private-key-pem", key_pem.c_str(), nullptr));
}

char *subject_of(GTlsCertificate *cert)
{
  return g_tls_certificate_get_subject_name(cert);
}

void assert_subject_contains(GTlsCertificate *cert, const char *fragment)
{
  char *subject = subject_of(cert);
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

// ---------------------------------------------------------------------------
// Loading certificates

void test_pem_roundtrip()
{
  GTlsCertificate *cert = load_cert("server.pem");
  char *pem = nullptr;
  GByteArray *der = nullptr;
  g_object_get(cert, "certificate-pem", &pem, "certificate", &der, nullptr);
  assert_equals_file(pem, "server.pem");
  GBytes *expected_der = load_bytes("server.der");
  g_assert_cmpmem(der->data, der->len, g_bytes_get_data(expected_der, nullptr),
                  g_bytes_get_size(expected_der));
  g_assert_null(g_tls_certificate_get_issuer(cert));
  g_bytes_unref(expected_der);
  g_byte_array_unref(der);
  g_free(pem);

  // No key was given: both key properties are NULL.
  GByteArray *key = nullptr;
  char *key_pem = nullptr;
  g_object_get(cert, "private-key", &key, "private-key-pem", &key_pem, nullptr);
  g_assert_null(key);
  g_assert_null(key_pem);
  g_object_unref(cert);
}

void test_der_roundtrip()
{
  GByteArray *der = load_array("server.der");
  GError *error = nullptr;
  auto *cert = static_cast<GTlsCertificate *>(
      g_initable_new(certificate_type(), nullptr, &error, "certificate", der, nullptr));
  g_assert_no_error(error);
  char *pem = nullptr;
  g_object_get(cert, "certificate-pem", &pem, nullptr);
  assert_equals_file(pem, "server.pem");
  g_free(pem);
  g_byte_array_unref(der);
  g_object_unref(cert);
}

void test_chain_from_file()
{
  GTlsCertificate *leaf = load_cert("server-fullchain.pem");
  assert_subject_contains(leaf, "CN=server.example.test");
  GTlsCertificate *intermediate = g_tls_certificate_get_issuer(leaf);
  g_assert_nonnull(intermediate);
  assert_subject_contains(intermediate, "CN=Gtg Test Intermediate CA");
  GTlsCertificate *root = g_tls_certificate_get_issuer(intermediate);
  g_assert_nonnull(root);
  assert_subject_contains(root, "CN=Gtg Test Root CA");
  g_assert_null(g_tls_certificate_get_issuer(root));

  // The issuer link keeps the issuer alive after the caller drops its chain.
  g_object_ref(intermediate);
  g_object_unref(leaf);
  g_assert_true(g_tls_certificate_get_issuer(intermediate) == root);
  g_object_unref(intermediate);
}

void test_chain_list()
{
  GError *error = nullptr;
  GList *list =
      g_tls_certificate_list_new_from_file(path_of("server-fullchain.pem").c_str(), &error);
  g_assert_no_error(error);
  g_assert_cmpuint(g_list_length(list), ==, 3);
  assert_subject_contains(G_TLS_CERTIFICATE(g_list_nth_data(list, 1)), "Intermediate");
  g_list_free_full(list, g_object_unref);
}

void test_new_from_files()
{
  GError *error = nullptr;
  GTlsCertificate *cert = g_tls_certificate_new_from_files(
      path_of("server-chain.pem").c_str(), path_of("server-key.pem").c_str(), &error);
  g_assert_no_error(error);
  assert_subject_contains(g_tls_certificate_get_issuer(cert), "Intermediate");
  char *key_pem = nullptr;
  g_object_get(cert, "private-key-pem", &key_pem, nullptr);
  g_assert_nonnull(key_pem);
  g_free(key_pem);
  g_object_unref(cert);
}

void test_certificate_and_key_in_one_file()
{
  GTlsCertificate *cert = load_cert("server-and-key.pem");
  GByteArray *key = nullptr;
  g_object_get(cert, "private-key", &key, nullptr);
  g_assert_nonnull(key);
  GBytes *expected = load_bytes("server-key-pkcs8.der");
  g_assert_cmpmem(key->data, key->len, g_bytes_get_data(expected, nullptr),
                  g_bytes_get_size(expected));
  g_bytes_unref(expected);
  g_byte_array_unref(key);
  g_assert_nonnull(g_tls_certificate_get_issuer(cert));
  g_object_unref(cert);
}

// Callers that use g_object_new without GInitable get a parsed certificate
// too, and a broken one that holds nothing rather than crashing.
void test_plain_object_new()
{
  GByteArray *der = load_array("server.der");
  GTlsCertificate *issuer = load_cert("intermediate-ca.pem");
  auto *cert = static_cast<GTlsCertificate *>(
      g_object_new(certificate_type(), "certificate", der, "issuer", issuer, nullptr));
  GByteArray *der_again = nullptr;
  g_object_get(cert, "certificate", &der_again, nullptr);
  g_assert_nonnull(der_again);
  g_assert_cmpmem(der_again->data, der_again->len, der->data, der->len);
  g_assert_true(g_tls_certificate_get_issuer(cert) == issuer);
  g_assert_cmpuint(g_tls_certificate_verify(cert, nullptr, issuer), ==, 0);
  g_byte_array_unref(der_again);
  g_object_unref(cert);
  g_object_unref(issuer);

  GByteArray *garbage = load_array("garbage.der");
  cert = static_cast<GTlsCertificate *>(
      g_object_new(certificate_type(), "certificate", garbage, nullptr));
  g_object_get(cert, "certificate", &der_again, nullptr);
  g_assert_null(der_again);
  char *subject = g_tls_certificate_get_subject_name(cert);
  g_assert_null(subject);
  g_object_unref(cert);
  g_byte_array_unref(garbage);
  g_byte_array_unref(der);
}

// ---------------------------------------------------------------------------
// Private keys

struct KeyCase {
  const char *cert;
  const char *key;
};

const KeyCase kKeyCases[] = {
    {"server.pem", "server-key.pem"},                    // PKCS#1 PEM
    {"server.pem", "server-key.der"},                    // PKCS#1 DER
    {"server.pem", "server-key-pkcs8.pem"},              // PKCS#8 PEM
    {"server.pem", "server-key-pkcs8.der"},              // PKCS#8 DER
    {"server-ecdsa.pem", "server-ecdsa-key.pem"},        // SEC1 PEM
    {"server-ecdsa.pem", "server-ecdsa-key.der"},        // SEC1 DER
    {"server-ecdsa.pem", "server-ecdsa-key-pkcs8.pem"},  // PKCS#8 PEM
    {"server-ecdsa.pem", "server-ecdsa-key-pkcs8.der"},  // PKCS#8 DER
};

// Every key form loads, and the key comes back as unencrypted PKCS#8 that
// loads again to the same key.
void test_key_form(gconstpointer data)
{
  const auto *key_case = static_cast<const KeyCase *>(data);
  GError *error = nullptr;
  GTlsCertificate *cert = new_with_key(key_case->cert, key_case->key, &error);
  g_assert_no_error(error);
  g_assert_nonnull(cert);

  GByteArray *der = nullptr;
  char *pem = nullptr;
  g_object_get(cert, "private-key", &der, "private-key-pem", &pem, nullptr);
  g_assert_nonnull(der);
  g_assert_nonnull(pem);
  g_assert_true(g_str_has_prefix(pem, "-----BEGIN PRIVATE KEY-----"));

  std::string cert_pem = load_text(key_case->cert);
  auto *again = static_cast<GTlsCertificate *>(g_initable_new(certificate_type(), nullptr, &error,
                                                              "certificate-pem", cert_pem.c_str(),
                                                              "private-key", der, nullptr));
  g_assert_no_error(error);
  char *pem_again = nullptr;
  g_object_get(again, "private-key-pem", &pem_again, nullptr);
  g_assert_cmpstr(pem_again, ==, pem);

  // RSA PKCS#8 is canonical, so it matches what openssl wrote.
  if (g_str_has_prefix(key_case->key, "server-key"))
    assert_equals_file(pem, "server-key-pkcs8.pem");

  g_free(pem_again);
  g_object_unref(again);
  g_free(pem);
  g_byte_array_unref(der);
  g_object_unref(cert);
}

void test_key_mismatch()
{
  GError *error = nullptr;
  GTlsCertificate *cert = new_with_key("server.pem", "client-key.pem", &error);
  g_assert_null(cert);
  g_assert_error(error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE);
  assert_error_mentions(error, "does not match");
  g_clear_error(&error);

  // Same through GLib's file loader.
  cert = g_tls_certificate_new_from_files(path_of("server.pem").c_str(),
                                          path_of("server-ecdsa-key.pem").c_str(), &error);
  g_assert_null(cert);
  g_assert_error(error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE);
  g_clear_error(&error);
}

void test_key_encrypted()
{
  GError *error = nullptr;
  GTlsCertificate *cert = new_with_key("server.pem", "server-key-encrypted.pem", &error);
  g_assert_null(cert);
  g_assert_error(error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE);
  assert_error_mentions(error, "encrypted");
  g_clear_error(&error);
}

void test_key_garbage()
{
  GError *error = nullptr;
  GTlsCertificate *cert = new_with_key("server.pem", "garbage-key.pem", &error);
  g_assert_null(cert);
  g_assert_error(error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE);
  assert_error_mentions(error, "private key");
  g_clear_error(&error);

  cert = new_with_key("server.pem", "garbage.der", &error);
  g_assert_null(cert);
  g_assert_error(error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE);
  assert_error_mentions(error, "DER private key");
  g_clear_error(&error);

  // A key without a certificate is not a certificate.
  std::string key_pem = load_text("server-key.pem");
  cert = static_cast<GTlsCertificate *>(g_initable_new(
      certificate_type(), nullptr, &error, "private-key-pem", key_pem.c_str(), nullptr));
  g_assert_null(cert);
  g_assert_error(error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE);
  g_clear_error(&error);
}

// ---------------------------------------------------------------------------
// Bad certificates

void expect_bad_certificate(GTlsCertificate *cert, GError *error, const char *fragment)
{
  g_assert_null(cert);
  g_assert_error(error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE);
  if (fragment)
    assert_error_mentions(error, fragment);
  g_error_free(error);
}

void test_bad_certificates()
{
  GError *error = nullptr;
  GTlsCertificate *cert = g_tls_certificate_new_from_file(path_of("garbage.pem").c_str(), &error);
  expect_bad_certificate(cert, error, nullptr);

  error = nullptr;
  cert = g_tls_certificate_new_from_file(path_of("garbage-cert.pem").c_str(), &error);
  expect_bad_certificate(cert, error, "PEM certificate");

  error = nullptr;
  cert = g_tls_certificate_new_from_file(path_of("truncated.pem").c_str(), &error);
  expect_bad_certificate(cert, error, "PEM certificate");

  for (const char *name : {"garbage.der", "truncated.der"}) {
    GByteArray *der = load_array(name);
    error = nullptr;
    cert = static_cast<GTlsCertificate *>(
        g_initable_new(certificate_type(), nullptr, &error, "certificate", der, nullptr));
    expect_bad_certificate(cert, error, "DER certificate");
    g_byte_array_unref(der);
  }

  GByteArray *empty = g_byte_array_new();
  error = nullptr;
  cert = static_cast<GTlsCertificate *>(
      g_initable_new(certificate_type(), nullptr, &error, "certificate", empty, nullptr));
  expect_bad_certificate(cert, error, "DER certificate");
  g_byte_array_unref(empty);

  error = nullptr;
  cert =
      static_cast<GTlsCertificate *>(g_initable_new(certificate_type(), nullptr, &error, nullptr));
  expect_bad_certificate(cert, error, "No certificate");

  // Two sources at once are refused rather than one silently ignored.
  std::string pem = load_text("server.pem");
  GByteArray *der = load_array("client.pem");
  error = nullptr;
  cert = static_cast<GTlsCertificate *>(g_initable_new(certificate_type(), nullptr, &error,
                                                       "certificate-pem", pem.c_str(),
                                                       "certificate", der, nullptr));
  expect_bad_certificate(cert, error, "More than one");
  g_byte_array_unref(der);
}

// Every prefix of a valid DER certificate is rejected without a crash.
void test_every_truncation()
{
  GBytes *der = load_bytes("server.der");
  gsize size = 0;
  const auto *data = static_cast<const guint8 *>(g_bytes_get_data(der, &size));
  for (gsize length = 0; length < size; length += 7) {
    GByteArray *prefix = g_byte_array_new();
    g_byte_array_append(prefix, data, static_cast<guint>(length));
    GError *error = nullptr;
    auto *cert = static_cast<GTlsCertificate *>(
        g_initable_new(certificate_type(), nullptr, &error, "certificate", prefix, nullptr));
    expect_bad_certificate(cert, error, nullptr);
    g_byte_array_unref(prefix);
  }
  g_bytes_unref(der);
}

// A certificate with any single byte corrupted either is refused with
// BAD_CERTIFICATE or loads and answers every property without a crash or a
// hang (GnuTLS parses extensions only when asked, so damage in a
// subjectAltName shows up in dns-names, not at load time).
void test_every_corruption()
{
  GBytes *der = load_bytes("server.der");
  gsize size = 0;
  const auto *data = static_cast<const guint8 *>(g_bytes_get_data(der, &size));
  GTlsCertificate *ca = load_cert("intermediate-ca.pem");
  GSocketConnectable *identity = g_network_address_new("server.example.test", 443);
  guint loaded = 0;
  for (gsize at = 0; at < size; at++) {
    GByteArray *corrupt = g_byte_array_new();
    g_byte_array_append(corrupt, data, static_cast<guint>(size));
    corrupt->data[at] ^= 0x5a;
    GError *error = nullptr;
    auto *cert = static_cast<GTlsCertificate *>(
        g_initable_new(certificate_type(), nullptr, &error, "certificate", corrupt, nullptr));
    g_byte_array_unref(corrupt);
    if (!cert) {
      g_assert_error(error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE);
      g_error_free(error);
      continue;
    }
    loaded++;
    char *pem = nullptr;
    char *subject = nullptr;
    char *issuer = nullptr;
    GPtrArray *names = nullptr;
    GPtrArray *addresses = nullptr;
    GDateTime *before = nullptr;
    GDateTime *after = nullptr;
    g_object_get(cert, "certificate-pem", &pem, "subject-name", &subject, "issuer-name", &issuer,
                 "dns-names", &names, "ip-addresses", &addresses, "not-valid-before", &before,
                 "not-valid-after", &after, nullptr);
    // Damage to the signed part always breaks the signature.
    g_assert_cmpuint(g_tls_certificate_verify(cert, identity, ca), !=, 0);
    g_free(pem);
    g_free(subject);
    g_free(issuer);
    g_clear_pointer(&names, g_ptr_array_unref);
    g_clear_pointer(&addresses, g_ptr_array_unref);
    g_clear_pointer(&before, g_date_time_unref);
    g_clear_pointer(&after, g_date_time_unref);
    g_object_unref(cert);
  }
  // Most single-byte damage still leaves a parseable certificate.
  g_assert_cmpuint(loaded, >, 0);
  g_object_unref(identity);
  g_object_unref(ca);
  g_bytes_unref(der);
}

// ---------------------------------------------------------------------------
// Properties

void assert_date(GDateTime *date, const char *expected)
{
  g_assert_nonnull(date);
  char *text = g_date_time_format_iso8601(date);
  g_assert_cmpstr(text, ==, expected);
  g_free(text);
  g_date_time_unref(date);
}

void test_properties()
{
  GTlsCertificate *cert = load_cert("server.pem");

  assert_date(g_tls_certificate_get_not_valid_before(cert), "2024-01-01T00:00:00Z");
  assert_date(g_tls_certificate_get_not_valid_after(cert), "2049-12-31T23:59:59Z");

  char *subject = g_tls_certificate_get_subject_name(cert);
  g_assert_cmpstr(subject, ==, "O=gio-tls-gnutls tests,CN=server.example.test");
  g_free(subject);
  char *issuer = g_tls_certificate_get_issuer_name(cert);
  g_assert_cmpstr(issuer, ==, "O=gio-tls-gnutls tests,CN=Gtg Test Intermediate CA");
  g_free(issuer);

  GPtrArray *names = g_tls_certificate_get_dns_names(cert);
  g_assert_cmpuint(names->len, ==, 2);
  const char *expected_names[] = {"server.example.test", "localhost"};
  for (guint i = 0; i < names->len; i++) {
    gsize size = 0;
    const void *name = g_bytes_get_data(static_cast<GBytes *>(names->pdata[i]), &size);
    g_assert_cmpmem(name, size, expected_names[i], strlen(expected_names[i]));
  }
  g_ptr_array_unref(names);

  GPtrArray *addresses = g_tls_certificate_get_ip_addresses(cert);
  g_assert_cmpuint(addresses->len, ==, 2);
  const char *expected_addresses[] = {"127.0.0.1", "::1"};
  for (guint i = 0; i < addresses->len; i++) {
    char *text = g_inet_address_to_string(G_INET_ADDRESS(addresses->pdata[i]));
    g_assert_cmpstr(text, ==, expected_addresses[i]);
    g_free(text);
  }
  g_ptr_array_unref(addresses);

  char *uri = nullptr;
  char *key_uri = nullptr;
  g_object_get(cert, "pkcs11-uri", &uri, "private-key-pkcs11-uri", &key_uri, nullptr);
  g_assert_null(uri);
  g_assert_null(key_uri);
  g_object_unref(cert);

  // A certificate without subjectAltName has empty lists, not NULL.
  GTlsCertificate *root = load_cert("ca.pem");
  names = g_tls_certificate_get_dns_names(root);
  g_assert_cmpuint(names->len, ==, 0);
  g_ptr_array_unref(names);
  addresses = g_tls_certificate_get_ip_addresses(root);
  g_assert_cmpuint(addresses->len, ==, 0);
  g_ptr_array_unref(addresses);
  g_object_unref(root);
}

void test_is_same()
{
  GTlsCertificate *one = load_cert("server.pem");
  GTlsCertificate *two = load_cert("server-and-key.pem");
  GTlsCertificate *three = load_cert("server-ecdsa.pem");
  g_assert_true(g_tls_certificate_is_same(one, two));
  g_assert_true(g_tls_certificate_is_same(two, one));
  g_assert_false(g_tls_certificate_is_same(one, three));
  g_assert_false(g_tls_certificate_is_same(three, two));
  g_object_unref(one);
  g_object_unref(two);
  g_object_unref(three);
}

// ---------------------------------------------------------------------------
// verify()

GTlsCertificateFlags verify_as(GTlsCertificate *cert, const char *host, GTlsCertificate *ca)
{
  GSocketConnectable *identity = host ? g_network_address_new(host, 443) : nullptr;
  GTlsCertificateFlags flags = g_tls_certificate_verify(cert, identity, ca);
  if (identity)
    g_object_unref(identity);
  return flags;
}

void test_verify_good()
{
  GTlsCertificate *chain = load_cert("server-chain.pem");
  GTlsCertificate *root = load_cert("ca.pem");
  g_assert_cmpuint(verify_as(chain, "server.example.test", root), ==, 0);
  g_assert_cmpuint(verify_as(chain, "localhost", root), ==, 0);
  g_assert_cmpuint(verify_as(chain, "127.0.0.1", root), ==, 0);
  g_assert_cmpuint(verify_as(chain, nullptr, root), ==, 0);

  GSocketAddress *address = g_inet_socket_address_new_from_string("::1", 443);
  g_assert_cmpuint(g_tls_certificate_verify(chain, G_SOCKET_CONNECTABLE(address), root), ==, 0);
  g_object_unref(address);

  // Trusting the intermediate is enough as well.
  GTlsCertificate *intermediate = load_cert("intermediate-ca.pem");
  GTlsCertificate *leaf = load_cert("server.pem");
  g_assert_cmpuint(verify_as(leaf, "server.example.test", intermediate), ==, 0);

  // Signed directly by the root.
  GTlsCertificate *root_signed = load_cert("server-root.pem");
  g_assert_cmpuint(verify_as(root_signed, "server.example.test", root), ==, 0);
  g_assert_cmpuint(verify_as(root_signed, "server.example.test", intermediate), ==,
                   G_TLS_CERTIFICATE_UNKNOWN_CA);

  g_object_unref(root_signed);
  g_object_unref(leaf);
  g_object_unref(intermediate);
  g_object_unref(root);
  g_object_unref(chain);
}

void test_verify_bad_identity()
{
  GTlsCertificate *chain = load_cert("server-chain.pem");
  GTlsCertificate *root = load_cert("ca.pem");
  g_assert_cmpuint(verify_as(chain, "other.example.test", root), ==,
                   G_TLS_CERTIFICATE_BAD_IDENTITY);
  g_assert_cmpuint(verify_as(chain, "10.0.0.1", root), ==, G_TLS_CERTIFICATE_BAD_IDENTITY);
  g_object_unref(root);
  g_object_unref(chain);
}

void test_verify_unknown_ca()
{
  GTlsCertificate *chain = load_cert("server-chain.pem");
  GTlsCertificate *unrelated = load_cert("self-signed.pem");
  GTlsCertificate *client = load_cert("client.pem");
  g_assert_cmpuint(verify_as(chain, "server.example.test", unrelated), ==,
                   G_TLS_CERTIFICATE_UNKNOWN_CA);
  // A leaf certificate is no CA even if the caller trusts it.
  g_assert_cmpuint(verify_as(chain, "server.example.test", client), ==,
                   G_TLS_CERTIFICATE_UNKNOWN_CA);
  // Without a trusted CA, UNKNOWN_CA is never reported (GIO's contract).
  g_assert_cmpuint(verify_as(chain, "server.example.test", nullptr), ==, 0);
  g_object_unref(client);
  g_object_unref(unrelated);
  g_object_unref(chain);
}

void test_verify_times()
{
  GTlsCertificate *intermediate = load_cert("intermediate-ca.pem");
  GTlsCertificate *expired = load_cert("expired.pem");
  GTlsCertificate *future = load_cert("not-yet-valid.pem");
  g_assert_cmpuint(verify_as(expired, nullptr, intermediate), ==, G_TLS_CERTIFICATE_EXPIRED);
  g_assert_cmpuint(verify_as(future, nullptr, intermediate), ==, G_TLS_CERTIFICATE_NOT_ACTIVATED);
  g_assert_cmpuint(verify_as(expired, "other.example.test", nullptr), ==,
                   G_TLS_CERTIFICATE_EXPIRED | G_TLS_CERTIFICATE_BAD_IDENTITY);
  g_object_unref(future);
  g_object_unref(expired);
  g_object_unref(intermediate);
}

void test_verify_insecure_and_bad_signature()
{
  GTlsCertificate *intermediate = load_cert("intermediate-ca.pem");
  GTlsCertificate *sha1 = load_cert("insecure-sha1.pem");
  g_assert_cmpuint(verify_as(sha1, "server.example.test", intermediate), ==,
                   G_TLS_CERTIFICATE_INSECURE);
  GTlsCertificate *forged = load_cert("bad-signature.pem");
  // GIO has no flag of its own for a bad signature.
  g_assert_cmpuint(verify_as(forged, "server.example.test", intermediate), ==,
                   G_TLS_CERTIFICATE_GENERIC_ERROR);
  g_object_unref(forged);
  g_object_unref(sha1);
  g_object_unref(intermediate);
}

// ---------------------------------------------------------------------------
// PKCS#12

void assert_is_server_with_chain(GTlsCertificate *cert)
{
  GTlsCertificate *server = load_cert("server.pem");
  g_assert_true(g_tls_certificate_is_same(cert, server));
  g_object_unref(server);

  char *key_pem = nullptr;
  g_object_get(cert, "private-key-pem", &key_pem, nullptr);
  assert_equals_file(key_pem, "server-key-pkcs8.pem");
  g_free(key_pem);

  GTlsCertificate *intermediate = g_tls_certificate_get_issuer(cert);
  g_assert_nonnull(intermediate);
  assert_subject_contains(intermediate, "CN=Gtg Test Intermediate CA");
  GTlsCertificate *root = g_tls_certificate_get_issuer(intermediate);
  g_assert_nonnull(root);
  assert_subject_contains(root, "CN=Gtg Test Root CA");
  g_assert_null(g_tls_certificate_get_issuer(root));

  GTlsCertificate *ca = load_cert("ca.pem");
  g_assert_cmpuint(verify_as(cert, "server.example.test", ca), ==, 0);
  g_object_unref(ca);
}

GTlsCertificate *from_pkcs12(const char *name, const char *password, GError **error)
{
  GBytes *data = load_bytes(name);
  gsize size = 0;
  const auto *bytes = static_cast<const guint8 *>(g_bytes_get_data(data, &size));
  GTlsCertificate *cert = g_tls_certificate_new_from_pkcs12(bytes, size, password, error);
  g_bytes_unref(data);
  return cert;
}

void test_pkcs12_without_password()
{
  GError *error = nullptr;
  GTlsCertificate *cert = from_pkcs12("server.p12", nullptr, &error);
  g_assert_no_error(error);
  assert_is_server_with_chain(cert);
  g_object_unref(cert);

  // GLib reads a .p12 file name as PKCS#12.
  cert = g_tls_certificate_new_from_file(path_of("server.p12").c_str(), &error);
  g_assert_no_error(error);
  assert_is_server_with_chain(cert);
  g_object_unref(cert);
}

void test_pkcs12_password()
{
  GError *error = nullptr;
  GTlsCertificate *cert = from_pkcs12("server-password.p12", nullptr, &error);
  g_assert_null(cert);
  g_assert_error(error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE_PASSWORD);
  g_clear_error(&error);

  cert = from_pkcs12("server-password.p12", "wrong", &error);
  g_assert_null(cert);
  g_assert_error(error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE_PASSWORD);
  assert_error_mentions(error, "wrong");
  g_clear_error(&error);

  cert = from_pkcs12("server-password.p12", "1234", &error);
  g_assert_no_error(error);
  assert_is_server_with_chain(cert);
  g_object_unref(cert);

  // GLib picks PKCS#12 for a .p12 file name.
  cert = g_tls_certificate_new_from_file_with_password(path_of("server-password.p12").c_str(),
                                                       "1234", &error);
  g_assert_no_error(error);
  assert_is_server_with_chain(cert);
  g_object_unref(cert);
}

void test_pkcs12_garbage()
{
  for (const char *name : {"truncated.p12", "garbage.der", "server.der"}) {
    GError *error = nullptr;
    GTlsCertificate *cert = from_pkcs12(name, "1234", &error);
    g_assert_null(cert);
    g_assert_error(error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE);
    assert_error_mentions(error, "PKCS #12");
    g_clear_error(&error);
  }
}

}  // namespace

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, nullptr);

  const char *name = g_getenv("GTG_BACKEND_NAME");
  g_assert_nonnull(name);
  std::string expected =
      std::string("GTlsBackend") + static_cast<char>(g_ascii_toupper(name[0])) + (name + 1);
  g_assert_cmpstr(G_OBJECT_TYPE_NAME(g_tls_backend_get_default()), ==, expected.c_str());

  g_test_add_func("/certificate/pem-roundtrip", test_pem_roundtrip);
  g_test_add_func("/certificate/der-roundtrip", test_der_roundtrip);
  g_test_add_func("/certificate/chain-from-file", test_chain_from_file);
  g_test_add_func("/certificate/chain-list", test_chain_list);
  g_test_add_func("/certificate/new-from-files", test_new_from_files);
  g_test_add_func("/certificate/certificate-and-key-in-one-file",
                  test_certificate_and_key_in_one_file);
  g_test_add_func("/certificate/plain-object-new", test_plain_object_new);
  for (const KeyCase &key_case : kKeyCases) {
    std::string path = std::string("/certificate/key-form/") + key_case.key;
    g_test_add_data_func(path.c_str(), &key_case, test_key_form);
  }
  g_test_add_func("/certificate/key-mismatch", test_key_mismatch);
  g_test_add_func("/certificate/key-encrypted", test_key_encrypted);
  g_test_add_func("/certificate/key-garbage", test_key_garbage);
  g_test_add_func("/certificate/bad-certificates", test_bad_certificates);
  g_test_add_func("/certificate/every-truncation", test_every_truncation);
  g_test_add_func("/certificate/every-corruption", test_every_corruption);
  g_test_add_func("/certificate/properties", test_properties);
  g_test_add_func("/certificate/is-same", test_is_same);
  g_test_add_func("/certificate/verify/good", test_verify_good);
  g_test_add_func("/certificate/verify/bad-identity", test_verify_bad_identity);
  g_test_add_func("/certificate/verify/unknown-ca", test_verify_unknown_ca);
  g_test_add_func("/certificate/verify/times", test_verify_times);
  g_test_add_func("/certificate/verify/insecure-and-bad-signature",
                  test_verify_insecure_and_bad_signature);
  g_test_add_func("/certificate/pkcs12/without-password", test_pkcs12_without_password);
  g_test_add_func("/certificate/pkcs12/password", test_pkcs12_password);
  g_test_add_func("/certificate/pkcs12/garbage", test_pkcs12_garbage);

  return g_test_run();
}
