// PathFindings: what failed for which certificate of one candidate path.
//
// Filled by the path validator, the name-constraint and Web PKI checks while
// one candidate path is examined, and read by the chain verifier to choose
// the best path, compute the GTlsCertificateFlags and word the message.
// Plain data, used on the verifying thread only.
#pragma once

#include <gio/gio.h>

#include <string>
#include <vector>

namespace gtg {

// What failed for one certificate. Finer than GTlsCertificateFlags, so that
// the message can say which check it was.
enum Failure : unsigned {
  kUntrustedIssuer = 1u << 0,      // no trust anchor issued the top of the path
  kSelfSignedUntrusted = 1u << 1,  // the top of the path is self-issued, not an anchor
  kPathTooLong = 1u << 2,          // the path reached its maximum length without an anchor
  kIssuerNotCa = 1u << 3,
  kIdentity = 1u << 4,
  kNotActivated = 1u << 5,
  kExpired = 1u << 6,
  kRevoked = 1u << 7,
  kInsecure = 1u << 8,             // signed with an insecure algorithm
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
  kWeakKey = 1u << 18,             // INSECURE; the reason text says which key
  kRule = 1u << 19,                // GENERIC_ERROR; the reason text names the rule
  kBudget = 1u << 20,              // path building gave up before finding a valid path
};

// The GIO flags that `failures` amount to.
GTlsCertificateFlags flags_of(unsigned failures);

// The findings for one certificate: failure bits, plus a translated reason
// for each kRule or kWeakKey failure (e.g. "its name constraints exclude
// “*.example.com” in the certificate of “CN=www.example.com”").
struct CertFindings {
  unsigned failures = 0;
  std::vector<std::string> reasons;
};

struct PathFindings {
  std::vector<CertFindings> certs;  // parallel to the path, leaf first

  void add(size_t i, unsigned failure) { certs[i].failures |= failure; }
  void add(size_t i, unsigned failure, std::string reason)
  {
    certs[i].failures |= failure;
    certs[i].reasons.push_back(std::move(reason));
  }
  unsigned all() const
  {
    unsigned all = 0;
    for (const CertFindings &c : certs)
      all |= c.failures;
    return all;
  }
};

}  // namespace gtg
