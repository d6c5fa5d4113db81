// ConnectionCore, third part: the certificates (verifying the peer's chain
// from GnuTLS's verify callback, with any stapled OCSP response, and choosing
// our own certificate from its retrieve callback). Both run on the thread
// running the handshake, from inside gnutls_handshake (verify_peer also right
// after it, for a resumed session). The other parts: connection_core.cc (the
// session and the handshake), connection_io.cc (the gate, records, close and
// results) and connection_errors.cc (GnuTLS errors to GErrors). The class is
// in connection_core.h.
#include "connection_core.h"

#include "app_calls.h"
#include "certificate.h"
#include "database.h"
#include "handshake_fiber.h"
#include "peer_chain_cache.h"
#include "verification_cache.h"

#include <glib/gi18n-lib.h>
#include <gnutls/ocsp.h>
#include <gnutls/x509.h>

#include <ctime>
#include <string>

namespace gtg {

int ConnectionCore::verify_peer()
{
  unsigned n = 0;
  const gnutls_datum_t *certs = gnutls_certificate_get_peers(session_.get(), &n);
  // Published (with notifications) when the handshake ends, accepted or
  // not: during accept-certificate the properties still hold the old values.
  pending_peer_ = Ref<GTlsCertificate>::adopt(peer_chain_get(certs, n));
  pending_errors_ = GTlsCertificateFlags(0);
  if (!pending_peer_)
    return role_ == Role::Server ? 0 : -1;
  GTlsCertificate *peer = pending_peer_.get();

  GSocketConnectable *identity = role_ == Role::Client ? server_identity.get() : nullptr;
  GTlsCertificateFlags errors = GTlsCertificateFlags(0);
  if (database) {
    const char *purpose = role_ == Role::Client ? G_TLS_DATABASE_PURPOSE_AUTHENTICATE_SERVER
                                                : G_TLS_DATABASE_PURPOSE_AUTHENTICATE_CLIENT;
    std::string memo = verification_cache_key(database.get(), purpose, identity, certs, n);
    if (!verification_cache_lookup(memo, &errors)) {
      GError *verify_error = nullptr;
      errors = database_verify_chain(database.get(), peer, purpose, identity, interaction.get(),
                                     op_cancellable_, &verify_error);
      if (verify_error) {
        g_debug("Connection %u: certificate verification failed: %s", id_, verify_error->message);
        g_error_free(verify_error);
        errors = GTlsCertificateFlags(errors | G_TLS_CERTIFICATE_GENERIC_ERROR);
      } else {
        verification_cache_store(memo, errors);
      }
    }
  } else {
    errors = GTlsCertificateFlags(G_TLS_CERTIFICATE_UNKNOWN_CA);
    if (identity) {
      errors = GTlsCertificateFlags(
          errors | (g_tls_certificate_verify(peer, identity, nullptr) &
                    G_TLS_CERTIFICATE_BAD_IDENTITY));
    }
  }
  if (role_ == Role::Client && !identity)
    errors = GTlsCertificateFlags(errors | G_TLS_CERTIFICATE_BAD_IDENTITY);
  if (role_ == Role::Client)
    errors = GTlsCertificateFlags(errors | check_stapled_ocsp(peer));
  pending_errors_ = errors;

  bool accepted = role_ == Role::Client ? (errors & validation_flags) == 0 : errors == 0;
  if (!accepted) {
    gboolean result = FALSE;
    on_thread_stack([&] { g_signal_emit_by_name(owner_, "accept-certificate", peer, errors, &result); });
    accepted = result;
  }
  if (!accepted) {
    CharPtr detail(describe_certificate_errors(peer, errors, identity));
    g_debug("Connection %u: rejected the peer certificate: %s", id_, detail.get());
    rejected_detail_ = detail ? detail.get() : "";
  }
  return accepted ? 0 : -1;
}

// Whether `crt` carries the TLS feature status_request (RFC 7633 "must staple").
static bool has_must_staple(gnutls_x509_crt_t crt)
{
  gnutls_x509_tlsfeatures_t features = nullptr;
  if (gnutls_x509_tlsfeatures_init(&features) != GNUTLS_E_SUCCESS)
    return false;
  bool must_staple = false;
  if (gnutls_x509_crt_get_tlsfeatures(crt, features, 0, nullptr) == GNUTLS_E_SUCCESS) {
    unsigned feature = 0;
    for (unsigned i = 0; gnutls_x509_tlsfeatures_get(features, i, &feature) == GNUTLS_E_SUCCESS; i++)
      if (feature == 5)  // status_request
        must_staple = true;
  }
  gnutls_x509_tlsfeatures_deinit(features);
  return must_staple;
}

// Checks the OCSP response the server stapled, if any: signed by the leaf's
// issuer, about the leaf, current, and not "revoked". A must-staple leaf
// without a usable response fails. Returns the flags to add.
GTlsCertificateFlags ConnectionCore::check_stapled_ocsp(GTlsCertificate *peer)
{
  // The chain is parsed already (and shared): no second X.509 decoding.
  gnutls_x509_crt_t leaf = certificate_get_x509(peer);
  if (!leaf)
    return G_TLS_CERTIFICATE_GENERIC_ERROR;
  bool must_staple = has_must_staple(leaf);
  GTlsCertificateFlags missing = must_staple ? G_TLS_CERTIFICATE_GENERIC_ERROR : GTlsCertificateFlags(0);

  gnutls_datum_t staple{nullptr, 0};
  if (gnutls_ocsp_status_request_get(session_.get(), &staple) != GNUTLS_E_SUCCESS || staple.size == 0)
    return missing;
  GTlsCertificate *issuer_cert = g_tls_certificate_get_issuer(peer);
  gnutls_x509_crt_t issuer = issuer_cert ? certificate_get_x509(issuer_cert) : nullptr;
  gnutls_ocsp_resp_t r = nullptr;
  if (!issuer || gnutls_ocsp_resp_init(&r) != GNUTLS_E_SUCCESS)
    return missing;
  Owned<gnutls_ocsp_resp_t> resp(r);
  unsigned verify = 0;
  if (gnutls_ocsp_resp_import(resp.get(), &staple) != GNUTLS_E_SUCCESS ||
      gnutls_ocsp_resp_verify_direct(resp.get(), issuer, &verify, 0) != GNUTLS_E_SUCCESS ||
      verify != 0 || gnutls_ocsp_resp_check_crt(resp.get(), 0, leaf) != GNUTLS_E_SUCCESS) {
    g_debug("Connection %u: the stapled OCSP response is not valid for this certificate", id_);
    return G_TLS_CERTIFICATE_GENERIC_ERROR;
  }
  unsigned status = 0;
  time_t this_update = 0, next_update = 0, revoked_at = 0;
  unsigned reason = 0;
  if (gnutls_ocsp_resp_get_single(resp.get(), 0, nullptr, nullptr, nullptr, nullptr, &status,
                                  &this_update, &next_update, &revoked_at, &reason) < 0)
    return G_TLS_CERTIFICATE_GENERIC_ERROR;
  if (status == GNUTLS_OCSP_CERT_REVOKED)
    return G_TLS_CERTIFICATE_REVOKED;
  time_t now = time(nullptr);
  if (next_update != static_cast<time_t>(-1) && next_update < now) {
    g_debug("Connection %u: the stapled OCSP response is out of date", id_);
    return G_TLS_CERTIFICATE_GENERIC_ERROR;
  }
  return GTlsCertificateFlags(0);
}

void ConnectionCore::set_certificate(GTlsCertificate *cert)
{
  std::lock_guard lock(certificate_mutex_);
  certificate = Ref<GTlsCertificate>::retain(cert);
}

Ref<GTlsCertificate> ConnectionCore::current_certificate()
{
  std::lock_guard lock(certificate_mutex_);
  return certificate.copy();
}

int ConnectionCore::retrieve_certificate(const gnutls_datum_t *req_ca_dn, int n_req,
                                         gnutls_pcert_st **pcert, unsigned *pcert_length,
                                         gnutls_privkey_t *privkey)
{
  *pcert = nullptr;
  *pcert_length = 0;
  *privkey = nullptr;
  if (role_ == Role::Client) {
    certificate_requested_ = true;
    accepted_cas_.clear();
    for (int i = 0; i < n_req; i++)
      accepted_cas_.emplace_back(req_ca_dn[i].data, req_ca_dn[i].data + req_ca_dn[i].size);
    on_thread_stack([&] { g_object_notify(owner_, "accepted-cas"); });
    if (!current_certificate() && interaction && G_IS_TLS_CONNECTION(owner_)) {
      GError *error = nullptr;
      GTlsInteractionResult r = interaction_request_certificate(
          interaction.get(), G_TLS_CONNECTION(owner_), op_cancellable_, &error);
      if (error) {
        g_debug("Connection %u: certificate request through the interaction failed: %s", id_,
                error->message);
        g_error_free(error);
      }
      (void)r;
    }
  }
  Ref<GTlsCertificate> own = current_certificate();
  if (role_ == Role::Client)
    note_certificate_request(static_cast<bool>(own));
  if (!own)
    return 0;  // no certificate: the peer decides whether that is acceptable
  if (own_certificate_error_)
    return -1;  // GnuTLS asks again within one handshake: do not ask for the PIN again
  SigningIdentity identity;
  GError *error = nullptr;
  if (!certificate_get_signing_identity(own.get(), interaction.get(), &identity, &error)) {
    g_debug("Connection %u: own certificate unusable: %s", id_, error->message);
    GError *required = g_error_new(G_TLS_ERROR, G_TLS_ERROR_CERTIFICATE_REQUIRED,
                                   _("The certificate cannot be used: %s"), error->message);
    g_error_free(error);
    own_certificate_error_.reset(required);
    return -1;
  }
  *pcert = identity.pcerts;
  *pcert_length = identity.n_pcerts;
  *privkey = identity.key;
  return 0;
}

}  // namespace gtg
