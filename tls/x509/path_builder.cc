// PathBuilder: see path_builder.h.
#include "config.h"

#include "path_builder.h"

#include <bit>

namespace gtg {
namespace {

bool valid_at(gnutls_x509_crt_t crt, time_t now)
{
  time_t activation = gnutls_x509_crt_get_activation_time(crt);
  time_t expiration = gnutls_x509_crt_get_expiration_time(crt);
  return (activation == static_cast<time_t>(-1) || now >= activation) &&
         (expiration == static_cast<time_t>(-1) || now <= expiration);
}

// How a failing path ranks: lower is better.
std::pair<int, int> rank_of(const PathBuilder::Result &r)
{
  return {r.path.anchored ? 0 : 1, std::popcount(static_cast<unsigned>(flags_of(r.findings.all())))};
}

}  // namespace

PathBuilder::PathBuilder(const std::vector<gnutls_x509_crt_t> &presented,
                         const std::vector<std::string> &ders, const TrustAnchors *anchors,
                         time_t now)
    : presented_(presented), ders_(ders), anchors_(anchors), now_(now)
{
}

std::vector<PathBuilder::Candidate> PathBuilder::candidates_for(gnutls_x509_crt_t crt) const
{
  std::vector<Candidate> candidates;
  if (anchors_)
    for (gnutls_x509_crt_t anchor : anchors_->issuers_of(crt))
      candidates.push_back({anchor, true, -1});
  std::vector<Candidate> later;
  for (size_t i = 0; i < presented_.size(); ++i) {
    gnutls_x509_crt_t p = presented_[i];
    if (p == crt || !gnutls_x509_crt_check_issuer(crt, p))
      continue;
    // A presented certificate that is also an anchor is tried as the anchor.
    if (anchors_ && anchors_->find_der(ders_[i]))
      continue;
    (valid_at(p, now_) ? candidates : later).push_back({p, false, static_cast<int>(i)});
  }
  candidates.insert(candidates.end(), later.begin(), later.end());
  return candidates;
}

bool PathBuilder::signature_ok(gnutls_x509_crt_t child, gnutls_x509_crt_t issuer)
{
  auto key = std::make_pair(child, issuer);
  auto it = signatures_.find(key);
  if (it != signatures_.end())
    return it->second;
  ++signature_checks_;
  // Only the signature is asked of GnuTLS here: times, CA status, key usage
  // and algorithm strength are the path validator's.
  unsigned status = 0;
  const unsigned flags = GNUTLS_VERIFY_DISABLE_CA_SIGN | GNUTLS_VERIFY_DISABLE_TIME_CHECKS |
                         GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS | GNUTLS_VERIFY_ALLOW_BROKEN |
                         GNUTLS_VERIFY_DISABLE_CRL_CHECKS;
  int ret = gnutls_x509_crt_verify(child, &issuer, 1, flags, &status);
  // GnuTLS also reports its own view of the issuer's constraints here (name
  // constraints, CA status): those are the validator's to judge, not a sign
  // that the signature failed. Anything else (a bad signature, an unknown or
  // mismatched algorithm) is.
  const unsigned judged_elsewhere = GNUTLS_CERT_INVALID | GNUTLS_CERT_SIGNER_CONSTRAINTS_FAILURE |
                                    GNUTLS_CERT_SIGNER_NOT_CA | GNUTLS_CERT_PURPOSE_MISMATCH |
                                    GNUTLS_CERT_EXPIRED | GNUTLS_CERT_NOT_ACTIVATED |
                                    GNUTLS_CERT_REVOKED | GNUTLS_CERT_UNKNOWN_CRIT_EXTENSIONS;
  // GNUTLS_CERT_INVALID alone, without a reason, is a failure too.
  unsigned reasons = status & ~GNUTLS_CERT_INVALID;
  bool ok = ret >= 0 && (status == 0 || (reasons != 0 && (reasons & ~judged_elsewhere) == 0));
  signatures_.emplace(key, ok);
  return ok;
}

bool PathBuilder::out_of_budget() const
{
  return signature_checks_ >= kMaxSignatureChecks || paths_ >= kMaxPaths;
}

bool PathBuilder::offer(const CandidatePath &path)
{
  ++paths_;
  PathFindings findings = (*evaluate_)(path);
  bool accepted = findings.all() == 0;
  Result candidate{path, std::move(findings), false};
  if (accepted || !have_best_ || rank_of(candidate) < rank_of(best_)) {
    best_ = std::move(candidate);
    have_best_ = true;
  }
  return accepted;
}

bool PathBuilder::extend(CandidatePath *path, std::vector<bool> *used)
{
  gnutls_x509_crt_t top = path->certs.back();
  if (path->certs.size() >= kMaxDepth) {
    path->truncated = true;
    bool accepted = offer(*path);
    path->truncated = false;
    return accepted;
  }
  bool extended = false;
  for (const Candidate &c : candidates_for(top)) {
    if (out_of_budget())
      return false;
    if (c.presented_index >= 0 && (*used)[c.presented_index])
      continue;
    extended = true;
    bool ok = signature_ok(top, c.crt);
    path->certs.push_back(c.crt);
    path->signature_ok.push_back(ok);
    bool accepted = false;
    if (c.is_anchor || !ok) {
      // A link whose signature fails ends the path here: it is offered only
      // so that the failure can be reported if nothing better turns up.
      path->anchored = c.is_anchor;
      accepted = offer(*path);
      path->anchored = false;
    } else {
      (*used)[c.presented_index] = true;
      accepted = extend(path, used);
      (*used)[c.presented_index] = false;
    }
    path->certs.pop_back();
    path->signature_ok.pop_back();
    if (accepted)
      return true;
  }
  // Nothing above the top: the path ends without an anchor.
  if (!extended && !out_of_budget())
    return offer(*path);
  return false;
}

PathBuilder::Result PathBuilder::build(const Evaluator &evaluate)
{
  evaluate_ = &evaluate;
  best_ = Result{};
  have_best_ = false;
  if (presented_.empty())
    return best_;

  CandidatePath path;
  path.certs.push_back(presented_[0]);
  std::vector<bool> used(presented_.size(), false);
  used[0] = true;

  // A leaf that is itself an anchor is trusted as it is.
  bool accepted = false;
  if (anchors_ && anchors_->find_der(ders_[0])) {
    path.anchored = true;
    accepted = offer(path);
    path.anchored = false;
  }
  if (!accepted)
    accepted = extend(&path, &used);
  if (!accepted && out_of_budget()) {
    best_.gave_up = true;
    if (!have_best_) {  // nothing evaluated at all: report the leaf alone
      CandidatePath leaf;
      leaf.certs.push_back(presented_[0]);
      offer(leaf);
      best_.gave_up = true;
    }
  }
  return best_;
}

}  // namespace gtg
