// ChainVerifier and the identity rules: see chain_verifier.h.
#include "config.h"

#include "chain_verifier.h"

#include "certificate.h"

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
namespace {

// How many `issuer` links of a presented chain we look at, and how long a
// path may grow (GnuTLS's own verification depth).
constexpr unsigned kMaxPresented = 64;
constexpr unsigned kMaxPath = 16;

// What failed for one certificate. Finer than GTlsCertificateFlags, so that
// the message can say which check it was.
enum Failure : unsigned {
  kUntrustedIssuer = 1u << 0,      // no trust anchor issued the top of the path
  kSelfSignedUntrusted = 1u << 1,  // the top of the path is self-issued, not an anchor
  kPathTooLong = 1u << 2,          // the path reached kMaxPath without an anchor
  kIssuerNotCa = 1u << 3,
  kIdentity = 1u << 4,
  kNotActivated = 1u << 5,
  kExpired = 1u << 6,
  kRevoked = 1u << 7,
  kInsecure = 1u << 8,
  kPurpose = 1u << 9,
  kSignature = 1u << 10,
  kConstraints = 1u << 11,
  kOther = 1u << 12,
  kUnparsable = 1u << 13,
  // Used when describing bare GTlsCertificateFlags, where the certificate at
  // fault is not known: the failure is somewhere at or above this one.
  kChainNotActivated = 1u << 14,
  kChainExpired = 1u << 15,
  kChainRevoked = 1u << 16,
  kChainInsecure = 1u << 17,
};

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
  if (failures & (kInsecure | kChainInsecure))
    flags |= G_TLS_CERTIFICATE_INSECURE;
  if (failures & (kPurpose | kSignature | kConstraints | kOther | kUnparsable))
    flags |= G_TLS_CERTIFICATE_GENERIC_ERROR;
  return static_cast<GTlsCertificateFlags>(flags);
}

// The failures a GnuTLS verification status reports.
unsigned failures_of_status(unsigned status)
{
  struct Mapping {
    unsigned status_bit;
    Failure failure;
  };
  static constexpr Mapping kMappings[] = {
      {GNUTLS_CERT_SIGNER_NOT_FOUND, kUntrustedIssuer},
      {GNUTLS_CERT_SIGNER_NOT_CA, kIssuerNotCa},
      {GNUTLS_CERT_NOT_ACTIVATED, kNotActivated},
      {GNUTLS_CERT_EXPIRED, kExpired},
      {GNUTLS_CERT_REVOKED, kRevoked},
      {GNUTLS_CERT_INSECURE_ALGORITHM, kInsecure},
      {GNUTLS_CERT_PURPOSE_MISMATCH, kPurpose},
      {GNUTLS_CERT_SIGNATURE_FAILURE, kSignature},
      {GNUTLS_CERT_SIGNER_CONSTRAINTS_FAILURE, kConstraints},
  };
  unsigned failures = 0;
  unsigned known = GNUTLS_CERT_INVALID;
  for (const Mapping &m : kMappings) {
    known |= m.status_bit;
    if (status & m.status_bit)
      failures |= m.failure;
  }
  if ((status & ~known) != 0 || ((status & GNUTLS_CERT_INVALID) && failures == 0))
    failures |= kOther;
  // GnuTLS reports an issuer that is no CA as a constraint failure too.
  if (failures & kIssuerNotCa)
    failures &= ~kConstraints;
  return failures;
}

// ---------------------------------------------------------------------------
// Reading certificates

std::string subject_of(gnutls_x509_crt_t crt)
{
  GnutlsBuffer dn;
  if (gnutls_x509_crt_get_dn3(crt, dn.out(), 0) < 0 || dn.datum.size == 0)
    return _("(certificate without subject name)");
  return std::string(reinterpret_cast<const char *>(dn.datum.data), dn.datum.size);
}

std::string format_time(time_t t)
{
  struct tm tm_utc {};
  char text[64];
  if (!gmtime_r(&t, &tm_utc) || strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", &tm_utc) == 0)
    return "?";
  return text;
}

bool is_self_issued(gnutls_x509_crt_t crt)
{
  return gnutls_x509_crt_check_issuer(crt, crt) != 0;
}

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

// RFC 5280 §4.2.1.12: no extended key usage allows every purpose, as does
// anyExtendedKeyUsage.
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

// Owner of a parsed subjectAltName extension (used only here).
class SubjectAltNames {
public:
  explicit SubjectAltNames(gnutls_x509_crt_t crt)
  {
    GnutlsBuffer ext;
    if (gnutls_x509_crt_get_extension_by_oid2(crt, GNUTLS_X509EXT_OID_SAN, 0, ext.out(), nullptr) < 0)
      return;
    if (gnutls_subject_alt_names_init(&names_) < 0) {
      names_ = nullptr;
      return;
    }
    if (gnutls_x509_ext_import_subject_alt_names(&ext.datum, names_, 0) < 0) {
      gnutls_subject_alt_names_deinit(names_);
      names_ = nullptr;
    }
  }
  SubjectAltNames(const SubjectAltNames &) = delete;
  SubjectAltNames &operator=(const SubjectAltNames &) = delete;
  ~SubjectAltNames()
  {
    if (names_)
      gnutls_subject_alt_names_deinit(names_);
  }

  // Calls fn(type, value) for each name, in order.
  template <typename Fn> void for_each(Fn &&fn) const
  {
    if (!names_)
      return;
    for (unsigned i = 0;; ++i) {
      unsigned type = 0;
      gnutls_datum_t value{};
      if (gnutls_subject_alt_names_get(names_, i, &type, &value, nullptr) < 0)
        break;
      fn(type, std::string_view(reinterpret_cast<const char *>(value.data), value.size));
    }
  }

private:
  gnutls_subject_alt_names_t names_ = nullptr;
};

// The common names of the subject, most specific (last) first.
std::vector<std::string> common_names(gnutls_x509_crt_t crt)
{
  std::vector<std::string> names;
  for (unsigned i = 0; i < 64; ++i) {
    size_t size = 0;
    int ret = gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, i, 0, nullptr, &size);
    if (ret != GNUTLS_E_SHORT_MEMORY_BUFFER)
      break;
    std::string name(size + 1, '\0');
    if (gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, i, 0, name.data(), &size) < 0)
      break;
    name.resize(size);
    if (name.find('\0') == std::string::npos)  // a name with an embedded NUL never matches
      names.insert(names.begin(), std::move(name));
  }
  return names;
}

// ---------------------------------------------------------------------------
// Identity (RFC 6125)

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

bool identity_matches(gnutls_x509_crt_t crt, const ReferenceIdentity &reference)
{
  SubjectAltNames sans(crt);
  bool has_identifier_san = false;
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
  if (matched || has_identifier_san || reference.ip)
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
  // Collects the presented chain (dropping duplicates) and orders the path.
  // `anchors` may be nullptr when only describing flags found earlier.
  ChainVerifier(GTlsCertificate *chain, gnutls_x509_trust_list_t anchors);

  // Runs every check against the anchors (which must then be non-null) and
  // records which certificate failed which.
  GTlsCertificateFlags verify(const char *purpose, GSocketConnectable *identity);

  // Attributes flags found earlier to the most likely certificates.
  void attribute(GTlsCertificateFlags flags);

  // One translated sentence per certificate that failed something.
  std::string describe(const char *purpose, GSocketConnectable *identity) const;

private:
  void collect(GTlsCertificate *chain);
  void build_path();
  unsigned gnutls_status(size_t first) const;
  void attribute_untrusted_top();
  void attribute_times(unsigned reported, unsigned wanted);
  void check_purpose(const char *purpose);
  void attribute_by_subchains(unsigned reported);
  unsigned all_failures() const;
  std::string sentence(gnutls_x509_crt_t crt, unsigned failures, const char *purpose,
                       const ReferenceIdentity *identity) const;

  gnutls_x509_trust_list_t anchors_;
  std::vector<Presented> presented_;
  std::vector<gnutls_x509_crt_t> path_;  // leaf first; points into presented_
  std::vector<unsigned> failures_;       // per path_ entry
  gnutls_x509_crt_t anchor_ = nullptr;   // the anchor above path_, owned by anchors_
  unsigned anchor_failures_ = 0;
  bool path_truncated_ = false;
};

ChainVerifier::ChainVerifier(GTlsCertificate *chain, gnutls_x509_trust_list_t anchors)
    : anchors_(anchors)
{
  collect(chain);
  build_path();
  failures_.assign(path_.size(), 0);
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

// Orders the path from the leaf: each step takes the first unused presented
// certificate that issued the top (by name and key identifier). Each
// certificate is used once, so cycles end; so does the path at an anchor's
// child, at a self-issued certificate or at kMaxPath.
void ChainVerifier::build_path()
{
  if (presented_.empty())
    return;
  std::vector<bool> used(presented_.size(), false);
  path_.push_back(presented_[0].crt);
  used[0] = true;
  while (true) {
    gnutls_x509_crt_t top = path_.back();
    gnutls_x509_crt_t issuer = nullptr;
    if (anchors_ && gnutls_x509_trust_list_get_issuer(anchors_, top, &issuer, 0) == 0) {
      anchor_ = issuer;
      return;
    }
    if (is_self_issued(top))
      return;
    if (path_.size() == kMaxPath) {
      path_truncated_ = true;
      return;
    }
    size_t next = presented_.size();
    for (size_t i = 0; i < presented_.size() && next == presented_.size(); ++i)
      if (!used[i] && gnutls_x509_crt_check_issuer(top, presented_[i].crt))
        next = i;
    if (next == presented_.size())
      return;
    used[next] = true;
    path_.push_back(presented_[next].crt);
  }
}

// GnuTLS's verdict on path_[first..].
unsigned ChainVerifier::gnutls_status(size_t first) const
{
  unsigned status = 0;
  int ret = gnutls_x509_trust_list_verify_crt2(
      anchors_, const_cast<gnutls_x509_crt_t *>(path_.data() + first),
      static_cast<unsigned>(path_.size() - first), nullptr, 0, 0, &status, nullptr);
  if (ret < 0)
    return GNUTLS_CERT_INVALID;
  return status;
}

GTlsCertificateFlags ChainVerifier::verify(const char *purpose, GSocketConnectable *identity)
{
  if (path_.empty())
    return flags_of(kUnparsable);
  unsigned reported = failures_of_status(gnutls_status(0));
  if (reported & kUntrustedIssuer)
    attribute_untrusted_top();
  attribute_times(reported, kNotActivated | kExpired);
  check_purpose(purpose);
  attribute_by_subchains(reported & (kIssuerNotCa | kRevoked | kInsecure | kSignature |
                                     kConstraints | kOther));
  if (identity && verify_identity(path_[0], identity))
    failures_[0] |= kIdentity;
  return flags_of(all_failures());
}

void ChainVerifier::attribute_untrusted_top()
{
  unsigned failure = kUntrustedIssuer;
  if (path_truncated_)
    failure = kPathTooLong;
  else if (is_self_issued(path_.back()))
    failure = kSelfSignedUntrusted;
  failures_.back() |= failure;
}

// Validity times of every certificate of the path are checked here too, so
// that an expired certificate is reported even when GnuTLS stopped early
// (GIO reports every flag that applies). Only the time failures in `wanted`
// are recorded; those `reported` but found nowhere go to the anchor if they
// are its, else to the leaf as "it or one of its issuers".
void ChainVerifier::attribute_times(unsigned reported, unsigned wanted)
{
  time_t now = time(nullptr);
  unsigned found = 0;
  for (size_t i = 0; i < path_.size(); ++i) {
    unsigned t = time_failures(path_[i], now) & wanted;
    failures_[i] |= t;
    found |= t;
  }
  unsigned missing = reported & (kNotActivated | kExpired) & ~found;
  if (missing && anchor_) {
    anchor_failures_ |= time_failures(anchor_, now) & missing;
    missing &= ~anchor_failures_;
  }
  if (missing & kNotActivated)
    failures_[0] |= kChainNotActivated;
  if (missing & kExpired)
    failures_[0] |= kChainExpired;
}

// The extended key usage is checked here rather than by GnuTLS, which stops
// at a purpose mismatch and would then hide every other failure. Like GnuTLS,
// every certificate of the path and the anchor must allow the purpose.
void ChainVerifier::check_purpose(const char *purpose)
{
  if (!purpose)
    return;
  for (size_t i = 0; i < path_.size(); ++i)
    if (!allows_purpose(path_[i], purpose))
      failures_[i] |= kPurpose;
  if (anchor_ && !allows_purpose(anchor_, purpose))
    anchor_failures_ |= kPurpose;
}

// Finds which certificate caused each of `reported` by verifying ever longer
// tails of the path: a failure first seen when path_[i] joins is path_[i]'s.
// Runs only when something failed, at most kMaxPath verifications.
void ChainVerifier::attribute_by_subchains(unsigned reported)
{
  if (!reported)
    return;
  unsigned above = 0;
  for (size_t i = path_.size(); i-- > 0;) {
    unsigned here = failures_of_status(gnutls_status(i)) & reported;
    failures_[i] |= here & ~above;
    above |= here;
  }
  failures_[0] |= reported & ~above;
}

void ChainVerifier::attribute(GTlsCertificateFlags flags)
{
  if (path_.empty())
    return;
  if (flags & G_TLS_CERTIFICATE_UNKNOWN_CA)
    attribute_untrusted_top();
  if (flags & G_TLS_CERTIFICATE_BAD_IDENTITY)
    failures_[0] |= kIdentity;
  unsigned times = 0;
  if (flags & G_TLS_CERTIFICATE_NOT_ACTIVATED)
    times |= kNotActivated;
  if (flags & G_TLS_CERTIFICATE_EXPIRED)
    times |= kExpired;
  attribute_times(times, times);
  if (flags & G_TLS_CERTIFICATE_REVOKED)
    failures_[0] |= kChainRevoked;
  if (flags & G_TLS_CERTIFICATE_INSECURE)
    failures_[0] |= kChainInsecure;
  if (flags & G_TLS_CERTIFICATE_GENERIC_ERROR)
    failures_[0] |= kOther;
}

unsigned ChainVerifier::all_failures() const
{
  unsigned all = anchor_failures_;
  for (unsigned f : failures_)
    all |= f;
  if (path_.empty())
    all |= kUnparsable;
  return all;
}

std::string ChainVerifier::sentence(gnutls_x509_crt_t crt, unsigned failures, const char *purpose,
                                    const ReferenceIdentity *identity) const
{
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
                              kMaxPath));
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
  auto append = [&](gnutls_x509_crt_t crt, unsigned failures) {
    if (!failures)
      return;
    if (!text.empty())
      text += ' ';
    text += sentence(crt, failures, purpose, have_reference ? &reference : nullptr);
  };
  for (size_t i = 0; i < path_.size(); ++i)
    append(path_[i], failures_[i]);
  if (anchor_)
    append(anchor_, anchor_failures_);
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

GTlsCertificateFlags verify_chain(gnutls_x509_trust_list_t anchors, GTlsCertificate *chain,
                                  const char *purpose, GSocketConnectable *identity,
                                  char **out_detail)
{
  if (out_detail)
    *out_detail = nullptr;
  Owned<gnutls_x509_trust_list_t> empty;
  if (!anchors) {
    gnutls_x509_trust_list_t list = nullptr;
    if (gnutls_x509_trust_list_init(&list, 0) < 0)
      return G_TLS_CERTIFICATE_GENERIC_ERROR;
    empty.reset(list);
    anchors = list;
  }
  ChainVerifier verifier(chain, anchors);
  GTlsCertificateFlags flags = verifier.verify(purpose, identity);
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
  ChainVerifier verifier(chain, nullptr);
  verifier.attribute(flags);
  return g_strdup(verifier.describe(nullptr, identity).c_str());
}

GTlsCertificateFlags verify_identity(gnutls_x509_crt_t cert, GSocketConnectable *identity)
{
  ReferenceIdentity reference;
  if (!cert || !identity || !reference_identity_of(identity, &reference) ||
      !identity_matches(cert, reference))
    return G_TLS_CERTIFICATE_BAD_IDENTITY;
  return GTlsCertificateFlags(0);
}

}  // namespace gtg
