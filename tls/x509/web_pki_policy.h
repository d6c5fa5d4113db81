// The Web PKI profile: the CA/Browser Forum Baseline Requirements rules that
// chains anchored in the system trust store must also follow.
//
// Called by the chain verifier's evaluator for each candidate path that ends
// at an anchor of the system store (TrustProfile::kWebPki), after the path
// validator; never for anchors an application loaded (private PKIs keep
// working under RFC 5280 alone). Pure computation on the verifying thread;
// the public suffix list comes from libpsl (Debian's publicsuffix data).
//
// The rules, each failing the path with GENERIC_ERROR and a reason naming
// it: the leaf is an X.509 v3 certificate with a subjectAltName, is no CA,
// has a non-critical extended key usage with serverAuth (for the server
// purpose) and without anyExtendedKeyUsage; its subject common name, if any,
// is one of its subjectAltNames byte for byte; its subjectAltName is not
// critical when its subject is not empty; no DNS name holds an underscore or
// is a wildcard directly under a public suffix. Every certificate but the
// root has an authority key identifier equal to its issuer's subject key
// identifier, and every CA a subject key identifier; a root's authority key
// identifier, if present, names its own subject key identifier. Serial
// numbers below the root are positive and at most 20 octets. A root carries
// no extended key usage and a basicConstraints with cA. An authority
// information access extension holds at least one access description, and a
// name constraints extension is not empty.
//
// Two rules of the Baseline Requirements are relaxed because public roots
// still in Debian's bundle break them (a rule that rejects a real public root
// is wrong for the Web): a root's basicConstraints need not be critical, and
// its authority key identifier may also name an issuer and serial number.
#pragma once

#include "path_findings.h"
#include "path_validator.h"

namespace gtg {

// Adds the Baseline Requirements failures of `path` (anchored, leaf first,
// root last) for `purpose` to `findings`.
void check_web_pki(const CandidatePath &path, const char *purpose, PathFindings *findings);

}  // namespace gtg
