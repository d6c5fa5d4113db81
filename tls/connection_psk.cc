// ConnectionCore, fifth part: pre-shared keys (our `psk-identity`,
// `psk-key` and `psk-required` on clients, `psk-identity-hint` and
// `psk-lookup` on servers; docs/user-guide.md, "Beyond GIO's API"). The
// credentials are the connection's own, made in prepare_session; GnuTLS
// calls their functions from inside gnutls_handshake on the thread running
// the handshake, and the signals are emitted there, synchronously. The other
// parts: connection_core.cc (the session and the handshake), connection_io.cc
// (the gate, records, close and results), connection_certificates.cc
// (certificates) and connection_errors.cc (GnuTLS errors to GErrors). The
// class is in connection_core.h.
#include "connection_core.h"

#include "handshake_fiber.h"

#include <glib/gi18n-lib.h>
#include <gnutls/gnutls.h>

#include <cstring>
#include <string>

namespace gtg {

namespace {

// Whether `signal` of `owner` has a handler connected.
bool has_handler(GObject *owner, const char *signal)
{
  guint id = g_signal_lookup(signal, G_OBJECT_TYPE(owner));
  return id != 0 && g_signal_has_handler_pending(owner, id, 0, TRUE);
}

// A copy of `data` in memory GnuTLS frees.
bool copy_to_datum(const void *data, size_t size, gnutls_datum_t *out)
{
  out->data = static_cast<unsigned char *>(gnutls_malloc(size ? size : 1));
  if (!out->data)
    return false;
  if (size)
    memcpy(out->data, data, size);
  out->size = static_cast<unsigned>(size);
  return true;
}

}  // namespace

bool ConnectionCore::psk_offered() const
{
  if (role_ == Role::Client)
    return !psk_identity.empty() || psk_key || has_handler(owner_, "psk-required");
  return !psk_identity_hint.empty() || has_handler(owner_, "psk-lookup");
}

bool ConnectionCore::prepare_psk(GError **error)
{
  gnutls_session_t session = session_.get();
  int ret = GNUTLS_E_SUCCESS;
  if (role_ == Role::Client) {
    gnutls_psk_client_credentials_t creds = nullptr;
    ret = gnutls_psk_allocate_client_credentials(&creds);
    if (ret == GNUTLS_E_SUCCESS) {
      psk_client_credentials_.reset(creds);
      gnutls_psk_set_client_credentials_function2(creds, psk_client_cb);
      ret = gnutls_credentials_set(session, GNUTLS_CRD_PSK, creds);
    }
  } else {
    gnutls_psk_server_credentials_t creds = nullptr;
    ret = gnutls_psk_allocate_server_credentials(&creds);
    if (ret == GNUTLS_E_SUCCESS) {
      psk_server_credentials_.reset(creds);
      gnutls_psk_set_server_credentials_function2(creds, psk_server_cb);
      // DHE-PSK with the RFC 7919 group of the session's strength.
      gnutls_psk_set_server_known_dh_params(creds, GNUTLS_SEC_PARAM_MEDIUM);
      if (!psk_identity_hint.empty())
        ret = gnutls_psk_set_server_credentials_hint(creds, psk_identity_hint.c_str());
      if (ret == GNUTLS_E_SUCCESS)
        ret = gnutls_credentials_set(session, GNUTLS_CRD_PSK, creds);
    }
  }
  if (ret != GNUTLS_E_SUCCESS) {
    g_set_error(error, G_TLS_ERROR, G_TLS_ERROR_MISC, _("Could not set up pre-shared keys: %s"),
                gnutls_strerror(ret));
    return false;
  }
  g_debug("Connection %u: %s offers pre-shared keys", id_, role_ == Role::Client ? "client" : "server");
  return true;
}

int ConnectionCore::psk_client_cb(gnutls_session_t session, gnutls_datum_t *username,
                                  gnutls_datum_t *key) noexcept
{
  return static_cast<ConnectionCore *>(gnutls_session_get_ptr(session))->supply_psk(username, key);
}

int ConnectionCore::psk_server_cb(gnutls_session_t session, const gnutls_datum_t *username,
                                  gnutls_datum_t *key) noexcept
{
  return static_cast<ConnectionCore *>(gnutls_session_get_ptr(session))->look_up_psk(username, key);
}

int ConnectionCore::supply_psk(gnutls_datum_t *out_username, gnutls_datum_t *out_key)
{
  if (!psk_key) {
    // TLS 1.2: the server chose a PSK suite (and may have sent a hint);
    // TLS 1.3: the ClientHello is being written (no hint exists).
    const char *hint = gnutls_psk_client_get_hint(session_.get());
    g_debug("Connection %u: emitting psk-required (hint %s)", id_, hint ? hint : "none");
    on_thread_stack([&] { g_signal_emit_by_name(owner_, "psk-required", hint); });
  }
  gsize size = 0;
  const void *data = psk_key ? g_bytes_get_data(psk_key.get(), &size) : nullptr;
  if (!data || size == 0) {
    psk_error_.reset(g_error_new_literal(
        G_TLS_ERROR, G_TLS_ERROR_HANDSHAKE,
        _("A pre-shared key is needed: psk-key is not set and no psk-required handler set it")));
    return -1;
  }
  if (!copy_to_datum(psk_identity.data(), psk_identity.size(), out_username))
    return -1;
  if (!copy_to_datum(data, size, out_key)) {
    gnutls_free(out_username->data);
    out_username->data = nullptr;
    return -1;
  }
  return 0;
}

int ConnectionCore::look_up_psk(const gnutls_datum_t *username, gnutls_datum_t *out_key)
{
  std::string identity(reinterpret_cast<const char *>(username->data), username->size);
  // The signal carries a string. What is not one is no identity an
  // application gave out (in TLS 1.3 it may be a session ticket GnuTLS
  // could not use): GnuTLS goes on without it.
  if (identity.find('\0') != std::string::npos ||
      !g_utf8_validate(identity.data(), static_cast<gssize>(identity.size()), nullptr)) {
    g_debug("Connection %u: a PSK identity that is not a string is unknown", id_);
    return -1;
  }
  GBytes *key = nullptr;
  on_thread_stack([&] { g_signal_emit_by_name(owner_, "psk-lookup", identity.c_str(), &key); });
  Owned<GBytes *> owned(key);
  gsize size = 0;
  const void *data = key ? g_bytes_get_data(key, &size) : nullptr;
  if (!data || size == 0) {
    // Refused: the handshake fails (with unknown_psk_identity) even where
    // GnuTLS would go on without the PSK (TLS 1.3).
    g_debug("Connection %u: refused the PSK identity \"%s\"", id_, identity.c_str());
    psk_refused_ = true;
    psk_error_.reset(g_error_new(G_TLS_ERROR, G_TLS_ERROR_HANDSHAKE,
                                 _("The client’s pre-shared key identity “%s” was refused"),
                                 identity.c_str()));
    return -1;
  }
  return copy_to_datum(data, size, out_key) ? 0 : -1;
}

}  // namespace gtg
