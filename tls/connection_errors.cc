// ConnectionCore, fourth part: errors (turning what a GnuTLS handshake or
// record call returned into a GError, and sending the peer the fatal alert
// GnuTLS chooses). The other parts: connection_core.cc (the session and the
// handshake), connection_io.cc (the gate, records, close and results) and
// connection_certificates.cc (verifying the peer's certificate and choosing
// ours). The class is in connection_core.h.
#include "connection_core.h"

#include <glib/gi18n-lib.h>
#include <gnutls/gnutls.h>

#include <string>

namespace gtg {

unsigned ConnectionCore::received_alert(gnutls_session_t session)
{
  return static_cast<unsigned>(gnutls_alert_get(session));
}

// GnuTLS's name for alert `number`, or the number when it has none.
static std::string alert_name(unsigned number)
{
  // gnutls_alert_description_t's values fit in 7 bits; only those may be
  // converted to it.
  const char *name = number < 128 ? gnutls_alert_get_name(static_cast<gnutls_alert_description_t>(number))
                                  : nullptr;
  return name ? std::string(name) : "#" + std::to_string(number);
}

void ConnectionCore::set_gnutls_error(int ret, bool during_handshake, GError **error)
{
  GError *io_error = transport_ ? transport_->take_io_error() : nullptr;
  if (io_error) {
    // The peer went away before the first handshake finished: it did not
    // speak TLS to us. Timeouts and cancellation keep their own codes.
    if (during_handshake && !rehandshaking_ && io_error->domain == G_IO_ERROR &&
        io_error->code != G_IO_ERROR_TIMED_OUT && io_error->code != G_IO_ERROR_CANCELLED) {
      g_set_error(error, G_TLS_ERROR, G_TLS_ERROR_NOT_TLS,
                  _("Peer failed to perform TLS handshake: %s"), io_error->message);
      g_error_free(io_error);
      return;
    }
    g_propagate_error(error, io_error);
    return;
  }

  if (own_certificate_error_) {
    // A local configuration error, not a protocol one: no alert, so that the
    // peer reports NOT_TLS as with glib-networking (a TLS 1.2 GnuTLS server
    // reads any alert here as "no certificate").
    g_propagate_error(error, own_certificate_error_.release());
    return;
  }

  if (psk_error_) {
    // A PSK callback failed: say why, and tell the peer (an identity
    // psk-lookup refused: unknown_psk_identity, RFC 4279 §2).
    g_propagate_error(error, psk_error_.release());
    if (session_ && psk_refused_)
      gnutls_alert_send(session_.get(), GNUTLS_AL_FATAL, GNUTLS_A_UNKNOWN_PSK_IDENTITY);
    else if (session_)
      gnutls_alert_send_appropriate(session_.get(), ret);
    return;
  }

  bool peer_gone = false;
  switch (ret) {
  case GNUTLS_E_CERTIFICATE_ERROR:
  case GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR:
    if (!rejected_detail_.empty())
      g_set_error(error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE,
                  _("Unacceptable TLS certificate: %s"), rejected_detail_.c_str());
    else
      g_set_error_literal(error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE,
                          _("Unacceptable TLS certificate"));
    break;
  case GNUTLS_E_TIMEDOUT:
    peer_gone = true;
    g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                        during_handshake ? _("The DTLS handshake timed out: the peer did not answer")
                                         : _("The connection timed out"));
    break;
  case GNUTLS_E_NO_CERTIFICATE_FOUND:
  case GNUTLS_E_CERTIFICATE_REQUIRED:
    g_set_error_literal(error, G_TLS_ERROR, G_TLS_ERROR_CERTIFICATE_REQUIRED,
                        role_ == Role::Server
                            ? _("TLS connection peer did not send a certificate")
                            : _("The server requires a client certificate"));
    break;
  case GNUTLS_E_PREMATURE_TERMINATION:
  case GNUTLS_E_PULL_ERROR:
  case GNUTLS_E_PUSH_ERROR:
    peer_gone = true;
    if (during_handshake)
      g_set_error_literal(error, G_TLS_ERROR, G_TLS_ERROR_NOT_TLS,
                          _("Peer failed to perform TLS handshake: the connection closed"));
    else
      g_set_error_literal(error, G_TLS_ERROR, G_TLS_ERROR_EOF,
                          _("TLS connection closed unexpectedly"));
    break;
  case GNUTLS_E_UNEXPECTED_PACKET_LENGTH:
  case GNUTLS_E_UNSUPPORTED_VERSION_PACKET:
  case GNUTLS_E_UNEXPECTED_PACKET:
  case GNUTLS_E_UNKNOWN_CIPHER_TYPE:
    if (during_handshake && transport_ && transport_->saw_eof()) {
      peer_gone = true;
      g_set_error_literal(error, G_TLS_ERROR, G_TLS_ERROR_NOT_TLS,
                          _("Peer failed to perform TLS handshake: the connection closed"));
    } else if (during_handshake) {
      g_set_error(error, G_TLS_ERROR, G_TLS_ERROR_NOT_TLS,
                  _("Peer failed to perform TLS handshake: %s"), gnutls_strerror(ret));
    } else {
      g_set_error(error, G_TLS_ERROR, G_TLS_ERROR_MISC, _("Error reading data from TLS socket: %s"),
                  gnutls_strerror(ret));
    }
    break;
  case GNUTLS_E_FATAL_ALERT_RECEIVED: {
    peer_gone = true;
    unsigned alert = received_alert(session_.get());
    std::string name = alert_name(alert);
    if (alert == GNUTLS_A_CERTIFICATE_REQUIRED)
      g_set_error(error, G_TLS_ERROR, G_TLS_ERROR_CERTIFICATE_REQUIRED,
                  _("The peer requires a certificate (alert: %s)"), name.c_str());
    else if (alert == GNUTLS_A_UNKNOWN_PSK_IDENTITY)
      g_set_error(error, G_TLS_ERROR, G_TLS_ERROR_HANDSHAKE,
                  _("The server refused the pre-shared key identity (alert: %s)"), name.c_str());
    else if (psk_ && during_handshake && !rehandshaking_ &&
             (alert == GNUTLS_A_BAD_RECORD_MAC || alert == GNUTLS_A_DECRYPT_ERROR ||
              alert == GNUTLS_A_ILLEGAL_PARAMETER))  // TLS 1.3: a binder that does not verify
      g_set_error(error, G_TLS_ERROR, G_TLS_ERROR_HANDSHAKE,
                  _("The peer aborted the TLS handshake; the pre-shared keys may differ (alert: %s)"),
                  name.c_str());
    else if (during_handshake && !rehandshaking_)
      // As glib-networking reports it (its tests check it): a peer that
      // aborts the first handshake with an alert did not complete TLS with us.
      g_set_error(error, G_TLS_ERROR, G_TLS_ERROR_NOT_TLS,
                  _("The peer aborted the TLS handshake (alert: %s)"), name.c_str());
    else
      g_set_error(error, G_TLS_ERROR, during_handshake ? G_TLS_ERROR_HANDSHAKE : G_TLS_ERROR_MISC,
                  _("The peer sent a fatal TLS alert: %s"), name.c_str());
    break;
  }
  default:
    if (during_handshake) {
      g_set_error(error, G_TLS_ERROR, G_TLS_ERROR_HANDSHAKE, _("TLS handshake failed: %s"),
                  gnutls_strerror(ret));
    } else {
      g_set_error(error, G_TLS_ERROR, G_TLS_ERROR_MISC, _("TLS record error: %s"),
                  gnutls_strerror(ret));
    }
    break;
  }
  if (ret == GNUTLS_E_FATAL_ALERT_RECEIVED || ret == GNUTLS_E_WARNING_ALERT_RECEIVED) {
    g_debug("Connection %u: received alert %s", id_,
            alert_name(received_alert(session_.get())).c_str());
  }
  if (!peer_gone && session_ && gnutls_error_is_fatal(ret)) {
    // The peer gets the fatal alert GnuTLS chooses, as a plain GnuTLS server sends.
    int level = 0;
    int alert = gnutls_error_to_alert(ret, &level);
    gnutls_alert_send_appropriate(session_.get(), ret);
    if (alert >= 0)
      g_debug("Connection %u: sent fatal alert %s (%s)", id_,
              gnutls_alert_get_name(static_cast<gnutls_alert_description_t>(alert)),
              gnutls_strerror(ret));
  }
}

}  // namespace gtg
