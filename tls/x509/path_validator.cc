// PathValidator: see path_validator.h.
#include "config.h"

#include "path_validator.h"

#include "name_constraints.h"
#include "owners.h"
#include "subject_alt_names.h"

#include <glib/gi18n-lib.h>

#include <cstring>
#include <map>
#include <string>

namespace gtg {
namespace {

constexpr char kOidPolicyMappings[] = "2.5.29.33";
constexpr char kOidPolicyConstraints[] = "2.5.29.36";
constexpr char kOidInhibitAnyPolicy[] = "2.5.29.54";

// The extensions whose meaning is known here, so that they may be critical.
// (An AKI or AIA extension marked critical fails by a rule of its own.)
constexpr const char *kKnownExtensions[] = {
    GNUTLS_X509EXT_OID_SUBJECT_KEY_ID,
    GNUTLS_X509EXT_OID_KEY_USAGE,
    GNUTLS_X509EXT_OID_SAN,
    GNUTLS_X509EXT_OID_IAN,
    GNUTLS_X509EXT_OID_BASIC_CONSTRAINTS,
    GNUTLS_X509EXT_OID_NAME_CONSTRAINTS,
    GNUTLS_X509EXT_OID_CRL_DIST_POINTS,
    GNUTLS_X509EXT_OID_CRT_POLICY,
    GNUTLS_X509EXT_OID_AUTHORITY_KEY_ID,
    GNUTLS_X509EXT_OID_EXTENDED_KEY_USAGE,
    GNUTLS_X509EXT_OID_AUTHORITY_INFO_ACCESS,
    GNUTLS_X509EXT_OID_TLSFEATURES,
    kOidPolicyMappings,
    kOidPolicyConstraints,
    kOidInhibitAnyPolicy,
};

// Which extensions a certificate carries, and their criticality.
std::map<std::string, bool> extensions_of(gnutls_x509_crt_t crt)
{
  std::map<std::string, bool> extensions;
  for (unsigned i = 0; i < 1024; ++i) {
    char oid[128];
    size_t size = sizeof oid;
    unsigned critical = 0;
    int ret = gnutls_x509_crt_get_extension_info(crt, i, oid, &size, &critical);
    if (ret == GNUTLS_E_SHORT_MEMORY_BUFFER) {
      extensions.emplace("?", critical != 0);  // an OID too long to be one we know
      continue;
    }
    if (ret < 0)
      break;
    extensions.emplace(oid, critical != 0);
  }
  return extensions;
}

bool is_known_extension(const std::string &oid)
{
  for (const char *known : kKnownExtensions)
    if (oid == known)
      return true;
  return false;
}

struct BasicConstraints {
  bool present = false;
  bool ca = false;
  int path_len = -1;  // -1: no limit
};

BasicConstraints basic_constraints_of(gnutls_x509_crt_t crt)
{
  BasicConstraints bc;
  unsigned critical = 0, ca = 0;
  int path_len = -1;
  if (gnutls_x509_crt_get_basic_constraints(crt, &critical, &ca, &path_len) >= 0) {
    bc.present = true;
    bc.ca = ca != 0;
    bc.path_len = path_len;
  }
  return bc;
}

// keyUsage bits, or -1 when the extension is absent.
int key_usage_of(gnutls_x509_crt_t crt)
{
  unsigned usage = 0;
  return gnutls_x509_crt_get_key_usage(crt, &usage, nullptr) < 0 ? -1 : static_cast<int>(usage);
}

// NIST SP 800-131A: the weak public keys.
void check_key_strength(gnutls_x509_crt_t crt, size_t i, PathFindings *findings)
{
  unsigned bits = 0;
  int algorithm = gnutls_x509_crt_get_pk_algorithm(crt, &bits);
  CharPtr text;
  switch (algorithm) {
  case GNUTLS_PK_RSA:
  case GNUTLS_PK_RSA_PSS:
    if (bits < 2048 || bits % 8 != 0)
      text.reset(g_strdup_printf(_("its RSA key of %u bits is too weak"), bits));
    break;
  case GNUTLS_PK_DSA:
    text.reset(g_strdup(_("its key is a DSA key, which is too weak")));
    break;
  case GNUTLS_PK_ECDSA:
    if (bits < 224)
      text.reset(g_strdup_printf(_("its elliptic-curve key of %u bits is too weak"), bits));
    break;
  default:
    break;
  }
  if (text)
    findings->add(i, kWeakKey, text.get());
}

// The extension rules of RFC 5280 that hold for any certificate of a path.
void check_extensions(gnutls_x509_crt_t crt, size_t i, PathFindings *findings)
{
  std::map<std::string, bool> extensions = extensions_of(crt);
  BasicConstraints bc = basic_constraints_of(crt);
  int usage = key_usage_of(crt);

  for (const auto &[oid, critical] : extensions) {
    if (critical && !is_known_extension(oid)) {
      CharPtr text(g_strdup_printf(_("it has an unknown critical extension (%s)"), oid.c_str()));
      findings->add(i, kRule, text.get());
    }
  }
  if (usage >= 0 && (usage & GNUTLS_KEY_KEY_CERT_SIGN) && !bc.ca)
    findings->add(i, kRule, _("its key usage allows signing certificates but it is not a certificate authority"));
  auto critical = [&](const char *oid) {
    auto it = extensions.find(oid);
    return it != extensions.end() && it->second;
  };
  auto present = [&](const char *oid) { return extensions.count(oid) != 0; };
  if (critical(GNUTLS_X509EXT_OID_AUTHORITY_KEY_ID))
    findings->add(i, kRule, _("its authority key identifier is marked critical"));
  if (critical(GNUTLS_X509EXT_OID_AUTHORITY_INFO_ACCESS))
    findings->add(i, kRule, _("its authority information access is marked critical"));
  if (present(kOidPolicyConstraints) && !critical(kOidPolicyConstraints))
    findings->add(i, kRule, _("its policy constraints are not marked critical"));
  if (raw_subject_of(crt).size() <= 2) {  // an empty SEQUENCE
    if (bc.ca)
      findings->add(i, kRule, _("it is a certificate authority with an empty subject"));
    else if (!critical(GNUTLS_X509EXT_OID_SAN))
      findings->add(i, kRule, _("its subject is empty and its subject alternative name is not critical"));
  }
  if (present(GNUTLS_X509EXT_OID_EXTENDED_KEY_USAGE)) {
    char oid[128];
    size_t size = sizeof oid;
    int ret = gnutls_x509_crt_get_key_purpose_oid(crt, 0, oid, &size, nullptr);
    if (ret < 0 && ret != GNUTLS_E_SHORT_MEMORY_BUFFER)
      findings->add(i, kRule, _("its extended key usage lists no purpose"));
  }
}

// The TLS features (RFC 7633) of `crt`, as a bit set of feature numbers
// below 64 (the higher ones in bit 63).
unsigned long long tls_features_of(gnutls_x509_crt_t crt)
{
  gnutls_x509_tlsfeatures_t features = nullptr;
  if (gnutls_x509_tlsfeatures_init(&features) < 0)
    return 0;
  unsigned long long set = 0;
  if (gnutls_x509_crt_get_tlsfeatures(crt, features, 0, nullptr) >= 0) {
    unsigned feature = 0;
    for (unsigned i = 0; gnutls_x509_tlsfeatures_get(features, i, &feature) >= 0; ++i)
      set |= 1ull << (feature < 63 ? feature : 63);
  }
  gnutls_x509_tlsfeatures_deinit(features);
  return set;
}

}  // namespace

unsigned time_failures(gnutls_x509_crt_t crt, time_t now)
{
  unsigned failures = 0;
  time_t activation = gnutls_x509_crt_get_activation_time(crt);
  time_t expiration = gnutls_x509_crt_get_expiration_time(crt);
  if (activation != static_cast<time_t>(-1) && now < activation)
    failures |= kNotActivated;
  if (expiration != static_cast<time_t>(-1) && now > expiration)
    failures |= kExpired;
  return failures;
}

bool allows_purpose(gnutls_x509_crt_t crt, const char *purpose)
{
  bool has_eku = false;
  for (unsigned i = 0; i < 1024; ++i) {
    char oid[128];
    size_t size = sizeof oid;
    int ret = gnutls_x509_crt_get_key_purpose_oid(crt, i, oid, &size, nullptr);
    if (ret == GNUTLS_E_SHORT_MEMORY_BUFFER) {  // an OID longer than any we compare with
      has_eku = true;
      continue;
    }
    if (ret < 0)
      break;
    has_eku = true;
    if (strcmp(oid, purpose) == 0 || strcmp(oid, GNUTLS_KP_ANY) == 0)
      return true;
  }
  return !has_eku;
}

PathFindings validate_path(const CandidatePath &path, const ValidationInput &input)
{
  const std::vector<gnutls_x509_crt_t> &certs = path.certs;
  const size_t n = certs.size();
  PathFindings findings;
  findings.certs.resize(n);
  if (n == 0)
    return findings;
  const size_t anchor = path.anchored ? n - 1 : n;  // n: none

  if (!path.anchored) {
    unsigned failure = kUntrustedIssuer;
    if (path.truncated)
      failure = kPathTooLong;
    else if (is_self_issued(certs[n - 1]))
      failure = kSelfSignedUntrusted;
    findings.add(n - 1, failure);
  }

  for (size_t i = 0; i < n; ++i) {
    gnutls_x509_crt_t crt = certs[i];
    findings.add(i, time_failures(crt, input.now));
    check_key_strength(crt, i, &findings);
    check_extensions(crt, i, &findings);
    if (input.purpose && !allows_purpose(crt, input.purpose))
      findings.add(i, kPurpose);
    if (i != anchor) {
      check_subject_alt_names(certs, i, &findings);
      if (!input.anchors->crls().empty() &&
          gnutls_x509_crt_check_revocation(crt, const_cast<gnutls_x509_crl_t *>(input.anchors->crls().data()),
                                           static_cast<unsigned>(input.anchors->crls().size())) == 1)
        findings.add(i, kRevoked);
    }
    if (i + 1 >= n || i == anchor)
      continue;

    // The link to the issuer.
    gnutls_x509_crt_t issuer = certs[i + 1];
    if (!path.signature_ok[i])
      findings.add(i, kSignature);
    int algorithm = gnutls_x509_crt_get_signature_algorithm(crt);
    if (algorithm < 0 || !gnutls_sign_is_secure2(static_cast<gnutls_sign_algorithm_t>(algorithm),
                                                  GNUTLS_SIGN_FLAG_SECURE_FOR_CERTS))
      findings.add(i, kInsecure);
    BasicConstraints bc = basic_constraints_of(issuer);
    bool v1_anchor = i + 1 == anchor && gnutls_x509_crt_get_version(issuer) == 1;
    if (!bc.ca && !v1_anchor) {
      findings.add(i, kIssuerNotCa);  // which says enough about its key usage too
      continue;
    }
    int usage = key_usage_of(issuer);
    if (usage >= 0 && !(usage & GNUTLS_KEY_KEY_CERT_SIGN))
      findings.add(i + 1, kRule, _("its key usage does not allow signing certificates"));
    // RFC 7633 §4.2.2: a CA's TLS features (such as "must staple") bind the
    // certificates it issues.
    unsigned long long required = tls_features_of(issuer);
    if (required & ~tls_features_of(crt))
      findings.add(i, kRule, _("it lacks the TLS features (such as OCSP stapling) its issuer requires"));
  }

  // pathLenConstraint: the intermediates below each CA, self-issued ones not
  // counted (RFC 5280 §6.1.4 (l)).
  for (size_t j = 2; j < n; ++j) {
    BasicConstraints bc = basic_constraints_of(certs[j]);
    if (!bc.ca || bc.path_len < 0)
      continue;
    unsigned below = 0;
    for (size_t k = 1; k < j; ++k)
      if (!is_self_issued(certs[k]))
        ++below;
    if (below > static_cast<unsigned>(bc.path_len)) {
      CharPtr text(g_strdup_printf(
          g_dngettext(GETTEXT_PACKAGE, "its path length constraint allows %d intermediate certificate below it, the path has %u",
                      "its path length constraint allows %d intermediate certificates below it, the path has %u",
                      static_cast<unsigned long>(bc.path_len)),
          bc.path_len, below));
      findings.add(j, kRule, text.get());
    }
  }

  check_name_constraints(certs, &findings);
  return findings;
}

}  // namespace gtg
