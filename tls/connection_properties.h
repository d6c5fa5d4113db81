// The properties GTlsConnection and GDtlsConnection share (certificate,
// database, interaction, peer-certificate, ...), read from and written to a
// ConnectionCore, and `session-resumed`, ours on both. The TLS and DTLS
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

}  // namespace gtg
