// ChainVerifier and the identity rules: see chain_verifier.h.
#include "config.h"

#include "chain_verifier.h"

#include "certificate.h"
#include "path_builder.h"
#include "path_findings.h"
#include "path_validator.h"
#include "subject_alt_names.h"
#include "trust_anchors.h"
#include "web_pki_policy.h"

#include <glib/gi18n-lib.h>
#include <gnutls/x509-ext.h>
#include <gnutls/x509.h>

#include <cstring>
#include <ctime>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gtg {

GTlsCertificateFlags flags_of(unsigned failures)
{
  unsigned flags = 0;
  if (failures & (kUntrustedIssuer | kSelfSignedUntrusted | kPathTooLong | kIssuerNotCa))
    flags |= G_TLS_CERTIFICATE_UNKNOWN_CA;
  if (failures & kIdentity)
    flags |= G_TLS_CERTIFICATE_BAD_IDENTITY;
  if (failures & (kNotActivated | kChainNotActivated))
    flags |= G_TLS_CERTIFICATE_NOT_ACTIVATED;
  if (failures & (kExpired | kChainExpired))
    flags |= G_TLS_CERTIFICATE_EXPIRED;
  if (failures & (kRevoked | kChainRevoked))
    flags |= G_TLS_CERTIFICATE_REVOKED;
  if (failures & (kInsecure | kChainInsecure | kWeakKey))
    flags |= G_TLS_CERTIFICATE_INSECURE;
  if (failures & (kPurpose | kSignature | kConstraints | kOther | kUnparsable | kRule | kBudget))
    flags |= G_TLS_CERTIFICATE_GENERIC_ERROR;
  return static_cast<GTlsCertificateFlags>(flags);
}

namespace {

// How many `issuer` links of a presented chain we look at.
constexpr unsigned kMaxPresented = 64;

std::string format_time(time_t t)
{
  struct tm tm_utc {};
  char text[64];
  if (!gmtime_r(&t, &tm_utc) || strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", &tm_utc) == 0)
    return "?";
  return text;
}

// ---------------------------------------------------------------------------
// Identity (RFC 9525)

struct ReferenceIdentity {
  std::string name;        // A-label form, lower case, no trailing dot; empty for an address
  Ref<GInetAddress> ip;    // set when the identity is an IP address
  std::string display;     // as the application gave it, for messages
};

std::string ascii_lower(std::string_view s)
{
  std::string out(s);
  for (char &c : out)
    c = g_ascii_tolower(c);
  return out;
}

bool reference_identity_of(GSocketConnectable *identity, ReferenceIdentity *out)
{
  const char *host = nullptr;
  if (G_IS_PROXY_ADDRESS(identity)) {
    host = g_proxy_address_get_destination_hostname(G_PROXY_ADDRESS(identity));
  } else if (G_IS_INET_SOCKET_ADDRESS(identity)) {
    GInetAddress *address = g_inet_socket_address_get_address(G_INET_SOCKET_ADDRESS(identity));
    out->ip = Ref<GInetAddress>::retain(address);
    CharPtr text(g_inet_address_to_string(address));
    out->display = text.get();
    return true;
  } else if (G_IS_NETWORK_ADDRESS(identity)) {
    host = g_network_address_get_hostname(G_NETWORK_ADDRESS(identity));
  } else if (G_IS_NETWORK_SERVICE(identity)) {
    host = g_network_service_get_domain(G_NETWORK_SERVICE(identity));
  }
  if (!host || !*host)
    return false;

  out->display = host;
  std::string h = host;
  if (h.size() > 2 && h.front() == '[' && h.back() == ']')
    h = h.substr(1, h.size() - 2);
  if (!h.empty() && h.back() == '.')  // an absolute name: "192.0.2.1." is still an address
    h.pop_back();
  if (g_hostname_is_ip_address(h.c_str())) {
    out->ip = Ref<GInetAddress>::adopt(g_inet_address_new_from_string(h.c_str()));
    return static_cast<bool>(out->ip);
  }
  CharPtr ascii(g_hostname_to_ascii(h.c_str()));
  if (!ascii)
    return false;
  out->name = ascii_lower(ascii.get());
  return !out->name.empty();
}

// Matches a presented DNS name against the reference name. A wildcard is
// accepted only as the entire left-most label, standing for exactly one
// non-empty label, and only above at least two more labels ("*.example.com",
// not "*.com" nor "f*.example.com").
bool dns_name_matches(std::string_view presented, const std::string &reference)
{
  if (presented.empty() || presented.find('\0') != std::string_view::npos)
    return false;
  std::string pattern = ascii_lower(presented);
  if (pattern.back() == '.')
    pattern.pop_back();
  for (unsigned char c : pattern)
    if (c >= 0x80)
      return false;

  if (pattern.size() > 2 && pattern.compare(0, 2, "*.") == 0) {
    std::string_view rest = std::string_view(pattern).substr(2);
    if (rest.find('.') == std::string_view::npos || rest.find('*') != std::string_view::npos)
      return false;
    size_t dot = reference.find('.');
    if (dot == std::string::npos || dot == 0)
      return false;
    return std::string_view(reference).substr(dot + 1) == rest;
  }
  if (pattern.find('*') != std::string::npos)
    return false;
  return pattern == reference;
}

bool ip_matches(std::string_view presented, GInetAddress *reference)
{
  size_t size = g_inet_address_get_native_size(reference);
  return presented.size() == size &&
         memcmp(presented.data(), g_inet_address_to_bytes(reference), size) == 0;
}

bool identity_matches(gnutls_x509_crt_t crt, const ReferenceIdentity &reference,
                      bool allow_common_name)
{
  SubjectAltNames sans(crt);
  bool has_identifier_san = sans.size() > 0;
  bool matched = false;
  sans.for_each([&](unsigned type, std::string_view value) {
    switch (type) {
    case GNUTLS_SAN_DNSNAME:
      has_identifier_san = true;
      if (!reference.ip && dns_name_matches(value, reference.name))
        matched = true;
      break;
    case GNUTLS_SAN_IPADDRESS:
      has_identifier_san = true;
      if (reference.ip && ip_matches(value, reference.ip.get()))
        matched = true;
      break;
    case GNUTLS_SAN_URI:
      has_identifier_san = true;
      break;
    default:
      break;
    }
  });
  if (matched || has_identifier_san || reference.ip || !allow_common_name)
    return matched;

  // No subjectAltName identifier at all: the most specific common name.
  std::vector<std::string> names = common_names(crt);
  return !names.empty() && dns_name_matches(names.front(), reference.name);
}

// ---------------------------------------------------------------------------
// The verifier

// One certificate of the presented chain.
struct Presented {
  gnutls_x509_crt_t crt = nullptr;  // borrowed from the GTlsCertificate, or owned below
  Owned<gnutls_x509_crt_t> owned;
  std::string der;                  // to spot duplicates
};

class ChainVerifier {
public:
  // Collects the presented chain, dropping duplicates.
  explicit ChainVerifier(GTlsCertificate *chain);

  // Builds and validates a path to `anchors` and checks the identity;
  // records which certificate failed which check.
  GTlsCertificateFlags verify(const TrustAnchors &anchors, const char *purpose,
                              GSocketConnectable *identity);

  // Attributes flags found earlier to the most likely certificates of the
  // chain as presented (ordered by issuer name, no anchors).
  void attribute(GTlsCertificateFlags flags);

  // One translated sentence per certificate that failed something.
  std::string describe(const char *purpose, GSocketConnectable *identity) const;

private:
  void collect(GTlsCertificate *chain);
  void order_presented();
  void attribute_times(unsigned reported, unsigned wanted);
  std::string sentence(gnutls_x509_crt_t crt, const CertFindings &findings, const char *purpose,
                       const ReferenceIdentity *identity) const;

  std::vector<Presented> presented_;
  std::vector<gnutls_x509_crt_t> path_;  // leaf first (the anchor last when verified and anchored)
  PathFindings findings_;                // parallel to path_
};

ChainVerifier::ChainVerifier(GTlsCertificate *chain)
{
  collect(chain);
}

void ChainVerifier::collect(GTlsCertificate *chain)
{
  unsigned links = 0;
  for (GTlsCertificate *cert = chain; cert && links < kMaxPresented;
       cert = g_tls_certificate_get_issuer(cert), ++links) {
    Presented p;
    p.crt = x509_of(cert, &p.owned);
    if (!p.crt) {
      if (links == 0)
        return;  // no usable leaf: nothing else matters
      continue;
    }
    p.der = der_of(p.crt);
    bool duplicate = false;
    for (const Presented &q : presented_)
      duplicate = duplicate || q.der == p.der;
    if (!duplicate)
      presented_.push_back(std::move(p));
  }
}

GTlsCertificateFlags ChainVerifier::verify(const TrustAnchors &anchors, const char *purpose,
                                           GSocketConnectable *identity)
{
  if (presented_.empty())
    return flags_of(kUnparsable);
  std::vector<gnutls_x509_crt_t> certs;
  std::vector<std::string> ders;
  for (const Presented &p : presented_) {
    certs.push_back(p.crt);
    ders.push_back(p.der);
  }
  time_t now = time(nullptr);
  ValidationInput input{purpose, now, &anchors};
  PathBuilder builder(certs, ders, &anchors, now);
  PathBuilder::Result result = builder.build([&input, &anchors](const CandidatePath &path) {
    PathFindings findings = validate_path(path, input);
    if (path.anchored && anchors.profile() == TrustProfile::kWebPki)
      check_web_pki(path, input.purpose, &findings);
    return findings;
  });
  // RFC 9525: no common-name fallback for the Web PKI.
  bool web_pki = result.path.anchored && anchors.profile() == TrustProfile::kWebPki;
  path_ = std::move(result.path.certs);
  findings_ = std::move(result.findings);
  if (path_.empty()) {
    path_.push_back(certs[0]);
    findings_.certs.resize(1);
  }
  if (result.gave_up)
    findings_.add(0, kBudget);

  if (identity) {
    ReferenceIdentity reference;
    if (!reference_identity_of(identity, &reference) ||
        !identity_matches(path_[0], reference, !web_pki))
      findings_.add(0, kIdentity);
  }
  return flags_of(findings_.all());
}

// Orders the presented chain from the leaf: each step takes the first unused
// certificate that issued the top (by name and key identifier). Each is used
// once, so cycles end.
void ChainVerifier::order_presented()
{
  if (presented_.empty())
    return;
  std::vector<bool> used(presented_.size(), false);
  path_.push_back(presented_[0].crt);
  used[0] = true;
  while (!is_self_issued(path_.back()) && path_.size() < PathBuilder::kMaxDepth) {
    size_t next = presented_.size();
    for (size_t i = 0; i < presented_.size() && next == presented_.size(); ++i)
      if (!used[i] && gnutls_x509_crt_check_issuer(path_.back(), presented_[i].crt))
        next = i;
    if (next == presented_.size())
      break;
    used[next] = true;
    path_.push_back(presented_[next].crt);
  }
}

// Time flags go to the certificates whose times are out of range; those
// `reported` but found nowhere go to the leaf as "it or one of its issuers".
void ChainVerifier::attribute_times(unsigned reported, unsigned wanted)
{
  time_t now = time(nullptr);
  unsigned found = 0;
  for (size_t i = 0; i < path_.size(); ++i) {
    unsigned t = time_failures(path_[i], now) & wanted;
    findings_.add(i, t);
    found |= t;
  }
  unsigned missing = reported & (kNotActivated | kExpired) & ~found;
  if (missing & kNotActivated)
    findings_.add(0, kChainNotActivated);
  if (missing & kExpired)
    findings_.add(0, kChainExpired);
}

void ChainVerifier::attribute(GTlsCertificateFlags flags)
{
  order_presented();
  findings_.certs.resize(path_.size());
  if (path_.empty())
    return;
  if (flags & G_TLS_CERTIFICATE_UNKNOWN_CA)
    findings_.add(path_.size() - 1, is_self_issued(path_.back()) ? kSelfSignedUntrusted : kUntrustedIssuer);
  if (flags & G_TLS_CERTIFICATE_BAD_IDENTITY)
    findings_.add(0, kIdentity);
  unsigned times = 0;
  if (flags & G_TLS_CERTIFICATE_NOT_ACTIVATED)
    times |= kNotActivated;
  if (flags & G_TLS_CERTIFICATE_EXPIRED)
    times |= kExpired;
  attribute_times(times, times);
  if (flags & G_TLS_CERTIFICATE_REVOKED)
    findings_.add(0, kChainRevoked);
  if (flags & G_TLS_CERTIFICATE_INSECURE)
    findings_.add(0, kChainInsecure);
  if (flags & G_TLS_CERTIFICATE_GENERIC_ERROR)
    findings_.add(0, kOther);
}

std::string ChainVerifier::sentence(gnutls_x509_crt_t crt, const CertFindings &findings,
                                    const char *purpose, const ReferenceIdentity *identity) const
{
  const unsigned failures = findings.failures;
  std::vector<std::string> reasons;
  auto add = [&reasons](const char *text) { reasons.emplace_back(text); };
  auto add_owned = [&reasons](char *text) {
    CharPtr owned(text);
    reasons.emplace_back(owned.get());
  };

  if (failures & kUntrustedIssuer)
    add(_("its issuer is not a trusted certificate authority"));
  if (failures & kSelfSignedUntrusted)
    add(_("it is self-signed and not trusted"));
  if (failures & kPathTooLong)
    add_owned(g_strdup_printf(_("no trusted certificate authority was found within %u certificates"),
                              PathBuilder::kMaxDepth));
  if (failures & kIssuerNotCa)
    add(_("its issuer is not allowed to issue certificates"));
  if (failures & kIdentity) {
    if (identity)
      add_owned(g_strdup_printf(_("it is not valid for “%s”"), identity->display.c_str()));
    else
      add(_("it does not match the expected identity"));
  }
  if (failures & kNotActivated)
    add_owned(g_strdup_printf(_("it is not valid before %s"),
                              format_time(gnutls_x509_crt_get_activation_time(crt)).c_str()));
  if (failures & kExpired)
    add_owned(g_strdup_printf(_("it expired on %s"),
                              format_time(gnutls_x509_crt_get_expiration_time(crt)).c_str()));
  if (failures & kChainNotActivated)
    add(_("it or one of its issuers is not valid yet"));
  if (failures & kChainExpired)
    add(_("it or one of its issuers has expired"));
  if (failures & kRevoked)
    add(_("it has been revoked"));
  if (failures & kChainRevoked)
    add(_("it or one of its issuers has been revoked"));
  if (failures & kInsecure)
    add(_("it is signed with an insecure algorithm"));
  if (failures & kChainInsecure)
    add(_("it or one of its issuers uses an insecure algorithm"));
  if (failures & kPurpose) {
    if (purpose && strcmp(purpose, G_TLS_DATABASE_PURPOSE_AUTHENTICATE_SERVER) == 0)
      add(_("it may not be used to authenticate a server"));
    else if (purpose && strcmp(purpose, G_TLS_DATABASE_PURPOSE_AUTHENTICATE_CLIENT) == 0)
      add(_("it may not be used to authenticate a client"));
    else
      add_owned(g_strdup_printf(_("it may not be used for the purpose %s"), purpose ? purpose : "?"));
  }
  if (failures & kSignature)
    add(_("its signature is invalid"));
  if (failures & kConstraints)
    add(_("it breaks the constraints its issuer sets"));
  for (const std::string &reason : findings.reasons)
    reasons.push_back(reason);
  if (failures & kBudget)
    add(_("no valid path to a trusted certificate authority was found within the limits of path building"));
  if (failures & kOther)
    add(_("it failed verification for another reason"));

  std::string joined;
  for (const std::string &r : reasons) {
    if (!joined.empty())
      joined += "; ";
    joined += r;
  }
  // TRANSLATORS: the first %s is a certificate subject (such as
  // "CN=example.com,O=Example"), the second a list of reasons separated by
  // semicolons.
  CharPtr text(g_strdup_printf(_("Certificate “%s”: %s."), subject_of(crt).c_str(), joined.c_str()));
  return text.get();
}

std::string ChainVerifier::describe(const char *purpose, GSocketConnectable *identity) const
{
  if (path_.empty())
    return _("The certificate could not be parsed.");
  ReferenceIdentity reference;
  bool have_reference = identity && reference_identity_of(identity, &reference);
  std::string text;
  for (size_t i = 0; i < path_.size(); ++i) {
    if (!findings_.certs[i].failures)
      continue;
    if (!text.empty())
      text += ' ';
    text += sentence(path_[i], findings_.certs[i], purpose, have_reference ? &reference : nullptr);
  }
  return text;
}

}  // namespace

// ---------------------------------------------------------------------------

std::string der_of(gnutls_x509_crt_t crt)
{
  GnutlsBuffer der;
  if (gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, der.out()) < 0)
    return std::string();
  return std::string(reinterpret_cast<const char *>(der.datum.data), der.datum.size);
}

gnutls_x509_crt_t x509_of(GTlsCertificate *cert, Owned<gnutls_x509_crt_t> *out_owned)
{
  if (!cert)
    return nullptr;
  if (G_TYPE_CHECK_INSTANCE_TYPE(cert, GTG_TYPE_CERTIFICATE))
    return certificate_get_x509(cert);

  GByteArray *der_raw = nullptr;
  g_object_get(cert, "certificate", &der_raw, nullptr);
  Owned<GByteArray *> der(der_raw);
  if (!der || der->len == 0)
    return nullptr;
  gnutls_x509_crt_t crt = nullptr;
  if (gnutls_x509_crt_init(&crt) < 0)
    return nullptr;
  Owned<gnutls_x509_crt_t> owned(crt);
  gnutls_datum_t datum{der->data, der->len};
  if (gnutls_x509_crt_import(crt, &datum, GNUTLS_X509_FMT_DER) < 0)
    return nullptr;
  *out_owned = std::move(owned);
  return crt;
}

GTlsCertificateFlags verify_chain(const TrustAnchors &anchors, GTlsCertificate *chain,
                                  const char *purpose, GSocketConnectable *identity,
                                  char **out_detail)
{
  if (out_detail)
    *out_detail = nullptr;
  ChainVerifier verifier(chain);
  GTlsCertificateFlags flags = verifier.verify(anchors, purpose, identity);
  if (flags != 0) {
    std::string detail = verifier.describe(purpose, identity);
    g_debug("Certificate chain rejected (flags 0x%x): %s", static_cast<unsigned>(flags),
            detail.c_str());
    if (out_detail)
      *out_detail = g_strdup(detail.c_str());
  }
  return flags;
}

char *describe_chain_failures(GTlsCertificate *chain, GTlsCertificateFlags flags,
                              GSocketConnectable *identity)
{
  ChainVerifier verifier(chain);
  verifier.attribute(flags);
  return g_strdup(verifier.describe(nullptr, identity).c_str());
}

GTlsCertificateFlags verify_identity(gnutls_x509_crt_t cert, GSocketConnectable *identity,
                                     bool allow_common_name)
{
  ReferenceIdentity reference;
  if (!cert || !identity || !reference_identity_of(identity, &reference) ||
      !identity_matches(cert, reference, allow_common_name))
    return G_TLS_CERTIFICATE_BAD_IDENTITY;
  return GTlsCertificateFlags(0);
}

}  // namespace gtg
