// TrustAnchors: what a chain is verified against.
//
// The trust anchors of a database (borrowed: the database owns them), an
// index of them by subject name and by DER encoding for the path builder, the
// revocation lists that apply, and which validation profile the anchors call
// for (the CA/Browser Forum profile for the system store, RFC 5280 alone for
// anchors an application loaded). A database builds one once, before it is
// shared; GtgCertificate::verify builds a short-lived one around the CA it is
// given. Immutable after construction, so any thread may read it.
#pragma once

#include <gnutls/x509.h>

#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace gtg {

// Which rules apply on top of RFC 5280 path validation.
enum class TrustProfile {
  kPrivate,  // anchors an application or administrator chose: RFC 5280 alone
  kWebPki,   // the system trust store: also the CA/Browser Forum Baseline Requirements
};

class TrustAnchors {
public:
  // `anchors` and `crls` stay owned by the caller and must outlive this.
  TrustAnchors(std::vector<gnutls_x509_crt_t> anchors, std::vector<gnutls_x509_crl_t> crls,
               TrustProfile profile);
  TrustAnchors(const TrustAnchors &) = delete;
  TrustAnchors &operator=(const TrustAnchors &) = delete;

  // Every anchor that may have issued `cert` (same name as its issuer, and a
  // subject key identifier equal to its authority key identifier when both
  // are present), in the order the anchors were given.
  std::vector<gnutls_x509_crt_t> issuers_of(gnutls_x509_crt_t cert) const;
  // The anchor whose DER encoding is `der`, or nullptr.
  gnutls_x509_crt_t find_der(const std::string &der) const;

  const std::vector<gnutls_x509_crt_t> &anchors() const { return anchors_; }
  const std::vector<gnutls_x509_crl_t> &crls() const { return crls_; }
  TrustProfile profile() const { return profile_; }

private:
  std::vector<gnutls_x509_crt_t> anchors_;
  std::vector<gnutls_x509_crl_t> crls_;
  TrustProfile profile_;
  std::unordered_multimap<std::string, gnutls_x509_crt_t> by_subject_;  // raw DER subject name
  std::unordered_map<std::string, gnutls_x509_crt_t> by_der_;
};

// --- Reading certificates (shared by the path builder and the checks)

// The raw DER subject (or issuer) name of `crt`; empty when it has none.
std::string raw_subject_of(gnutls_x509_crt_t crt);
std::string raw_issuer_of(gnutls_x509_crt_t crt);
// The subject as RFC 4514 text, for messages ("(certificate without subject
// name)", translated, when it is empty).
std::string subject_of(gnutls_x509_crt_t crt);
// The common names of the subject, most specific (last) first; names with an
// embedded NUL are left out.
std::vector<std::string> common_names(gnutls_x509_crt_t crt);
// Whether `crt` names itself as its issuer (RFC 5280 "self-issued").
bool is_self_issued(gnutls_x509_crt_t crt);

}  // namespace gtg
