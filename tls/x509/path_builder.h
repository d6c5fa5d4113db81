// PathBuilder: finds a certification path from a leaf to a trust anchor
// (RFC 4158), backtracking over every candidate issuer.
//
// Called by the chain verifier, once per verification, on the verifying
// thread; pure computation. The candidates for the issuer of a certificate
// are every trust anchor and every certificate the peer sent (in any order)
// whose subject is its issuer name and whose subject key identifier matches
// its authority key identifier when both are present: anchors first, in
// their order, then the peer's certificates that are valid now, then the
// rest, each in the order sent. A certificate appears at most once in a path.
// Each link's signature is checked by GnuTLS once, however many paths share
// it. Every path that ends at an anchor, or that cannot be extended, is
// handed to the evaluator (the path validator); the search stops at the
// first path the evaluator accepts, else the best failure is kept: a path
// that reaches an anchor beats one that does not, then fewer kinds of
// failure (GIO flags), then the first found.
//
// Bounded: a path holds at most kMaxDepth certificates, at most
// kMaxSignatureChecks signatures are verified and at most kMaxPaths paths
// evaluated, so a peer sending many certificates with the same subject and
// different keys is decided in a few milliseconds. When a bound stops the
// search without an accepted path, the result says so.
#pragma once

#include "path_findings.h"
#include "path_validator.h"
#include "trust_anchors.h"

#include <gnutls/x509.h>

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace gtg {

class PathBuilder {
public:
  static constexpr unsigned kMaxDepth = 16;
  static constexpr unsigned kMaxSignatureChecks = 48;
  static constexpr unsigned kMaxPaths = 64;

  using Evaluator = std::function<PathFindings(const CandidatePath &)>;

  struct Result {
    CandidatePath path;     // the accepted path, or the best failing one
    PathFindings findings;  // its findings
    bool gave_up = false;   // a bound stopped the search before any path was accepted
  };

  // `presented` is the peer's chain, leaf first, without duplicates; `ders`
  // their DER encodings. `anchors` may be nullptr (no anchor at all).
  PathBuilder(const std::vector<gnutls_x509_crt_t> &presented, const std::vector<std::string> &ders,
              const TrustAnchors *anchors, time_t now);

  Result build(const Evaluator &evaluate);

private:
  struct Candidate {
    gnutls_x509_crt_t crt;
    bool is_anchor;
    int presented_index;  // -1 for anchors
  };

  std::vector<Candidate> candidates_for(gnutls_x509_crt_t crt) const;
  bool signature_ok(gnutls_x509_crt_t child, gnutls_x509_crt_t issuer);
  // Depth-first search from the top of `path`; true when a path was accepted.
  bool extend(CandidatePath *path, std::vector<bool> *used);
  // Hands `path` to the evaluator and keeps the best; true when accepted.
  bool offer(const CandidatePath &path);
  bool out_of_budget() const;

  const std::vector<gnutls_x509_crt_t> &presented_;
  const std::vector<std::string> &ders_;
  const TrustAnchors *anchors_;
  time_t now_;
  const Evaluator *evaluate_ = nullptr;
  std::map<std::pair<gnutls_x509_crt_t, gnutls_x509_crt_t>, bool> signatures_;
  unsigned signature_checks_ = 0;
  unsigned paths_ = 0;
  bool have_best_ = false;
  Result best_;
};

}  // namespace gtg
