// GtgCertificate: see certificate.h.
//
// Construction stores the raw inputs given as properties (set_property runs
// in any order) and parses them all at once in constructed(), so an error in
// any input leaves no half-built object behind: the error is kept for
// GInitable::init to report, and the certificate holds nothing. Parsing in
// constructed() rather than init() serves callers that use plain
// g_object_new (glib-networking's tests do). Afterwards the certificate is
// immutable, apart from the signing identity cache (built on first use,
// outside any lock because building may ask for a PIN, and published once
// under identity_lock) and the interaction that answers PKCS#11 PIN requests
// (replaced by each caller of certificate_get_signing_identity).
#include "config.h"

#include "certificate.h"

#include "app_calls.h"
#include "chain_verifier.h"
#include "gtype_macros.h"

#include <glib/gi18n-lib.h>
#include <gnutls/pkcs11.h>

#include <cstring>
#include <mutex>
#include <new>
#include <string>
#include <string_view>
#include <vector>

namespace gtg {
namespace {

// Enough for a user to correct a typo, few enough not to lock a token.
constexpr int kMaxPinAttempts = 3;

// Issuer links are built before the certificates they issue, so they cannot
// form a cycle; this only bounds the work on absurdly long chains.
constexpr unsigned kMaxChainLength = 32;

enum class KeyFormat { der, pem };

// What the construct properties gave us, kept until constructed() parses it.
struct ConstructInput {
  Owned<GBytes *> certificate_der;
  CharPtr certificate_pem;
  Owned<GBytes *> private_key_der;
  CharPtr private_key_pem;
  Owned<GBytes *> pkcs12_data;
  CharPtr password;
};

// A weak reference to a GTlsInteraction.
class WeakInteraction {
public:
  WeakInteraction() { g_weak_ref_init(&ref_, nullptr); }
  WeakInteraction(const WeakInteraction &) = delete;
  WeakInteraction &operator=(const WeakInteraction &) = delete;
  ~WeakInteraction() { g_weak_ref_clear(&ref_); }
  void set(GTlsInteraction *interaction) { g_weak_ref_set(&ref_, interaction); }
  Ref<GTlsInteraction> get()
  {
    return Ref<GTlsInteraction>::adopt(static_cast<GTlsInteraction *>(g_weak_ref_get(&ref_)));
  }

private:
  GWeakRef ref_;
};

// The connection-facing cache of certificate_get_signing_identity.
struct SigningCache {
  std::vector<gnutls_pcert_st> pcerts;
  Owned<gnutls_privkey_t> key;

  SigningCache() = default;
  SigningCache(const SigningCache &) = delete;
  SigningCache &operator=(const SigningCache &) = delete;
  ~SigningCache()
  {
    for (gnutls_pcert_st &pcert : pcerts)
      gnutls_pcert_deinit(&pcert);
  }
};

struct CertificateState {
  ConstructInput input;      // emptied by constructed()
  ErrorPtr construct_error;  // (nullable) reported by GInitable::init

  Owned<gnutls_x509_crt_t> cert;
  Owned<gnutls_x509_privkey_t> key;  // (nullable) a key held in memory
  CharPtr pkcs11_uri;                // (nullable)
  CharPtr private_key_pkcs11_uri;    // (nullable)
  Ref<GTlsCertificate> issuer;       // (nullable) (owned)

  std::mutex identity_lock;
  std::unique_ptr<SigningCache> identity;  // (nullable) set once, under identity_lock

  // Who answers PIN requests for the key: the interaction of the connection
  // that last asked for the signing identity. Weak, because connections hold
  // their certificate and applications often let the interaction hold the
  // connection; GWeakRef is thread-safe.
  WeakInteraction interaction;
};

}  // namespace
}  // namespace gtg

struct GtgCertificate {
  GTlsCertificate parent_instance;
  gtg::CertificateState state;  // placement-new'd in init, destroyed in finalize
};

struct GtgCertificateClass {
  GTlsCertificateClass parent_class;
};

static void gtg_certificate_initable_iface_init(GInitableIface *iface) noexcept;

GTG_DEFINE_TYPE(GtgCertificate, gtg_certificate, G_TYPE_TLS_CERTIFICATE, 0,
                GTG_TYPE_NAME("Certificate"),
                G_IMPLEMENT_INTERFACE(G_TYPE_INITABLE, gtg_certificate_initable_iface_init))

namespace gtg {
namespace {

enum Property : guint {
  PROP_0,
  PROP_CERTIFICATE,
  PROP_CERTIFICATE_PEM,
  PROP_PRIVATE_KEY,
  PROP_PRIVATE_KEY_PEM,
  PROP_ISSUER,
  PROP_PKCS11_URI,
  PROP_PRIVATE_KEY_PKCS11_URI,
  PROP_NOT_VALID_BEFORE,
  PROP_NOT_VALID_AFTER,
  PROP_SUBJECT_NAME,
  PROP_ISSUER_NAME,
  PROP_DNS_NAMES,
  PROP_IP_ADDRESSES,
  PROP_PKCS12_DATA,
  PROP_PASSWORD,
};

GtgCertificate *as_gtg(gpointer p) noexcept
{
  return G_TYPE_CHECK_INSTANCE_TYPE(p, GTG_TYPE_CERTIFICATE) ? reinterpret_cast<GtgCertificate *>(p)
                                                             : nullptr;
}

CertificateState &state_of(gpointer p) noexcept
{
  return reinterpret_cast<GtgCertificate *>(p)->state;
}

gnutls_datum_t datum_of(GBytes *bytes) noexcept
{
  gsize size = 0;
  const void *data = g_bytes_get_data(bytes, &size);
  return {static_cast<unsigned char *>(const_cast<void *>(data)), static_cast<unsigned>(size)};
}

gnutls_datum_t datum_of(const char *text) noexcept
{
  return {reinterpret_cast<unsigned char *>(const_cast<char *>(text)),
          static_cast<unsigned>(std::strlen(text))};
}

Owned<GBytes *> bytes_from_array(const GByteArray *array)
{
  if (!array)
    return nullptr;
  return Owned<GBytes *>(g_bytes_new(array->data, array->len));
}

GByteArray *byte_array_from(const gnutls_datum_t &datum)
{
  GByteArray *array = g_byte_array_sized_new(datum.size);
  g_byte_array_append(array, datum.data, datum.size);
  return array;
}

char *string_from(const gnutls_datum_t &datum)
{
  return g_strndup(reinterpret_cast<const char *>(datum.data), datum.size);
}

// ---------------------------------------------------------------------------
// Parsing

bool import_certificate(const gnutls_datum_t &data, gnutls_x509_crt_fmt_t format,
                        Owned<gnutls_x509_crt_t> *out_cert, GError **error)
{
  gnutls_x509_crt_t raw = nullptr;
  gnutls_x509_crt_init(&raw);
  Owned<gnutls_x509_crt_t> cert(raw);
  int status = data.size == 0 ? GNUTLS_E_NO_CERTIFICATE_FOUND
                              : gnutls_x509_crt_import(cert.get(), &data, format);
  if (status != GNUTLS_E_SUCCESS) {
    g_set_error(error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE,
                format == GNUTLS_X509_FMT_DER ? _("Could not parse DER certificate: %s")
                                              : _("Could not parse PEM certificate: %s"),
                gnutls_strerror(status));
    return false;
  }
  *out_cert = std::move(cert);
  return true;
}

// Accepts PKCS#1, PKCS#8 (unencrypted) and SEC1 keys.
bool import_private_key(const gnutls_datum_t &data, KeyFormat format,
                        Owned<gnutls_x509_privkey_t> *out_key, GError **error)
{
  gnutls_x509_privkey_t raw = nullptr;
  gnutls_x509_privkey_init(&raw);
  Owned<gnutls_x509_privkey_t> key(raw);
  gnutls_x509_crt_fmt_t gnutls_format =
      format == KeyFormat::der ? GNUTLS_X509_FMT_DER : GNUTLS_X509_FMT_PEM;
  int status = data.size == 0 ? GNUTLS_E_BASE64_DECODING_ERROR
                              : gnutls_x509_privkey_import2(key.get(), &data, gnutls_format,
                                                            nullptr, GNUTLS_PKCS_PLAIN);
  if (status == GNUTLS_E_DECRYPTION_FAILED || status == GNUTLS_E_ENCRYPTION_FAILED) {
    g_set_error_literal(
        error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE,
        _("The private key is encrypted; only unencrypted private keys are supported"));
    return false;
  }
  if (status != GNUTLS_E_SUCCESS) {
    g_set_error(error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE,
                format == KeyFormat::der ? _("Could not parse DER private key: %s")
                                         : _("Could not parse PEM private key: %s"),
                gnutls_strerror(status));
    return false;
  }
  *out_key = std::move(key);
  return true;
}

bool key_matches_certificate(gnutls_x509_crt_t cert, gnutls_x509_privkey_t key)
{
  unsigned char cert_id[64];
  unsigned char key_id[64];
  size_t cert_id_size = sizeof cert_id;
  size_t key_id_size = sizeof key_id;
  if (gnutls_x509_crt_get_key_id(cert, GNUTLS_KEYID_USE_SHA256, cert_id, &cert_id_size) != 0 ||
      gnutls_x509_privkey_get_key_id(key, GNUTLS_KEYID_USE_SHA256, key_id, &key_id_size) != 0)
    return false;
  return cert_id_size == key_id_size && std::memcmp(cert_id, key_id, cert_id_size) == 0;
}

// A certificate built from an already parsed X.509 certificate.
GTlsCertificate *adopt_parsed(Owned<gnutls_x509_crt_t> cert, Owned<gnutls_x509_privkey_t> key,
                              GTlsCertificate *issuer)
{
  auto *self =
      static_cast<GtgCertificate *>(g_object_new(GTG_TYPE_CERTIFICATE, "issuer", issuer, nullptr));
  self->state.construct_error.reset();  // "no certificate data": it comes now
  self->state.cert = std::move(cert);
  self->state.key = std::move(key);
  return G_TLS_CERTIFICATE(self);
}

// Builds a chain of certificates (each the issuer of the one before) from
// `chain`, leaf first. Returns the leaf.
GTlsCertificate *link_chain(std::vector<Owned<gnutls_x509_crt_t>> chain,
                            Owned<gnutls_x509_privkey_t> leaf_key)
{
  Ref<GTlsCertificate> issuer;
  for (size_t i = chain.size(); i-- > 1;)
    issuer = Ref<GTlsCertificate>::adopt(adopt_parsed(std::move(chain[i]), nullptr, issuer.get()));
  return adopt_parsed(std::move(chain[0]), std::move(leaf_key), issuer.get());
}

bool is_password_error(int status)
{
  return status == GNUTLS_E_MAC_VERIFY_FAILED || status == GNUTLS_E_DECRYPTION_FAILED ||
         status == GNUTLS_E_ENCRYPTION_FAILED;
}

void set_pkcs12_password_error(const char *password, GError **error)
{
  if (!password)
    g_set_error_literal(error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE_PASSWORD,
                        _("The PKCS #12 data is protected by a password, and none was given"));
  else
    g_set_error_literal(error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE_PASSWORD,
                        _("The password given for the PKCS #12 data is wrong"));
}

// Parses PKCS#12 into the certificate, its key and the issuer links.
bool init_from_pkcs12(CertificateState &state, GError **error)
{
  gnutls_datum_t data = datum_of(state.input.pkcs12_data.get());
  const char *password = state.input.password.get();

  gnutls_pkcs12_t raw = nullptr;
  gnutls_pkcs12_init(&raw);
  Owned<gnutls_pkcs12_t> pkcs12(raw);
  int status = data.size == 0 ? GNUTLS_E_ASN1_DER_ERROR
                              : gnutls_pkcs12_import(pkcs12.get(), &data, GNUTLS_X509_FMT_DER, 0);
  if (status != GNUTLS_E_SUCCESS)
    status =
        data.size == 0 ? status : gnutls_pkcs12_import(pkcs12.get(), &data, GNUTLS_X509_FMT_PEM, 0);
  if (status != GNUTLS_E_SUCCESS) {
    g_set_error(error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE,
                _("Could not parse PKCS #12 data: %s"), gnutls_strerror(status));
    return false;
  }

  // A file "without password" is usually protected by the empty one.
  const char *effective_password = password ? password : "";
  status = gnutls_pkcs12_verify_mac(pkcs12.get(), effective_password);
  if (status != GNUTLS_E_SUCCESS && status != GNUTLS_E_UNKNOWN_HASH_ALGORITHM) {
    if (is_password_error(status) || status == GNUTLS_E_INVALID_PASSWORD) {
      set_pkcs12_password_error(password, error);
    } else {
      g_set_error(error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE,
                  _("Could not verify the integrity of the PKCS #12 data: %s"),
                  gnutls_strerror(status));
    }
    return false;
  }

  gnutls_x509_privkey_t key_raw = nullptr;
  gnutls_x509_crt_t *chain_raw = nullptr;
  unsigned chain_len = 0;
  status =
      gnutls_pkcs12_simple_parse(pkcs12.get(), effective_password, &key_raw, &chain_raw, &chain_len,
                                 nullptr, nullptr, nullptr, GNUTLS_PKCS12_SP_INCLUDE_SELF_SIGNED);
  Owned<gnutls_x509_privkey_t> key(key_raw);
  std::vector<Owned<gnutls_x509_crt_t>> chain;
  for (unsigned i = 0; i < chain_len; i++)
    chain.emplace_back(chain_raw[i]);
  gnutls_free(chain_raw);

  if (is_password_error(status)) {
    set_pkcs12_password_error(password, error);
    return false;
  }
  if (status != GNUTLS_E_SUCCESS || chain.empty()) {
    g_set_error(
        error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE,
        _("Could not find a certificate in the PKCS #12 data: %s"),
        gnutls_strerror(status != GNUTLS_E_SUCCESS ? status : GNUTLS_E_NO_CERTIFICATE_FOUND));
    return false;
  }

  state.cert = std::move(chain[0]);
  state.key = std::move(key);
  if (chain.size() > 1 && !state.issuer) {
    std::vector<Owned<gnutls_x509_crt_t>> issuers;
    for (size_t i = 1; i < chain.size(); i++)
      issuers.push_back(std::move(chain[i]));
    state.issuer = Ref<GTlsCertificate>::adopt(link_chain(std::move(issuers), nullptr));
  }
  return true;
}

bool init_from_pkcs11(CertificateState &state, GError **error)
{
  gnutls_x509_crt_t raw = nullptr;
  gnutls_x509_crt_init(&raw);
  Owned<gnutls_x509_crt_t> cert(raw);
  int status = gnutls_x509_crt_import_url(cert.get(), state.pkcs11_uri.get(), 0);
  if (status != GNUTLS_E_SUCCESS) {
    g_set_error(error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE,
                _("Could not load the PKCS #11 certificate %s: %s"), state.pkcs11_uri.get(),
                gnutls_strerror(status));
    return false;
  }
  state.cert = std::move(cert);
  return true;
}

bool init_certificate(CertificateState &state, GError **error)
{
  ConstructInput &input = state.input;
  int sources = (input.certificate_der ? 1 : 0) + (input.certificate_pem ? 1 : 0) +
                (input.pkcs12_data ? 1 : 0) + (state.pkcs11_uri ? 1 : 0);
  if (sources > 1) {
    g_set_error_literal(error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE,
                        _("More than one source of certificate data was given"));
    return false;
  }

  if (input.pkcs12_data) {
    if (input.private_key_der || input.private_key_pem || state.private_key_pkcs11_uri) {
      g_set_error_literal(error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE,
                          _("A private key cannot be given together with PKCS #12 data"));
      return false;
    }
    return init_from_pkcs12(state, error);
  }

  if (input.certificate_der) {
    if (!import_certificate(datum_of(input.certificate_der.get()), GNUTLS_X509_FMT_DER, &state.cert,
                            error))
      return false;
  } else if (input.certificate_pem) {
    if (!import_certificate(datum_of(input.certificate_pem.get()), GNUTLS_X509_FMT_PEM, &state.cert,
                            error))
      return false;
  } else if (state.pkcs11_uri) {
    if (!init_from_pkcs11(state, error))
      return false;
  } else {
    g_set_error_literal(error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE,
                        _("No certificate data provided"));
    return false;
  }

  if (input.private_key_der && input.private_key_pem) {
    g_set_error_literal(error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE,
                        _("More than one private key was given"));
    return false;
  }
  if (input.private_key_der || input.private_key_pem) {
    if (state.private_key_pkcs11_uri) {
      g_set_error_literal(error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE,
                          _("A private key cannot be given both in memory and as a PKCS #11 URI"));
      return false;
    }
    bool parsed = input.private_key_der ? import_private_key(datum_of(input.private_key_der.get()),
                                                             KeyFormat::der, &state.key, error)
                                        : import_private_key(datum_of(input.private_key_pem.get()),
                                                             KeyFormat::pem, &state.key, error);
    if (!parsed)
      return false;
    if (!key_matches_certificate(state.cert.get(), state.key.get())) {
      g_set_error_literal(error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE,
                          _("The private key does not match the certificate"));
      return false;
    }
  }
  return true;
}

// ---------------------------------------------------------------------------
// Properties

GByteArray *export_certificate_der(gnutls_x509_crt_t cert)
{
  GnutlsBuffer der;
  if (!cert || gnutls_x509_crt_export2(cert, GNUTLS_X509_FMT_DER, der.out()) != 0)
    return nullptr;
  return byte_array_from(der.datum);
}

char *export_certificate_pem(gnutls_x509_crt_t cert)
{
  GnutlsBuffer pem;
  if (!cert || gnutls_x509_crt_export2(cert, GNUTLS_X509_FMT_PEM, pem.out()) != 0)
    return nullptr;
  return string_from(pem.datum);
}

// Private keys are exported as unencrypted PKCS#8, whatever form they came in.
bool export_private_key(gnutls_x509_privkey_t key, gnutls_x509_crt_fmt_t format, GnutlsBuffer &out)
{
  return key &&
         gnutls_x509_privkey_export2_pkcs8(key, format, nullptr, GNUTLS_PKCS_PLAIN, out.out()) == 0;
}

GDateTime *date_time_from(time_t t)
{
  if (t == static_cast<time_t>(-1))
    return nullptr;
  return g_date_time_new_from_unix_utc(static_cast<gint64>(t));
}

using DnGetter = int (*)(gnutls_x509_crt_t, gnutls_datum_t *, unsigned);

char *distinguished_name(gnutls_x509_crt_t cert, DnGetter getter)
{
  GnutlsBuffer dn;
  if (!cert || getter(cert, dn.out(), GNUTLS_X509_DN_FLAG_COMPAT) != 0)
    return nullptr;
  return string_from(dn.datum);
}

// Calls `visit(type, datum)` for every subjectAltName entry of `cert`.
template <typename Visit> void for_each_subject_alt_name(gnutls_x509_crt_t cert, Visit visit)
{
  for (unsigned i = 0;; i++) {
    unsigned char buffer[1024];
    size_t size = sizeof buffer;
    unsigned type = 0;
    int status = gnutls_x509_crt_get_subject_alt_name2(cert, i, buffer, &size, &type, nullptr);
    if (status == GNUTLS_E_SHORT_MEMORY_BUFFER)
      continue;  // an entry too long for any name we report
    if (status < 0)
      return;  // the end, or an extension that does not parse
    gnutls_datum_t datum{buffer, static_cast<unsigned>(size)};
    visit(static_cast<gnutls_x509_subject_alt_name_t>(status), datum);
  }
}

GPtrArray *dns_names(gnutls_x509_crt_t cert)
{
  GPtrArray *names =
      g_ptr_array_new_with_free_func(reinterpret_cast<GDestroyNotify>(g_bytes_unref));
  if (cert) {
    for_each_subject_alt_name(
        cert, [names](gnutls_x509_subject_alt_name_t type, const gnutls_datum_t &value) {
          if (type == GNUTLS_SAN_DNSNAME)
            g_ptr_array_add(names, g_bytes_new(value.data, value.size));
        });
  }
  return names;
}

GPtrArray *ip_addresses(gnutls_x509_crt_t cert)
{
  GPtrArray *addresses = g_ptr_array_new_with_free_func(g_object_unref);
  if (cert) {
    for_each_subject_alt_name(cert, [addresses](gnutls_x509_subject_alt_name_t type,
                                                const gnutls_datum_t &value) {
      if (type != GNUTLS_SAN_IPADDRESS)
        return;
      if (value.size == 4)
        g_ptr_array_add(addresses, g_inet_address_new_from_bytes(value.data, G_SOCKET_FAMILY_IPV4));
      else if (value.size == 16)
        g_ptr_array_add(addresses, g_inet_address_new_from_bytes(value.data, G_SOCKET_FAMILY_IPV6));
    });
  }
  return addresses;
}

void get_property(GObject *object, guint prop_id, GValue *value, GParamSpec *pspec) noexcept
{
  CertificateState &state = state_of(object);
  gnutls_x509_crt_t cert = state.cert.get();
  switch (prop_id) {
  case PROP_CERTIFICATE:
    g_value_take_boxed(value, export_certificate_der(cert));
    break;
  case PROP_CERTIFICATE_PEM:
    g_value_take_string(value, export_certificate_pem(cert));
    break;
  case PROP_PRIVATE_KEY: {
    GnutlsBuffer der;
    g_value_take_boxed(value, export_private_key(state.key.get(), GNUTLS_X509_FMT_DER, der)
                                  ? byte_array_from(der.datum)
                                  : nullptr);
    break;
  }
  case PROP_PRIVATE_KEY_PEM: {
    GnutlsBuffer pem;
    g_value_take_string(value, export_private_key(state.key.get(), GNUTLS_X509_FMT_PEM, pem)
                                   ? string_from(pem.datum)
                                   : nullptr);
    break;
  }
  case PROP_ISSUER:
    g_value_set_object(value, state.issuer.get());
    break;
  case PROP_PKCS11_URI:
    g_value_set_string(value, state.pkcs11_uri.get());
    break;
  case PROP_PRIVATE_KEY_PKCS11_URI:
    g_value_set_string(value, state.private_key_pkcs11_uri.get());
    break;
  case PROP_NOT_VALID_BEFORE:
    g_value_take_boxed(value,
                       cert ? date_time_from(gnutls_x509_crt_get_activation_time(cert)) : nullptr);
    break;
  case PROP_NOT_VALID_AFTER:
    g_value_take_boxed(value,
                       cert ? date_time_from(gnutls_x509_crt_get_expiration_time(cert)) : nullptr);
    break;
  case PROP_SUBJECT_NAME:
    g_value_take_string(value, distinguished_name(cert, gnutls_x509_crt_get_dn3));
    break;
  case PROP_ISSUER_NAME:
    g_value_take_string(value, distinguished_name(cert, gnutls_x509_crt_get_issuer_dn3));
    break;
  case PROP_DNS_NAMES:
    g_value_take_boxed(value, dns_names(cert));
    break;
  case PROP_IP_ADDRESSES:
    g_value_take_boxed(value, ip_addresses(cert));
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
  }
}

void set_property(GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec) noexcept
{
  CertificateState &state = state_of(object);
  ConstructInput &input = state.input;
  switch (prop_id) {
  case PROP_CERTIFICATE:
    input.certificate_der = bytes_from_array(static_cast<GByteArray *>(g_value_get_boxed(value)));
    break;
  case PROP_CERTIFICATE_PEM:
    input.certificate_pem = CharPtr(g_value_dup_string(value));
    break;
  case PROP_PRIVATE_KEY:
    input.private_key_der = bytes_from_array(static_cast<GByteArray *>(g_value_get_boxed(value)));
    break;
  case PROP_PRIVATE_KEY_PEM:
    input.private_key_pem = CharPtr(g_value_dup_string(value));
    break;
  case PROP_ISSUER:
    state.issuer =
        Ref<GTlsCertificate>::adopt(static_cast<GTlsCertificate *>(g_value_dup_object(value)));
    break;
  case PROP_PKCS11_URI:
    state.pkcs11_uri = CharPtr(g_value_dup_string(value));
    break;
  case PROP_PRIVATE_KEY_PKCS11_URI:
    state.private_key_pkcs11_uri = CharPtr(g_value_dup_string(value));
    break;
  case PROP_PKCS12_DATA:
    input.pkcs12_data = bytes_from_array(static_cast<GByteArray *>(g_value_get_boxed(value)));
    break;
  case PROP_PASSWORD:
    input.password = CharPtr(g_value_dup_string(value));
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
  }
}

// ---------------------------------------------------------------------------
// Construction and GInitable

void constructed(GObject *object) noexcept
{
  G_OBJECT_CLASS(gtg_certificate_parent_class)->constructed(object);
  CertificateState &state = state_of(object);
  GError *error = nullptr;
  if (!init_certificate(state, &error)) {
    state.construct_error.reset(error);
    state.cert.reset();
    state.key.reset();
  }
  if (state.input.password)
    explicit_bzero(state.input.password.get(), std::strlen(state.input.password.get()));
  state.input = ConstructInput{};
}

gboolean initable_init(GInitable *initable, GCancellable *, GError **error) noexcept
{
  CertificateState &state = state_of(initable);
  if (state.construct_error) {
    g_propagate_error(error, g_error_copy(state.construct_error.get()));
    return FALSE;
  }
  return TRUE;
}

// ---------------------------------------------------------------------------
// verify()

GTlsCertificateFlags verify(GTlsCertificate *cert, GSocketConnectable *identity,
                            GTlsCertificate *trusted_ca) noexcept
{
  Owned<gnutls_x509_crt_t> storage;
  std::vector<gnutls_x509_crt_t> anchor;
  if (trusted_ca) {
    gnutls_x509_crt_t ca = x509_of(trusted_ca, &storage);
    if (!ca)
      return G_TLS_CERTIFICATE_GENERIC_ERROR;
    anchor.push_back(ca);
  }
  TrustAnchors anchors(std::move(anchor), {}, TrustProfile::kPrivate);
  int flags = verify_chain(anchors, cert, nullptr, identity, nullptr);
  // Without a trusted CA, GIO documents that UNKNOWN_CA is never reported.
  if (!trusted_ca)
    flags &= ~G_TLS_CERTIFICATE_UNKNOWN_CA;
  return static_cast<GTlsCertificateFlags>(flags);
}

// ---------------------------------------------------------------------------
// Signing identity and PKCS#11 PINs

GTlsPasswordFlags password_flags_for(int attempt, unsigned pin_flags)
{
  int flags = G_TLS_PASSWORD_NONE;
  if (attempt > 0 || (pin_flags & GNUTLS_PIN_WRONG))
    flags |= G_TLS_PASSWORD_RETRY;
  if (pin_flags & GNUTLS_PIN_COUNT_LOW)
    flags |= G_TLS_PASSWORD_MANY_TRIES;
  if (pin_flags & GNUTLS_PIN_FINAL_TRY)
    flags |= G_TLS_PASSWORD_FINAL_TRY;
  if (pin_flags & GNUTLS_PIN_SO)
    flags |= G_TLS_PASSWORD_PKCS11_SECURITY_OFFICER;
  else if (pin_flags & GNUTLS_PIN_CONTEXT_SPECIFIC)
    flags |= G_TLS_PASSWORD_PKCS11_CONTEXT_SPECIFIC;
  else
    flags |= G_TLS_PASSWORD_PKCS11_USER;
  return static_cast<GTlsPasswordFlags>(flags);
}

// gnutls_pin_callback_t: asks the certificate's current interaction for the
// PIN of the token holding its key.
int ask_pin(void *userdata, int attempt, const char *token_url, const char *token_label,
            unsigned pin_flags, char *pin, size_t pin_max) noexcept
{
  CertificateState &state = *static_cast<CertificateState *>(userdata);
  if (attempt >= kMaxPinAttempts)
    return GNUTLS_E_PKCS11_PIN_ERROR;

  Ref<GTlsInteraction> interaction = state.interaction.get();
  if (!interaction)
    return GNUTLS_E_PKCS11_PIN_ERROR;

  const char *description = token_label && *token_label ? token_label : token_url;
  auto password = Ref<GTlsPassword>::adopt(
      g_tls_password_new(password_flags_for(attempt, pin_flags), description));
  GError *raw_error = nullptr;
  GTlsInteractionResult result =
      interaction_ask_password(interaction.get(), password.get(), nullptr, &raw_error);
  ErrorPtr error(raw_error);
  if (result != G_TLS_INTERACTION_HANDLED) {
    if (error)
      g_debug("PKCS #11 PIN request for %s failed: %s", description, error->message);
    return GNUTLS_E_PKCS11_PIN_ERROR;
  }

  gsize length = 0;
  const guchar *value = g_tls_password_get_value(password.get(), &length);
  if (!value || length + 1 > pin_max)
    return GNUTLS_E_PKCS11_PIN_ERROR;
  std::memcpy(pin, value, length);
  pin[length] = '\0';
  return 0;
}

// Without private-key-pkcs11-uri, the key is the private key object next to
// the certificate: the same URI, with "type=cert" (if present) changed to
// "type=private". nullptr for nullptr.
char *key_uri_for_certificate_uri(const char *uri)
{
  if (!uri)
    return nullptr;
  static constexpr std::string_view kCertType = "type=cert";
  std::string key_uri(uri);
  size_t path_end = key_uri.find('?');  // the attributes end at the query, if any
  for (size_t at = key_uri.find(kCertType); at != std::string::npos && at < path_end;
       at = key_uri.find(kCertType, at + 1)) {
    size_t after = at + kCertType.size();
    bool starts_attribute = at > 0 && (key_uri[at - 1] == ':' || key_uri[at - 1] == ';');
    bool ends_attribute = after == key_uri.size() || key_uri[after] == ';' || key_uri[after] == '?';
    if (starts_attribute && ends_attribute) {
      key_uri.replace(at, kCertType.size(), "type=private");
      break;
    }
  }
  return g_strdup(key_uri.c_str());
}

bool build_signing_cache(GTlsCertificate *cert, CertificateState &state,
                         std::unique_ptr<SigningCache> *out_cache, GError **error)
{
  auto cache = std::make_unique<SigningCache>();

  gnutls_privkey_t key_raw = nullptr;
  gnutls_privkey_init(&key_raw);
  cache->key.reset(key_raw);
  CharPtr key_uri(state.private_key_pkcs11_uri
                      ? g_strdup(state.private_key_pkcs11_uri.get())
                      : key_uri_for_certificate_uri(state.pkcs11_uri.get()));
  if (state.key) {
    int status =
        gnutls_privkey_import_x509(cache->key.get(), state.key.get(), GNUTLS_PRIVKEY_IMPORT_COPY);
    if (status != 0) {
      g_set_error(error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE,
                  _("Could not use the private key: %s"), gnutls_strerror(status));
      return false;
    }
  } else if (key_uri) {
    gnutls_privkey_set_pin_function(cache->key.get(), ask_pin, &state);
    int status = gnutls_privkey_import_url(cache->key.get(), key_uri.get(), 0);
    if (status != 0) {
      g_set_error(error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE,
                  _("Could not load the PKCS #11 private key %s: %s"), key_uri.get(),
                  gnutls_strerror(status));
      return false;
    }
  } else {
    g_set_error_literal(error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE,
                        _("The certificate has no private key"));
    return false;
  }

  GTlsCertificate *link = cert;
  for (unsigned depth = 0; link && depth < kMaxChainLength; depth++) {
    Owned<gnutls_x509_crt_t> storage;
    gnutls_x509_crt_t crt = x509_of(link, &storage);
    if (!crt)
      break;
    gnutls_pcert_st pcert{};
    int status = gnutls_pcert_import_x509(&pcert, crt, 0);
    if (status != 0) {
      g_set_error(error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE,
                  _("Could not use the certificate: %s"), gnutls_strerror(status));
      return false;
    }
    cache->pcerts.push_back(pcert);
    link = g_tls_certificate_get_issuer(link);
  }

  *out_cache = std::move(cache);
  return true;
}

}  // namespace

// ---------------------------------------------------------------------------
// Internal API

GTlsCertificate *certificate_new_from_der(const gnutls_datum_t &der, GError **error)
{
  Owned<gnutls_x509_crt_t> cert;
  if (!import_certificate(der, GNUTLS_X509_FMT_DER, &cert, error))
    return nullptr;
  return adopt_parsed(std::move(cert), nullptr, nullptr);
}

GTlsCertificate *certificate_new_from_peer_chain(const gnutls_datum_t *certs, unsigned n)
{
  std::vector<Owned<gnutls_x509_crt_t>> chain;
  for (unsigned i = 0; i < n; i++) {
    Owned<gnutls_x509_crt_t> cert;
    if (!import_certificate(certs[i], GNUTLS_X509_FMT_DER, &cert, nullptr))
      break;
    chain.push_back(std::move(cert));
  }
  if (chain.empty())
    return nullptr;
  return link_chain(std::move(chain), nullptr);
}

gnutls_x509_crt_t certificate_get_x509(GTlsCertificate *cert)
{
  GtgCertificate *self = as_gtg(cert);
  return self ? self->state.cert.get() : nullptr;
}

bool certificate_get_signing_identity(GTlsCertificate *cert, GTlsInteraction *interaction,
                                      SigningIdentity *out_identity, GError **error)
{
  GtgCertificate *self = as_gtg(cert);
  if (!self) {
    g_set_error_literal(error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE,
                        _("The certificate was not created by this TLS backend"));
    return false;
  }
  if (!self->state.cert) {
    g_set_error_literal(error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE,
                        _("The certificate could not be parsed, so it cannot be used"));
    return false;
  }
  CertificateState &state = self->state;
  state.interaction.set(interaction);

  auto publish = [&state, out_identity]() {
    out_identity->pcerts = state.identity->pcerts.data();
    out_identity->n_pcerts = static_cast<unsigned>(state.identity->pcerts.size());
    out_identity->key = state.identity->key.get();
  };
  {
    std::lock_guard<std::mutex> lock(state.identity_lock);
    if (state.identity) {
      publish();
      return true;
    }
  }

  // Built without the lock: a PIN request may wait on another thread's main
  // context, which must never be stuck behind this lock. Two first uses at
  // once both build; the first to finish is kept.
  std::unique_ptr<SigningCache> built;
  if (!build_signing_cache(cert, state, &built, error))
    return false;
  std::lock_guard<std::mutex> lock(state.identity_lock);
  if (!state.identity)
    state.identity = std::move(built);
  publish();
  return true;
}

}  // namespace gtg

// ---------------------------------------------------------------------------
// GObject boilerplate

static void gtg_certificate_init(GtgCertificate *self)
{
  new (&self->state) gtg::CertificateState();
}

static void gtg_certificate_finalize(GObject *object) noexcept
{
  gtg::state_of(object).~CertificateState();
  G_OBJECT_CLASS(gtg_certificate_parent_class)->finalize(object);
}

static void gtg_certificate_class_init(GtgCertificateClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS(klass);
  object_class->get_property = gtg::get_property;
  object_class->set_property = gtg::set_property;
  object_class->constructed = gtg::constructed;
  object_class->finalize = gtg_certificate_finalize;
  G_TLS_CERTIFICATE_CLASS(klass)->verify = gtg::verify;

  using namespace gtg;
  g_object_class_override_property(object_class, PROP_CERTIFICATE, "certificate");
  g_object_class_override_property(object_class, PROP_CERTIFICATE_PEM, "certificate-pem");
  g_object_class_override_property(object_class, PROP_PRIVATE_KEY, "private-key");
  g_object_class_override_property(object_class, PROP_PRIVATE_KEY_PEM, "private-key-pem");
  g_object_class_override_property(object_class, PROP_ISSUER, "issuer");
  g_object_class_override_property(object_class, PROP_PKCS11_URI, "pkcs11-uri");
  g_object_class_override_property(object_class, PROP_PRIVATE_KEY_PKCS11_URI,
                                   "private-key-pkcs11-uri");
  g_object_class_override_property(object_class, PROP_NOT_VALID_BEFORE, "not-valid-before");
  g_object_class_override_property(object_class, PROP_NOT_VALID_AFTER, "not-valid-after");
  g_object_class_override_property(object_class, PROP_SUBJECT_NAME, "subject-name");
  g_object_class_override_property(object_class, PROP_ISSUER_NAME, "issuer-name");
  g_object_class_override_property(object_class, PROP_DNS_NAMES, "dns-names");
  g_object_class_override_property(object_class, PROP_IP_ADDRESSES, "ip-addresses");
  g_object_class_override_property(object_class, PROP_PKCS12_DATA, "pkcs12-data");
  g_object_class_override_property(object_class, PROP_PASSWORD, "password");
}

static void gtg_certificate_initable_iface_init(GInitableIface *iface) noexcept
{
  iface->init = gtg::initable_init;
}
