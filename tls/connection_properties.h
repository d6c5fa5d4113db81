// The properties GTlsConnection and GDtlsConnection share (certificate,
// database, interaction, peer-certificate, ...), read from and written to a
// ConnectionCore, and ours on both: `session-resumed`, and the protocol
// versions, cipher suites and priority string a connection may choose
// (`min-protocol-version`, `max-protocol-version`, `ciphersuites`,
// `priority`; see priority_options.h). The TLS and DTLS
// GObjects call these first from their get_property / set_property and
// handle only their own properties after. Same threads as the GObject
// property calls.
#pragma once

#include "connection_core.h"

#include <glib-object.h>

namespace gtg {

// Fills `value` when `pspec` names a shared property; false otherwise.
bool get_shared_property(ConnectionCore &core, GParamSpec *pspec, GValue *value);

// Applies `value` when `pspec` names a shared writable property; false otherwise.
bool set_shared_property(ConnectionCore &core, GParamSpec *pspec, const GValue *value);

// A new spec of our read-only boolean `session-resumed` (documented in
// docs/user-guide.md), for the TLS and DTLS class_init to install.
GParamSpec *session_resumed_param_spec();

// New specs of our read-write properties choosing the session's priority
// (documented in docs/user-guide.md, "Beyond GIO's API"), for the TLS and
// DTLS class_init to install: `min-protocol-version` and
// `max-protocol-version` (GTlsProtocolVersion, UNKNOWN: no limit),
// `ciphersuites` (GStrv) and `priority` (string).
GParamSpec *min_protocol_version_param_spec();
GParamSpec *max_protocol_version_param_spec();
GParamSpec *ciphersuites_param_spec();
GParamSpec *priority_param_spec();

// Pre-shared keys (documented there too). Client properties `psk-identity`
// (string) and `psk-key` (GBytes); server property `psk-identity-hint`
// (string). The client and server class_init install them and route them
// through get_shared_property / set_shared_property.
GParamSpec *psk_identity_param_spec();
GParamSpec *psk_key_param_spec();
GParamSpec *psk_identity_hint_param_spec();

// Defines on `type` (a client connection type) the signal
//   void psk-required (GObject *conn, const char *hint /* nullable */)
// emitted from inside the handshake, on its thread, when a pre-shared key
// is needed and `psk-key` is unset; the handler sets `psk-identity` and
// `psk-key`. Returns its id.
guint define_psk_required_signal(GType type);

// Defines on `type` (a server connection type) the signal
//   GBytes *psk-lookup (GObject *conn, const char *identity)
// emitted from inside the handshake, on its thread, for the identity a
// client offers; the first handler returns its key (transfer full), or
// NULL to refuse it. Returns its id.
guint define_psk_lookup_signal(GType type);

}  // namespace gtg
