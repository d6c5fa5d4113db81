// Name constraints (RFC 5280 §4.2.1.10 and §6.1.3 (b)-(c), §6.1.4 (g)) and
// the well-formedness of subjectAltName entries.
//
// Called by the path validator for each candidate path, on the verifying
// thread; pure computation. GnuTLS parses the NameConstraints and
// subjectAltName extensions; the matching is done here, because GnuTLS
// compares a wildcard DNS name as if it were a literal name (so
// "*.example.com" would pass an exclusion of "bar.example.com") and applies
// constraints to the leaf only.
//
// The rules: the permitted and excluded subtrees of every CA certificate on
// the path (the trust anchor included) apply to every certificate below it,
// except self-issued intermediates: to its subject name (directoryName and
// emailAddress attributes), to each subjectAltName of type dNSName,
// iPAddress, rfc822Name and directoryName, and, for a leaf without any
// subjectAltName, to its common names that look like host names (they may be
// matched as a host name). A wildcard DNS name is excluded when any name it
// could match is excluded, and permitted only when every name it could match
// is. A NameConstraints extension that GnuTLS cannot parse, that holds a form
// other than those four, that is not critical or that sits in a certificate
// that is no CA fails the path. Checking stops, failing the path, after
// kMaxNameChecks comparisons (constraints × names).
#pragma once

#include "path_findings.h"

#include <gnutls/x509.h>

#include <string>
#include <string_view>
#include <vector>

namespace gtg {

// The most constraint-against-name comparisons one path may need.
constexpr unsigned kMaxNameChecks = 1u << 16;

// Applies the name constraints of certs[1..] to the certificates below each
// (certs is leaf first). Failures are attributed to the constraining CA, with
// a reason naming the name and the certificate that carries it.
void check_name_constraints(const std::vector<gnutls_x509_crt_t> &certs, PathFindings *findings);

// Rejects malformed subjectAltName entries of certs[i] (a DNS name that is
// empty, starts with a dot, has an empty label or bytes outside printable
// ASCII; an IP address that is not 4 or 16 bytes long, such as a range).
void check_subject_alt_names(const std::vector<gnutls_x509_crt_t> &certs, size_t i,
                             PathFindings *findings);

// The text form of an iPAddress subjectAltName ("?" when it is not 4 or 16
// bytes long).
std::string ip_address_text(std::string_view bytes);

}  // namespace gtg
