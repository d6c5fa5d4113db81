// GtgCertificate: this module's GTlsCertificate.
//
// Holds one parsed X.509 certificate (gnutls_x509_crt_t), an optional private
// key (in memory, or a PKCS#11 URI whose key stays on the token) and an
// optional issuer. Built from PEM, DER, PKCS#12 or PKCS#11 through the GObject
// properties GIO documents; implements GInitable so that construction errors
// reach the caller as G_TLS_ERROR_BAD_CERTIFICATE (or
// G_TLS_ERROR_BAD_CERTIFICATE_PASSWORD). Immutable once constructed, so any
// thread may use it; the credential cache below is built under a lock.
#pragma once

#include "owners.h"

#include <gio/gio.h>

G_BEGIN_DECLS
#define GTG_TYPE_CERTIFICATE (gtg_certificate_get_type())
GType gtg_certificate_get_type(void);
G_END_DECLS

namespace gtg {

// Creates a certificate from one DER blob; nullptr and an error when it does not parse.
GTlsCertificate *certificate_new_from_der(const gnutls_datum_t &der, GError **error);

// Creates the certificate chain a peer sent (leaf first), linking each
// certificate to the next as its issuer. Returns nullptr when n is 0 or the
// leaf does not parse; a later certificate that does not parse ends the chain.
GTlsCertificate *certificate_new_from_peer_chain(const gnutls_datum_t *certs, unsigned n);

// The parsed certificate of a GtgCertificate, owned by it; nullptr for a
// certificate of another implementation.
gnutls_x509_crt_t certificate_get_x509(GTlsCertificate *cert);

// What a connection sends as its own certificate: the chain (cert then its
// issuers, as pcerts) and the private key. Built once per certificate and kept
// by it (so the handshake costs no parsing); valid while the certificate
// lives. `interaction` answers PKCS#11 PIN requests of the key, if any.
struct SigningIdentity {
  gnutls_pcert_st *pcerts = nullptr;
  unsigned n_pcerts = 0;
  gnutls_privkey_t key = nullptr;
};

// Fills `out_identity` for `cert`. False (with an error naming the cause)
// when the certificate has no usable private key.
bool certificate_get_signing_identity(GTlsCertificate *cert, GTlsInteraction *interaction,
                                      SigningIdentity *out_identity, GError **error);

}  // namespace gtg
