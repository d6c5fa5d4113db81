// Fuzz target: certificate and private-key parsing through GTlsCertificate.
// The first byte picks the format, the rest is the data:
//   0  PEM, certificate(s) and key together (g_tls_certificate_new_from_pem)
//   1  DER certificate ("certificate" property)
//   2  DER certificate and DER key, each a length-prefixed piece
//   3  PEM certificate and PEM key, each a length-prefixed piece
//   4  PKCS#12 without a password
//   5  PKCS#12 with the password "1234"
// Whatever parses is then read through every property and verified
// against itself, as an application inspecting a peer certificate would.
#include "fuzz-common.h"

namespace {

GByteArray *byte_array(const std::string &s)
{
  GByteArray *a = g_byte_array_sized_new(guint(s.size()));
  g_byte_array_append(a, reinterpret_cast<const guint8 *>(s.data()), guint(s.size()));
  return a;
}

GTlsCertificate *parse(fuzz::Reader &in, GError **error)
{
  GType type = g_tls_backend_get_certificate_type(g_tls_backend_get_default());
  switch (in.byte() % 6) {
  case 0: {
    std::string pem = in.rest();
    return g_tls_certificate_new_from_pem(pem.data(), gssize(pem.size()), error);
  }
  case 1: {
    GByteArray *der = byte_array(in.rest());
    auto *cert = static_cast<GTlsCertificate *>(
        g_initable_new(type, nullptr, error, "certificate", der, nullptr));
    g_byte_array_unref(der);
    return cert;
  }
  case 2: {
    GByteArray *der = byte_array(in.piece());
    GByteArray *key = byte_array(in.rest());
    auto *cert = static_cast<GTlsCertificate *>(
        g_initable_new(type, nullptr, error, "certificate", der, "private-key", key, nullptr));
    g_byte_array_unref(der);
    g_byte_array_unref(key);
    return cert;
  }
  case 3: {
    std::string pem = in.piece();
    std::string key = in.rest();
    return static_cast<GTlsCertificate *>(g_initable_new(type, nullptr, error, "certificate-pem",
                                                         pem.c_str(), "private-key-pem",
                                                         key.c_str(), nullptr));
  }
  case 4: {
    std::string p12 = in.rest();
    return g_tls_certificate_new_from_pkcs12(reinterpret_cast<const guint8 *>(p12.data()),
                                             p12.size(), nullptr, error);
  }
  default: {
    std::string p12 = in.rest();
    return g_tls_certificate_new_from_pkcs12(reinterpret_cast<const guint8 *>(p12.data()),
                                             p12.size(), "1234", error);
  }
  }
}

void inspect(GTlsCertificate *cert)
{
  GByteArray *der = nullptr, *key = nullptr;
  char *pem = nullptr, *key_pem = nullptr, *subject = nullptr, *issuer_name = nullptr;
  GPtrArray *dns = nullptr, *ips = nullptr;
  GDateTime *before = nullptr, *after = nullptr;
  GTlsCertificate *issuer = nullptr;
  g_object_get(cert, "certificate", &der, "certificate-pem", &pem, "private-key", &key,
               "private-key-pem", &key_pem, "subject-name", &subject, "issuer-name",
               &issuer_name, "dns-names", &dns, "ip-addresses", &ips, "not-valid-before",
               &before, "not-valid-after", &after, "issuer", &issuer, nullptr);
  GSocketConnectable *identity = g_network_address_new("localhost", 443);
  (void)g_tls_certificate_verify(cert, identity, cert);
  (void)g_tls_certificate_verify(cert, nullptr, nullptr);
  if (issuer)
    (void)g_tls_certificate_is_same(cert, issuer);
  g_object_unref(identity);

  // The DER the certificate reports parses again to the same certificate.
  if (der) {
    GType type = G_OBJECT_TYPE(cert);
    auto *again = static_cast<GTlsCertificate *>(
        g_initable_new(type, nullptr, nullptr, "certificate", der, nullptr));
    if (!again || !g_tls_certificate_is_same(cert, again))
      g_error("a certificate's own DER does not parse back to it");
    g_object_unref(again);
  }

  g_clear_pointer(&der, g_byte_array_unref);
  g_clear_pointer(&key, g_byte_array_unref);
  g_free(pem);
  g_free(key_pem);
  g_free(subject);
  g_free(issuer_name);
  g_clear_pointer(&dns, g_ptr_array_unref);
  g_clear_pointer(&ips, g_ptr_array_unref);
  g_clear_pointer(&before, g_date_time_unref);
  g_clear_pointer(&after, g_date_time_unref);
  g_clear_object(&issuer);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
  fuzz::init();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  fuzz::Reader in(data, size);
  GError *error = nullptr;
  GTlsCertificate *cert = parse(in, &error);
  if (cert) {
    inspect(cert);
    g_object_unref(cert);
  } else if (!error) {
    g_error("a certificate constructor failed without an error");
  }
  g_clear_error(&error);
  return 0;
}
