// Chain verification: the one place that turns GnuTLS verification results
// into GTlsCertificateFlags.
//
// Called by GtgDatabase::verify_chain, by GtgCertificate::verify (with a
// one-certificate trust list) and, through the database, by connections from
// inside the handshake. Pure computation on the calling thread: no I/O, no
// waiting. Chains may arrive unordered, with duplicates, a redundant root or
// issuer cycles; verification always terminates.
#pragma once

#include "owners.h"

#include <gio/gio.h>

namespace gtg {

// Verifies `chain` (a leaf and its `issuer` links) against `anchors` for
// `purpose` (G_TLS_DATABASE_PURPOSE_AUTHENTICATE_SERVER / _CLIENT or another
// extended-key-usage OID; nullptr checks none) and `identity` (nullptr checks
// none). When out_detail is non-null and the result is not 0 it receives a
// translated sentence saying which checks failed for which certificate.
GTlsCertificateFlags verify_chain(gnutls_x509_trust_list_t anchors, GTlsCertificate *chain,
                                  const char *purpose, GSocketConnectable *identity,
                                  char **out_detail);

// Checks only the identity of `cert` (RFC 6125: DNS names and IP addresses
// from subjectAltName, common name only when there is no subjectAltName, no
// wildcard for IP addresses). Returns 0 or G_TLS_CERTIFICATE_BAD_IDENTITY.
GTlsCertificateFlags verify_identity(gnutls_x509_crt_t cert, GSocketConnectable *identity);

}  // namespace gtg
