// Chain verification: the one place that turns GnuTLS verification results
// into GTlsCertificateFlags.
//
// Called by GtgDatabase::verify_chain, by GtgCertificate::verify (with a
// one-certificate trust list) and, through the database, by connections from
// inside the handshake. Pure computation on the calling thread: no I/O, no
// waiting. Chains may arrive unordered, with duplicates, a redundant root or
// issuer cycles; verification always terminates.
//
// How a chain is verified: the presented certificates (the leaf and its
// `issuer` links, at most 64, duplicates dropped) and the database's anchors
// go to the path builder (path_builder.h), which tries every candidate path
// and has each validated (path_validator.h: RFC 5280, name constraints, key
// strength, extended key usage; web_pki_policy.h on top for chains anchored
// in the system store). The identity (RFC 9525) is checked on the leaf. When
// no path is accepted, the best failing path is reported, each failure
// attributed to the certificate that caused it, for the message and the
// debug log.
#pragma once

#include "owners.h"
#include "trust_anchors.h"

#include <gio/gio.h>

#include <string>

namespace gtg {

// Verifies `chain` (a leaf and its `issuer` links) against `anchors` for
// `purpose` (G_TLS_DATABASE_PURPOSE_AUTHENTICATE_SERVER / _CLIENT or another
// extended-key-usage OID; nullptr checks none) and `identity` (nullptr checks
// none). Returns 0 when the chain is acceptable, else the GIO flags of every
// check that failed (an extended-key-usage mismatch is GENERIC_ERROR, GIO
// having no flag of its own for it). When out_detail is non-null and the
// result is not 0 it receives a translated sentence saying which checks
// failed for which certificate (free with g_free); the same text goes to one
// g_debug line.
GTlsCertificateFlags verify_chain(const TrustAnchors &anchors, GTlsCertificate *chain,
                                  const char *purpose, GSocketConnectable *identity,
                                  char **out_detail);

// Checks only the identity of `cert` (RFC 9525: DNS names and IP addresses
// from subjectAltName; the most specific common name only when there is no
// subjectAltName entry at all and `allow_common_name`; a wildcard only as the
// whole left-most label of a name with at least three labels, never for IP
// addresses). `identity` may be a
// GNetworkAddress, GNetworkService, GInetSocketAddress or GProxyAddress (its
// destination); anything else cannot match. Returns 0 or
// G_TLS_CERTIFICATE_BAD_IDENTITY.
GTlsCertificateFlags verify_identity(gnutls_x509_crt_t cert, GSocketConnectable *identity,
                                     bool allow_common_name);

// A translated description of `flags` found for `chain`, attributing each
// flag to the certificate of the chain it most likely concerns (an expired or
// not yet valid one for the time flags, the top of the chain for UNKNOWN_CA,
// the leaf otherwise). `identity` (nullable) is named when BAD_IDENTITY is
// set. Free with g_free.
char *describe_chain_failures(GTlsCertificate *chain, GTlsCertificateFlags flags,
                              GSocketConnectable *identity);

// The X.509 certificate behind any GTlsCertificate: borrowed from a
// GtgCertificate, otherwise parsed from its `certificate` property into
// *out_owned (which then owns it). nullptr when there is none or it does not
// parse.
gnutls_x509_crt_t x509_of(GTlsCertificate *cert, Owned<gnutls_x509_crt_t> *out_owned);

// The DER encoding of `crt` (empty if it cannot be exported). Comparing these
// is how certificates are compared here: gnutls_x509_crt_equals costs ~25 µs.
std::string der_of(gnutls_x509_crt_t crt);

}  // namespace gtg
