// A short-lived, process-wide memo of chain verification results.
//
// Clients reconnect to the same servers, and a resumed session carries the
// server's chain again: verifying it costs more than the handshake itself.
// Results are kept for kLifetime per (database, purpose, identity, exact
// chain bytes) and only for this module's databases, whose answers depend on
// nothing else (their anchors never change); a result is never older than
// kLifetime, which bounds how late an expiry or a new CRL can be noticed.
// Any thread; internally locked; bounded in size.
#pragma once

#include "owners.h"

#include <string>

namespace gtg {

// The key for verifying the peer chain `certs` (DER, leaf first), or "" when
// results for `database` must not be cached.
std::string verification_cache_key(GTlsDatabase *database, const char *purpose,
                                   GSocketConnectable *identity, const gnutls_datum_t *certs,
                                   unsigned n_certs);

// The remembered flags for `key`; false when there are none (or too old).
bool verification_cache_lookup(const std::string &key, GTlsCertificateFlags *out_flags);

// Remembers `flags` for `key`.
void verification_cache_store(const std::string &key, GTlsCertificateFlags flags);

}  // namespace gtg
