// PeerChainCache: the GTlsCertificate chains this process built from the
// certificates peers sent, shared by the connections that receive the same
// chain.
//
// A client that talks to one server over many connections receives the same
// chain each time. Parsing it into GTlsCertificates (X.509 decoding of every
// certificate) cost more than a resumed handshake's own cryptography, and
// each idle connection kept its own parsed copy. GTlsCertificate is
// immutable, so connections share one: a lookup compares the DER bytes of
// the whole chain, and a bounded number of recently used chains is kept.
// Threads: any (a mutex guards the cache).
#pragma once

#include <gio/gio.h>
#include <gnutls/gnutls.h>

namespace gtg {

// The chain for the `n` DER certificates `certs` (leaf first), from the
// cache or newly parsed (transfer full); nullptr when the first certificate
// does not parse.
GTlsCertificate *peer_chain_get(const gnutls_datum_t *certs, unsigned n);

}  // namespace gtg
