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
#include <utility>

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

// ----- A server's verdict on our certificate -----

void ConnectionCore::note_certificate_request(bool sending)
{
  certificate_sent_ = sending;
  // In TLS 1.3 our Certificate is the client's last flight: the server's
  // verdict comes after our handshake has ended.
  verdict_in_records_.store(gnutls_protocol_get_version(session_.get()) == GNUTLS_TLS1_3,
                            std::memory_order_release);
}

// Whether `alert` from a server that asked for our certificate is about it.
static bool is_certificate_verdict(unsigned alert, bool certificate_sent)
{
  switch (alert) {
  case GNUTLS_A_CERTIFICATE_REQUIRED:
  case GNUTLS_A_BAD_CERTIFICATE:
  case GNUTLS_A_UNSUPPORTED_CERTIFICATE:
  case GNUTLS_A_CERTIFICATE_REVOKED:
  case GNUTLS_A_CERTIFICATE_EXPIRED:
  case GNUTLS_A_CERTIFICATE_UNKNOWN:
  case GNUTLS_A_UNKNOWN_CA:
  case GNUTLS_A_ACCESS_DENIED:
    return true;
  case GNUTLS_A_HANDSHAKE_FAILURE:
  // GnuTLS 3.7 servers (gnutls-serv, and ours) answer an empty TLS 1.2
  // Certificate with decode_error.
  case GNUTLS_A_DECODE_ERROR:
    return !certificate_sent;
  default:
    return false;
  }
}

bool ConnectionCore::set_certificate_verdict_error(int ret, bool during_handshake,
                                                   const GError *io_error, GError **error)
{
  if (role_ != Role::Client || !certificate_requested_ || !session_)
    return false;
  // During a handshake: asked in this one. Afterwards: a TLS 1.3 server
  // that has not answered yet.
  if (during_handshake ? gnutls_certificate_client_get_request_status(session_.get()) == 0
                       : !verdict_in_records_.load(std::memory_order_acquire))
    return false;
  GError *verdict = nullptr;
  bool verdict_alert = ret == GNUTLS_E_FATAL_ALERT_RECEIVED &&
                       is_certificate_verdict(received_alert(session_.get()), certificate_sent_);
  if (!during_handshake && !verdict_alert) {
    // The verdict came already (to a read or a write): the session ended
    // there, and every later record call fails the same way. (An alert
    // still replaces a verdict seen only as a closed connection.)
    std::lock_guard lock(verdict_error_mutex_);
    if (verdict_error_) {
      g_propagate_error(error, g_error_copy(verdict_error_.get()));
      return true;
    }
  }
  if (ret == GNUTLS_E_FATAL_ALERT_RECEIVED) {
    if (!verdict_alert)
      return false;
    unsigned alert = received_alert(session_.get());
    std::string name = alert_name(alert);
    g_debug("Connection %u: the server refused our %s (alert %s)", id_,
            certificate_sent_ ? "certificate" : "lack of a certificate", name.c_str());
    if (certificate_sent_)
      verdict = g_error_new(G_TLS_ERROR, G_TLS_ERROR_CERTIFICATE_REQUIRED,
                            _("The server did not accept the client certificate (alert: %s)"),
                            name.c_str());
    else
      verdict = g_error_new(G_TLS_ERROR, G_TLS_ERROR_CERTIFICATE_REQUIRED,
                            _("The server requires a client certificate (alert: %s)"), name.c_str());
  } else {
    // The server closed or reset the connection without saying why.
    bool peer_gone = ret == GNUTLS_E_PREMATURE_TERMINATION || ret == GNUTLS_E_PULL_ERROR ||
                     ret == GNUTLS_E_PUSH_ERROR ||
                     (ret == GNUTLS_E_UNEXPECTED_PACKET_LENGTH && transport_ && transport_->saw_eof());
    // EPIPE and ECONNRESET are both G_IO_ERROR_CONNECTION_CLOSED (BROKEN_PIPE).
    if (!peer_gone ||
        (io_error && !g_error_matches(io_error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED)))
      return false;
    g_debug("Connection %u: the server closed the connection after asking for our certificate%s",
            id_, io_error ? " (reset)" : "");
    verdict = g_error_new_literal(
        G_TLS_ERROR, G_TLS_ERROR_CERTIFICATE_REQUIRED,
        certificate_sent_ ? _("The server closed the connection without accepting the client certificate")
                          : _("The server closed the connection: it requires a client certificate"));
  }
  if (!during_handshake) {
    std::lock_guard lock(verdict_error_mutex_);
    verdict_error_.reset(g_error_copy(verdict));
  }
  g_propagate_error(error, verdict);
  return true;
}

bool ConnectionCore::read_closing_alert()
{
  if (!transport_ || !verdict_in_records_.load(std::memory_order_acquire))
    return false;
  std::unique_lock lock(verdict_mutex_, std::try_to_lock);
  if (!lock.owns_lock() || !verdict_in_records_.load(std::memory_order_acquire))
    return false;  // a read is running: it receives the alert itself
  transport_->set_input_mode(false, nullptr);
  guint8 chunk[16384];
  // Bounded: only what has arrived already is read.
  for (int i = 0; i < 8; i++) {
    ssize_t n = gnutls_record_recv(session_.get(), chunk, sizeof chunk);
    if (n == GNUTLS_E_FATAL_ALERT_RECEIVED) {
      // The alert explains the closed connection: its I/O error no longer matters.
      if (GError *closed = transport_->take_io_error())
        g_error_free(closed);
      // Recorded before a read may find the session ended (await_verdict).
      GError *verdict = nullptr;
      set_certificate_verdict_error(GNUTLS_E_FATAL_ALERT_RECEIVED, false, nullptr, &verdict);
      g_clear_error(&verdict);
      return true;
    }
    if (n > 0) {
      // The server sent data: it accepted our certificate. Kept for the next read.
      std::lock_guard data_lock(app_data_mutex_);
      held_app_data_.insert(held_app_data_.end(), chunk, chunk + n);
      has_held_app_data_.store(true, std::memory_order_release);
      verdict_in_records_.store(false, std::memory_order_release);
      return false;
    }
    if (n != GNUTLS_E_INTERRUPTED && n != GNUTLS_E_WARNING_ALERT_RECEIVED)
      return false;
  }
  return false;
}

void ConnectionCore::await_verdict()
{
  if (!verdict_in_records_.load(std::memory_order_acquire))
    return;
  // A read holds the lock from before its receive until its error is set.
  std::lock_guard lock(verdict_mutex_);
}

void ConnectionCore::set_closed_write_error(GError **error)
{
  if (!error || !g_error_matches(*error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED) ||
      !verdict_in_records_.load(std::memory_order_acquire))
    return;
  GError *closed = std::exchange(*error, nullptr);
  if (read_closing_alert())
    set_gnutls_error(GNUTLS_E_FATAL_ALERT_RECEIVED, false, error);
  else if (!set_certificate_verdict_error(GNUTLS_E_PUSH_ERROR, false, closed, error))
    *error = std::exchange(closed, nullptr);
  g_clear_error(&closed);
}

void ConnectionCore::set_gnutls_error(int ret, bool during_handshake, GError **error)
{
  if (gnutls_error_is_fatal(ret))
    session_failing_.store(true);  // the session is over (end_session)
  GError *io_error = transport_ ? transport_->take_io_error() : nullptr;
  if (set_certificate_verdict_error(ret, during_handshake, io_error, error)) {
    g_clear_error(&io_error);
    return;
  }
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
  if (!peer_gone && session_ && gnutls_error_is_fatal(ret) && !session_ended()) {
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
