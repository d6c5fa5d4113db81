// PathValidator: RFC 5280 §6.1 validation of one candidate certification
// path, plus the security rules every chain gets.
//
// The path builder hands it each candidate path it finds (leaf first, the
// trust anchor last when the path reaches one, the signature of every link
// already checked by GnuTLS); it returns what failed for which certificate.
// Pure computation on the verifying thread. GnuTLS parses every extension;
// the rules are decided here:
//
// - validity times of every certificate, the anchor included;
// - each issuer is a CA (basicConstraints cA, or a version 1 anchor) whose
//   keyUsage, if present, allows keyCertSign, and the link's signature holds
//   and uses an algorithm GnuTLS deems secure for certificates;
// - pathLenConstraint, not counting self-issued intermediates (§6.1.4 (l));
// - name constraints (name_constraints.h) and well-formed subjectAltNames;
// - revocation by the database's CRLs;
// - extensions: keyCertSign without cA fails, a critical authority key
//   identifier or authority information access fails, a non-critical policy
//   constraints fails, an empty subject needs a critical subjectAltName (and
//   no CA may have one), an extended key usage without purposes fails, an
//   unknown critical extension fails, and a certificate has every TLS feature
//   (RFC 7633, "must staple") its issuer has;
// - extended key usage: every certificate that has one must allow the purpose
//   (or anyExtendedKeyUsage);
// - key strength (NIST SP 800-131A): RSA under 2048 bits or not a whole number
//   of bytes, DSA, and elliptic curves under 224 bits are INSECURE in every
//   position, the anchor included.
//
// Certificate policies (§6.1.3 (d)-(f), §6.1.4 (a)-(b), (h)-(j)) are not
// processed beyond the criticality of policyConstraints: no policy is ever
// required.
#pragma once

#include "path_findings.h"
#include "trust_anchors.h"

#include <gnutls/x509.h>

#include <ctime>
#include <vector>

namespace gtg {

// One candidate path, as the path builder found it.
struct CandidatePath {
  std::vector<gnutls_x509_crt_t> certs;  // leaf first; the anchor last when `anchored`
  std::vector<bool> signature_ok;        // [i]: certs[i]'s signature verifies with certs[i + 1]'s key
  bool anchored = false;
  bool truncated = false;  // building stopped at the maximum depth
};

struct ValidationInput {
  const char *purpose;  // extended key usage OID, or nullptr for none
  time_t now;
  const TrustAnchors *anchors;
};

// Validates `path`; the findings are parallel to path.certs.
PathFindings validate_path(const CandidatePath &path, const ValidationInput &input);

// The time failures (kNotActivated, kExpired) of `crt` at `now`.
unsigned time_failures(gnutls_x509_crt_t crt, time_t now);

// RFC 5280 §4.2.1.12: whether `crt` allows `purpose` (no extended key usage
// allows every purpose, as does anyExtendedKeyUsage).
bool allows_purpose(gnutls_x509_crt_t crt, const char *purpose);

}  // namespace gtg
