// The Web PKI profile: see web_pki_policy.h.
#include "config.h"

#include "web_pki_policy.h"

#include "name_constraints.h"
#include "owners.h"
#include "subject_alt_names.h"
#include "trust_anchors.h"

#include <glib/gi18n-lib.h>
#include <libpsl.h>

#include <cstring>
#include <string>
#include <string_view>

namespace gtg {
namespace {

// The public suffix list: the system's (Debian's publicsuffix package) when
// it can be read, else the one built into libpsl. Loaded once, read-only
// afterwards (libpsl allows concurrent lookups on one context).
const psl_ctx_t *public_suffixes()
{
  static gsize ctx = 0;
  if (g_once_init_enter(&ctx)) {
    const psl_ctx_t *loaded = psl_latest(nullptr);
    if (!loaded)
      loaded = psl_builtin();
    g_once_init_leave(&ctx, reinterpret_cast<gsize>(loaded));
  }
  return reinterpret_cast<const psl_ctx_t *>(ctx);
}

std::string key_id(int (*get)(gnutls_x509_crt_t, void *, size_t *, unsigned *), gnutls_x509_crt_t crt,
                   bool *out_present)
{
  unsigned char id[256];
  size_t size = sizeof id;
  *out_present = get(crt, id, &size, nullptr) >= 0;
  return *out_present ? std::string(reinterpret_cast<const char *>(id), size) : std::string();
}

std::string authority_key_id(gnutls_x509_crt_t crt, bool *out_present)
{
  return key_id(gnutls_x509_crt_get_authority_key_id, crt, out_present);
}

std::string subject_key_id(gnutls_x509_crt_t crt, bool *out_present)
{
  return key_id(gnutls_x509_crt_get_subject_key_id, crt, out_present);
}

bool is_ca(gnutls_x509_crt_t crt, bool *out_critical = nullptr)
{
  unsigned critical = 0, ca = 0;
  if (gnutls_x509_crt_get_basic_constraints(crt, &critical, &ca, nullptr) < 0)
    return false;
  if (out_critical)
    *out_critical = critical != 0;
  return ca != 0;
}

bool has_extension(gnutls_x509_crt_t crt, const char *oid, bool *out_critical = nullptr)
{
  GnutlsBuffer ext;
  unsigned critical = 0;
  if (gnutls_x509_crt_get_extension_by_oid2(crt, oid, 0, ext.out(), &critical) < 0)
    return false;
  if (out_critical)
    *out_critical = critical != 0;
  return true;
}

void add_reason(PathFindings *findings, size_t i, const char *text)
{
  findings->add(i, kRule, text);
}

void add_reason_with(PathFindings *findings, size_t i, const char *format, const std::string &arg)
{
  CharPtr text(g_strdup_printf(format, arg.c_str()));
  findings->add(i, kRule, text.get());
}


void check_leaf(gnutls_x509_crt_t leaf, const char *purpose, PathFindings *findings)
{
  if (gnutls_x509_crt_get_version(leaf) != 3)
    add_reason(findings, 0, _("it is not an X.509 version 3 certificate"));
  if (is_ca(leaf))
    add_reason(findings, 0, _("it is a certificate authority used as a server or client certificate"));

  bool eku_critical = false;
  if (!has_extension(leaf, GNUTLS_X509EXT_OID_EXTENDED_KEY_USAGE, &eku_critical)) {
    add_reason(findings, 0, _("it has no extended key usage"));
  } else {
    if (eku_critical)
      add_reason(findings, 0, _("its extended key usage is marked critical"));
    bool server_auth = false, any = false;
    for (unsigned i = 0; i < 64; ++i) {
      char oid[128];
      size_t size = sizeof oid;
      if (gnutls_x509_crt_get_key_purpose_oid(leaf, i, oid, &size, nullptr) < 0)
        break;
      server_auth = server_auth || strcmp(oid, GNUTLS_KP_TLS_WWW_SERVER) == 0;
      any = any || strcmp(oid, GNUTLS_KP_ANY) == 0;
    }
    if (any)
      add_reason(findings, 0, _("its extended key usage allows any purpose"));
    if (!server_auth && purpose && strcmp(purpose, G_TLS_DATABASE_PURPOSE_AUTHENTICATE_SERVER) == 0)
      add_reason(findings, 0, _("its extended key usage does not name server authentication"));
  }

  SubjectAltNames sans(leaf);
  if (!sans.present() || sans.size() == 0) {
    add_reason(findings, 0, _("it has no subject alternative name"));
  } else if (sans.critical() && raw_subject_of(leaf).size() > 2) {
    add_reason(findings, 0, _("its subject alternative name is marked critical although its subject is not empty"));
  }
  std::vector<std::string> presented;
  sans.for_each([&](unsigned type, std::string_view value) {
    if (type == GNUTLS_SAN_IPADDRESS) {
      presented.push_back(ip_address_text(value));
      return;
    }
    if (type != GNUTLS_SAN_DNSNAME)
      return;
    std::string name(value);
    presented.push_back(name);
    if (name.find('_') != std::string::npos)
      add_reason_with(findings, 0, _("its DNS name “%s” holds an underscore"), name);
    if (name.size() > 2 && name.compare(0, 2, "*.") == 0) {
      std::string rest = name.substr(2);
      for (char &c : rest)
        c = g_ascii_tolower(c);
      if (psl_is_public_suffix2(public_suffixes(), rest.c_str(), PSL_TYPE_ANY))
        add_reason_with(findings, 0, _("its wildcard “%s” stands directly under a public suffix"), name);
    }
  });
  for (const std::string &cn : common_names(leaf)) {
    bool found = false;
    for (const std::string &p : presented)
      found = found || p == cn;
    if (!found)
      add_reason_with(findings, 0, _("its common name “%s” is not one of its subject alternative names"), cn);
  }
}

}  // namespace

void check_web_pki(const CandidatePath &path, const char *purpose, PathFindings *findings)
{
  const std::vector<gnutls_x509_crt_t> &certs = path.certs;
  const size_t n = certs.size();
  if (n == 0 || !path.anchored)
    return;
  const size_t root = n - 1;
  // A leaf that is itself a trust anchor is trusted as it was configured:
  // only the root rules apply to it.
  if (n >= 2)
    check_leaf(certs[0], purpose, findings);

  for (size_t i = 0; i < n; ++i) {
    gnutls_x509_crt_t crt = certs[i];
    bool ski_present = false;
    std::string ski = subject_key_id(crt, &ski_present);
    if (i > 0 && !ski_present)
      add_reason(findings, i, _("it is a certificate authority without a subject key identifier"));
    bool aki_present = false;
    std::string aki = authority_key_id(crt, &aki_present);
    if (i != root) {
      bool issuer_ski_present = false;
      std::string issuer_ski = subject_key_id(certs[i + 1], &issuer_ski_present);
      if (!aki_present)
        add_reason(findings, i, _("it has no authority key identifier"));
      else if (issuer_ski_present && aki != issuer_ski)
        add_reason(findings, i, _("its authority key identifier is not its issuer’s subject key identifier"));

      unsigned char serial[64];
      size_t size = sizeof serial;
      if (gnutls_x509_crt_get_serial(crt, serial, &size) < 0 || size == 0 || size > 20 ||
          (serial[0] & 0x80) || (size == 1 && serial[0] == 0))
        add_reason(findings, i, _("its serial number is not a positive number of at most 20 octets"));
    }
    if (has_extension(crt, GNUTLS_X509EXT_OID_AUTHORITY_INFO_ACCESS)) {
      gnutls_datum_t data{};
      int ret = gnutls_x509_crt_get_authority_info_access(crt, 0, GNUTLS_IA_URI, &data, nullptr);
      if (ret < 0)
        add_reason(findings, i, _("its authority information access holds no access description"));
      else
        gnutls_free(data.data);
    }
    if (has_extension(crt, GNUTLS_X509EXT_OID_NAME_CONSTRAINTS)) {
      gnutls_x509_name_constraints_t nc = nullptr;
      if (gnutls_x509_name_constraints_init(&nc) >= 0) {
        unsigned type = 0;
        gnutls_datum_t name{};
        if (gnutls_x509_crt_get_name_constraints(crt, nc, 0, nullptr) >= 0 &&
            gnutls_x509_name_constraints_get_permitted(nc, 0, &type, &name) < 0 &&
            gnutls_x509_name_constraints_get_excluded(nc, 0, &type, &name) < 0)
          add_reason(findings, i, _("its name constraints are empty"));
        gnutls_x509_name_constraints_deinit(nc);
      }
    }
  }

  // The root. The Baseline Requirements also want its basicConstraints
  // critical and its authority key identifier to hold nothing but a key
  // identifier; public roots still in Debian's bundle (Go Daddy Class 2,
  // Starfield Class 2, QuoVadis Root CA 2 and 3, Certigna, Chunghwa ePKI)
  // break those two, so only the parts every public root follows are kept.
  gnutls_x509_crt_t anchor = certs[root];
  if (!is_ca(anchor))
    add_reason(findings, root, _("it is a root whose basic constraints do not say it is a certificate authority"));
  if (has_extension(anchor, GNUTLS_X509EXT_OID_EXTENDED_KEY_USAGE))
    add_reason(findings, root, _("it is a root with an extended key usage"));
  bool aki_present = false, ski_present = false;
  std::string aki = authority_key_id(anchor, &aki_present);
  std::string ski = subject_key_id(anchor, &ski_present);
  if (aki_present && ski_present && aki != ski)
    add_reason(findings, root, _("its authority key identifier is not its own subject key identifier"));
}

}  // namespace gtg
