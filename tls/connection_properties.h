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

}  // namespace gtg
